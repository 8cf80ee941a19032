"""What the operator commands share: who acts, one transaction per command, aligned
tables, JSON for scripts, and asking before anything destructive."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.progress import Progress, silent
from web.filters import EMPTY

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

T = TypeVar("T")

# Failures a user can fix, whatever the command: one line on stderr, exit code 1.
DATABASE_ERRORS: tuple[type[Exception], ...] = (db.DatabaseUnavailable, db.NotMigrated)


def actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


by_option = click.option("--by", default=actor, show_default="cli:USER@HOST", help="Who acts.")
json_option = click.option(
    "--json", "as_json", is_flag=True, help="One JSON document, for scripts."
)


def in_session(action: Callable[[Session], T], *user_errors: type[Exception]) -> T:
    """Run `action` in one committed transaction; known failures become one-line errors."""
    try:
        db.check_database(db.database_url())
        with db.session_scope() as session:
            return action(session)
    except (*DATABASE_ERRORS, *user_errors) as exc:
        raise click.ClickException(str(exc)) from None


def can_ask() -> bool:
    """A person at a terminal can confirm; CI and piped input cannot."""
    return sys.stdin.isatty() and not os.environ.get("CI")


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Mapping[str, Any]], Any]
    right: bool = False  # numbers line up on the right
    width: int | None = None  # longer cells are cut, ending in "…"


def table(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> str:
    """An aligned plain-text table; the last column is not padded."""
    cells = [[column.header for column in columns]]
    cells += [[_cell(column, row) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        padded = [
            text.rjust(width) if column.right else text.ljust(width)
            for text, width, column in zip(line, widths, columns, strict=True)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _cell(column: Column, row: Mapping[str, Any]) -> str:
    value = column.value(row)
    text = EMPTY if value is None or value == "" else " ".join(str(value).split())
    if column.width is not None and len(text) > column.width:
        text = text[: column.width - 1] + "…"
    return text


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """A click progress bar on stderr, drawn from the first step reported (which gives the
    total); nothing at all off a terminal, so logs, pipes and scripts stay clean. click is
    already a dependency, and its bar is enough here: no rich or tqdm."""
    if not sys.stderr.isatty():
        yield silent
        return
    bar: ProgressBar[str] | None = None

    def report(step: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(
                length=total, label=label, file=sys.stderr, item_show_func=lambda s: s
            )
            bar.__enter__()
        bar.update(done - bar.pos, current_item=step)
        bar.render_progress()  # a new label with no step done is drawn too

    try:
        yield report
    finally:
        if bar is not None:
            bar.render_finish()


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, indent=2, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
