"""comments (pull request and commit) and their reactions

Revision ID: 0009_comments
Revises: 0008_pull_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_comments"
down_revision = "0008_pull_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=True),
        sa.Column("commit_id", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("root_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.Column("resolved_date", sa.BigInteger(), nullable=True),
        sa.Column("resolver_id", sa.Integer(), nullable=True),
        sa.Column("thread_resolved", sa.Boolean(), nullable=False),
        sa.Column("thread_resolved_date", sa.BigInteger(), nullable=True),
        sa.Column("thread_resolver_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=4096), nullable=True),
        sa.Column("src_path", sa.String(length=4096), nullable=True),
        sa.Column("diff_type", sa.String(length=16), nullable=True),
        sa.Column("from_hash", sa.String(length=64), nullable=True),
        sa.Column("to_hash", sa.String(length=64), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("line_type", sa.String(length=16), nullable=True),
        sa.Column("file_type", sa.String(length=8), nullable=True),
        sa.Column("orphaned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_comments_repository_id_repositories"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_requests.id"],
                                name=op.f("fk_comments_pull_request_id_pull_requests"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["comments.id"], name=op.f("fk_comments_parent_id_comments"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_comments_author_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["resolver_id"], ["users.id"], name=op.f("fk_comments_resolver_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["thread_resolver_id"], ["users.id"],
                                name=op.f("fk_comments_thread_resolver_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_pull_request", "comments", ["pull_request_id", "path", "id"])
    op.create_index("ix_comments_commit", "comments", ["repository_id", "commit_id", "id"])
    op.create_index(op.f("ix_comments_parent_id"), "comments", ["parent_id"])
    op.create_index(op.f("ix_comments_root_id"), "comments", ["root_id"])
    op.create_table(
        "comment_reactions",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("emoticon", sa.String(length=64), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"],
                                name=op.f("fk_comment_reactions_comment_id_comments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_comment_reactions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("comment_id", "user_id", "emoticon", name=op.f("pk_comment_reactions")),
    )


def downgrade() -> None:
    op.drop_table("comment_reactions")
    op.drop_index(op.f("ix_comments_root_id"), table_name="comments")
    op.drop_index(op.f("ix_comments_parent_id"), table_name="comments")
    op.drop_index("ix_comments_commit", table_name="comments")
    op.drop_index("ix_comments_pull_request", table_name="comments")
    op.drop_table("comments")
