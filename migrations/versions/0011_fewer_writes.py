"""Fewer index writes per job: the admin filters index finished jobs only

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Every change of a job's status writes a new version of its row, and since `status` is in
the predicates of Procrastinate's own partial indexes, never as a HOT update: each of the
three versions of a job (todo, doing, its end) is inserted into every index of
procrastinate_jobs. The admin filters of migration 0005 (status, queue and task, each with
the id for keyset pages) indexed every job three times; they now index finished jobs
only, once each (the version a job ends with). Waiting and running jobs are few and
served by Procrastinate's own indexes (todo and doing by id, waiting by queue).
Attempts: `request_id` indexes only the rows that have one (a lookup by request id never
needs the others). The dead-letter trigger finds a job's last attempt in
the order of ix_job_attempts_job (attempt, then id), not by id alone, which let the
planner walk the primary key backwards through every later attempt.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = "status NOT IN ('todo', 'doing')"

NEW_INDEXES = {
    "hj_jobs_finished_status_id": f"procrastinate_jobs (status, id) WHERE {FINISHED}",
    "hj_jobs_finished_queue_status_id": (
        f"procrastinate_jobs (queue_name, status, id) WHERE {FINISHED}"
    ),
    "hj_jobs_finished_task_status_id": (
        f"procrastinate_jobs (task_name, status, id) WHERE {FINISHED}"
    ),
    "ix_job_attempts_request_id_set": "job_attempts (request_id) WHERE request_id IS NOT NULL",
}
OLD_INDEXES = {
    "hj_jobs_status_id": "procrastinate_jobs (status, id)",
    "hj_jobs_queue_status_id": "procrastinate_jobs (queue_name, status, id)",
    "hj_jobs_task_status_id": "procrastinate_jobs (task_name, status, id)",
    "ix_job_attempts_request_id": "job_attempts (request_id)",
}


# migrations/versions/0006's function, its last-attempt lookup in index order.
TRACK_FUNCTION = """
CREATE OR REPLACE FUNCTION hj_track_dead_letters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'failed' THEN
        DELETE FROM dead_letters WHERE job_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'failed' THEN
        -- The attempt row is written before Procrastinate records the failure.
        INSERT INTO dead_letters (job_id, task_name, queue_name, failed_at, exception_type,
                                  error_message, error_fingerprint, reviewed)
        SELECT NEW.id, NEW.task_name, NEW.queue_name, now(), a.exception_type,
               a.error_message, a.error_fingerprint, false
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT exception_type, error_message, error_fingerprint FROM job_attempts
            WHERE job_id = NEW.id ORDER BY attempt DESC, id DESC LIMIT 1
        ) a ON true;
    END IF;
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.execute(TRACK_FUNCTION)
    with op.get_context().autocommit_block():
        for name, definition in NEW_INDEXES.items():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
        for name in OLD_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def downgrade() -> None:
    # The trigger function stays as upgraded: it finds the same row, in index order.
    with op.get_context().autocommit_block():
        for name, definition in OLD_INDEXES.items():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
        for name in NEW_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
