"""The email service: templates render safely, messages are complete, each key sends once.

Delivery runs against a real SMTP server (aiosmtpd on 127.0.0.1) and a real database. The
SMTP helpers at the top are shared with tests/tasks/test_email.py.
"""

from __future__ import annotations

import asyncio
import email as email_lib
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SMTPSession
from jinja2 import UndefinedError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import DeliveryStatus, EmailDelivery
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services.email import (
    PermanentEmailError,
    RenderedEmail,
    TransientEmailError,
    address,
    build_message,
    deliver,
    render,
)
from hiring_jobs.settings import Settings, get_settings

# --- a real SMTP server -------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every accepted message.

    `refuse(address, reply)` makes RCPT TO for that address answer `reply` (a 550 refusal, a
    451 greylisting); `data_reply` replaces the answer to DATA; `data_delay` slows DATA down
    so that concurrent senders overlap.
    """

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refusals: dict[str, str] = {}
        self.data_reply: str | None = None
        self.data_delay = 0.0

    def refuse(self, address: str, reply: str) -> None:
        self.refusals[address] = reply

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: SMTPSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTPServer, session: SMTPSession, envelope: Envelope
    ) -> str:
        await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as TEST{len(self.envelopes)}"

    @property
    def messages(self) -> list[EmailMessage]:
        return [parse(envelope.content) for envelope in self.envelopes]  # type: ignore[arg-type]


def parse(raw: bytes | str) -> EmailMessage:
    if isinstance(raw, str):
        return email_lib.message_from_string(raw, policy=default_policy)  # type: ignore[return-value]
    return email_lib.message_from_bytes(raw, policy=default_policy)  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp(handler: Inbox, **smtp_options: Any) -> Iterator[Controller]:
    """An aiosmtpd server on 127.0.0.1 for the duration of the block."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def use_smtp(
    monkeypatch: pytest.MonkeyPatch, port: int, *, security: str = "none", **env: str
) -> Settings:
    """Point the settings at the test server, as an operator would with the environment."""
    monkeypatch.setenv("HIRING_JOBS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HIRING_JOBS_SMTP_PORT", str(port))
    monkeypatch.setenv("HIRING_JOBS_SMTP_SECURITY", security)
    for name, value in env.items():
        monkeypatch.setenv(f"HIRING_JOBS_SMTP_{name.upper()}", value)
    get_settings.cache_clear()
    return get_settings()


