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
