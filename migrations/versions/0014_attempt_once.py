"""Attempt rows written once, at their end

Revision ID: 0014_attempt_once
Revises: 0013_operator_views
Create Date: 2026-12-03

A worker used to insert a `running` attempt row when a job started and update it at its
end: two row versions, each in every index of job_attempts. It now inserts the row once,
at the end (queue/attempts.py); what runs now is read from `doing` jobs, their `started`
event and their worker's registration, and the rescue inserts the row of a run whose
worker died (queue/rescue.py). Nothing searches for `running` rows any more, so their
index goes. Rows left `running` by workers of earlier versions whose job no longer runs
them are closed as `interrupted`; those of jobs still running keep being ended by the
worker of the earlier version that runs them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_attempt_once"
down_revision: str | None = "0013_operator_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOSE_ORPHANED = """
UPDATE job_attempts AS attempt
SET outcome = 'interrupted', finished_at = now(),
    duration_ms = extract(epoch FROM now() - started_at) * 1000,
    exception_type = 'hiring_jobs.queue.rescue.AttemptLost',
    error_message = 'the end of this attempt was never recorded'
WHERE attempt.outcome = 'running'
  AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS job
         WHERE job.id = attempt.job_id AND job.status = 'doing'
           AND job.attempts + 1 = attempt.attempt)
"""


def upgrade() -> None:
    op.execute(CLOSE_ORPHANED)
    op.drop_index("ix_job_attempts_running", table_name="job_attempts")


def downgrade() -> None:
    op.create_index(
        "ix_job_attempts_running",
        "job_attempts",
        ["started_at"],
        postgresql_where=sa.text("outcome = 'running'"),
    )
