"""Finding jobs: filters from a query string, keyset pages on id, capped counts.

Every filter is a bound parameter in a Core expression; nothing typed by a user ever
becomes SQL text. Counts stop at COUNT_CAP + 1 rows (shown as "10,000+"), so a filter
matching a million jobs costs no more than one matching ten thousand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from hiring_jobs.app import app as procrastinate_app
from hiring_jobs.models import AttemptOutcome, JobAttempt, WorkerProcess
from hiring_jobs.queue import job_progress
from hiring_jobs.queue.why import explain
from web.queries.related import known_names, related_records
from web.queries.tables import STATUSES, events, jobs
from web.validation import loads_json

COUNT_CAP = 10_000
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Queue upkeep (hiring_jobs/tasks/queue.py: the stalled-job rescue every 15 s, the
# throughput rollup every minute): hidden from job lists unless asked for or named.
HOUSEKEEPING_PREFIX = "queue."
attempts = JobAttempt.__table__
processes = WorkerProcess.__table__


class FilterError(ValueError):
    """A filter value that cannot be used; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class JobFilter:
    status: str = ""
    queue: str = ""
    task: str = ""  # a task's name, or part of names in any case: "achievement" finds them all
    lock: str = ""
    args: str = ""  # as typed: `application_id=123, status="hired"` or a JSON object
    search: str = ""  # text in an attempt's error (exception type or message), any case
    since: datetime | None = None  # deferred at or after
    until: datetime | None = None  # deferred before
    housekeeping: bool = False  # also list queue.* upkeep jobs when no task is named

    @classmethod
    def from_args(cls, values: Mapping[str, str]) -> JobFilter:
        status = values.get("status", "").strip()
        if status and status not in STATUSES:
            raise FilterError(f"status must be one of {', '.join(STATUSES)}")
        found = cls(
            status=status,
            queue=values.get("queue", "").strip(),
            task=values.get("task", "").strip(),
            lock=values.get("lock", "").strip(),
            args=values.get("args", "").strip(),
            search=values.get("search", "").strip(),
            since=parse_time(values.get("since", ""), "since"),
            until=parse_time(values.get("until", ""), "until"),
            housekeeping=values.get("housekeeping", "") == "1",
        )
        found.args_object()  # refuse a malformed search before any query runs
        return found

    def as_query(self) -> dict[str, str]:
        """The filter as query-string values (links, bulk forms), empty ones left out."""
        raw = {
            "status": self.status,
            "queue": self.queue,
            "task": self.task,
            "lock": self.lock,
            "args": self.args,
            "search": self.search,
            "since": _utc_minute(self.since),
            "until": _utc_minute(self.until),
            "housekeeping": "1" if self.housekeeping else "",
        }
        return {key: value for key, value in raw.items() if value}

    @property
    def is_empty(self) -> bool:
        return not self.as_query()

    def args_object(self) -> dict[str, Any] | None:
        return parse_args_search(self.args) if self.args else None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for column, value in (
            (jobs.c.status, self.status),
            (jobs.c.queue_name, self.queue),
            (jobs.c.lock, self.lock),
        ):
            if value:
                found.append(column == value)
        if self.task:
            found.append(jobs.c.task_name.in_(matching_tasks(self.task)))
        elif not self.housekeeping:
            found.append(not_(jobs.c.task_name.startswith(HOUSEKEEPING_PREFIX, autoescape=True)))
        if self.search:
            found.append(_error_contains(self.search))
        wanted = self.args_object()
        if wanted is not None:
            found.append(args_contain(wanted))
        found.extend(_time_bounds(self.since, self.until))
        return found


# Written out, not bound: a partial index serves a query only when the planner can prove
# the query's condition implies the index's predicate, and a parameter proves nothing.
_PENDING = (literal_column("'todo'"), literal_column("'doing'"))


def args_contain(wanted: dict[str, Any]) -> ColumnElement[bool]:
    """`args @> wanted`, in the two halves an index can serve: finished jobs through the
    GIN index over them (hj_jobs_args_finished, migration 0019), pending ones through
    Procrastinate's partial index on todo and doing (the queue). As one condition the
    planner walked the primary key through every job instead: 650 ms at 1,000,000 jobs,
    against 3 ms (`python -m tools.bench.pages`)."""
    contains = jobs.c.args.op("@>")(bindparam("args_search", wanted, type_=JSONB))
    return or_(
        and_(jobs.c.status.notin_(_PENDING), contains),
        and_(jobs.c.status.in_(_PENDING), contains),
    )


