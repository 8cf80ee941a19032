"""Input checked at the edge: a clear 400 for what cannot be used, never a 500.

The specific cases first (each was a 500 or a silently ignored value), then a sweep of
every route of the app with a table of hostile values in the path, the query string, a
form and a JSON body.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from tests.support.factories import make_user
from tests.web.helpers import csrf_of, defer_jobs, pdf_bytes, post, post_json

TOO_BIG = str(2**63)
HUGE = "99999999999999999999"


def error_of(response: Any) -> str:
    assert response.status_code == 400, (response.status_code, response.data[:300])
    body = response.get_json(silent=True)
    return body["error"] if body else response.data.decode()


@pytest.mark.parametrize("name", ["queue", "task", "lock", "args", "status"])
def test_a_nul_in_a_filter_is_refused(operator: FlaskClient, name: str) -> None:
    assert "must not contain NUL" in error_of(operator.get(f"/api/jobs?{name}=a%00b"))
    assert "must not contain NUL" in error_of(operator.get(f"/admin/jobs?{name}=a%00b"))


def test_a_nul_in_a_dead_letter_filter_is_refused(operator: FlaskClient) -> None:
    response = operator.get("/api/dead-letters?fingerprint=%00")
    assert "fingerprint must not contain NUL" in error_of(response)


@pytest.mark.parametrize(
    ("url", "body", "where"),
    [
        ("/api/applications", {"candidate_id": 1, "cover_letter": "a\x00b"}, "$.cover_letter"),
        ("/api/applications/1/status", {"status": "screening", "note": "\x00"}, "$.note"),
        ("/api/dead-letters/1/retry", {"notes": "\x00"}, "$.notes"),
        ("/api/dead-letters/groups/retry", {"task": "x\x00"}, "$.task"),
        ("/api/jobs/bulk", {"filter": {"queue\x00": "x"}}, "a key of $.filter"),
    ],
)
def test_a_nul_in_a_json_field_is_refused_naming_the_field(
    operator: FlaskClient, url: str, body: dict[str, Any], where: str
) -> None:
    message = error_of(post_json(operator, url, body))
    assert f"{where} must not contain NUL characters" in message


@pytest.mark.parametrize(
    "raw", ["{", '{"notes": NaN}', '{"id": 1e999}', "[" * 5000 + "]" * 5000, b"\xff\xfe{"]
)
def test_malformed_json_is_a_clear_400(operator: FlaskClient, raw: str | bytes) -> None:
    response = operator.post(
        "/api/reveal",
        data=raw,
        content_type="application/json",
        headers={"X-CSRF-Token": csrf_of(operator)},
    )
    assert "invalid JSON body" in error_of(response)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/jobs?before={HUGE}",
        f"/api/jobs?after={TOO_BIG}",
        f"/api/audit?before={HUGE}",
        f"/api/outbox?before={HUGE}",
        f"/api/dead-letters?before={HUGE}",
        f"/admin/jobs?before={HUGE}",
        f"/admin/audit?before={HUGE}",
        "/admin/outbox?before=-1",
        "/admin/dead-letters/jobs?before=%C2%B2",
    ],
)
def test_an_id_out_of_range_in_the_query_string_is_refused(operator: FlaskClient, url: str) -> None:
    name = url.split("?")[1].split("=")[0]
    assert f"{name} must be a whole number from 0 to {2**63 - 1}" in error_of(operator.get(url))


@pytest.mark.parametrize("value", ["-1", "abc", "0", "501", "²"])
def test_a_limit_is_a_number_from_1_to_500(operator: FlaskClient, value: str) -> None:
    message = error_of(operator.get(f"/api/jobs?limit={quote(value)}"))
    assert message == "limit must be a whole number from 1 to 500"
    assert operator.get("/api/dead-letters?limit=-1").status_code == 400
    assert operator.get("/api/jobs?limit=500").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/api/jobs/{TOO_BIG}",
        f"/api/jobs/{TOO_BIG}/status",
        f"/admin/jobs/{HUGE}",
        f"/admin/outbox/{TOO_BIG}",
        f"/admin/candidates/{TOO_BIG}/erase",
        f"/admin/candidates/{TOO_BIG}/export",
        "/api/jobs/-1",
        "/api/jobs/%C2%B2",
        "/api/jobs/%D9%A3",  # an Arabic-Indic 3: a digit to Python, not an id
    ],
)
def test_an_id_out_of_range_in_the_path_is_refused(operator: FlaskClient, path: str) -> None:
    assert "the id in the path must be a whole number" in error_of(operator.get(path))


@pytest.mark.parametrize(
    "url", [f"/api/jobs/{TOO_BIG}/cancel", f"/api/dead-letters/{HUGE}/retry", "/api/jobs/-1/abort"]
)
def test_an_action_on_an_id_out_of_range_is_refused(operator: FlaskClient, url: str) -> None:
    assert "must be a whole number" in error_of(post_json(operator, url))


def test_a_reveal_of_an_id_out_of_range_is_refused(operator: FlaskClient) -> None:
    api = post_json(operator, "/api/reveal", {"source": "job_args", "id": 2**63})
    assert "id must be a whole number" in error_of(api)
    page = post(operator, "/admin/reveal", {"source": "job_args", "id": TOO_BIG})
    assert "id must be a whole number" in error_of(page)


@pytest.mark.parametrize("user_id", ["²", HUGE, "-1", "", "1.0"])
def test_an_upload_for_a_user_id_that_is_no_id_is_refused(
    operator: FlaskClient, user_id: str
) -> None:
    response = operator.post(
        "/api/resumes",
        data={"user_id": user_id, "file": (io.BytesIO(pdf_bytes()), "cv.pdf")},
        headers={"X-CSRF-Token": csrf_of(operator)},
        content_type="multipart/form-data",
    )
    assert "user_id must be a whole number" in error_of(response)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"candidate_id": "1", "job_posting_id": 1}, "candidate_id must be a whole number"),
        ({"candidate_id": 2**63, "job_posting_id": 1}, "candidate_id must be a whole number"),
        ({"candidate_id": True, "job_posting_id": 1}, "candidate_id must be a whole number"),
        ({"candidate_id": 1, "job_posting_id": 1, "cover_letter": ["x"]}, "must be a string"),
        ({"candidate_id": 1, "job_posting_id": 1, "cover_letter": "x" * 10_001}, "longer"),
    ],
)
def test_wrong_json_types_are_refused_by_name(
    operator: FlaskClient,
    session_factory: sessionmaker[Session],
    body: dict[str, Any],
    message: str,
) -> None:
    assert message in error_of(post_json(operator, "/api/applications", body))


def test_a_bulk_action_takes_at_most_10000_ids_in_one_array_parameter(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    too_many = post_json(
        operator, "/api/jobs/bulk", {"action": "cancel", "ids": list(range(70_000))}
    )
    assert "ids: at most 10,000 ids at once" in error_of(too_many)
    ids = [job_id, *range(10**9, 10**9 + 9_999)]
    preview = post_json(operator, "/api/jobs/bulk", {"action": "cancel", "ids": ids})
    assert preview.status_code == 200
    assert preview.get_json()["preview"]["count"]["value"] == 1
    bad = post_json(operator, "/api/jobs/bulk", {"action": "cancel", "ids": [1, "²"]})
    assert "ids must be a whole number" in error_of(bad)


# --- the sweep ----------------------------------------------------------------------------

PATH_VALUES = ["0", "-1", TOO_BIG, HUGE, "²", "٣", "abc", "\x00", "\r\n", "x" * 20_000]
QUERY_VALUES = [
    *PATH_VALUES,
    "1e999",
    "{}",
    '{"a": "\\u0000"}',
    '{"a": NaN}',
    "2026-13-45T99:99",
    "99999-01-01",
    "/\t/evil.example",
]
QUERY_NAMES = [
    "limit", "before", "after", "status", "queue", "task", "lock", "args", "since", "until",
    "fingerprint", "next", "id", "source", "user_id", "scope", "action", "ids", "confirm",
]  # fmt: skip
JSON_VALUES: list[Any] = [
    None, True, -1, 2**63, 1.5, "\x00", "\r\n", "x" * 20_000, "²", [], {}, [None], {"a": []},
    ["x" * 10], list(range(20_000)),
]  # fmt: skip
JSON_NAMES = [
    "action", "filter", "ids", "confirm", "notes", "task", "fingerprint", "candidate_id",
    "job_posting_id", "resume_id", "cover_letter", "status", "note", "source", "id",
]  # fmt: skip
RAW_BODIES = ["", "{", "[]", "null", '"x"', "NaN", "[" * 3000]
# `<name>`, `<int:name>`, `<any(a, b):name>` in a rule.
ARGUMENT = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")
# Logging out would end the sweep's own session.
SKIPPED = {"static", "auth.logout"}


def sample(rule: Rule, name: str) -> str:
    """A harmless value for a path argument not under test."""
    converter = rule._converters[name]
    if hasattr(converter, "items"):  # any(...)
        return sorted(converter.items)[0]
    return "1" if type(converter).__name__ == "BoundedIntConverter" else "sweep"


def path_variants(rule: Rule) -> Iterator[str]:
    """The rule's path with each argument, in turn, set to each hostile value."""
    base = {name: sample(rule, name) for name in rule.arguments}
    for name in rule.arguments:
        for value in PATH_VALUES:
            yield build(rule, base | {name: value})


