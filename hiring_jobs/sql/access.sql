-- Sign-in throttling (hiring_jobs/access/throttle.py): failures counted per account and
-- per address, locks that double with each failure past the free ones.

-- throttle_locked_for --
-- Seconds until none of the keys is locked any more
SELECT EXTRACT(EPOCH FROM max(locked_until) - now()) FROM login_throttle
WHERE key = ANY(CAST(%(keys)s AS text[])) AND locked_until > now();

-- throttle_record_failure --
-- Count one failure against every key, locking past the free failures; each key's lock in seconds
-- The failure count after this one starts again once the last failure is old enough.
INSERT INTO login_throttle AS t (key, failures, last_failure_at, locked_until)
SELECT key, 1, now(), NULL FROM unnest(CAST(%(keys)s AS text[])) AS key
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => %(forget)s) THEN 1 ELSE t.failures + 1 END,
    last_failure_at = now(),
    locked_until = CASE WHEN CASE WHEN t.last_failure_at < now() - make_interval(secs => %(forget)s) THEN 1 ELSE t.failures + 1 END > %(free)s THEN now() + make_interval(
        secs => least(%(max_lock)s, power(2, CASE WHEN t.last_failure_at < now() - make_interval(secs => %(forget)s) THEN 1 ELSE t.failures + 1 END - %(free)s - 1))) END
RETURNING EXTRACT(EPOCH FROM coalesce(locked_until - now(), interval '0'));

-- throttle_clear --
-- Forget the keys' failures (a successful sign-in)
DELETE FROM login_throttle WHERE key = ANY(CAST(%(keys)s AS text[]));

-- throttle_forget --
-- Forget failures old enough whose lock is over
DELETE FROM login_throttle
WHERE last_failure_at < now() - make_interval(secs => %(forget)s)
  AND (locked_until IS NULL OR locked_until < now());
