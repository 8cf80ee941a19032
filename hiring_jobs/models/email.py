"""Every email the platform sends, or keeps in the local outbox."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"  # accepted by the SMTP server
    OUTBOX = "outbox"  # no SMTP configured: stored locally, viewable in the web UI
    FAILED = "failed"


class EmailDelivery(Base):
    __tablename__ = "email_deliveries"
    __table_args__ = (Index("ix_email_deliveries_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # A retried or duplicated job finds this key and does not send again.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(100))
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    provider_response: Mapped[str | None] = mapped_column(Text)
    # The full RFC 5322 message, so the outbox can show exactly what would have been sent.
    raw_message: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]
