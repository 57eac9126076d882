"""Bamboo builds: results, stage and job results (the queue), tests, artifacts, comments, favourites,
variables, agents; plan branches and build numbering on plans

Revision ID: 0014_bamboo_builds
Revises: 0013_bamboo_plans
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_bamboo_builds"
down_revision = "0013_bamboo_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bamboo_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_agents")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bamboo_agents_token_hash")),
        sa.UniqueConstraint("uuid", name=op.f("uq_bamboo_agents_uuid")),
    )
    op.create_table(
        "bamboo_variables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_variables")),
        sa.UniqueConstraint("scope", "owner_id", "name", name="uq_bamboo_variables_scope_owner_name"),
    )
    op.create_table(
        "bamboo_favourites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["bamboo_plans.id"], name=op.f("fk_bamboo_favourites_plan_id_bamboo_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bamboo_favourites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "plan_id", name=op.f("pk_bamboo_favourites")),
    )
    op.create_table(
        "bamboo_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("life_cycle", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("continuable", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("trigger_user_id", sa.Integer(), nullable=True),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.String(length=64), nullable=True),
        sa.Column("branch", sa.String(length=1024), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("result_variables", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("run_through_stage", sa.Integer(), nullable=False),
        sa.Column("once_off", sa.Boolean(), nullable=False),
        sa.Column("restart_count", sa.Integer(), nullable=False),
        sa.Column("queued_date", sa.BigInteger(), nullable=False),
        sa.Column("started_date", sa.BigInteger(), nullable=True),
        sa.Column("completed_date", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["bamboo_plans.id"], name=op.f("fk_bamboo_results_plan_id_bamboo_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_bamboo_results_repository_id_repositories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_user_id"], ["users.id"], name=op.f("fk_bamboo_results_trigger_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_results")),
        sa.UniqueConstraint("plan_id", "number", name="uq_bamboo_results_plan_number"),
    )
    with op.batch_alter_table("bamboo_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bamboo_results_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bamboo_results_revision"), ["revision"], unique=False)

    op.create_table(
        "bamboo_job_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("stage_idx", sa.Integer(), nullable=False),
        sa.Column("job_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("life_cycle", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("queued_date", sa.BigInteger(), nullable=True),
        sa.Column("claimed_date", sa.BigInteger(), nullable=True),
        sa.Column("heartbeat_date", sa.BigInteger(), nullable=True),
        sa.Column("started_date", sa.BigInteger(), nullable=True),
        sa.Column("completed_date", sa.BigInteger(), nullable=True),
        sa.Column("log_size", sa.BigInteger(), nullable=False),
        sa.Column("tests_successful", sa.Integer(), nullable=False),
        sa.Column("tests_failed", sa.Integer(), nullable=False),
        sa.Column("tests_skipped", sa.Integer(), nullable=False),
        sa.Column("tests_quarantined", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["bamboo_agents.id"],
            name=op.f("fk_bamboo_job_results_agent_id_bamboo_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["bamboo_results.id"],
            name=op.f("fk_bamboo_job_results_result_id_bamboo_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_job_results")),
        sa.UniqueConstraint("result_id", "job_key", name="uq_bamboo_job_results_result_job"),
    )
    with op.batch_alter_table("bamboo_job_results", schema=None) as batch_op:
        batch_op.create_index("ix_bamboo_job_results_queue", ["life_cycle", "queued_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_bamboo_job_results_result_id"), ["result_id"], unique=False)

    op.create_table(
        "bamboo_result_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_bamboo_result_comments_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["bamboo_results.id"],
            name=op.f("fk_bamboo_result_comments_result_id_bamboo_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_result_comments")),
    )
    with op.batch_alter_table("bamboo_result_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bamboo_result_comments_result_id"), ["result_id"], unique=False)

    op.create_table(
        "bamboo_stage_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("life_cycle", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["bamboo_results.id"],
            name=op.f("fk_bamboo_stage_results_result_id_bamboo_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_stage_results")),
        sa.UniqueConstraint("result_id", "idx", name="uq_bamboo_stage_results_result_idx"),
    )
    op.create_table(
        "bamboo_artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_result_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_result_id"],
            ["bamboo_job_results.id"],
            name=op.f("fk_bamboo_artifacts_job_result_id_bamboo_job_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_artifacts")),
        sa.UniqueConstraint("job_result_id", "name", name="uq_bamboo_artifacts_job_name"),
    )
    with op.batch_alter_table("bamboo_artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bamboo_artifacts_job_result_id"), ["job_result_id"], unique=False)

    op.create_table(
        "bamboo_test_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_result_id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=1024), nullable=False),
        sa.Column("method_name", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_result_id"],
            ["bamboo_job_results.id"],
            name=op.f("fk_bamboo_test_results_job_result_id_bamboo_job_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bamboo_test_results")),
    )
    with op.batch_alter_table("bamboo_test_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bamboo_test_results_job_result_id"), ["job_result_id"], unique=False)

    with op.batch_alter_table("bamboo_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("master_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("branch_name", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("next_number", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("next_branch_number", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(batch_op.f("ix_bamboo_plans_master_id"), ["master_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_bamboo_plans_master_id_bamboo_plans"),
            "bamboo_plans",
            ["master_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("bamboo_plans", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_bamboo_plans_master_id_bamboo_plans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_bamboo_plans_master_id"))
        batch_op.drop_column("next_branch_number")
        batch_op.drop_column("next_number")
        batch_op.drop_column("branch_name")
        batch_op.drop_column("master_id")

    with op.batch_alter_table("bamboo_test_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_test_results_job_result_id"))

    op.drop_table("bamboo_test_results")
    with op.batch_alter_table("bamboo_artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_artifacts_job_result_id"))

    op.drop_table("bamboo_artifacts")
    op.drop_table("bamboo_stage_results")
    with op.batch_alter_table("bamboo_result_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_result_comments_result_id"))

    op.drop_table("bamboo_result_comments")
    with op.batch_alter_table("bamboo_job_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_job_results_result_id"))
        batch_op.drop_index("ix_bamboo_job_results_queue")

    op.drop_table("bamboo_job_results")
    with op.batch_alter_table("bamboo_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bamboo_results_revision"))
        batch_op.drop_index(batch_op.f("ix_bamboo_results_plan_id"))

    op.drop_table("bamboo_results")
    op.drop_table("bamboo_favourites")
    op.drop_table("bamboo_variables")
    op.drop_table("bamboo_agents")
