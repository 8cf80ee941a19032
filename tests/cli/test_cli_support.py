"""What the operator commands share: aligned tables, JSON, and the progress bar."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hiring_jobs.cli_support import Column, progress_bar, table, to_json


def test_a_table_aligns_columns_numbers_right_and_cuts_long_cells() -> None:
    shown = table(
        [
            Column("ID", lambda r: r["id"], right=True),
            Column("TASK", lambda r: r["task"]),
            Column("ERROR", lambda r: r["error"], width=12),
        ],
        [
            {"id": 7, "task": "email.send", "error": None},
            {"id": 1234, "task": "resume.parse", "error": "the PDF is\nencrypted"},
        ],
    )
    assert shown.splitlines() == [
        "  ID  TASK          ERROR",
        "   7  email.send    \u2013",
        "1234  resume.parse  the PDF is \u2026",
    ]


def test_json_takes_times_and_database_numbers() -> None:
    moment = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert json.loads(to_json({"at": moment, "ms": Decimal("1.5")})) == {
        "at": "2026-11-21T10:00:00+00:00",
        "ms": 1.5,
    }


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_appears_with_the_first_step_and_ends_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_bar("erasing") as progress:
        assert screen.getvalue() == ""  # nothing drawn before the work reports
        progress("rows deleted", 1, 4)
        progress("mentions scrubbed", 4, 4)
    drawn = screen.getvalue()
    assert "erasing" in drawn and "mentions scrubbed" in drawn and "100%" in drawn
    assert drawn.endswith("\n")


def test_off_a_terminal_there_is_no_bar_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    with progress_bar("erasing") as progress:
        progress("rows deleted", 1, 1)
    assert piped.getvalue() == ""
