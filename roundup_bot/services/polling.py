"""One poll round: fetch every selected feed, parse it, store what changed.

The flow, per feed, run concurrently (bounded overall, and per host inside the
HTTP client)::

    storage.feeds.for_update  ->  HttpFetcher.get (conditional GET)
      -> parse_feed (worker processes, or threads)
      -> storage.feeds.record_success | record_failure

Each feed's result is stored in its own transaction as soon as it is known, by
one writer thread, so a run that is killed keeps everything finished so far
and the next run completes the rest. A failing feed is recorded with its error
and backed off; it never stops the others.

Each document's parse may use at most ``ParseLimits.cpu_seconds`` of CPU (the
per-feed deadline, ``[polling] timeout``): a hostile document over it fails that
feed alone ("too costly to parse") and the parser goes on to the next. Only the
newest ``max_entries`` entries of a document are kept; the feed's status says
when some were dropped.

feedparser is pure Python and holds the GIL, so in a large run parsing in a
thread starves the event loop and the writer and uses one core. Large runs
therefore parse in a small pool of worker processes (one per CPU); small runs,
where starting processes would cost more than it saves, parse in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from roundup_bot.adapters.feeds import exit_with_parent, parse_feed, parse_feed_in_worker
from roundup_bot.adapters.http import HttpFetcher
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.curation import clean_line, next_due_after_failure
from roundup_bot.core.errors import FeedParseError, FetchError, HTTPStatusError, StorageError
from roundup_bot.core.feed_update import decide_success, dropped_notice
from roundup_bot.core.records import (
    FeedForUpdate,
    HttpPolicy,
    ParsedFeed,
    ParseLimits,
    PollOptions,
    PollOutcome,
)
from roundup_bot.storage import Storage

log = logging.getLogger(__name__)

Progress = Callable[[PollOutcome], None]

#: Runs with fewer feeds than this parse in a thread (see the module docstring).
PROCESS_PARSE_MIN_FEEDS = 32


def poll_feeds(
    storage: Storage,
    feeds: Sequence[FeedForUpdate],
    policy: HttpPolicy,
    options: PollOptions,
    *,
    progress: Progress | None = None,
    clock: Clock = utc_now,
    stop: asyncio.Event | None = None,
) -> list[PollOutcome]:
    """Poll ``feeds`` once; returns one outcome per feed (in completion order)."""
    return asyncio.run(
        poll_feeds_async(storage, feeds, policy, options, progress=progress, clock=clock, stop=stop)
    )


async def poll_feeds_async(
    storage: Storage,
    feeds: Sequence[FeedForUpdate],
    policy: HttpPolicy,
    options: PollOptions,
    *,
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
        _Parsers(_parse_processes(options, len(feeds)), options.parse_limits, stop) as parsers,
    ):
        async with HttpFetcher(policy) as fetcher:

            async def one(feed: FeedForUpdate) -> None:
                async with slots:
                    if stop is not None and stop.is_set():
                        return
                    outcome = await _poll_one(
                        feed, fetcher, storage, options, loop, writer, parsers, clock
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
    parsers: _Parsers,
    clock: Clock,
) -> PollOutcome:
    try:
        result = await fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        parsed = None
        if result.content is not None:
            parsed = await parsers.parse(loop, result.content, result.final_url, result.headers)
            if parsed.warning:
                log.warning("feed %s is broken but usable: %s", feed.url, parsed.warning)
            if parsed.dropped_entries:
                log.info("feed %s: %s", feed.url, dropped_notice(parsed))
    except (FetchError, FeedParseError) as exc:
        return await _failed(feed, exc, storage, options, loop, writer, clock)
    except Exception as exc:  # a bug or a library surprise: this feed fails, the run goes on
        log.exception("feed %s: unexpected error while fetching or parsing", feed.url)
        problem = FeedParseError(feed.url, f"internal error: {type(exc).__name__}: {exc}")
        return await _failed(feed, problem, storage, options, loop, writer, clock)
    now = clock()

    success = decide_success(feed, result, parsed, now=now, interval_s=options.interval_s)

    def store() -> tuple[int, int]:
        return storage.feeds.record_success(success)

    try:
        new, updated = await loop.run_in_executor(writer, store)
    except StorageError as exc:
        # One feed's entries the database would not take: record that on the feed
        # (if even that fails, the database is gone and the run stops).
        log.warning("feed %s: could not store its entries: %s", feed.url, exc)
        problem = FeedParseError(feed.url, f"could not store the entries: {exc}")
        return await _failed(feed, problem, storage, options, loop, writer, clock)
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
    message = clean_line(str(exc) or type(exc).__name__)
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


def _parse_processes(options: PollOptions, feeds: int) -> int:
    if options.parse_processes is not None:
        return max(options.parse_processes, 0)
    if feeds < PROCESS_PARSE_MIN_FEEDS:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(cpus, 4) if cpus > 1 else 0


class _Parsers:
    """Where feed documents are parsed: worker processes, or threads when
    ``processes`` is 0. Processes are started by the first parse, so a run in
    which every feed answers 304 starts none.

    A worker that dies (killed for memory, say) breaks its pool, and every
    parse queued to that pool fails with it, not only the one it was doing. A
    fresh pool takes over the run, and each feed the broken pool lost is parsed
    once more, alone, in a separate one-worker pool: a document that kills its
    parser every time then fails only itself.
    """

    def __init__(
        self, processes: int, limits: ParseLimits, stop: asyncio.Event | None = None
    ) -> None:
        self.processes = processes
        self.limits = limits
        self._stop = stop
        self._thread: ThreadPoolExecutor | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._alone: ProcessPoolExecutor | None = None
        self._alone_turn = asyncio.Lock()
        if processes == 0:
            self._thread = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roundup-parse")

    def __enter__(self) -> _Parsers:
        return self

    def __exit__(self, *_exc: object) -> None:
        for executor in (self._thread, self._pool, self._alone):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

    def _process_pool(self, workers: int) -> ProcessPoolExecutor:
        # spawn: the parent has threads (the writer, the event loop's resolver), and
        # forking a threaded process can deadlock the child.
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    async def parse(
        self,
        loop: asyncio.AbstractEventLoop,
        content: bytes,
        url: str,
        headers: Mapping[str, str],
    ) -> ParsedFeed:
        """parse_feed, off the event loop. Raises FeedParseError."""
        if self._thread is not None:
            return await loop.run_in_executor(
                self._thread, parse_feed, content, url, headers, self.limits
            )
        if self._pool is None:
            self._pool = self._process_pool(self.processes)
        pool = self._pool
        try:
            result = await loop.run_in_executor(
                pool, parse_feed_in_worker, content, url, headers, self.limits
            )
        except BrokenProcessPool as exc:
            if self._pool is pool:  # the first feed to notice replaces the pool
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                log.warning(
                    "a feed parser process stopped (killed?): "
                    "the feeds it had are parsed again, one at a time"
                )
            if self._stop is not None and self._stop.is_set():
                raise FeedParseError(url, "the feed parser process stopped") from exc
            result = await self._parse_alone(loop, content, url, headers)
        if isinstance(result, str):
            raise FeedParseError(url, result)
        return result

    async def _parse_alone(
        self,
        loop: asyncio.AbstractEventLoop,
        content: bytes,
        url: str,
        headers: Mapping[str, str],
    ) -> ParsedFeed | str:
        """A second try, in a one-worker pool that parses one document at a time."""
        async with self._alone_turn:
            if self._alone is None:
                self._alone = self._process_pool(1)
            alone = self._alone
            try:
                return await loop.run_in_executor(
                    alone, parse_feed_in_worker, content, url, headers, self.limits
                )
            except BrokenProcessPool as exc:
                self._alone = None
                alone.shutdown(wait=False, cancel_futures=True)
                raise FeedParseError(
                    url, "the feed parser process stopped while parsing it, twice"
                ) from exc
