"""Notification tasks run by a real worker; each one run twice leaves the rows of one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.notifications as notification_tasks
from hiring_jobs.models import (
    DeliveryStatus,
    EmailDelivery,
    Notification,
    RecommendationCache,
    RecommendationKind,
)
from hiring_jobs.privacy import payloads
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import notifications
from hiring_jobs.services.notifications import NewNotification
from tests.services.test_email import use_no_smtp
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _run() -> None:
    run_worker_until_idle(queues=["notifications"])


def _notifications(session_factory: sessionmaker[Session]) -> list[Notification]:
    with session_factory() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _statuses(session_factory: sessionmaker[Session], task: str) -> list[str]:
    with session_factory() as session:
        return [job["status"] for job in jobs(session, task)]


def _users(session_factory: sessionmaker[Session], count: int, **values: Any) -> list[int]:
    with session_factory() as session, session.begin():
        return [make_user(session, **values).id for _ in range(count)]


def test_send_twice_stores_one_notification(session_factory: sessionmaker[Session]) -> None:
    [user_id] = _users(session_factory, 1)
    item = NewNotification(
        user_id=user_id,
        kind="job_match",
        title="New job match",
        message="New job match found!",
        data={"job_id": 4, "match_score": 85},
    )
    with session_factory() as session, session.begin():
        notifications.defer_notification(session, item)
        [job] = jobs(session, "notifications.send")
    # A duplicate of the same job (at-least-once delivery) finds the row already there.
    _defer_twice(session_factory, notification_tasks.send_notification, **job["args"])

    _run()

    [row] = _notifications(session_factory)
    assert (row.user_id, row.kind, row.title) == (user_id, "job_match", "New job match")
    assert row.data == {"job_id": 4, "match_score": 85}
    assert _statuses(session_factory, "notifications.send") == ["succeeded"] * 3


def test_mention_like_and_comment_fan_out(session_factory: sessionmaker[Session]) -> None:
    owner, author, reader = _users(session_factory, 3)
    _defer_twice(
        session_factory,
        notification_tasks.notify_mentions,
        user_ids=[owner, reader],
        mention_type="comment",
        content_id=12,
        mentioned_by=author,
    )
    _defer_twice(
        session_factory,
        notification_tasks.notify_like,
        user_id=owner,
        liker_id=author,
        content_type="post",
    )
    _defer_twice(
        session_factory,
        notification_tasks.notify_comment,
        user_id=owner,
        commenter_id=reader,
        content_type="post",
        content_id=3,
        comment_id=77,
    )

    _run()

    rows = [(n.user_id, n.kind, n.related_user_id) for n in _notifications(session_factory)]
    assert sorted(rows) == sorted(
        [
            (owner, "mention", author),
            (reader, "mention", author),
            (owner, "like", author),
            (owner, "comment", reader),
        ]
    )


def test_a_batch_is_stored_once_and_a_malformed_one_fails_without_retry(
    session_factory: sessionmaker[Session],
) -> None:
    first, second = _users(session_factory, 2)
    items = [
        NewNotification(user_id=first, kind="achievement", title="A", message="a"),
        NewNotification(user_id=second, kind="achievement", title="B", message="b"),
    ]
    for _ in range(2):
        with session_factory() as session, session.begin():
            notifications.defer_batch(session, items)
    with session_factory() as session, session.begin():
        malformed = payloads.store(
            session, notifications.PAYLOAD_KIND, {"user_id": first}, subject_user_id=first
        )
        bad = defer(session, notification_tasks.send_batch, payload_ids=[malformed])

    _run()

    assert sorted(n.message for n in _notifications(session_factory)) == ["a", "b"]
    with session_factory() as session:
        [job] = [job for job in jobs(session) if job["id"] == bad]
    assert job["status"] == "failed"


def test_mark_all_read(session_factory: sessionmaker[Session]) -> None:
    user_id, other = _users(session_factory, 2)
    with session_factory() as session, session.begin():
        for owner in (user_id, user_id, other):
            session.add(Notification(user_id=owner, kind="x", message="m"))
    _defer_twice(session_factory, notification_tasks.mark_all_read, user_id=user_id)

    _run()

    unread = [n.user_id for n in _notifications(session_factory) if n.read_at is None]
    assert unread == [other]


def test_cleanup_read_deletes_old_read_notifications_once_per_tick(
    session_factory: sessionmaker[Session],
) -> None:
    [user_id] = _users(session_factory, 1)
    tick = datetime(2024, 6, 3, 3, 0, tzinfo=UTC)
    with session_factory() as session, session.begin():
        for days, read in ((31, True), (31, False), (29, True)):
            session.add(
                Notification(
                    user_id=user_id,
                    kind="x",
                    message=f"{days} {read}",
                    created_at=tick - timedelta(days=days),
                    read_at=tick if read else None,
                )
            )
    _defer_twice(session_factory, notification_tasks.cleanup_read, timestamp=int(tick.timestamp()))

    _run()

    assert sorted(n.message for n in _notifications(session_factory)) == ["29 True", "31 False"]


def test_daily_digests_are_deferred_once_per_tick_and_delivered(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_no_smtp(monkeypatch)
    tick = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    recent = tick - timedelta(days=2)
    with session_factory() as session, session.begin():
        reader = make_user(session, full_name="Ada", last_active_at=recent)
        quiet = make_user(session, last_active_at=recent)  # nothing new: no digest
        gone = make_user(session, last_active_at=tick - timedelta(days=60))
        session.add(
            RecommendationCache(
                user_id=reader.id,
                kind=RecommendationKind.JOBS,
                items=[
                    {"job_posting_id": 4, "title": "Data Engineer", "company": "Acme", "score": 80},
                ],
            )
        )
        for user in (reader, gone):
            session.add(Notification(user_id=user.id, kind="x", message="unread"))
    _defer_twice(
        session_factory, notification_tasks.send_daily_digests, timestamp=int(tick.timestamp())
    )

    _run()

    with session_factory() as session:
        [digest] = jobs(session, "email.send_daily_digest")
    assert digest["args"] == {"user_id": reader.id, "timestamp": int(tick.timestamp())}
    assert quiet.id != digest["args"]["user_id"]

    run_worker_until_idle(queues=["email"])
    with session_factory() as session:
        [delivery] = session.scalars(select(EmailDelivery)).all()
    assert delivery.status == DeliveryStatus.OUTBOX
    assert delivery.idempotency_key == f"daily_digest:{reader.id}:{tick.date().isoformat()}"
