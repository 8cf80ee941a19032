"""Small builders for domain rows, with defaults that satisfy every constraint."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.models import JobPosting, User, UserRole

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
