-- Every statement of hiring_jobs that reads or writes procrastinate_* tables, functions or
-- types (Procrastinate's own queries are in its sql/queries.sql). The list to re-check on
-- a Procrastinate upgrade; tests/sql/test_named_sql.py prepares each against the schema.
-- The worker's hot path (queue/batching.py, manager.py, attempts.py, execution.py,
-- children.py) still keeps its SQL beside its code.

-- job_status --
-- One job with the outcome of its last attempt (queue/status.py)
SELECT j.id, j.task_name, j.queue_name, j.status, j.attempts, j.scheduled_at,
       a.result, a.exception_type, a.error_message, a.outcome
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT result, exception_type, error_message, outcome
    FROM job_attempts WHERE job_id = j.id ORDER BY id DESC LIMIT 1
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

-- retry_jobs --
-- Back to todo, runnable at once: each of the (failed, locked) ids
SELECT procrastinate_retry_job_v2(id, NULL, NULL, NULL, NULL)
FROM unnest(%(ids)s::bigint[]) AS id;

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
