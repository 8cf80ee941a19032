"""Which rows and jobs are about a person: derived from the inventory, through every kind of id."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import hiring_jobs.tasks  # noqa: F401  (registers the task names deferred below)
from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    FileKind,
    Notification,
    Resume,
)
from hiring_jobs.privacy import inventory, payloads
from hiring_jobs.privacy.subjects import (
    NoSuchUser,
    about_condition,
    get_user,
    jobs_about,
    row_ids_about,
    rows_about,
)
from hiring_jobs.queue.defer import defer
from hiring_jobs.services.files import store_file
from tests.support.factories import make_posting, make_user


def _resume(session: Session, files_dir: Path, user_id: int) -> Resume:
    stored = store_file(
        session,
        files_dir,
        kind=FileKind.RESUME,
        data=b"%PDF-1.4 test",
        content_type="application/pdf",
        owner_id=user_id,
    )
    resume = Resume(user_id=user_id, file_id=stored.id)
    session.add(resume)
    session.flush()
    return resume


def test_jobs_about_follow_every_kind_of_id_argument(session: Session, tmp_path: Path) -> None:
    ada, bob = make_user(session), make_user(session)
    resume = _resume(session, tmp_path, ada.id)
    application = Application(candidate_id=ada.id, job_posting_id=make_posting(session).id)
    session.add(application)
    session.flush()
    change = ApplicationStatusChange(
        application_id=application.id, to_status=ApplicationStatus.SCREENING
    )
    session.add(change)
    payload_for_bob_about_ada = payloads.store(
        session, "notification", {"related_user_id": ada.id}, subject_user_id=bob.id
    )
    payload_for_bob = payloads.store(session, "notification", {}, subject_user_id=bob.id)
    bobs_notification_naming_ada = Notification(
        user_id=bob.id, related_user_id=ada.id, kind="like", message="Ada liked your post"
    )
    session.add(bobs_notification_naming_ada)
    session.flush()

    about_ada = {
        defer(session, "email.send_welcome", user_id=ada.id),
        defer(
            session,
            "notifications.notify_like",
            user_id=bob.id,
            liker_id=ada.id,
            content_type="post",
        ),
        defer(session, "resume.parse", resume_id=resume.id),
        defer(session, "resume.batch_parse", resume_ids=[999_999, resume.id]),
        defer(session, "documents.generate_thumbnail", file_id=resume.file_id),
        defer(session, "resume.analyze_candidate_fit", application_id=application.id),
        defer(
            session,
            "email.send_application_status",
            application_id=application.id,
            status_change_id=change.id,
        ),
        defer(session, "notifications.send", payload_id=payload_for_bob_about_ada),
        defer(session, "notifications.send_batch", payload_ids=[payload_for_bob_about_ada]),
        defer(
            session,
            "notifications.notify_mentions",
            user_ids=[bob.id, ada.id],
            mention_type="post",
            content_id=1,
        ),
    }
    about_bob_only = {
        defer(session, "email.send_welcome", user_id=bob.id),
        defer(session, "notifications.send", payload_id=payload_for_bob),
        defer(
            session,
            "notifications.mark_all_read",
            user_id=bob.id,
            up_to_id=bobs_notification_naming_ada.id,
        ),
    }
    about_nobody = {
        defer(session, "resume.batch_parse", resume_ids=[999_999]),
        defer(session, "analytics.cache_platform_stats", timestamp=ada.id),  # a value, not an id
    }
    session.commit()

    found = jobs_about(session, ada.id)

    assert set(found) == about_ada
    assert found == sorted(found)
    assert about_bob_only <= set(jobs_about(session, bob.id))
    assert not about_nobody & set(jobs_about(session, bob.id))


def test_no_jobs_no_documents(session: Session) -> None:
    lonely = make_user(session)
    assert jobs_about(session, lonely.id) == []


def test_rows_about_use_every_subject_expression(session: Session) -> None:
    ada, bob = make_user(session), make_user(session)
    mine = Notification(user_id=ada.id, kind="x", message="for ada")
    liked_by_ada = Notification(
        user_id=bob.id, kind="like", message="ada liked", related_user_id=ada.id
    )
    unrelated = Notification(user_id=bob.id, kind="x", message="for bob")
    session.add_all([mine, liked_by_ada, unrelated])
    session.flush()
    table = inventory.table("notifications")

    rows = rows_about(session, table, ada.id)

    assert {row["id"] for row in rows} == {mine.id, liked_by_ada.id}
    assert row_ids_about(session, table, ada.id) == sorted([mine.id, liked_by_ada.id])
    assert about_condition(table, owner_only=True) == "(user_id) = %(subject_id)s"


def test_the_user_id_is_always_a_bound_parameter() -> None:
    for table in inventory.TABLES:
        condition = about_condition(table)
        if condition is not None:
            assert "%(subject_id)s" in condition
            assert "%" not in condition.replace("%(subject_id)s", "")


def test_an_unknown_user_is_a_clear_error(session: Session) -> None:
    with pytest.raises(NoSuchUser, match="no user with id 424242"):
        get_user(session, 424242)
