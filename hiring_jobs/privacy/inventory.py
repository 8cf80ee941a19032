"""Where a candidate's personal data lives, and what retention and erasure do to it.

The one place that declares it: every column of every table (ours and Procrastinate's),
every kind of stored file, and every task argument. Tests fail when a model column, a
file kind or a task argument is added without a declaration here (tests/privacy), and
export, retention and erasure read their work from these declarations.

Words used below:
- subject: the person a row is about, as a SQL expression giving their `users.id`;
  a row can have several (a mentoring session has a mentor and a mentee).
- at erasure: what erasing a subject does to their rows (`DELETE`, `ANONYMISE`: the row
  stays with placeholders so counts and foreign keys hold) and to rows of *other* people
  that mention them (`SCRUB`: their name and contact details replaced). Erasure scrubs
  mentions in every personal text column of the rows that stay, whatever its
  `at_erasure` (mail sent to their mentor names them in the mentor's mail log).
- retention: after how long the value is removed although the person is still here
  (see privacy/retention.py and the HIRING_JOBS_RETAIN_* settings).
"""

from __future__ import annotations

import dataclasses
import enum

from hiring_jobs.models import FileKind


class Kind(enum.StrEnum):
    """What a value says about a person."""

    CONTACT = "contact"  # email address, phone number
    NAME = "name"
    PROFILE = "profile"  # what they wrote about themselves: headline, bio, location
    RESUME = "resume"  # a resume's file and text, and facts drawn from it
    APPLICATION = "application"  # where they applied, cover letters, fit, status notes
    MESSAGE = "message"  # what was sent to them or said about them
    ACTIVITY = "activity"  # what they did: quizzes, enrolments, events, achievements
    FREE_TEXT = "free_text"  # text that may quote any of the above: errors, results
    CREDENTIAL = "credential"  # password hashes, token hashes: personal, never exported


class AtErasure(enum.StrEnum):
    DELETE = "delete"  # the row goes
    ANONYMISE = "anonymise"  # the value is replaced by a placeholder, the row stays
    SCRUB = "scrub"  # the subject's name and contact details are replaced inside the text


class Retention(enum.StrEnum):
    RESUME = "resume"  # resumes and their text: N days after the last application closed
    EMAIL_BODY = "email_body"  # sent mail bodies: N days after sending
    JOB_DETAILS = "job_details"  # arguments, errors, results of finished jobs: N days
    ACCOUNT = "account"  # kept while the account exists


@dataclasses.dataclass(frozen=True)
class Field:
    kind: Kind
    at_erasure: AtErasure
    retention: Retention = Retention.ACCOUNT


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    # SQL expressions over the table's columns giving the users.id of the rows' subjects.
    subjects: tuple[str, ...]
    # At erasure, rows whose subject is erased are deleted, unless `keep_rows` (their
    # personal fields are then treated by their own `at_erasure`).
    personal: dict[str, Field]
    # Columns declared as holding nothing personal (ids, timestamps, counts, codes).
    not_personal: frozenset[str]
    keep_rows: bool = False
    why: str = ""


def _cols(names: str) -> frozenset[str]:
    return frozenset(names.split())


CONTACT = Field(Kind.CONTACT, AtErasure.ANONYMISE)
NAME = Field(Kind.NAME, AtErasure.ANONYMISE)
PROFILE = Field(Kind.PROFILE, AtErasure.ANONYMISE)
ACTIVITY = Field(Kind.ACTIVITY, AtErasure.DELETE)
JOB_TEXT = Field(Kind.FREE_TEXT, AtErasure.SCRUB, Retention.JOB_DETAILS)

