"""Notification tasks: single, batch and fan-out notifications, read marks, cleanup, digests.

Thin wrappers over `hiring_jobs.services.notifications`; every insert is deduplicated by key,
so running a job twice leaves the rows of one run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.queue import retry
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import analytics, notifications, recommendations
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]
CLEANUP_BATCH = 5000
DIGEST_TASK = "email.send_daily_digest"


_task = TaskFamily("notifications", Queue.NOTIFICATIONS, retry.DEFAULT, Priority.NORMAL).task


@_task("send")
def send_notification(payload_id: int) -> Result:
    """Store the notification a caller deferred (services.notifications.defer_notification)."""
    with db.session_scope() as session:
        item = notifications.load(session, payload_id)
        return {"notification_id": notifications.notify(session, item)}


@_task("send_batch")
def send_batch(payload_ids: list[int]) -> Result:
    """Store several notifications (services.notifications.defer_batch) in one transaction."""
    with db.session_scope() as session:
        parsed = [notifications.load(session, payload_id) for payload_id in payload_ids]
        created = notifications.notify_many(session, parsed)
    return {"requested": len(parsed), "created": len(created)}


@_task("notify_mentions")
def notify_mentions(
    user_ids: list[int], mention_type: str, content_id: int | str, mentioned_by: int | None = None
) -> Result:
    with db.session_scope() as session:
        created = notifications.notify_mentions(
            session, user_ids, mention_type, content_id, mentioned_by
        )
    return {"created": len(created)}


@_task("notify_like")
def notify_like(
    user_id: int, liker_id: int, content_type: str, content_id: int | str | None = None
) -> Result:
    """`user_id` owns the content that `liker_id` liked."""
    with db.session_scope() as session:
        created = notifications.notify_like(session, user_id, liker_id, content_type, content_id)
    return {"notification_id": created}


@_task("notify_comment")
def notify_comment(
    user_id: int,
    commenter_id: int,
    content_type: str,
    content_id: int | str | None = None,
    comment_id: int | str | None = None,
) -> Result:
    """`user_id` owns the content that `commenter_id` commented on."""
    with db.session_scope() as session:
        created = notifications.notify_comment(
            session, user_id, commenter_id, content_type, content_id, comment_id
        )
    return {"notification_id": created}


@_task("mark_all_read", Priority.HIGH)
def mark_all_read(user_id: int, up_to_id: int | None = None) -> Result:
    """Mark the user's notifications read; `up_to_id` spares those that arrived later."""
    with db.session_scope() as session:
        marked = notifications.mark_all_read(session, user_id, datetime.now(UTC), up_to_id=up_to_id)
    return {"marked": marked}


@app.periodic(cron="0 3 * * *", periodic_id="daily")
@_task("cleanup_read", Priority.LOW, long=True)
def cleanup_read(timestamp: int, days: int = 30) -> Result:
    """Delete read notifications older than `days`, in short batches."""
    cutoff = analytics.tick_time(timestamp) - timedelta(days=days)
    deleted = 0
    while True:
        with db.session_scope() as session:
            batch = notifications.delete_read(session, cutoff, limit=CLEANUP_BATCH)
        deleted += batch
        if batch < CLEANUP_BATCH:
            return {"deleted": deleted}


@app.periodic(cron="0 9 * * *", periodic_id="daily")
@_task("send_daily_digests", Priority.LOW, long=True)
def send_daily_digests(timestamp: int) -> Result:
    """Defer `email.send_daily_digest` for each active user with something new, once a tick."""
    now = analytics.tick_time(timestamp)
    with db.session_scope() as session:
        run = analytics.claim_tick(session, "notifications.send_daily_digests", now)
        if run is None:
            return {"skipped": "this tick already ran"}
        digests = [
            {"user_id": user_id, "timestamp": timestamp}
            for user_id in analytics.active_user_ids(session, now)
            if recommendations.daily_digest(session, user_id, now) is not None
        ]
        batch_defer(session, DIGEST_TASK, digests)
        run.data = {"deferred": len(digests)}
    return {"deferred": len(digests)}
