"""Alembic environment: one transaction per run, serialised by an advisory lock."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text

from hiring_jobs.db import database_url, make_engine
from hiring_jobs.models import Base
from hiring_jobs.schema import include_name

# Any fixed number: two `migrate` runs at once (several containers starting) queue up.
MIGRATION_LOCK_ID = 4_207_311_985


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or database_url()
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: run against a database")
run_migrations_online()