TABLES: tuple[Table, ...] = (
    # --- people and what they did ---------------------------------------------------------
    Table(
        "users",
        subjects=("id",),
        personal={
            "email": CONTACT,
            "phone": CONTACT,
            "full_name": NAME,
            "headline": PROFILE,
            "bio": PROFILE,
            "location": PROFILE,
            "password_hash": Field(Kind.CREDENTIAL, AtErasure.ANONYMISE),
        },
        not_personal=_cols(
            "id role points is_active email_verified_at last_active_at created_at erased_at"
        ),
        keep_rows=True,
        why="anonymised, not deleted: applications, counts and foreign keys keep a row",
    ),
    Table(
        "user_skills",
        subjects=("user_id",),
        personal={"skill": Field(Kind.RESUME, AtErasure.DELETE)},
        not_personal=_cols("user_id source created_at"),
    ),
    Table(
        "connections",
        subjects=("user_id", "other_user_id"),
        personal={},
        not_personal=_cols("user_id other_user_id created_at"),
    ),
    Table(
        "activity_events",
        subjects=("user_id",),
        personal={"kind": ACTIVITY, "occurred_at": ACTIVITY},
        not_personal=_cols("id user_id"),
    ),
    Table(
        "auth_tokens",
        subjects=("user_id",),
        personal={"token_hash": Field(Kind.CREDENTIAL, AtErasure.DELETE)},
        not_personal=_cols("id user_id purpose expires_at used_at created_at"),
    ),
    Table(
        "resumes",
        subjects=("user_id",),
        personal={
            "extracted_text": Field(Kind.RESUME, AtErasure.DELETE, Retention.RESUME),
            "skills": Field(Kind.RESUME, AtErasure.DELETE, Retention.RESUME),
            "years_experience": Field(Kind.RESUME, AtErasure.DELETE, Retention.RESUME),
            "education": Field(Kind.RESUME, AtErasure.DELETE, Retention.RESUME),
            "failure_reason": Field(Kind.FREE_TEXT, AtErasure.DELETE, Retention.RESUME),
        },
        not_personal=_cols("id user_id file_id parse_status parsed_at deleted_at created_at"),
    ),
    Table(
        "applications",
        subjects=("candidate_id",),
        personal={
            "cover_letter": Field(Kind.APPLICATION, AtErasure.DELETE),
            "fit_score": Field(Kind.APPLICATION, AtErasure.DELETE),
            "fit_explanation": Field(Kind.APPLICATION, AtErasure.DELETE),
            "status": Field(Kind.APPLICATION, AtErasure.DELETE),
        },
        not_personal=_cols(
            "id candidate_id job_posting_id resume_id fit_analyzed_at created_at updated_at"
        ),
    ),
    Table(
        "application_status_changes",
        subjects=("(SELECT candidate_id FROM applications a WHERE a.id = application_id)",),
        personal={"note": Field(Kind.APPLICATION, AtErasure.DELETE)},
        not_personal=_cols("id application_id from_status to_status changed_by_id changed_at"),
    ),
    Table(
        "quiz_attempts",
        subjects=("user_id",),
        personal={"quiz": ACTIVITY, "score": ACTIVITY, "max_score": ACTIVITY},
        not_personal=_cols("id user_id taken_at"),
    ),
    Table(
        "course_enrollments",
        subjects=("user_id",),
        personal={},
        not_personal=_cols("id user_id course_id enrolled_at completed_at"),
        why="who learns what is activity; the whole row goes with its subject",
    ),
    Table(
        "mentoring_sessions",
        subjects=("mentor_id", "mentee_id"),
        personal={"topic": Field(Kind.ACTIVITY, AtErasure.DELETE)},
        not_personal=_cols("id mentor_id mentee_id status scheduled_for created_at"),
    ),
    Table(
        "achievement_unlocks",
        subjects=("user_id",),
        personal={},
        not_personal=_cols("id user_id achievement_id unlocked_at"),
    ),
    # --- what was sent to them or computed about them -----------------------------------
    Table(
        "notifications",
        subjects=("user_id", "related_user_id"),
        personal={
            # "Ada Lovelace liked your post": the liker is named in the owner's row.
            "title": Field(Kind.MESSAGE, AtErasure.SCRUB),
            "message": Field(Kind.MESSAGE, AtErasure.SCRUB),
            "data": Field(Kind.MESSAGE, AtErasure.SCRUB),
        },
        not_personal=_cols("id user_id kind related_user_id dedupe_key read_at created_at"),
        why="rows of the subject go; rows of others that name them are scrubbed",
    ),
    Table(
        "email_deliveries",
        # The recipient is "Name <address>" or a bare address.
        subjects=(
            "(SELECT u.id FROM users u WHERE lower(u.email) = "
            "lower(coalesce(substring(recipient FROM '<([^<>]+)>\\s*$'), recipient)))",
        ),
        personal={
            "recipient": Field(Kind.CONTACT, AtErasure.DELETE),
            "subject": Field(Kind.MESSAGE, AtErasure.DELETE, Retention.EMAIL_BODY),
            "raw_message": Field(Kind.MESSAGE, AtErasure.DELETE, Retention.EMAIL_BODY),
            "provider_response": Field(Kind.FREE_TEXT, AtErasure.DELETE, Retention.EMAIL_BODY),
            "idempotency_key": Field(Kind.FREE_TEXT, AtErasure.DELETE),
        },
        not_personal=_cols("id template status job_id created_at sent_at"),
        why="the mail log: a message to the subject's address is theirs",
    ),
    Table(
        "recommendation_cache",
        subjects=("user_id",),
        personal={
            # Mentor and connection suggestions name other people: scrubbed in theirs.
            "items": Field(Kind.NAME, AtErasure.SCRUB),
        },
        not_personal=_cols("id user_id kind computed_at"),
    ),
    Table(
        "analytics_snapshots",
        subjects=("user_id",),
        personal={
            # The leaderboard names the top users.
            "data": Field(Kind.NAME, AtErasure.SCRUB),
        },
        not_personal=_cols(
            "id kind user_id period_start period_end json_file_id csv_file_id created_at"
        ),
        why="per-user snapshots go; platform ones naming the subject are scrubbed",
    ),
    Table(
        "stored_files",
        subjects=("owner_id",),
        personal={
            "original_name": Field(Kind.NAME, AtErasure.DELETE),
            "path": Field(Kind.RESUME, AtErasure.DELETE),
            "sha256": Field(Kind.RESUME, AtErasure.DELETE),
        },
        not_personal=_cols("id kind content_type size_bytes owner_id expires_at created_at"),
        why="the file on disk goes after the commit (pending_file_deletions)",
    ),
    Table(
        "job_payloads",
        subjects=("subject_user_id", "(content->>'related_user_id')::bigint"),
        personal={"content": Field(Kind.MESSAGE, AtErasure.DELETE, Retention.JOB_DETAILS)},
        not_personal=_cols("id subject_user_id kind created_at"),
        why="free text of a job, kept out of its arguments (privacy/payloads.py)",
    ),
    # --- job history -------------------------------------------------------------------
    Table(
        "procrastinate_jobs",
        subjects=(),  # found through their arguments: see ARGUMENTS and privacy.subjects
        personal={"args": JOB_TEXT},
        not_personal=_cols(
            "id queue_name task_name priority lock queueing_lock status scheduled_at "
            "attempts abort_requested worker_id hj_key"
        ),
        keep_rows=True,
        why="ids only (ARGUMENTS); pending jobs about the subject are cancelled",
    ),
    Table(
        "job_attempts",
        subjects=(),
        personal={
            "error_message": JOB_TEXT,
            "traceback": JOB_TEXT,
            "result": JOB_TEXT,
        },
        not_personal=_cols(
            "id job_id attempt task_name queue outcome started_at finished_at duration_ms "
            "exception_type error_fingerprint worker_name hostname pid request_id worker_id"
        ),
        keep_rows=True,
    ),
    Table(
        "dead_letters",
        subjects=(),
        personal={"error_message": JOB_TEXT},
        not_personal=_cols(
            "job_id task_name queue_name failed_at exception_type error_fingerprint reviewed"
        ),
        keep_rows=True,
    ),
    Table(
        "dead_letter_counts",
        subjects=(),
        personal={},
        not_personal=_cols("id task_name error_fingerprint pending first_seen last_seen"),
        keep_rows=True,
    ),
    Table(
        "dead_letter_reviews",
        subjects=(),
        personal={"notes": Field(Kind.FREE_TEXT, AtErasure.SCRUB)},
        not_personal=_cols("id job_id action reviewed_by reviewed_at retry_job_id"),
        keep_rows=True,
    ),
    Table(
        "job_groups",
        subjects=(),
        personal={},
        not_personal=_cols(
            "id name total finished failed on_complete_task on_complete_kwargs "
            "completion_job_id created_at completed_at"
        ),
        why="on_complete_kwargs are task arguments: ids only, like ARGUMENTS",
    ),
    Table(
        "audit_log",
        subjects=(),
        personal={"details": Field(Kind.FREE_TEXT, AtErasure.SCRUB)},
        not_personal=_cols("id at actor action target job_count"),
        keep_rows=True,
        why="operators' actions; reveals name the value's place, never the value",
    ),
    Table(
        "job_progress",
        subjects=(),
        personal={},
        not_personal=_cols("job_id done total message updated_at"),
        why="counts and step names our tasks report (queue/job_progress.py), never names "
        "or contents; deleted with the job",
    ),
    # --- staff access (operators of this system, not the platform's users) ---------------
    Table(
        "accounts",
        subjects=(),
        personal={
            "username": Field(Kind.NAME, AtErasure.ANONYMISE),
            "password_hash": Field(Kind.CREDENTIAL, AtErasure.ANONYMISE),
            "last_login_at": Field(Kind.ACTIVITY, AtErasure.ANONYMISE),
        },
        not_personal=_cols("id role disabled session_version created_at"),
        keep_rows=True,
        why="staff logins, managed with `hiring-jobs users`; no candidate is their subject",
    ),
    Table(
        "api_tokens",
        subjects=(),
        personal={"token_hash": Field(Kind.CREDENTIAL, AtErasure.ANONYMISE)},
        not_personal=_cols("id name scope prefix created_by created_at last_used_at revoked_at"),
        keep_rows=True,
        why="credentials of applications and scripts, not of people",
    ),
    Table(
        "login_throttle",
        subjects=(),
        personal={"key": Field(Kind.ACTIVITY, AtErasure.ANONYMISE)},
        not_personal=_cols("failures last_failure_at locked_until"),
        keep_rows=True,
        why="failed logins per staff account and client address; rows go a day after "
        "their last failure (access.throttle.forget_old)",
    ),
    Table(
        "alert_rules",
        subjects=(),
        personal={},
        not_personal=_cols(
            "id name kind params email_to webhook_url enabled created_by created_at"
        ),
        keep_rows=True,
        why="operators' alert settings: staff addresses and names, like audit_log.actor",
    ),
    Table(
        "alert_incidents",
        subjects=(),
        personal={},
        not_personal=_cols(
            "id rule_id subject summary opened_at resolved_at acknowledged_at acknowledged_by"
        ),
        keep_rows=True,
        why="summaries name tasks, queues and counts, never a job's arguments",
    ),
    # --- nothing personal ----------------------------------------------------------------
    *(
        Table(name, subjects=(), personal={}, not_personal=_cols(columns))
        for name, columns in (
            (
                "job_postings",
                "id recruiter_id title company location description "
                "required_skills nice_to_have_skills min_years_experience status created_at",
            ),
            ("courses", "id title description skills level created_at"),
            ("achievements", "id code name description points"),
            ("job_group_members", "group_id member failed reported_at"),
            ("job_throughput_minutes", "minute succeeded failed"),
            ("rate_limit_buckets", "name tokens capacity per_second refilled_at"),
            ("hj_task_keys", "task_name key_name arg_field"),
            ("hj_key_limits", "key_name max_running per_second burst"),
            (
                "health_checks",
                "id checked_at database_latency_ms queue_depths live_workers "
                "stalled_jobs oldest_pending_seconds",
            ),
            ("erasures", "id user_id requested_by requested_at counts files_removed_at"),
            ("pending_file_deletions", "id path reason erasure_id created_at"),
            ("procrastinate_events", "id job_id type at"),
            ("procrastinate_periodic_defers", "id task_name defer_timestamp job_id periodic_id"),
            ("procrastinate_workers", "id last_heartbeat"),
            ("queue_settings", "queue_name worker_name paused concurrency updated_at updated_by"),
            (
                "periodic_settings",
                "task_name periodic_id enabled catch_up window_seconds updated_at updated_by",
            ),
            (
                "worker_processes",
                "worker_id worker_name hostname pid concurrency slots pool started_at"
                " applied paused seen_at",
            ),
            ("alembic_version", "version_num"),
        )
    ),
)


