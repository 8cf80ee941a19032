"""Worker processes: each registered worker's name, host, pid and per-queue slots

Procrastinate stores a worker's id and heartbeat only; the workers page (and a job's
worker link) read the rest here (hiring_jobs/queue/registration.py writes it).

Revision ID: 0013_operator_views
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_operator_views"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_processes",
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_name", sa.Text(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("slots", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_processes")),
    )


def downgrade() -> None:
    op.drop_table("worker_processes")
