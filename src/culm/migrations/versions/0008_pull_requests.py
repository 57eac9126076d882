"""pull requests, participants, activities, watchers, id counters

Revision ID: 0008_pull_requests
Revises: 0007_merge_settings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_pull_requests"
down_revision = "0007_merge_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("from_repository_id", sa.Integer(), nullable=False),
        sa.Column("from_ref", sa.String(length=1024), nullable=False),
        sa.Column("from_commit", sa.String(length=64), nullable=False),
        sa.Column("to_ref", sa.String(length=1024), nullable=False),
        sa.Column("to_commit", sa.String(length=64), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.Column("closed_date", sa.BigInteger(), nullable=True),
        sa.Column("merge_commit", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_pull_requests_repository_id_repositories"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_repository_id"], ["repositories.id"],
                                name=op.f("fk_pull_requests_from_repository_id_repositories"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_pull_requests_author_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_requests")),
        sa.UniqueConstraint("repository_id", "local_id", name="uq_pull_requests_repository_local"),
    )
    op.create_index("ix_pull_requests_repository_state", "pull_requests", ["repository_id", "state", "local_id"])
    op.create_index("ix_pull_requests_from", "pull_requests", ["from_repository_id", "from_ref"])
    op.create_index(op.f("ix_pull_requests_author_id"), "pull_requests", ["author_id"])
    op.create_table(
        "pull_request_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_reviewed_commit", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_pull_request_participants_pull_request_id_pull_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pull_request_participants_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_participants")),
        sa.UniqueConstraint("pull_request_id", "user_id", name="uq_pull_request_participants_pr_user"),
    )
    op.create_index(op.f("ix_pull_request_participants_user_id"), "pull_request_participants", ["user_id"])
    op.create_table(
        "pull_request_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_pull_request_activities_pull_request_id_pull_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pull_request_activities_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_activities")),
    )
    op.create_index("ix_pull_request_activities_pr", "pull_request_activities", ["pull_request_id", "id"])
    op.create_table(
        "pull_request_watchers",
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_pull_request_watchers_pull_request_id_pull_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pull_request_watchers_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pull_request_id", "user_id", name=op.f("pk_pull_request_watchers")),
    )
    op.create_index(op.f("ix_pull_request_watchers_user_id"), "pull_request_watchers", ["user_id"])
    op.create_table(
        "pull_request_counters",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_pull_request_counters_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", name=op.f("pk_pull_request_counters")),
    )


def downgrade() -> None:
    op.drop_table("pull_request_counters")
    op.drop_index(op.f("ix_pull_request_watchers_user_id"), table_name="pull_request_watchers")
    op.drop_table("pull_request_watchers")
    op.drop_index("ix_pull_request_activities_pr", table_name="pull_request_activities")
    op.drop_table("pull_request_activities")
    op.drop_index(op.f("ix_pull_request_participants_user_id"), table_name="pull_request_participants")
    op.drop_table("pull_request_participants")
    op.drop_index(op.f("ix_pull_requests_author_id"), table_name="pull_requests")
    op.drop_index("ix_pull_requests_from", table_name="pull_requests")
    op.drop_index("ix_pull_requests_repository_state", table_name="pull_requests")
    op.drop_table("pull_requests")