@dataclasses.dataclass(frozen=True)
class StoredFileRule:
    kind: Kind
    at_erasure: AtErasure
    retention: Retention


# Files on disk, by StoredFile.kind; their owner is stored_files.owner_id.
FILES: dict[FileKind, StoredFileRule] = {
    FileKind.RESUME: StoredFileRule(Kind.RESUME, AtErasure.DELETE, Retention.RESUME),
    FileKind.CV_PDF: StoredFileRule(Kind.PROFILE, AtErasure.DELETE, Retention.ACCOUNT),
    FileKind.IMAGE: StoredFileRule(Kind.PROFILE, AtErasure.DELETE, Retention.ACCOUNT),
    FileKind.THUMBNAIL: StoredFileRule(Kind.PROFILE, AtErasure.DELETE, Retention.ACCOUNT),
    # Platform-wide figures (no owner); scrubbed like analytics_snapshots if they name anyone.
    FileKind.EXPORT: StoredFileRule(Kind.NAME, AtErasure.SCRUB, Retention.ACCOUNT),
    FileKind.TEMPORARY: StoredFileRule(Kind.FREE_TEXT, AtErasure.DELETE, Retention.ACCOUNT),
}


class ArgumentKind(enum.StrEnum):
    ID = "id"  # the id of a row of `refers_to` (one, or a list)
    VALUE = "value"  # a number, date, code or flag: says nothing about anyone
    SECRET = "secret"  # a single-use token: not personal, never shown in full
    AGGREGATE = "aggregate"  # platform-wide figures


