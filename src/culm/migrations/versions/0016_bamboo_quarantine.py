"""Bamboo administration: quarantined tests, repositories allowed to manage a project through Specs, agents
dedicated to jobs, remote agent approvals

Revision ID: 0016_bamboo_quarantine
Revises: 0015_bamboo_triggers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_bamboo_quarantine"
down_revision = "0015_bamboo_triggers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bamboo_quarantines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=1024), nullable=False),
        sa.Column("method_name", sa.String(length=1024), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("expiry_date", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["bamboo_plans.id"],
                                name=op.f("fk_bamboo_quarantines_plan_id_bamboo_plans"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bamboo_quarantines_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_quarantines")),
        sa.UniqueConstraint("plan_id", "class_name", "method_name", name="uq_bamboo_quarantines_test"),
    )
    with op.batch_alter_table("bamboo_quarantines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bamboo_quarantines_plan_id"), ["plan_id"], unique=False)
    op.create_table(
        "bamboo_project_repositories",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["bamboo_projects.id"],
                                name=op.f("fk_bamboo_project_repositories_project_id_bamboo_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_bamboo_project_repositories_repository_id_repositories"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "repository_id", name=op.f("pk_bamboo_project_repositories")),
    )
    op.create_table(
        "bamboo_agent_assignments",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("job_key", sa.String(length=255), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["bamboo_plans.id"],
                                name=op.f("fk_bamboo_agent_assignments_plan_id_bamboo_plans"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["bamboo_agents.id"],
                                name=op.f("fk_bamboo_agent_assignments_agent_id_bamboo_agents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "job_key", "agent_id", name=op.f("pk_bamboo_agent_assignments")),
    )
    op.create_table(
        "bamboo_agent_approvals",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["bamboo_agents.id"],
                                name=op.f("fk_bamboo_agent_approvals_agent_id_bamboo_agents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_bamboo_agent_approvals")),
    )


def downgrade() -> None:
    op.drop_table("bamboo_agent_approvals")
    op.drop_table("bamboo_agent_assignments")
    op.drop_table("bamboo_project_repositories")
    with op.batch_alter_table("bamboo_quarantines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_quarantines_plan_id"))
    op.drop_table("bamboo_quarantines")
