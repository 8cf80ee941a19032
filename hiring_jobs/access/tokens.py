"""API tokens for applications and scripts: created by an admin, shown once, revocable.

A token is `hj_` and 43 random URL-safe characters (256 bits). Only its HMAC-SHA256,
keyed with a key derived from the server's secret key (access.keys), is stored: checking
a token costs one HMAC and one indexed read, not a password hash, and a copy of the table
yields no usable token. Changing HIRING_JOBS_SECRET_KEY therefore invalidates every token.

Scopes: `app` (the app-side endpoints only), `read` (every read endpoint) and `operate`
(read plus the actions an operator may take through the API); see web/API.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.access.accounts import AccessError
from hiring_jobs.access.keys import derived_key
from hiring_jobs.models import ApiToken, TokenScope
from hiring_jobs.settings import Settings

TOKEN_PREFIX = "hj_"
SHOWN_PREFIX_LENGTH = 10  # `hj_` and 7 characters: enough to tell tokens apart
MAX_NAME_LENGTH = 100
# last_used_at is written at most once a minute per token, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def token_key(settings: Settings) -> bytes:
    return derived_key(settings, "hiring-jobs api tokens")


def digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def create(
    session: Session, key: bytes, *, name: str, scope: TokenScope, by: str
) -> tuple[ApiToken, str]:
    """A new token row and the token itself, which is never stored and never shown again."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise AccessError(f"a token name is 1 to {MAX_NAME_LENGTH} printable characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        scope=scope,
        token_hash=digest(key, raw),
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        created_by=by,
    )
    session.add(token)
    session.flush()
    _audit(session, by, "token.create", token)
    return token, raw


def list_all(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(session: Session, token_id: int, *, by: str) -> ApiToken:
    token = session.get(ApiToken, token_id, with_for_update=True)
    if token is None:
        raise AccessError(f"no token {token_id}")
    if token.revoked_at is not None:
        raise AccessError(f"token {token_id} was revoked already")
    token.revoked_at = datetime.now(UTC)
    _audit(session, by, "token.revoke", token)
    return token


def find_active(session: Session, key: bytes, raw: str) -> ApiToken | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == digest(key, raw), ApiToken.revoked_at.is_(None)
        )
    )


def mark_used(session: Session, token: ApiToken) -> bool:
    """Record the use unless one was recorded within LAST_USED_PRECISION (True: written)."""
    now = datetime.now(UTC)
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return False
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token.id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at < func.now() - LAST_USED_PRECISION,
            ),
        )
        .values(last_used_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return True


def _audit(session: Session, by: str, action: str, token: ApiToken) -> None:
    audit.record(
        session,
        actor=by,
        action=action,
        target=f"token {token.id} ({token.name})",
        details={"scope": token.scope.value, "prefix": token.prefix},
    )
