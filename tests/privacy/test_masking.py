"""Masking emails, phone numbers and names: what is masked, what is left alone, and logs."""

from __future__ import annotations

import copy
import email.header
import html
import html.entities
import io
import json
import logging
import quopri
import re
from collections.abc import Iterator

import markupsafe
import pytest

from hiring_jobs import logs
from hiring_jobs.privacy.masking import (
    PERSONAL_KEYS,
    MaskingFilter,
    mask_email,
    mask_name,
    mask_phone,
    mask_text,
    mask_value,
)


def test_an_email_keeps_its_first_letters_and_tld() -> None:
    assert mask_email("alice.smith@example.com") == "a***@e***.com"
    assert mask_email("bob@mail.example.co.uk") == "b***@m***.uk"
    assert mask_email("root@localhost") == "r***@l***"


def test_a_phone_keeps_its_separators_and_last_two_digits() -> None:
    assert mask_phone("+1 (555) 123-4567") == "+* (***) ***-**67"
    assert mask_phone("0612345678") == "********78"


def test_a_name_keeps_each_initial() -> None:
    assert mask_name("Alice Smith") == "A*** S***"
    assert mask_name("Smith, Alice") == "S***, A***"
    assert mask_name("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact alice.smith@example.com today", "contact a***@e***.com today"),
        ("mail bob@mail.example.co.uk.", "mail b***@m***.uk."),
        ("To: Alice Smith <alice@example.com>", "To: A*** S*** <a***@e***.com>"),
        ('"Smith, Alice" <alice@example.com>', '"S***, A***" <a***@e***.com>'),
        (
            "550 5.1.1 recipient Alice Smith <alice@example.com>: no such user",
            "550 5.1.1 recipient A*** S*** <a***@e***.com>: no such user",
        ),
        ("Alice &lt;alice@example.com&gt;", "A*** &lt;a***@e***.com&gt;"),
        (
            "GET /admin/jobs?args=email%3Dbob%40example.com",
            "GET /admin/jobs?args=email%3Db***%40e***.com",
        ),
        ("call +1 (555) 123-4567 now", "call +* (***) ***-**67 now"),
        ("call 555-123-4567", "call ***-***-**67"),
        ("(555) 123-4567", "(***) ***-**67"),
        ("06 12 34 56 78", "** ** ** ** 78"),
        ("06.12.34.56.78", "**.**.**.**.78"),
        ("020 7946 0958", "*** **** **58"),
        ("612 345 678", "*** *** *78"),
        ("mobile 0612345678", "mobile ********78"),
        ("tel:+447911123456", "tel:+**********56"),
        ("(call 555-123-4567)", "(call ***-***-**67)"),
    ],
)
def test_text_masks_emails_phones_and_display_names(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-15",
        "deferred at 2026-01-15T10:30:00.123456+00:00",
        "2026-01-15 10:30:00",
        "15.01.2026 and 2026.01.15",
        "job 1234567 failed",
        "job_id=12345678 attempt=3",
        "retried 42 of 7 jobs",
        "1700000000",
        "0000012345",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "fingerprint 3f2a9c1234567890deadbeef",
        "0x1234567890",
        "took 1234.5678 s",
        "took 1234567ms",
        "at 00:01:23.456789",
        "1 234 567 jobs, 12.345.678 rows",
        "jobs 1001 1002 1003",
        "192.168.100.200",
        "build 10.0.19041.1234",
        "Python 3.11.7, version 2.0.1-1234567",
        "/var/data/files/1234567/resume.pdf",
        'File "/app/hiring_jobs/tasks/email.py", line 1234567, in send',
    ],
)
def test_text_leaves_dates_ids_uuids_hex_durations_and_versions_alone(text: str) -> None:
    assert mask_text(text) == text


def test_known_names_are_masked_in_free_text() -> None:
    text = "Dear Alice, your application (Alice Smith) moved; alice is a word here too"
    assert mask_text(text, names=["Alice Smith"]) == (
        "Dear A***, your application (A*** S***) moved; a*** is a word here too"
    )
    assert mask_text("Smithson", names=["Alice Smith"]) == "Smithson"


