"""Jobs about an erased person: stopped, their dead letters discarded, results reduced to ids."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from hiring_jobs.queue import operations
from hiring_jobs.sql import PRIVACY, QUEUE, run


def stop_jobs(session: Session, job_ids: list[int]) -> Counter[str]:
    """Waiting jobs cancelled, running ones asked to abort (queue/operations.py)."""
    by_status = operations.stop(session, job_ids, abort=True)
    return Counter(
        {
            "jobs.about": len(job_ids),
            "jobs.cancelled": by_status.get("todo", 0),
            "jobs.abort_requested": by_status.get("doing", 0),
        }
    )


def discard_dead_letters(
    session: Session, job_ids: list[int], *, actor: str, erasure_id: int
) -> Counter[str]:
    """Their failed jobs leave the review queue: retrying one would act on an erased person."""
    notes = f"erasure {erasure_id}"
    discarded = operations.discard_dead_letters(session, job_ids, by=actor, notes=notes)
    return Counter({"jobs.dead_letters_discarded": discarded})


def reduce_results(session: Session, job_ids: list[int]) -> Counter[str]:
    """Results of attempts of jobs about them keep their ids only (`delivery_id`, ...).

    A result can hold what a job computed about them (a fit score, achievements); the ids
    still tell an operator what the job did, and point at rows that are now gone.
    """
    reduced = run(session, PRIVACY["reduce_attempt_results"], {"ids": job_ids})
    return Counter({"jobs.results_reduced": reduced.rowcount})


def job_counts(session: Session, job_ids: list[int]) -> dict[str, int]:
    statuses = run(session, QUEUE["job_status_counts"], {"ids": job_ids})
    by_status = {status: int(n) for status, n in statuses}
    return {
        "jobs.about": len(job_ids),
        "jobs.cancelled": by_status.get("todo", 0),
        "jobs.abort_requested": by_status.get("doing", 0),
    }
