"""Mail kept in the local outbox (no SMTP server configured), and how to show it safely."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hiring_jobs.models import DeliveryStatus, EmailDelivery, User


def list_outbox(
    session: Session, *, before: int | None = None, limit: int = 50
) -> list[EmailDelivery]:
    query = select(EmailDelivery).where(EmailDelivery.status == DeliveryStatus.OUTBOX)
    if before is not None:
        query = query.where(EmailDelivery.id < before)
    return list(session.scalars(query.order_by(EmailDelivery.id.desc()).limit(limit)))


def recipient_names(session: Session, recipients: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Recipient address -> the user's full name, to mask it in subjects and bodies."""
    wanted = {recipient.lower(): recipient for recipient in recipients}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.email, User.full_name).where(func.lower(User.email).in_(list(wanted)))
    )
    return {wanted[email.lower()]: (name,) for email, name in rows if email.lower() in wanted}


@dataclasses.dataclass(frozen=True)
class RenderedMessage:
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None  # shown only inside a sandboxed iframe (srcdoc), never inline
    attachments: list[dict[str, Any]]


def render_message(raw: str) -> RenderedMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = [
        (name, str(message[name])) for name in ("From", "To", "Subject", "Date") if message[name]
    ]
    return RenderedMessage(
        headers=headers,
        text=_body(message, "plain"),
        html=_body(message, "html"),
        attachments=[
            {
                "filename": part.get_filename() or "(unnamed)",
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.iter_attachments()
        ],
    )


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None
