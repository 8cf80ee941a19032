"""Why is this job not running? What holds a waiting job, in words, from live data.

Each reason is one check against the database as it is now: scheduled for later, retry
backoff (until when, after which error), its queue paused, no live worker serving its
queue, every slot of its queue busy (with which jobs, since when), its lock held or
claimed first by another job, its key at its max_running (which running jobs hold it) or
out of rate (until when), jobs of higher priority or earlier ahead of it, or, for a keyed
job, jobs of other keys ahead of it in the fair share (queue/keys.py). A job can be
held by several at once; all are listed, in that order. Messages carry ids, times, queue
and task names and exception types, never arguments or error text (personal data): the
last error's message is a separate field that callers mask (web.masking).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.queue import control
from hiring_jobs.queue.slots import OTHER_QUEUES
from hiring_jobs.sql import QUEUE, run

AHEAD_CAP = 10_000
SHOWN_RUNNING = 10


@dataclasses.dataclass(frozen=True)
class Reason:
    code: str  # scheduled, retry_backoff, queue_paused, no_worker, slots_busy, lock_held,
    # lock_queued, key_concurrency, key_rate, jobs_ahead, fair_share, not_waiting, nothing
    message: str
    until: datetime | None = None
    job_ids: tuple[int, ...] = ()
    error_type: str | None = None
    error_message: str | None = None  # personal data possible: masked by callers

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "job_ids": list(self.job_ids)}


@dataclasses.dataclass(frozen=True)
class Explanation:
    job_id: int
    status: str
    queue: str
    reasons: list[Reason]

    @property
    def waiting(self) -> bool:
        return self.status == "todo"

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "queue": self.queue,
            "waiting": self.waiting,
            "reasons": [reason.as_dict() for reason in self.reasons],
        }


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def explain(session: Session, job_id: int) -> Explanation | None:
    """None when no job has this id."""
    job = run(session, QUEUE["why_job"], {"id": job_id}).one_or_none()
    if job is None:
        return None
    if job.status != "todo":
        reason = Reason("not_waiting", f"job {job_id} is not waiting: it is {job.status}")
        return Explanation(job_id, job.status, job.queue_name, [reason])
    checks = (_schedule, _queue_and_workers, _lock, _key_limits, _ahead, _fair_share)
    reasons = [reason for check in checks for reason in check(session, job)]
    if not reasons:
        reasons = [
            Reason(
                "nothing",
                "nothing holds it now: a worker serving its queue should start it at its"
                " next fetch",
            )
        ]
    return Explanation(job_id, job.status, job.queue_name, reasons)


def _schedule(session: Session, job: Any) -> list[Reason]:
    if not job.in_future:
        return []
    if job.attempts == 0:
        return [Reason("scheduled", f"scheduled for {_at(job.scheduled_at)}", job.scheduled_at)]
    error = run(session, QUEUE["why_last_error"], {"id": job.id}).one_or_none()
    after = f", after {error.exception_type}" if error else ""
    return [
        Reason(
            "retry_backoff",
            f"waiting to retry (attempt {job.attempts + 1}) until {_at(job.scheduled_at)}{after}",
            job.scheduled_at,
            error_type=error.exception_type if error else None,
            error_message=error.error_message if error else None,
        )
    ]


def _queue_and_workers(session: Session, job: Any) -> list[Reason]:
    [state] = control.queue_states(session, only=job.queue_name)
    reasons = []
    if state.paused:
        who = f" by {state.updated_by}" if state.updated_by else ""
        reasons.append(Reason("queue_paused", f"its queue {state.name} is paused{who}"))
    if not state.serving:
        reasons.append(Reason("no_worker", _no_worker(state, session)))
    elif not state.paused:
        reasons.extend(_slots_busy(session, state))
    return reasons


def _no_worker(state: control.QueueState, session: Session) -> str:
    unknown = control.unreported_live_workers(session)
    if not state.workers:
        message = f"no live worker serves queue {state.name}"
        if unknown:
            message += f" ({unknown} live workers have not said which queues they serve)"
        return message
    held = ", ".join(
        f"{w.worker_name} ({'paused there' if w.paused else '0 slots'})" for w in state.workers
    )
    return f"no live worker would start jobs of queue {state.name} now: {held}"


def _slots_busy(session: Session, state: control.QueueState) -> list[Reason]:
    """Busy only if every serving worker's slots for this queue's bucket are taken."""
    workers = {row.worker_name: row for row in control.live_workers(session)}
    busy: list[Any] = []
    for line in state.serving:
        worker = workers.get(line.worker_name)
        if worker is None:
            return []
        named = [bucket for bucket in worker.applied if bucket != OTHER_QUEUES]
        params = {"worker_id": worker.worker_id, "bucket": line.bucket, "named": named}
        running = run(session, QUEUE["why_running_of_worker"], params).all()
        if len(running) < line.slots:
            return []  # a free slot: not this
        busy.extend(running)
    slots = sum(line.slots for line in state.serving)
    busy.sort(key=lambda row: (row.started_at is None, row.started_at, row.id))
    shown = ", ".join(
        f"job {row.id} ({row.task_name}"
        + (f", since {_at(row.started_at)})" if row.started_at else ")")
        for row in busy[:SHOWN_RUNNING]
    )
    more = f" and {len(busy) - SHOWN_RUNNING} more" if len(busy) > SHOWN_RUNNING else ""
    return [
        Reason(
            "slots_busy",
            f"every slot of queue {state.name} is busy ({slots} slots on"
            f" {len(state.serving)} workers): {shown}{more}",
            job_ids=tuple(row.id for row in busy),
        )
    ]


def _lock(session: Session, job: Any) -> list[Reason]:
    """Procrastinate runs one job per lock, and the first in line (priority, then id)."""
    if job.lock is None:
        return []
    params = {"lock": job.lock, "id": job.id, "priority": job.priority}
    holder = run(session, QUEUE["why_lock_holder"], params).one_or_none()
    if holder is None:
        return []
    if holder.status == "doing":
        since = f" since {_at(holder.started_at)}" if holder.started_at else ""
        return [
            Reason(
                "lock_held",
                f"its lock is held by job {holder.id}, running{since}",
                job_ids=(holder.id,),
            )
        ]
    return [
        Reason(
            "lock_queued",
            f"job {holder.id} holds the same lock and comes first (it waits too)",
            job_ids=(holder.id,),
        )
    ]


def _ahead(session: Session, job: Any) -> list[Reason]:
    params = {"queue": job.queue_name, "priority": job.priority, "id": job.id}
    statement = QUEUE["why_ahead" if job.hj_key is None else "why_ahead_of_keyed"]
    ahead = run(session, statement, {**params, "cap": AHEAD_CAP + 1}).scalar()
    if not ahead:
        return []
    count = f"{AHEAD_CAP:,}+" if ahead > AHEAD_CAP else f"{ahead:,}"
    if job.hj_key is not None:  # the same priority is the fair share's (below)
        what = "higher priority"
    else:
        what = "higher priority, or the same priority and deferred earlier"
    return [
        Reason("jobs_ahead", f"{count} ready jobs of queue {job.queue_name} come first ({what})")
    ]


def _fair_share(session: Session, job: Any) -> list[Reason]:
    if job.hj_key is None:
        return []
    params = {"key": job.hj_key, "queue": job.queue_name, "priority": job.priority, "id": job.id}
    row = run(session, QUEUE["why_fair_share"], {**params, "sample": AHEAD_CAP * 10}).one()
    if not row.ahead:
        return []
    return [
        Reason(
            "fair_share",
            f"fair share: {row.ahead:,} ready jobs of other keys of queue {job.queue_name}"
            f" come first (its key {job.hj_key} is on its turn {row.turn:,}, counting its"
            " running jobs; keys take turns)",
        )
    ]


def _key_limits(session: Session, job: Any) -> list[Reason]:
    """Its key at max_running (by which jobs), or out of rate tokens (until when)."""
    if job.hj_key is None:
        return []
    state = run(session, QUEUE["why_key_state"], {"key": job.hj_key}).one_or_none()
    if state is None:
        return []
    reasons = []
    if state.max_running is not None:
        running = run(session, QUEUE["why_key_running"], {"key": job.hj_key}).all()
        if len(running) >= state.max_running:
            shown = ", ".join(
                f"job {row.id}" + (f" (since {_at(row.started_at)})" if row.started_at else "")
                for row in running[:SHOWN_RUNNING]
            )
            more = (
                f" and {len(running) - SHOWN_RUNNING} more" if len(running) > SHOWN_RUNNING else ""
            )
            reasons.append(
                Reason(
                    "key_concurrency",
                    f"its key {job.hj_key} runs {len(running)} jobs, its limit is"
                    f" {state.max_running}: {shown}{more}",
                    job_ids=tuple(row.id for row in running),
                )
            )
    if state.per_second and state.tokens is not None and state.tokens < 1:
        until = state.now + timedelta(seconds=(1 - state.tokens) / state.per_second)
        per_minute = state.per_second * 60
        reasons.append(
            Reason(
                "key_rate",
                f"its key {job.hj_key} used up its rate ({per_minute:g}/min, burst"
                f" {state.capacity:g}): next start at {_at(until)}",
                until,
            )
        )
    return reasons