def matching_tasks(text: str) -> list[str]:
    """A task's exact name matches that task; other text, every registered task whose name
    contains it (any case), and itself (jobs of tasks no longer registered).

    A list of names rather than a pattern, so the (task_name, status, id) index serves the
    filter.
    """
    procrastinate_app.perform_import_paths()
    if text in procrastinate_app.tasks:
        return [text]
    wanted = text.casefold()
    return sorted({text} | {name for name in procrastinate_app.tasks if wanted in name.casefold()})


def _error_contains(text: str) -> ColumnElement[bool]:
    return exists().where(
        attempts.c.job_id == jobs.c.id,
        or_(
            attempts.c.error_message.icontains(text, autoescape=True),
            attempts.c.exception_type.icontains(text, autoescape=True),
        ),
    )


def _utc_minute(moment: datetime | None) -> str:
    """As a datetime-local input shows it: the UTC wall clock, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


def parse_time(raw: str, name: str) -> datetime | None:
    """`2026-11-21T10:00` (a datetime-local input) or full ISO 8601; naive means UTC."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise FilterError(f"{name} must be a date and time like 2026-11-21T10:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_args_search(raw: str) -> dict[str, Any]:
    """`application_id=123, stage="hired"` or `{"application_id": 123}` -> a JSON object.

    Values are read as JSON when they are JSON (123, true, "x"), else as plain strings.
    JSONB takes no NUL character (`\\u0000`), NaN or Infinity: those are refused here.
    """
    if raw.startswith("{"):
        try:
            found = loads_json(raw)
        except ValueError as exc:
            raise FilterError(f"arguments search is not valid JSON: {exc}") from None
        if not isinstance(found, dict):
            raise FilterError("arguments search must be a JSON object")
    else:
        found = {}
        for part in raw.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise FilterError("arguments search looks like application_id=123, key=value")
            found[key.strip()] = _json_or_text(value.strip())
    return found


def _json_or_text(value: str) -> Any:
    try:
        return loads_json(value)
    except ValueError:
        return value


