"""Per-key concurrency and rate limits, and fair share between keys

A task may declare a key (`Key("employer", "employer_id", max_running=2, rate=...)`,
hiring_jobs/queue/keys.py): the app writes task name -> (key name, argument field) to
hj_task_keys and each key name's limits to hj_key_limits at startup. A BEFORE INSERT
trigger fills procrastinate_jobs.hj_key ("employer:42") from them, so Procrastinate's
defer and our batch insert both get it, and creates the key's state row (a token bucket
of rate_limit_buckets, the email limit's table) when its key name has limits.

The worker's fetch (hiring_jobs/sql/queue.sql, fetch_jobs) reads waiting keyed jobs key
by key (hj_jobs_todo_keyed), unkeyed ones in their own order (hj_jobs_todo_unkeyed), and
asks hj_key_allowance how many jobs each limited key may start now: it locks the keys'
state rows in name order, then counts their running jobs (hj_jobs_doing_keyed) in a
snapshot taken after the lock. A keyed job entering `doing` spends a token of its key's
bucket; one leaving `doing` sends Procrastinate's job_inserted notification, so jobs held
by max_running are fetched when a slot frees.

Revision ID: 0017_key_limits
Revises: 0016_one_worker_table
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_key_limits"
down_revision: str | None = "0016_one_worker_table"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SET_KEY = """
CREATE FUNCTION hj_jobs_set_key() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    declared hj_task_keys%ROWTYPE;
BEGIN
    SELECT * INTO declared FROM hj_task_keys WHERE task_name = NEW.task_name;
    IF FOUND AND NEW.args ->> declared.arg_field IS NOT NULL THEN
        NEW.hj_key := declared.key_name || ':' || (NEW.args ->> declared.arg_field);
        -- The key's state row, for the fetch to lock; a full bucket to start with.
        INSERT INTO rate_limit_buckets (name, tokens, capacity, per_second, refilled_at)
        SELECT NEW.hj_key, limits.burst, limits.burst, coalesce(limits.per_second, 0), now()
          FROM hj_key_limits AS limits
         WHERE limits.key_name = declared.key_name
        ON CONFLICT (name) DO NOTHING;
    ELSE
        NEW.hj_key := NULL;
    END IF;
    RETURN NEW;
END;
$$
"""

KEY_FREED = """
CREATE FUNCTION hj_jobs_key_freed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Procrastinate's own wake-up (procrastinate_notify_queue_job_inserted_v1); one
    -- payload per queue, so PostgreSQL folds those of one transaction into one.
    PERFORM pg_notify('procrastinate_queue_v1#' || OLD.queue_name, '{"type": "job_inserted"}');
    PERFORM pg_notify('procrastinate_any_queue_v1', '{"type": "job_inserted"}');
    RETURN NULL;
