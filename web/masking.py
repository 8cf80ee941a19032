"""The one way pages and the API show personal data: masked, on the server.

Templates use the `masked` filter (and the `revealable` test to offer a reveal button);
API views pass their rows through `masked_fields`. Both call
hiring_jobs.privacy.masking.mask_value, so the unmasked value never reaches a response
unless an operator reveals it (web.queries.reveal, audited).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from hiring_jobs.privacy.masking import mask_value
from hiring_jobs.queue.why import explain
from web.queries.jobs import get_job
from web.queries.related import known_names

# Fields of API rows that can hold personal data (arguments, errors, mail, notes...).
MASKED_FIELDS = frozenset(
    {
        "args",
        "last_error",
        "lock",
        "queueing_lock",
        "error_message",
        "traceback",
        "result",
        "error",
        "sample_message",
        "summary",
        "notes",
        "details",
        "recipient",
        "subject",
        "actor",
        "target",
    }
)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["masked"] = masked
    app.jinja_env.tests["revealable"] = revealable


def masked(value: Any, names: Iterable[str] = (), key: str | None = None) -> Any:
    """`value` with emails, phones and names masked (`names`: known names to hide too)."""
    return mask_value(value, key, names=names)


def revealable(value: Any, names: Iterable[str] = (), key: str | None = None) -> bool:
    """Whether masking hides something: only then is a reveal button worth showing."""
    return value is not None and masked(value, names, key) != value


def masked_fields(row: Mapping[str, Any], names: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of an API row with its MASKED_FIELDS masked; ids, times and states as they are."""
    names = tuple(names)
    return {
        key: masked(value, names, key) if key in MASKED_FIELDS else value
        for key, value in row.items()
    }


def masked_explanation(session: Session, job_id: int) -> dict[str, Any] | None:
    """Why a job waits (hiring_jobs.queue.why), its reasons masked as the job page masks
    them: the API and `hiring-jobs jobs why` send the same document. None: no such job."""
    found = explain(session, job_id)
    if found is None:
        return None
    job = get_job(session, job_id)
    names = known_names(session, job["args"]) if job else ()
    body = found.as_dict()
    body["reasons"] = [masked_fields(reason, names) for reason in body["reasons"]]
    return body
