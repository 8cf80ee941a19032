"""Per-queue fetching and the rescue of orphaned attempts

Workers fetch each queue up to its own free slots (queue/batching.py): an index on
(queue_name, priority DESC, id) of waiting jobs serves each queue's part of the fetch
without reading the other queues' backlogs. The rescue closes attempts left `running`
(queue/rescue.py): a partial index keeps that a read of the running few.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX hj_jobs_queue_fetch ON procrastinate_jobs"
        " (queue_name, priority DESC, id) WHERE status = 'todo'"
    )
    op.create_index(
        "ix_job_attempts_running",
        "job_attempts",
        ["started_at"],
        postgresql_where=sa.text("outcome = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_job_attempts_running", table_name="job_attempts")
    op.execute("DROP INDEX hj_jobs_queue_fetch")
