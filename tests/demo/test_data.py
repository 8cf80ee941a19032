"""The demo data gives every job family work, commits with its jobs, loads once, and a real
worker runs all of it: everything succeeds but the two failures the demo shows on purpose
(an unreadable upload, a refused mail), which wait in the dead-letter queue."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.demo.data import load_demo_data
from hiring_jobs.models import (
    AchievementUnlock,
    ActivityEvent,
    AnalyticsSnapshot,
    Base,
    DeliveryStatus,
    EmailDelivery,
    FileKind,
    HealthCheck,
    Notification,
    RecommendationCache,
    StoredFile,
)
from hiring_jobs.queue import operations
from hiring_jobs.settings import get_settings
from tests.services.test_email import use_no_smtp
from tests.support.jobs import jobs, run_worker_until_idle

FAMILIES = (
    "resume",
    "notifications",
    "achievements",
    "analytics",
    "documents",
    "maintenance",
    "recommendations",
)


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def _load(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session, session.begin():
        return load_demo_data(session, get_settings().files_dir)


def test_the_demo_loads_once_with_a_job_for_every_family(
    session_factory: sessionmaker[Session],
) -> None:
    summary = _load(session_factory)
    with session_factory() as session:
        before = _counts(session)
        deferred = Counter(job["task_name"].split(".")[0] for job in jobs(session))

    assert summary.startswith("Demo data loaded: 11 people, 4 postings, 7 resumes")
    assert summary.endswith("2 jobs that fail (for the dead-letter pages).")
    assert set(FAMILIES) <= set(deferred)
    for table in (
        "courses",
        "course_enrollments",
        "mentoring_sessions",
        "connections",
        "quiz_attempts",
        "activity_events",
        "notifications",
        "achievements",
        "stored_files",
    ):
        assert before[table] > 0, table

    assert _load(session_factory) == "Demo data already loaded."
    with session_factory() as session:
        assert _counts(session) == before
        assert len(jobs(session)) == sum(deferred.values())


def test_loading_reports_each_candidate_then_the_rest(
    session_factory: sessionmaker[Session],
) -> None:
    heard: list[tuple[str, int, int]] = []
    with session_factory() as session, session.begin():
        load_demo_data(session, get_settings().files_dir, progress=lambda *a: heard.append(a))
    assert [(done, total) for _, done, total in heard] == [(n, 7) for n in range(1, 8)]
    assert heard[-1][0] == "community and jobs"


def test_nothing_of_the_demo_stays_when_its_transaction_rolls_back(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session:
        session.begin()
        load_demo_data(session, tmp_path)
        session.rollback()
    with session_factory() as session:
        assert jobs(session) == []
        assert session.scalar(select(func.count()).select_from(ActivityEvent)) == 0


def test_a_worker_runs_every_demo_job_and_only_the_intended_failures_fail(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_no_smtp(monkeypatch)
    _load(session_factory)

    run_worker_until_idle()

    with session_factory() as session:
        statuses = Counter(job["status"] for job in jobs(session))
        notification_kinds = set(session.scalars(select(Notification.kind)))
        snapshots = set(session.scalars(select(AnalyticsSnapshot.kind)))
        file_kinds = set(session.scalars(select(StoredFile.kind)))
        cached_users = session.scalar(
            select(func.count(func.distinct(RecommendationCache.user_id)))
        )
        unlocks = session.scalar(select(func.count()).select_from(AchievementUnlock)) or 0
        deliveries = set(session.scalars(select(EmailDelivery.status)))
        health_checks = session.scalar(select(func.count()).select_from(HealthCheck))
        letters = {letter.task_name: letter for letter in operations.pending_dead_letters(session)}
    assert statuses == {"succeeded": sum(statuses.values()) - 2, "failed": 2}, statuses
    assert letters.keys() == {"documents.generate_thumbnail", "email.send_welcome"}
    thumbnail, welcome = letters["documents.generate_thumbnail"], letters["email.send_welcome"]
    assert "the image is damaged or unsupported" in (thumbnail.error_message or "")
    assert welcome.exception_type == "hiring_jobs.services.email.PermanentEmailError"
    assert (welcome.error_message or "").startswith("550 5.1.1 <sam.typo@exmaple.com>")
    assert {"mention", "like", "comment", "achievement", "resume_analyzed"} <= notification_kinds
    assert {
        "achievement_leaderboard",
        "platform_stats",
        "quiz_performance",
        "activity_heatmap",
        "user_growth",
        "user_analytics",
    } <= snapshots
    assert {FileKind.CV_PDF, FileKind.THUMBNAIL} <= file_kinds
    assert cached_users == 7  # six candidates with resumes, and the mentor
    assert unlocks >= 6 and deliveries == {DeliveryStatus.OUTBOX}
    assert health_checks == 1