def _time_bounds(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """Job ids are handed out in defer order: a time range becomes an id range.

    Each bound is the id of the first job deferred at or after that time, found through
    the index on procrastinate_events (type, at): two index probes, not a scan.
    """
    found: list[ColumnElement[bool]] = []
    deferred = events.c.type == "deferred"
    if since is not None:
        first = (
            select(events.c.job_id)
            .where(deferred, events.c.at >= bindparam("since", since))
            .order_by(events.c.at)
            .limit(1)
            .scalar_subquery()
        )
        found.append(jobs.c.id >= first)
    if until is not None:
        after_end = (
            select(events.c.job_id)
            .where(deferred, events.c.at >= bindparam("until", until))
            .order_by(events.c.at)
            .limit(1)
            .scalar_subquery()
        )
        found.append(jobs.c.id < func.coalesce(after_end, literal(2**62)))
    return found


@dataclasses.dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    newer: int | None  # pass as `after` for the previous (newer) page
    older: int | None  # pass as `before` for the next (older) page


def list_jobs(
    session: Session,
    job_filter: JobFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """Newest first. `before`/`after` are ids from the previous page (keyset, no OFFSET)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = _listing().where(*job_filter.conditions())
    if after is not None:
        query = query.where(jobs.c.id > after).order_by(jobs.c.id.asc())
    else:
        if before is not None:
            query = query.where(jobs.c.id < before)
        query = query.order_by(jobs.c.id.desc())
    found = [dict(row._mapping) for row in session.execute(query.limit(limit + 1))]
    more = len(found) > limit
    found = found[:limit]
    if after is not None:
        found.reverse()
    has_newer = (after is not None and more) or before is not None
    has_older = (after is None and more) or after is not None
    return Page(
        rows=found,
        newer=found[0]["id"] if found and has_newer else None,
        older=found[-1]["id"] if found and has_older else None,
    )


def _listing() -> Select[Any]:
    deferred_at = (
        select(func.min(events.c.at))
        .where(events.c.job_id == jobs.c.id, events.c.type == "deferred")
        .scalar_subquery()
    )
    # A running job's attempt row is written at its end: its run started at its latest
    # `started` event, on the worker process its worker registered.
    started_at = (
        select(func.max(events.c.at))
        .where(events.c.job_id == jobs.c.id, events.c.type == "started")
        .scalar_subquery()
    )
    running = jobs.c.status == "doing"
    # The latest recorded run: when it started and ended, how long it took, where, its error.
    latest = (
        select(
            attempts.c.started_at,
            attempts.c.finished_at,
            attempts.c.duration_ms,
            attempts.c.worker_name,
            attempts.c.hostname,
            attempts.c.error_message,
        )
        .where(attempts.c.job_id == jobs.c.id)
        .order_by(attempts.c.attempt.desc(), attempts.c.id.desc())
        .limit(1)
        .lateral("latest")
    )
    process = processes.alias("process")
    return select(
        jobs.c.id,
        jobs.c.queue_name,
        jobs.c.task_name,
        jobs.c.priority,
        jobs.c.lock,
        jobs.c.queueing_lock,
        jobs.c.args,
        jobs.c.status,
        jobs.c.scheduled_at,
        jobs.c.attempts,
        jobs.c.abort_requested,
        jobs.c.worker_id,
        deferred_at.label("deferred_at"),
        case((running, started_at), else_=latest.c.started_at).label("started_at"),
        case((running, null()), else_=latest.c.finished_at).label("finished_at"),
        case(
            (running, cast(func.extract("epoch", func.now() - started_at), Float) * 1000),
            else_=latest.c.duration_ms,
        ).label("runtime_ms"),
        case((running, process.c.worker_name), else_=latest.c.worker_name).label("worker_name"),
        case((running, process.c.hostname), else_=latest.c.hostname).label("hostname"),
        latest.c.error_message.label("last_error"),
    ).select_from(
        jobs.outerjoin(latest, true()).outerjoin(
            process, and_(running, process.c.worker_id == jobs.c.worker_id)
        )
    )


@dataclasses.dataclass(frozen=True)
class CappedCount:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.value:,}"

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "capped": self.capped, "display": str(self)}


def capped_count(session: Session, *conditions: ColumnElement[bool]) -> CappedCount:
    inner = select(literal(1)).select_from(jobs).where(and_(true(), *conditions))
    sample = inner.limit(COUNT_CAP + 1).subquery()
    value = session.scalar(select(func.count()).select_from(sample)) or 0
    return CappedCount(min(value, COUNT_CAP), value > COUNT_CAP)


def scheduled_jobs(session: Session, *, limit: int) -> list[dict[str, Any]]:
    """Waiting jobs due later (schedule_in/schedule_at, retries in backoff), soonest first."""
    query = (
        _listing()
        .where(jobs.c.status == "todo", jobs.c.scheduled_at > func.now())
        .order_by(jobs.c.scheduled_at, jobs.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(query)]


def get_job(session: Session, job_id: int) -> dict[str, Any] | None:
    row = session.execute(_listing().where(jobs.c.id == job_id)).one_or_none()
    return dict(row._mapping) if row else None


def job_events(session: Session, job_id: int) -> list[dict[str, Any]]:
    query = (
        select(events.c.type, events.c.at)
        .where(events.c.job_id == job_id)
        .order_by(events.c.at, events.c.id)
    )
    return [dict(row._mapping) for row in session.execute(query)]


def job_attempts(session: Session, job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's recorded attempts, and the run in progress of a running job."""
    query = select(attempts).where(attempts.c.job_id == job["id"]).order_by(attempts.c.attempt)
    found = [dict(row._mapping) for row in session.execute(query)]
    if job["status"] == "doing":
        found.append(
            dict.fromkeys(attempts.c.keys())
            | {
                "job_id": job["id"],
                "attempt": job["attempts"] + 1,
                "outcome": AttemptOutcome.RUNNING,
                "started_at": job["started_at"],
                "duration_ms": job["runtime_ms"],
                "worker_name": job["worker_name"],
                "hostname": job["hostname"],
            }
        )
    return found


def job_story(session: Session, job_id: int) -> dict[str, Any] | None:
    """One job's whole story (its page and the API): None when there is no such job."""
    from web.queries import workers  # imported here: workers -> overview -> this module

    job = get_job(session, job_id)
    if job is None:
        return None
    return {
        "job": job,
        "events": job_events(session, job_id),
        "attempts": job_attempts(session, job),
        "worker": workers.registration(session, job["worker_id"]),
        "related": related_records(session, job_id, job["args"]),
        # What holds it, for a waiting job (live data).
        "why": explain(session, job_id) if job["status"] == "todo" else None,
        "progress": job_progress.read(session, [job_id]).get(job_id),
        # Never sent as is: masks these names in the job's arguments, errors and results.
        "names": known_names(session, job["args"]),
    }
