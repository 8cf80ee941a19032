"""OpenTelemetry traces: a web request, the `defer` it makes, and each attempt of the job.

Off unless configured: with HIRING_JOBS_OTEL_ENDPOINT unset no provider is installed,
every span is the API's no-op span, and nothing is added to jobs. When it is set, spans
go over OTLP/HTTP (the `otlp` extra) in batches.

The trace context rides in the job like the request id does (hiring_jobs.logs): `defer`
opens a PRODUCER span and stores its W3C `traceparent` in the job's arguments under
TRACE_ARG; the worker middleware `trace_job` takes it out before the task sees it and
runs the attempt in a CONSUMER span whose parent is that PRODUCER span. A retry is a new
attempt span under the same parent, so one trace shows the request and every attempt.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from procrastinate import JobContext
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

from hiring_jobs.logs import TRACE_ARG
from hiring_jobs.settings import get_settings

logger = logging.getLogger(__name__)

INSTRUMENTATION = "hiring_jobs"

_provider: trace.TracerProvider | None = None
_configured = False


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Trace into `provider` (tests: an SDK provider with an in-memory exporter); None
    turns tracing off again. Not the global provider: it can be set once per process."""
    global _provider, _configured
    previous, _provider, _configured = _provider, provider, True
    if isinstance(previous, TracerProvider) and previous is not provider:
        previous.shutdown()  # flushes what it still holds


def tracer() -> trace.Tracer:
    if not _configured:
        _configure_from_settings()
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(INSTRUMENTATION)


def _configure_from_settings() -> None:
    settings = get_settings()
    if not settings.otel_endpoint:
        use_provider(None)
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.error(
            "HIRING_JOBS_OTEL_ENDPOINT is set but the OTLP exporter is not installed"
            " (pip install 'hiring-jobs[otlp]'): tracing stays off"
        )
        use_provider(None)
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint))
    )
    use_provider(provider)


@contextlib.contextmanager
def defer_span(task_name: str, count: int) -> Iterator[dict[str, str]]:
    """A PRODUCER span around inserting `count` jobs; yields the extra job arguments that
    carry it ({} when not tracing)."""
    with tracer().start_as_current_span(
        f"defer {task_name}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "procrastinate",
            "messaging.destination.name": task_name,
            "messaging.batch.message_count": count,
        },
    ) as span:
        carrier: dict[str, str] = {}
        if span.get_span_context().is_valid:
            propagate.inject(carrier)
        yield {TRACE_ARG: carrier["traceparent"]} if "traceparent" in carrier else {}


def with_trace(kwargs: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
    if not extra or TRACE_ARG in kwargs:
        return kwargs
    return {**kwargs, **extra}


async def trace_job(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    """Worker middleware: the attempt as a CONSUMER span under the deferring span."""
    job = context.job
    traceparent = job.task_kwargs.pop(TRACE_ARG, None)
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
    active = tracer()
    if isinstance(active, trace.NoOpTracer):
        return await call_next()
    with active.start_as_current_span(
        f"run {job.task_name}",
        context=parent or otel_context.Context(),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "procrastinate",
            "messaging.destination.name": job.queue,
            "messaging.message.id": str(job.id),
            "hiring_jobs.task": job.task_name,
            "hiring_jobs.attempt": job.attempts + 1,
        },
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        result = await call_next()
        span.set_status(Status(StatusCode.OK))
        return result
