"""Analytics against real PostgreSQL: each figure checked on data built for it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    ActivityEvent,
    AnalyticsSnapshot,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Course,
    CourseEnrollment,
    ParseStatus,
    QuizAttempt,
    Resume,
    StoredFile,
    UserRole,
    UserSkill,
)
from hiring_jobs.services import analytics
from tests.support.factories import make_posting, make_user

NOW = datetime(2024, 6, 5, 12, 0, tzinfo=UTC)  # a Wednesday


def test_a_snapshot_is_kept_once_per_kind_user_and_period(session: Session) -> None:
    day = datetime(2024, 6, 3, tzinfo=UTC)
    first, created = analytics.save_snapshot(session, "k", {"n": 1}, period_start=day)
    again, created_again = analytics.save_snapshot(session, "k", {"n": 2}, period_start=day)
    other, created_other = analytics.save_snapshot(session, "k", {"n": 3})

    assert (created, created_again, created_other) == (True, False, True)
    assert again.id == first.id and again.data == {"n": 2} and other.id != first.id
    assert analytics.claim_tick(session, "t", day) is not None
    assert analytics.claim_tick(session, "t", day) is None
    assert analytics.claim_tick(session, "t", day + timedelta(hours=1)) is not None


def test_platform_stats(session: Session) -> None:
    recruiter = make_user(session, role=UserRole.RECRUITER)
    active = make_user(session, last_active_at=NOW - timedelta(days=1))
    make_user(session, last_active_at=NOW - timedelta(days=60))
    posting = make_posting(session, required_skills=["Python", "SQL"], recruiter_id=recruiter.id)
    make_posting(session, required_skills=["Python"])
    session.add(Application(candidate_id=active.id, job_posting_id=posting.id, fit_score=80))
    session.add(UserSkill(user_id=active.id, skill="Python"))
    course = Course(title="SQL")
    session.add(course)
    session.flush()
    session.add(CourseEnrollment(user_id=active.id, course_id=course.id, completed_at=NOW))
    session.flush()

    stats = analytics.platform_stats(session, NOW)

    assert stats["users"]["total"] == 3 and stats["users"]["active"] == 1
    assert stats["users"]["by_role"] == {"recruiter": 1, "candidate": 2}
    assert stats["jobs"]["applications"] == 1 and stats["jobs"]["average_fit_score"] == 80
    assert stats["jobs"]["most_applied"][0]["job_posting_id"] == posting.id
    assert stats["skills"]["most_demanded"] == [
        {"skill": "Python", "postings": 2},
        {"skill": "SQL", "postings": 1},
    ]
    assert stats["skills"]["most_common"] == [{"skill": "Python", "users": 1}]
    assert stats["courses"]["completion_rate"] == 1.0
    json.dumps(stats)  # storable as jsonb


def test_user_analytics(session: Session) -> None:
    user = make_user(session, points=30)
    session.add_all(
        [
            QuizAttempt(user_id=user.id, quiz="sql", score=5, max_score=10),
            QuizAttempt(user_id=user.id, quiz="sql", score=10, max_score=10),
            ActivityEvent(user_id=user.id, kind="login", occurred_at=NOW - timedelta(days=1)),
            ActivityEvent(user_id=user.id, kind="login", occurred_at=NOW - timedelta(days=90)),
        ]
    )
    session.flush()

    data = analytics.user_analytics(session, user.id, NOW)

    assert data is not None
    assert (data["points"], data["quiz_attempts"], data["quiz_average_percent"]) == (30, 2, 75.0)
    assert data["activity_30d"] == {"login": 1}
    assert analytics.user_analytics(session, 999_999, NOW) is None


def test_the_heatmap_counts_events_per_weekday_and_hour(session: Session) -> None:
    user = make_user(session)
    monday_9 = datetime(2024, 6, 3, 9, 15, tzinfo=UTC)
    for moment in (monday_9, monday_9, monday_9 + timedelta(days=2, hours=2), NOW + timedelta(1)):
        session.add(ActivityEvent(user_id=user.id, kind="view", occurred_at=moment))
    session.flush()

    heatmap = analytics.activity_heatmap(session, monday_9 - timedelta(days=1), NOW)

    assert heatmap["matrix"][0][9] == 2 and heatmap["matrix"][2][11] == 1
    assert heatmap["total"] == 3
    assert heatmap["busiest"] == {"weekday": 1, "hour": 9, "events": 2}


def test_user_growth_per_week_with_running_total(session: Session) -> None:
    for created in ("2024-05-01", "2024-05-20", "2024-05-22", "2024-06-04"):
        make_user(session, created_at=datetime.fromisoformat(created).replace(tzinfo=UTC))

    growth = analytics.user_growth(session, date(2024, 5, 20), 3)

    assert growth["weeks"] == [
        {"week": "2024-05-20", "new_users": 2, "total_users": 3},
        {"week": "2024-05-27", "new_users": 0, "total_users": 3},
        {"week": "2024-06-03", "new_users": 1, "total_users": 4},
    ]
    assert growth["week_over_week_percent"] == [None, -100.0, None]


def test_quiz_performance_lists_the_hardest_quiz_first(session: Session) -> None:
    first, second = make_user(session), make_user(session)
    for user, quiz, score in (
        (first, "sql", 10),
        (second, "sql", 6),
        (first, "python", 3),
        (first, "python", 5),
    ):
        session.add(
            QuizAttempt(user_id=user.id, quiz=quiz, score=score, max_score=10, taken_at=NOW)
        )
    session.flush()

    result = analytics.quiz_performance(session, NOW - timedelta(days=1), NOW + timedelta(1))

    python, sql = result["quizzes"]
    assert (python["quiz"], python["average_percent"], python["pass_rate"]) == ("python", 40.0, 0)
    assert (sql["users"], sql["median_percent"], sql["pass_rate"], sql["perfect_scores"]) == (
        2,
        80.0,
        0.5,
        1,
    )
    assert result["attempts"] == 4


def test_period_stats_count_only_the_period(session: Session) -> None:
    start, end = NOW - timedelta(days=1), NOW
    inside, before = start + timedelta(hours=1), start - timedelta(hours=1)
    user = make_user(session, created_at=inside)
    make_user(session, created_at=before)
    application = Application(
        candidate_id=user.id, job_posting_id=make_posting(session).id, created_at=inside
    )
    session.add(application)
    session.flush()
    session.add(
        ApplicationStatusChange(
            application_id=application.id, to_status=ApplicationStatus.HIRED, changed_at=inside
        )
    )
    session.add(Resume(user_id=user.id, parse_status=ParseStatus.FAILED, parsed_at=inside))
    session.add(ActivityEvent(user_id=user.id, kind="login", occurred_at=inside))
    session.flush()
    job_id = session.scalar(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status)"
            " VALUES ('default', 't', 'succeeded') RETURNING id"
        )
    )
    session.execute(
        text("INSERT INTO procrastinate_events (job_id, type, at) VALUES (:id, 'succeeded', :at)"),
        {"id": job_id, "at": inside},
    )

    stats = analytics.period_stats(session, start, end)

    assert stats["new_users"] == 1 and stats["active_users"] == 1
    assert (stats["applications"], stats["hires"], stats["resumes_failed"]) == (1, 1, 1)
    assert (stats["jobs_succeeded"], stats["jobs_failed"]) == (1, 0)
    report = analytics.report_stats(session, start, end)
    assert report["total_users"] == 2 and report["open_job_postings"] == 0  # posted "now"


def test_the_daily_series_includes_days_without_events(session: Session) -> None:
    make_user(session, created_at=datetime(2024, 6, 2, 23, 59, tzinfo=UTC))

    series = analytics.daily_series(session, date(2024, 6, 1), date(2024, 6, 3))

    assert [(row["day"], row["new_users"]) for row in series] == [
        ("2024-06-01", 0),
        ("2024-06-02", 1),
        ("2024-06-03", 0),
    ]


def test_an_export_writes_json_and_csv_once_per_day(session: Session, tmp_path: Path) -> None:
    make_user(session, created_at=datetime(2024, 6, 2, tzinfo=UTC))

    snapshot, created = analytics.export_snapshot(session, tmp_path, date(2024, 6, 3), days=3)
    again, created_again = analytics.export_snapshot(session, tmp_path, date(2024, 6, 3), days=3)

    assert (created, created_again, again.id) == (True, False, snapshot.id)
    json_file = session.get(StoredFile, snapshot.json_file_id)
    csv_file = session.get(StoredFile, snapshot.csv_file_id)
    assert json_file is not None and csv_file is not None
    document = json.loads((tmp_path / json_file.path).read_text())
    assert [row["new_users"] for row in document["daily"]] == [0, 1, 0]
    rows = list(csv.DictReader(io.StringIO((tmp_path / csv_file.path).read_text())))
    assert rows[1] == {
        "day": "2024-06-02",
        "new_users": "1",
        "applications": "0",
        "resumes_uploaded": "0",
        "active_users": "0",
    }
    assert (json_file.original_name, csv_file.content_type) == (
        "analytics-2024-06-03.json",
        "text/csv",
    )
    assert len(session.scalars(select(StoredFile)).all()) == 2
    assert len(session.scalars(select(AnalyticsSnapshot)).all()) == 1


def test_a_resume_batch_summary(session: Session) -> None:
    user = make_user(session)
    parsed = Resume(user_id=user.id, parse_status=ParseStatus.PARSED, skills=["Python", "Go"])
    other = Resume(user_id=user.id, parse_status=ParseStatus.PARSED, skills=["Python"])
    failed = Resume(user_id=user.id, parse_status=ParseStatus.FAILED, failure_reason="encrypted")
    session.add_all([parsed, other, failed])
    session.flush()

    summary = analytics.resume_batch_summary(session, [parsed.id, other.id, failed.id, 999_999])

    assert summary["by_status"] == {"parsed": 2, "failed": 1}
    assert (summary["missing"], summary["average_skills"]) == (1, 1.5)
    assert summary["common_skills"][0] == {"skill": "Python", "resumes": 2}
    assert summary["failure_reasons"] == {"encrypted": 1}
