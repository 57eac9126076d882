"""the last merge outcome of each pull request (properties.mergeResult)

Revision ID: 0010_pr_merge
Revises: 0009_comments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_pr_merge"
down_revision = "0009_comments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_request_merge_results",
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("from_commit", sa.String(length=64), nullable=False),
        sa.Column("to_commit", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("checked_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_pull_request_merge_results_pull_request_id_pull_requests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pull_request_id", name=op.f("pk_pull_request_merge_results")),
    )


def downgrade() -> None:
    op.drop_table("pull_request_merge_results")
