"""Indexes for the admin pages and API: job filters, argument search, event time ranges.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Procrastinate's own indexes serve fetching; these serve the keyset-paginated filters of
/admin/jobs (status, queue, task, lock, arguments) and the time-range filter and charts
(events by type and time). Built CONCURRENTLY so an upgrade does not block workers on a
big table; that cannot run inside a transaction, hence the autocommit block.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "hj_jobs_status_id": "procrastinate_jobs (status, id)",
    "hj_jobs_queue_status_id": "procrastinate_jobs (queue_name, status, id)",
    "hj_jobs_task_status_id": "procrastinate_jobs (task_name, status, id)",
    "hj_jobs_lock_id": "procrastinate_jobs (lock, id) WHERE lock IS NOT NULL",
    # jsonb_path_ops: small and fast for the @> containment the argument search uses.
    "hj_jobs_args": "procrastinate_jobs USING gin (args jsonb_path_ops)",
    "hj_events_type_at": "procrastinate_events (type, at)",
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
