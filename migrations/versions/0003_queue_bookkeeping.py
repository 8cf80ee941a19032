"""Queue bookkeeping: attempts, dead-letter reviews, job groups, rate limits, health, audit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("job_count", sa.Integer(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_table(
        "dead_letter_reviews",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "retried",
                "discarded",
                "resolved",
                name="reviewaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column(
            "reviewed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retry_job_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter_reviews")),
    )
    op.create_index(
        "ix_dead_letter_reviews_job", "dead_letter_reviews", ["job_id", "reviewed_at"], unique=False
    )
    op.create_table(
        "health_checks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("database_latency_ms", sa.Double(), nullable=False),
        sa.Column("queue_depths", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("live_workers", sa.Integer(), nullable=False),
        sa.Column("stalled_jobs", sa.Integer(), nullable=False),
        sa.Column("oldest_pending_seconds", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_checks")),
    )
    op.create_index(
        op.f("ix_health_checks_checked_at"), "health_checks", ["checked_at"], unique=False
    )
    op.create_table(
        "job_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                "timed_out",
                "aborted",
                "interrupted",
                name="attemptoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=True),
        sa.Column("exception_type", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("error_fingerprint", sa.String(length=40), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("worker_name", sa.String(length=200), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_attempts")),
    )
    op.create_index(
        "ix_job_attempts_fingerprint",
        "job_attempts",
        ["error_fingerprint"],
        unique=False,
        postgresql_where=sa.text("error_fingerprint IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_job_attempts_request_id"), "job_attempts", ["request_id"], unique=False
    )
    op.create_index("ix_job_attempts_job", "job_attempts", ["job_id", "attempt"], unique=False)
    op.create_index("ix_job_attempts_started_at", "job_attempts", ["started_at"], unique=False)
    op.create_index(
        "ix_job_attempts_task_started", "job_attempts", ["task_name", "started_at"], unique=False
    )
    op.create_table(
        "job_groups",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("on_complete_task", sa.String(length=200), nullable=False),
        sa.Column("on_complete_kwargs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("completion_job_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_groups")),
    )
    op.create_table(
        "rate_limit_buckets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("capacity", sa.Double(), nullable=False),
        sa.Column("per_second", sa.Double(), nullable=False),
        sa.Column(
            "refilled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_limit_buckets")),
    )
    op.add_column("notifications", sa.Column("title", sa.String(length=200), nullable=False))
    op.add_column("notifications", sa.Column("related_user_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_notifications_related_user_id_users"),
        "notifications",
        "users",
        ["related_user_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_notifications_related_user_id_users"), "notifications", type_="foreignkey"
    )
    op.drop_column("notifications", "related_user_id")
    op.drop_column("notifications", "title")
    op.drop_table("rate_limit_buckets")
    op.drop_table("job_groups")
    op.drop_index("ix_job_attempts_task_started", table_name="job_attempts")
    op.drop_index("ix_job_attempts_started_at", table_name="job_attempts")
    op.drop_index("ix_job_attempts_job", table_name="job_attempts")
    op.drop_index(op.f("ix_job_attempts_request_id"), table_name="job_attempts")
    op.drop_index(
        "ix_job_attempts_fingerprint",
        table_name="job_attempts",
        postgresql_where=sa.text("error_fingerprint IS NOT NULL"),
    )
    op.drop_table("job_attempts")
    op.drop_index(op.f("ix_health_checks_checked_at"), table_name="health_checks")
    op.drop_table("health_checks")
    op.drop_index("ix_dead_letter_reviews_job", table_name="dead_letter_reviews")
    op.drop_table("dead_letter_reviews")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
