"""pull request merge strategy configurations and repository merge checks

Revision ID: 0007_merge_settings
Revises: 0006_build_status
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_merge_settings"
down_revision = "0006_build_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pr_merge_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("default_strategy", sa.String(length=32), nullable=False),
        sa.Column("strategies", sa.Text(), nullable=False),
        sa.Column("commit_summaries", sa.Integer(), nullable=True),
        sa.Column("template_title", sa.Text(), nullable=True),
        sa.Column("template_body", sa.Text(), nullable=True),
        sa.CheckConstraint("(project_id IS NULL) <> (repository_id IS NULL)",
                           name=op.f("ck_pr_merge_configs_one_owner")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_pr_merge_configs_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_pr_merge_configs_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pr_merge_configs")),
        sa.UniqueConstraint("project_id", name=op.f("uq_pr_merge_configs_project_id")),
        sa.UniqueConstraint("repository_id", name=op.f("uq_pr_merge_configs_repository_id")),
    )
    op.create_table(
        "pr_repo_settings",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("required_all_approvers", sa.Boolean(), nullable=False),
        sa.Column("required_all_tasks_complete", sa.Boolean(), nullable=False),
        sa.Column("required_approvers", sa.Integer(), nullable=False),
        sa.Column("required_successful_builds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_pr_repo_settings_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", name=op.f("pk_pr_repo_settings")),
    )


def downgrade() -> None:
    op.drop_table("pr_repo_settings")
    op.drop_table("pr_merge_configs")
