"""Job postings and the applications candidates make to them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hiring_jobs.models.base import Base, created_at_column, str_enum
from hiring_jobs.models.users import User


class PostingStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class JobPosting(Base):
    __tablename__ = "job_postings"
    __table_args__ = (Index("ix_job_postings_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recruiter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    required_skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    nice_to_have_skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    min_years_experience: Mapped[int] = mapped_column(default=0)
    status: Mapped[PostingStatus] = mapped_column(
        str_enum(PostingStatus), default=PostingStatus.OPEN
    )
    created_at: Mapped[datetime] = created_at_column()

    recruiter: Mapped[User | None] = relationship()


class ApplicationStatus(enum.StrEnum):
    APPLIED = "applied"
    SCREENING = "screening"
    INTERVIEW_SCHEDULED = "interview_scheduled"
    OFFERED = "offered"
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("candidate_id", "job_posting_id"),
        CheckConstraint("fit_score BETWEEN 0 AND 100", name="fit_score_range"),
        Index("ix_applications_posting_status", "job_posting_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_posting_id: Mapped[int] = mapped_column(ForeignKey("job_postings.id", ondelete="CASCADE"))
    resume_id: Mapped[int | None] = mapped_column(
        ForeignKey("resumes.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus), default=ApplicationStatus.APPLIED
    )
    cover_letter: Mapped[str] = mapped_column(Text, default="")
    # Candidate-fit analysis: a 0-100 score and why (matched, missing, extra skills).
    fit_score: Mapped[int | None]
    fit_explanation: Mapped[dict[str, Any] | None]
    fit_analyzed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    candidate: Mapped[User] = relationship(foreign_keys=[candidate_id])
    job_posting: Mapped[JobPosting] = relationship()
    history: Mapped[list[ApplicationStatusChange]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationStatusChange.changed_at",
    )


class ApplicationStatusChange(Base):
    """One step of an application's status history."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[ApplicationStatus | None] = mapped_column(
        str_enum(ApplicationStatus, name="from_status")
    )
    to_status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus, name="to_status")
    )
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = created_at_column()

    application: Mapped[Application] = relationship(back_populates="history")
