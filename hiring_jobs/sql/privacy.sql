-- Personal data (hiring_jobs/privacy/): which rows are about a person, erasure and
-- retention. Templates take the table and column names the inventory declares
-- (privacy/inventory.py) and its subject expressions; statements that read or write
-- procrastinate_* (jobs about a person, job details past retention) are in queue.sql.

-- row_ids_about --
-- The ids of a table's rows about a person, by the inventory's subjects (privacy/subjects.py)
-- sample: table=notifications about=sql:true
SELECT id FROM {table} WHERE {about} ORDER BY id;

-- rows_about --
-- Every column of a table's rows about a person, in a stable order (export, privacy/subjects.py)
-- Ordering by the row's text makes the order stable for tables without an `id`.
-- sample: table=notifications about=sql:true
SELECT t.* FROM {table} AS t WHERE {about} ORDER BY t::text;

-- count_about --
-- How many of a table's rows are about a person (erasure preview, privacy/subjects.py)
-- sample: table=notifications about=sql:true
SELECT count(*) FROM {table} WHERE {about};

-- delete_rows_about --
-- Erasure: delete a table's rows about a person (privacy/erasure.py)
-- sample: table=notifications about=sql:true
DELETE FROM {table} WHERE {about};

-- mail_about --
-- The raw messages of mail to a person, for the names it was addressed to (privacy/erasure_matching.py)
-- sample: table=email_deliveries about=sql:true
SELECT raw_message FROM {table} WHERE ({about});

-- rows_listing --
-- Rows whose jsonb column lists an entry about a person (`user_id`), with that column (privacy/erasure_matching.py)
-- sample: table=recommendation_cache column=items
SELECT id, {column} FROM {table}
WHERE jsonb_path_exists(
    {column}, CAST(%(path)s AS jsonpath), jsonb_build_object('uid', CAST(%(uid)s AS bigint))
)
ORDER BY id;

-- replace_list --
-- Erasure: a row's jsonb column without the entries about a person (privacy/erasure.py)
-- sample: table=recommendation_cache column=items
UPDATE {table} SET {column} = CAST(%(value)s AS jsonb) WHERE id = %(id)s;

-- column_text_type --
-- A column's SQL type and type category, to scrub only text and json columns (privacy/erasure.py)
SELECT format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = CAST(%(table)s AS regclass) AND a.attname = %(column)s
  AND NOT a.attisdropped;

-- scrub_column --
-- Erasure: replace what names a person in a text column, rows that match only (privacy/erasure.py)
-- `replaced` is the column run through one regexp_replace per rule (parameters pN by rN);
-- `column_type` is the column's own type (column_text_type).
-- sample: table=notifications column=title replaced=sql:'x' column_type=sql:text
UPDATE {table} SET {column} = CAST({replaced} AS {column_type})
WHERE CAST({column} AS text) ~* %(any)s;

-- reduce_attempt_results --
-- Erasure: results of attempts of jobs about a person keep their id keys only (privacy/erasure_jobs.py)
UPDATE job_attempts SET result = CASE WHEN jsonb_typeof(result) = 'object' THEN
    (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
     FROM jsonb_each(result) WHERE key ~ '(^|_)ids?$') END
WHERE job_id = ANY(%(ids)s::bigint[]) AND result IS NOT NULL;

-- retention_due_candidates --
-- Candidates whose applications all closed before the cutoff with a resume or file left to remove, a keyset page (privacy/retention.py)
-- The last close is the application's update or its last status change; the unique
-- (candidate_id, job_posting_id) index gives the candidates in order. A resume uploaded
-- within the period is kept even when the applications closed long ago, and its file
-- with it; a resume file no resume refers to goes by its own upload time. The slot
-- resume_holds_data is true for a resume that still holds what retention empties.
-- sample: resume_holds_data=sql:true
SELECT a.candidate_id
FROM applications a
LEFT JOIN LATERAL (
    SELECT max(c.changed_at) AS at FROM application_status_changes c
    WHERE c.application_id = a.id
) changed ON true
WHERE a.candidate_id > %(after)s
GROUP BY a.candidate_id
HAVING bool_and(a.status = ANY(%(closed)s))
   AND max(greatest(a.updated_at, changed.at)) < %(cutoff)s
   AND (EXISTS (SELECT 1 FROM resumes r
                WHERE r.user_id = a.candidate_id AND r.created_at < %(cutoff)s
                  AND ({resume_holds_data} OR r.file_id IS NOT NULL))
        OR EXISTS (SELECT 1 FROM stored_files f
                   WHERE f.owner_id = a.candidate_id
                     AND f.kind = ANY(%(kinds)s) AND f.created_at < %(cutoff)s
                     AND NOT EXISTS (SELECT 1 FROM resumes k
                                     WHERE k.file_id = f.id AND k.created_at >= %(cutoff)s)))
ORDER BY a.candidate_id
LIMIT %(limit)s;

-- retention_empty_resumes --
-- Empty the resumes of the candidates uploaded before the cutoff; the emptied ids (privacy/retention.py)
-- Checked again here: an application opened since the candidate was found keeps the
-- resume. The slots are the inventory's Retention.RESUME columns (retention.Emptying).
-- sample: assignments=sql:extracted_text=NULL holds_data=sql:true
UPDATE resumes r SET {assignments}
WHERE r.user_id = ANY(%(ids)s) AND r.created_at < %(cutoff)s AND {holds_data}
  AND NOT EXISTS (SELECT 1 FROM applications o
              WHERE o.candidate_id = r.user_id AND NOT o.status = ANY(%(closed)s))
RETURNING r.id;

-- retention_resume_files --
-- The resume files of the candidates that go: their emptied resumes' files, and loose ones uploaded before the cutoff (privacy/retention.py)
SELECT f.id FROM stored_files f
WHERE f.kind = ANY(%(kinds)s)
  AND (f.id IN (SELECT r.file_id FROM resumes r
                WHERE r.user_id = ANY(%(ids)s) AND r.created_at < %(cutoff)s
                  AND NOT EXISTS (SELECT 1 FROM applications o
                              WHERE o.candidate_id = r.user_id AND NOT o.status = ANY(%(closed)s)))
       OR (f.owner_id = ANY(%(ids)s)
           AND f.kind = ANY(%(kinds)s) AND f.created_at < %(cutoff)s
           AND NOT EXISTS (SELECT 1 FROM resumes k
                           WHERE k.file_id = f.id AND k.created_at >= %(cutoff)s)
           AND NOT EXISTS (SELECT 1 FROM applications o
                       WHERE o.candidate_id = f.owner_id AND NOT o.status = ANY(%(closed)s))));

-- retention_empty_emails --
-- Empty a keyset page of mail sent (or created) before the cutoff, skipping locked rows; the emptied ids (privacy/retention.py)
-- The slots are the inventory's Retention.EMAIL_BODY columns (retention.Emptying).
-- sample: assignments=sql:subject=subject holds_data=sql:true
WITH due AS (
    SELECT e.id FROM email_deliveries e
    WHERE e.id > %(after)s AND coalesce(e.sent_at, e.created_at) < %(cutoff)s
      AND {holds_data}
    ORDER BY e.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE email_deliveries SET {assignments}
WHERE id IN (SELECT id FROM due)
RETURNING id;
