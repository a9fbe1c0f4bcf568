"""links without feed passwords

A private feed is configured with its password in the URL
(``https://user:secret@host/feed``). Before 0003 every link resolved against it
kept the password: a relative entry link stored ``https://user:secret@host/posts/1``
as the candidate's link (an ``href`` on the editors' pages), its guid in
``candidate_sources.entry_id``, the feed's home page in ``feeds.site_url``, and
the feed URL itself on each entry's source (its ``url``, and its ``name`` when
the feed had no other). This takes the user name and password out of those
rows. The feed's own ``url`` and ``fetch_url`` keep theirs: the feed is fetched
with them.

The rewrite is written out here, not imported, so that this migration does the
same thing whatever later releases do to the application's code.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: (table, column) pairs that may hold a URL derived from a feed's URL.
COLUMNS = (
    ("candidates", "link"),
    ("candidate_sources", "entry_id"),
    ("candidate_sources", "url"),
    ("candidate_sources", "name"),
    ("feeds", "site_url"),
)
_USERINFO = re.compile(r"^(?P<head>\s*[a-z][a-z0-9+.-]*://)[^/?#]*@", re.IGNORECASE)


def without_credentials(value: str) -> str:
    """The URL without its user name and password (urlsplit reads the userinfo up
    to the authority's last "@"); text that is not such a URL is unchanged."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return _USERINFO.sub(r"\g<head>", value, count=1)
    if "@" not in parts.netloc:
        return value
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    for table_name, column_name in COLUMNS:
        table = sa.Table(
            table_name,
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(column_name, sa.Text),
            extend_existing=True,
        )
        column = table.c[column_name]
        rows = conn.execute(sa.select(table.c.id, column).where(column.like("%://%@%"))).all()
        changed = [
            {"row_id": row.id, "value": cleaned}
            for row in rows
            if (cleaned := without_credentials(row[1])) != row[1]
        ]
        if changed:
            conn.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("row_id"))
                .values({column_name: sa.bindparam("value")}),
                changed,
            )


def downgrade() -> None:
    """Nothing to put back: the passwords were never meant to be there."""
