"""One poll round: fetch every selected feed, parse it, store what changed.

The flow, per feed, run concurrently (bounded overall, and per host inside the
HTTP client)::

    storage.feeds.for_update  ->  HttpFetcher.get (conditional GET)
      -> parse_feed (a worker thread)  ->  storage.feeds.record_success | record_failure

Each feed's result is stored in its own transaction as soon as it is known, by
one writer thread, so a run that is killed keeps everything finished so far
and the next run completes the rest. A failing feed is recorded with its error
and backed off; it never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from roundup_bot.curation import next_due_after_failure, next_due_after_success
from roundup_bot.exceptions import FeedParseError, FetchError, HTTPStatusError
from roundup_bot.sources.feeds import parse_feed
from roundup_bot.sources.http import HttpFetcher, HttpPolicy
from roundup_bot.storage import Storage
from roundup_bot.types import FeedForUpdate, PollOutcome

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[PollOutcome], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PollOptions:
    concurrency: int = 16
    interval_s: float = 7200.0
    max_backoff_s: float = 86400.0


def poll_feeds(
    storage: Storage,
    feeds: Sequence[FeedForUpdate],
    policy: HttpPolicy,
    options: PollOptions,
    *,
    names: dict[int, str | None] | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    stop: asyncio.Event | None = None,
) -> list[PollOutcome]:
    """Poll ``feeds`` once; returns one outcome per feed (in completion order)."""
    return asyncio.run(
        poll_feeds_async(
            storage, feeds, policy, options, names=names, progress=progress, clock=clock, stop=stop
        )
    )


async def poll_feeds_async(
    storage: Storage,
    feeds: Sequence[FeedForUpdate],
    policy: HttpPolicy,
    options: PollOptions,
    *,
    names: dict[int, str | None] | None = None,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    stop: asyncio.Event | None = None,
) -> list[PollOutcome]:
    outcomes: list[PollOutcome] = []
    if not feeds:
        return outcomes
    slots = asyncio.Semaphore(options.concurrency)
    loop = asyncio.get_running_loop()
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="roundup-store") as writer,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="roundup-parse") as parsers,
    ):
        async with HttpFetcher(policy) as fetcher:

            async def one(feed: FeedForUpdate) -> None:
                async with slots:
                    if stop is not None and stop.is_set():
                        return
                    outcome = await _poll_one(
                        feed, fetcher, storage, options, loop, writer, parsers, names, clock
                    )
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)

            tasks: list[asyncio.Task[object]] = [asyncio.create_task(one(feed)) for feed in feeds]
            if stop is None:
                await asyncio.gather(*tasks)
            else:
                waiter: asyncio.Task[object] = asyncio.create_task(stop.wait())
                pending: set[asyncio.Task[object]] = set(tasks)
                while pending and not stop.is_set():
                    _finished, pending = await asyncio.wait(
                        pending | {waiter}, return_when=asyncio.FIRST_COMPLETED
                    )
                    pending.discard(waiter)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                waiter.cancel()
    return outcomes


async def _poll_one(
    feed: FeedForUpdate,
    fetcher: HttpFetcher,
    storage: Storage,
    options: PollOptions,
    loop: asyncio.AbstractEventLoop,
    writer: ThreadPoolExecutor,
    parsers: ThreadPoolExecutor,
    names: dict[int, str | None] | None,
    clock: Clock,
) -> PollOutcome:
    try:
        result = await fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        parsed = None
        if result.content is not None:
            parsed = await loop.run_in_executor(
                parsers, parse_feed, result.content, result.final_url, result.headers
            )
            if parsed.warning:
                log.info("feed %s parsed with a problem: %s", feed.url, parsed.warning)
    except (FetchError, FeedParseError) as exc:
        return await _failed(feed, exc, storage, options, loop, writer, clock)
    now = clock()

    def store() -> tuple[int, int]:
        return storage.feeds.record_success(
            feed,
            parsed=parsed,
            etag=result.etag,
            last_modified=result.last_modified,
            permanent_url=result.permanent_redirect,
            now=now,
            next_due=next_due_after_success(now, options.interval_s),
            source_name=(names or {}).get(feed.id),
        )

    new, updated = await loop.run_in_executor(writer, store)
    if result.permanent_redirect:
        log.info("feed %s moved permanently to %s", feed.url, result.permanent_redirect)
    return PollOutcome(
        feed_id=feed.id,
        feed_url=feed.url,
        ok=True,
        not_modified=result.content is None,
        new_entries=new,
        updated_entries=updated,
    )


async def _failed(
    feed: FeedForUpdate,
    exc: FetchError | FeedParseError,
    storage: Storage,
    options: PollOptions,
    loop: asyncio.AbstractEventLoop,
    writer: ThreadPoolExecutor,
    clock: Clock,
) -> PollOutcome:
    now = clock()
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    gone = isinstance(exc, HTTPStatusError) and exc.status == 410
    message = str(exc)
    if gone:
        message = "HTTP 410 Gone: the feed has been removed; fix or delete it in the config"
    next_due = next_due_after_failure(
        now,
        feed.consecutive_errors + 1,
        options.interval_s,
        options.max_backoff_s,
        retry_after,
    )

    def store() -> None:
        storage.feeds.record_failure(feed, error=message, gone=gone, now=now, next_due=next_due)

    await loop.run_in_executor(writer, store)
    log.info("feed %s failed: %s", feed.url, message)
    return PollOutcome(
        feed_id=feed.id,
        feed_url=feed.url,
        ok=False,
        error=message,
        gone=gone,
        retry_after=retry_after,
    )
