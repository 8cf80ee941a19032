"""Alembic owns the whole schema: ours and Procrastinate's."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from hiring_jobs import db, schema
from hiring_jobs.models import Base
from tests.conftest import conninfo_url

# Everything PostgreSQL knows about a schema that a migration can change.
FINGERPRINT_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "functions": """
        SELECT proname, pg_get_function_identity_arguments(oid), md5(prosrc)
        FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "types": """
        SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1""",
}


def fingerprint(url: str, *, only_procrastinate: bool = False) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        result = {
            name: conn.execute(query).fetchall() for name, query in FINGERPRINT_QUERIES.items()
        }
    if only_procrastinate:
        # Procrastinate's objects, not our own additions to its tables (hj_* indexes).
        result = {
            name: [row for row in rows if "procrastinate" in str(row) and "hj_" not in str(row)]
            for name, rows in result.items()
        }
    return result


@pytest.fixture
def empty_database_url(pg_server: NoopExecutor, request: pytest.FixtureRequest) -> Iterator[str]:
    dbname = f"empty_{request.node.name[:40]}".lower()
    janitor = DatabaseJanitor(
        user=pg_server.user,
        host=pg_server.host,
        port=pg_server.port,
        password=pg_server.password,
        dbname=dbname,
    )
    with janitor:
        yield conninfo_url(
            host=pg_server.host,
            port=pg_server.port,
            user=pg_server.user,
            password=pg_server.password,
            dbname=dbname,
        )


def test_migrate_creates_app_tables_and_procrastinate_schema(empty_database_url: str) -> None:
    with pytest.raises(db.NotMigrated, match="run `hiring-jobs migrate`"):
        db.check_database(empty_database_url)

    schema.upgrade(empty_database_url)

    db.check_database(empty_database_url)
    assert schema.current_revision(empty_database_url) == schema.head_revision(empty_database_url)
    tables = {row[0] for row in fingerprint(empty_database_url)["columns"]}
    assert {"users", "resumes", "applications", "email_deliveries"} <= tables
    assert {"procrastinate_jobs", "procrastinate_events", "procrastinate_workers"} <= tables


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    before = fingerprint(database_url)
    schema.upgrade(database_url)
    assert fingerprint(database_url) == before


def test_autogenerate_finds_nothing_to_do_and_never_touches_procrastinate(
    database_url: str,
) -> None:
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": schema.include_name, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_baseline_equals_the_installed_procrastinate_schema(
    database_url: str, empty_database_url: str
) -> None:
    """Fails when Procrastinate is upgraded without a revision for its new migrations."""
    shipped = (importlib.resources.files("procrastinate.sql") / "schema.sql").read_text()
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(shipped)  # type: ignore[arg-type]

    ours = fingerprint(database_url, only_procrastinate=True)
    theirs = fingerprint(empty_database_url, only_procrastinate=True)
    assert ours == theirs
    assert ours["functions"], "the fingerprint saw Procrastinate's functions"


def test_procrastinate_upgrade_files_are_selected_by_version_range() -> None:
    files = schema.procrastinate_migration_files(after="03.03.00", up_to="03.04.00")
    assert [path.name.split("_")[0] for path in files] == ["03.04.00", "03.04.00"]
    [pre] = schema.procrastinate_migration_files("03.03.00", "03.04.00", phase="pre")
    [post] = schema.procrastinate_migration_files("03.03.00", "03.04.00", phase="post")
    assert "_pre_" in pre.name and "_post_" in post.name
    with pytest.raises(FileNotFoundError):
        schema.procrastinate_migration_files(after="03.04.00", up_to="03.04.00")


def test_one_worker_table_keeps_each_workers_line_and_downgrade_restores_it(
    empty_database_url: str,
) -> None:
    """0016: queue_workers folds into worker_processes (registered or not), and back."""
    schema.upgrade(empty_database_url, "0015_dead_letter_counts")
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            "INSERT INTO worker_processes (worker_id, worker_name, hostname, pid, concurrency,"
            " slots) VALUES (1, 'w-1', 'h', 11, 6, '{\"email\": 2, \"*\": 4}')"
        )
        conn.execute(
            "INSERT INTO queue_workers (worker_id, worker_name, hostname, pid, configured,"
            " applied, paused) VALUES"
            " (1, 'w-1', 'h', 11, '{\"email\": 2, \"*\": 4}', '{\"email\": 1, \"*\": 4}',"
            "  '[\"email\"]'),"
            " (2, 'w-2', 'h', 22, '{\"*\": 3}', '{\"*\": 3}', '[]')"
        )

    schema.upgrade(empty_database_url, "0016_one_worker_table")
    with psycopg.connect(empty_database_url) as conn:
        rows = conn.execute(
            "SELECT worker_id, worker_name, pid, concurrency, slots, applied, paused"
            " FROM worker_processes ORDER BY worker_id"
        ).fetchall()
        tables = conn.execute("SELECT to_regclass('queue_workers')").fetchone()
    assert rows == [
        (1, "w-1", 11, 6, {"email": 2, "*": 4}, {"email": 1, "*": 4}, ["email"]),
        (2, "w-2", 22, 3, {"*": 3}, {"*": 3}, []),
    ]
    assert tables == (None,)

    command.downgrade(schema.alembic_config(empty_database_url), "0015_dead_letter_counts")
    with psycopg.connect(empty_database_url) as conn:
        restored = conn.execute(
            "SELECT worker_id, worker_name, configured, applied, paused FROM queue_workers"
            " ORDER BY worker_id"
        ).fetchall()
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'worker_processes' ORDER BY ordinal_position"
        ).fetchall()
    assert restored == [
        (1, "w-1", {"email": 2, "*": 4}, {"email": 1, "*": 4}, ["email"]),
        (2, "w-2", {"*": 3}, {"*": 3}, []),
    ]
    assert [name for (name,) in columns] == [
        "worker_id",
        "worker_name",
        "hostname",
        "pid",
        "concurrency",
        "slots",
        "pool",
        "started_at",
    ]


def test_attempt_once_closes_orphaned_running_rows_and_dead_letter_counts_start_right(
    empty_database_url: str,
) -> None:
    """0014 ends `running` rows no job runs any more (kept: a job still running them);
    0015 counts the pending dead letters already there."""
    schema.upgrade(empty_database_url, "0013_operator_views")
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            "INSERT INTO procrastinate_jobs (id, queue_name, task_name, args, status, attempts)"
            " VALUES (1, 'q', 't', '{}', 'doing', 0), (2, 'q', 't', '{}', 'succeeded', 1),"
            " (3, 'q', 't', '{}', 'failed', 1), (4, 'q', 't', '{}', 'failed', 1)"
        )
        conn.execute(
            "INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome) VALUES"
            " (1, 1, 't', 'q', 'running'), (2, 1, 't', 'q', 'running')"
        )
        conn.execute("UPDATE dead_letters SET reviewed = true WHERE job_id = 4")

    schema.upgrade(empty_database_url, "0015_dead_letter_counts")
    with psycopg.connect(empty_database_url) as conn:
        outcomes = conn.execute("SELECT job_id, outcome FROM job_attempts ORDER BY job_id")
        counts = conn.execute("SELECT task_name, pending FROM dead_letter_counts")
        assert outcomes.fetchall() == [(1, "running"), (2, "interrupted")]
        assert counts.fetchall() == [("t", 1)]
