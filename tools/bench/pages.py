"""Benchmark every admin page and API list call on a large job table.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hj_bench python -m tools.bench.pages

Migrates the database, seeds it with generate_series (1,000,000 jobs by default, 200,000
of them failed, with their events and attempts), uses the indexes of migration 0005
(`--no-indexes` drops them to measure without), then times each URL through the Flask test
client and prints p50/p95 in milliseconds. It refuses a database that already has jobs,
unless `--reuse` says to measure what is there. Never run it against production.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable

import psycopg
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hiring_jobs.db import make_engine
from hiring_jobs.queue import throughput

# The indexes the pages rely on (migrations 0005, 0011, 0019); `--no-indexes` drops them
# (and fails if one is missing: a renamed index must be renamed here too).
ADMIN_INDEXES = (
    "hj_jobs_finished_status_id",
    "hj_jobs_finished_queue_status_id",
    "hj_jobs_finished_task_status_id",
    "hj_jobs_lock_id",
    "hj_jobs_args_finished",
    "hj_events_type_at",
)

# Jobs spread over the last two days, one id per defer, in order.
SEED_JOBS = """
INSERT INTO procrastinate_jobs (id, queue_name, task_name, priority, lock, args, status, attempts)
SELECT i,
       (ARRAY['resume','resume','email','email','email','notifications','recommendations',
              'analytics'])[1 + i %% 8],
       (ARRAY['resume.parse','resume.analyze_candidate_fit','email.send_application_status',
              'email.send_welcome','email.send_job_match','notifications.send',
              'recommendations.refresh','analytics.daily_snapshot'])[1 + i %% 8],
       0,
       CASE WHEN i %% 100 = 0 THEN 'user-' || (i %% 5000) END,
       jsonb_build_object('application_id', i %% 50000, 'user_id', i %% 20000),
       CAST(CASE WHEN i %% 5 = 0 THEN 'failed'
                 WHEN i > %(total)s - %(todo)s THEN 'todo'
                 ELSE 'succeeded' END AS procrastinate_job_status),
       CASE WHEN i > %(total)s - %(todo)s THEN 0 ELSE 1 END
FROM generate_series(1, %(total)s) AS i
"""

# deferred / started / finished events: the time of job i is proportional to i.
SEED_EVENTS = """
INSERT INTO procrastinate_events (job_id, type, at)
SELECT j.id, e.type, now() - interval '48 hours'
       + (interval '48 hours' * j.id / %(total)s) + e.delay
FROM procrastinate_jobs j
CROSS JOIN LATERAL (VALUES
    (CAST('started' AS procrastinate_job_event_type), interval '1 second'),
    (CAST(j.status::text AS procrastinate_job_event_type), interval '2 seconds')
) AS e(type, delay)
WHERE j.status IN ('succeeded', 'failed')
UNION ALL
SELECT j.id, 'deferred', now() - interval '48 hours' + (interval '48 hours' * j.id / %(total)s)
FROM procrastinate_jobs j WHERE j.status <> 'todo'
"""

# An attempt for every failed job (five kinds of error) and for the last 6 hours' successes.
SEED_ATTEMPTS = """
INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome, started_at, finished_at,
                          duration_ms, exception_type, error_message, traceback,
                          error_fingerprint, worker_name, hostname, pid)
SELECT j.id, 1, j.task_name, j.queue_name, CAST(j.status AS text),
       now() - interval '48 hours' + (interval '48 hours' * j.id / %(total)s),
       now() - interval '48 hours' + (interval '48 hours' * j.id / %(total)s) + interval '2 s',
       50 + (j.id %% 2000),
       CASE WHEN j.status = 'failed' THEN (ARRAY['RuntimeError','TimeoutError','SMTPDataError',
            'PermanentError','KeyError'])[1 + j.id %% 5] END,
       CASE WHEN j.status = 'failed' THEN 'failure kind ' || (j.id %% 5) || ' on item ' || j.id END,
       CASE WHEN j.status = 'failed' THEN 'Traceback (most recent call last):' || chr(10)
            || '  File "task.py", line 10, in run' || chr(10) || 'RuntimeError: failure' END,
       CASE WHEN j.status = 'failed' THEN md5('kind' || (j.id %% 5)) END,
       'bench-host-' || (j.id %% 4), 'bench-host', 1000 + j.id %% 4
FROM procrastinate_jobs j
WHERE j.status = 'failed'
   OR (j.status = 'succeeded' AND j.id > %(total)s - %(total)s / 8)
"""

DEAD_LETTER_ERRORS = """
UPDATE dead_letters d
SET failed_at = a.finished_at, exception_type = a.exception_type,
    error_message = a.error_message, error_fingerprint = a.error_fingerprint
