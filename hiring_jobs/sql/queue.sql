-- Every statement of hiring_jobs that reads or writes procrastinate_* tables, functions or
-- types (Procrastinate's own queries are in its sql/queries.sql). The list to re-check on
-- a Procrastinate upgrade; tests/sql/test_named_sql.py prepares each against the schema.
-- The worker's fetch and its fenced finish and retry are at the end.

-- job_status --
-- One job with the outcome of its last attempt and its progress (queue/status.py)
SELECT j.id, j.task_name, j.queue_name, j.status, j.attempts, j.scheduled_at,
       a.result, a.exception_type, a.error_message, a.outcome, a.started_at,
       p.done, p.total, p.message, p.updated_at AS progress_at
FROM procrastinate_jobs j
LEFT JOIN job_progress p ON p.job_id = j.id
LEFT JOIN LATERAL (
    SELECT result, exception_type, error_message, outcome, started_at
    FROM job_attempts WHERE job_id = j.id
    -- The order of ix_job_attempts_job: "ORDER BY id DESC" alone let the planner walk the
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

-- close_orphaned_attempts --
-- Attempts still running whose job no longer runs them, older than the stall threshold
UPDATE job_attempts AS attempt
SET outcome = 'interrupted', finished_at = now(),
    duration_ms = extract(epoch FROM now() - started_at) * 1000,
    exception_type = 'hiring_jobs.queue.rescue.AttemptLost',
    error_message = 'the end of this attempt was never recorded'
WHERE attempt.outcome = 'running'
  AND attempt.started_at < now() - make_interval(secs => %(stalled_after)s)
  AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS job
         WHERE job.id = attempt.job_id AND job.status = 'doing'
           AND job.attempts + 1 = attempt.attempt);

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
-- Succeeded and failed jobs per minute since a moment, counted from procrastinate_events
SELECT date_trunc('minute', at) AS minute,
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
-- What each worker runs now, and where: the attempt row written when it started (workers page)
-- Between fetch and the attempt row, Procrastinate's `started` event and the worker's
-- registration say when and where.
SELECT j.worker_id, j.id AS job_id, j.task_name, j.queue_name,
       coalesce(a.started_at, (SELECT max(e.at) FROM procrastinate_events e
                               WHERE e.job_id = j.id AND e.type = 'started')) AS started_at,
       coalesce(a.worker_name, p.worker_name) AS worker_name,
       coalesce(a.hostname, p.hostname) AS hostname, coalesce(a.pid, p.pid) AS pid
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT started_at, worker_name, hostname, pid FROM job_attempts
    WHERE job_id = j.id ORDER BY attempt DESC LIMIT 1
) a ON true
LEFT JOIN worker_processes p ON p.worker_id = j.worker_id
WHERE j.status = 'doing' AND j.worker_id IS NOT NULL
ORDER BY j.worker_id, j.id
LIMIT 1000;

-- running_since --
-- Since when this system has run jobs or deferred cron ticks (cron page)
-- A tick due before that was never expected to run (a fresh install has missed nothing).
-- Both minima are index lookups.
SELECT least(
    (SELECT min(started_at) FROM job_attempts),
    (SELECT to_timestamp(min(defer_timestamp)) FROM procrastinate_periodic_defers)
);

-- last_periodic_defer --
-- The latest defer of a cron task and its job's status (cron page)
-- defer_periodic_job keeps only the latest defer per task and periodic id.
SELECT d.defer_timestamp, d.job_id, j.status
FROM procrastinate_periodic_defers d
LEFT JOIN procrastinate_jobs j ON j.id = d.job_id
WHERE d.task_name = %(task)s AND d.periodic_id = %(periodic_id)s
ORDER BY d.defer_timestamp DESC NULLS LAST
LIMIT 1;

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
    -- Served by the covering partial index: no heap reads, no text compared.
    SELECT task_name, error_fingerprint,
           count(*) AS count, min(failed_at) AS first_seen, max(failed_at) AS last_seen
    FROM dead_letters WHERE NOT reviewed
    GROUP BY task_name, error_fingerprint
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

