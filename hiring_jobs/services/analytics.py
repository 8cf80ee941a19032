"""Analytics: platform and per-user statistics, heatmaps, growth, quizzes, reports, exports.

Every figure is a SQL aggregate (COUNT ... FILTER, GROUP BY, window functions): nothing loops
over rows in Python. Results are kept as `analytics_snapshots` rows, one per (kind, user,
period): computing a snapshot again for the same period updates that row instead of adding
one, so a re-run or a duplicated job leaves the same end state.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import ColumnElement, Float, and_, cast, extract, func, select
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    AchievementUnlock,
    ActivityEvent,
    AnalyticsSnapshot,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Connection,
    Course,
    CourseEnrollment,
    FileKind,
    JobPosting,
    MentoringSession,
    Notification,
    ParseStatus,
    PostingStatus,
    QuizAttempt,
    Resume,
    StoredFile,
    User,
    UserRole,
    UserSkill,
)
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import files
from hiring_jobs.sql import ANALYTICS, QUEUE, run

# Who counts as active: enabled, and seen in the last 30 days.
ACTIVE_WINDOW = timedelta(days=30)
# A quiz counts as passed at this share of the maximum score.
PASS_RATIO = 0.7
TOP = 10
USER_ANALYTICS_TASK = "analytics.cache_user_analytics"

Stats = dict[str, int | float | str]


# --- shared helpers -----------------------------------------------------------------------


def active_filter(now: datetime) -> ColumnElement[bool]:
    return and_(User.is_active.is_(True), User.last_active_at >= now - ACTIVE_WINDOW)


def active_user_ids(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(User.id).where(active_filter(now)).order_by(User.id)))


def admins(session: Session) -> list[tuple[int, str, str]]:
    """(id, name, email) of every active administrator: who receives the reports."""
    query = select(User.id, User.full_name, User.email).where(
        User.role == UserRole.ADMIN, User.is_active.is_(True)
    )
    return [(row.id, row.full_name, row.email) for row in session.execute(query.order_by(User.id))]


def xact_lock(session: Session, key: str) -> None:
    """Serialise transactions working on `key` until the caller's transaction ends.

    For "look, then insert" on tables without a unique key for it (snapshots, generated
    files): the second transaction waits, then sees what the first one committed.
    """
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def tick_time(timestamp: int) -> datetime:
    """The datetime of a periodic tick (Procrastinate passes epoch seconds)."""
    return datetime.fromtimestamp(timestamp, UTC)


def _number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return round(float(value), 2)
    return round(value, 2) if isinstance(value, float) else int(value)


def _counts(rows: Any) -> dict[str, int]:
    return {str(key): int(count) for key, count in rows}


# --- snapshots ----------------------------------------------------------------------------


def save_snapshot(
    session: Session,
    kind: str,
    data: Mapping[str, Any],
    *,
    user_id: int | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> tuple[AnalyticsSnapshot, bool]:
    """Insert or update the snapshot for (kind, user, period); True when it is new."""
    snapshot = find_snapshot(
        session, kind, user_id=user_id, period_start=period_start, period_end=period_end
    )
    if snapshot is not None:
        snapshot.data = dict(data)
        session.flush()
        return snapshot, False
    snapshot = AnalyticsSnapshot(
        kind=kind,
        user_id=user_id,
        period_start=period_start,
        period_end=period_end,
        data=dict(data),
    )
    session.add(snapshot)
    session.flush()
    return snapshot, True


def find_snapshot(
    session: Session,
    kind: str,
    *,
    user_id: int | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> AnalyticsSnapshot | None:
    """The snapshot for (kind, user, period), locking the key for the rest of the transaction."""
    xact_lock(session, f"snapshot:{kind}:{user_id}:{period_start}:{period_end}")
    return session.scalars(
        select(AnalyticsSnapshot)
        .where(
            AnalyticsSnapshot.kind == kind,
            AnalyticsSnapshot.user_id.is_not_distinct_from(user_id),
            AnalyticsSnapshot.period_start.is_not_distinct_from(period_start),
            AnalyticsSnapshot.period_end.is_not_distinct_from(period_end),
        )
        .order_by(AnalyticsSnapshot.id)
        .limit(1)
    ).first()


def save_keyed_snapshot(
    session: Session, kind: str, key: str, data: Mapping[str, Any]
) -> tuple[AnalyticsSnapshot, bool]:
    """Insert or update the snapshot of `kind` named `key` (kept as data["key"])."""
    xact_lock(session, f"snapshot:{kind}:{key}")
    snapshot = session.scalars(
        select(AnalyticsSnapshot)
        .where(AnalyticsSnapshot.kind == kind, AnalyticsSnapshot.data["key"].astext == key)
        .order_by(AnalyticsSnapshot.id)
        .limit(1)
    ).first()
    if snapshot is not None:
        snapshot.data = {**data, "key": key}
        session.flush()
        return snapshot, False
    snapshot = AnalyticsSnapshot(kind=kind, data={**data, "key": key})
    session.add(snapshot)
    session.flush()
    return snapshot, True


def claim_tick(session: Session, task_name: str, tick: datetime) -> AnalyticsSnapshot | None:
    """Record that `task_name` ran for `tick`; None when an earlier run already did.

    Fan-out tasks (one job per user) claim their tick in the transaction that defers the
    jobs: a second run of the same tick finds the record and defers nothing.
    """
    kind = f"run:{task_name}"[:50]
    if find_snapshot(session, kind, period_start=tick) is not None:
        return None
    snapshot, _ = save_snapshot(session, kind, {}, period_start=tick)
    return snapshot


# --- platform -----------------------------------------------------------------------------


def platform_stats(session: Session, now: datetime) -> dict[str, Any]:
    """Users, jobs, skills, courses, mentoring and resumes, as the admin dashboard shows them."""
    return {
        "computed_at": now.isoformat(),
        "users": _user_stats(session, now),
        "jobs": _job_stats(session),
        "skills": _skill_stats(session),
        "courses": _course_stats(session),
        "mentoring": _mentoring_stats(session),
        "resumes": _resume_stats(session),
    }


def _user_stats(session: Session, now: datetime) -> dict[str, Any]:
    total, active, new = session.execute(
        select(
            func.count(),
            func.count().filter(active_filter(now)),
            func.count().filter(User.created_at >= now - timedelta(days=7)),
        )
    ).one()
    by_role = session.execute(select(User.role, func.count()).group_by(User.role))
    return {"total": total, "active": active, "new_7d": new, "by_role": _counts(by_role)}


def _job_stats(session: Session) -> dict[str, Any]:
    open_postings, postings = session.execute(
        select(func.count().filter(JobPosting.status == PostingStatus.OPEN), func.count())
    ).one()
    applications, average_fit = session.execute(
        select(func.count(), func.avg(Application.fit_score))
    ).one()
    by_status = session.execute(
        select(Application.status, func.count()).group_by(Application.status)
    )
    popular = session.execute(
        select(JobPosting.id, JobPosting.title, JobPosting.company, func.count(Application.id))
        .join(Application, Application.job_posting_id == JobPosting.id)
        .group_by(JobPosting.id)
        .order_by(func.count(Application.id).desc(), JobPosting.id)
        .limit(5)
    )
    return {
        "postings": postings,
        "open_postings": open_postings,
        "applications": applications,
        "average_fit_score": _number(average_fit),
        "applications_by_status": _counts(by_status),
        "most_applied": [
            {"job_posting_id": pid, "title": title, "company": company, "applications": n}
            for pid, title, company, n in popular
        ],
    }


def _skill_stats(session: Session) -> dict[str, Any]:
    held = session.execute(
        select(UserSkill.skill, func.count())
        .group_by(UserSkill.skill)
        .order_by(func.count().desc(), UserSkill.skill)
        .limit(TOP)
    )
    demanded = demanded_skills(session, limit=TOP)
    return {
        "most_common": [{"skill": skill, "users": n} for skill, n in held],
        "most_demanded": [{"skill": skill, "postings": n} for skill, n in demanded],
    }


def demanded_skills(session: Session, *, limit: int) -> list[tuple[str, int]]:
    """Skills required by open postings, most wanted first."""
    skill = func.unnest(JobPosting.required_skills).label("skill")
    wanted = select(skill).where(JobPosting.status == PostingStatus.OPEN).subquery()
    rows = session.execute(
        select(wanted.c.skill, func.count())
        .group_by(wanted.c.skill)
        .order_by(func.count().desc(), wanted.c.skill)
        .limit(limit)
    )
    return [(name, int(n)) for name, n in rows]


def _course_stats(session: Session) -> dict[str, Any]:
    courses = session.scalar(select(func.count()).select_from(Course)) or 0
    enrollments, completions = session.execute(
        select(func.count(), func.count(CourseEnrollment.completed_at))
    ).one()
    popular = session.execute(
        select(Course.id, Course.title, func.count(CourseEnrollment.id))
        .join(CourseEnrollment, CourseEnrollment.course_id == Course.id)
        .group_by(Course.id)
        .order_by(func.count(CourseEnrollment.id).desc(), Course.id)
        .limit(5)
    )
    rate = round(completions / enrollments, 3) if enrollments else 0.0
    return {
        "courses": courses,
        "enrollments": enrollments,
        "completions": completions,
        "completion_rate": rate,
        "most_popular": [
            {"course_id": cid, "title": title, "enrollments": n} for cid, title, n in popular
        ],
    }


def _mentoring_stats(session: Session) -> dict[str, Any]:
    by_status = session.execute(
        select(MentoringSession.status, func.count()).group_by(MentoringSession.status)
    )
    mentors = session.scalar(select(func.count()).where(User.role == UserRole.MENTOR)) or 0
    return {"mentors": mentors, "sessions_by_status": _counts(by_status)}


def _resume_stats(session: Session) -> dict[str, Any]:
    by_status = session.execute(
        select(Resume.parse_status, func.count())
        .where(Resume.deleted_at.is_(None))
        .group_by(Resume.parse_status)
    )
    average_skills = session.scalar(
        select(func.avg(func.cardinality(Resume.skills))).where(
            Resume.parse_status == ParseStatus.PARSED
        )
    )
    return {"by_status": _counts(by_status), "average_skills": _number(average_skills)}


# --- one user -----------------------------------------------------------------------------


def user_analytics(session: Session, user_id: int, now: datetime) -> dict[str, Any] | None:
    """What one user did: applications, learning, network, activity. None if no such user."""
    user = session.get(User, user_id)
    if user is None:
        return None
    since = now - ACTIVE_WINDOW
    applications, average_fit = session.execute(
        select(func.count(), func.avg(Application.fit_score)).where(
            Application.candidate_id == user_id
        )
    ).one()
    by_status = session.execute(
        select(Application.status, func.count())
        .where(Application.candidate_id == user_id)
        .group_by(Application.status)
    )
    activity = session.execute(
        select(ActivityEvent.kind, func.count())
        .where(ActivityEvent.user_id == user_id, ActivityEvent.occurred_at >= since)
        .group_by(ActivityEvent.kind)
    )
    return {
        "points": user.points,
        "applications": applications,
        "average_fit_score": _number(average_fit),
        "applications_by_status": _counts(by_status),
        **_user_counts(session, user_id),
        **_quiz_summary(session, user_id),
        "activity_30d": _counts(activity),
    }


def request_user_analytics(session: Session, user_ids: list[int]) -> int:
    """Defer a per-user analytics job for each user without one waiting; how many deferred."""
    deferred = 0
    for user_id in user_ids:
        try:
            options: Any = {"queueing_lock": f"user_analytics:{user_id}"}
            defer(session, USER_ANALYTICS_TASK, options=options, user_id=user_id)
        except AlreadyEnqueued:
            continue
        deferred += 1
    return deferred


def _user_counts(session: Session, user_id: int) -> dict[str, int]:
    def count(model: Any, *where: ColumnElement[bool]) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    enrolled = CourseEnrollment.user_id == user_id
    row = session.execute(
        select(
            count(Resume, Resume.user_id == user_id, Resume.deleted_at.is_(None)),
            count(UserSkill, UserSkill.user_id == user_id),
            count(CourseEnrollment, enrolled),
            count(CourseEnrollment, enrolled, CourseEnrollment.completed_at.is_not(None)),
            count(Connection, Connection.user_id == user_id),
            count(MentoringSession, MentoringSession.mentee_id == user_id),
            count(MentoringSession, MentoringSession.mentor_id == user_id),
            count(AchievementUnlock, AchievementUnlock.user_id == user_id),
            count(Notification, Notification.user_id == user_id, Notification.read_at.is_(None)),
        )
    ).one()
    names = (
        "resumes",
        "skills",
        "courses_enrolled",
        "courses_completed",
        "connections",
        "mentoring_as_mentee",
        "mentoring_as_mentor",
        "achievements",
        "unread_notifications",
    )
    return dict(zip(names, (int(value) for value in row), strict=True))


def _quiz_summary(session: Session, user_id: int) -> dict[str, Any]:
    attempts, average = session.execute(
        select(func.count(), func.avg(_quiz_ratio())).where(QuizAttempt.user_id == user_id)
    ).one()
    return {"quiz_attempts": attempts, "quiz_average_percent": _percent(average)}


def _quiz_ratio() -> ColumnElement[float]:
    return cast(QuizAttempt.score, Float) / func.nullif(QuizAttempt.max_score, 0)


def _percent(ratio: Any) -> float:
    return round(float(ratio) * 100, 1) if ratio is not None else 0.0


# --- activity heatmap and growth ----------------------------------------------------------


def activity_heatmap(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Events per ISO weekday (rows, Monday first) and UTC hour (columns)."""
    utc = func.timezone("UTC", ActivityEvent.occurred_at)
    weekday = extract("isodow", utc).label("weekday")
    hour = extract("hour", utc).label("hour")
    rows = session.execute(
        select(weekday, hour, func.count())
        .where(ActivityEvent.occurred_at >= start, ActivityEvent.occurred_at < end)
        .group_by(weekday, hour)
    )
    matrix = [[0] * 24 for _ in range(7)]
    for day, hour_of_day, count in rows:
        matrix[int(day) - 1][int(hour_of_day)] = int(count)
    total = sum(map(sum, matrix))
    busiest = max(
        ((day, hour_of_day) for day in range(7) for hour_of_day in range(24)),
        key=lambda cell: matrix[cell[0]][cell[1]],
    )
    return {
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "matrix": matrix,
        "total": total,
        "busiest": {
            "weekday": busiest[0] + 1,
            "hour": busiest[1],
            "events": matrix[busiest[0]][busiest[1]],
        },
    }


