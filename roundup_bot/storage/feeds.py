"""Feeds: the configured list, each feed's HTTP cache state and health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, Row, and_, func, or_, select, update

from roundup_bot.core.feed_update import FeedSuccess
from roundup_bot.core.records import ConfiguredFeed, FeedForUpdate, FeedStatus
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.candidates import store_entries
from roundup_bot.storage.schema import candidate_sources, feeds

SelectMode = Literal["poll", "due", "all"]

# What fetching a feed needs; feed_for_update() turns such a row into the record.
FOR_UPDATE_COLUMNS = (
    feeds.c.id,
    feeds.c.url,
    feeds.c.fetch_url,
    feeds.c.name,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.consecutive_errors,
)


def feed_for_update(row: Row[*tuple[Any, ...]]) -> FeedForUpdate:
    """A feed to fetch, from a row of FOR_UPDATE_COLUMNS (a moved feed at its new URL)."""
    return FeedForUpdate(
        id=row.id,
        url=row.fetch_url or row.url,
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        consecutive_errors=row.consecutive_errors,
    )


class FeedRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sync(self, configured: Sequence[ConfiguredFeed], now: datetime) -> None:
        """Make the stored feed list match the config: add new feeds, update names,
        weights and enabled flags, and mark feeds no longer configured (their
        candidates stay; they are just not polled)."""
        with write(self.engine) as conn:
            urls = [feed.url for feed in configured]
            for feed in configured:
                stmt = upsert(conn, feeds).values(
                    url=feed.url,
                    name=feed.name,
                    weight=feed.weight,
                    enabled=feed.enabled,
                    in_config=True,
                    consecutive_errors=0,
                    gone=False,
                    created_at=now,
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["url"],
                        set_={
                            "name": feed.name,
                            "weight": feed.weight,
                            "enabled": feed.enabled,
                            "in_config": True,
                        },
                    )
                )
            conn.execute(
                update(feeds)
                .where(feeds.c.url.not_in(urls) if urls else feeds.c.id.is_not(None))
                .values(in_config=False)
            )

    def for_update(self, now: datetime, mode: SelectMode = "poll") -> list[FeedForUpdate]:
        """The feeds to fetch now.

        ``poll``: every enabled feed, except failing or gone feeds still backing
        off and feeds whose server asked us (Retry-After) to wait. ``due``: only
        feeds whose next poll time has come (the daemon). ``all``: every enabled
        feed, backoff ignored.
        """
        query = select(*FOR_UPDATE_COLUMNS).where(
            feeds.c.enabled.is_(True), feeds.c.in_config.is_(True)
        )
        due = or_(feeds.c.next_due.is_(None), feeds.c.next_due <= now)
        if mode == "poll":
            healthy = and_(feeds.c.consecutive_errors == 0, feeds.c.gone.is_(False))
            query = query.where(or_(healthy, due))
        elif mode == "due":
            query = query.where(due)
        with read(self.engine) as conn:
            rows = conn.execute(query.order_by(feeds.c.id)).all()
        return [feed_for_update(row) for row in rows]

    def record_success(self, success: FeedSuccess) -> tuple[int, int]:
        """Apply a good poll (decided by roundup_bot.core.feed_update) in one
        transaction: the entries (if the feed changed) and the feed's new cache
        state. A run killed before the commit leaves the old ETag in place, so
        the next poll fetches the entries again. An unchanged feed (a 304) keeps
        its title and notice. Returns (new candidates, updated candidates)."""
        with write(self.engine) as conn:
            counts = (0, 0)
            values: dict[str, object] = {
                "etag": success.etag,
                "last_modified": success.last_modified,
                "last_polled": success.now,
                "last_success": success.now,
                "next_due": success.next_due,
                "ok": True,
                "last_error": None,
                "consecutive_errors": 0,
                "gone": False,
            }
            if success.permanent_url:
                values["fetch_url"] = success.permanent_url
            if success.changed:
                values["notice"] = success.notice
                values["title"] = success.title
                values["site_url"] = success.site_url
                counts = store_entries(conn, success)
            conn.execute(update(feeds).where(feeds.c.id == success.feed_id).values(**values))
            return counts

    def record_failure(
        self,
        feed: FeedForUpdate,
        *,
        error: str,
        gone: bool,
        now: datetime,
        next_due: datetime,
    ) -> None:
        with write(self.engine) as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed.id)
                .values(
                    last_polled=now,
                    next_due=next_due,
                    ok=False,
                    last_error=error[:1000],
                    consecutive_errors=feeds.c.consecutive_errors + 1,
                    gone=gone,
                )
            )

    def statuses(self) -> list[FeedStatus]:
        """Every configured feed's health and how many articles it has given.

        The count is one correlated subquery per feed that the
        ix_candidate_sources_feed_id index answers alone (only feed sources
        carry a ``feed_id``), so it costs about the feed's own rows: grouping
        the whole candidate_sources table instead took over a second at a
        million candidates.
        """
        entries = (
            select(func.count())
            .select_from(candidate_sources)
            .where(candidate_sources.c.feed_id == feeds.c.id)
            .scalar_subquery()
        )
        query = (
            select(feeds, entries.label("entries"))
            .where(feeds.c.in_config.is_(True))
            .order_by(feeds.c.id)
        )
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            FeedStatus(
                id=row.id,
                url=row.url,
                name=row.name or row.title,
                enabled=row.enabled,
                ok=row.ok,
                last_error=row.last_error,
                notice=row.notice,
                consecutive_errors=row.consecutive_errors,
                last_polled=row.last_polled,
                next_due=row.next_due,
                gone=row.gone,
                permanent_url=row.fetch_url,
                entries=row.entries,
            )
            for row in rows
        ]

    def titles(self) -> dict[str, str | None]:
        """Each configured feed's own title, by URL (for OPML export)."""
        with read(self.engine) as conn:
            rows = conn.execute(select(feeds.c.url, feeds.c.title))
            return {row.url: row.title for row in rows}