NAME = "Siobhán O'Brien"
EMAIL = "siobhan.obrien@example.ie"
PHONE = "+353 87 123 4567"


def named_references(value: str) -> str:
    names = html.entities.codepoint2name
    return "".join(f"&{names[ord(c)]};" if ord(c) in names else c for c in value)


def header_q(value: str) -> str:
    return "=?utf-8?q?" + quopri.encodestring(value.encode(), header=True).decode() + "?="


def encoded_forms(value: str) -> dict[str, str]:
    """Every way the admin pages, mail and logs may hold `value`."""
    return {
        "plain": value,
        "markupsafe": str(markupsafe.escape(value)),  # O&#39;Brien, what Jinja writes
        "html.escape": html.escape(value),  # O&#x27;Brien
        "named references": named_references(value),  # Siobh&aacute;n
        "decimal references": "".join(f"&#{ord(c)};" for c in value),
        "hex references": "".join(f"&#x{ord(c):x};" for c in value),
        "quoted-printable": quopri.encodestring(value.encode(), quotetabs=True).decode(),
        "quoted-printable, soft line break": quopri.encodestring(
            ("x" * 66 + " " + value).encode()
        ).decode(),
        "header q": header_q(value),
        "header b": email.header.Header(value, "utf-8", header_name="To").encode(),
    }


def decoded_views(text: str) -> list[str]:
    """The text as each kind of reader sees it."""
    views = [text, html.unescape(text), quopri.decodestring(text.encode()).decode(errors="replace")]
    views.append(str(email.header.make_header(email.header.decode_header(text))))
    return [view.lower() for view in views]


@pytest.mark.parametrize("form", list(encoded_forms(NAME)))
def test_a_known_name_is_masked_in_every_encoded_form(form: str) -> None:
    text = f"<p>Dear {encoded_forms(NAME)[form]}, welcome</p>"
    masked = mask_text(text, names=[NAME])
    for view in decoded_views(masked):
        assert "siobh" not in view and "brien" not in view, (masked, view)
    assert "S***" in masked and masked.endswith(", welcome</p>")


@pytest.mark.parametrize("form", list(encoded_forms(EMAIL)))
def test_an_email_is_masked_in_every_encoded_form(form: str) -> None:
    masked = mask_text(f"write to {encoded_forms(EMAIL)[form]} today")
    for view in decoded_views(masked):
        assert "siobhan" not in view and "obrien" not in view and "example" not in view


@pytest.mark.parametrize("form", list(encoded_forms(PHONE)))
def test_a_phone_number_is_masked_in_every_encoded_form(form: str) -> None:
    masked = mask_text(f"call {encoded_forms(PHONE)[form]} now")
    for view in decoded_views(masked):
        assert "1234567" not in re.sub(r"\D", "", view), (masked, view)


def test_masking_decoded_text_keeps_the_encoding_of_what_it_rewrites() -> None:
    html_part = "<p>&quot;O&#39;Brien, Siobh&aacute;n&quot; &lt;siobhan@example.ie&gt;</p>"
    assert mask_text(html_part) == "<p>&quot;O***, S***&quot; &lt;s***@e***.ie&gt;</p>"
    body = "Hello Siobh=C3=A1n,=\nbye"
    assert mask_text(body, names=[NAME]) == "Hello S***,=\nbye"
    header = "=?utf-8?q?Dear_Siobh=C3=A1n_and_=C3=89amon?="
    assert mask_text(header, names=[NAME]) == "=?utf-8?q?Dear_S***_and_=C3=89amon?="


def test_encoded_looking_text_that_hides_nothing_is_left_alone() -> None:
    for text in ("a=1&b=2", "AT&amp;T", "x=3D", "=?broken?q?", "&nosuch;", "100%=ABCD"):
        assert mask_text(text) == text


def test_masking_twice_changes_nothing_more() -> None:
    text = "Alice Smith <alice@example.com>, +1 555 123 4567"
    once = mask_text(text)
    assert mask_text(once) == once
    assert "alice" not in once and "4567" not in once


