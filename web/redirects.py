"""Where `next=` may send a browser: only to a page of this app.

A value is accepted when it is a path of one of this app's GET routes, written so that no
browser can read it as another host: no scheme or host once parsed, no `//` or `\\` at the
start, no control characters (browsers drop tabs and newlines inside URLs, turning
`/\\t/evil.example` into `//evil.example`), no backslashes, and the same after percent-
decoding. Anything else gives the admin overview.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import current_app, url_for
from werkzeug.exceptions import HTTPException

# Decoding rounds tried: `%252F` is `%2F` once decoded, `/` twice.
_DECODE_ROUNDS = 3


def redirect_target(raw: str | None) -> str:
    if raw and _is_own_path(raw):
        return raw
    return url_for("admin.home")


def _is_own_path(raw: str) -> bool:
    forms = [raw]
    for _ in range(_DECODE_ROUNDS):
        forms.append(unquote(forms[-1]))
    if not all(_looks_local(form) for form in forms):
        return False
    return _is_route(urlsplit(raw).path)


def _looks_local(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def _is_route(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except HTTPException:  # not found, not a GET route, or a redirect elsewhere
        return False
    return True
