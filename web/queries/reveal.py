"""Revealing one masked value to an operator, and writing that down in the audit log.

A request names a source from a fixed list and a row id; each source is one column of one
table, read with the id as a bound parameter. Nothing from the request becomes a table or
column name. The audit row says who revealed which value, never the value itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hiring_jobs import audit
from hiring_jobs.models import (
    AuditLogEntry,
    DeadLetterRecord,
    DeadLetterReview,
    EmailDelivery,
    JobAttempt,
    User,
)
from web.queries.tables import jobs


@dataclasses.dataclass(frozen=True)
class Source:
    label: str  # for people: "arguments of job", shown with the id
    column: ColumnElement[Any] | InstrumentedAttribute[Any]
    key: ColumnElement[Any] | InstrumentedAttribute[Any]
    field: str | None = None  # the value's key for masking by kind ("recipient", ...)


SOURCES: dict[str, Source] = {
    "job_args": Source("arguments of job", jobs.c.args, jobs.c.id),
    "attempt_error": Source("error of attempt", JobAttempt.error_message, JobAttempt.id),
    "attempt_traceback": Source("traceback of attempt", JobAttempt.traceback, JobAttempt.id),
    "attempt_result": Source("result of attempt", JobAttempt.result, JobAttempt.id),
    "dead_letter_error": Source(
        "error of failed job", DeadLetterRecord.error_message, DeadLetterRecord.job_id
    ),
    "review_notes": Source("notes of review", DeadLetterReview.notes, DeadLetterReview.id),
    "outbox_recipient": Source(
        "recipient of email", EmailDelivery.recipient, EmailDelivery.id, "recipient"
    ),
    "outbox_subject": Source("subject of email", EmailDelivery.subject, EmailDelivery.id),
    "outbox_message": Source("message of email", EmailDelivery.raw_message, EmailDelivery.id),
    "audit_details": Source("details of audit entry", AuditLogEntry.details, AuditLogEntry.id),
    "user_name": Source("name of user", User.full_name, User.id, "full_name"),
    "user_email": Source("email of user", User.email, User.id, "email"),
}


class UnknownSource(ValueError):
    """Not one of SOURCES."""


class NotFound(LookupError):
    """No row with that id."""


@dataclasses.dataclass(frozen=True)
class Revealed:
    source: str
    id: int
    label: str
    value: Any


def reveal(session: Session, *, actor: str, source: str, row_id: int, via: str) -> Revealed:
    """The unmasked value, with an audit row in the caller's transaction (commit it)."""
    found = SOURCES.get(source)
    if found is None:
        raise UnknownSource(f"source must be one of {', '.join(sorted(SOURCES))}")
    row = session.execute(select(found.column).where(found.key == row_id)).one_or_none()
    if row is None:
        raise NotFound(f"no {found.label} {row_id}")
    audit.record(
        session,
        actor=actor,
        action="reveal",
        target=f"{source} {row_id}",
        details={"source": source, "id": row_id, "via": via},
    )
    return Revealed(source, row_id, found.label, row[0])