-- jobs_about --
-- Ids of the jobs whose arguments contain any of the documents, sorted (privacy/subjects.py)
-- One containment test per document: each is answered by the GIN index on args.
SELECT DISTINCT j.id
FROM unnest(CAST(%(documents)s AS jsonb[])) AS d(document)
JOIN procrastinate_jobs AS j ON j.args @> d.document
ORDER BY j.id;

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

-- worker_registrations --
-- What each live worker recorded about itself (queue/registration.py)
-- What each live registration recorded about itself (queue/registration.py).
SELECT p.worker_id, p.worker_name, p.hostname, p.pid, p.concurrency, p.slots, p.pool,
       p.started_at
FROM worker_processes p
JOIN procrastinate_workers w ON w.id = p.worker_id
ORDER BY p.worker_id
LIMIT 1000;


-- fetch_jobs_unkeyed --
-- The worker's fetch while no keyed job waits in its buckets (queue/batching.py): procrastinate_fetch_job_v2's selection, unkeyed jobs only
-- The statement from before keys (fetch_jobs below without the key machinery, whose
-- plan costs about 1 ms more per call even with nothing keyed waiting), for unkeyed jobs
-- only, at the same cost as before. A worker runs fetch_jobs instead when this finds
-- nothing, at least once a second, and while fetch_jobs says keyed jobs wait.
WITH RECURSIVE waiting_queue(queue_name) AS (
    (SELECT jobs.queue_name
       FROM procrastinate_jobs AS jobs
      WHERE jobs.status = 'todo' AND %(other_free)s > 0
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
), bucket(queue_name, free, shared) AS (
    SELECT named.queue_name, named.free, false
      FROM unnest(%(queues)s::varchar[], %(free)s::int[]) AS named(queue_name, free)
     WHERE named.free > 0
    UNION ALL
    SELECT waiting_queue.queue_name, %(other_free)s, true
      FROM waiting_queue
     WHERE waiting_queue.queue_name IS NOT NULL
       AND NOT (waiting_queue.queue_name = ANY(%(queues)s::varchar[]))
), candidate AS MATERIALIZED (
    SELECT picked.id, picked.priority, bucket.shared
      FROM bucket
     CROSS JOIN LATERAL (
        SELECT jobs.id, jobs.priority
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
    SELECT id FROM candidate WHERE NOT shared
    UNION ALL
    (SELECT id FROM candidate WHERE shared ORDER BY priority DESC, id LIMIT %(other_free)s)
)
UPDATE procrastinate_jobs
   SET status = 'doing', worker_id = %(worker_id)s
 WHERE procrastinate_jobs.id = ANY(ARRAY(SELECT id FROM chosen))
RETURNING procrastinate_jobs.*;

-- fetch_jobs --
-- The worker's fetch (queue/batching.py): procrastinate_fetch_job_v2's selection, per queue up to its free slots, within key limits, round-robin across keys
-- Unkeyed jobs are read as before (hj_jobs_todo_unkeyed); keyed ones key by key (a loose
-- index scan of hj_jobs_todo_keyed: one probe per waiting key), each key's first jobs up
-- to what hj_key_allowance (migration 0016) lets it start now, and to one more than its
-- share of the free slots when many keys wait: a key's first jobs, by priority, are always
-- among the candidates, its later ones may wait for the next fetch even at a higher priority
-- than other keys' jobs (with 1,000 keys waiting this cut the fetch from 55 to ~20 ms). Each candidate's rank is
-- its place within its key (unkeyed jobs are one more key) and priority; the best by
-- (priority, rank, id) win, up to each bucket's free slots: round-robin across keys.
-- Each keyed job started spends a token of its key's bucket (trigger hj_jobs_key_started,
-- on the rows hj_key_allowance locked).
WITH RECURSIVE waiting_queue(queue_name) AS (
    (SELECT jobs.queue_name
       FROM procrastinate_jobs AS jobs
      WHERE jobs.status = 'todo' AND %(other_free)s > 0
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
), bucket(queue_name, free, shared) AS (
    SELECT named.queue_name, named.free, false
      FROM unnest(%(queues)s::varchar[], %(free)s::int[]) AS named(queue_name, free)
     WHERE named.free > 0
    UNION ALL
    SELECT waiting_queue.queue_name, %(other_free)s, true
      FROM waiting_queue
     WHERE waiting_queue.queue_name IS NOT NULL
       AND NOT (waiting_queue.queue_name = ANY(%(queues)s::varchar[]))
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
    SELECT picked.id, picked.priority, bucket.queue_name, bucket.free, bucket.shared
      FROM bucket
     CROSS JOIN LATERAL (
            SELECT jobs.id, jobs.priority
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
           bucket.queue_name, bucket.free, bucket.shared
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
        SELECT locked.id, locked.priority,
               running.n + row_number() OVER (PARTITION BY locked.priority ORDER BY locked.id)
                   AS rank
          FROM (
            SELECT jobs.id, jobs.priority
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
           unkeyed.queue_name, unkeyed.free, unkeyed.shared, 1 AS nth_of_key
      FROM unkeyed
    UNION ALL
    -- A key waiting in two buckets: its allowance counts for both.
    SELECT keyed.*, row_number() OVER (
               PARTITION BY keyed.hj_key ORDER BY keyed.priority DESC, keyed.rank, keyed.id)
      FROM keyed
), ranked AS (
    SELECT candidate.id, candidate.hj_key, candidate.free,
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
    SELECT unkeyed.id, CAST(NULL AS text) AS hj_key
      FROM unkeyed WHERE NOT unkeyed.shared AND NOT EXISTS (SELECT 1 FROM keyed)
    UNION ALL
    (SELECT unkeyed.id, CAST(NULL AS text)
       FROM unkeyed WHERE unkeyed.shared AND NOT EXISTS (SELECT 1 FROM keyed)
      ORDER BY unkeyed.priority DESC, unkeyed.id LIMIT %(other_free)s)
    UNION ALL
    SELECT ranked.id, ranked.hj_key
      FROM ranked WHERE ranked.nth <= ranked.free AND EXISTS (SELECT 1 FROM keyed)
)
UPDATE procrastinate_jobs
   SET status = 'doing', worker_id = %(worker_id)s
 WHERE procrastinate_jobs.id = ANY(ARRAY(SELECT id FROM chosen))
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
UPDATE procrastinate_jobs AS jobs
   SET status = finished.status, abort_requested = false, attempts = jobs.attempts + 1,
       worker_id = NULL
  FROM unnest(%(ids)s::bigint[], %(statuses)s::procrastinate_job_status[])
       AS finished(id, status)
 WHERE jobs.id = finished.id AND jobs.status = 'doing' AND jobs.worker_id = %(worker_id)s
RETURNING jobs.id;

-- delete_owned_jobs --
-- Delete finished jobs still `doing` under this worker: a task's delete-on-success (queue/manager.py)
DELETE FROM procrastinate_jobs
 WHERE id = ANY(%(ids)s::bigint[]) AND status = 'doing' AND worker_id = %(worker_id)s
RETURNING id;

-- retry_owned_job --
-- Re-queue a job still `doing` under this worker, row-locked, through Procrastinate's function (queue/manager.py)
WITH owned AS MATERIALIZED (
    SELECT id FROM procrastinate_jobs
     WHERE id = %(job_id)s AND status = 'doing' AND worker_id = %(worker_id)s
       FOR UPDATE
)
SELECT owned.id,
       procrastinate_retry_job_v2(owned.id, %(retry_at)s::timestamptz,
                                  %(priority)s::integer, %(queue)s::varchar, %(lock)s::varchar)
  FROM owned;
