-- Statements of the admin pages over our own tables. Those that read procrastinate_*
-- tables are in hiring_jobs/sql/queue.sql.

-- processes_seen --
-- Worker processes seen in the last hour, from the attempts they recorded (workers page)
SELECT worker_name, hostname, pid, array_agg(DISTINCT queue ORDER BY queue) AS queues,
       count(*) AS attempts, max(started_at) AS last_started
FROM job_attempts
WHERE started_at >= now() - interval '1 hour' AND worker_name IS NOT NULL
GROUP BY worker_name, hostname, pid
ORDER BY max(started_at) DESC
LIMIT 200;

-- worker_registration --
-- What one worker recorded about itself (job page)
SELECT p.worker_id, p.worker_name, p.hostname, p.pid, p.concurrency, p.slots, p.started_at
FROM worker_processes p WHERE p.worker_id = %(worker_id)s;

-- task_summary --
-- Runs, outcomes and runtimes of each task since a time, busiest first (tasks page)
SELECT task_name,
       count(*) AS runs,
       count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE outcome = ANY(CAST(%(failed)s AS text[]))) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms,
       max(started_at) AS last_started
FROM job_attempts
WHERE started_at >= %(since)s
GROUP BY task_name
ORDER BY count(*) DESC, task_name
LIMIT 500;

-- task_buckets --
-- Runs per task and time bucket since a time (tasks page sparklines)
SELECT task_name, date_bin(%(step)s, started_at, %(origin)s) AS bucket, count(*) AS runs
FROM job_attempts
WHERE started_at >= %(since)s
GROUP BY 1, 2;

-- task_series --
-- One task's outcomes and runtimes per time bucket (task page)
SELECT date_bin(%(step)s, started_at, %(origin)s) AS bucket,
       count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE outcome = ANY(CAST(%(failed)s AS text[]))) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
FROM job_attempts
WHERE task_name = %(task)s AND started_at >= %(since)s
GROUP BY 1;

-- task_workers --
-- Which worker processes ran a task since a time, and how (task page)
SELECT worker_name, hostname,
       count(*) AS runs,
       count(*) FILTER (WHERE outcome = ANY(CAST(%(failed)s AS text[]))) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       max(started_at) AS last_started
FROM job_attempts
WHERE task_name = %(task)s AND started_at >= %(since)s
GROUP BY worker_name, hostname
ORDER BY count(*) DESC
LIMIT 100;

-- task_has_attempts --
-- Whether any attempt of the task was recorded (task page of an undeclared task)
SELECT EXISTS (SELECT 1 FROM job_attempts WHERE task_name = %(task)s);
