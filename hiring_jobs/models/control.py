"""Run-time control of queues (queue/control.py): what operators set, what workers serve;
and what running jobs report of their progress (queue/job_progress.py).

`queue_settings` holds one row per queue and scope: fleet-wide (`worker_name` empty) or for
one worker process (its name). What each live worker process applies now is on its
`worker_processes` row (models/operator.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column

FLEET = ""  # queue_settings.worker_name of a fleet-wide setting


class QueueSetting(Base):
    __tablename__ = "queue_settings"
    __table_args__ = (
        CheckConstraint("concurrency IS NULL OR concurrency BETWEEN 0 AND 1000", name="slots"),
    )

    queue_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    worker_name: Mapped[str] = mapped_column(String(200), primary_key=True, default=FLEET)
    paused: Mapped[bool] = mapped_column(default=False)
    # Slots per worker process; NULL: what the worker was started with.
    concurrency: Mapped[int | None]
    updated_at: Mapped[datetime] = created_at_column()
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class PeriodicSetting(Base):
    """A cron task's run-time settings (queue/cron.py); no row: enabled, `skip`."""

    __tablename__ = "periodic_settings"
    __table_args__ = (
        CheckConstraint("catch_up IN ('skip', 'once', 'each')", name="catch_up"),
        CheckConstraint("window_seconds > 0", name="window"),
    )

    task_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    periodic_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    catch_up: Mapped[str] = mapped_column(String(10), default="skip")
    window_seconds: Mapped[int] = mapped_column(default=86400)
    updated_at: Mapped[datetime] = created_at_column()
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class JobProgress(Base):
    """The last progress a job reported (one row per job, deleted with the job)."""

    __tablename__ = "job_progress"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    done: Mapped[int]
    total: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = created_at_column()