FROM job_attempts a
WHERE a.job_id = d.job_id
"""


def seed(url: str, total: int, todo: int) -> None:
    params = {"total": total, "todo": todo}
    with psycopg.connect(url, autocommit=True) as conn:
        for label, sql in (
            ("jobs", SEED_JOBS),
            ("events", SEED_EVENTS),
            ("attempts", SEED_ATTEMPTS),
        ):
            started = time.perf_counter()
            conn.execute(sql, params)
            print(f"  seeded {label} in {time.perf_counter() - started:.1f} s", flush=True)
        conn.execute(
            "SELECT setval('procrastinate_jobs_id_seq', (SELECT max(id) FROM procrastinate_jobs))"
        )
        # The jobs were inserted before their attempts (the trigger found no error then):
        # give each dead letter its attempt's error.
        started = time.perf_counter()
        conn.execute(DEAD_LETTER_ERRORS)
        print(f"  dead letters in {time.perf_counter() - started:.1f} s", flush=True)


def prepare(url: str, *, indexes: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name in () if indexes else ADMIN_INDEXES:
            conn.execute(f"DROP INDEX {name}")
            print(f"  dropped index {name}", flush=True)
        conn.execute("VACUUM ANALYZE")
    # What the workers' periodic queue.rollup_throughput would have done over the day.
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        throughput.rollup(session)
    engine.dispose()


def job_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()
    return int(row[0]) if row else 0


def measure(call: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    call()  # warm up (templates, plans)
    timings = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        status = call()
        timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=20, method="inclusive")
    return statistics.median(timings), cuts[18], status


def cases(client: FlaskClient, total: int) -> list[tuple[str, Callable[[], int]]]:
    middle = total // 2
    gets = [
        "/admin/",
        "/admin/jobs",
        "/admin/jobs?status=failed",
        f"/admin/jobs?status=failed&before={middle}",
        "/admin/jobs?queue=email&status=succeeded",
        "/admin/jobs?task=resume.parse",
        "/admin/jobs?lock=user-42",
        "/admin/jobs?args=application_id%3D123",
        "/admin/jobs?since=2000-01-01T00:00&until=2100-01-01T00:00&status=failed",
        f"/admin/jobs/{middle - middle % 5}",
        "/admin/dead-letters",
        "/admin/dead-letters/jobs",
        "/admin/periodic",
        "/admin/workers",
        "/admin/outbox",
        "/admin/audit",
        "/api/jobs",
        "/api/jobs?status=failed&queue=email",
        "/api/jobs?args=application_id%3D123",
        f"/api/jobs/{middle}/status",
        "/api/stats",
        "/api/workers",
        "/api/dead-letters",
        "/api/dead-letters/groups",
        "/health/detailed",
        "/metrics",
    ]
    found: list[tuple[str, Callable[[], int]]] = [
        (url, lambda url=url: client.get(url).status_code) for url in gets
    ]
    with client.session_transaction() as session:
        token = session["csrf"]
    found.append(
        (
            "POST /api/jobs/bulk (preview: retry all failed)",
            lambda: (
                client.post(
                    "/api/jobs/bulk",
                    json={"action": "retry", "filter": {"status": "failed"}},
                    headers={"X-CSRF-Token": token},
                ).status_code
            ),
        )
    )
    return found


def logged_in_client(url: str) -> FlaskClient:
    password = secrets.token_urlsafe(16)
    os.environ["DATABASE_URL"] = url
    from hiring_jobs import db
    from hiring_jobs.access import accounts
    from hiring_jobs.models import AccountRole
    from hiring_jobs.settings import get_settings

    for cached in (get_settings, db.database_url, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    with db.session_scope() as session:
        accounts.put(session, "bench", AccountRole.OPERATOR, password, by="tools.bench.pages")
    from web import create_app

    client = create_app({"TESTING": True}).test_client()
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    response = client.post(
        "/login", data={"username": "bench", "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, "login failed"
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--todo", type=int, default=5_000, help="jobs left waiting")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per URL")
    parser.add_argument("--no-indexes", action="store_true", help="measure without them")
    parser.add_argument("--reuse", action="store_true", help="measure the jobs already there")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("set DATABASE_URL to a scratch database", file=sys.stderr)
        return 2

    from hiring_jobs import schema

    schema.upgrade(url)
    existing = job_count(url)
    if existing and not args.reuse:
        print(f"the database already has {existing:,} jobs: use --reuse", file=sys.stderr)
        return 2
    total = existing or args.jobs
    if not existing:
        print(f"seeding {args.jobs:,} jobs ({args.jobs // 5:,} failed)...", flush=True)
        seed(url, args.jobs, args.todo)
    prepare(url, indexes=not args.no_indexes)

    client = logged_in_client(url)
    print(f"\n{'call':<72} {'p50 ms':>8} {'p95 ms':>8} {'status':>6}")
    for label, call in cases(client, total):
        p50, p95, status = measure(call, args.repeat)
        print(f"{label:<72} {p50:>8.1f} {p95:>8.1f} {status:>6}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