def use_no_smtp(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("HIRING_JOBS_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def inbox(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    with running_smtp(handler) as server:
        use_smtp(monkeypatch, server.port)
        yield handler


# --- rendering ----------------------------------------------------------------------------

EXPIRY = datetime(2030, 1, 2, 15, 30, tzinfo=UTC)

# template -> (context, text every part must show)
TEMPLATES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "welcome": ({"name": "Ada"}, ["Hi Ada", "/profile"]),
    "verification": (
        {"name": "Ada", "token": "t0k+n/="},
        ["/verify-email?token=t0k%2Bn/%3D"],
    ),
    "password_reset": (
        {"name": "Ada", "token": "reset-token", "expires_at": EXPIRY},
        ["/reset-password?token=reset-token", "2030-01-02 15:30 UTC"],
    ),
    "application_status": (
        {
            "name": "Ada",
            "job_title": "Data Engineer",
            "company": "Acme",
            "status_label": "Interview scheduled",
            "status_sentence": "The team would like to interview you.",
            "note": "Bring your portfolio",
            "application_id": 7,
        },
        ["Data Engineer", "Interview scheduled", "Bring your portfolio", "/applications/7"],
    ),
    "job_match": (
        {
            "name": "Ada",
            "job_title": "Data Engineer",
            "company": "Acme",
            "location": "Lyon",
            "score": 87,
            "matched_skills": ["Python", "SQL"],
            "job_id": 4,
        },
        ["Data Engineer", "87%", "Python, SQL", "/jobs/4"],
    ),
    "achievement_unlocked": (
        {
            "name": "Ada",
            "achievement_name": "First application",
            "description": "You applied to a job.",
            "points": 25,
            "total_points": 140,
        },
        ["First application", "25 points", "140 points"],
    ),
    "mentor_request": (
        {
            "name": "Grace",
            "mentee_name": "Ada",
            "mentee_headline": "Junior developer",
            "topic": "Query planning",
            "session_id": 3,
        },
        ["Hi Grace", "Ada", "Query planning", "/mentoring/3"],
    ),
    "course_enrollment": (
        {
            "name": "Ada",
            "course_title": "PostgreSQL in depth",
            "course_description": "Indexes and plans.",
            "course_level": "advanced",
            "skills": ["PostgreSQL"],
            "course_id": 9,
        },
        ["PostgreSQL in depth", "advanced", "/courses/9"],
    ),
    "daily_digest": (
        {
            "name": "Ada",
            "day_label": "Monday 3 June",
            "recommendations": [{"title": "Data Engineer at Acme", "path": "/jobs/4"}],
            "achievement_progress": [{"name": "Networker", "current": 3, "target": 5}],
            "highlights": ["Grace published a course"],
        },
        ["Data Engineer at Acme", "/jobs/4", "Networker", "3 of 5", "Grace published a course"],
    ),
    "weekly_report": (
        {
            "name": "Admin",
            "week_start": "2024-06-03",
            "week_end": "2024-06-09",
            "stats": [("New users", "1,204"), ("Applications", "88")],
        },
        ["2024-06-03", "New users", "1,204", "Applications", "88"],
    ),
    "cv_pdf": ({"name": "Ada", "filename": "ada-cv.pdf"}, ["ada-cv.pdf"]),
    "generic": ({"subject": "Maintenance tonight", "body": "We restart at 22:00."}, ["22:00"]),
}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders_a_subject_a_text_body_and_an_html_body(template: str) -> None:
    context, expected = TEMPLATES[template]

    rendered = render(template, context, base_url="https://jobs.example.org/")

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert f"<title>{rendered.subject}</title>" in rendered.html
    for part in (rendered.text, rendered.html):
        assert "https://jobs.example.org/" in part  # the layout, with the given base URL
        for snippet in expected:
            assert snippet in part


def test_html_escapes_what_users_typed_and_text_shows_it_as_typed() -> None:
    name = '<script>alert("x")</script>'

    rendered = render("welcome", {"name": name})

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in rendered.html
    assert name in rendered.text
    assert name in rendered.subject


def test_a_generic_body_is_text_even_in_the_html_part() -> None:
    rendered = render("generic", {"subject": "Hi\nthere", "body": "One <b>\n\nTwo"})

    assert rendered.subject == "Hi there"  # a header never spans lines
    assert "One &lt;b&gt;" in rendered.html
    assert rendered.html.count('<p style="white-space:pre-line;">') == 2


def test_a_missing_context_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(UndefinedError):
        render("password_reset", {"name": "Ada", "token": "t"})


# --- building -----------------------------------------------------------------------------


def test_a_message_has_text_with_an_html_alternative_and_its_attachments(tmp_path: Path) -> None:
    on_disk = tmp_path / "report.csv"
    on_disk.write_bytes(b"a,b\n1,2\n")
    rendered = RenderedEmail(subject="Your CV", text="Plain body\n", html="<p>HTML body</p>")

    message = build_message(
        sender="Hiring Jobs <noreply@hiring-jobs.local>",
        to=address("Ada Lovelace", "ada@example.com"),
        rendered=rendered,
        attachments=[("cv.pdf", "application/pdf", b"%PDF-1.7 cv"), on_disk],
    )

    parsed = parse(message.as_bytes())
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert parsed["Message-ID"].endswith("@hiring-jobs.local>")
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("plain",)).get_content() == "Plain body\n"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    attached = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert attached["cv.pdf"].get_content_type() == "application/pdf"
    assert attached["cv.pdf"].get_content() == b"%PDF-1.7 cv"
    assert attached["report.csv"].get_content_type() == "text/csv"


def test_a_display_name_is_quoted_and_kept_on_one_line() -> None:
    assert address("<script>\nx", "a@example.com") == '"<script> x" <a@example.com>'


# --- delivering ---------------------------------------------------------------------------


def _deliver(session: Session, key: str = "test:1", **overrides: Any) -> EmailDelivery:
    arguments: dict[str, Any] = {
        "idempotency_key": key,
        "to": address("Ada", "ada@example.com"),
        "template": "welcome",
        "context": {"name": "Ada"},
        "settings": get_settings(),
    }
    arguments.update(overrides)
    return deliver(session, **arguments)


def _stored(session_factory: sessionmaker[Session], key: str = "test:1") -> EmailDelivery:
    with session_factory() as fresh:
        return fresh.scalars(
            select(EmailDelivery).where(EmailDelivery.idempotency_key == key)
        ).one()


def _count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as fresh:
        return fresh.scalar(select(func.count()).select_from(EmailDelivery)) or 0


