"""Code Insights reports and annotations

Revision ID: 0011_insights
Revises: 0010_pr_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_insights"
down_revision = "0010_pr_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("commit_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=450), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=8), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("reporter", sa.String(length=450), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("logo_url", sa.Text(), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("created_date", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"],
                                name=op.f("fk_insight_reports_repository_id_repositories"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"],
                                name=op.f("fk_insight_reports_creator_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_reports")),
        sa.UniqueConstraint("repository_id", "commit_id", "key", name="uq_insight_reports_identity"),
    )
    op.create_table(
        "insight_annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=450), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["insight_reports.id"],
                                name=op.f("fk_insight_annotations_report_id_insight_reports"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_annotations")),
    )
    op.create_index("ix_insight_annotations_report_id", "insight_annotations", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_insight_annotations_report_id", table_name="insight_annotations")
    op.drop_table("insight_annotations")
    op.drop_table("insight_reports")
