"""auto-merge requests of pull requests; a repository's auto-merge setting and its "No 'needs work'
status" merge check

Revision ID: 0012_auto_merge
Revises: 0011_insights
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_auto_merge"
down_revision = "0011_insights"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pr_repo_settings") as batch:
        batch.add_column(sa.Column("required_no_needs_work", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.add_column(sa.Column("auto_merge_enabled", sa.Boolean(), nullable=True))
    op.create_table(
        "pr_auto_merge_requests",
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("from_hash", sa.String(length=64), nullable=False),
        sa.Column("to_ref", sa.Text(), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("auto_subject", sa.Boolean(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("due", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_pr_auto_merge_requests_pull_request_id_pull_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pr_auto_merge_requests_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pull_request_id", name=op.f("pk_pr_auto_merge_requests")),
    )
    op.create_index("ix_pr_auto_merge_requests_from_hash", "pr_auto_merge_requests", ["from_hash"])
    op.create_index("ix_pr_auto_merge_requests_due", "pr_auto_merge_requests", ["due"])


def downgrade() -> None:
    op.drop_index("ix_pr_auto_merge_requests_due", table_name="pr_auto_merge_requests")
    op.drop_index("ix_pr_auto_merge_requests_from_hash", table_name="pr_auto_merge_requests")
    op.drop_table("pr_auto_merge_requests")
    with op.batch_alter_table("pr_repo_settings") as batch:
        batch.drop_column("auto_merge_enabled")
        batch.drop_column("required_no_needs_work")
