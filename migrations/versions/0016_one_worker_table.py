"""One worker table: queue_workers folds into worker_processes

A worker process's line was written twice: `worker_processes` (name, host, pid, slots,
pool: queue/registration.py, once registered) and `queue_workers` (name, host, pid, the
slots it was started with, what it applies now, the queues it holds paused: queue
control, every refresh). `worker_processes` now carries `applied`, `paused` and `seen_at`
too, all written by queue/registration.py; `queue_workers.configured` was `slots`.

Upgrade copies each queue_workers line onto its worker's row (a worker that had only that
line gets a row of its own, its concurrency the sum of its slots); downgrade restores
queue_workers from worker_processes.

Revision ID: 0016_one_worker_table
Revises: 0015_dead_letter_counts
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_one_worker_table"
down_revision: str | None = "0015_dead_letter_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "worker_processes",
        sa.Column(
            "applied",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "worker_processes",
        sa.Column(
            "paused",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "worker_processes",
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index(op.f("ix_worker_processes_worker_name"), "worker_processes", ["worker_name"])
    # Until a worker reports otherwise, it applies the slots it was started with.
    op.execute("UPDATE worker_processes SET applied = slots")
    op.execute(
        """
        INSERT INTO worker_processes AS p
            (worker_id, worker_name, hostname, pid, concurrency, slots, applied, paused,
             seen_at)
        SELECT q.worker_id, q.worker_name, q.hostname, q.pid,
               (SELECT coalesce(sum(value::int), 0) FROM jsonb_each_text(q.configured)),
               q.configured, q.applied, q.paused, q.seen_at
        FROM queue_workers q
        ON CONFLICT (worker_id) DO UPDATE
           SET applied = EXCLUDED.applied, paused = EXCLUDED.paused, seen_at = EXCLUDED.seen_at
        """
    )
    op.drop_index(op.f("ix_queue_workers_worker_name"), table_name="queue_workers")
    op.drop_table("queue_workers")


def downgrade() -> None:
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
    op.execute(
        """
        INSERT INTO queue_workers
            (worker_id, worker_name, hostname, pid, configured, applied, paused, seen_at)
        SELECT worker_id, left(worker_name, 200), left(hostname, 255), pid, slots, applied,
               paused, seen_at
        FROM worker_processes
        """
    )
    op.drop_index(op.f("ix_worker_processes_worker_name"), table_name="worker_processes")
    op.drop_column("worker_processes", "seen_at")
    op.drop_column("worker_processes", "paused")
    op.drop_column("worker_processes", "applied")
