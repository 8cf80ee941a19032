"""Personal data: job payloads, erasure records, pending file deletions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("files_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_user_id"), "erasures", ["user_id"], unique=False)
    op.create_table(
        "job_payloads",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("subject_user_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["users.id"],
            name=op.f("fk_job_payloads_subject_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_payloads")),
    )
    op.create_index("ix_job_payloads_created_at", "job_payloads", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_job_payloads_subject_user_id"), "job_payloads", ["subject_user_id"], unique=False
    )
    op.create_table(
        "pending_file_deletions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("erasure_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["erasure_id"],
            ["erasures.id"],
            name=op.f("fk_pending_file_deletions_erasure_id_erasures"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_file_deletions")),
    )
    op.create_index(
        op.f("ix_pending_file_deletions_erasure_id"),
        "pending_file_deletions",
        ["erasure_id"],
        unique=False,
    )
    op.add_column("users", sa.Column("phone", sa.String(length=50), nullable=True))
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "erased_at")
    op.drop_column("users", "phone")
    op.drop_index(op.f("ix_pending_file_deletions_erasure_id"), table_name="pending_file_deletions")
    op.drop_table("pending_file_deletions")
    op.drop_index(op.f("ix_job_payloads_subject_user_id"), table_name="job_payloads")
    op.drop_index("ix_job_payloads_created_at", table_name="job_payloads")
    op.drop_table("job_payloads")
    op.drop_index(op.f("ix_erasures_user_id"), table_name="erasures")
    op.drop_table("erasures")
