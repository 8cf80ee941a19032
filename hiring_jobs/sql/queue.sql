-- Every statement of hiring_jobs that reads or writes procrastinate_* tables, functions or
-- types (Procrastinate's own queries are in its sql/queries.sql). The list to re-check on
-- a Procrastinate upgrade; tests/sql/test_named_sql.py prepares each against the schema.
-- The worker's fetch and its fenced finish and retry are at the end.

-- job_status --
-- One job with the outcome of its last recorded attempt, its current run's start and its progress (queue/status.py)
-- A running job's attempt is written at its end: its start is the latest `started` event.
SELECT j.id, j.task_name, j.queue_name, j.status, j.attempts, j.scheduled_at,
       a.result, a.exception_type, a.error_message, a.outcome,
       CASE WHEN j.status = 'doing'
            THEN (SELECT max(e.at) FROM procrastinate_events e
                   WHERE e.job_id = j.id AND e.type = 'started')
            ELSE a.started_at END AS started_at,
       p.done, p.total, p.message, p.updated_at AS progress_at
FROM procrastinate_jobs j
LEFT JOIN job_progress p ON p.job_id = j.id
LEFT JOIN LATERAL (
    SELECT result, exception_type, error_message, outcome, started_at
    FROM job_attempts WHERE job_id = j.id
    -- The order of ux_job_attempts_run: "ORDER BY id DESC" alone let the planner walk the
    -- primary key backwards from the newest attempt, through every later job's rows.
    ORDER BY attempt DESC, id DESC LIMIT 1
) a ON true
WHERE j.id = %(id)s;

-- job_retryable --
-- A job's status, and whether its worker stopped heartbeating (operations.retry)
SELECT j.status,
       (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(stalled_after)s))
           AS stalled
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.id = %(id)s;

-- stop_jobs --
-- Cancel waiting jobs among the ids; with abort, ask running ones to stop; count by status
SELECT status::text, count(procrastinate_cancel_job_v1(id, %(abort)s, false))
FROM (
    SELECT id, status FROM procrastinate_jobs
    WHERE id = ANY(%(ids)s::bigint[]) AND status IN ('todo', 'doing')
    ORDER BY id FOR UPDATE
) AS waiting_or_running
GROUP BY status;

-- retry_failed_jobs --
-- Failed jobs back to todo, runnable at once, without counting their last run again
-- Procrastinate's finish already counted the failed run, and its retry function would
-- count it twice (attempts 1 and 3 after two runs). The status trigger still records the
-- `retried` event.
UPDATE procrastinate_jobs SET status = 'todo', scheduled_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'failed';

-- delete_finished_jobs --
-- Delete the ids among finished jobs (succeeded, failed, cancelled, aborted); the deleted ids
DELETE FROM procrastinate_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND status::text = ANY(%(statuses)s::text[])
RETURNING id;

-- record_interrupted_attempt --
-- The attempt of a stalled job whose worker never wrote it, as `interrupted` (queue/rescue.py)
-- Its start is the job's latest `started` event and its worker the registration of the
-- job's worker. Skipped when the worker did write it (its end recorded, then the worker
-- lost before the job's finish): a row of this attempt number that started with this run
-- (a minute of slack for the clocks of worker and database), or, when the worker writes
-- it at this very moment, the run's row (job, attempt, worker registration: unique).
INSERT INTO job_attempts
    (job_id, attempt, worker_id, task_name, queue, outcome, started_at, finished_at,
     duration_ms, exception_type, error_message, worker_name, hostname, pid)
SELECT j.id, j.attempts + 1, j.worker_id, j.task_name, j.queue_name, 'interrupted',
       coalesce(started.at, now()), now(),
       extract(epoch FROM now() - coalesce(started.at, now())) * 1000,
       'hiring_jobs.queue.rescue.WorkerLost',
       'the worker running this attempt stopped heartbeating',
       p.worker_name, p.hostname, p.pid
FROM procrastinate_jobs j
CROSS JOIN LATERAL (
    SELECT max(e.at) AS at FROM procrastinate_events e
     WHERE e.job_id = j.id AND e.type = 'started'
) started
LEFT JOIN worker_processes p ON p.worker_id = j.worker_id
WHERE j.id = %(job_id)s AND j.status = 'doing'
  AND NOT EXISTS (
        SELECT 1 FROM job_attempts a
         WHERE a.job_id = j.id AND a.attempt = j.attempts + 1 AND a.outcome <> 'running'
           AND a.started_at >= coalesce(started.at, now()) - interval '1 minute')
-- The worker wrote it meanwhile (record_attempts): its row stays.
ON CONFLICT (job_id, attempt, worker_id) DO NOTHING;

-- throughput_rolled_until --
-- The last minute rolled up into job_throughput_minutes (queue/throughput.py)
SELECT max(minute) FROM job_throughput_minutes;

-- throughput_rolled --
-- Rolled-up finished jobs over a span, summed per bucket of `step` seconds counted from `origin` (queue/throughput.py)
-- Summed here: a day is 1,440 minutes, and reading them as rows cost the overview ~15 ms.
SELECT floor(extract(epoch FROM minute - %(origin)s) / %(step)s)::int AS bucket,
       sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed
FROM job_throughput_minutes
WHERE minute >= %(since)s AND minute < %(until)s
GROUP BY 1;

-- throughput_forget --
-- Rolled-up minutes older than what is kept (queue/throughput.py)
DELETE FROM job_throughput_minutes WHERE minute < %(old)s;

-- throughput_rollup --
-- Succeeded and failed jobs per minute from procrastinate_events, upserted
INSERT INTO job_throughput_minutes (minute, succeeded, failed)
SELECT date_trunc('minute', at),
       count(*) FILTER (WHERE type = 'succeeded'),
       count(*) FILTER (WHERE type = 'failed')
FROM procrastinate_events
WHERE type IN ('succeeded', 'failed') AND at >= %(since)s AND at < %(until)s
GROUP BY 1
ON CONFLICT (minute) DO UPDATE
    SET succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed;

-- throughput_live --
-- Succeeded and failed jobs since a moment, counted from procrastinate_events per bucket as throughput_rolled
SELECT floor(extract(epoch FROM date_trunc('minute', at) - %(origin)s) / %(step)s)::int AS bucket,
       count(*) FILTER (WHERE type = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE type = 'failed') AS failed
FROM procrastinate_events
WHERE type IN ('succeeded', 'failed') AND at >= %(since)s
GROUP BY 1;

-- queue_names --
-- Distinct queue names by a loose index scan (admin pages)
-- On procrastinate_jobs_queue_name_idx_v1.
WITH RECURSIVE q(name) AS (
    (SELECT queue_name FROM procrastinate_jobs ORDER BY queue_name LIMIT 1)
    UNION ALL
    SELECT (SELECT queue_name FROM procrastinate_jobs WHERE queue_name > q.name
            ORDER BY queue_name LIMIT 1)
    FROM q WHERE q.name IS NOT NULL
)
SELECT name FROM q WHERE name IS NOT NULL;

-- queue_status_counts --
-- Jobs per queue and status, each count capped (admin overview)
-- Each status is a literal so that the planner uses the partial index that holds it:
-- finished jobs (migration 0011), waiting jobs (the fetch index), running ones.
WITH RECURSIVE q(name) AS (
    (SELECT queue_name FROM procrastinate_jobs ORDER BY queue_name LIMIT 1)
    UNION ALL
    SELECT (SELECT queue_name FROM procrastinate_jobs WHERE queue_name > q.name
            ORDER BY queue_name LIMIT 1)
    FROM q WHERE q.name IS NOT NULL
)
SELECT q.name AS queue, c.status, c.n
FROM q
CROSS JOIN LATERAL (
    SELECT CAST('todo' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'todo' LIMIT %(cap)s) capped
    UNION ALL
    SELECT CAST('doing' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'doing' LIMIT %(cap)s) capped
    UNION ALL
    SELECT CAST('succeeded' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'succeeded' LIMIT %(cap)s) capped
    UNION ALL
    SELECT CAST('failed' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'failed' LIMIT %(cap)s) capped
    UNION ALL
    SELECT CAST('cancelled' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'cancelled' LIMIT %(cap)s) capped
    UNION ALL
    SELECT CAST('aborted' AS procrastinate_job_status) AS status, count(*) AS n
    FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'aborted' LIMIT %(cap)s) capped
) c
WHERE q.name IS NOT NULL;

