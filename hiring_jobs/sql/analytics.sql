-- Analytics and recommendations (hiring_jobs/services/analytics.py, recommendations.py):
-- reports, exports and scores over the application tables. In the recommend_* statements,
-- `mine` is the user's skills, lower case, and `gaps` the skills wanted by open postings
-- that the user lacks, weighted up when the user applied.

-- user_growth --
-- Sign-ups per ISO week and the running total (services/analytics.py user_growth)
WITH weeks AS (
    SELECT generate_series(CAST(%(start)s AS date), CAST(%(end)s AS date) - 7, interval '7 days')
           AS week
), signups AS (
    SELECT date_trunc('week', timezone('UTC', created_at)) AS week, count(*) AS n
    FROM users
    WHERE created_at >= %(start_ts)s AND created_at < %(end_ts)s
    GROUP BY 1
)
SELECT CAST(weeks.week AS date) AS week,
       COALESCE(signups.n, 0) AS new_users,
       %(before)s + SUM(COALESCE(signups.n, 0)) OVER (ORDER BY weeks.week) AS total_users
FROM weeks LEFT JOIN signups ON signups.week = weeks.week
ORDER BY weeks.week;

-- daily_series --
-- New users, applications, resumes and active users per UTC day, zeros included (export)
WITH days AS (
    SELECT CAST(generate_series(CAST(%(first)s AS date), CAST(%(last)s AS date), interval '1 day')
                AS date) AS day
),
u AS (SELECT CAST(timezone('UTC', created_at) AS date) AS day, count(*) AS n FROM users
      WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1),
a AS (SELECT CAST(timezone('UTC', created_at) AS date) AS day, count(*) AS n
      FROM applications WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1),
r AS (SELECT CAST(timezone('UTC', created_at) AS date) AS day, count(*) AS n FROM resumes
      WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1),
e AS (SELECT CAST(timezone('UTC', occurred_at) AS date) AS day,
             count(DISTINCT user_id) AS n
      FROM activity_events WHERE occurred_at >= %(start)s AND occurred_at < %(end)s GROUP BY 1)
SELECT days.day, COALESCE(u.n, 0), COALESCE(a.n, 0), COALESCE(r.n, 0), COALESCE(e.n, 0)
FROM days
LEFT JOIN u USING (day) LEFT JOIN a USING (day) LEFT JOIN r USING (day)
LEFT JOIN e USING (day)
ORDER BY days.day;

-- recommend_jobs --
-- Open postings the user has not applied to, scored by the skills they match
WITH mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = %(user_id)s),
scored AS (
    SELECT p.id, p.title, p.company, p.location, p.created_at,
           ARRAY(SELECT s FROM unnest(p.required_skills || p.nice_to_have_skills) AS s
                 WHERE lower(s) IN (SELECT skill FROM mine)) AS matched,
           (SELECT count(*) FROM unnest(p.required_skills) AS s
            WHERE lower(s) IN (SELECT skill FROM mine)) * 2
         + (SELECT count(*) FROM unnest(p.nice_to_have_skills) AS s
            WHERE lower(s) IN (SELECT skill FROM mine)) AS hits,
           greatest(cardinality(p.required_skills) * 2
                    + cardinality(p.nice_to_have_skills), 1) AS weight
    FROM job_postings p
    WHERE p.status = 'open' AND NOT EXISTS (
        SELECT 1 FROM applications a
        WHERE a.job_posting_id = p.id AND a.candidate_id = %(user_id)s)
)
SELECT id, title, company, location, matched, round(100.0 * hits / weight) AS score
FROM scored WHERE hits > 0
ORDER BY score DESC, created_at DESC, id LIMIT %(limit)s;

-- recommend_courses --
-- Courses not taken that teach skills open postings want and the user lacks
WITH mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = %(user_id)s),
gaps AS (
    SELECT lower(s) AS skill, count(*) AS postings,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM applications a
               WHERE a.job_posting_id = p.id AND a.candidate_id = %(user_id)s)) AS applied
    FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) AS s
    WHERE p.status = 'open' AND lower(s) NOT IN (SELECT skill FROM mine)
    GROUP BY lower(s)
)
    SELECT c.id, c.title, c.level,
           ARRAY(SELECT s FROM unnest(c.skills) AS s
                 WHERE lower(s) NOT IN (SELECT skill FROM mine)) AS teaches,
           (SELECT coalesce(sum(g.postings + 2 * g.applied), 0)
            FROM unnest(c.skills) AS s JOIN gaps g ON g.skill = lower(s)) AS score
    FROM courses c
    WHERE NOT EXISTS (SELECT 1 FROM course_enrollments e
                      WHERE e.course_id = c.id AND e.user_id = %(user_id)s)
      AND EXISTS (SELECT 1 FROM unnest(c.skills) AS s
                  WHERE lower(s) NOT IN (SELECT skill FROM mine))
    ORDER BY score DESC, c.id LIMIT %(limit)s;

