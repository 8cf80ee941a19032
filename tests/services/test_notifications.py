"""The notification service against real PostgreSQL: fan-out, dedupe, read marks, cleanup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hiring_jobs.models import Notification
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import notifications
from hiring_jobs.services.notifications import NewNotification
from tests.support.factories import make_user
from tests.support.jobs import jobs


def _rows(session: Session) -> list[Notification]:
    return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_notification_with_the_same_content_is_stored_once(session: Session) -> None:
    user = make_user(session)
    item = NewNotification(user_id=user.id, kind="job_match", title="Match", message="New match")

    first = notifications.notify(session, item)
    second = notifications.notify(session, item)
    other = notifications.notify(session, NewNotification(user.id, "job_match", "Match", "Other"))

    assert first is not None and second is None and other not in (None, first)
    assert len(_rows(session)) == 2


def test_an_explicit_dedupe_key_allows_the_same_text_twice(session: Session) -> None:
    user = make_user(session)
    for week in ("2024-W23", "2024-W24", "2024-W24"):
        notifications.notify(
            session, NewNotification(user.id, "tip", "Tip", "Update your profile", dedupe_key=week)
        )
    assert [n.dedupe_key for n in _rows(session)] == ["2024-W23", "2024-W24"]


def test_mentions_fan_out_to_each_user_once_and_never_to_the_author(session: Session) -> None:
    author = make_user(session, full_name="Grace Hopper")
    ada, alan = make_user(session), make_user(session)

    created = notifications.notify_mentions(
        session, [ada.id, alan.id, ada.id, author.id, 999_999], "post", 5, mentioned_by=author.id
    )
    again = notifications.notify_mentions(session, [ada.id, alan.id], "post", 5, author.id)

    assert len(created) == 2 and again == []
    rows = _rows(session)
    assert sorted(n.user_id for n in rows) == sorted([ada.id, alan.id])
    assert {n.message for n in rows} == {"Grace Hopper mentioned you in a post."}
    assert {n.related_user_id for n in rows} == {author.id}
    assert rows[0].data == {"mention_type": "post", "content_id": 5}


def test_a_like_notifies_the_owner_and_a_self_like_does_not(session: Session) -> None:
    owner, liker = make_user(session), make_user(session, full_name="Linus")

    assert notifications.notify_like(session, owner.id, liker.id, "post", 3) is not None
    assert notifications.notify_like(session, owner.id, liker.id, "post", 3) is None
    assert notifications.notify_like(session, owner.id, owner.id, "post", 3) is None
    assert notifications.notify_like(session, owner.id, 999_999, "post", 3) is None

    [row] = _rows(session)
    assert (row.user_id, row.kind, row.title) == (owner.id, "like", "Linus liked your post")


def test_each_comment_with_an_id_is_its_own_notification(session: Session) -> None:
    owner, commenter = make_user(session), make_user(session)
    for comment_id in (1, 2, 2):
        notifications.notify_comment(session, owner.id, commenter.id, "post", 8, comment_id)
    assert len(_rows(session)) == 2


def test_batch_items_are_validated(session: Session) -> None:
    with pytest.raises(PermanentError, match="notification 1 is malformed"):
        notifications.parse_items([{"user_id": 1, "message": "ok", "kind": "x"}, {"user_id": 2}])


def test_mark_all_read_spares_notifications_after_up_to_id(session: Session) -> None:
    user, other = make_user(session), make_user(session)
    ids = [
        notifications.notify(session, NewNotification(user.id, "x", "t", f"m{n}")) for n in range(3)
    ]
    notifications.notify(session, NewNotification(other.id, "x", "t", "theirs"))
    now = datetime.now(UTC)

    assert notifications.mark_all_read(session, user.id, now, up_to_id=ids[1]) == 2
    assert notifications.unread_count(session, user.id) == 1
    assert notifications.unread_count(session, other.id) == 1
    assert notifications.mark_all_read(session, user.id, now) == 1


def test_delete_read_removes_only_old_read_notifications(session: Session) -> None:
    user = make_user(session)
    now = datetime.now(UTC)
    for age_days, read in ((40, True), (40, False), (5, True), (45, True)):
        session.add(
            Notification(
                user_id=user.id,
                kind="x",
                message=f"{age_days} {read}",
                created_at=now - timedelta(days=age_days),
                read_at=now if read else None,
            )
        )
    session.flush()

    assert notifications.delete_read(session, now - timedelta(days=30), limit=1) == 1
    assert notifications.delete_read(session, now - timedelta(days=30), limit=10) == 1
    assert sorted(n.message for n in _rows(session)) == ["40 False", "5 True"]


def test_defer_notification_defers_one_job_until_the_row_exists(session: Session) -> None:
    user = make_user(session)
    item = NewNotification(user.id, "resume_analyzed", "Done", "Parsed", dedupe_key="r:1")

    first = notifications.defer_notification(session, item)
    second = notifications.defer_notification(session, item)  # the first still waits
    assert first is not None and second is None
    assert len(jobs(session, "notifications.send")) == 1

    # As if the job had run: it succeeded and its row exists.
    session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded'"))
    notifications.notify(session, item)
    assert notifications.defer_notification(session, item) is None
    assert len(jobs(session, "notifications.send")) == 1
