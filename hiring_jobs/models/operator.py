"""What operators see beside the jobs: each worker process's registration, slots and
run-time settings, and alert rules with their incidents.

A row per Procrastinate worker registration (`procrastinate_workers.id`), written only by
queue/registration.py: Procrastinate stores only an id and a heartbeat, so the workers
page could not name an idle worker nor show what it serves, and queue control could not
say which workers serve a queue and whether a change has reached them. No foreign key
(Procrastinate's tables stay Procrastinate's): pages join on the live registrations, and
each new registration deletes the rows whose worker Procrastinate has since removed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class WorkerProcess(Base):
    __tablename__ = "worker_processes"

    worker_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_name: Mapped[str] = mapped_column(Text, index=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int]
    concurrency: Mapped[int]  # every slot of every queue
    # {"email": 4, "resume": 2, "*": 4}: "*" are slots shared by queues not named.
    slots: Mapped[dict[str, int]] = mapped_column(JSONB)
    # How the process runs its jobs: fetch batch, child recycling, shutdown grace, heartbeat.
    pool: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    started_at: Mapped[datetime] = created_at_column()
    # What it applies now (queue/control.py): slots per bucket after run-time limits, and
    # the queues it holds paused; seen_at is its last report.
    applied: Mapped[dict[str, int]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    paused: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    seen_at: Mapped[datetime] = created_at_column()


class AlertKind(enum.StrEnum):
    TASK_FAILURE_RATE = "task_failure_rate"  # failed / finished runs of a task over a window
    QUEUE_UNSERVED = "queue_unserved"  # ready jobs in a queue no live worker serves
    OLDEST_WAITING = "oldest_waiting"  # a ready job has waited longer than T
    STALLED_JOBS = "stalled_jobs"  # running jobs whose worker stopped heartbeating
    CRON_MISSED = "cron_missed"  # a cron task missed its last tick
    DEAD_LETTERS_GROWING = "dead_letters_growing"  # many new dead letters over a window


class AlertRule(Base):
    """A condition the evaluator checks every minute (hiring_jobs/alerts.py), and where to
    say so. `params` holds the kind's thresholds (see alerts.PARAMS)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    email_to: Mapped[str] = mapped_column(Text, server_default="")  # comma-separated
    webhook_url: Mapped[str] = mapped_column(Text, server_default="")
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class AlertIncident(Base):
    """One stretch of time a rule held for one subject (a task, a queue, or '' when the
    rule has one subject): opened once, notified once, resolved once with a recovery
    notice. The partial unique index makes "once per incident" a database fact."""

    __tablename__ = "alert_incidents"
    __table_args__ = (
        Index(
            "ux_alert_incidents_open",
            "rule_id",
            "subject",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_alert_incidents_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(300), server_default="")
    summary: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = created_at_column()
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
