"""draft views and changes: what changed since each editor last looked

``draft_views`` keeps, per draft and editor, when they last had the draft page
in front of them (``seen_at``) and the moment their marks are counted from
(``since``: where their previous visit ended). ``draft_changes`` keeps, per
part of a draft (the intro, the outro, each item), who last changed it, when,
and what (``what``: "blurb", "moved", "added"...), so the page can mark what
another editor changed since then.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_views",
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("editor", sa.String(length=80), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("draft_id", "editor"),
    )
    op.create_table(
        "draft_changes",
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=10), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("draft_id", "part", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("draft_changes")
    op.drop_table("draft_views")