END;
$$
"""

KEY_STARTED = """
CREATE FUNCTION hj_jobs_key_started() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A token of the key's bucket, refilled for the time since its last use. Every path
    -- to `doing` spends one (Procrastinate's own fetch too); ours locked the row first.
    UPDATE rate_limit_buckets AS bucket
       SET tokens = least(bucket.capacity, bucket.tokens + bucket.per_second
                          * extract(epoch FROM clock_timestamp() - bucket.refilled_at)) - 1,
           refilled_at = clock_timestamp()
     WHERE bucket.name = NEW.hj_key AND bucket.per_second > 0;
    RETURN NULL;
END;
$$
"""

ALLOWANCE = """
CREATE FUNCTION hj_key_allowance(keys text[])
RETURNS TABLE (hj_key text, allowance integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- A limited key without its state row (limits declared after its jobs were deferred):
    -- made here, so that it is locked and limited like the others.
    INSERT INTO rate_limit_buckets (name, tokens, capacity, per_second, refilled_at)
    SELECT waiting.name, limits.burst, limits.burst, coalesce(limits.per_second, 0), now()
      FROM unnest(keys) AS waiting(name)
      JOIN hj_key_limits AS limits ON limits.key_name = split_part(waiting.name, ':', 1)
    ON CONFLICT (name) DO NOTHING;
    -- Concurrent fetches of the same keys queue here, in name order (no deadlock).
    PERFORM 1 FROM rate_limit_buckets AS bucket
     WHERE bucket.name = ANY(keys) ORDER BY bucket.name FOR UPDATE;
    -- A new statement, so a new snapshot: the jobs another fetch started and committed
    -- while this one waited for the lock are counted as running.
    RETURN QUERY
    SELECT bucket.name::text,
           least(
               CASE WHEN limits.max_running IS NULL THEN 2147483647
                    ELSE limits.max_running - (
                        SELECT count(*) FROM procrastinate_jobs AS running
                         WHERE running.hj_key = bucket.name AND running.status = 'doing')::int
               END,
               CASE WHEN bucket.per_second <= 0 THEN 2147483647
                    ELSE floor(least(bucket.capacity, bucket.tokens + bucket.per_second
                        * extract(epoch FROM clock_timestamp() - bucket.refilled_at)))::int
               END)
      FROM rate_limit_buckets AS bucket
      JOIN hj_key_limits AS limits ON limits.key_name = split_part(bucket.name, ':', 1)
     WHERE bucket.name = ANY(keys);
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "hj_task_keys",
        sa.Column("task_name", sa.Text(), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("arg_field", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("task_name", name=op.f("pk_hj_task_keys")),
    )
    op.create_table(
        "hj_key_limits",
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("max_running", sa.Integer(), nullable=True),
        sa.Column("per_second", sa.Float(), nullable=True),
        sa.Column("burst", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_name", name=op.f("pk_hj_key_limits")),
    )
    # Key values can be longer than the email limit's names.
    op.alter_column("rate_limit_buckets", "name", type_=sa.Text(), existing_nullable=False)
    # Byte order: keys are compared and sorted on every keyed fetch.
    op.execute('ALTER TABLE procrastinate_jobs ADD COLUMN hj_key text COLLATE "C"')
    # Waiting keyed jobs, key by key, in fetch order: the fetch skips from key to key.
    op.execute(
        "CREATE INDEX hj_jobs_todo_keyed ON procrastinate_jobs"
        " (queue_name, hj_key, priority DESC, id)"
        " WHERE status = 'todo' AND hj_key IS NOT NULL"
    )
    # Waiting unkeyed jobs in fetch order: a keyed backlog is not read to find them.
    op.execute(
        "CREATE INDEX hj_jobs_todo_unkeyed ON procrastinate_jobs (queue_name, priority DESC, id)"
        " WHERE status = 'todo' AND hj_key IS NULL"
    )
    # Running jobs of a key: counted by hj_key_allowance, listed by the explainer.
    op.execute(
        "CREATE INDEX hj_jobs_doing_keyed ON procrastinate_jobs (hj_key)"
        " WHERE status = 'doing' AND hj_key IS NOT NULL"
    )
    op.execute(SET_KEY)
    op.execute(
        "CREATE TRIGGER hj_jobs_set_key BEFORE INSERT ON procrastinate_jobs"
        " FOR EACH ROW EXECUTE FUNCTION hj_jobs_set_key()"
    )
    op.execute(KEY_FREED)
    op.execute(
        "CREATE TRIGGER hj_jobs_key_freed_update AFTER UPDATE OF status ON procrastinate_jobs"
        " FOR EACH ROW WHEN (OLD.status = 'doing' AND NEW.status <> 'doing'"
        " AND OLD.hj_key IS NOT NULL) EXECUTE FUNCTION hj_jobs_key_freed()"
    )
    op.execute(
        "CREATE TRIGGER hj_jobs_key_freed_delete AFTER DELETE ON procrastinate_jobs"
        " FOR EACH ROW WHEN (OLD.status = 'doing' AND OLD.hj_key IS NOT NULL)"
        " EXECUTE FUNCTION hj_jobs_key_freed()"
    )
    op.execute(KEY_STARTED)
    op.execute(
        "CREATE TRIGGER hj_jobs_key_started AFTER UPDATE OF status ON procrastinate_jobs"
        " FOR EACH ROW WHEN (OLD.status <> 'doing' AND NEW.status = 'doing'"
        " AND NEW.hj_key IS NOT NULL) EXECUTE FUNCTION hj_jobs_key_started()"
    )
    op.execute(ALLOWANCE)


def downgrade() -> None:
    op.execute("DROP FUNCTION hj_key_allowance(text[])")
    op.execute("DROP TRIGGER hj_jobs_key_started ON procrastinate_jobs")
    op.execute("DROP FUNCTION hj_jobs_key_started()")
    op.execute("DROP TRIGGER hj_jobs_key_freed_delete ON procrastinate_jobs")
    op.execute("DROP TRIGGER hj_jobs_key_freed_update ON procrastinate_jobs")
    op.execute("DROP FUNCTION hj_jobs_key_freed()")
    op.execute("DROP TRIGGER hj_jobs_set_key ON procrastinate_jobs")
    op.execute("DROP FUNCTION hj_jobs_set_key()")
    op.execute("DROP INDEX hj_jobs_doing_keyed")
    op.execute("DROP INDEX hj_jobs_todo_unkeyed")
    op.execute("DROP INDEX hj_jobs_todo_keyed")
    op.execute("ALTER TABLE procrastinate_jobs DROP COLUMN hj_key")
    op.alter_column(
        "rate_limit_buckets", "name", type_=sa.String(length=100), existing_nullable=False
    )
    op.drop_table("hj_key_limits")
    op.drop_table("hj_task_keys")
