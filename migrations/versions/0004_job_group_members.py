"""Job group members: a member reports once

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_group_members",
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("member", sa.String(length=200), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["job_groups.id"],
            name=op.f("fk_job_group_members_group_id_job_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "member", name=op.f("pk_job_group_members")),
    )


def downgrade() -> None:
    op.drop_table("job_group_members")
