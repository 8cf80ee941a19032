"""`next=` leads only to this app's own pages, whatever a browser would make of the value."""

from __future__ import annotations

import pytest
from flask import Flask

from web.redirects import redirect_target

HOME = "/admin/"


@pytest.mark.parametrize(
    "own",
    ["/admin/", "/admin/jobs?status=failed&queue=email", "/admin/jobs/42", "/admin/audit#top"],
)
def test_this_apps_pages_are_kept(app: Flask, own: str) -> None:
    with app.test_request_context():
        assert redirect_target(own) == own


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "https://evil.example/admin/",
        "javascript:alert(1)",
        "evil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/%09/evil.example",
        "/%252F%252Fevil.example",
        "/admin/\r\nSet-Cookie: x=1",
        "/admin/%0d%0aSet-Cookie: x=1",
        "/no/such/page",
        "/api/jobs/bulk",  # exists, but not as a page one can be sent to (POST only)
        "/admin/jobs/99999999999999999999",
        "/\x00admin",
    ],
)
def test_anything_a_browser_could_read_as_another_place_gives_the_overview(
    app: Flask, hostile: str | None
) -> None:
    with app.test_request_context():
        assert redirect_target(hostile) == HOME