def test_values_are_masked_by_their_key_and_never_mutated() -> None:
    value = {
        "user_id": 7,
        "email": "alice@example.com",
        "to": ["bob@example.com", "Carol Jones <carol@example.com>"],
        "full_name": "Alice Smith",
        "name": "Alice",
        "phone": "+1 555 123 4567",
        "mobile": 5551234567,
        "address": "12 Main Street",
        "from": "2026-01-01",
        "reply_to": "root@localhost",
        "message": "call me on 555-123-4567",
        "nested": [{"first_name": "Bob"}, ("x", "dan@example.com")],
        "flag": True,
        "score": 0.5,
    }
    before = copy.deepcopy(value)
    assert mask_value(value) == {
        "user_id": 7,
        "email": "a***@e***.com",
        "to": ["b***@e***.com", "C*** J*** <c***@e***.com>"],
        "full_name": "A*** S***",
        "name": "A***",
        "phone": "+* *** *** **67",
        "mobile": "********67",
        "address": "1*** M*** S***",
        "from": "2026-01-01",  # a date range, not an address
        "reply_to": "r***@l***",
        "message": "call me on ***-***-**67",
        "nested": [{"first_name": "B***"}, ("x", "d***@e***.com")],
        "flag": True,
        "score": 0.5,
    }
    assert value == before
    assert {"email", "phone", "full_name", "recipient", "location"} <= PERSONAL_KEYS


def test_keys_holding_addresses_are_masked_and_kept_apart() -> None:
    masked = mask_value({"alice@example.com": 1, "anna@example.com": 2})
    assert masked == {"a***@e***.com": 1, "a***@e***.com#": 2}


def test_plain_values_pass_through() -> None:
    for value in (None, 3, 2.5, True, "queue email", ["resume", 12]):
        assert mask_value(value) == value


# Logging: both formatters, message arguments, context and tracebacks.

SECRET_EMAIL = "alice.smith@example.com"
SECRET_PHONE = "+33 6 12 34 56 78"
SECRET_NAME = "Alice Smith"


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """configure_logging's handler, writing to a buffer instead of stderr."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    logs.configure_logging("INFO", request.param)
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers, root.level = saved_handlers, saved_level


def log_a_failure() -> None:
    logger = logging.getLogger("tests.masking")
    with logs.log_context(recipient=SECRET_EMAIL, job_id=12345678):
        logger.info("sending to %s (phone %s)", SECRET_EMAIL, SECRET_PHONE)
        try:
            raise RuntimeError(f"550 unknown user {SECRET_NAME} <{SECRET_EMAIL}>")
        except RuntimeError:
            logger.exception("job failed")


@pytest.mark.parametrize("captured", ["text", "json"], indirect=True)
def test_logs_are_masked_including_tracebacks(captured: io.StringIO) -> None:
    log_a_failure()
    output = captured.getvalue()
    assert SECRET_EMAIL not in output and SECRET_NAME not in output
    assert "12 34 56" not in output
    assert "a***@e***.com" in output and "A*** S***" in output and "+** * ** ** ** 78" in output
    assert "RuntimeError" in output and "Traceback" in output
    assert "12345678" in output  # the job id is no phone number


@pytest.mark.parametrize("captured", ["json"], indirect=True)
def test_json_logs_stay_one_object_per_line(captured: io.StringIO) -> None:
    log_a_failure()
    sent, failed = (json.loads(line) for line in captured.getvalue().splitlines())
    assert sent["message"] == "sending to a***@e***.com (phone +** * ** ** ** 78)"
    assert sent["recipient"] == "a***@e***.com" and sent["job_id"] == 12345678
    assert "A*** S*** <a***@e***.com>" in failed["error"]


def test_the_filter_renders_arguments_once() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s: %d", (SECRET_EMAIL, 3), None)
    assert MaskingFilter().filter(record) is True
    assert (record.msg, record.args, record.getMessage()) == (
        "to a***@e***.com: 3",
        (),
        "to a***@e***.com: 3",
    )
