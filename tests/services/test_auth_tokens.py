"""Emailed tokens: only their hash is stored; a token is live while unused and unexpired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hiring_jobs.models import AuthToken, TokenPurpose
from hiring_jobs.services.auth_tokens import live_token, token_hash
from tests.support.factories import make_user

RESET = TokenPurpose.PASSWORD_RESET


def _token(session: Session, user_id: int, raw: str, **values: object) -> AuthToken:
    token = AuthToken(user_id=user_id, purpose=RESET, token_hash=token_hash(raw), **values)
    session.add(token)
    session.flush()
    return token


def test_the_stored_hash_is_the_sha256_of_the_token_never_the_token() -> None:
    digest = token_hash("secret")
    assert digest == "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
    assert "secret" not in digest


def test_a_live_token_gives_its_user_and_any_other_says_why_not(session: Session) -> None:
    now = datetime.now(UTC)
    user = make_user(session)
    live = _token(session, user.id, "live", expires_at=now + timedelta(hours=1))
    _token(session, user.id, "expired", expires_at=now - timedelta(seconds=1))
    _token(session, user.id, "used", expires_at=now + timedelta(hours=1), used_at=now)

    assert live_token(session, user.id, "live", RESET) == (user, live)
    assert "used or expired" in str(live_token(session, user.id, "expired", RESET))
    assert "used or expired" in str(live_token(session, user.id, "used", RESET))
    assert live_token(session, user.id, "never-issued", RESET) == (
        f"no {RESET} token for user {user.id}"
    )
    other_purpose = TokenPurpose.EMAIL_VERIFICATION
    assert isinstance(live_token(session, user.id, "live", other_purpose), str)
