"""Input checked at the edge: anything a view cannot use is a 400 with a clear message.

One place for every request:
- `<int:...>` in any route is a row id: ASCII digits within PostgreSQL's bigint
  (`BoundedIntConverter`); `²`, `-1` or 2^63 are a 400, never a database error;
- no query-string or form value, and no path, holds a NUL character (PostgreSQL text
  cannot), and no query-string value is longer than MAX_QUERY_VALUE;
- a JSON body is valid JSON (no NaN or Infinity, which JSONB refuses; no nesting deep
  enough to exhaust the parser) with no NUL character in any key or string.

And the parsers views use for their own fields: `int_arg`, `limit_arg`, `json_body`,
`int_field`, `text_field`, `id_list`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, abort, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

MAX_ID = 2**63 - 1  # PostgreSQL bigint
MAX_QUERY_VALUE = 4000
MAX_IDS = 10_000  # ids in one bulk request
MAX_DEPTH = 64  # nesting of a JSON document
_DIGITS = re.compile(r"[0-9]{1,19}")


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_check_request)


def parse_id(raw: str, name: str, *, low: int = 0, high: int = MAX_ID) -> int:
    """`raw` as a whole number from `low` to `high`, or a 400 naming `name`."""
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return value


class BoundedIntConverter(BaseConverter):
    """Flask's `int` converter, replaced: any path segment is taken, then checked."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        return parse_id(value, "the id in the path")

    def to_url(self, value: Any) -> str:
        return str(int(value))


def int_arg(name: str, *, low: int = 0, high: int = MAX_ID) -> int | None:
    """A query-string number, or None when absent or empty."""
    raw = request.args.get(name, "")
    return parse_id(raw, name, low=low, high=high) if raw else None


def limit_arg(default: int, maximum: int) -> int:
    found = int_arg("limit", low=1, high=maximum)
    return default if found is None else found


def loads_json(text: str | bytes) -> Any:
    """Strict JSON: ValueError, with the reason, for anything JSONB or this app cannot take
    (NaN, Infinity, NUL characters, nesting deeper than MAX_DEPTH)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    problem = _problem_inside(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object (Content-Type: application/json)")
    return body


def int_field(body: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        abort(400, description=f"{name} must be a whole number from 0 to {MAX_ID}")
    return value


def text_field(body: dict[str, Any], name: str, *, max_length: int, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        abort(400, description=f"{name} must be a string")
    if len(value) > max_length:
        abort(400, description=f"{name} is longer than {max_length:,} characters")
    return value


def id_list(values: Iterable[Any], name: str = "ids") -> tuple[int, ...]:
    """Row ids from a form or a JSON list (numbers or digit strings), at most MAX_IDS."""
    found: list[int] = []
    for value in values:
        if len(found) == MAX_IDS:
            abort(400, description=f"{name}: at most {MAX_IDS:,} ids at once")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            abort(400, description=f"{name} must be job ids")
        found.append(parse_id(value, name))
    return tuple(found)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _check_request() -> None:
    if "\x00" in request.path:
        abort(400, description="the path must not contain NUL characters")
    for name, value in request.args.items(multi=True):
        _check_value(name, value)
        if len(value) > MAX_QUERY_VALUE:
            abort(400, description=f"{name} is longer than {MAX_QUERY_VALUE:,} characters")
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        for name, value in request.form.items(multi=True):
            _check_value(name, value)
    if request.is_json and request.get_data(cache=True):
        _check_json()


def _check_value(name: str, value: str) -> None:
    if "\x00" in name or "\x00" in value:
        abort(400, description=f"{_shown(name)} must not contain NUL characters")


def _check_json() -> None:
    try:
        loads_json(request.get_data(cache=True))
    except ValueError as exc:
        abort(400, description=f"invalid JSON body: {exc}")


def _problem_inside(document: Any) -> str | None:
    """A NUL character (`$.notes`, `$.ids[3]`) or too deep a nesting, if any.

    Walked with a stack, not recursion: the parser accepts deeper nesting than a
    recursive walk from here could follow, and JSONB's own serialiser recurses."""
    pending: list[tuple[str, Any, int]] = [("$", document, 0)]
    while pending:
        where, value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"{where} is nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, str) and "\x00" in value:
            return f"{where} must not contain NUL characters"
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return f"a key of {where} must not contain NUL characters"
                pending.append((f"{where}.{_shown(key)}", item, depth + 1))
        elif isinstance(value, list):
            pending.extend((f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value))
    return None


def _shown(name: str) -> str:
    return name.replace("\x00", "\\0")[:50]