def user_growth(session: Session, first_week: date, weeks: int) -> dict[str, Any]:
    """Sign-ups per ISO week (Monday start) and the running total, for `weeks` weeks."""
    start = datetime.combine(first_week, time(), UTC)
    end = start + timedelta(weeks=weeks)
    before = session.scalar(select(func.count()).where(User.created_at < start)) or 0
    rows = run(
        session,
        ANALYTICS["user_growth"],
        {
            "start": first_week,
            "end": end.date(),
            "start_ts": start,
            "end_ts": end,
            "before": before,
        },
    )
    series = [
        {"week": week.isoformat(), "new_users": int(new), "total_users": int(total)}
        for week, new, total in rows
    ]
    previous = [row["new_users"] for row in series]
    growth = [
        round((now - prev) / prev * 100, 1) if prev else None
        for prev, now in itertools.pairwise(previous)
    ]
    return {"weeks": series, "week_over_week_percent": [None, *growth][: len(series)]}


# --- quizzes ------------------------------------------------------------------------------


def quiz_performance(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Per quiz: attempts, people, average and median score, pass and perfect rates."""
    ratio = _quiz_ratio()
    rows = session.execute(
        select(
            QuizAttempt.quiz,
            func.count(),
            func.count(func.distinct(QuizAttempt.user_id)),
            func.avg(ratio),
            func.percentile_cont(0.5).within_group(ratio),
            func.count().filter(ratio >= PASS_RATIO),
            func.count().filter(QuizAttempt.score == QuizAttempt.max_score),
        )
        .where(QuizAttempt.taken_at >= start, QuizAttempt.taken_at < end)
        .group_by(QuizAttempt.quiz)
        .order_by(func.avg(ratio), QuizAttempt.quiz)
    )
    quizzes = [
        {
            "quiz": quiz,
            "attempts": attempts,
            "users": users,
            "average_percent": _percent(average),
            "median_percent": _percent(median),
            "pass_rate": round(passed / attempts, 3),
            "perfect_scores": perfect,
        }
        for quiz, attempts, users, average, median, passed, perfect in rows
    ]
    return {
        "quizzes": quizzes,  # hardest first
        "attempts": sum(q["attempts"] for q in quizzes),
        "pass_ratio": PASS_RATIO,
    }


# --- periods: daily stats, daily and weekly reports ---------------------------------------


def period_stats(session: Session, start: datetime, end: datetime) -> Stats:
    """What happened in [start, end): flat figures, as the reports show them."""

    def within(column: Any) -> ColumnElement[bool]:
        return and_(column >= start, column < end)

    def count(model: Any, *where: ColumnElement[bool]) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    row = session.execute(
        select(
            count(User, within(User.created_at)),
            select(func.count(func.distinct(ActivityEvent.user_id)))
            .where(within(ActivityEvent.occurred_at))
            .scalar_subquery(),
            count(Application, within(Application.created_at)),
            count(
                ApplicationStatusChange,
                within(ApplicationStatusChange.changed_at),
                ApplicationStatusChange.to_status == ApplicationStatus.HIRED,
            ),
            count(Resume, within(Resume.created_at)),
            count(Resume, within(Resume.parsed_at), Resume.parse_status == ParseStatus.PARSED),
            count(Resume, within(Resume.parsed_at), Resume.parse_status == ParseStatus.FAILED),
            count(CourseEnrollment, within(CourseEnrollment.enrolled_at)),
            count(CourseEnrollment, within(CourseEnrollment.completed_at)),
            count(QuizAttempt, within(QuizAttempt.taken_at)),
            count(MentoringSession, within(MentoringSession.created_at)),
            count(Notification, within(Notification.created_at)),
            count(JobPosting, within(JobPosting.created_at)),
        )
    ).one()
    names = (
        "new_users",
        "active_users",
        "applications",
        "hires",
        "resumes_uploaded",
        "resumes_parsed",
        "resumes_failed",
        "course_enrollments",
        "course_completions",
        "quiz_attempts",
        "mentoring_requests",
        "notifications",
        "new_job_postings",
    )
    stats: Stats = dict(zip(names, (int(value) for value in row), strict=True))
    jobs = _counts(run(session, QUEUE["finished_job_counts"], {"start": start, "end": end}))
    stats["jobs_succeeded"] = jobs.get("succeeded", 0)
    stats["jobs_failed"] = jobs.get("failed", 0)
    return stats


def report_stats(session: Session, start: datetime, end: datetime) -> Stats:
    """`period_stats` plus the platform's size at `end`, for the daily and weekly reports."""
    users, postings = session.execute(
        select(
            select(func.count()).where(User.created_at < end).scalar_subquery(),
            select(func.count())
            .where(JobPosting.status == PostingStatus.OPEN, JobPosting.created_at < end)
            .scalar_subquery(),
        )
    ).one()
    return {
        **period_stats(session, start, end),
        "total_users": users,
        "open_job_postings": postings,
    }


def report_text(title: str, stats: Mapping[str, int | float | str]) -> str:
    """A plain-text report body: one aligned line per figure, sorted by name."""
    width = max((len(name) for name in stats), default=0)
    lines = [f"{name.replace('_', ' ').ljust(width)}  {stats[name]}" for name in sorted(stats)]
    return "\n".join([title, "", *lines]) + "\n"


# --- exports ------------------------------------------------------------------------------

SERIES_COLUMNS = ("day", "new_users", "applications", "resumes_uploaded", "active_users")


def daily_series(session: Session, first: date, last: date) -> list[dict[str, Any]]:
    """One row per UTC day from `first` to `last` (inclusive), zeros included."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    rows = run(
        session,
        ANALYTICS["daily_series"],
        {"first": first, "last": last, "start": start, "end": end},
    )
    return [
        dict(zip(SERIES_COLUMNS, (day.isoformat(), *map(int, counts)), strict=True))
        for day, *counts in rows
    ]


def export_snapshot(
    session: Session, files_dir: Path, day: date, *, days: int = 30
) -> tuple[AnalyticsSnapshot, bool]:
    """Write the platform stats (JSON) and the daily series (CSV) of the `days` up to `day`.

    One export per day: a second call returns the first one and writes no file.
    """
    period_start = datetime.combine(day - timedelta(days=days - 1), time(), UTC)
    period_end = datetime.combine(day + timedelta(days=1), time(), UTC)
    existing = find_snapshot(session, "export", period_start=period_start, period_end=period_end)
    if existing is not None:
        return existing, False
    series = daily_series(session, period_start.date(), day)
    document = {"day": day.isoformat(), "platform": platform_stats(session, period_end)}
    document["daily"] = series
    json_file = _store_export(session, files_dir, f"analytics-{day}.json", _json(document))
    csv_file = _store_export(session, files_dir, f"analytics-{day}.csv", _csv(series))
    summary = {"day": day.isoformat(), "days": days, "rows": len(series)}
    snapshot, _ = save_snapshot(
        session, "export", summary, period_start=period_start, period_end=period_end
    )
    snapshot.json_file_id, snapshot.csv_file_id = json_file.id, csv_file.id
    session.flush()
    return snapshot, True


def _store_export(session: Session, files_dir: Path, name: str, data: bytes) -> StoredFile:
    content_type = "application/json" if name.endswith(".json") else "text/csv"
    return files.store_file(
        session,
        files_dir,
        kind=FileKind.EXPORT,
        data=data,
        content_type=content_type,
        original_name=name,
    )


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True).encode()


def _csv(series: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SERIES_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(series)
    return buffer.getvalue().encode()


# --- resume batches -----------------------------------------------------------------------


def resume_batch_summary(session: Session, resume_ids: list[int]) -> dict[str, Any]:
    """How a batch of resumes parsed: per status, average skills, most common skills."""
    in_batch = Resume.id.in_(resume_ids)
    by_status = _counts(
        session.execute(
            select(Resume.parse_status, func.count()).where(in_batch).group_by(Resume.parse_status)
        )
    )
    average = session.scalar(
        select(func.avg(func.cardinality(Resume.skills))).where(
            in_batch, Resume.parse_status == ParseStatus.PARSED
        )
    )
    skill = func.unnest(Resume.skills).label("skill")
    found = select(skill).where(in_batch).subquery()
    common = session.execute(
        select(found.c.skill, func.count())
        .group_by(found.c.skill)
        .order_by(func.count().desc(), found.c.skill)
        .limit(TOP)
    )
    failures = session.execute(
        select(Resume.failure_reason, func.count())
        .where(in_batch, Resume.parse_status == ParseStatus.FAILED)
        .group_by(Resume.failure_reason)
    )
    return {
        "resumes": len(resume_ids),
        "by_status": by_status,
        "missing": len(resume_ids) - sum(by_status.values()),
        "average_skills": _number(average),
        "common_skills": [{"skill": name, "resumes": n} for name, n in common],
        "failure_reasons": _counts(failures),
    }
