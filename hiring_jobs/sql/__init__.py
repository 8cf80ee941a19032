"""Named SQL: statements live in .sql files, each under a `-- name --` header and a
one-line `-- description`, with `%(x)s` placeholders (Procrastinate's own format, read
the same way as its sql/__init__.py). Python looks a statement up by name.

queue.sql holds every statement that reads or writes `procrastinate_*` objects: the list
to re-check when Procrastinate is upgraded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

HEADER = re.compile(r"^-- ([a-z0-9_]+) --\n-- (.+)\n", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """{name: statement}; every statement has a name and a description line."""
    parts = HEADER.split(text)
    statements: dict[str, str] = {}
    for name, _description, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        if name in statements:
            raise ValueError(f"statement {name!r} is defined twice")
        statements[name] = body.strip()
    return statements


def load(package: str, filename: str) -> dict[str, str]:
    return parse((resources.files(package) / filename).read_text(encoding="utf-8"))


def run(
    session: Session, statement: str, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a named statement on the session's connection, inside its transaction."""
    return session.connection().exec_driver_sql(statement, dict(params or {}))


QUEUE = load(__name__, "queue.sql")
