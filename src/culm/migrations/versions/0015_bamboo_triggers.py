"""Bamboo triggers: last specs scan per repository, last fired slot per cron trigger; the "bamboo" outbox
consumer starts after the events already recorded (an upgraded server does not build its whole history)

Revision ID: 0015_bamboo_triggers
Revises: 0014_bamboo_builds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_bamboo_triggers"
down_revision = "0014_bamboo_builds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bamboo_repo_specs",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_bamboo_repo_specs_repository_id_repositories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", name=op.f("pk_bamboo_repo_specs")),
    )
    op.create_table(
        "bamboo_trigger_fires",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=255), nullable=False),
        sa.Column("last_slot", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["bamboo_plans.id"],
                                name=op.f("fk_bamboo_trigger_fires_plan_id_bamboo_plans"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "trigger", name=op.f("pk_bamboo_trigger_fires")),
    )
    op.execute("INSERT INTO consumer_offsets (name, last_event_id) "
               "SELECT 'bamboo', COALESCE(MAX(id), 0) FROM events "
               "WHERE NOT EXISTS (SELECT 1 FROM consumer_offsets WHERE name = 'bamboo')")


def downgrade() -> None:
    op.execute("DELETE FROM consumer_offsets WHERE name = 'bamboo'")
    op.drop_table("bamboo_trigger_fires")
    op.drop_table("bamboo_repo_specs")