def build(rule: Rule, values: dict[str, str]) -> str:
    """The path, values percent-encoded (werkzeug's own builder refuses invalid ones)."""
    return ARGUMENT.sub(lambda found: quote(values[found[1]], safe=""), rule.rule)


def answers(client: FlaskClient, rule: Rule) -> Iterator[tuple[str, int]]:
    """Hostile path arguments, then hostile query strings, forms and JSON bodies."""
    token = csrf_of(client)
    methods = rule.methods or set()
    for url in path_variants(rule):
        if "GET" in methods:
            yield f"GET {url[:100]}", client.get(url).status_code
        if "POST" in methods:
            yield f"POST {url[:100]}", client.post(url, data={"csrf_token": token}).status_code
    url = build(rule, {name: sample(rule, name) for name in rule.arguments})
    if "GET" in methods:
        for value in QUERY_VALUES:
            query = "&".join(f"{name}={quote(value)}" for name in QUERY_NAMES)
            yield f"GET {url}?...={value[:20]!r}", client.get(f"{url}?{query}").status_code
    if "POST" in methods:
        for value in QUERY_VALUES:
            form = dict.fromkeys(QUERY_NAMES, value) | {"csrf_token": token}
            yield f"POST form {url} {value[:20]!r}", client.post(url, data=form).status_code
        for json_value in JSON_VALUES:
            body = json.dumps(dict.fromkeys(JSON_NAMES, json_value))
            yield f"POST json {url} {body[:60]}", post_raw(client, url, body, token)
        for raw in RAW_BODIES:
            yield f"POST raw {url} {raw[:20]!r}", post_raw(client, url, raw, token)


def post_raw(client: FlaskClient, url: str, body: str, token: str) -> int:
    return client.post(
        url, data=body, content_type="application/json", headers={"X-CSRF-Token": token}
    ).status_code


@pytest.mark.slow
def test_no_route_answers_a_5xx_to_hostile_input(
    app: Flask, operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        make_user(session)
        session.commit()
    defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure is a 500 answer: collect them all
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED]
    assert len(rules) > 40
    failures = []
    seen = 0
    for rule in rules:
        for request, status in answers(operator, rule):
            seen += 1
            if status >= 500:
                failures.append(f"{status} {request}")
    assert failures == [], f"{len(failures)} of {seen} requests failed"
    assert operator.get("/api/stats").status_code == 200  # still logged in as admin
