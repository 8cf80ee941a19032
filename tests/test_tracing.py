"""One trace from a web request through `defer` into each attempt of the job it deferred,
recorded with the OpenTelemetry SDK's in-memory exporter; nothing at all when tracing is
not configured."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import tracing
from hiring_jobs.queue.defer import defer
from hiring_jobs.settings import get_settings
from tests.support import tasks
from tests.support.jobs import jobs, run_batching_worker_until_idle
from tests.web.helpers import run_worker_in_thread
from web import create_app
from web.db import get_session

UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM = f"00-{UPSTREAM_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.use_provider(provider)
    yield spans
    tracing.use_provider(None)


@pytest.fixture
def tracing_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As a fresh process without HIRING_JOBS_OTEL_ENDPOINT configures itself."""
    monkeypatch.delenv("HIRING_JOBS_OTEL_ENDPOINT", raising=False)
    get_settings.cache_clear()
    tracing._configured = False  # read the settings again, as a new process would
    yield
    tracing.use_provider(None)
    get_settings.cache_clear()


def _client(task_name: str) -> FlaskClient:
    """An endpoint that defers a job in its request, like the platform's own."""
    bp = Blueprint("traced", __name__)

    @bp.post("/things")
    def things() -> ResponseReturnValue:
        session = get_session()
        task = tasks.echo if task_name == "echo" else tasks.fail
        kwargs = {"value": "hello"} if task_name == "echo" else {"message": "no luck"}
        job_id = defer(session, task, **kwargs)
        session.commit()
        return jsonify(job_id=job_id), 201

    app: Flask = create_app({"TESTING": True})
    app.register_blueprint(bp)
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = "t"
    client.environ_base["HTTP_X_CSRF_TOKEN"] = "t"
    return client


def _by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == kind]


def test_a_request_its_defer_and_the_jobs_attempt_are_one_trace(
    exporter: InMemorySpanExporter, session_factory: sessionmaker[Session]
) -> None:
    response = _client("echo").post("/things", headers={"traceparent": UPSTREAM})
    assert response.status_code == 201
    with session_factory() as session:
        [job] = jobs(session)
    assert job["args"][tracing.TRACE_ARG].startswith(f"00-{UPSTREAM_TRACE}-")
    run_worker_in_thread()

    spans = exporter.get_finished_spans()
    [server] = _by_kind(spans, SpanKind.SERVER)
    [producer] = _by_kind(spans, SpanKind.PRODUCER)
    [consumer] = _by_kind(spans, SpanKind.CONSUMER)
    assert server.name == "POST /things"
    assert server.attributes["http.response.status_code"] == 201
    assert {format(s.context.trace_id, "032x") for s in spans} == {UPSTREAM_TRACE}
    assert producer.parent.span_id == server.context.span_id
    assert consumer.parent.span_id == producer.context.span_id
    assert producer.name == "defer tests.echo"
    assert consumer.name == "run tests.echo"
    assert consumer.attributes["messaging.message.id"] == str(job["id"])
    assert consumer.attributes["hiring_jobs.attempt"] == 1
    assert consumer.status.status_code == StatusCode.OK


def test_the_batching_worker_of_hiring_jobs_worker_runs_traced_jobs_the_same_way(
    exporter: InMemorySpanExporter, session_factory: sessionmaker[Session]
) -> None:
    """The worker `hiring-jobs worker` runs (batched fetch, child processes): the trace
    argument never reaches the task, and the attempt joins the request's trace."""
    _client("echo").post("/things", headers={"traceparent": UPSTREAM})
    asyncio.run(run_batching_worker_until_idle(batch_size=4, concurrency=2))
    with session_factory() as session:
        [job] = jobs(session)
    assert job["status"] == "succeeded"
    [consumer] = _by_kind(exporter.get_finished_spans(), SpanKind.CONSUMER)
    assert format(consumer.context.trace_id, "032x") == UPSTREAM_TRACE
    assert consumer.status.status_code == StatusCode.OK


def test_a_failed_attempt_is_an_error_span_with_its_exception(
    exporter: InMemorySpanExporter, session_factory: sessionmaker[Session]
) -> None:
    _client("fail").post("/things")
    run_worker_in_thread()
    [consumer] = _by_kind(exporter.get_finished_spans(), SpanKind.CONSUMER)
    assert consumer.status.status_code == StatusCode.ERROR
    [event] = [e for e in consumer.events if e.name == "exception"]
    assert event.attributes["exception.message"] == "no luck"


def test_without_configuration_nothing_is_traced_or_added_to_jobs(
    tracing_off: None, session_factory: sessionmaker[Session]
) -> None:
    response = _client("echo").post("/things", headers={"traceparent": UPSTREAM})
    assert response.status_code == 201
    with session_factory() as session:
        [job] = jobs(session)
    assert tracing.TRACE_ARG not in job["args"]
    run_worker_in_thread()  # the task never sees a trace argument either
    with session_factory() as session:
        [job] = jobs(session)
    assert job["status"] == "succeeded"
    assert tracing._provider is None


def test_an_endpoint_turns_tracing_on_with_the_otlp_exporter(
    monkeypatch: pytest.MonkeyPatch, tracing_off: None
) -> None:
    monkeypatch.setenv("HIRING_JOBS_OTEL_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    monkeypatch.setenv("HIRING_JOBS_OTEL_SERVICE_NAME", "hiring-jobs-test")
    get_settings.cache_clear()
    tracer = tracing.tracer()  # the otlp extra is installed in the dev environment
    assert isinstance(tracing._provider, TracerProvider)
    assert tracing._provider.resource.attributes["service.name"] == "hiring-jobs-test"
    assert type(tracer).__module__.startswith("opentelemetry.sdk")
