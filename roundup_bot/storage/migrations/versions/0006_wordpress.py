"""wordpress posts and the comments read

The WordPress step of publishing keeps one row per round-up (its post's id,
link and status, or why the last try failed and when the next is due), and
every comment on a round-up post that was read for suggestions, so none is
read twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wordpress_posts",
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["drafts.id"],
            name=op.f("fk_wordpress_posts_draft_id_drafts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("draft_id", name=op.f("pk_wordpress_posts")),
    )
    with op.batch_alter_table("wordpress_posts", schema=None) as batch_op:
        batch_op.create_index("ix_wordpress_posts_state", ["state"], unique=False)
    op.create_table(
        "wordpress_comments",
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site", "comment_id", name=op.f("pk_wordpress_comments")),
    )


def downgrade() -> None:
    op.drop_table("wordpress_comments")
    with op.batch_alter_table("wordpress_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_wordpress_posts_state")
    op.drop_table("wordpress_posts")
