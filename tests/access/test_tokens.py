"""API tokens: random, stored as a keyed hash, scoped, revocable, last use recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hiring_jobs.access import tokens
from hiring_jobs.access.accounts import AccessError
from hiring_jobs.models import ApiToken, AuditLogEntry, TokenScope

KEY = b"k" * 32


def test_a_token_is_shown_once_and_only_its_keyed_hash_is_stored(session: Session) -> None:
    token, raw = tokens.create(session, KEY, name="resume-upload", scope=TokenScope.APP, by="ana")
    assert raw.startswith("hj_") and len(raw) == 46
    assert raw not in {token.token_hash, token.prefix} and raw.startswith(token.prefix)
    assert token.token_hash == tokens.digest(KEY, raw) != tokens.digest(b"other key", raw)
    stored = session.execute(select(ApiToken.__table__)).one()
    assert raw not in " ".join(str(value) for value in stored)
    entry = session.scalars(select(AuditLogEntry)).one()
    assert (entry.actor, entry.action) == ("ana", "token.create")
    assert entry.details == {"scope": "app", "prefix": token.prefix}


def test_a_token_is_found_by_its_hash_until_revoked(session: Session) -> None:
    token, raw = tokens.create(session, KEY, name="reports", scope=TokenScope.READ, by="ana")
    assert tokens.find_active(session, KEY, raw) is token
    assert tokens.find_active(session, b"rotated secret key", raw) is None
    assert tokens.find_active(session, KEY, raw[:-1] + "x") is None
    assert tokens.find_active(session, KEY, "not-a-token") is None
    tokens.revoke(session, token.id, by="ana")
    assert tokens.find_active(session, KEY, raw) is None
    with pytest.raises(AccessError, match="revoked already"):
        tokens.revoke(session, token.id, by="ana")
    with pytest.raises(AccessError, match="no token 999"):
        tokens.revoke(session, 999, by="ana")


@pytest.mark.parametrize("name", ["", " ", "x" * 101, "tab\tname"])
def test_a_token_needs_a_printable_name(session: Session, name: str) -> None:
    with pytest.raises(AccessError, match="token name"):
        tokens.create(session, KEY, name=name, scope=TokenScope.APP, by="ana")


def test_last_use_is_written_at_most_once_a_minute(session: Session) -> None:
    token, _ = tokens.create(session, KEY, name="app", scope=TokenScope.APP, by="ana")
    assert tokens.mark_used(session, token) is True
    session.refresh(token)
    first = token.last_used_at
    assert first is not None
    assert tokens.mark_used(session, token) is False  # within the minute: no write
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    session.execute(update(ApiToken).values(last_used_at=an_hour_ago))
    session.refresh(token)
    assert tokens.mark_used(session, token) is True
    session.refresh(token)
    assert token.last_used_at is not None and token.last_used_at > an_hour_ago
