"""feeds.notice: what the last good poll left out

A feed document may hold far more entries than anyone reads (a hostile one,
100,000): only the newest ``[polling] max_entries`` are stored, and the feed's
status says that the rest were dropped. The note is kept here, beside
``last_error``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("notice")
