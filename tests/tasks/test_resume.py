"""The resume chain and group run by a real worker: upload -> parse -> fit -> achievements ->
notification; batch parse -> summary; analyze pending; cleanup of deleted resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.resume as resume_tasks
from hiring_jobs.demo.resume_pdfs import DEMO_CANDIDATES, write_encrypted_pdf, write_resume_pdf
from hiring_jobs.models import (
    AchievementUnlock,
    AnalyticsSnapshot,
    Application,
    JobGroup,
    Notification,
    ParseStatus,
    RecommendationCache,
    Resume,
    StoredFile,
)
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.status import job_status
from hiring_jobs.services.resumes import create_resume
from hiring_jobs.settings import get_settings
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs, run_worker_until_idle

CHAIN_QUEUES = ["resume", "default", "notifications", "recommendations"]


@pytest.fixture(scope="module")
def resume_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("pdfs") / "resume.pdf"
    return write_resume_pdf(DEMO_CANDIDATES[0], path).read_bytes()


def _upload(session: Session, user_id: int, data: bytes) -> Resume:
    return create_resume(
        session,
        get_settings().files_dir,
        user_id=user_id,
        data=data,
        filename="cv.pdf",
        max_bytes=10**7,
    )


def _statuses(session_factory: sessionmaker[Session]) -> dict[str, list[str]]:
    with session_factory() as session:
        found: dict[str, list[str]] = {}
        for job in jobs(session):
            found.setdefault(job["task_name"], []).append(job["status"])
        return found


def test_an_upload_runs_the_whole_chain(
    session_factory: sessionmaker[Session], resume_pdf: bytes
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        posting = make_posting(session, required_skills=["Python", "PostgreSQL"])
        resume = _upload(session, user.id, resume_pdf)
        session.add(
            Application(candidate_id=user.id, job_posting_id=posting.id, resume_id=resume.id)
        )
        defer(session, resume_tasks.parse_resume, resume_id=resume.id)

    run_worker_until_idle(queues=CHAIN_QUEUES)

    statuses = _statuses(session_factory)
    for task in (
        "resume.parse",
        "resume.analyze_candidate_fit",
        "achievements.check_user",
        "notifications.send",
        "recommendations.generate_for_user",
    ):
        assert statuses[task] == ["succeeded"], task
    assert statuses["email.send_achievement_unlocked"] == ["todo"] * 3
    with session_factory() as session:
        application = session.scalars(select(Application)).one()
        codes = sorted(u.achievement.code for u in session.scalars(select(AchievementUnlock)))
        kinds = sorted(session.scalars(select(Notification.kind)))
        cached = session.scalars(select(RecommendationCache)).all()
    assert application.fit_score is not None
    # The parse added the resume's skills to the profile: 5 or more unlock "skilled".
    assert codes == ["first_application", "resume_uploaded", "skilled"]
    assert kinds == ["achievement"] * 3 + ["resume_analyzed"]
    assert len(cached) == 5


def test_parsing_twice_gives_one_of_everything(
    session_factory: sessionmaker[Session], resume_pdf: bytes
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        resume_id = _upload(session, user.id, resume_pdf).id
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, resume_tasks.parse_resume, resume_id=resume_id)

    run_worker_until_idle(queues=CHAIN_QUEUES)

    statuses = _statuses(session_factory)
    assert statuses["resume.parse"] == ["succeeded"] * 2
    assert statuses["email.send_achievement_unlocked"] == ["todo"] * 2
    with session_factory() as session:
        codes = sorted(u.achievement.code for u in session.scalars(select(AchievementUnlock)))
        assert codes == ["resume_uploaded", "skilled"]
        assert len(session.scalars(select(Notification)).all()) == 3  # 2 achievements, resume


def test_an_unreadable_resume_tells_the_candidate_why(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    data = write_encrypted_pdf(tmp_path / "locked.pdf").read_bytes()
    with session_factory() as session, session.begin():
        user = make_user(session)
        resume_id = _upload(session, user.id, data).id
        defer(session, resume_tasks.parse_resume, resume_id=resume_id)

    run_worker_until_idle(queues=CHAIN_QUEUES)

    with session_factory() as session:
        notice = session.scalars(
            select(Notification).where(Notification.kind == "resume_analyzed")
        ).one()
    assert notice.title == "We could not read your resume"
    assert notice.message == "The PDF is password-protected. Please upload it again."


def test_a_batch_parse_ends_with_one_summary(
    session_factory: sessionmaker[Session], resume_pdf: bytes, tmp_path: Path
) -> None:
    locked = write_encrypted_pdf(tmp_path / "locked.pdf").read_bytes()
    with session_factory() as session, session.begin():
        user = make_user(session)
        ids = [_upload(session, user.id, data).id for data in (resume_pdf, resume_pdf, locked)]
        batch = defer(session, resume_tasks.batch_parse, resume_ids=[*ids, ids[0], 999_999])

    run_worker_until_idle(queues=["resume"], concurrency=3)
    run_worker_until_idle(queues=["resume"])  # the summary, deferred by the last member

    with session_factory() as session:
        group = session.scalars(select(JobGroup)).one()
        summary = session.scalars(select(AnalyticsSnapshot)).one()
    assert (group.total, group.finished, group.failed) == (4, 4, 1)  # 999999 does not exist
    assert group.completion_job_id is not None
    assert summary.kind == "resume_batch_summary"
    assert summary.data["by_status"] == {"parsed": 2, "failed": 1}
    assert summary.data["missing"] == 1
    statuses = _statuses(session_factory)
    assert statuses["resume.summarize_batch"] == ["succeeded"]
    assert sorted(statuses["resume.parse"]) == ["failed"] + ["succeeded"] * 3
    with session_factory() as session:
        reported = job_status(session, batch)
    assert reported is not None and reported.progress is not None, "the group's progress"
    assert (reported.progress["done"], reported.progress["total"]) == (4, 4)
    assert reported.progress["message"] == "4 of 4 done, 1 failed"

    # The summary running again (a duplicate completion) updates the same report.
    with session_factory() as session, session.begin():
        defer(session, resume_tasks.summarize_batch, group_id=group.id, resume_ids=ids)
    run_worker_until_idle(queues=["resume"])
    with session_factory() as session:
        assert [s.id for s in session.scalars(select(AnalyticsSnapshot))] == [summary.id]

    # The same batch job running again (a worker died after its commit) starts nothing new.
    with session_factory() as session, session.begin():
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'todo' WHERE id = :id"), {"id": batch}
        )
    run_worker_until_idle(queues=["resume"])
    with session_factory() as session:
        assert len(session.scalars(select(JobGroup)).all()) == 1
    assert len(_statuses(session_factory)["resume.parse"]) == 4


def test_analyze_pending_defers_one_parse_per_pending_resume(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        waiting, alone = Resume(user_id=user.id), Resume(user_id=user.id)
        session.add_all([waiting, alone, Resume(user_id=user.id, parse_status=ParseStatus.PARSED)])
        session.flush()
        defer(session, resume_tasks.parse_resume, resume_id=waiting.id)
        # Run elsewhere than the parse jobs, so both runs happen before any parse does.
        for _ in range(2):
            defer(session, resume_tasks.analyze_pending, options={"queue": "maintenance"})

    run_worker_until_idle(queues=["maintenance"])

    with session_factory() as session:
        parses = jobs(session, "resume.parse")
        runs = jobs(session, "resume.analyze_pending")
    assert [job["status"] for job in runs] == ["succeeded"] * 2
    assert [(job["args"]["resume_id"], job["status"]) for job in parses] == [
        (waiting.id, "todo"),
        (alone.id, "todo"),
    ]


def test_soft_deleted_resumes_are_removed_after_the_retention(
    session_factory: sessionmaker[Session], resume_pdf: bytes
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session, session.begin():
        user = make_user(session)
        old, recent = _upload(session, user.id, resume_pdf), _upload(session, user.id, resume_pdf)
        old.deleted_at, recent.deleted_at = now - timedelta(days=91), now - timedelta(days=3)
        old_path = session.get(StoredFile, old.file_id).path  # type: ignore[union-attr]
        recent_id = recent.id
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, resume_tasks.cleanup_deleted, days=90)

    run_worker_until_idle(queues=["maintenance"])

    with session_factory() as session:
        assert session.scalars(select(Resume.id)).all() == [recent_id]
        assert len(session.scalars(select(StoredFile)).all()) == 1
    assert not (get_settings().files_dir / old_path).exists()
