"""Computed results kept for reading: recommendation caches and analytics snapshots."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class RecommendationKind(enum.StrEnum):
    JOBS = "jobs"
    COURSES = "courses"
    MENTORS = "mentors"
    SKILLS = "skills"
    CONNECTIONS = "connections"


class RecommendationCache(Base):
    __tablename__ = "recommendation_cache"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[RecommendationKind] = mapped_column(str_enum(RecommendationKind))
    items: Mapped[list[Any]] = mapped_column(default=list)
    computed_at: Mapped[datetime] = created_at_column()


class AnalyticsSnapshot(Base):
    """A computed report (platform stats, daily stats, weekly report, export, ...)."""

    __tablename__ = "analytics_snapshots"
    __table_args__ = (Index("ix_analytics_snapshots_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    # The user the snapshot is about, for per-user analytics; NULL for platform-wide ones.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    json_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    csv_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
