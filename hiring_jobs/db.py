"""The one seam to the database: its URL, the SQLAlchemy engine and sessions, readiness checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import embedded
from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says which one and why."""


class NotMigrated(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the database is not migrated: run `hiring-jobs migrate`")


@cache
def database_url() -> str:
    """The libpq URL of the database: DATABASE_URL, or the embedded server (started if needed)."""
    settings = get_settings()
    if settings.database_url:
        return libpq_url(settings.database_url)
    return embedded.start_server(settings.pgdata_dir)


def libpq_url(url: str) -> str:
    """Accept the spellings people paste (postgres://, postgresql+psycopg://)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + libpq_url(url).removeprefix("postgresql://")


def make_engine(url: str, **kwargs: object) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, **kwargs)


@cache
def get_engine() -> Engine:
    return make_engine(database_url())


@cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any exception."""
    factory = factory or get_sessionmaker()
    with factory() as session, session.begin():
        yield session


def check_database(url: str, *, timeout: int = 5) -> None:
    """Raise DatabaseUnavailable or NotMigrated with a one-line reason, else return."""
    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as conn:
            row = conn.execute(QUEUE["is_migrated"]).fetchone()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database ({redact(url)}): {reason}") from None
    if not row or not all(row):
        raise NotMigrated()


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable DATABASE_URL>"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    user, dbname = info.get("user", ""), info.get("dbname", "")
    if host.startswith("/"):  # a unix socket directory, as the embedded server uses
        return f"{user}@{dbname} (unix socket in {host})"
    return f"{user}@{host}:{port}/{dbname}"


def make_async_engine(url: str, **kwargs: object) -> AsyncEngine:
    """For async tasks and handlers; pair with `queue.defer.defer_async`."""
    return create_async_engine(sqlalchemy_url(url), pool_pre_ping=True, **kwargs)
