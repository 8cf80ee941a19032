"""Small builders for domain rows, with defaults that satisfy every constraint."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from hiring_jobs.models import Account, AccountRole, JobPosting, User, UserRole

_counter = itertools.count(1)


def make_user(session: Session, **overrides: Any) -> User:
    n = next(_counter)
    values: dict[str, Any] = {
        "email": f"user{n}@example.com",
        "full_name": f"User {n}",
        "role": UserRole.CANDIDATE,
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    return user


def make_posting(session: Session, **overrides: Any) -> JobPosting:
    n = next(_counter)
    values: dict[str, Any] = {
        "title": f"Engineer {n}",
        "company": "Acme",
        "required_skills": ["Python", "PostgreSQL"],
    }
    values.update(overrides)
    posting = JobPosting(**values)
    session.add(posting)
    session.flush()
    return posting


def make_account(
    session: Session, username: str, password: str, role: AccountRole = AccountRole.OPERATOR
) -> Account:
    """A staff account whose password hash is cheap to check (tests log in often)."""
    account = Account(
        username=username,
        role=role,
        password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )
    session.add(account)
    session.flush()
    return account
