"""Named SQL: statements live in .sql files, each under a `-- name --` header and a
one-line `-- description`, with `%(x)s` placeholders (Procrastinate's own format, read
the same way as its sql/__init__.py). Python looks a statement up by name.

queue.sql holds every statement that reads or writes `procrastinate_*` objects: the list
to re-check when Procrastinate is upgraded; alerts.sql, privacy.sql and analytics.sql the
rest of the product's, by area, with access.sql (sign-in throttling); web/sql/admin.sql
holds the web pages'.

A template is a statement with `{slot}`s for identifiers (a table or column an inventory
names); `render` fills them, quoted by psycopg, and never with values: values stay
`%(x)s` parameters. A slot may also take SQL that code composed from declarations (the
inventory's subject expressions), passed as a `psycopg.sql.SQL` so that a string can only
ever be an identifier. Its `-- sample:` line says what the schema test renders it with
(`slot=identifier`, `slot=sql:expression`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from psycopg.sql import SQL, Composable, Identifier
from sqlalchemy import Connection, CursorResult
from sqlalchemy.orm import Session

HEADER = re.compile(r"^-- ([a-z0-9_]+) --\n-- (.+)\n", re.MULTILINE)
SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class Statements(dict[str, str]):
    """A file's statements by name."""

    def render(self, name: str, **identifiers: str | Composable) -> str:
        """The template `name` with each `{slot}` filled: a string as a quoted identifier,
        composed SQL (`psycopg.sql.SQL`, from code only) as it is."""
        template = self[name]
        slots = set(SLOT.findall(template))
        if slots != identifiers.keys():
            raise ValueError(f"{name} has slots {sorted(slots)}, given {sorted(identifiers)}")

        def fill(slot: re.Match[str]) -> str:
            value = identifiers[slot.group(1)]
            quoted = value if isinstance(value, Composable) else Identifier(value)
            return quoted.as_string(None)

        return SLOT.sub(fill, template)


def parse(text: str) -> Statements:
    """{name: statement}; every statement has a name and a description line."""
    parts = HEADER.split(text)
    statements = Statements()
    for name, _description, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        if name in statements:
            raise ValueError(f"statement {name!r} is defined twice")
        statements[name] = body.strip()
    return statements


def load(package: str, filename: str) -> Statements:
    return parse((resources.files(package) / filename).read_text(encoding="utf-8"))


def run(
    session: Session | Connection, statement: str, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a named statement on the session's (or the connection's) transaction."""
    connection = session.connection() if isinstance(session, Session) else session
    return connection.exec_driver_sql(statement, dict(params or {}))


QUEUE = load(__name__, "queue.sql")
ALERTS = load(__name__, "alerts.sql")
ANALYTICS = load(__name__, "analytics.sql")
PRIVACY = load(__name__, "privacy.sql")
ACCESS = load(__name__, "access.sql")

__all__ = [
    "ACCESS",
    "ALERTS",
    "ANALYTICS",
    "PRIVACY",
    "QUEUE",
    "SQL",
    "Statements",
    "load",
    "parse",
    "run",
]
