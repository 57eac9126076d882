"""system settings, recently accessed repositories, avatars

Revision ID: 0004_extras
Revises: 0003_user_settings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_extras"
down_revision = "0003_user_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "system_settings",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_system_settings")),
    )
    op.create_table(
        "recent_repositories",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("accessed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_recent_repositories_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_recent_repositories_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "repository_id", name=op.f("pk_recent_repositories")),
    )
    op.create_index("ix_recent_repositories_user_accessed", "recent_repositories", ["user_id", "accessed"])
    op.create_index(op.f("ix_recent_repositories_repository_id"), "recent_repositories", ["repository_id"])
    op.create_table(
        "avatars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("(project_id IS NULL) <> (user_id IS NULL)", name=op.f("ck_avatars_one_owner")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_avatars_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_avatars_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_avatars")),
        sa.UniqueConstraint("project_id", name=op.f("uq_avatars_project_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_avatars_user_id")),
    )


def downgrade() -> None:
    op.drop_table("avatars")
    op.drop_index(op.f("ix_recent_repositories_repository_id"), table_name="recent_repositories")
    op.drop_index("ix_recent_repositories_user_accessed", table_name="recent_repositories")
    op.drop_table("recent_repositories")
    op.drop_table("system_settings")
