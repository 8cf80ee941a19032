"""The inventory declares every place personal data can live: columns, files, job arguments.

A new column, file kind or task argument fails here until privacy/inventory.py says what
it holds and what retention and erasure do to it.
"""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.app import app
from hiring_jobs.logs import REQUEST_ID_ARG
from hiring_jobs.models import FileKind
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.inventory import ArgumentKind


def _database_columns(session: Session) -> dict[str, set[str]]:
    rows = session.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    )
    columns: dict[str, set[str]] = {}
    for table_name, column_name in rows:
        columns.setdefault(table_name, set()).add(column_name)
    return columns


def test_every_column_of_every_table_is_declared_once(session: Session) -> None:
    undeclared, unknown = [], []
    declared = {table.name: table for table in inventory.TABLES}
    for table_name, columns in sorted(_database_columns(session).items()):
        table = declared.get(table_name)
        if table is None:
            undeclared.append(f"table {table_name}")
            continue
        named = set(table.personal) | table.not_personal
        assert not set(table.personal) & table.not_personal, table_name
        undeclared += [f"{table_name}.{column}" for column in sorted(columns - named)]
        unknown += [f"{table_name}.{column}" for column in sorted(named - columns)]
    assert undeclared == [], "declare these in privacy/inventory.py"
    assert unknown == [], "declared in privacy/inventory.py but not in the database"
    assert set(declared) <= set(_database_columns(session)), "declared tables that do not exist"


def test_every_subject_expression_is_valid_sql(session: Session) -> None:
    for table in inventory.TABLES:
        for subject in table.subjects:
            session.execute(text(f"SELECT {subject} FROM {table.name} LIMIT 0"))


def test_every_file_kind_is_declared() -> None:
    assert set(inventory.FILES) == set(FileKind)


def _task_arguments() -> dict[str, list[str]]:
    app.perform_import_paths()
    found = {}
    for name, task in app.tasks.items():
        if name.startswith("tests."):  # the test suite's own tasks (tests/support)
            continue
        parameters = inspect.signature(task.func).parameters
        found[name] = [p for p in parameters if p not in ("context", REQUEST_ID_ARG)]
    return found


def test_every_task_argument_is_declared_and_carries_no_personal_data() -> None:
    undeclared = [
        f"{task}({argument})"
        for task, arguments in sorted(_task_arguments().items())
        for argument in arguments
        if argument not in inventory.ARGUMENTS
    ]
    assert undeclared == [], "declare these task arguments in privacy/inventory.py ARGUMENTS"
    allowed = set(ArgumentKind)
    assert {argument.kind for argument in inventory.ARGUMENTS.values()} <= allowed


@pytest.mark.parametrize(
    "name", sorted(n for n, a in inventory.ARGUMENTS.items() if a.kind == ArgumentKind.ID)
)
def test_id_arguments_refer_to_declared_tables(name: str) -> None:
    refers_to = inventory.ARGUMENTS[name].refers_to
    assert refers_to is not None
    inventory.table(refers_to)


def test_free_text_task_arguments_are_gone() -> None:
    """The arguments that used to carry addresses and message text now carry payload ids."""
    arguments = _task_arguments()
    assert arguments["email.send"] == ["payload_id"]
    assert arguments["notifications.send"] == ["payload_id"]
    assert arguments["notifications.send_batch"] == ["payload_ids"]
    assert arguments["email.send_daily_digest"] == ["user_id", "timestamp"]
