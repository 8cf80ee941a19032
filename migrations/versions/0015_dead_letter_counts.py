"""Dead-letter groups counted as failures come and go, not on every page view

Revision ID: 0015_dead_letter_counts
Revises: 0014_attempt_once
Create Date: 2026-12-03

The dead-letter pages grouped every unreviewed failure on each view: 200,000 of them took
120-150 ms. A statement-level trigger on dead_letters now appends what each statement
changed per group (task and error fingerprint) to dead_letter_counts, and the pages sum
those rows. Appending never waits for a lock: two workers failing jobs of the same groups
in different orders cannot deadlock, as an upsert of one counter row per group could. The
throughput rollup (every minute) folds the rows back into one per group.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_dead_letter_counts"
down_revision: str | None = "0014_attempt_once"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_FUNCTION = """
CREATE FUNCTION hj_count_dead_letters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO dead_letter_counts (task_name, error_fingerprint, pending, first_seen,
                                        last_seen)
        SELECT task_name, error_fingerprint, count(*), min(failed_at), max(failed_at)
        FROM new_rows WHERE NOT reviewed GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO dead_letter_counts (task_name, error_fingerprint, pending)
        SELECT task_name, error_fingerprint, -count(*)
        FROM old_rows WHERE NOT reviewed GROUP BY 1, 2;
    ELSE
        INSERT INTO dead_letter_counts (task_name, error_fingerprint, pending, first_seen,
                                        last_seen)
        SELECT task_name, error_fingerprint, sum(n), min(seen), max(seen)
        FROM (SELECT task_name, error_fingerprint, 1 AS n, failed_at AS seen
                FROM new_rows WHERE NOT reviewed
              UNION ALL
              SELECT task_name, error_fingerprint, -1, NULL
                FROM old_rows WHERE NOT reviewed) AS changed
        GROUP BY 1, 2 HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END;
$$
"""

TRIGGERS = {
    "hj_dead_letter_counts_insert": "AFTER INSERT ON dead_letters"
    " REFERENCING NEW TABLE AS new_rows",
    "hj_dead_letter_counts_update": "AFTER UPDATE ON dead_letters"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "hj_dead_letter_counts_delete": "AFTER DELETE ON dead_letters"
    " REFERENCING OLD TABLE AS old_rows",
}

BACKFILL = """
INSERT INTO dead_letter_counts (task_name, error_fingerprint, pending, first_seen, last_seen)
SELECT task_name, error_fingerprint, count(*), min(failed_at), max(failed_at)
FROM dead_letters WHERE NOT reviewed GROUP BY 1, 2
"""


def upgrade() -> None:
    op.create_table(
        "dead_letter_counts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("error_fingerprint", sa.String(length=40), nullable=True),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter_counts")),
    )
    op.execute(COUNT_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT"
            " EXECUTE FUNCTION hj_count_dead_letters()"
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON dead_letters")
    op.execute("DROP FUNCTION IF EXISTS hj_count_dead_letters()")
    op.drop_table("dead_letter_counts")
