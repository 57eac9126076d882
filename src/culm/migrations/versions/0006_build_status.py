"""build statuses, deployments, required-builds merge check conditions

Revision ID: 0006_build_status
Revises: 0005_default_reviewers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_build_status"
down_revision = "0005_default_reviewers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("commit_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=450), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("build_number", sa.String(length=255), nullable=True),
        sa.Column("parent", sa.String(length=1024), nullable=True),
        sa.Column("ref", sa.String(length=1024), nullable=True),
        sa.Column("duration", sa.BigInteger(), nullable=True),
        sa.Column("tests_successful", sa.Integer(), nullable=True),
        sa.Column("tests_failed", sa.Integer(), nullable=True),
        sa.Column("tests_skipped", sa.Integer(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_build_statuses_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_statuses")),
        sa.UniqueConstraint("repository_id", "commit_id", "key", name="uq_build_statuses_identity"),
    )
    op.create_index("ix_build_statuses_commit_key", "build_statuses", ["commit_id", "key"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("commit_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("environment_key", sa.String(length=255), nullable=False),
        sa.Column("sequence_number", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("environment_name", sa.String(length=255), nullable=False),
        sa.Column("environment_type", sa.String(length=16), nullable=True),
        sa.Column("environment_url", sa.String(length=1024), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_deployments_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("repository_id", "commit_id", "key", "environment_key", "sequence_number",
                            name="uq_deployments_identity"),
    )
    op.create_table(
        "required_build_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("build_parent_keys", sa.Text(), nullable=False),
        sa.Column("ref_matcher_type", sa.String(length=32), nullable=False),
        sa.Column("ref_matcher_id", sa.String(length=1024), nullable=False),
        sa.Column("exempt_matcher_type", sa.String(length=32), nullable=True),
        sa.Column("exempt_matcher_id", sa.String(length=1024), nullable=True),
        sa.Column("required_for_pull_request", sa.Boolean(), nullable=False),
        sa.Column("required_for_merge_queue", sa.Boolean(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_required_build_conditions_repository_id_repositories"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_required_build_conditions")),
    )
    op.create_index(op.f("ix_required_build_conditions_repository_id"), "required_build_conditions",
                    ["repository_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_required_build_conditions_repository_id"), table_name="required_build_conditions")
    op.drop_table("required_build_conditions")
    op.drop_table("deployments")
    op.drop_index("ix_build_statuses_commit_key", table_name="build_statuses")
    op.drop_table("build_statuses")
