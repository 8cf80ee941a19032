"""Courses, mentoring sessions and skill quizzes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    level: Mapped[str] = mapped_column(String(20), default="beginner")
    created_at: Mapped[datetime] = created_at_column()


class CourseEnrollment(Base):
    __tablename__ = "course_enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    enrolled_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None]


class MentoringStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


class MentoringSession(Base):
    __tablename__ = "mentoring_sessions"
    __table_args__ = (CheckConstraint("mentor_id <> mentee_id", name="not_self"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[MentoringStatus] = mapped_column(
        str_enum(MentoringStatus), default=MentoringStatus.REQUESTED
    )
    scheduled_for: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class QuizAttempt(Base):
    """A user's attempt at a skill quiz; quiz performance analysis reads these."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= max_score", name="score_range"),
        Index("ix_quiz_attempts_quiz_taken", "quiz", "taken_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    quiz: Mapped[str] = mapped_column(String(100))
    score: Mapped[int]
    max_score: Mapped[int]
    taken_at: Mapped[datetime] = created_at_column()
