"""dead_letters: one row per failed job with its last error, kept by triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

Triggers on procrastinate_jobs are the one place we extend Procrastinate's tables: they
fire only on rows entering or leaving `failed` (the WHEN clauses keep every other status
change free of any function call), and they cover failures however they happen (our
workers, the stock CLI's, the stalled-job rescue, an operator's SQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
            WHERE job_id = NEW.id ORDER BY id DESC LIMIT 1
        ) a ON true;
    END IF;
    RETURN NULL;
END;
$$
"""

TRIGGERS = [
    """CREATE TRIGGER hj_dead_letters_insert AFTER INSERT ON procrastinate_jobs
       FOR EACH ROW WHEN (NEW.status = 'failed') EXECUTE FUNCTION hj_track_dead_letters()""",
    """CREATE TRIGGER hj_dead_letters_update AFTER UPDATE OF status ON procrastinate_jobs
       FOR EACH ROW WHEN ((NEW.status = 'failed') <> (OLD.status = 'failed'))
       EXECUTE FUNCTION hj_track_dead_letters()""",
    """CREATE TRIGGER hj_dead_letters_delete AFTER DELETE ON procrastinate_jobs
       FOR EACH ROW WHEN (OLD.status = 'failed') EXECUTE FUNCTION hj_track_dead_letters()""",
]

# Jobs that failed before this revision: their last error, reviewed if anyone reviewed.
BACKFILL = """
INSERT INTO dead_letters (job_id, task_name, queue_name, failed_at, exception_type,
                          error_message, error_fingerprint, reviewed)
SELECT j.id, j.task_name, j.queue_name, coalesce(a.finished_at, now()), a.exception_type,
       a.error_message, a.error_fingerprint,
       EXISTS (SELECT 1 FROM dead_letter_reviews r WHERE r.job_id = j.id)
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT exception_type, error_message, error_fingerprint, finished_at FROM job_attempts
    WHERE job_id = j.id ORDER BY attempt DESC, id DESC LIMIT 1
) a ON true
WHERE j.status = 'failed'
ON CONFLICT (job_id) DO NOTHING
"""


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("queue_name", sa.String(length=100), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("exception_type", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_fingerprint", sa.String(length=40), nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        "ix_dead_letters_pending_group",
        "dead_letters",
        ["task_name", "error_fingerprint"],
        unique=False,
        postgresql_include=["failed_at"],
        postgresql_where=sa.text("NOT reviewed"),
    )
    op.execute(TRACK_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)


def downgrade() -> None:
    for name in ("hj_dead_letters_insert", "hj_dead_letters_update", "hj_dead_letters_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON procrastinate_jobs")
    op.execute("DROP FUNCTION IF EXISTS hj_track_dead_letters()")
    op.drop_index(
        "ix_dead_letters_pending_group",
        table_name="dead_letters",
        postgresql_where=sa.text("NOT reviewed"),
    )
    op.drop_table("dead_letters")
