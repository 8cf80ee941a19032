"""Procrastinate's schema as of 3.10.0 (its last schema change shipped in 3.4.0).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

from hiring_jobs.schema import apply_procrastinate_baseline

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    apply_procrastinate_baseline(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Procrastinate's schema has no down migrations")
