"""Uploaded resumes and what parsing found in them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hiring_jobs.models.base import Base, created_at_column, str_enum
from hiring_jobs.models.files import StoredFile
from hiring_jobs.models.users import User


class ParseStatus(enum.StrEnum):
    PENDING = "pending"
    PARSED = "parsed"
    FAILED = "failed"


class Resume(Base):
    __tablename__ = "resumes"
    __table_args__ = (
        # "Analyze all pending" and the cleanup of soft-deleted resumes scan only these rows.
        Index(
            "ix_resumes_pending",
            "created_at",
            postgresql_where=text("parse_status = 'pending' AND deleted_at IS NULL"),
        ),
        Index(
            "ix_resumes_deleted_at", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_files.id", ondelete="SET NULL"), index=True
    )
    parse_status: Mapped[ParseStatus] = mapped_column(
        str_enum(ParseStatus), default=ParseStatus.PENDING
    )
    # Why parsing failed, in words a recruiter understands ("the PDF is encrypted").
    failure_reason: Mapped[str | None] = mapped_column(Text)
    extracted_text: Mapped[str | None] = mapped_column(Text)
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    years_experience: Mapped[float | None]
    education: Mapped[list[Any]] = mapped_column(default=list)
    parsed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()

    user: Mapped[User] = relationship()
    file: Mapped[StoredFile | None] = relationship()