-- oldest_waiting --
-- When the oldest ready job of each queue started waiting (admin overview)
-- Oldest ready job per queue (ids follow defer order), waiting since it was deferred or,
-- if scheduled later, since its scheduled time.
SELECT q.name AS queue, GREATEST(
    (SELECT min(e.at) FROM procrastinate_events e
     WHERE e.job_id = r.id AND e.type = 'deferred'), r.scheduled_at) AS since
FROM unnest(CAST(%(queues)s AS text[])) AS q(name)
CROSS JOIN LATERAL (
    SELECT j.id, j.scheduled_at FROM procrastinate_jobs j
    WHERE j.queue_name = q.name AND j.status = 'todo'
      AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
    ORDER BY j.id LIMIT 1
) r;

-- workers --
-- Procrastinate's workers, their heartbeat age and running jobs (admin pages)
SELECT w.id, w.last_heartbeat, extract(epoch FROM now() - w.last_heartbeat) AS heartbeat_age,
       (SELECT count(*) FROM procrastinate_jobs j
        WHERE j.worker_id = w.id AND j.status = 'doing') AS running
FROM procrastinate_workers w
ORDER BY w.id;

-- stalled_jobs --
-- Running jobs whose worker stopped heartbeating, first 100 (admin pages)
SELECT j.id, j.task_name, j.queue_name, j.worker_id
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(timeout)s))
ORDER BY j.id
LIMIT 100;

-- running_by_worker --
-- What each worker runs now, since when and where: the `started` event and the worker's registration (workers page)
SELECT j.worker_id, j.id AS job_id, j.task_name, j.queue_name,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at,
       p.worker_name, p.hostname, p.pid
FROM procrastinate_jobs j
LEFT JOIN worker_processes p ON p.worker_id = j.worker_id
WHERE j.status = 'doing' AND j.worker_id IS NOT NULL
ORDER BY j.worker_id, j.id
LIMIT 1000;

-- running_per_task --
-- How many jobs of each task run now (tasks page)
SELECT task_name, count(*) AS running
FROM procrastinate_jobs
WHERE status = 'doing'
GROUP BY task_name;

-- running_since --
-- Since when this system has run jobs or deferred cron ticks (cron page)
-- A tick due before that was never expected to run (a fresh install has missed nothing).
-- Both minima are index lookups.
SELECT least(
    (SELECT min(started_at) FROM job_attempts),
    (SELECT to_timestamp(min(defer_timestamp)) FROM procrastinate_periodic_defers)
);

-- last_periodic_defers --
-- The latest defer of each cron task and its job's status (cron page, overview)
-- defer_periodic_job keeps only the latest defer per task and periodic id: one row per
-- cron task, read in one statement rather than one per task.
SELECT DISTINCT ON (d.task_name, d.periodic_id)
       d.task_name, d.periodic_id, d.defer_timestamp, d.job_id, j.status
FROM procrastinate_periodic_defers d
LEFT JOIN procrastinate_jobs j ON j.id = d.job_id
ORDER BY d.task_name, d.periodic_id, d.defer_timestamp DESC NULLS LAST;

-- record_periodic_run --
-- Record a run-now defer as the cron task's tick (cron page)
INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp, job_id)
VALUES (%(task)s, %(periodic_id)s, %(timestamp)s, %(job_id)s)
ON CONFLICT (task_name, periodic_id, defer_timestamp) DO NOTHING;

-- active_jobs --
-- Waiting and running jobs per queue, exact (/metrics)
SELECT queue_name, status, count(*) AS n FROM procrastinate_jobs
WHERE status IN ('todo', 'doing') GROUP BY queue_name, status;

-- job_status_estimates --
-- Jobs per status from the planner's statistics (/metrics)
-- most_common_vals of the status column times the table's estimated row count.
SELECT v.status, round(v.freq * greatest(c.reltuples, 0)) AS n
FROM pg_class c, pg_stats s,
     LATERAL unnest(CAST(s.most_common_vals AS text)::text[], s.most_common_freqs)
         AS v(status, freq)
WHERE c.oid = to_regclass('procrastinate_jobs') AND s.schemaname = current_schema()
  AND s.tablename = 'procrastinate_jobs' AND s.attname = 'status';

-- purge_finished_jobs --
-- Delete a batch of jobs finished before a cutoff, with attempts, reviews and progress
WITH doomed AS (
    SELECT j.id FROM procrastinate_jobs j
    WHERE j.status = ANY(CAST(%(statuses)s AS procrastinate_job_status[]))
      AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s
    ORDER BY j.id
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
), attempts AS (
    DELETE FROM job_attempts WHERE job_id IN (SELECT id FROM doomed)
), reviews AS (
    DELETE FROM dead_letter_reviews WHERE job_id IN (SELECT id FROM doomed)
), progress AS (
    DELETE FROM job_progress WHERE job_id IN (SELECT id FROM doomed)
)
DELETE FROM procrastinate_jobs WHERE id IN (SELECT id FROM doomed) RETURNING id;

-- queue_depths --
-- Waiting jobs per queue (health)
SELECT queue_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' GROUP BY 1;

-- live_workers_and_stalled_jobs --
-- Workers heartbeating within the threshold, and running jobs of silent ones (health)
SELECT
  (SELECT count(*) FROM procrastinate_workers
   WHERE last_heartbeat >= now() - make_interval(secs => %(timeout)s)) AS live_workers,
  (SELECT count(*) FROM procrastinate_jobs j
   LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
   WHERE j.status = 'doing'
     AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(timeout)s)))
    AS stalled_jobs;

-- oldest_pending_seconds --
-- How long the oldest job that could run now has waited (health)
-- The oldest job that could run now: the earliest due scheduled job, or the first-deferred
-- unscheduled one (ids grow with time, so the lowest id is the oldest).
SELECT extract(epoch FROM now() - least(
    (SELECT min(scheduled_at) FROM procrastinate_jobs
     WHERE status = 'todo' AND scheduled_at <= now()),
    (SELECT min(e.at) FROM procrastinate_events e
     WHERE e.job_id = (SELECT min(id) FROM procrastinate_jobs
                       WHERE status = 'todo' AND scheduled_at IS NULL))
));

-- dead_letters_pending --
-- Unreviewed failed jobs with their last error, newest first, filtered, a keyset page
SELECT d.job_id, d.task_name, d.queue_name AS queue, j.args, j.attempts, d.exception_type,
       d.error_message, d.error_fingerprint, d.failed_at, d.reviewed
FROM dead_letters d
JOIN procrastinate_jobs j ON j.id = d.job_id
WHERE NOT d.reviewed
  AND (CAST(%(task)s AS text) IS NULL OR d.task_name = %(task)s)
  AND (CAST(%(fp)s AS text) IS NULL OR d.error_fingerprint = %(fp)s)
  AND (CAST(%(before)s AS bigint) IS NULL OR d.job_id < %(before)s)
ORDER BY d.job_id DESC
LIMIT %(limit)s;

-- dead_letter --
-- One failed job with its last error, reviewed or not
SELECT d.job_id, d.task_name, d.queue_name AS queue, j.args, j.attempts, d.exception_type,
       d.error_message, d.error_fingerprint, d.failed_at, d.reviewed
FROM dead_letters d
JOIN procrastinate_jobs j ON j.id = d.job_id
WHERE d.job_id = %(id)s;

-- dead_letters_pending_locked --
-- Unreviewed failed jobs of a task and/or fingerprint, locked: two operators cannot both act
SELECT d.job_id, d.task_name, d.queue_name AS queue, j.args, j.attempts, d.exception_type,
       d.error_message, d.error_fingerprint, d.failed_at, d.reviewed
