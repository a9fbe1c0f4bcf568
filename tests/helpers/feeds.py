"""Storing a parsed feed as a good poll would, without fetching it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from roundup_bot.core.feed_update import decide_success
from roundup_bot.core.records import FeedForUpdate, FetchResult, ParsedFeed
from roundup_bot.storage import Storage


def record_parsed(
    storage: Storage,
    feed: FeedForUpdate,
    *,
    parsed: ParsedFeed | None,
    now: datetime,
    next_due: datetime | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    permanent_url: str | None = None,
    source_name: str | None = None,
) -> tuple[int, int]:
    """Decide (roundup_bot.core.feed_update) and store a good poll of ``feed`` whose
    document parsed as ``parsed`` (None: a 304). Returns (new, updated)."""
    fetched = FetchResult(
        requested_url=feed.url,
        final_url=feed.url,
        status=304 if parsed is None else 200,
        headers={},
        content=None if parsed is None else b"<feed/>",
        etag=etag,
        last_modified=last_modified,
        permanent_redirect=permanent_url,
    )
    success = decide_success(feed, fetched, parsed, now=now, interval_s=0)
    success = replace(
        success,
        next_due=next_due or now,
        source_name=source_name or success.source_name,
    )
    return storage.feeds.record_success(success)