-- recommend_skills --
-- Skills open postings want that the user lacks, those of postings applied to first
WITH mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = %(user_id)s),
gaps AS (
    SELECT lower(s) AS skill, count(*) AS postings,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM applications a
               WHERE a.job_posting_id = p.id AND a.candidate_id = %(user_id)s)) AS applied
    FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) AS s
    WHERE p.status = 'open' AND lower(s) NOT IN (SELECT skill FROM mine)
    GROUP BY lower(s)
)
    SELECT (SELECT s FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) s
            WHERE lower(s) = gaps.skill ORDER BY p.id LIMIT 1) AS name,
           postings, applied
    FROM gaps ORDER BY applied DESC, postings DESC, skill LIMIT %(limit)s;

-- recommend_mentors --
-- Active mentors who can teach the user's missing skills, scored
WITH mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = %(user_id)s),
gaps AS (
    SELECT lower(s) AS skill, count(*) AS postings,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM applications a
               WHERE a.job_posting_id = p.id AND a.candidate_id = %(user_id)s)) AS applied
    FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) AS s
    WHERE p.status = 'open' AND lower(s) NOT IN (SELECT skill FROM mine)
    GROUP BY lower(s)
), candidates AS (
        SELECT u.id, u.full_name, u.headline, u.last_active_at >= %(active_since)s AS active,
               ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                     AND lower(us.skill) IN (SELECT skill FROM gaps) ORDER BY us.skill)
                   AS can_teach,
               ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                     AND lower(us.skill) IN (SELECT skill FROM mine) ORDER BY us.skill)
                   AS shared,
               (SELECT count(*) FROM mentoring_sessions m
                WHERE m.mentor_id = u.id AND m.status = 'completed') AS sessions
        FROM users u
        WHERE u.role = 'mentor' AND u.is_active AND u.id <> %(user_id)s
          AND NOT EXISTS (SELECT 1 FROM mentoring_sessions m
                          WHERE m.mentor_id = u.id AND m.mentee_id = %(user_id)s
                            AND m.status IN ('requested', 'accepted'))
    )
    SELECT id, full_name, headline, can_teach, shared, sessions,
           3 * cardinality(can_teach) + cardinality(shared) + least(sessions, 5)
           + CASE WHEN active THEN 2 ELSE 0 END AS score
    FROM candidates
    ORDER BY score DESC, id LIMIT %(limit)s;

-- recommend_connections --
-- People to connect with: friends of friends and people sharing skills, scored
WITH mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = %(user_id)s),
friends AS (SELECT other_user_id AS id FROM connections WHERE user_id = %(user_id)s),
candidates AS (
    SELECT c.other_user_id AS id FROM connections c WHERE c.user_id IN (SELECT id FROM friends)
    UNION
    SELECT us.user_id FROM user_skills us
    WHERE us.skill IN (SELECT skill FROM user_skills WHERE user_id = %(user_id)s)
),
scored AS (
    SELECT u.id, u.full_name, u.headline,
           (SELECT count(*) FROM connections c
            WHERE c.user_id = u.id AND c.other_user_id IN (SELECT id FROM friends)) AS mutual,
           ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                 AND lower(us.skill) IN (SELECT skill FROM mine) ORDER BY us.skill) AS shared,
           u.last_active_at >= %(active_since)s AS active
    FROM users u
    WHERE u.id IN (SELECT id FROM candidates) AND u.id <> %(user_id)s AND u.is_active
      AND u.role <> 'admin' AND u.id NOT IN (SELECT id FROM friends)
)
SELECT id, full_name, headline, mutual, shared,
       3 * mutual + cardinality(shared) + CASE WHEN active THEN 1 ELSE 0 END AS score
FROM scored
ORDER BY score DESC, id LIMIT %(limit)s;
