"""the "No 'needs work' status" merge check setting of a repository

Revision ID: 0012_auto_merge
Revises: 0010_pr_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_auto_merge"
down_revision = "0010_pr_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pr_repo_settings") as batch:
        batch.add_column(sa.Column("required_no_needs_work", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("pr_repo_settings") as batch:
        batch.drop_column("required_no_needs_work")
