"""Bamboo builds run the plan as it was when they were queued: each result keeps a snapshot of the plan's spec
(NULL for builds queued before this revision, which fall back to the plan's current spec); each test result
knows whether it newly failed, failed again, was fixed or was quarantined

Revision ID: 0017_bamboo_result_spec
Revises: 0016_bamboo_quarantine
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_bamboo_result_spec"
down_revision = "0016_bamboo_quarantine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bamboo_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spec", sa.JSON(), nullable=True))
    with op.batch_alter_table("bamboo_test_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delta", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bamboo_test_results", schema=None) as batch_op:
        batch_op.drop_column("delta")
    with op.batch_alter_table("bamboo_results", schema=None) as batch_op:
        batch_op.drop_column("spec")
