"""Row leases: how several ``poll --worker`` processes split the due feeds.

A worker claims a batch of due feeds in one short transaction::

    SELECT ... FROM feeds WHERE <due> AND <no live lease>
        ORDER BY next_due, id LIMIT n FOR UPDATE SKIP LOCKED
    UPDATE feeds SET lease_owner = <me>, lease_until = now + lease

``SKIP LOCKED`` makes concurrent claims pass over each other's rows instead of
waiting for them, and the lease keeps the rows away from other workers after
the claim commits. Storing a feed's poll moves its ``next_due`` into the
future, so once its lease is released the feed is no longer due: no feed is
fetched twice in one round. A worker that dies leaves its unfinished feeds
leased; they become claimable again when the lease runs out, so a crash only
delays them.

Lease times are the database server's clock (``now()``), not the workers':
workers on several machines may disagree about the time, and one whose clock
ran ahead by more than a lease would otherwise take feeds another worker is
still fetching. Whether a feed is *due* still uses the worker's clock, as
every other poll does (a skew there only moves a poll a little).

PostgreSQL only: SQLite has neither ``FOR UPDATE`` nor concurrent writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update

from roundup_bot.core.errors import StorageError
from roundup_bot.core.records import FeedForUpdate
from roundup_bot.storage._sql import read, write
from roundup_bot.storage.feeds import FOR_UPDATE_COLUMNS, feed_for_update
from roundup_bot.storage.schema import feeds


class FeedLeases:
    """Claims and releases feed leases. Attached to Storage as ``storage.leases``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def supported(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def claim(
        self, owner: str, now: datetime, *, lease_s: float, limit: int
    ) -> list[FeedForUpdate]:
        """Lease up to ``limit`` due, unleased feeds to ``owner`` until now + lease_s.

        Raises:
            StorageError: the database is not PostgreSQL, or the claim failed.
        """
        if not self.supported:
            raise StorageError("feed leases need PostgreSQL")
        due = or_(feeds.c.next_due.is_(None), feeds.c.next_due <= now)
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= func.now())
        query = (
            select(*FOR_UPDATE_COLUMNS)
            .where(feeds.c.enabled.is_(True), feeds.c.in_config.is_(True), due, free)
            .order_by(feeds.c.next_due.asc().nulls_first(), feeds.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with write(self.engine) as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.id.in_([row.id for row in rows]))
                    .values(
                        lease_owner=owner,
                        lease_until=func.now() + timedelta(seconds=lease_s),
                    )
                )
        return [feed_for_update(row) for row in rows]

    def release(self, owner: str, feed_ids: Sequence[int]) -> None:
        """Give back ``owner``'s leases on these feeds (done or abandoned)."""
        if not feed_ids:
            return
        with write(self.engine) as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(list(feed_ids)), feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def leased(self) -> dict[int, str]:
        """Feeds under a live lease right now (by the database's clock), with their owners."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(feeds.c.id, feeds.c.lease_owner).where(feeds.c.lease_until > func.now())
            ).all()
        return {row.id: str(row.lease_owner) for row in rows}