FROM dead_letters d
JOIN procrastinate_jobs j ON j.id = d.job_id
WHERE NOT d.reviewed
  AND (CAST(%(task)s AS text) IS NULL OR d.task_name = %(task)s)
  AND (CAST(%(fp)s AS text) IS NULL OR d.error_fingerprint = %(fp)s)
ORDER BY d.job_id
FOR UPDATE OF j, d;

-- failed_job_options --
-- A failed job's priority and lock, locked, to re-queue it as a new job
SELECT priority, lock FROM procrastinate_jobs WHERE id = %(id)s AND status = 'failed'
FOR UPDATE;

-- dead_letter_groups --
-- Unreviewed failed jobs grouped by task and error fingerprint, biggest first
WITH g AS (
    -- A few rows per group (dead_letter_counts, folded every minute): not every failure.
    SELECT task_name, error_fingerprint, sum(pending) AS count, min(first_seen) AS first_seen,
           max(last_seen) AS last_seen
    FROM dead_letter_counts
    GROUP BY task_name, error_fingerprint
    HAVING sum(pending) > 0
)
SELECT g.task_name, g.error_fingerprint, s.exception_type, s.error_message AS sample_message,
       g.count, g.first_seen, g.last_seen
FROM g
LEFT JOIN LATERAL (
    -- The fingerprint fixes the exception type: one sample row per group tells both.
    SELECT exception_type, error_message FROM dead_letters d
    WHERE NOT d.reviewed AND d.task_name = g.task_name
      AND d.error_fingerprint IS NOT DISTINCT FROM g.error_fingerprint
    LIMIT 1
) s ON true
ORDER BY g.count DESC, g.last_seen DESC;

-- fold_dead_letter_counts --
-- Fold each group's rows of dead_letter_counts into one; groups with nothing pending go (throughput rollup)
-- Rows appended meanwhile are not in this statement's snapshot: they stay, and count.
WITH folded AS (
    DELETE FROM dead_letter_counts RETURNING *
)
INSERT INTO dead_letter_counts (task_name, error_fingerprint, pending, first_seen, last_seen)
SELECT task_name, error_fingerprint, sum(pending), min(first_seen), max(last_seen)
FROM folded
GROUP BY task_name, error_fingerprint
HAVING sum(pending) > 0;

-- discard_dead_letters --
-- Close the pending dead letters among the ids as discarded, with a review row each
WITH closed AS (
    UPDATE dead_letters SET reviewed = true
    WHERE job_id = ANY(%(ids)s::bigint[]) AND NOT reviewed
    RETURNING job_id
)
INSERT INTO dead_letter_reviews (job_id, action, notes, reviewed_by)
SELECT job_id, 'discarded', %(notes)s, %(by)s FROM closed;

-- jobs_about --
-- Ids of the jobs whose arguments contain any of the documents, sorted (privacy/subjects.py)
-- Finished jobs: one containment test per document, each answered by the GIN index on
-- the arguments of finished jobs (hj_jobs_args_finished: its predicate, word for word).
-- Jobs waiting or running (the queue, read through Procrastinate's partial index on
-- them): every one tested against the documents.
SELECT j.id
FROM unnest(CAST(%(documents)s AS jsonb[])) AS d(document)
JOIN procrastinate_jobs AS j ON j.args @> d.document
WHERE j.status NOT IN ('todo', 'doing')
UNION
SELECT j.id
FROM procrastinate_jobs AS j
WHERE j.status IN ('todo', 'doing')
  AND j.args @> ANY(CAST(%(documents)s AS jsonb[]))
ORDER BY id;

-- jobs_for_export --
-- The jobs of a data export: what ran, with which arguments (privacy/export.py)
SELECT id, task_name, queue_name, status::text AS status, args, attempts, scheduled_at
FROM procrastinate_jobs
WHERE id = ANY(%(ids)s::bigint[])
ORDER BY id;

-- events_for_export --
-- The events of a data export's jobs, in order (privacy/export.py)
SELECT job_id, type::text AS type, at
FROM procrastinate_events
WHERE job_id = ANY(%(ids)s::bigint[])
ORDER BY id;

-- finished_job_counts --
-- Succeeded and failed jobs in a period, from procrastinate_events (analytics reports)
SELECT type::text, count(*)
FROM procrastinate_events
WHERE at >= %(start)s AND at < %(end)s AND type IN ('succeeded', 'failed')
GROUP BY type;

-- pending_resumes_without_job --
-- Resumes waiting to be parsed that have no waiting or running parse job
SELECT r.id FROM resumes r
WHERE r.parse_status = 'pending' AND r.deleted_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM procrastinate_jobs j
      WHERE j.task_name = 'resume.parse' AND j.status IN ('todo', 'doing')
        AND j.args ->> 'resume_id' = CAST(r.id AS text))
ORDER BY r.created_at, r.id;

-- insert_jobs --
-- Many jobs of one task and options in one statement, ids in argument order (fast_defer.py)
INSERT INTO procrastinate_jobs
    (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
SELECT %(queue)s, %(task)s, %(priority)s, %(lock)s, %(queueing_lock)s, a.args, %(scheduled_at)s
  FROM unnest(%(args)s::jsonb[]) WITH ORDINALITY AS a(args, n)
 ORDER BY a.n
RETURNING id;

-- is_migrated --
-- Whether Alembic's and Procrastinate's tables exist (db.check_database)
SELECT to_regclass('public.alembic_version') IS NOT NULL,
       to_regclass('public.procrastinate_jobs') IS NOT NULL;

-- start_job_for_demo --
-- Mark a job running, as a worker's fetch does, before failing it (demo data)
UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %(id)s;

-- fail_job --
-- Finish a running job as failed with Procrastinate's own function (demo data)
SELECT procrastinate_finish_job_v1(%(id)s, 'failed', false);

-- job_status_counts --
-- How many of the ids are in each status (the erasure preview)
SELECT status::text, count(*)
FROM procrastinate_jobs
WHERE id = ANY(%(ids)s::bigint[])
GROUP BY status;

-- queue_has_jobs --
-- Whether any job names the queue: a queue outside the known list is known by its jobs (queue/control.py)
SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queue_name = %(queue)s);

-- queue_counts --
-- Waiting and running jobs of each named queue, each count capped (queue/control.py)
SELECT q.name,
       (SELECT count(*) FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'todo' LIMIT %(cap)s) t) AS waiting,
       (SELECT count(*) FROM (SELECT 1 FROM procrastinate_jobs j
          WHERE j.queue_name = q.name AND j.status = 'doing' LIMIT %(cap)s) t) AS running
FROM unnest(CAST(%(names)s AS varchar[])) AS q(name);

-- live_workers --
-- Worker processes heartbeating within the live window, with what they apply now (queue/control.py)
SELECT w.* FROM worker_processes w
JOIN procrastinate_workers p ON p.id = w.worker_id
WHERE p.last_heartbeat >= now() - make_interval(secs => %(live_seconds)s);

-- live_worker_named --
-- Whether a live worker process has the name (queue/control.py)
SELECT EXISTS (
    SELECT 1 FROM worker_processes w
    JOIN procrastinate_workers p ON p.id = w.worker_id
    WHERE p.last_heartbeat >= now() - make_interval(secs => %(live_seconds)s)
      AND w.worker_name = %(name)s
);

-- unreported_live_workers --
-- Live registrations with no worker_processes row yet: what they serve is unknown (queue/control.py)
SELECT count(*) FROM procrastinate_workers p
WHERE p.last_heartbeat >= now() - make_interval(secs => %(live_seconds)s)
  AND NOT EXISTS (SELECT 1 FROM worker_processes w WHERE w.worker_id = p.id);

-- queue_settings_of_worker --
-- The fleet-wide queue settings and a worker process's own (queue/control.py)
SELECT queue_name, worker_name, paused, concurrency FROM queue_settings
WHERE worker_name = '' OR worker_name = %(worker_name)s;

-- notify_queue_control --
-- Wake every worker process to re-read its queue settings, at commit (queue/control.py)
SELECT pg_notify(%(channel)s, %(queue)s);

