"""The periodic tasks: what runs when (UTC) on which queue, `hiring-jobs schedule`, and
Procrastinate deferring each tick once however many workers' deferrers see it."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime

from click.testing import CliRunner
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app
from hiring_jobs.queue.execution import execution_of
from hiring_jobs.queue.time_limits import DEFAULT, LONG
from hiring_jobs.schedules import periodic_schedule, schedule
from tests.support.jobs import jobs

# From the seeds: hourly, every 6 hours, daily (09:00 digest, 00:00 stats and log retention,
# 02:00 file cleanup; the other dailies off-peak) and Monday 00:00.
EXPECTED = {
    ("achievements.check_all", "0 * * * *", "default"),
    ("analytics.cache_platform_stats", "0 * * * *", "analytics"),
    ("maintenance.cleanup_expired_tokens", "0 * * * *", "maintenance"),
    ("maintenance.record_health_check", "0 * * * *", "maintenance"),
    ("analytics.analyze_quiz_performance", "0 */6 * * *", "analytics"),
    ("notifications.send_daily_digests", "0 9 * * *", "notifications"),
    ("analytics.generate_daily_stats", "0 0 * * *", "analytics"),
    ("maintenance.purge_job_history", "0 0 * * *", "maintenance"),
    ("privacy.enforce_retention", "30 1 * * *", "maintenance"),  # personal-data retention
    ("documents.cleanup_files", "0 2 * * *", "documents"),
    ("notifications.cleanup_read", "0 3 * * *", "notifications"),
    ("recommendations.generate_daily", "0 4 * * *", "recommendations"),
    ("analytics.generate_weekly_report", "0 0 * * 1", "analytics"),
    ("documents.cleanup_old_pdfs", "0 0 * * 1", "documents"),
}
NOW = datetime(2024, 6, 3, 8, 30, tzinfo=UTC)  # a Monday


def test_the_schedule_lists_the_seeds_periodic_tasks_and_every_other_one() -> None:
    entries = periodic_schedule(NOW)
    listed = {(e.task, e.cron, str(e.queue)) for e in entries}
    assert listed >= EXPECTED
    assert len(entries) == len(app.periodic_registry.periodic_tasks)  # queue.* ones too


def test_each_family_periodic_task_takes_the_tick_timestamp_first() -> None:
    for task, _, _ in EXPECTED:
        parameters = list(inspect.signature(app.tasks[task].func).parameters)
        if app.tasks[task].pass_context:  # the job's context comes before the arguments
            parameters = parameters[1:]
        assert parameters[0] == "timestamp", task


def test_fan_outs_reports_and_cleanups_get_the_long_time_limits() -> None:
    quick = {
        "maintenance.cleanup_expired_tokens",
        "maintenance.record_health_check",
        "analytics.analyze_quiz_performance",
    }
    for task, _, _ in EXPECTED:
        assert execution_of(app.tasks[task]).limits == (DEFAULT if task in quick else LONG), task


def test_next_runs_are_utc_cron_times() -> None:
    by_task = {entry.task: entry.next_runs for entry in periodic_schedule(NOW)}

    assert by_task["notifications.send_daily_digests"] == (
        datetime(2024, 6, 3, 9, 0, tzinfo=UTC),
        datetime(2024, 6, 4, 9, 0, tzinfo=UTC),
        datetime(2024, 6, 5, 9, 0, tzinfo=UTC),
    )
    assert by_task["analytics.analyze_quiz_performance"][0] == datetime(2024, 6, 3, 12, tzinfo=UTC)
    assert by_task["analytics.generate_weekly_report"] == tuple(
        datetime(2024, 6, day, tzinfo=UTC) for day in (10, 17, 24)
    )


def test_the_schedule_command_prints_the_table() -> None:
    result = CliRunner().invoke(schedule, ["--from", "2024-06-03T08:30"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "task:periodic_id", "cron", "(UTC)", "queue", "next", "runs", "(UTC)",
    ]  # fmt: skip
    assert len(lines) == 1 + len(app.periodic_registry.periodic_tasks)
    digest = next(line for line in lines if line.startswith("notifications.send_daily_digests"))
    assert "0 9 * * *" in digest and "notifications" in digest
    assert digest.endswith("2024-06-03 09:00, 2024-06-04 09:00, 2024-06-05 09:00")


def test_the_command_refuses_a_malformed_time() -> None:
    result = CliRunner().invoke(schedule, ["--from", "next tuesday"])
    assert result.exit_code == 2 and "--from" in result.output


def test_a_tick_seen_by_two_workers_is_deferred_once(
    session_factory: sessionmaker[Session],
) -> None:
    periodic = next(
        p
        for p in app.periodic_registry.periodic_tasks.values()
        if p.task.name == "maintenance.record_health_check"
    )
    tick = int(NOW.timestamp())

    async def two_deferrers() -> None:
        async with app.open_async():
            for _ in range(2):  # each worker runs its own deferrer
                await PeriodicDeferrer(app.periodic_registry).defer_jobs([(periodic, tick)])

    asyncio.run(two_deferrers())

    with session_factory() as session:
        [job] = jobs(session, "maintenance.record_health_check")
    assert job["args"] == {"timestamp": tick}
    assert job["queue_name"] == "maintenance"
