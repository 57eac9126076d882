"""Bamboo projects and plans (the plan's normalised spec kept as JSON)

Revision ID: 0013_bamboo_plans
Revises: 0012_auto_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_bamboo_plans"
down_revision = "0012_auto_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bamboo_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_projects")),
        sa.UniqueConstraint("key", name=op.f("uq_bamboo_projects_key")),
    )
    op.create_table(
        "bamboo_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["bamboo_projects.id"],
                                name=op.f("fk_bamboo_plans_project_id_bamboo_projects"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_bamboo_plans_repository_id_repositories"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_plans")),
        sa.UniqueConstraint("project_id", "key", name="uq_bamboo_plans_project_key"),
    )


def downgrade() -> None:
    op.drop_table("bamboo_plans")
    op.drop_table("bamboo_projects")