-- alert_queue_unserved --
-- Queues with ready jobs that no live worker serves (alerts.py, rule queue_unserved)
-- Ready jobs in a queue that no live worker serves: a live worker serves a queue when its
-- recorded slots name the queue or "*" (other queues), or when it recorded no slots.
-- Counted per queue first, so the worker check runs once per queue, not once per job.
WITH waiting AS (
    SELECT queue_name, count(*) AS waiting
    FROM procrastinate_jobs
    WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
      AND (%(queue)s = '' OR queue_name = %(queue)s)
    GROUP BY queue_name
)
SELECT q.queue_name AS subject, q.waiting
FROM waiting q
WHERE NOT EXISTS (
    SELECT 1 FROM procrastinate_workers w
    LEFT JOIN worker_processes p ON p.worker_id = w.id
    WHERE w.last_heartbeat >= now() - make_interval(secs => %(live_seconds)s)
      AND (p.worker_id IS NULL OR p.slots ? q.queue_name OR p.slots ? '*'));

-- alert_oldest_waiting --
-- Queues whose first ready job has waited longer than the threshold (alerts.py, rule oldest_waiting)
-- Per queue with waiting jobs, its first ready job (by id, through the fetch index) and
-- since when it has been ready: deferred, or scheduled for later than that. The
-- overview's "oldest waiting" reads the same way.
WITH queues AS (
    SELECT DISTINCT queue_name FROM procrastinate_jobs
    WHERE status = 'todo' AND (%(queue)s = '' OR queue_name = %(queue)s)
), oldest AS (
    SELECT q.queue_name, GREATEST(
        (SELECT min(e.at) FROM procrastinate_events e
         WHERE e.job_id = r.id AND e.type = 'deferred'), r.scheduled_at) AS since
    FROM queues q
    CROSS JOIN LATERAL (
        SELECT j.id, j.scheduled_at FROM procrastinate_jobs j
        WHERE j.queue_name = q.queue_name AND j.status = 'todo'
          AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
        ORDER BY j.id LIMIT 1
    ) r
)
SELECT queue_name AS subject, extract(epoch FROM now() - since) AS waited
FROM oldest
WHERE since < now() - make_interval(secs => %(seconds)s);

-- alert_stalled_jobs --
-- Running jobs whose worker stopped heartbeating, when enough (alerts.py, rule stalled_jobs)
SELECT '' AS subject, count(*) AS stalled
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(live_seconds)s))
HAVING count(*) >= %(min_jobs)s;

-- retention_old_jobs --
-- The next keyset page of jobs finished before the cutoff, by their last event (privacy/retention.py)
-- Procrastinate keeps no end time: a job's last event is its end. Not filtered on what
-- they still hold (an OR over attempts and dead letters defeats the indexes) and not
-- locked (that would write a row lock into every old job each night): the statements
-- below select what still holds something, and check again that the job is past
-- retention, so a job retried in place meanwhile is left alone.
SELECT j.id FROM procrastinate_jobs j
WHERE j.id > %(after)s
  AND j.status = ANY(CAST(%(finished)s AS procrastinate_job_status[]))
  AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s
ORDER BY j.id
LIMIT %(limit)s;

-- retention_reduce_arguments --
-- Jobs past retention keep only the kept arguments (ids, request id); the reduced ids (privacy/retention.py)
-- Only `args` changes: no Procrastinate trigger fires (they watch status, abort_requested
-- and todo rows) and neither does ours (dead_letters watches status).
UPDATE procrastinate_jobs j
SET args = (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
            FROM jsonb_each(j.args) WHERE key = ANY(%(kept)s))
WHERE j.id = ANY(%(ids)s)
  AND EXISTS (SELECT 1 FROM jsonb_object_keys(j.args) k WHERE k <> ALL(%(kept)s))
  AND j.status = ANY(CAST(%(finished)s AS procrastinate_job_status[]))
  AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s
RETURNING j.id;

-- retention_empty_attempts --
-- Empty the errors, tracebacks and results of attempts of jobs still past retention; the emptied ids (privacy/retention.py)
-- The slots are the inventory's Retention.JOB_DETAILS columns (retention.Emptying).
-- sample: assignments=sql:traceback=NULL holds_data=sql:true
UPDATE job_attempts t SET {assignments}
WHERE t.job_id = ANY(%(ids)s) AND {holds_data}
  AND EXISTS (SELECT 1 FROM procrastinate_jobs j
              WHERE j.id = t.job_id
                AND j.status = ANY(CAST(%(finished)s AS procrastinate_job_status[]))
                AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s)
RETURNING t.id;

-- retention_empty_dead_letters --
-- Empty the errors of dead letters of jobs still past retention; the emptied job ids (privacy/retention.py)
-- The slots are the inventory's Retention.JOB_DETAILS columns (retention.Emptying).
-- sample: assignments=sql:error_message=NULL holds_data=sql:true
UPDATE dead_letters d SET {assignments}
WHERE d.job_id = ANY(%(ids)s) AND {holds_data}
  AND EXISTS (SELECT 1 FROM procrastinate_jobs j
              WHERE j.id = d.job_id
                AND j.status = ANY(CAST(%(finished)s AS procrastinate_job_status[]))
                AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s)
RETURNING d.job_id;