def test_a_delivery_is_sent_over_smtp_and_the_servers_receipt_recorded(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    attachment = ("cv.pdf", "application/pdf", b"%PDF-1.7 cv")

    delivery = _deliver(session, attachments=[attachment], job_id=42)
    session.commit()

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "noreply@hiring-jobs.local"
    assert envelope.rcpt_tos == ["ada@example.com"]
    [message] = inbox.messages
    assert message["Subject"] == "Welcome to Hiring Jobs, Ada"
    assert "Hi Ada" in message.get_body(("plain",)).get_content()
    assert "Hi Ada" in message.get_body(("html",)).get_content()
    [attached] = message.iter_attachments()
    assert attached.get_filename() == "cv.pdf"
    assert attached.get_content() == b"%PDF-1.7 cv"

    stored = _stored(session_factory)
    assert stored.id == delivery.id
    assert stored.status == DeliveryStatus.SENT
    assert stored.provider_response == "250 2.0.0 Ok: queued as TEST1"
    assert stored.recipient == "ada@example.com"
    assert stored.template == "welcome"
    assert stored.job_id == 42
    assert stored.sent_at is not None
    assert parse(stored.raw_message or "")["Message-ID"] == message["Message-ID"]


def test_a_second_delivery_with_the_same_key_sends_nothing(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    first = _deliver(session)
    session.commit()
    second = _deliver(session)
    session.commit()

    assert len(inbox.envelopes) == 1
    assert second.id == first.id
    assert _count(session_factory) == 1


@pytest.mark.parametrize("earlier_attempt", [False, True], ids=["new key", "pending row"])
def test_concurrent_deliveries_with_the_same_key_send_once(
    inbox: Inbox, session_factory: sessionmaker[Session], earlier_attempt: bool
) -> None:
    if earlier_attempt:
        # A committed pending row (greylisted once): only the row lock keeps retries apart.
        inbox.refuse("ada@example.com", "451 4.7.1 Greylisted, try again later")
        with session_factory() as setup, pytest.raises(TransientEmailError):
            try:
                _deliver(setup)
            finally:
                setup.commit()
        inbox.refusals.clear()
    inbox.data_delay = 0.5  # the first sender still holds the row when the second arrives
    start = threading.Barrier(2)
    outcomes: list[tuple[int, DeliveryStatus]] = []

    def send() -> None:
        with session_factory() as own, own.begin():
            start.wait()
            delivery = _deliver(own)
            outcomes.append((delivery.id, delivery.status))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(inbox.envelopes) == 1
    assert len(outcomes) == 2
    assert len({delivery_id for delivery_id, _ in outcomes}) == 1
    assert {status for _, status in outcomes} == {DeliveryStatus.SENT}


def test_without_an_smtp_host_the_message_goes_to_the_outbox(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    settings = use_no_smtp(monkeypatch)
    attachment = ("cv.pdf", "application/pdf", b"%PDF-1.7 cv")

    _deliver(session, attachments=[attachment], settings=settings)
    session.commit()

    stored = _stored(session_factory)
    assert stored.status == DeliveryStatus.OUTBOX
    assert stored.provider_response is None and stored.sent_at is None
    message = parse(stored.raw_message or "")
    assert message["To"] == "Ada <ada@example.com>"
    assert message["Subject"] == "Welcome to Hiring Jobs, Ada"
    assert "Hi Ada" in message.get_body(("plain",)).get_content()
    assert "Hi Ada" in message.get_body(("html",)).get_content()
    assert [part.get_filename() for part in message.iter_attachments()] == ["cv.pdf"]


def test_an_outbox_message_is_not_sent_once_smtp_is_configured(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    _deliver(session, settings=use_no_smtp(monkeypatch))
    session.commit()
    handler = Inbox()
    with running_smtp(handler) as server:
        again = _deliver(session, settings=use_smtp(monkeypatch, server.port))
        session.commit()

    assert again.status == DeliveryStatus.OUTBOX
    assert handler.envelopes == []


def test_a_550_refusal_is_permanent_and_recorded(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    inbox.refuse("ada@example.com", "550 5.1.1 <ada@example.com>: mailbox unavailable")

    with pytest.raises(PermanentEmailError) as raised:
        _deliver(session)
    session.commit()  # as the task does: the recorded outcome outlives the exception

    assert isinstance(raised.value, PermanentError)  # the retry policy gives up at once
    stored = _stored(session_factory)
    assert stored.status == DeliveryStatus.FAILED
    assert stored.provider_response == "550 5.1.1 <ada@example.com>: mailbox unavailable"
    assert inbox.envelopes == []


def test_a_5xx_reply_to_data_is_permanent(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    inbox.data_reply = "554 5.7.1 Message rejected as spam"

    with pytest.raises(PermanentEmailError):
        _deliver(session)
    session.commit()

    stored = _stored(session_factory)
    assert stored.status == DeliveryStatus.FAILED
    assert stored.provider_response == "554 5.7.1 Message rejected as spam"


def test_a_message_that_cannot_render_fails_permanently_before_any_row(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(PermanentEmailError, match="cannot be rendered"):
        _deliver(session, template="password_reset", context={"name": "Ada"})
    session.commit()

    assert _count(session_factory) == 0
    assert inbox.envelopes == []


def test_a_451_refusal_is_transient_and_leaves_the_delivery_pending(
    inbox: Inbox, session: Session, session_factory: sessionmaker[Session]
) -> None:
    inbox.refuse("ada@example.com", "451 4.7.1 Greylisted, try again later")

    with pytest.raises(TransientEmailError) as raised:
        _deliver(session)
    session.commit()

    assert not isinstance(raised.value, PermanentError)  # the retry policy tries again
    stored = _stored(session_factory)
    assert stored.status == DeliveryStatus.PENDING
    assert stored.provider_response == "451 4.7.1 Greylisted, try again later"


@pytest.mark.parametrize(
    ("refusal", "error"),
    [
        ("451 4.7.1 Greylisted, try again later", TransientEmailError),
        ("550 5.2.1 Mailbox disabled", PermanentEmailError),
    ],
)
def test_a_pending_or_failed_delivery_is_sent_when_tried_again(
    inbox: Inbox,
    session: Session,
    session_factory: sessionmaker[Session],
    refusal: str,
    error: type[Exception],
) -> None:
    inbox.refuse("ada@example.com", refusal)
    with pytest.raises(error):
        _deliver(session)
    session.commit()
    inbox.refusals.clear()  # greylisting over, mailbox re-enabled

    delivery = _deliver(session)
    session.commit()

    assert delivery.status == DeliveryStatus.SENT
    assert delivery.provider_response == "250 2.0.0 Ok: queued as TEST1"
    assert len(inbox.envelopes) == 1
    assert _count(session_factory) == 1


def test_an_unreachable_server_is_transient(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    settings = use_smtp(monkeypatch, free_port())  # nothing listens there

    with pytest.raises(TransientEmailError, match="ConnectionRefusedError"):
        _deliver(session, settings=settings)
    session.commit()

    assert _stored(session_factory).status == DeliveryStatus.PENDING


def test_a_server_that_never_answers_times_out_as_transient(
    database_url: str, monkeypatch: pytest.MonkeyPatch, session: Session
) -> None:
    # The kernel completes the TCP handshake from the backlog; no greeting ever comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings = use_smtp(monkeypatch, silent.getsockname()[1])
        with pytest.raises(TransientEmailError, match=r"timed out"):
            _deliver(session, settings=settings, timeout=0.5)


# --- TLS and login ------------------------------------------------------------------------


@pytest.fixture
def server_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1, trusted by clients.

    Clients trust it through SSL_CERT_FILE, which `ssl.create_default_context()` reads: the
    service verifies certificates exactly as it does in production.
    """
    cert_file, key_file = _self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hiring-jobs test SMTP")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _accept_only(login: str, password: str) -> Any:
    def authenticate(
        server: SMTPServer, session: SMTPSession, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        valid = isinstance(data, LoginPassword) and data == (login.encode(), password.encode())
        # handled=False: aiosmtpd itself answers a failure with "535 5.7.8".
        return AuthResult(success=valid, handled=False)

    return authenticate


def test_starttls_with_login_sends_the_message(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    server_tls: ssl.SSLContext,
    session: Session,
) -> None:
    handler = Inbox()
    options = {
        "tls_context": server_tls,
        "require_starttls": True,
        "auth_required": True,
        "authenticator": _accept_only("mailer", "s3cret"),
    }
    with running_smtp(handler, **options) as server:
        settings = use_smtp(
            monkeypatch, server.port, security="starttls", username="mailer", password="s3cret"
        )
        delivery = _deliver(session, settings=settings)

    assert delivery.status == DeliveryStatus.SENT
    assert len(handler.envelopes) == 1


def test_a_rejected_login_is_permanent(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    server_tls: ssl.SSLContext,
    session: Session,
) -> None:
    handler = Inbox()
    options = {"tls_context": server_tls, "authenticator": _accept_only("mailer", "s3cret")}
    with running_smtp(handler, **options) as server:
        settings = use_smtp(
            monkeypatch, server.port, security="starttls", username="mailer", password="wrong"
        )
        with pytest.raises(PermanentEmailError, match=r"^535 "):
            _deliver(session, settings=settings)

    assert handler.envelopes == []


def test_implicit_tls_sends_the_message(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    server_tls: ssl.SSLContext,
    session: Session,
) -> None:
    handler = Inbox()
    with running_smtp(handler, ssl_context=server_tls) as server:
        delivery = _deliver(session, settings=use_smtp(monkeypatch, server.port, security="ssl"))

    assert delivery.status == DeliveryStatus.SENT
    assert len(handler.envelopes) == 1
