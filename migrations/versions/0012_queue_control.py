"""Run-time control of queues: operators' settings and the workers that apply them

`queue_settings`: pause and slots per queue, fleet-wide (worker_name '') or for one worker
process. `queue_workers`: what each live worker process serves and applies now
(queue/control.py). `job_progress`: the last progress each running job reported
(queue/job_progress.py). `periodic_settings`: cron tasks enabled or not, and their
catch-up policy (queue/cron.py).

Revision ID: 0012_queue_control
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_queue_control"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_settings",
        sa.Column("queue_name", sa.String(100), nullable=False),
        sa.Column("worker_name", sa.String(200), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "concurrency IS NULL OR concurrency BETWEEN 0 AND 1000",
            name=op.f("ck_queue_settings_slots"),
        ),
        sa.PrimaryKeyConstraint("queue_name", "worker_name", name=op.f("pk_queue_settings")),
    )
    op.create_table(
        "queue_workers",
        sa.Column("worker_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("worker_name", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("configured", postgresql.JSONB(), nullable=False),
        sa.Column("applied", postgresql.JSONB(), nullable=False),
        sa.Column("paused", postgresql.JSONB(), nullable=False),
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_queue_workers")),
    )
    op.create_index(op.f("ix_queue_workers_worker_name"), "queue_workers", ["worker_name"])
    op.create_table(
        "periodic_settings",
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("periodic_id", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("catch_up", sa.String(10), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "catch_up IN ('skip', 'once', 'each')", name=op.f("ck_periodic_settings_catch_up")
        ),
        sa.CheckConstraint("window_seconds > 0", name=op.f("ck_periodic_settings_window")),
        sa.PrimaryKeyConstraint("task_name", "periodic_id", name=op.f("pk_periodic_settings")),
    )
    op.create_table(
        "job_progress",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_progress")),
    )


def downgrade() -> None:
    op.drop_table("job_progress")
    op.drop_table("periodic_settings")
    op.drop_index(op.f("ix_queue_workers_worker_name"), table_name="queue_workers")
    op.drop_table("queue_workers")
    op.drop_table("queue_settings")