-- retention_delete_payloads --
-- Delete a keyset page of payloads created before the cutoff that no job still in retention names, skipping locked rows (privacy/retention.py)
-- A job still in retention is pending (todo, doing: it would fail without its payload)
-- or finished within the period (a dead letter may be retried). Each payload argument
-- of the inventory (payload_id, payload_ids; a test checks the list) is looked up twice:
-- - in the pending jobs, read once per page (the queue, through Procrastinate's partial
--   index on todo and doing) into the set of payloads they name;
-- - in finished jobs, one EXISTS each, a containment the GIN index on the arguments of
--   finished jobs answers for the one payload (its predicate, word for word): an OR
--   inside one EXISTS makes PostgreSQL scan every job for every payload.
WITH pending_refs AS MATERIALIZED (
    SELECT j.args -> 'payload_id' AS ref
      FROM procrastinate_jobs j
     WHERE j.status IN ('todo', 'doing') AND j.args ? 'payload_id'
    UNION
    SELECT named.ref
      FROM procrastinate_jobs j
     CROSS JOIN LATERAL jsonb_array_elements(
               CASE WHEN jsonb_typeof(j.args -> 'payload_ids') = 'array'
                    THEN j.args -> 'payload_ids' ELSE '[]' END) AS named(ref)
     WHERE j.status IN ('todo', 'doing') AND j.args ? 'payload_ids'
)
DELETE FROM job_payloads WHERE id IN (
    SELECT p.id FROM job_payloads p
    WHERE p.id > %(after)s AND p.created_at < %(cutoff)s
      AND NOT EXISTS (SELECT 1 FROM pending_refs WHERE pending_refs.ref = to_jsonb(p.id))
      AND NOT (
          EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.args @> jsonb_build_object('payload_id', p.id)
                    AND j.status NOT IN ('todo', 'doing')
                    AND ((SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s) IS NOT TRUE)
          OR EXISTS (SELECT 1 FROM procrastinate_jobs j
                     WHERE j.args @> jsonb_build_object('payload_ids', jsonb_build_array(p.id))
                       AND j.status NOT IN ('todo', 'doing')
                       AND ((SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < %(cutoff)s) IS NOT TRUE))
    ORDER BY p.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;

-- why_job --
-- A job's status, queue, priority, lock and schedule, with the time now (queue/why.py)
SELECT j.id, j.status, j.queue_name, j.priority, j.lock, j.attempts, j.scheduled_at,
       j.hj_key, j.scheduled_at > now() AS in_future, now() AS now
FROM procrastinate_jobs j WHERE j.id = %(id)s;

-- why_last_error --
-- The error of a job's last failed attempt (queue/why.py)
SELECT exception_type, error_message FROM job_attempts
WHERE job_id = %(id)s AND exception_type IS NOT NULL ORDER BY attempt DESC, id DESC LIMIT 1;

-- why_running_of_worker --
-- The jobs a worker runs in one bucket of its slots, oldest first (queue/why.py)
SELECT j.id, j.task_name, j.queue_name,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at
FROM procrastinate_jobs j
WHERE j.status = 'doing' AND j.worker_id = %(worker_id)s
  AND (CASE WHEN %(bucket)s = '*' THEN NOT (j.queue_name = ANY(CAST(%(named)s AS varchar[])))
            ELSE j.queue_name = %(bucket)s END)
ORDER BY started_at NULLS LAST, j.id;

-- why_lock_holder --
-- The job that holds a job's lock, or comes first for it (queue/why.py)
SELECT j.id, j.status,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at
FROM procrastinate_jobs j
WHERE j.lock = %(lock)s AND j.id <> %(id)s
  AND (j.status = 'doing'
       OR (j.status = 'todo' AND (j.priority > %(priority)s
                                  OR (j.priority = %(priority)s AND j.id < %(id)s))))
ORDER BY (j.status = 'doing') DESC, j.priority DESC, j.id
LIMIT 1;

-- why_fair_share --
-- How many ready jobs of other keys come before a keyed job in the fair share (queue/why.py)
-- A keyed job's turn: its key's running jobs plus its place among its key's ready jobs of
-- its priority (fetch_jobs). Each other key at that priority comes first with as many
-- ready jobs as it has turns before that one (ties, which go by id, are not counted);
-- unkeyed jobs are one more key whose running jobs are not counted.
WITH mine AS (
    SELECT (SELECT count(*) FROM procrastinate_jobs r
             WHERE r.hj_key = %(key)s AND r.status = 'doing')
           + (SELECT count(*) FROM procrastinate_jobs j
               WHERE j.queue_name = %(queue)s AND j.hj_key = %(key)s AND j.status = 'todo'
                 AND j.priority = %(priority)s AND j.id < %(id)s
                 AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())) + 1 AS turn
), other AS (
    SELECT j.hj_key, count(*) AS ready
      FROM (SELECT hj_key FROM procrastinate_jobs
             WHERE queue_name = %(queue)s AND status = 'todo' AND priority = %(priority)s
               AND hj_key IS DISTINCT FROM %(key)s
               AND (scheduled_at IS NULL OR scheduled_at <= now())
             LIMIT %(sample)s) j
     GROUP BY j.hj_key
)
SELECT coalesce(sum(least(other.ready, greatest(0, mine.turn - 1 - CASE
           WHEN other.hj_key IS NULL THEN 0
           ELSE (SELECT count(*) FROM procrastinate_jobs r
                  WHERE r.hj_key = other.hj_key AND r.status = 'doing') END))), 0) AS ahead,
       count(other.hj_key) AS keys, max(mine.turn) AS turn
  FROM mine LEFT JOIN other ON true;

-- why_key_state --
-- A key's limits and its rate bucket's tokens now (queue/why.py)
SELECT l.max_running, b.per_second, b.capacity,
       least(b.capacity, b.tokens + b.per_second
             * extract(epoch FROM clock_timestamp() - b.refilled_at)) AS tokens,
       clock_timestamp() AS now
FROM hj_key_limits l
LEFT JOIN rate_limit_buckets b ON b.name = %(key)s
WHERE l.key_name = split_part(%(key)s, ':', 1);

-- why_key_running --
-- The running jobs of a key, oldest first, since their `started` event (queue/why.py)
SELECT j.id,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at
FROM procrastinate_jobs j
WHERE j.hj_key = %(key)s AND j.status = 'doing'
ORDER BY started_at NULLS LAST, j.id;

-- why_ahead_of_keyed --
-- How many ready jobs of the queue have a higher priority than a keyed job, capped (queue/why.py)
-- Among equal priorities a keyed job's turn is its fair share, which why explains apart.
SELECT count(*) FROM (
    SELECT 1 FROM procrastinate_jobs j
    WHERE j.queue_name = %(queue)s AND j.status = 'todo'
      AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
      AND j.priority > %(priority)s AND j.id <> %(id)s
    LIMIT %(cap)s
) ahead;

-- why_ahead --
-- How many ready jobs of the queue come before a job, capped (queue/why.py)
SELECT count(*) FROM (
    SELECT 1 FROM procrastinate_jobs j
    WHERE j.queue_name = %(queue)s AND j.status = 'todo'
      AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
      AND (j.priority > %(priority)s OR (j.priority = %(priority)s AND j.id < %(id)s))
    LIMIT %(cap)s
) ahead;

-- record_rejected_attempt --
-- Record a fetched job the worker cannot run as a failed attempt (queue/manager.py)
INSERT INTO job_attempts
    (job_id, attempt, worker_id, task_name, queue, outcome, finished_at, duration_ms,
     exception_type, error_message, error_fingerprint, worker_name, hostname, pid)
VALUES (%(job_id)s, %(attempt)s, %(worker_id)s, left(%(task_name)s, 200),
        left(%(queue)s, 100), 'failed', now(), 0, %(exception_type)s, %(error_message)s,
        %(error_fingerprint)s, %(worker_name)s, %(hostname)s, %(pid)s);

-- cron_settings --
-- Every cron task's run-time settings (queue/cron.py)
SELECT task_name, periodic_id, enabled, catch_up, window_seconds FROM periodic_settings;

-- cron_last_defers --
-- The last tick deferred of each cron task (queue/cron.py)
SELECT task_name, periodic_id, max(defer_timestamp) FROM procrastinate_periodic_defers
GROUP BY task_name, periodic_id;

-- cron_last_defer --
-- The last tick deferred of one cron task, read again under its lock (queue/cron.py)
SELECT max(defer_timestamp) FROM procrastinate_periodic_defers
WHERE task_name = %(task_name)s AND periodic_id = %(periodic_id)s;

-- cron_lock --
-- One worker at a time decides a cron task's ticks: a session lock on its key (queue/cron.py)
SELECT pg_advisory_lock(hashtext(%(lock)s));

-- cron_unlock --
-- Release a cron task's session lock (queue/cron.py)
SELECT pg_advisory_unlock(hashtext(%(lock)s));

-- upsert_job_progress --
-- A job's last progress: done of total, and a message (queue/job_progress.py, and queue/groups.py for a group's owner job)
INSERT INTO job_progress (job_id, done, total, message, updated_at)
VALUES (%(job_id)s, %(done)s, %(total)s, %(message)s, now())
ON CONFLICT (job_id) DO UPDATE
   SET done = EXCLUDED.done, total = EXCLUDED.total, message = EXCLUDED.message,
       updated_at = now();

-- job_progress_of --
-- The last progress of each of the jobs that reported some (queue/job_progress.py)
SELECT job_id, done, total, message, updated_at FROM job_progress
WHERE job_id = ANY(CAST(%(ids)s AS bigint[]));

-- rate_limit_take --
-- A rate-limit bucket refilled for the time since its last take (made on first use); its tokens and rate (queue/rate_limit.py)
-- The configured capacity and rate replace the stored ones.
WITH bucket AS (
    INSERT INTO rate_limit_buckets (name, tokens, capacity, per_second, refilled_at)
    VALUES (%(name)s, %(capacity)s, %(capacity)s, %(per_second)s, clock_timestamp())
    ON CONFLICT (name) DO UPDATE
        SET capacity = EXCLUDED.capacity,
            per_second = EXCLUDED.per_second,
            tokens = LEAST(
                EXCLUDED.capacity,
                rate_limit_buckets.tokens + EXCLUDED.per_second
                    * extract(epoch FROM clock_timestamp() - rate_limit_buckets.refilled_at)
            ),
            refilled_at = clock_timestamp()
    RETURNING tokens, per_second
)
SELECT tokens, per_second FROM bucket;

-- rate_limit_follow_key --
-- The buckets of a key name take its changed rate (queue/keys.py)
UPDATE rate_limit_buckets SET capacity = %(burst)s, per_second = %(per_second)s,
       tokens = least(tokens, %(burst)s)
WHERE name LIKE %(prefix)s AND (capacity, per_second) <> (%(burst)s, %(per_second)s);

-- rate_limit_spend --
-- Spend one token of a rate-limit bucket (queue/rate_limit.py)
UPDATE rate_limit_buckets SET tokens = tokens - 1 WHERE name = %(name)s;

