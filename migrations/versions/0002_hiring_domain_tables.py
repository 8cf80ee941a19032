"""The hiring domain: users, postings, applications, resumes, files, mail, notifications, ...

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "achievements",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievements")),
        sa.UniqueConstraint("code", name=op.f("uq_achievements_code")),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("skills", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "outbox",
                "failed",
                name="deliverystatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("provider_response", sa.Text(), nullable=True),
        sa.Column("raw_message", sa.Text(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_email_deliveries_idempotency_key")),
    )
    op.create_index(
        op.f("ix_email_deliveries_job_id"), "email_deliveries", ["job_id"], unique=False
    )
    op.create_index(
        op.f("ix_email_deliveries_recipient"), "email_deliveries", ["recipient"], unique=False
    )
    op.create_index(
        "ix_email_deliveries_status_created",
        "email_deliveries",
        ["status", "created_at"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "candidate",
                "recruiter",
                "mentor",
                "admin",
                name="userrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("headline", sa.String(length=200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        "ix_users_active_last_seen", "users", ["is_active", "last_active_at"], unique=False
    )
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "achievement_unlocks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("achievement_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "unlocked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_achievement_unlocks_achievement_id_achievements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_achievement_unlocks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievement_unlocks")),
        sa.UniqueConstraint(
            "user_id", "achievement_id", name=op.f("uq_achievement_unlocks_user_id")
        ),
    )
    op.create_index(
        op.f("ix_achievement_unlocks_achievement_id"),
        "achievement_unlocks",
        ["achievement_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_achievement_unlocks_user_id"), "achievement_unlocks", ["user_id"], unique=False
    )
    op.create_table(
        "activity_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_activity_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_events")),
    )
    op.create_index(
        op.f("ix_activity_events_occurred_at"), "activity_events", ["occurred_at"], unique=False
    )
    op.create_index(
        "ix_activity_events_user_occurred",
        "activity_events",
        ["user_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "email_verification",
                "password_reset",
                name="tokenpurpose",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index(op.f("ix_auth_tokens_expires_at"), "auth_tokens", ["expires_at"], unique=False)
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"], unique=False)
    op.create_table(
        "connections",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("other_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("user_id <> other_user_id", name=op.f("ck_connections_not_self")),
        sa.ForeignKeyConstraint(
            ["other_user_id"],
            ["users.id"],
            name=op.f("fk_connections_other_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_connections_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "other_user_id", name=op.f("pk_connections")),
    )
    op.create_index(
        op.f("ix_connections_other_user_id"), "connections", ["other_user_id"], unique=False
    )
    op.create_table(
        "course_enrollments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("course_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "enrolled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_enrollments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_course_enrollments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_enrollments")),
        sa.UniqueConstraint("user_id", "course_id", name=op.f("uq_course_enrollments_user_id")),
    )
    op.create_index(
        op.f("ix_course_enrollments_course_id"), "course_enrollments", ["course_id"], unique=False
    )
    op.create_index(
        op.f("ix_course_enrollments_user_id"), "course_enrollments", ["user_id"], unique=False
    )
    op.create_table(
        "job_postings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("recruiter_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("required_skills", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("nice_to_have_skills", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("min_years_experience", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="postingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["recruiter_id"],
            ["users.id"],
            name=op.f("fk_job_postings_recruiter_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_postings")),
    )
    op.create_index(
        op.f("ix_job_postings_recruiter_id"), "job_postings", ["recruiter_id"], unique=False
    )
    op.create_index(
        "ix_job_postings_status_created", "job_postings", ["status", "created_at"], unique=False
    )
    op.create_table(
        "mentoring_sessions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("mentor_id", sa.BigInteger(), nullable=False),
        sa.Column("mentee_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "accepted",
                "declined",
                "completed",
                name="mentoringstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("mentor_id <> mentee_id", name=op.f("ck_mentoring_sessions_not_self")),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["users.id"],
            name=op.f("fk_mentoring_sessions_mentee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["users.id"],
            name=op.f("fk_mentoring_sessions_mentor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentoring_sessions")),
    )
    op.create_index(
        op.f("ix_mentoring_sessions_mentee_id"), "mentoring_sessions", ["mentee_id"], unique=False
    )
    op.create_index(
        op.f("ix_mentoring_sessions_mentor_id"), "mentoring_sessions", ["mentor_id"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index(
        "ix_notifications_user_created", "notifications", ["user_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_notifications_dedupe_key",
        "notifications",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_table(
        "quiz_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("quiz", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column(
            "taken_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "score >= 0 AND score <= max_score", name=op.f("ck_quiz_attempts_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quiz_attempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_attempts")),
    )
    op.create_index(
        "ix_quiz_attempts_quiz_taken", "quiz_attempts", ["quiz", "taken_at"], unique=False
    )
    op.create_index(op.f("ix_quiz_attempts_user_id"), "quiz_attempts", ["user_id"], unique=False)
    op.create_table(
        "recommendation_cache",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "jobs",
                "courses",
                "mentors",
                "skills",
                "connections",
                name="recommendationkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recommendation_cache_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_cache")),
        sa.UniqueConstraint("user_id", "kind", name=op.f("uq_recommendation_cache_user_id")),
    )
    op.create_table(
        "stored_files",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "resume",
                "cv_pdf",
                "image",
                "thumbnail",
                "export",
                "temporary",
                name="filekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_stored_files_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("path", name=op.f("uq_stored_files_path")),
    )
    op.create_index(
        op.f("ix_stored_files_expires_at"), "stored_files", ["expires_at"], unique=False
    )
    op.create_index(
        "ix_stored_files_kind_created", "stored_files", ["kind", "created_at"], unique=False
    )
    op.create_index(op.f("ix_stored_files_owner_id"), "stored_files", ["owner_id"], unique=False)
    op.create_table(
        "user_skills",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("skill", sa.String(length=100), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "declared",
                "resume",
                name="skillsource",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_skills_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "skill", name=op.f("pk_user_skills")),
    )
    op.create_index(op.f("ix_user_skills_skill"), "user_skills", ["skill"], unique=False)
    op.create_table(
        "analytics_snapshots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("json_file_id", sa.BigInteger(), nullable=True),
        sa.Column("csv_file_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["csv_file_id"],
            ["stored_files.id"],
            name=op.f("fk_analytics_snapshots_csv_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["json_file_id"],
            ["stored_files.id"],
            name=op.f("fk_analytics_snapshots_json_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_analytics_snapshots_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_snapshots")),
    )
    op.create_index(
        "ix_analytics_snapshots_kind_created",
        "analytics_snapshots",
        ["kind", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_analytics_snapshots_user_id"), "analytics_snapshots", ["user_id"], unique=False
    )
    op.create_table(
        "resumes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("file_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "parse_status",
            sa.Enum(
                "pending",
                "parsed",
                "failed",
                name="parsestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("extracted_text", sa.Text(), nullable=True),
        sa.Column("skills", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("years_experience", sa.Double(), nullable=True),
        sa.Column("education", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
            name=op.f("fk_resumes_file_id_stored_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_resumes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resumes")),
    )
    op.create_index(
        "ix_resumes_deleted_at",
        "resumes",
        ["deleted_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(op.f("ix_resumes_file_id"), "resumes", ["file_id"], unique=False)
    op.create_index(
        "ix_resumes_pending",
        "resumes",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("parse_status = 'pending' AND deleted_at IS NULL"),
    )
    op.create_index(op.f("ix_resumes_user_id"), "resumes", ["user_id"], unique=False)
    op.create_table(
        "applications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("job_posting_id", sa.BigInteger(), nullable=False),
        sa.Column("resume_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "applied",
                "screening",
                "interview_scheduled",
                "offered",
                "hired",
                "rejected",
                "withdrawn",
                name="applicationstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("cover_letter", sa.Text(), nullable=False),
        sa.Column("fit_score", sa.Integer(), nullable=True),
        sa.Column("fit_explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fit_analyzed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "fit_score BETWEEN 0 AND 100", name=op.f("ck_applications_fit_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["users.id"],
            name=op.f("fk_applications_candidate_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_posting_id"],
            ["job_postings.id"],
            name=op.f("fk_applications_job_posting_id_job_postings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resume_id"],
            ["resumes.id"],
            name=op.f("fk_applications_resume_id_resumes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint(
            "candidate_id", "job_posting_id", name=op.f("uq_applications_candidate_id")
        ),
    )
    op.create_index(
        "ix_applications_posting_status", "applications", ["job_posting_id", "status"], unique=False
    )
    op.create_index(op.f("ix_applications_resume_id"), "applications", ["resume_id"], unique=False)
    op.create_table(
        "application_status_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "applied",
                "screening",
                "interview_scheduled",
                "offered",
                "hired",
                "rejected",
                "withdrawn",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "applied",
                "screening",
                "interview_scheduled",
                "offered",
                "hired",
                "rejected",
                "withdrawn",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("changed_by_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_status_changes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["users.id"],
            name=op.f("fk_application_status_changes_changed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_status_changes")),
    )
    op.create_index(
        op.f("ix_application_status_changes_application_id"),
        "application_status_changes",
        ["application_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_application_status_changes_application_id"),
        table_name="application_status_changes",
    )
    op.drop_table("application_status_changes")
    op.drop_index(op.f("ix_applications_resume_id"), table_name="applications")
    op.drop_index("ix_applications_posting_status", table_name="applications")
    op.drop_table("applications")
    op.drop_index(op.f("ix_resumes_user_id"), table_name="resumes")
    op.drop_index(
        "ix_resumes_pending",
        table_name="resumes",
        postgresql_where=sa.text("parse_status = 'pending' AND deleted_at IS NULL"),
    )
    op.drop_index(op.f("ix_resumes_file_id"), table_name="resumes")
    op.drop_index(
        "ix_resumes_deleted_at",
        table_name="resumes",
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.drop_table("resumes")
    op.drop_index(op.f("ix_analytics_snapshots_user_id"), table_name="analytics_snapshots")
    op.drop_index("ix_analytics_snapshots_kind_created", table_name="analytics_snapshots")
    op.drop_table("analytics_snapshots")
    op.drop_index(op.f("ix_user_skills_skill"), table_name="user_skills")
    op.drop_table("user_skills")
    op.drop_index(op.f("ix_stored_files_owner_id"), table_name="stored_files")
    op.drop_index("ix_stored_files_kind_created", table_name="stored_files")
    op.drop_index(op.f("ix_stored_files_expires_at"), table_name="stored_files")
    op.drop_table("stored_files")
    op.drop_table("recommendation_cache")
    op.drop_index(op.f("ix_quiz_attempts_user_id"), table_name="quiz_attempts")
    op.drop_index("ix_quiz_attempts_quiz_taken", table_name="quiz_attempts")
    op.drop_table("quiz_attempts")
    op.drop_index(
        "uq_notifications_dedupe_key",
        table_name="notifications",
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_index(
        "ix_notifications_unread",
        table_name="notifications",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.drop_table("notifications")
    op.drop_index(op.f("ix_mentoring_sessions_mentor_id"), table_name="mentoring_sessions")
    op.drop_index(op.f("ix_mentoring_sessions_mentee_id"), table_name="mentoring_sessions")
    op.drop_table("mentoring_sessions")
    op.drop_index("ix_job_postings_status_created", table_name="job_postings")
    op.drop_index(op.f("ix_job_postings_recruiter_id"), table_name="job_postings")
    op.drop_table("job_postings")
    op.drop_index(op.f("ix_course_enrollments_user_id"), table_name="course_enrollments")
    op.drop_index(op.f("ix_course_enrollments_course_id"), table_name="course_enrollments")
    op.drop_table("course_enrollments")
    op.drop_index(op.f("ix_connections_other_user_id"), table_name="connections")
    op.drop_table("connections")
    op.drop_index(op.f("ix_auth_tokens_user_id"), table_name="auth_tokens")
    op.drop_index(op.f("ix_auth_tokens_expires_at"), table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_index("ix_activity_events_user_occurred", table_name="activity_events")
    op.drop_index(op.f("ix_activity_events_occurred_at"), table_name="activity_events")
    op.drop_table("activity_events")
    op.drop_index(op.f("ix_achievement_unlocks_user_id"), table_name="achievement_unlocks")
    op.drop_index(op.f("ix_achievement_unlocks_achievement_id"), table_name="achievement_unlocks")
    op.drop_table("achievement_unlocks")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index("ix_users_active_last_seen", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_email_deliveries_status_created", table_name="email_deliveries")
    op.drop_index(op.f("ix_email_deliveries_recipient"), table_name="email_deliveries")
    op.drop_index(op.f("ix_email_deliveries_job_id"), table_name="email_deliveries")
    op.drop_table("email_deliveries")
    op.drop_table("courses")
    op.drop_table("achievements")
