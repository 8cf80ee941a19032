"""What Procrastinate does not store: every attempt (timing, error, result), dead-letter
reviews, job groups, rate-limit buckets, health-check readings and the audit log.

Rows refer to `procrastinate_jobs.id` without a foreign key: job retention deletes
finished jobs and their attempts together, and Procrastinate's tables stay Procrastinate's.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class AttemptOutcome(enum.StrEnum):
    RUNNING = "running"  # the run of a `doing` job, as pages show it; never written now
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # raised: retried or dead-lettered according to the retry policy
    TIMED_OUT = "timed_out"  # stopped at the hard time limit
    ABORTED = "aborted"  # cancelled while running (operator abort, shutdown)
    INTERRUPTED = "interrupted"  # the worker died; found and closed by the stalled-job rescue


class JobAttempt(Base):
    __tablename__ = "job_attempts"
    __table_args__ = (
        # One row per run: a run is its job, attempt number and the worker registration
        # that fetched it; the worker and the rescue may both write it (migration 0018).
        # Rows of earlier versions have no worker id: never in conflict.
        Index("ux_job_attempts_run", "job_id", "attempt", "worker_id", unique=True),
        Index("ix_job_attempts_started_at", "started_at"),
        # The rescue's rows, rare: how record_attempts finds one under any plan (0020).
        Index(
            "ix_job_attempts_rescued",
            "job_id",
            "attempt",
            postgresql_where=text("exception_type = 'hiring_jobs.queue.rescue.WorkerLost'"),
        ),
        Index("ix_job_attempts_task_started", "task_name", "started_at"),
        Index(
            "ix_job_attempts_request_id_set",
            "request_id",
            postgresql_where=text("request_id IS NOT NULL"),
        ),
        Index(
            "ix_job_attempts_fingerprint",
            "error_fingerprint",
            postgresql_where=text("error_fingerprint IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int]  # 1 for the first run
    task_name: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100))
    # Written at the attempt's end (queue/attempts.py); `running` only in rows of earlier
    # versions, which wrote a row at the start and updated it at the end.
    outcome: Mapped[AttemptOutcome] = mapped_column(str_enum(AttemptOutcome))
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[float | None]
    exception_type: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    # Same exception type and normalised message (ids, numbers, quotes stripped).
    error_fingerprint: Mapped[str | None] = mapped_column(String(40))
    # The task's return value (JSON), unless the task opts out.
    result: Mapped[Any | None] = mapped_column(JSONB)
    worker_name: Mapped[str | None] = mapped_column(String(200))
    hostname: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    request_id: Mapped[str | None] = mapped_column(String(100))
    # The Procrastinate worker registration that fetched the job for this run.
    worker_id: Mapped[int | None] = mapped_column(BigInteger)


class DeadLetterRecord(Base):
    """One row per job currently `failed`, kept by a trigger on procrastinate_jobs.

    The job's last error is copied here when it fails, so the dead-letter pages group and
    count failures without looking up every failed job's attempts (hundreds of thousands
    of lookups at scale). A job that leaves `failed` (retried in place, deleted) leaves
    this table with it; `reviewed` says whether anyone has decided about it.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index(
            "ix_dead_letters_pending_group",
            "task_name",
            "error_fingerprint",
            postgresql_include=["failed_at"],
            postgresql_where=text("NOT reviewed"),
        ),
    )

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    task_name: Mapped[str] = mapped_column(String(200))
    queue_name: Mapped[str] = mapped_column(String(100))
    failed_at: Mapped[datetime] = created_at_column()
    exception_type: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_fingerprint: Mapped[str | None] = mapped_column(String(40))
    reviewed: Mapped[bool] = mapped_column(default=False)


class DeadLetterCount(Base):
    """What one statement changed in the unreviewed failures of one group (task and error
    fingerprint), appended by a trigger on dead_letters (migration 0015). A group's
    pending count is the sum of its rows; the throughput rollup folds them into one.
    `first_seen` and `last_seen` span the group's failures since it was last empty."""

    __tablename__ = "dead_letter_counts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_name: Mapped[str] = mapped_column(String(200))
    error_fingerprint: Mapped[str | None] = mapped_column(String(40))
    pending: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]


class ThroughputMinute(Base):
    """Jobs finished in one minute, rolled up from procrastinate_events (queue.throughput)."""

    __tablename__ = "job_throughput_minutes"

    minute: Mapped[datetime] = mapped_column(primary_key=True)
    succeeded: Mapped[int]
    failed: Mapped[int]


class ReviewAction(enum.StrEnum):
    RETRIED = "retried"
    DISCARDED = "discarded"
    RESOLVED = "resolved"


class DeadLetterReview(Base):
    """A decision about a failed job; several rows per job make its review history."""

    __tablename__ = "dead_letter_reviews"
    __table_args__ = (Index("ix_dead_letter_reviews_job", "job_id", "reviewed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[ReviewAction] = mapped_column(str_enum(ReviewAction))
    notes: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str] = mapped_column(String(100))
    reviewed_at: Mapped[datetime] = created_at_column()
    # The new job a retry created, with the same task, arguments and queue.
    retry_job_id: Mapped[int | None] = mapped_column(BigInteger)


class RateLimitBucket(Base):
    """A token bucket shared by every worker process: `tokens` refill at `per_second`.

    The email limit's bucket, and one per key value of a key with limits ("employer:42",
    queue/keys.py), created by the job insert trigger and spent by the worker's fetch.
    """

    __tablename__ = "rate_limit_buckets"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float]
    capacity: Mapped[float]
    per_second: Mapped[float]
    refilled_at: Mapped[datetime] = created_at_column()


class TaskKey(Base):
    """A task's declared key (queue/keys.py): its jobs' key is `key_name:args[arg_field]`.
    Written by the app at startup; read by the job insert trigger (migration 0017)."""

    __tablename__ = "hj_task_keys"

    task_name: Mapped[str] = mapped_column(Text, primary_key=True)
    key_name: Mapped[str] = mapped_column(Text)
    arg_field: Mapped[str] = mapped_column(Text)


class KeyLimit(Base):
    """The limits of a key name, for each of its values: running jobs and a token bucket."""

    __tablename__ = "hj_key_limits"

    key_name: Mapped[str] = mapped_column(Text, primary_key=True)
    max_running: Mapped[int | None]
    per_second: Mapped[float | None]
    burst: Mapped[float]


class HealthCheck(Base):
    """One reading of the periodic health check."""

    __tablename__ = "health_checks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    database_latency_ms: Mapped[float]
    queue_depths: Mapped[dict[str, Any]] = mapped_column(default=dict)
    live_workers: Mapped[int]
    stalled_jobs: Mapped[int]
    oldest_pending_seconds: Mapped[float | None]


class AuditLogEntry(Base):
    """Who did what to which jobs, from the web UI, the API or the CLI."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = created_at_column()
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300), default="")
    job_count: Mapped[int] = mapped_column(default=0)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobGroup(Base):
    """A fan-out whose completion step runs exactly once, when its last member finishes.

    Members report in their own transactions; the row lock on this group serialises them,
    so exactly one sees `finished == total` and defers the completion job.
    """

    __tablename__ = "job_groups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    total: Mapped[int]
    finished: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    on_complete_task: Mapped[str] = mapped_column(String(200))
    on_complete_kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    completion_job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None]


class JobGroupMember(Base):
    """A member's report: a member re-run after it reported (at-least-once) counts once."""

    __tablename__ = "job_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("job_groups.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(200), primary_key=True)
    failed: Mapped[bool] = mapped_column(default=False)
    reported_at: Mapped[datetime] = created_at_column()
