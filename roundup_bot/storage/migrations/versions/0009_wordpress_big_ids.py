"""wordpress ids are 64-bit

WordPress keeps post and comment ids in unsigned BIGINTs; ``wordpress_posts.post_id``
and ``wordpress_comments.comment_id``/``post_id`` were 32-bit INTEGERs on PostgreSQL,
so a blog whose ids had passed 2**31-1 could not be recorded. They become BIGINT
(SQLite's INTEGER was already 64-bit; the table is rebuilt to say so). Ids above
2**63-1 are refused as malformed answers before they reach the database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wordpress_posts", schema=None) as batch_op:
        batch_op.alter_column(
            "post_id", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True
        )
    with op.batch_alter_table("wordpress_comments", schema=None) as batch_op:
        batch_op.alter_column(
            "comment_id",
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "post_id", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("wordpress_comments", schema=None) as batch_op:
        batch_op.alter_column(
            "post_id", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
        batch_op.alter_column(
            "comment_id",
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=False,
        )
    with op.batch_alter_table("wordpress_posts", schema=None) as batch_op:
        batch_op.alter_column(
            "post_id", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True
        )
