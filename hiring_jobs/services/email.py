"""Email: render a template, build the MIME message, deliver it at most once per key.

Templates live in hiring_jobs/templates/email/: `<name>.txt` holds the subject (its
`subject` block) and the plain-text body, `<name>.html` the HTML alternative. Both extend
a shared layout and receive `app_name` and `base_url` besides the caller's context.

`deliver` is the one way to send. Its contract with the caller's session:

* It claims the `email_deliveries` row for the idempotency key and locks it (FOR UPDATE)
  until the caller's transaction ends, so two jobs with the same key never both send.
* A row already `sent` or in the `outbox` is returned untouched: nothing is sent again.
* It records the outcome on the row (sent, outbox, failed, or pending with the last
  transient reply) and flushes, but never commits. The caller commits after it returns
  and also when it raises `EmailError`: the recorded outcome is what the next attempt,
  the outbox page and an operator need. Any other exception: roll back.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import DeliveryStatus, EmailDelivery
from hiring_jobs.privacy import payloads
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.settings import Settings

APP_NAME = "Hiring Jobs"
# Links in emails need an absolute URL; the deployment's public URL should be passed in.
DEFAULT_BASE_URL = "http://localhost:8000"
SMTP_TIMEOUT_SECONDS = 30.0
# Column widths of email_deliveries.
MAX_KEY_LENGTH = 200
# The one-off message of `email.send`: to, subject, body and key, in a job payload.
PAYLOAD_KIND = "email"
MAX_SUBJECT_LENGTH = 300

# Sending again cannot change the outcome of these: a retry or duplicate returns the row.
FINAL_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.OUTBOX})

# (filename, content type, content), or a file on disk whose type is guessed from its name.
Attachment = tuple[str, str, bytes] | Path


class EmailError(Exception):
    """Sending failed; `response` is the server's reply or the connection error, in words."""

    def __init__(self, response: str) -> None:
        super().__init__(response)
        self.response = response


class PermanentEmailError(EmailError, PermanentError):
    """The server refused the message for good (a 5xx reply), or it cannot be rendered."""


class TransientEmailError(EmailError):
    """A 4xx reply, timeout or connection problem: the job's retry policy tries again."""


@dataclasses.dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


# --- rendering ---------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hiring_jobs", "templates/email"),
        # Only HTML is escaped: the subject and text body must show names as typed.
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        # A missing context value is a bug to surface, not a blank in a sent email.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _format_utc
    return env


def _format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(
    template: str, context: Mapping[str, Any], *, base_url: str = DEFAULT_BASE_URL
) -> RenderedEmail:
    """Render `<template>.txt` (subject and text) and `<template>.html`."""
    env = _environment()
    values = {"app_name": APP_NAME, "base_url": base_url.rstrip("/"), **context}
    text_template = env.get_template(f"{template}.txt")
    subject_block = text_template.blocks.get("subject")
    if subject_block is None:
        raise TemplateError(f"email template {template}.txt has no subject block")
    subject = _one_line("".join(subject_block(text_template.new_context(values))))
    text = text_template.render(values).strip() + "\n"
    html = env.get_template(f"{template}.html").render({**values, "subject": subject})
    return RenderedEmail(subject=subject, text=text, html=html)


def _one_line(value: str) -> str:
    # Header values must not contain line breaks (and names in subjects may).
    return " ".join(value.split())


# --- building -----------------------------------------------------------------------------