-- record_worker_process --
-- A worker process's row once registered (queue/registration.py), and the rows of registrations Procrastinate has since removed
-- Until queue control reports, it applies the slots it was started with.
WITH gone AS (
    DELETE FROM worker_processes p
    WHERE NOT EXISTS (SELECT 1 FROM procrastinate_workers w WHERE w.id = p.worker_id)
)
INSERT INTO worker_processes
    (worker_id, worker_name, hostname, pid, concurrency, slots, pool, applied)
VALUES (%(worker_id)s, %(worker_name)s, %(hostname)s, %(pid)s, %(concurrency)s,
        %(slots)s::jsonb, %(pool)s::jsonb, %(slots)s::jsonb)
ON CONFLICT (worker_id) DO UPDATE
   SET worker_name = EXCLUDED.worker_name, hostname = EXCLUDED.hostname,
       pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency, slots = EXCLUDED.slots,
       pool = EXCLUDED.pool;

-- report_worker_applied --
-- What a worker process applies now: slots per bucket and paused queues (queue/control.py, through queue/registration.py)
-- Queue control may report before the registration is recorded: the row is made then,
-- and the registration fills in its pool.
INSERT INTO worker_processes
    (worker_id, worker_name, hostname, pid, concurrency, slots, applied, paused, seen_at)
VALUES (%(worker_id)s, %(worker_name)s, %(hostname)s, %(pid)s, %(concurrency)s,
        %(slots)s::jsonb, %(applied)s::jsonb, %(paused)s::jsonb, now())
ON CONFLICT (worker_id) DO UPDATE
   SET applied = EXCLUDED.applied, paused = EXCLUDED.paused, seen_at = now();

-- forget_worker_process --
-- A stopping worker process's row goes
DELETE FROM worker_processes WHERE worker_id = %(worker_id)s;

-- worker_registrations --
-- What each live worker recorded about itself (queue/registration.py)
-- What each live registration recorded about itself (queue/registration.py).
SELECT p.worker_id, p.worker_name, p.hostname, p.pid, p.concurrency, p.slots, p.pool,
       p.started_at
FROM worker_processes p
JOIN procrastinate_workers w ON w.id = p.worker_id
ORDER BY p.worker_id
LIMIT 1000;


-- register_worker --
-- Procrastinate's register_worker, committed durably: the worker's first lease (queue/manager.py)
-- Worker connections commit asynchronously (hiring_jobs/app.py, JOB_STATE_SETTINGS);
-- set_config(..., true) turns that off for this statement's transaction only.
SELECT registered.worker_id
  FROM procrastinate_register_worker_v1() AS registered
 WHERE set_config('synchronous_commit', 'on', true) IS NOT NULL;

-- renew_lease --
-- Procrastinate's update_heartbeat, committed durably (queue/manager.py)
-- A worker counts its lease from a renewal it sent; the rescue counts from the heartbeat
-- the database holds. A renewal acknowledged, then lost in a crash, would let the rescue
-- hand the worker's running jobs to another worker before this one stops them.
SELECT procrastinate_update_heartbeat_v1(%(worker_id)s),
       set_config('synchronous_commit', 'on', true);


-- waiting_queues --
-- The queues with jobs waiting that a worker does not name: its shared bucket's (queue/waiting_queues.py)
-- A loose index scan of hj_jobs_queue_fetch: one probe per waiting queue, whatever the
-- number of jobs waiting. Run unprepared, so planned for the table as it is now.
WITH RECURSIVE waiting_queue(queue_name) AS (
    (SELECT jobs.queue_name
       FROM procrastinate_jobs AS jobs
      WHERE jobs.status = 'todo'
      ORDER BY jobs.queue_name, jobs.priority DESC, jobs.id
      LIMIT 1)
    UNION ALL
    SELECT (SELECT jobs.queue_name
              FROM procrastinate_jobs AS jobs
             WHERE jobs.status = 'todo' AND jobs.queue_name > waiting_queue.queue_name
             ORDER BY jobs.queue_name, jobs.priority DESC, jobs.id
             LIMIT 1)
      FROM waiting_queue
     WHERE waiting_queue.queue_name IS NOT NULL
)
SELECT waiting_queue.queue_name
  FROM waiting_queue
 WHERE waiting_queue.queue_name IS NOT NULL
   AND NOT (waiting_queue.queue_name = ANY(%(named)s::varchar[]));

-- fetch_jobs_unkeyed --
-- The worker's fetch while no keyed job waits in its buckets (queue/batching.py): procrastinate_fetch_job_v2's selection, unkeyed jobs only
-- The statement from before keys (fetch_jobs below without the key machinery, whose
-- plan costs about 1 ms more per call even with nothing keyed waiting), for unkeyed jobs
-- only, at the same cost as before. A worker runs fetch_jobs instead when this finds
-- nothing, at least once a second, and while fetch_jobs says keyed jobs wait.
WITH bucket(queue_name, free, shared) AS (
    SELECT named.queue_name, named.free, false
      FROM unnest(%(queues)s::varchar[], %(free)s::int[]) AS named(queue_name, free)
     WHERE named.free > 0
    UNION ALL
    -- The shared bucket's queues, found by waiting_queues (queue/waiting_queues.py).
    SELECT other.queue_name, %(other_free)s, true
      FROM unnest(%(other_queues)s::varchar[]) AS other(queue_name)
     WHERE %(other_free)s > 0 AND NOT (other.queue_name = ANY(%(queues)s::varchar[]))
), candidate AS MATERIALIZED (
    SELECT picked.id, picked.priority, picked.ctid AS row_ctid, bucket.shared
      FROM bucket
     CROSS JOIN LATERAL (
        SELECT jobs.id, jobs.priority, jobs.ctid
          FROM procrastinate_jobs AS jobs
         WHERE jobs.queue_name = bucket.queue_name AND 
           jobs.status = 'todo' AND jobs.hj_key IS NULL
       AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
       AND (jobs.lock IS NULL
            OR NOT EXISTS (
                   SELECT 1
                     FROM procrastinate_jobs AS other_jobs
                    WHERE other_jobs.lock = jobs.lock
                      AND (other_jobs.status = 'doing'
                           OR (other_jobs.status = 'todo'
                               AND (other_jobs.priority > jobs.priority
                                    OR (other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id))))))

         ORDER BY jobs.priority DESC, jobs.id ASC
         LIMIT bucket.free
           FOR UPDATE OF jobs SKIP LOCKED
     ) AS picked
), chosen AS (
    SELECT row_ctid FROM candidate WHERE NOT shared
    UNION ALL
    (SELECT row_ctid FROM candidate WHERE shared ORDER BY priority DESC, id LIMIT %(other_free)s)
)
UPDATE procrastinate_jobs
   SET status = 'doing', worker_id = %(worker_id)s
 -- By the row versions locked above (a TID scan). By id, a plan prepared while the table
 -- was small (a worker started on an empty queue) scanned the whole table on each fetch
 -- once a burst arrived: 20-50 ms a fetch with 60,000 jobs, until the next ANALYZE.
 WHERE procrastinate_jobs.ctid = ANY(ARRAY(SELECT row_ctid FROM chosen))
   -- Committed durably on a worker connection (hiring_jobs/app.py, JOB_STATE_SETTINGS):
   -- a fetch lost in a crash would hand a running job to a second worker.
   AND set_config('synchronous_commit', 'on', true) IS NOT NULL
RETURNING procrastinate_jobs.*;

