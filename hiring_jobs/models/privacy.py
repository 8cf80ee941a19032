"""Personal data kept out of job arguments, and the records that erasure leaves behind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column


class JobPayload(Base):
    """Free text a job needs (an ad-hoc email, a notification's message), stored beside it.

    Jobs carry this row's id instead of the text: job arguments outlive the job in history,
    dead letters and exports, while this row is owned by its subject and goes with them at
    retention and erasure (see privacy/inventory.py).
    """

    __tablename__ = "job_payloads"
    __table_args__ = (Index("ix_job_payloads_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The person the text is about or addressed to; None when it is about nobody.
    subject_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_at_column()


class ErasureRecord(Base):
    """Proof that a candidate was erased: ids and counts only, never personal data."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = created_at_column()
    # Counts per kind of data removed or anonymised (the receipt).
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set once every file of the erasure is gone from disk.
    files_removed_at: Mapped[datetime | None]


class PendingFileDeletion(Base):
    """A file to remove from disk once the transaction that dropped its row commits.

    Written in that transaction: a crash after the commit leaves the row, and the next
    erasure or retention run removes the file (privacy.files.remove_pending_files).
    """

    __tablename__ = "pending_file_deletions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Relative to the files directory, like StoredFile.path.
    path: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text, default="")
    erasure_id: Mapped[int | None] = mapped_column(
        ForeignKey("erasures.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
