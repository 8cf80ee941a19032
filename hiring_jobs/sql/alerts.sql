-- Alert rules and incidents (hiring_jobs/alerts.py); the checks that read procrastinate_*
-- tables (queue_unserved, oldest_waiting, stalled_jobs) are in queue.sql.

-- alert_task_failure_rate --
-- Tasks whose share of failed runs over the window reaches the rate (rule task_failure_rate)
SELECT task_name AS subject,
       count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'interrupted')) AS failed,
       count(*) AS finished
FROM job_attempts
WHERE started_at >= now() - make_interval(mins => %(window_minutes)s)
  AND outcome <> 'running'
  AND (%(task)s = '' OR task_name = %(task)s)
GROUP BY task_name
HAVING count(*) >= %(min_runs)s
   AND count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'interrupted'))
       >= %(rate)s * count(*);

-- alert_dead_letters_growing --
-- New unreviewed dead letters over the window, when enough (rule dead_letters_growing)
SELECT '' AS subject, count(*) AS new
FROM dead_letters
WHERE NOT reviewed AND failed_at >= now() - make_interval(mins => %(window_minutes)s)
HAVING count(*) >= %(min_new)s;

-- open_incident --
-- Open an incident of a rule for a subject unless one is open; its id when opened
INSERT INTO alert_incidents (rule_id, subject, summary)
VALUES (%(rule_id)s, %(subject)s, %(summary)s)
ON CONFLICT (rule_id, subject) WHERE resolved_at IS NULL DO NOTHING
RETURNING id;

-- resolve_incident --
-- Resolve an open incident; its id when it was open
UPDATE alert_incidents SET resolved_at = now()
WHERE id = %(id)s AND resolved_at IS NULL
RETURNING id;

-- resolve_rule_incidents --
-- Resolve every open incident of a rule, quietly (the rule is disabled)
-- A disabled rule's open incidents end without a recovery notice: nobody watches them now.
UPDATE alert_incidents SET resolved_at = now()
WHERE rule_id = %(id)s AND resolved_at IS NULL;

-- recent_incidents --
-- Incidents with their rule, open ones first, then the latest resolved
SELECT i.id, i.rule_id, r.name AS rule_name, r.kind, i.subject, i.summary, i.opened_at,
       i.resolved_at, i.acknowledged_at, i.acknowledged_by
FROM alert_incidents i JOIN alert_rules r ON r.id = i.rule_id
ORDER BY (i.resolved_at IS NULL) DESC, i.opened_at DESC, i.id DESC
LIMIT %(limit)s;
