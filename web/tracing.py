"""A SERVER span per request (when tracing is configured: hiring_jobs/tracing.py).

An upstream `traceparent` header is continued; jobs the request defers carry the span's
context into their attempts, so one trace runs from the request to the job's end.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from hiring_jobs import tracing


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_status)
    app.teardown_request(_end)


def _start() -> None:
    active = tracing.tracer()
    if isinstance(active, trace.NoOpTracer):
        return
    route = request.url_rule.rule if request.url_rule else request.path
    span = active.start_span(
        f"{request.method} {route}",
        context=propagate.extract(request.headers),  # any case of `traceparent`
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": request.method,
            "http.route": route,
            "url.path": request.path,
            "hiring_jobs.request_id": g.get("request_id", ""),
        },
    )
    g.trace_span = span
    g.trace_token = otel_context.attach(trace.set_span_in_context(span))


def _status(response: Response) -> Response:
    span = g.get("trace_span")
    if span is not None:
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            span.set_status(Status(StatusCode.ERROR))
    return response


def _end(exc: BaseException | None) -> None:
    span = g.pop("trace_span", None)
    token = g.pop("trace_token", None)
    if span is None:
        return
    if exc is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    span.end()
    if token is not None:
        otel_context.detach(token)
