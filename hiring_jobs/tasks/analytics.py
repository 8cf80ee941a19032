"""Analytics tasks: cached platform and user analytics, heatmap, growth, quizzes, reports.

Each result is an `analytics_snapshots` row keyed by (kind, user, period); a periodic task's
period derives from its tick, so a re-run of the same tick updates the same row, and the
report emails are deferred only by the run that created the report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.queue import retry
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.queue.job_progress import TaskContext
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import analytics, email
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]
DAY = timedelta(days=1)


_task = TaskFamily("analytics", Queue.ANALYTICS, retry.DEFAULT, Priority.LOW).task


def _saved(snapshot_and_created: tuple[Any, bool]) -> Result:
    snapshot, created = snapshot_and_created
    return {"snapshot_id": snapshot.id, "created": created}


@app.periodic(cron="0 * * * *", periodic_id="hourly")
@_task("cache_platform_stats", long=True)
def cache_platform_stats(timestamp: int) -> Result:
    """Platform, job, skill, course, mentoring and resume figures for the dashboard."""
    now = analytics.tick_time(timestamp)
    with db.session_scope() as session:
        data = analytics.platform_stats(session, now)
        return _saved(analytics.save_snapshot(session, "platform_stats", data, period_start=now))


@_task("cache_user_analytics")
def cache_user_analytics(user_id: int) -> Result:
    now = datetime.now(UTC)
    with db.session_scope() as session:
        data = analytics.user_analytics(session, user_id, now)
        if data is None:
            return {"skipped": f"user {user_id} does not exist"}
        day = analytics.day_start(now)
        return _saved(
            analytics.save_snapshot(
                session, "user_analytics", data, user_id=user_id, period_start=day
            )
        )


# NORMAL: ahead of the LOW per-user jobs it defers, so a duplicate finds them still waiting.
@_task("cache_all_user_analytics", Priority.NORMAL, long=True)
def cache_all_user_analytics() -> Result:
    """One `analytics.cache_user_analytics` job per active user (none if one is waiting)."""
    with db.session_scope() as session:
        users = analytics.active_user_ids(session, datetime.now(UTC))
        return {"users": len(users), "deferred": analytics.request_user_analytics(session, users)}


@_task("generate_activity_heatmap")
def generate_activity_heatmap(days: int = 30) -> Result:
    """Events per weekday and hour over the last `days` days, today included."""
    end = analytics.day_start(datetime.now(UTC)) + DAY
    start = end - days * DAY
    with db.session_scope() as session:
        data = analytics.activity_heatmap(session, start, end)
        return _saved(
            analytics.save_snapshot(
                session, "activity_heatmap", data, period_start=start, period_end=end
            )
        )


@_task("generate_user_growth_report")
def generate_user_growth_report(weeks: int = 12) -> Result:
    """Weekly sign-ups and running totals for the last `weeks` ISO weeks, this one included."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    start = datetime.combine(first, datetime.min.time(), UTC)
    with db.session_scope() as session:
        data = analytics.user_growth(session, first, weeks)
        end = start + timedelta(weeks=weeks)
        return _saved(
            analytics.save_snapshot(
                session, "user_growth", data, period_start=start, period_end=end
            )
        )


@app.periodic(cron="0 */6 * * *", periodic_id="every_6_hours")
@_task("analyze_quiz_performance")
def analyze_quiz_performance(timestamp: int, days: int = 30) -> Result:
    end = analytics.tick_time(timestamp)
    start = end - days * DAY
    with db.session_scope() as session:
        data = analytics.quiz_performance(session, start, end)
        return _saved(
            analytics.save_snapshot(
                session, "quiz_performance", data, period_start=start, period_end=end
            )
        )


@app.periodic(cron="0 0 * * *", periodic_id="daily")
@_task("generate_daily_stats", long=True)
def generate_daily_stats(timestamp: int) -> Result:
    """The figures of the UTC day that ended at this tick."""
    end = analytics.day_start(analytics.tick_time(timestamp))
    with db.session_scope() as session:
        data = analytics.period_stats(session, end - DAY, end)
        return _saved(
            analytics.save_snapshot(
                session, "daily_stats", data, period_start=end - DAY, period_end=end
            )
        )


@_task("generate_daily_report", long=True)
def generate_daily_report(day: str | None = None) -> Result:
    """The report of `day` (ISO date; default yesterday), emailed to every administrator."""
    start = datetime.combine(_day(day), datetime.min.time(), UTC)
    with db.session_scope() as session:
        stats = analytics.report_stats(session, start, start + DAY)
        snapshot, created = analytics.save_snapshot(
            session, "daily_report", stats, period_start=start, period_end=start + DAY
        )
        if created:
            _email_daily_report(session, start.date(), stats)
        return {"snapshot_id": snapshot.id, "created": created}


def _email_daily_report(session: Session, day: date, stats: analytics.Stats) -> None:
    body = analytics.report_text(f"Platform report for {day.isoformat()} (UTC)", stats)
    for user_id, name, address in analytics.admins(session):
        email.queue_message(
            session,
            to=email.address(name, address),
            subject=f"{email.APP_NAME} daily report, {day.isoformat()}",
            body=body,
            idempotency_key=f"daily_report:{day.isoformat()}:{user_id}",
        )


@app.periodic(cron="0 0 * * 1", periodic_id="weekly")
@_task("generate_weekly_report", long=True, pass_context=True)
def generate_weekly_report(context: TaskContext, timestamp: int) -> Result:
    """The ISO week before this tick's, emailed to administrators (email.send_weekly_report)."""
    today = analytics.tick_time(timestamp).date()
    end = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), UTC)
    start = end - 7 * DAY
    context.progress(0, 3, "computing the week's figures")
    with db.session_scope() as session:
        stats = analytics.report_stats(session, start, end)
        context.progress(1, 3, "saving the report")
        snapshot, created = analytics.save_snapshot(
            session, "weekly_report", stats, period_start=start, period_end=end
        )
        context.progress(2, 3, "deferring the report emails")
        if created:  # a re-run of the tick finds the report and defers no second email
            week_start = start.date().isoformat()
            batch_defer(
                session,
                "email.send_weekly_report",
                [
                    {"user_id": admin, "week_start": week_start, "stats": stats}
                    for admin, _, _ in analytics.admins(session)
                ],
            )
        context.progress(3, 3, "report saved")
        return {"snapshot_id": snapshot.id, "created": created}


@_task("export_snapshot", long=True, pass_context=True)
def export_snapshot(context: TaskContext, day: str | None = None, days: int = 30) -> Result:
    """JSON (platform stats and daily series) and CSV (daily series) files for `day`."""
    export_day = _day(day)
    context.progress(0, 1, f"exporting {days} days up to {export_day}")
    with db.session_scope() as session:
        snapshot, created = analytics.export_snapshot(
            session, get_settings().files_dir, export_day, days=days
        )
        context.progress(1, 1, "export written")
        return {
            "snapshot_id": snapshot.id,
            "created": created,
            "json_file_id": snapshot.json_file_id,
            "csv_file_id": snapshot.csv_file_id,
        }


def _day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date() - DAY
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PermanentError(f"not an ISO date: {value!r}") from None
