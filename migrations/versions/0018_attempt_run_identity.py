"""An attempt row names the worker registration that ran it: one row per run, enforced

A run whose worker lost the database is recorded twice over: by the worker once it is
back (how the run ended) and by the stalled-job rescue (`interrupted`). Each replaced or
skipped the other's row only when it could see it: two statements running at the same
moment both inserted (seen in the restart chaos test under load). The worker
registration that fetched the job (`procrastinate_jobs.worker_id`, known to the worker
and to the rescue alike) plus the job and attempt number name one run; a unique index on
them makes the later writer take the conflict path, atomically: the worker's row
replaces the rescue's, the rescue's is dropped.

Rows written before this revision have no worker id (NULLs are distinct): never in
conflict. The index replaces ix_job_attempts_job (job_id, attempt), a prefix of it.

Revision ID: 0018_attempt_run_identity
Revises: 0017_key_limits
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_attempt_run_identity"
down_revision: str | None = "0017_key_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_attempts", sa.Column("worker_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ux_job_attempts_run", "job_attempts", ["job_id", "attempt", "worker_id"], unique=True
    )
    op.drop_index("ix_job_attempts_job", table_name="job_attempts")


def downgrade() -> None:
    op.create_index("ix_job_attempts_job", "job_attempts", ["job_id", "attempt"], unique=False)
    op.drop_index("ux_job_attempts_run", table_name="job_attempts")
    op.drop_column("job_attempts", "worker_id")
