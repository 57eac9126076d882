"""default reviewer conditions and reviewer groups

Revision ID: 0005_default_reviewers
Revises: 0004_extras
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_default_reviewers"
down_revision = "0004_extras"
branch_labels = None
depends_on = None


def _scope_columns(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f(f"fk_{table}_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f(f"fk_{table}_repository_id_repositories"), ondelete="CASCADE"),
    ]


def _link_table(table: str, left: str, left_table: str) -> None:
    op.create_table(
        table,
        sa.Column(left, sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([left], [f"{left_table}.id"], name=op.f(f"fk_{table}_{left}_{left_table}"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(left, "user_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"])


def upgrade() -> None:
    op.create_table(
        "reviewer_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        *_scope_columns("reviewer_conditions"),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=1024), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=1024), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewer_conditions")),
    )
    op.create_index(op.f("ix_reviewer_conditions_project_id"), "reviewer_conditions", ["project_id"])
    op.create_index(op.f("ix_reviewer_conditions_repository_id"), "reviewer_conditions", ["repository_id"])
    _link_table("reviewer_condition_users", "condition_id", "reviewer_conditions")
    op.create_table(
        "reviewer_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        *_scope_columns("reviewer_groups"),
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_lower", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewer_groups")),
        sa.UniqueConstraint("scope_type", "scope_id", "name_lower", name="uq_reviewer_groups_scope_name"),
    )
    op.create_index(op.f("ix_reviewer_groups_project_id"), "reviewer_groups", ["project_id"])
    op.create_index(op.f("ix_reviewer_groups_repository_id"), "reviewer_groups", ["repository_id"])
    _link_table("reviewer_group_users", "group_id", "reviewer_groups")
    op.create_table(
        "reviewer_condition_groups",
        sa.Column("condition_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["condition_id"], ["reviewer_conditions.id"],
                                name=op.f("fk_reviewer_condition_groups_condition_id_reviewer_conditions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["reviewer_groups.id"],
                                name=op.f("fk_reviewer_condition_groups_group_id_reviewer_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("condition_id", "group_id", name=op.f("pk_reviewer_condition_groups")),
    )
    op.create_index(op.f("ix_reviewer_condition_groups_group_id"), "reviewer_condition_groups", ["group_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reviewer_condition_groups_group_id"), table_name="reviewer_condition_groups")
    op.drop_table("reviewer_condition_groups")
    op.drop_index(op.f("ix_reviewer_group_users_user_id"), table_name="reviewer_group_users")
    op.drop_table("reviewer_group_users")
    op.drop_index(op.f("ix_reviewer_groups_repository_id"), table_name="reviewer_groups")
    op.drop_index(op.f("ix_reviewer_groups_project_id"), table_name="reviewer_groups")
    op.drop_table("reviewer_groups")
    op.drop_index(op.f("ix_reviewer_condition_users_user_id"), table_name="reviewer_condition_users")
    op.drop_table("reviewer_condition_users")
    op.drop_index(op.f("ix_reviewer_conditions_repository_id"), table_name="reviewer_conditions")
    op.drop_index(op.f("ix_reviewer_conditions_project_id"), table_name="reviewer_conditions")
    op.drop_table("reviewer_conditions")
