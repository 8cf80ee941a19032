"""What operators see beside the jobs: each worker process's registration and slots.

A row per Procrastinate worker registration (`procrastinate_workers.id`), written by the
worker process once registered: Procrastinate stores only an id and a heartbeat, so the
workers page could not name an idle worker nor show what it serves. No foreign key
(Procrastinate's tables stay Procrastinate's): pages join on the live registrations, and
each new registration deletes the rows whose worker Procrastinate has since removed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column


class WorkerProcess(Base):
    __tablename__ = "worker_processes"

    worker_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_name: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int]
    concurrency: Mapped[int]  # every slot of every queue
    # {"email": 4, "resume": 2, "*": 4}: "*" are slots shared by queues not named.
    slots: Mapped[dict[str, int]] = mapped_column(JSONB)
    started_at: Mapped[datetime] = created_at_column()