def build_message(
    *,
    sender: str,
    to: str,
    rendered: RenderedEmail,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """A multipart message: text with an HTML alternative, then any attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    # RFC 3834: tells vacation responders and ticket systems not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for attachment in attachments:
        filename, content_type, content = _load_attachment(attachment)
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def address(name: str, email: str) -> str:
    """A To header value: the display name is quoted as needed and kept on one line."""
    return str(Address(display_name=_one_line(name), addr_spec=email))


def _domain(sender: str) -> str | None:
    addr_spec = parseaddr(sender)[1]
    return addr_spec.rpartition("@")[2] or None


def _load_attachment(attachment: Attachment) -> tuple[str, str, bytes]:
    if isinstance(attachment, Path):
        guessed = mimetypes.guess_type(attachment.name)[0]
        return attachment.name, guessed or "application/octet-stream", attachment.read_bytes()
    return attachment


# --- delivering ---------------------------------------------------------------------------


def deliver(
    session: Session,
    *,
    idempotency_key: str,
    to: str,
    template: str,
    context: Mapping[str, Any],
    attachments: Iterable[Attachment] = (),
    settings: Settings,
    job_id: int | None = None,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = SMTP_TIMEOUT_SECONDS,
    before_send: Callable[[], None] | None = None,
) -> EmailDelivery:
    """Send the message once per `idempotency_key`; see the module docstring for the contract.

    Without an SMTP host the message goes to the outbox (status `outbox`), which is not a
    failure. Raises `PermanentEmailError` (row `failed`) for a 5xx reply or a template that
    cannot render, and `TransientEmailError` (row stays `pending`) for anything retryable.
    `before_send` runs just before a real SMTP send (the task passes the shared rate limit).
    """
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than {MAX_KEY_LENGTH} characters")
    try:
        rendered = render(template, context, base_url=base_url)
    except TemplateError as exc:
        raise PermanentEmailError(f"template {template!r} cannot be rendered: {exc}") from exc
    message = build_message(
        sender=settings.mail_from, to=to, rendered=rendered, attachments=attachments
    )
    delivery = _claim(
        session, idempotency_key, recipient=to, subject=rendered.subject, template=template
    )
    if delivery.status in FINAL_STATUSES:
        return delivery
    # A retry sends what the rows say now (an address may have changed since the first try).
    delivery.recipient = _bare_address(to)
    delivery.subject = rendered.subject[:MAX_SUBJECT_LENGTH]
    delivery.raw_message = message.as_string()
    delivery.job_id = job_id
    if not settings.smtp_host:
        _record(session, delivery, DeliveryStatus.OUTBOX, response=None)
        return delivery
    if before_send is not None:
        before_send()
    try:
        response = _send(settings, message, timeout)
    except (smtplib.SMTPException, OSError) as exc:
        error = _classify(exc)
        failed = isinstance(error, PermanentEmailError)
        status = DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING
        _record(session, delivery, status, response=error.response)
        raise error from exc
    _record(session, delivery, DeliveryStatus.SENT, response=response)
    return delivery


def _claim(
    session: Session, key: str, *, recipient: str, subject: str, template: str
) -> EmailDelivery:
    """The row for `key`, created if new, locked until the caller's transaction ends.

    ON CONFLICT DO NOTHING waits for a concurrent inserter of the same key to finish, and
    FOR UPDATE then waits for any transaction still sending under that key: the second job
    sees the first one's committed outcome instead of sending again.
    """
    session.execute(
        insert(EmailDelivery)
        .values(
            idempotency_key=key,
            recipient=_bare_address(recipient),
            subject=subject[:MAX_SUBJECT_LENGTH],
            template=template,
            status=DeliveryStatus.PENDING,
        )
        .on_conflict_do_nothing(index_elements=[EmailDelivery.idempotency_key])
    )
    statement = (
        select(EmailDelivery)
        .where(EmailDelivery.idempotency_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(statement).one()


def _bare_address(to: str) -> str:
    return parseaddr(to)[1] or to


def _record(
    session: Session, delivery: EmailDelivery, status: DeliveryStatus, *, response: str | None
) -> None:
    delivery.status = status
    delivery.provider_response = response
    if status == DeliveryStatus.SENT:
        delivery.sent_at = datetime.now(UTC)
    session.flush()


# --- SMTP ---------------------------------------------------------------------------------


class _KeepsDataReply(smtplib.SMTP):
    """Keeps the server's reply to DATA, which `send_message` drops.

    That reply ("250 2.0.0 Ok: queued as 4Xy...") is the provider's receipt: recorded, it
    lets an operator trace a message through the provider's logs.
    """

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


class _SMTPSSL(_KeepsDataReply, smtplib.SMTP_SSL):
    pass


def _send(settings: Settings, message: EmailMessage, timeout: float) -> str:
    """Send over SMTP and return the server's reply to DATA."""
    smtp = _connect(settings, timeout)
    try:
        smtp.send_message(message)
        code, reply = smtp.data_reply or (250, b"")
    finally:
        _quit(smtp)
    return _reply_text(code, reply)


def _connect(settings: Settings, timeout: float) -> _KeepsDataReply:
    host, port = settings.smtp_host, settings.smtp_port
    if settings.smtp_security == "ssl":
        smtp: _KeepsDataReply = _SMTPSSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = _KeepsDataReply(host, port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    # Once DATA is accepted the message is on its way: a failing QUIT must not turn that
    # into an error, or the retry would send it a second time.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _classify(exc: smtplib.SMTPException | OSError) -> EmailError:
    """5xx replies are permanent (RFC 5321); 4xx, timeouts and lost connections are not."""
    code, response = _reply_of(exc)
    if code is not None and code >= 500:
        return PermanentEmailError(response)
    return TransientEmailError(response)


def _reply_of(exc: smtplib.SMTPException | OSError) -> tuple[int | None, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One reply per refused recipient: permanent only if every one of them is.
        replies = list(exc.recipients.values())
        code = min(reply_code for reply_code, _ in replies)
        return code, "; ".join(_reply_text(*reply) for reply in replies)
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError, SMTPConnectError, ...
        return exc.smtp_code, _reply_text(exc.smtp_code, exc.smtp_error)
    return None, (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()


def queue_message(
    session: Session, *, to: str, subject: str, body: str, idempotency_key: str
) -> int:
    """Defer `email.send` for a one-off message in the caller's transaction; its job id.

    The message goes in a payload row owned by the recipient's account (when the address
    has one); the job carries the payload's id only.
    """
    if len(f"generic:{idempotency_key}") > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than {MAX_KEY_LENGTH - 8} characters")
    content = {"to": to, "subject": subject, "body": body, "idempotency_key": idempotency_key}
    subject_id = payloads.user_id_for_address(session, to)
    payload_id = payloads.store(session, PAYLOAD_KIND, content, subject_user_id=subject_id)
    # Imported here: the task module imports this service.
    from hiring_jobs.tasks.email import send

    return defer(session, send, payload_id=payload_id)
