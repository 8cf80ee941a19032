"""Tokens sent by email (verification, password reset): stored hashed, looked up live."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.models import AuthToken, TokenPurpose, User


def live_token(
    session: Session, user_id: int, token: str, purpose: TokenPurpose
) -> tuple[User, AuthToken] | str:
    """The user and their unused, unexpired token of this purpose, or why there is none."""
    auth_token = session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash(token),
            AuthToken.user_id == user_id,
            AuthToken.purpose == purpose,
        )
    )
    if auth_token is None:
        return f"no {purpose} token for user {user_id}"
    if auth_token.used_at is not None or auth_token.expires_at <= datetime.now(UTC):
        return f"{purpose} token {auth_token.id} is used or expired"
    user = session.get(User, user_id)
    return (user, auth_token) if user is not None else f"user {user_id} no longer exists"


def token_hash(token: str) -> str:
    """How auth_tokens.token_hash is derived from the token sent by email (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()
