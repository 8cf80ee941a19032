"""Plans that hold whatever the statistics say: queue names are selective, rescued rows indexed

Two statements of the worker's hot path chose a plan that reads every waiting job or
every recent attempt, once ANALYZE had seen a table in a particular shape. Found by
draining 10,000 no-op jobs after `VACUUM ANALYZE`: 350 jobs/s instead of 1,030 (one
worker process, 8 slots, auto_explain).

- **The fetch** (queue.sql `fetch_jobs`, `fetch_jobs_unkeyed`) takes each queue's first
  jobs by `queue_name = <bucket> ORDER BY priority DESC, id LIMIT n`. The queue names come
  from an array parameter, so the planner estimates a queue's share as 1 / n_distinct.
  When ANALYZE saw every waiting job in one queue (a bulk import: n_distinct = 1), that
  share is all of them, and walking Procrastinate's priority index (`priority DESC, id`
  over all waiting jobs) while filtering by queue looks as cheap as our per-queue index.
  It is not for a queue with nothing waiting beside one with a backlog: every fetch read
  the whole backlog (6,667 index entries per empty queue, 6 ms a fetch). The column's
  n_distinct is set to a fixed number, which ANALYZE then keeps: a queue name picks out
  a small share of jobs, and the per-queue index wins.
- **The attempt write** (`record_attempts`) looks for a row the rescue wrote for the same
  run. A worker connection keeps the plan it made when it first wrote, often while
  `job_attempts` looked empty; such a plan may scan that table in full for each write
  (every attempt of the last minute, 14 ms a write after 10,000 jobs). Rescued rows are
  rare, and a partial index holding only them makes even a full scan cheap.

Revision ID: 0020_plans_that_hold
Revises: 0019_args_index_finished_jobs
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_plans_that_hold"
down_revision: str | None = "0019_args_index_finished_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The planner's estimate of distinct queue names, whatever ANALYZE samples.
QUEUE_NAME_DISTINCT = 100

# queue.sql's record_attempts repeats this predicate word for word (a partial index is
# used only when the query's condition implies the index's).
RESCUED = "exception_type = 'hiring_jobs.queue.rescue.WorkerLost'"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE procrastinate_jobs ALTER COLUMN queue_name"
        f" SET (n_distinct = {QUEUE_NAME_DISTINCT})"
    )
    _refresh_statistics()
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_job_attempts_rescued"
            f" ON job_attempts (job_id, attempt) WHERE {RESCUED}"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_job_attempts_rescued")
    op.execute("ALTER TABLE procrastinate_jobs ALTER COLUMN queue_name RESET (n_distinct)")
    _refresh_statistics()


def _refresh_statistics() -> None:
    """The option takes effect at the next ANALYZE: run it now where statistics exist. A
    table never analyzed (reltuples -1) is left so: its first ANALYZE, here on an empty
    table, would tell the planner it is empty."""
    op.execute(
        "DO $$ BEGIN"
        " IF (SELECT reltuples >= 0 FROM pg_class WHERE oid = 'procrastinate_jobs'::regclass)"
        " THEN ANALYZE procrastinate_jobs (queue_name); END IF;"
        " END $$"
    )
