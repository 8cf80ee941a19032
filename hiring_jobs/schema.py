"""Schema management: Alembic owns every table, Procrastinate's included.

The baseline revision runs Procrastinate 3.10.0's `schema.sql`, kept as a copy in
`migrations/procrastinate/` so that a fresh database always gets the same baseline,
whatever Procrastinate version is installed. Procrastinate ships each later schema change
as an SQL file (`procrastinate/sql/migrations/{version}_{nn}_{pre|post}_*.sql`); an
upgrade becomes one Alembic revision that applies the new files by version range
(see the README, "Upgrading Procrastinate").
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Literal

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

import migrations
from hiring_jobs.db import make_engine

MIGRATIONS_DIR = Path(migrations.__file__).parent
PROCRASTINATE_BASELINE = MIGRATIONS_DIR / "procrastinate" / "schema_3.10.0.sql"


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Read by migrations/env.py; set here so `alembic` and `hiring-jobs migrate` agree.
    config.attributes["database_url"] = url
    return config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate filter: Procrastinate's tables follow its SQL files, never our models."""
    if type_ == "table" and name is not None:
        return not name.startswith("procrastinate_")
    return True


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Running it again is a no-op."""
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    engine = make_engine(url, poolclass=None)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def procrastinate_migration_files(
    after: str, up_to: str, phase: Literal["pre", "post"] | None = None
) -> list[Path]:
    """Procrastinate's shipped migration files with after < version <= up_to, in order.

    Versions are zero-padded ("03.04.00"), so they compare as strings. `phase` keeps only
    the `pre` files (run before deploying the new code) or the `post` files (after).
    """
    folder = importlib.resources.files("procrastinate.sql") / "migrations"
    files = sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".sql"))
    selected = [
        path
        for path in files
        if after < _version(path) <= up_to and (phase is None or f"_{phase}_" in path.name)
    ]
    if not selected:
        raise FileNotFoundError(f"no Procrastinate migrations in ({after}, {up_to}]")
    return selected


def apply_procrastinate_baseline(connection: Connection) -> None:
    _execute_file(connection, PROCRASTINATE_BASELINE)


def apply_procrastinate_migrations(
    connection: Connection, after: str, up_to: str, phase: Literal["pre", "post"] | None = None
) -> None:
    """Run Procrastinate's migration files in (after, up_to] inside Alembic's transaction.

    A file that adds an enum value and uses it must run in an `op.get_context()
    .autocommit_block()`: PostgreSQL refuses new enum values before they are committed.
    """
    for path in procrastinate_migration_files(after, up_to, phase):
        _execute_file(connection, path)


def _execute_file(connection: Connection, path: Path) -> None:
    driver: psycopg.Connection = connection.connection.driver_connection  # type: ignore[assignment]
    # No parameters: psycopg sends the file as is (several statements, % signs and all).
    driver.execute(path.read_text())  # type: ignore[arg-type]


def _version(path: Path) -> str:
    return path.name.split("_", 1)[0]
