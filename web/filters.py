"""Jinja filters for the admin pages: ages, times, numbers, JSON and status badges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from web.tracebacks import task_frames

EMPTY = "\u2013"  # an en dash for missing values

# Status -> badge colour class in style.css.
BADGES = {
    "todo": "info",
    "doing": "run",
    "succeeded": "ok",
    "failed": "bad",
    "cancelled": "muted",
    "aborted": "warn",
    "running": "run",
    "timed_out": "bad",
    "interrupted": "warn",
    "retried": "info",
    "discarded": "muted",
    "resolved": "ok",
    "outbox": "info",
    "sent": "ok",
    "pending": "info",
}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        age=age,
        when=when,
        clock=clock,
        number=number,
        pretty_json=pretty_json,
        compact_json=compact_json,
        badge=badge,
        breakable=breakable,
        duration_ms=duration_ms,
        percent=percent,
        reject_none=reject_none,
        task_frames=task_frames,
    )


def age(seconds: float | None) -> str:
    """90 -> '1m 30s', 7200 -> '2h 0m'."""
    if seconds is None:
        return EMPTY
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60)}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"
    return f"{int(seconds // 86400)}d {int(seconds % 86400 // 3600)}h"


def when(value: datetime | None) -> str:
    if value is None:
        return EMPTY
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def breakable(value: str | None) -> Markup:
    """A dotted name (email.send_achievement_unlocked) that may wrap after `.` and `_`,
    so a narrow table column breaks it there instead of widening the page."""
    escaped = escape(value or "")
    return escaped.replace(".", Markup(".<wbr>")).replace("_", Markup("_<wbr>"))


def clock(value: datetime | None, same_day_as: datetime | None = None) -> str:
    """Only the time of day (UTC) when the day is that of `same_day_as`, else `when`."""
    if value is None or same_day_as is None:
        return when(value)
    value, other = value.astimezone(UTC), same_day_as.astimezone(UTC)
    return value.strftime("%H:%M:%S") if value.date() == other.date() else when(value)


def number(value: int | float | None) -> str:
    return EMPTY if value is None else f"{value:,}"


def pretty_json(value: Any) -> str:
    """Indented JSON as text: the template escapes it like any other text."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    """One-line JSON as text (table cells); escaped by the template."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def badge(status: str | None) -> str:
    return BADGES.get(status or "", "muted")


def duration_ms(value: float | None) -> str:
    if value is None:
        return EMPTY
    return f"{value:.0f} ms" if value < 10_000 else age(value / 1000)


def percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value * 100:.1f}%"


def reject_none(values: dict[str, Any]) -> dict[str, Any]:
    """Query-string values without the removed ones (pager links)."""
    return {key: value for key, value in values.items() if value is not None}
