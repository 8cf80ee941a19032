"""Who may use the admin pages and the API: staff accounts, API tokens, login throttling.

These are the operators of the job system, not the platform's users (models/users.py).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hiring_jobs.models.base import Base, created_at_column, str_enum


class AccountRole(enum.StrEnum):
    VIEWER = "viewer"  # reads everything, acts on nothing
    OPERATOR = "operator"  # also acts on jobs, dead letters, candidates
    ADMIN = "admin"  # also manages accounts and API tokens


class Account(Base):
    """A named person who logs in to the admin pages (or sends HTTP Basic credentials)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Lower case (access.accounts.normalise_username): unique whatever was typed.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[AccountRole] = mapped_column(str_enum(AccountRole))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    # Carried by every session cookie; raised by logout, password change, disable and role
    # change, which ends every session holding an older value.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None]


class TokenScope(enum.StrEnum):
    APP = "app"  # the app-side endpoints only (uploads, applications)
    READ = "read"  # every read endpoint of the JSON API, /metrics, /health/detailed
    OPERATE = "operate"  # read, plus the actions an operator may take through the API


class ApiToken(Base):
    """A bearer token for an application or a script; only its keyed hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[TokenScope] = mapped_column(str_enum(TokenScope))
    # HMAC-SHA256 of the token (access.tokens), hex: a leaked table yields no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, shown in lists so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins per key (`account:NAME`, `address:IP`), shared by every web process."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = created_at_column()
    locked_until: Mapped[datetime | None]
