"""Analytics tasks run by a real worker: one snapshot per period, report emails once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.analytics as analytics_tasks
from hiring_jobs.models import (
    AnalyticsSnapshot,
    DeliveryStatus,
    EmailDelivery,
    QuizAttempt,
    StoredFile,
    UserRole,
)
from hiring_jobs.queue.defer import defer
from hiring_jobs.settings import get_settings
from tests.services.test_email import parse, use_no_smtp
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle

TICK = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)  # a Monday, midnight


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _run() -> None:
    run_worker_until_idle(queues=["analytics"])


def _snapshots(session_factory: sessionmaker[Session]) -> list[AnalyticsSnapshot]:
    with session_factory() as session:
        return list(session.scalars(select(AnalyticsSnapshot).order_by(AnalyticsSnapshot.id)))


def _all_succeeded(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as session:
        return all(
            job["status"] == "succeeded"
            for job in jobs(session)
            if job["queue_name"] == "analytics"
        )


@pytest.mark.parametrize(
    ("task", "kwargs", "kind"),
    [
        (
            analytics_tasks.cache_platform_stats,
            {"timestamp": int(TICK.timestamp())},
            "platform_stats",
        ),
        (analytics_tasks.generate_activity_heatmap, {"days": 7}, "activity_heatmap"),
        (analytics_tasks.generate_user_growth_report, {"weeks": 4}, "user_growth"),
        (
            analytics_tasks.analyze_quiz_performance,
            {"timestamp": int(TICK.timestamp())},
            "quiz_performance",
        ),
        (analytics_tasks.generate_daily_stats, {"timestamp": int(TICK.timestamp())}, "daily_stats"),
    ],
)
def test_each_report_is_one_snapshot_however_often_it_runs(
    session_factory: sessionmaker[Session], task: Any, kwargs: dict[str, Any], kind: str
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session, created_at=TICK - timedelta(hours=3))
        session.add(
            QuizAttempt(
                user_id=user.id,
                quiz="sql",
                score=7,
                max_score=10,
                taken_at=TICK - timedelta(hours=1),
            )
        )
    _defer_twice(session_factory, task, **kwargs)

    _run()

    assert _all_succeeded(session_factory)
    [snapshot] = _snapshots(session_factory)
    assert snapshot.kind == kind


def test_the_daily_stats_cover_the_day_before_the_tick(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        make_user(session, created_at=TICK - timedelta(hours=3))
        make_user(session, created_at=TICK + timedelta(hours=3))
    _defer_twice(
        session_factory, analytics_tasks.generate_daily_stats, timestamp=int(TICK.timestamp())
    )

    _run()

    [snapshot] = _snapshots(session_factory)
    assert (snapshot.period_start, snapshot.period_end) == (TICK - timedelta(days=1), TICK)
    assert snapshot.data["new_users"] == 1


def test_user_analytics_for_all_active_users_once_each(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        active = [make_user(session, last_active_at=datetime.now(UTC)).id for _ in range(2)]
        make_user(session)  # never seen: not active
    _defer_twice(session_factory, analytics_tasks.cache_all_user_analytics)

    run_worker_until_idle(queues=["analytics"])

    with session_factory() as session:
        per_user = jobs(session, "analytics.cache_user_analytics")
    # The second fan-out found each user's job still waiting (queueing lock): one job each.
    assert sorted(job["args"]["user_id"] for job in per_user) == active
    assert {job["status"] for job in per_user} == {"succeeded"}
    snapshots = _snapshots(session_factory)
    assert sorted((s.kind, s.user_id) for s in snapshots) == [
        ("user_analytics", user_id) for user_id in active
    ]


def test_one_users_analytics_twice_is_one_snapshot(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session, points=12).id
    _defer_twice(session_factory, analytics_tasks.cache_user_analytics, user_id=user_id)
    _defer_twice(session_factory, analytics_tasks.cache_user_analytics, user_id=999_999)

    _run()

    assert _all_succeeded(session_factory)  # a user who is gone is skipped, not failed
    [snapshot] = _snapshots(session_factory)
    assert (snapshot.kind, snapshot.user_id, snapshot.data["points"]) == (
        "user_analytics",
        user_id,
        12,
    )


def test_the_weekly_report_emails_each_administrator_once(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_no_smtp(monkeypatch)
    with session_factory() as session, session.begin():
        admin = make_user(session, role=UserRole.ADMIN, email="admin@example.com")
        make_user(session, role=UserRole.CANDIDATE, created_at=TICK - timedelta(days=2))
    _defer_twice(
        session_factory, analytics_tasks.generate_weekly_report, timestamp=int(TICK.timestamp())
    )

    _run()

    [report] = _snapshots(session_factory)
    assert (report.kind, report.period_start) == ("weekly_report", TICK - timedelta(days=7))
    with session_factory() as session:
        progress = session.execute(text("SELECT done, total, message FROM job_progress")).all()
        [email_job] = jobs(session, "email.send_weekly_report")
    assert [tuple(row) for row in progress] == [(3, 3, "report saved")] * 2, "both runs'"
    assert email_job["args"]["user_id"] == admin.id
    assert email_job["args"]["week_start"] == "2024-05-27"
    assert email_job["args"]["stats"]["new_users"] == 1

    run_worker_until_idle(queues=["email"])
    with session_factory() as session:
        [delivery] = session.scalars(select(EmailDelivery)).all()
    assert delivery.status == DeliveryStatus.OUTBOX
    body = parse(delivery.raw_message or "").get_body(("plain",)).get_content()
    assert "New users" in body


def test_the_daily_report_emails_administrators_once(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_no_smtp(monkeypatch)
    with session_factory() as session, session.begin():
        admins = [make_user(session, role=UserRole.ADMIN).id for _ in range(2)]
        make_user(session, role=UserRole.MENTOR)
    _defer_twice(session_factory, analytics_tasks.generate_daily_report, day="2024-06-02")

    _run()
    run_worker_until_idle(queues=["email"])

    [report] = _snapshots(session_factory)
    assert report.kind == "daily_report"
    with session_factory() as session:
        keys = sorted(session.scalars(select(EmailDelivery.idempotency_key)))
        subjects = set(session.scalars(select(EmailDelivery.subject)))
    assert keys == sorted(f"generic:daily_report:2024-06-02:{admin}" for admin in admins)
    assert subjects == {"Hiring Jobs daily report, 2024-06-02"}


def test_the_export_writes_its_files_once(session_factory: sessionmaker[Session]) -> None:
    _defer_twice(session_factory, analytics_tasks.export_snapshot, day="2024-06-02", days=7)
    with session_factory() as session, session.begin():
        bad = defer(session, analytics_tasks.export_snapshot, day="yesterday")

    _run()

    [export] = _snapshots(session_factory)
    with session_factory() as session:
        files = session.scalars(select(StoredFile)).all()
        [failed] = [job for job in jobs(session) if job["id"] == bad]
    assert sorted(f.id for f in files) == sorted([export.json_file_id, export.csv_file_id])
    json_file = next(f for f in files if f.id == export.json_file_id)
    document = json.loads((get_settings().files_dir / json_file.path).read_text())
    assert len(document["daily"]) == 7 and document["day"] == "2024-06-02"
    assert failed["status"] == "failed"