-- fetch_jobs --
-- The worker's fetch (queue/batching.py): procrastinate_fetch_job_v2's selection, per queue up to its free slots, within key limits, round-robin across keys
-- Unkeyed jobs are read as before (hj_jobs_todo_unkeyed); keyed ones key by key (a loose
-- index scan of hj_jobs_todo_keyed: one probe per waiting key), each key's first jobs up
-- to what hj_key_allowance (migration 0017) lets it start now, and to one more than its
-- share of the free slots when many keys wait: a key's first jobs, by priority, are always
-- among the candidates, its later ones may wait for the next fetch even at a higher priority
-- than other keys' jobs (with 1,000 keys waiting this cut the fetch from 55 to ~20 ms). Each candidate's rank is
-- its place within its key (unkeyed jobs are one more key) and priority; the best by
-- (priority, rank, id) win, up to each bucket's free slots: round-robin across keys.
-- Each keyed job started spends a token of its key's bucket (trigger hj_jobs_key_started,
-- on the rows hj_key_allowance locked).
WITH RECURSIVE bucket(queue_name, free, shared) AS (
    SELECT named.queue_name, named.free, false
      FROM unnest(%(queues)s::varchar[], %(free)s::int[]) AS named(queue_name, free)
     WHERE named.free > 0
    UNION ALL
    -- The shared bucket's queues, found by waiting_queues (queue/waiting_queues.py).
    SELECT other.queue_name, %(other_free)s, true
      FROM unnest(%(other_queues)s::varchar[]) AS other(queue_name)
     WHERE %(other_free)s > 0 AND NOT (other.queue_name = ANY(%(queues)s::varchar[]))
), waiting_key(queue_name, hj_key) AS (
    SELECT bucket.queue_name,
           (SELECT jobs.hj_key
              FROM procrastinate_jobs AS jobs
             WHERE jobs.queue_name = bucket.queue_name AND jobs.status = 'todo'
               AND jobs.hj_key IS NOT NULL
             ORDER BY jobs.hj_key
             LIMIT 1)
      FROM bucket
    UNION ALL
    SELECT waiting_key.queue_name,
           (SELECT jobs.hj_key
              FROM procrastinate_jobs AS jobs
             WHERE jobs.queue_name = waiting_key.queue_name AND jobs.status = 'todo'
               AND jobs.hj_key > waiting_key.hj_key
             ORDER BY jobs.hj_key
             LIMIT 1)
      FROM waiting_key
     WHERE waiting_key.hj_key IS NOT NULL
), key_allowance AS MATERIALIZED (
    SELECT allowed.hj_key, allowed.allowance
      FROM (SELECT ARRAY(SELECT DISTINCT waiting_key.hj_key FROM waiting_key
                          WHERE waiting_key.hj_key IS NOT NULL) AS keys) AS waiting
     CROSS JOIN LATERAL hj_key_allowance(waiting.keys) AS allowed
     WHERE cardinality(waiting.keys) > 0
), key_count AS MATERIALIZED (
    SELECT waiting_key.queue_name, count(*) AS keys
      FROM waiting_key WHERE waiting_key.hj_key IS NOT NULL GROUP BY waiting_key.queue_name
), unkeyed AS MATERIALIZED (
    SELECT picked.id, picked.priority, bucket.queue_name, bucket.free, bucket.shared,
           picked.ctid AS row_ctid
      FROM bucket
     CROSS JOIN LATERAL (
            SELECT jobs.id, jobs.priority, jobs.ctid
              FROM procrastinate_jobs AS jobs
             WHERE jobs.queue_name = bucket.queue_name AND jobs.status = 'todo'
               AND jobs.hj_key IS NULL
       AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
       AND (jobs.lock IS NULL
            OR NOT EXISTS (
                   SELECT 1
                     FROM procrastinate_jobs AS other_jobs
                    WHERE other_jobs.lock = jobs.lock
                      AND (other_jobs.status = 'doing'
                           OR (other_jobs.status = 'todo'
                               AND (other_jobs.priority > jobs.priority
                                    OR (other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id))))))
             ORDER BY jobs.priority DESC, jobs.id ASC
             LIMIT bucket.free
               FOR UPDATE OF jobs SKIP LOCKED
     ) AS picked
), keyed AS MATERIALIZED (
    SELECT picked.id, picked.priority, waiting_key.hj_key, picked.rank,
           bucket.queue_name, bucket.free, bucket.shared, picked.row_ctid
      FROM waiting_key
      JOIN bucket ON bucket.queue_name = waiting_key.queue_name
      JOIN key_count ON key_count.queue_name = waiting_key.queue_name
      LEFT JOIN key_allowance ON key_allowance.hj_key = waiting_key.hj_key
     CROSS JOIN LATERAL (
        -- Its running jobs count as the key's first turns (hj_jobs_doing_keyed): a key
        -- with 4 running waits behind one with none, whatever their ids.
        SELECT count(*) AS n FROM procrastinate_jobs AS running
         WHERE running.hj_key = waiting_key.hj_key AND running.status = 'doing'
     ) AS running
     CROSS JOIN LATERAL (
        SELECT locked.id, locked.priority, locked.ctid AS row_ctid,
               running.n + row_number() OVER (PARTITION BY locked.priority ORDER BY locked.id)
                   AS rank
          FROM (
            SELECT jobs.id, jobs.priority, jobs.ctid
              FROM procrastinate_jobs AS jobs
             WHERE jobs.queue_name = waiting_key.queue_name AND jobs.status = 'todo'
               AND jobs.hj_key = waiting_key.hj_key
       AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
       AND (jobs.lock IS NULL
            OR NOT EXISTS (
                   SELECT 1
                     FROM procrastinate_jobs AS other_jobs
                    WHERE other_jobs.lock = jobs.lock
                      AND (other_jobs.status = 'doing'
                           OR (other_jobs.status = 'todo'
                               AND (other_jobs.priority > jobs.priority
                                    OR (other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id))))))
             ORDER BY jobs.priority DESC, jobs.id ASC
             -- With many keys waiting, each key's first few: one more than its round-robin
             -- share of the free slots.
             LIMIT greatest(0, least(bucket.free, coalesce(key_allowance.allowance, bucket.free),
                                     (bucket.free + key_count.keys - 1) / key_count.keys + 1))
               FOR UPDATE OF jobs SKIP LOCKED
          ) AS locked
     ) AS picked
     WHERE waiting_key.hj_key IS NOT NULL AND coalesce(key_allowance.allowance, 1) > 0
), candidate AS (
    -- Unkeyed jobs are one more key, ranked across the queues of the shared bucket too.
    SELECT unkeyed.id, unkeyed.priority, CAST(NULL AS text) AS hj_key,
           row_number() OVER (
               PARTITION BY unkeyed.shared, CASE WHEN unkeyed.shared THEN NULL
                                                 ELSE unkeyed.queue_name END, unkeyed.priority
               ORDER BY unkeyed.id) AS rank,
           unkeyed.queue_name, unkeyed.free, unkeyed.shared, unkeyed.row_ctid,
           1 AS nth_of_key
      FROM unkeyed
    UNION ALL
    -- A key waiting in two buckets: its allowance counts for both.
    SELECT keyed.*, row_number() OVER (
               PARTITION BY keyed.hj_key ORDER BY keyed.priority DESC, keyed.rank, keyed.id)
      FROM keyed
), ranked AS (
    SELECT candidate.id, candidate.row_ctid, candidate.hj_key, candidate.free,
           row_number() OVER (
               PARTITION BY candidate.shared, CASE WHEN candidate.shared THEN NULL
                                                   ELSE candidate.queue_name END
               ORDER BY candidate.priority DESC, candidate.rank, candidate.id) AS nth
      FROM candidate
      LEFT JOIN key_allowance ON key_allowance.hj_key = candidate.hj_key
     WHERE key_allowance.allowance IS NULL OR candidate.nth_of_key <= key_allowance.allowance
), chosen AS MATERIALIZED (
    -- No keyed candidate (no keyed job waits, or every such key is at its limit): the
    -- unkeyed jobs as before keys existed, without ranking them (the hot path).
    SELECT unkeyed.row_ctid, CAST(NULL AS text) AS hj_key
      FROM unkeyed WHERE NOT unkeyed.shared AND NOT EXISTS (SELECT 1 FROM keyed)
    UNION ALL
    (SELECT unkeyed.row_ctid, CAST(NULL AS text)
       FROM unkeyed WHERE unkeyed.shared AND NOT EXISTS (SELECT 1 FROM keyed)
      ORDER BY unkeyed.priority DESC, unkeyed.id LIMIT %(other_free)s)
    UNION ALL
    SELECT ranked.row_ctid, ranked.hj_key
      FROM ranked WHERE ranked.nth <= ranked.free AND EXISTS (SELECT 1 FROM keyed)
)
UPDATE procrastinate_jobs
   SET status = 'doing', worker_id = %(worker_id)s
 WHERE procrastinate_jobs.ctid = ANY(ARRAY(SELECT row_ctid FROM chosen))  -- see fetch_jobs_unkeyed
   AND set_config('synchronous_commit', 'on', true) IS NOT NULL  -- durable: fetch_jobs_unkeyed