@dataclasses.dataclass(frozen=True)
class Argument:
    kind: ArgumentKind
    refers_to: str | None = None  # a table of TABLES, for ids
    many: bool = False


def _id(table: str, many: bool = False) -> Argument:
    return Argument(ArgumentKind.ID, table, many)


VALUE = Argument(ArgumentKind.VALUE)

# Every task argument name used by a registered task. Jobs carry identifiers, never
# personal data: free text a job needs goes in a job payload (privacy/payloads.py).
ARGUMENTS: dict[str, Argument] = {
    "user_id": _id("users"),
    "user_ids": _id("users", many=True),
    "liker_id": _id("users"),
    "commenter_id": _id("users"),
    "mentioned_by": _id("users"),
    "resume_id": _id("resumes"),
    "resume_ids": _id("resumes", many=True),
    "application_id": _id("applications"),
    "status_change_id": _id("application_status_changes"),
    "file_id": _id("stored_files"),
    "unlock_id": _id("achievement_unlocks"),
    "enrollment_id": _id("course_enrollments"),
    "mentoring_session_id": _id("mentoring_sessions"),
    "payload_id": _id("job_payloads"),
    "payload_ids": _id("job_payloads", many=True),
    "job_posting_id": _id("job_postings"),
    "group_id": _id("job_groups"),
    "up_to_id": _id("notifications"),
    "incident_id": _id("alert_incidents"),
    # Values: numbers, dates, codes and flags.
    "timestamp": VALUE,
    "day": VALUE,
    "days": VALUE,
    "weeks": VALUE,
    "week_start": VALUE,
    "limit": VALUE,
    "width": VALUE,
    "height": VALUE,
    "score": VALUE,
    "code": VALUE,  # an achievement code
    "send_by_email": VALUE,  # generate_cv_pdf: a flag, whether to email the PDF
    "email": VALUE,  # the same flag's former name, in jobs queued before the rename
    "mention_type": VALUE,
    "content_type": VALUE,
    "content_id": VALUE,
    "comment_id": VALUE,
    "event": VALUE,  # an alert incident's "opened" or "resolved"
    # Procrastinate's builtin remove_old_jobs.
    "max_hours": VALUE,
    "queue": VALUE,
    "remove_failed": VALUE,
    "remove_cancelled": VALUE,
    "remove_aborted": VALUE,
    "token": Argument(ArgumentKind.SECRET),
    "stats": Argument(ArgumentKind.AGGREGATE),
}


def table(name: str) -> Table:
    for declared in TABLES:
        if declared.name == name:
            return declared
    raise KeyError(f"table {name!r} is not declared in privacy/inventory.py")
