"""Procrastinate's tables as SQLAlchemy Core objects, for filters built from parts.

They are not in the ORM metadata on purpose: Alembic and our models leave them alone
(see hiring_jobs.schema.include_name).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import ENUM, JSONB

metadata = MetaData()

# Procrastinate's enum types: bound values are cast to them, as the columns require.
job_status = ENUM(
    "todo",
    "doing",
    "succeeded",
    "failed",
    "cancelled",
    "aborting",
    "aborted",
    name="procrastinate_job_status",
    create_type=False,
)
event_type = ENUM(
    "deferred",
    "started",
    "deferred_for_retry",
    "failed",
    "succeeded",
    "cancelled",
    "abort_requested",
    "aborted",
    "scheduled",
    "retried",
    name="procrastinate_job_event_type",
    create_type=False,
)

jobs = Table(
    "procrastinate_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("queue_name", String),
    Column("task_name", String),
    Column("priority", Integer),
    Column("lock", Text),
    Column("queueing_lock", Text),
    Column("args", JSONB),
    Column("status", job_status),
    Column("scheduled_at", DateTime(timezone=True)),
    Column("attempts", Integer),
    Column("abort_requested", Boolean),
    Column("worker_id", BigInteger),
)

events = Table(
    "procrastinate_events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("job_id", BigInteger),
    Column("type", event_type),
    Column("at", DateTime(timezone=True)),
)

# Statuses a job can be in (Procrastinate's enum also has the legacy, unused 'aborting').
STATUSES: tuple[str, ...] = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
