"""In-app notifications: single, batch and fan-out (mentions, likes, comments), read, cleanup.

Every notification has a dedupe key, given by the caller or derived from what it is about
(the mention's content, the like, the comment) or, failing that, from its whole content.
Inserts use ON CONFLICT DO NOTHING on the key's unique index, so a retried or duplicated
job leaves exactly the rows the first run left. A caller who wants the same message twice
(a weekly reminder) passes a key that says so ("reminder:2024-W23").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import Notification, ParseStatus, Resume, User
from hiring_jobs.privacy import payloads
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.retry import PermanentError

PAYLOAD_KIND = "notification"
MAX_KEY_LENGTH = 200
MAX_TITLE_LENGTH = 200
MAX_KIND_LENGTH = 50


@dataclasses.dataclass(frozen=True)
class NewNotification:
    user_id: int
    kind: str
    title: str
    message: str
    related_user_id: int | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    dedupe_key: str | None = None

    def row(self) -> dict[str, Any]:
        if len(self.kind) > MAX_KIND_LENGTH:
            raise PermanentError(f"notification type longer than {MAX_KIND_LENGTH} characters")
        key = self.dedupe_key or content_key(self)
        if len(key) > MAX_KEY_LENGTH:
            raise PermanentError(f"dedupe key longer than {MAX_KEY_LENGTH} characters")
        return {
            "user_id": self.user_id,
            "kind": self.kind,
            "title": self.title[:MAX_TITLE_LENGTH],
            "message": self.message,
            "related_user_id": self.related_user_id,
            "data": self.data,
            "dedupe_key": key,
        }


def content_key(item: NewNotification) -> str:
    """A key naming the notification by everything it says: the same content is one row."""
    payload = [item.user_id, item.kind, item.title, item.message, item.related_user_id, item.data]
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return f"content:{digest.hexdigest()[:48]}"


def notify_many(session: Session, items: Sequence[NewNotification]) -> list[int]:
    """Insert the notifications of users that exist; return the ids of the new rows only."""
    if not items:
        return []
    existing = set(
        session.scalars(select(User.id).where(User.id.in_({item.user_id for item in items})))
    )
    rows = [item.row() for item in items if item.user_id in existing]
    if not rows:
        return []
    statement = (
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=[Notification.dedupe_key],
            index_where=Notification.dedupe_key.is_not(None),
        )
        .returning(Notification.id)
    )
    return sorted(session.scalars(statement))


def notify(session: Session, item: NewNotification) -> int | None:
    """Insert one notification; None if its user is gone or it already exists."""
    inserted = notify_many(session, [item])
    return inserted[0] if inserted else None


def parse_items(raw: Iterable[dict[str, Any]]) -> list[NewNotification]:
    """Batch items as callers send them (seed format: `notification_type`, not `kind`)."""
    items = []
    for index, entry in enumerate(raw):
        try:
            items.append(
                NewNotification(
                    user_id=int(entry["user_id"]),
                    kind=str(entry.get("notification_type") or entry["kind"]),
                    title=str(entry.get("title", "")),
                    message=str(entry["message"]),
                    related_user_id=entry.get("related_user_id"),
                    data=dict(entry.get("data") or {}),
                    dedupe_key=entry.get("dedupe_key"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"notification {index} is malformed: {exc!r}") from None
    return items


# --- fan-out ------------------------------------------------------------------------------


def notify_mentions(
    session: Session,
    user_ids: Iterable[int],
    mention_type: str,
    content_id: int | str,
    mentioned_by: int | None = None,
) -> list[int]:
    """One notification per mentioned user (never the author), once per piece of content."""
    author = _name(session, mentioned_by)
    title = f"{author} mentioned you" if author else "You were mentioned"
    message = f"{title} in a {mention_type}."
    data = {"mention_type": mention_type, "content_id": content_id}
    items = [
        NewNotification(
            user_id=user_id,
            kind="mention",
            title=title,
            message=message,
            related_user_id=mentioned_by,
            data=data,
            dedupe_key=f"mention:{mention_type}:{content_id}:{user_id}",
        )
        for user_id in sorted(set(user_ids))
        if user_id != mentioned_by
    ]
    return notify_many(session, items)


def notify_like(
    session: Session,
    owner_id: int,
    liker_id: int,
    content_type: str,
    content_id: int | str | None = None,
) -> int | None:
    """Tell the owner someone liked their content; liking your own content says nothing."""
    liker = _name(session, liker_id)
    if liker is None or liker_id == owner_id:
        return None
    target = _target(content_type, content_id)
    return notify(
        session,
        NewNotification(
            user_id=owner_id,
            kind="like",
            title=f"{liker} liked your {content_type}",
            message=f"{liker} liked your {content_type}.",
            related_user_id=liker_id,
            data={"content_type": content_type, "content_id": content_id},
            dedupe_key=f"like:{target}:{liker_id}:{owner_id}",
        ),
    )


def notify_comment(
    session: Session,
    owner_id: int,
    commenter_id: int,
    content_type: str,
    content_id: int | str | None = None,
    comment_id: int | str | None = None,
) -> int | None:
    """Tell the owner about a comment: one notification per comment when its id is known."""
    commenter = _name(session, commenter_id)
    if commenter is None or commenter_id == owner_id:
        return None
    about = f"comment:{comment_id}" if comment_id is not None else f"{commenter_id}"
    return notify(
        session,
        NewNotification(
            user_id=owner_id,
            kind="comment",
            title=f"{commenter} commented on your {content_type}",
            message=f"{commenter} commented on your {content_type}.",
            related_user_id=commenter_id,
            data={"content_type": content_type, "content_id": content_id, "comment_id": comment_id},
            dedupe_key=f"comment:{_target(content_type, content_id)}:{about}:{owner_id}",
        ),
    )


def _target(content_type: str, content_id: int | str | None) -> str:
    return f"{content_type}:{content_id if content_id is not None else '-'}"


def _name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.full_name).where(User.id == user_id))


def resume_analyzed(resume: Resume) -> NewNotification:
    """What the candidate is told once their resume was read, or why it could not be."""
    if resume.parse_status == ParseStatus.PARSED:
        title = "Your resume was analyzed"
        message = f"We found {len(resume.skills)} skills in your resume."
    else:
        title = "We could not read your resume"
        reason = resume.failure_reason or "the file could not be read"
        message = f"{reason[:1].upper()}{reason[1:]}. Please upload it again."
    return NewNotification(
        user_id=resume.user_id,
        kind="resume_analyzed",
        title=title,
        message=message,
        data={"resume_id": resume.id, "status": resume.parse_status.value},
        dedupe_key=f"resume_analyzed:{resume.id}",
    )


# --- reading and cleanup ------------------------------------------------------------------


def mark_all_read(
    session: Session, user_id: int, now: datetime, *, up_to_id: int | None = None
) -> int:
    """Mark the user's unread notifications read (those up to `up_to_id`, if given)."""
    statement = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    if up_to_id is not None:
        statement = statement.where(Notification.id <= up_to_id)
    return session.execute(statement).rowcount


