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
