"""The GIN index on job arguments holds finished jobs only

`hj_jobs_args` (args jsonb_path_ops) took an entry for every row version of every job:
queued, running and finished, three per job, each in the GIN pending list. The queries
that search arguments (privacy/subjects.py `jobs_about`, privacy/retention.py's payload
deletion) read finished jobs through this index and the live ones (todo, doing: the
queue, never more than its backlog) through Procrastinate's partial index on them. One
entry per job instead of three: the largest part of the WAL a job writes beyond stock
Procrastinate's (`hiring-jobs bench --sections writes`).

Revision ID: 0019_args_index_finished_jobs
Revises: 0018_attempt_run_identity
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_args_index_finished_jobs"
down_revision: str | None = "0018_attempt_run_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The queries repeat this predicate word for word: the planner uses a partial index only
# when it can prove the query's condition implies the index's.
FINISHED = "status NOT IN ('todo', 'doing')"


def upgrade() -> None:
    # Built before the old one goes (no moment without an index), without locking writes.
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS hj_jobs_args_finished ON procrastinate_jobs"
            f" USING gin (args jsonb_path_ops) WHERE {FINISHED}"
        )
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS hj_jobs_args")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS hj_jobs_args ON procrastinate_jobs"
            " USING gin (args jsonb_path_ops)"
        )
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS hj_jobs_args_finished")
