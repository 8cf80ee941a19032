"""Every named statement of every .sql file parses and prepares against the migrated schema
(a template rendered with its sample identifiers): a typo, a renamed column or a
Procrastinate function that changed fails here."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from hiring_jobs import sql
from tests.support.processes import ROOT

SQL_FILES = sorted(
    path
    for package in ("hiring_jobs", "web")
    for path in (ROOT / package).rglob("*.sql")
    if "migrations" not in path.parts
)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NAME_LINE = re.compile(r"^-- [a-z0-9_]+ --$", re.MULTILINE)
SAMPLE_LINE = re.compile(r"^-- sample: (.+)$", re.MULTILINE)


def _rendered(statements: sql.Statements, name: str) -> str:
    """The statement, or a template filled with the identifiers of its `-- sample:` line."""
    if not sql.SLOT.search(statements[name]):
        return statements[name]
    sample = SAMPLE_LINE.search(statements[name])
    assert sample, f"template {name} has no `-- sample: slot=identifier ...` line"
    pairs = dict(pair.split("=", 1) for pair in sample.group(1).split())
    filled = {
        slot: sql.SQL(value.removeprefix("sql:")) if value.startswith("sql:") else value
        for slot, value in pairs.items()
    }
    return statements.render(name, **filled)


def _numbered(statement: str) -> str:
    """`%(x)s` placeholders as PREPARE's $1, $2... (one number per name), `%%` as `%`."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return PLACEHOLDER.sub(number, statement).replace("%%", "%")


def test_the_files_by_area_exist_and_every_file_names_each_statement_once() -> None:
    for area in ("queue", "alerts", "privacy", "analytics", "access"):
        assert ROOT / "hiring_jobs" / "sql" / f"{area}.sql" in SQL_FILES
    assert ROOT / "web" / "sql" / "admin.sql" in SQL_FILES
    for path in SQL_FILES:
        text = path.read_text()
        assert len(sql.parse(text)) == len(NAME_LINE.findall(text)), path


def test_no_comment_inside_a_statement_holds_a_percent_sign() -> None:
    """psycopg reads `%` in comments too: `%(x)s` there would be a parameter."""
    for path in SQL_FILES:
        for name, statement in sql.parse(path.read_text()).items():
            comments = [line for line in statement.splitlines() if line.lstrip().startswith("--")]
            assert not any("%" in line for line in comments), f"{path.name}: {name}"


def test_a_header_without_its_description_or_a_name_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        sql.parse("-- a --\n-- one\nSELECT 1;\n-- a --\n-- again\nSELECT 2;\n")
    statements = sql.parse("-- a --\n-- one\nSELECT 1;\n-- b --\nSELECT 2;\n")
    assert list(statements) == ["a"]  # so the count check above catches it


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda path: path.name)
def test_every_statement_prepares_against_the_migrated_schema(
    path: Path, database_url: str
) -> None:
    with psycopg.connect(database_url) as connection:
        statements = sql.parse(path.read_text())
        for index, name in enumerate(statements):
            statement = _rendered(statements, name)
            try:
                connection.execute(f"PREPARE named_{index} AS {_numbered(statement)}")
            except psycopg.Error as error:
                pytest.fail(f"{path.name}: {name}: {error}")
            connection.execute(f"DEALLOCATE named_{index}")
        connection.rollback()


def test_a_statement_runs_with_its_named_parameters(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(sql.QUEUE["job_status"], {"id": 1}).fetchall()
    assert rows == []


def test_a_template_takes_identifiers_quoted_and_every_slot_filled() -> None:
    statements = sql.parse(
        "-- t --\n-- one\nSELECT {column} FROM {table} WHERE id = %(id)s AND x <> '{}';\n"
    )
    rendered = statements.render("t", table='odd"name', column="email")
    assert rendered == 'SELECT "email" FROM "odd""name" WHERE id = %(id)s AND x <> \'{}\';'
    with pytest.raises(ValueError, match="slots"):
        statements.render("t", table="users")
    composed = statements.render("t", table="users", column=sql.SQL("lower(email)"))
    assert composed.startswith('SELECT lower(email) FROM "users"')