def delete_read(session: Session, cutoff: datetime, *, limit: int) -> int:
    """Delete up to `limit` read notifications created before `cutoff`; short transactions."""
    doomed = (
        select(Notification.id)
        .where(Notification.read_at.is_not(None), Notification.created_at < cutoff)
        .limit(limit)
        .scalar_subquery()
    )
    return session.execute(delete(Notification).where(Notification.id.in_(doomed))).rowcount


def unread_count(session: Session, user_id: int) -> int:
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return session.scalar(query) or 0


def defer_notification(session: Session, item: NewNotification) -> int | None:
    """Defer `notifications.send` for `item` unless it exists or a job for it is waiting.

    For chains: a step that runs twice asks for its notification twice, and one job (and
    one row, by the dedupe key) comes of it. The text goes in a payload row, the job
    carries its id (privacy/payloads.py).
    """
    # Imported here: the task module imports this service.
    from hiring_jobs.tasks.notifications import send_notification

    key = item.dedupe_key or content_key(item)
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == key)):
        return None
    try:
        with session.begin_nested():
            payload_id = _store(session, dataclasses.replace(item, dedupe_key=key))
            return defer(
                session,
                send_notification,
                options={"queueing_lock": f"notification:{key}"},
                payload_id=payload_id,
            )
    except AlreadyEnqueued:
        return None


def defer_batch(session: Session, items: Iterable[NewNotification]) -> int:
    """Defer one `notifications.send_batch` job for `items`; returns its job id."""
    from hiring_jobs.tasks.notifications import send_batch  # imports this service

    payload_ids = [_store(session, item) for item in items]
    return defer(session, send_batch, payload_ids=payload_ids)


def load(session: Session, payload_id: int) -> NewNotification:
    """The notification a `send` or `send_batch` job carries by payload id."""
    [item] = parse_items([payloads.load(session, payload_id, PAYLOAD_KIND)])
    return item


def _store(session: Session, item: NewNotification) -> int:
    # parse_items (used by `load`) reads `kind` as well as the seed's `notification_type`.
    content = dataclasses.asdict(item)
    return payloads.store(session, PAYLOAD_KIND, content, subject_user_id=item.user_id)
