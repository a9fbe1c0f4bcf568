"""suggestions from every channel: long post ids, reply references

Mastodon and Bluesky join X as suggestion channels. A Bluesky post's id is
its at:// URI (about 70 characters, longer than the 64 that X's numeric ids
were given) and its author's stable id a DID, so both become text. A reply
on Bluesky also needs the post's record cid and its thread's root, and one on
Mastodon the post's visibility: ``reply_ref`` keeps them (JSON), NULL for X.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.alter_column(
            "post_id", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "author_id", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=True
        )
        batch_op.add_column(sa.Column("reply_ref", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_column("reply_ref")
        batch_op.alter_column(
            "author_id", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=True
        )
        batch_op.alter_column(
            "post_id", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=False
        )
