"""true addresses, link-page leads and feed categories

Candidates keep the feed's categories (to recognise sponsored posts); other
addresses of one article (a tracker's link, a syndicated copy) are kept in
``candidate_aliases``; a page's cached details gain its true address and the
first paragraph of its main text.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("categories", sa.Text(), nullable=True))
    with op.batch_alter_table("link_details", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resolved_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("lead", sa.Text(), nullable=True))
    op.create_table(
        "candidate_aliases",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_candidate_aliases_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_candidate_aliases")),
    )
    with op.batch_alter_table("candidate_aliases", schema=None) as batch_op:
        batch_op.create_index("ix_candidate_aliases_candidate_id", ["candidate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("candidate_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_aliases_candidate_id")
    op.drop_table("candidate_aliases")
    with op.batch_alter_table("link_details", schema=None) as batch_op:
        batch_op.drop_column("lead")
        batch_op.drop_column("resolved_reason")
        batch_op.drop_column("resolved_url")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("categories")
