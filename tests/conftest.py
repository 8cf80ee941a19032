"""Real PostgreSQL for every test: a fresh database per test, cloned from a migrated template.

The server is the embedded one, started once per test process (the suite runs two, with
pytest-xdist), or the one named by HIRING_JOBS_TEST_DATABASE_URL (for example
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import db, embedded, settings
from tests.support import tasks  # noqa: F401  (registers the test-only tasks)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NoopExecutor]:
    external = os.environ.get("HIRING_JOBS_TEST_DATABASE_URL")
    if external:
        info = psycopg.conninfo.conninfo_to_dict(external)
        yield _executor(
            host=str(info.get("host", "127.0.0.1")),
            port=int(info.get("port", 5432)),
            user=str(info.get("user", "postgres")),
            password=str(info.get("password", "")),
        )
        return
    pgdata = tmp_path_factory.mktemp("embedded") / "pgdata"
    url = embedded.start_server(pgdata)
    info = psycopg.conninfo.conninfo_to_dict(url)
    EMBEDDED_PGDATA.append(pgdata)
    yield _executor(host=str(info["host"]), port=5432, user="postgres", password="")
    embedded.stop_server(pgdata)


# The embedded server's data directory, for tests that restart it (empty when external).
EMBEDDED_PGDATA: list[Path] = []


def _executor(*, host: str, port: int, user: str, password: str) -> NoopExecutor:
    # Test processes (pytest-xdist) sharing an external server each get their own template.
    dbname = "hiring_jobs_test" + os.environ.get("PYTEST_XDIST_WORKER", "")
    return NoopExecutor(
        host=host, port=port, user=user, password=password, dbname=dbname, options=""
    )


def migrate_template(**conn: Any) -> None:
    """pytest-postgresql loader: run our Alembic migrations on the template database."""
    from hiring_jobs import schema
    from hiring_jobs.app import app
    from hiring_jobs.queue import keys

    url = conninfo_url(**conn)
    schema.upgrade(url)
    # What a worker's start writes: the tasks' keys and limits (queue/keys.py).
    app.perform_import_paths()
    engine = db.make_engine(url, poolclass=None)
    try:
        with Session(engine) as session, session.begin():
            keys.sync(session, known_tasks=app.tasks)
    finally:
        engine.dispose()


def conninfo_url(
    *, host: str, port: int, user: str, dbname: str, password: str | None = "", **_: Any
) -> str:
    """A postgresql:// URL (what DATABASE_URL holds), socket directories included."""
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    query = urlencode({"host": host, "port": port})
    return f"postgresql://{auth}@/{quote(dbname, safe='')}?{query}"


@pytest.fixture(scope="session")
def postgresql_template(pg_server: NoopExecutor) -> Iterator[NoopExecutor]:
    """The migrated template every test database is cloned from (pytest-postgresql's janitor)."""
    janitor = DatabaseJanitor(
        user=pg_server.user,
        host=pg_server.host,
        port=pg_server.port,
        password=pg_server.password,
        dbname=pg_server.template_dbname,
        as_template=True,
    )
    janitor.drop()  # left over by an interrupted run on an external server
    with janitor:
        janitor.load(migrate_template)
        yield pg_server


postgresql = factories.postgresql("postgresql_template")


@pytest.fixture
def database_url(
    postgresql: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A fresh migrated database; every hiring_jobs seam (settings, engine, app) points at it."""
    info = postgresql.info
    url = conninfo_url(
        host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password
    )
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HIRING_JOBS_DATA_DIR", str(tmp_path / "data"))
    _clear_caches()
    yield url
    db.get_engine().dispose()
    _clear_caches()


def _clear_caches() -> None:
    for cached in (settings.get_settings, db.database_url, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


@pytest.fixture
def engine(database_url: str) -> Engine:
    return db.get_engine()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return db.get_sessionmaker()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session