RETURNING procrastinate_jobs.*,
          -- Keyed jobs wait in these buckets (else fetch_jobs_unkeyed will do).
          EXISTS (SELECT 1 FROM waiting_key WHERE waiting_key.hj_key IS NOT NULL)
              AS keyed_waiting;

-- next_key_token --
-- Seconds until the next token of a rate-limited key with ready jobs waiting, if any (queue/batching.py)
SELECT extract(epoch FROM min(
           bucket.refilled_at
           + make_interval(secs => (1 - bucket.tokens) / bucket.per_second)
           - clock_timestamp())) AS seconds
  FROM rate_limit_buckets AS bucket
 WHERE bucket.per_second > 0 AND bucket.tokens < 1
   -- Due later: a token due already is not what holds those jobs (max_running, a lock...).
   AND bucket.refilled_at + make_interval(secs => (1 - bucket.tokens) / bucket.per_second)
       > clock_timestamp()
   AND EXISTS (SELECT 1 FROM procrastinate_jobs AS jobs
                WHERE jobs.hj_key = bucket.name AND jobs.status = 'todo'
                  AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now()));

-- finish_owned_jobs --
-- Finish jobs still `doing` under this worker, in one fenced UPDATE that also lets go of the worker (queue/manager.py)
-- Restates procrastinate_finish_job_v1 (status, abort_requested, attempts + 1; its status
-- trigger writes the event) for a set of jobs. The WHERE clause is the fence: PostgreSQL
-- re-checks it after waiting for a row lock, so a job the rescue took is left alone.
-- worker_id = NULL: otherwise the worker's unregistration (ON DELETE SET NULL) writes one
-- more version of every job it ever ran, with an entry in every index.
-- tests/queue/test_manager.py pins the function's body this restates.
-- The fence's status is compared as text so that no partial index on `status` can serve
-- the statement, only the primary key. With statistics taken while the queue was empty
-- (autovacuum's ANALYZE between bursts), the planner believed
-- procrastinate_jobs_id_lock_idx_v1 (`todo` and `doing` jobs) nearly empty and read all
-- of it for each finish, every waiting job: 36 ms a finish with 100,000 waiting. The
-- worker's index (idx_procrastinate_jobs_worker_not_null, also on `doing`) holds an entry
-- for every job the worker ran since the last vacuum. Same in the two statements below.
UPDATE procrastinate_jobs AS jobs
   SET status = finished.status, abort_requested = false, attempts = jobs.attempts + 1,
       worker_id = NULL
  FROM unnest(%(ids)s::bigint[], %(statuses)s::procrastinate_job_status[])
       AS finished(id, status)
 WHERE jobs.id = finished.id AND jobs.status::text = 'doing'
   AND jobs.worker_id = %(worker_id)s
RETURNING jobs.id;

-- delete_owned_jobs --
-- Delete finished jobs still `doing` under this worker: a task's delete-on-success (queue/manager.py)
DELETE FROM procrastinate_jobs
 WHERE id = ANY(%(ids)s::bigint[]) AND status::text = 'doing'  -- by id: finish_owned_jobs
   AND worker_id = %(worker_id)s
RETURNING id;

-- retry_owned_job --
-- Re-queue a job still `doing` under this worker, row-locked, through Procrastinate's function (queue/manager.py)
WITH owned AS MATERIALIZED (
    SELECT id FROM procrastinate_jobs
     WHERE id = %(job_id)s AND status::text = 'doing'  -- by id: finish_owned_jobs
       AND worker_id = %(worker_id)s
       FOR UPDATE
)
SELECT owned.id,
       procrastinate_retry_job_v2(owned.id, %(retry_at)s::timestamptz,
                                  %(priority)s::integer, %(queue)s::varchar, %(lock)s::varchar)
  FROM owned;

-- record_attempts --
-- Attempts as they ended, one row each, written once (queue/attempts.py)
-- A worker cut off from the database writes its rows when it is back, and by then the
-- rescue may have written the row of the same run as `interrupted` (record_interrupted_attempt):
-- the worker's row, which knows how the run ended, takes the place of the rescue's. A run
-- is (job_id, attempt, worker_id), unique (migration 0018): when both write at the same
-- moment, the later one waits for the other and takes the conflict path. A row of the
-- run this worker wrote already (a write retried after a lost acknowledgement) stays.
WITH ended AS MATERIALIZED (
    SELECT *
    FROM unnest(%(job_id)s::bigint[], %(attempt)s::int[], %(worker_id)s::bigint[],
                %(task_name)s::text[], %(queue)s::text[], %(outcome)s::text[],
                %(started_at)s::timestamptz[], %(duration_ms)s::float8[],
                %(exception_type)s::text[], %(error_message)s::text[], %(traceback)s::text[],
                %(error_fingerprint)s::text[], %(result)s::text[], %(worker_name)s::text[],
                %(hostname)s::text[], %(pid)s::int[], %(request_id)s::text[])
         AS a(job_id, attempt, worker_id, task_name, queue, outcome, started_at, duration_ms,
              exception_type, error_message, traceback, error_fingerprint, result,
              worker_name, hostname, pid, request_id)
), replaced AS (
    -- The rescue's row, seen already (the rescue may not have known the worker's id: a
    -- registration pruned meanwhile leaves the job's worker_id empty).
    UPDATE job_attempts AS rescued
       SET worker_id = ended.worker_id, outcome = ended.outcome,
           started_at = ended.started_at,
           finished_at = ended.started_at + make_interval(secs => ended.duration_ms / 1000),
           duration_ms = ended.duration_ms, exception_type = ended.exception_type,
           error_message = ended.error_message, traceback = ended.traceback,
           error_fingerprint = ended.error_fingerprint, result = ended.result::jsonb,
           worker_name = ended.worker_name, hostname = ended.hostname, pid = ended.pid,
           request_id = ended.request_id
      FROM ended
     WHERE rescued.job_id = ended.job_id AND rescued.attempt = ended.attempt
       AND rescued.exception_type = 'hiring_jobs.queue.rescue.WorkerLost'
       -- Rescued rows have a partial index of their own (ix_job_attempts_rescued): a plan
       -- made while job_attempts looked empty may scan this side in full, and then reads
       -- only them. Written so that the started_at index cannot serve it either.
       AND rescued.started_at + interval '1 minute' >= ended.started_at
    RETURNING rescued.job_id, rescued.attempt
)
INSERT INTO job_attempts
    (job_id, attempt, worker_id, task_name, queue, outcome, started_at, finished_at,
     duration_ms, exception_type, error_message, traceback, error_fingerprint, result,
     worker_name, hostname, pid, request_id)
SELECT job_id, attempt, worker_id, task_name, queue, outcome, started_at,
       started_at + make_interval(secs => duration_ms / 1000), duration_ms, exception_type,
       error_message, traceback, error_fingerprint, result::jsonb, worker_name, hostname,
       pid, request_id
FROM ended
WHERE NOT EXISTS (SELECT 1 FROM replaced
                   WHERE replaced.job_id = ended.job_id AND replaced.attempt = ended.attempt)
ON CONFLICT (job_id, attempt, worker_id) DO UPDATE
   SET outcome = excluded.outcome, started_at = excluded.started_at,
       finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
       exception_type = excluded.exception_type, error_message = excluded.error_message,
       traceback = excluded.traceback, error_fingerprint = excluded.error_fingerprint,
       result = excluded.result, worker_name = excluded.worker_name,
       hostname = excluded.hostname, pid = excluded.pid, request_id = excluded.request_id
 WHERE job_attempts.exception_type = 'hiring_jobs.queue.rescue.WorkerLost';
