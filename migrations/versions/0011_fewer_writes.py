"""Fewer index writes per job: partial indexes where the pages need them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Every change of a job's status writes a new version of its row, and since `status` is in
the predicates of Procrastinate's own partial indexes, never as a HOT update: each of the
three versions of a job (todo, doing, its end) is inserted into every index of
procrastinate_jobs. The admin filters of migration 0005 indexed every job three times
(status, queue and task, each with the id for keyset pages). They now index only the
jobs that ended badly (failed, cancelled, aborted): the pages' other cases are served by
Procrastinate's own indexes (todo and doing jobs by id, waiting jobs by queue) or, for
succeeded jobs, by the primary key read backwards (most jobs are succeeded, so a page of
them is found at once). Events: the (type, at) index becomes one on the `deferred` events
only (the time-range filter of the jobs list) plus a BRIN index on `at` (the per-minute
rollups read recent time ranges; a BRIN summary costs next to nothing per insert).
Attempts: `started_at` (time ranges: workers seen, rollups) becomes BRIN; `request_id`
indexes only rows that have one. The dead-letter trigger finds a job's last attempt in
the order of ix_job_attempts_job (attempt, then id), not by id alone, which let the
planner walk the primary key backwards through every later attempt.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDED_BADLY = "status IN ('failed', 'cancelled', 'aborted')"

NEW_INDEXES = {
    "hj_jobs_ended_badly_id": f"procrastinate_jobs (id) WHERE {ENDED_BADLY}",
    "hj_jobs_ended_badly_queue_id": f"procrastinate_jobs (queue_name, id) WHERE {ENDED_BADLY}",
    "hj_jobs_ended_badly_task_id": f"procrastinate_jobs (task_name, id) WHERE {ENDED_BADLY}",
    "hj_events_deferred_at": "procrastinate_events (at) WHERE type = 'deferred'",
    "hj_events_at_brin": "procrastinate_events USING brin (at)",
    "ix_job_attempts_started_at_brin": "job_attempts USING brin (started_at)",
    "ix_job_attempts_request_id_set": "job_attempts (request_id) WHERE request_id IS NOT NULL",
}
OLD_INDEXES = {
    "hj_jobs_status_id": "procrastinate_jobs (status, id)",
    "hj_jobs_queue_status_id": "procrastinate_jobs (queue_name, status, id)",
    "hj_jobs_task_status_id": "procrastinate_jobs (task_name, status, id)",
    "hj_events_type_at": "procrastinate_events (type, at)",
    "ix_job_attempts_started_at": "job_attempts (started_at)",
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
