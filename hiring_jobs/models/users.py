"""People on the platform and the links between them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hiring_jobs.models.base import Base, created_at_column, str_enum


class UserRole(enum.StrEnum):
    CANDIDATE = "candidate"
    RECRUITER = "recruiter"
    MENTOR = "mentor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are unique whatever their case.
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
        Index("ix_users_active_last_seen", "is_active", "last_active_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole), default=UserRole.CANDIDATE)
    headline: Mapped[str] = mapped_column(String(200), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    points: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    # Set when the account was erased (privacy.erasure): the row stays, anonymised, so
    # counts and foreign keys hold.
    erased_at: Mapped[datetime | None]

    skills: Mapped[list[UserSkill]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserSkill.skill"
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class SkillSource(enum.StrEnum):
    DECLARED = "declared"
    RESUME = "resume"


class UserSkill(Base):
    """A skill a user has, declared by them or found in their resume."""

    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    source: Mapped[SkillSource] = mapped_column(str_enum(SkillSource), default=SkillSource.DECLARED)
    created_at: Mapped[datetime] = created_at_column()

    user: Mapped[User] = relationship(back_populates="skills")


class Connection(Base):
    """A professional connection; stored once per direction so lookups need one index."""

    __tablename__ = "connections"
    __table_args__ = (CheckConstraint("user_id <> other_user_id", name="not_self"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    other_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = created_at_column()


class ActivityEvent(Base):
    """Something a user did: the raw material of analytics and heatmaps."""

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_user_occurred", "user_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
