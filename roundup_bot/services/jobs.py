"""The scheduled jobs, shared by the daemon and the one-shot commands.

Each job is a plain function of the app, a :class:`StopSignal` and a clock
(:data:`roundup_bot.core.clock.Clock`), returning a :class:`JobResult`.
:func:`guarded_run` wraps a run in the job's lock (so the same job never runs
twice at once, wherever it was started) and records it in ``job_runs`` (so
``status`` shows the last run).

Jobs:
  poll      poll the feeds that are due (the daemon; ``poll`` polls all healthy feeds)
  worker    ``poll --worker``: claim due feeds in leased batches until none are left
  mentions  read suggestions from the enabled channels (X, Mastodon, Bluesky, WordPress
            comments); skipped when none is enabled
  draft     make this week's draft round-up
  wordpress retry the WordPress posts that failed, with backoff (while [wordpress] enabled)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.records import Draft, FeedForUpdate, PollOutcome
from roundup_bot.core.weeks import week_to_draft
from roundup_bot.core.wording import plural
from roundup_bot.services.app import App
from roundup_bot.storage import Storage
from roundup_bot.storage.feeds import SelectMode

if TYPE_CHECKING:
    from roundup_bot.services.mentions import MentionsReport

log = logging.getLogger(__name__)

JOB_POLL = "poll"
JOB_MENTIONS = "mentions"
JOB_DRAFT = "draft"
JOB_WORDPRESS = "wordpress"
#: The jobs ``status`` always lists; the wordpress job shows once it has run.
JOB_NAMES = (JOB_POLL, JOB_MENTIONS, JOB_DRAFT)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one run did, in one line. ``ok`` is None when the job had nothing to do
    because it was switched off or skipped."""

    ok: bool | None
    summary: str


class StopSignal:
    """A stop request that reaches jobs running in other threads and event loops.

    The daemon sets it on SIGTERM/SIGINT; a poll running in a worker thread
    sees it through the asyncio.Event it was given (set thread-safely on the
    poll's own loop) and stops at once, keeping every feed already stored.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.RLock()  # re-entrant: set() may run in a signal handler
        self._loops: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    def set(self) -> None:
        with self._lock:
            self._event.set()
            for event, loop in list(self._loops.items()):
                with contextlib.suppress(RuntimeError):  # that loop has just closed
                    loop.call_soon_threadsafe(event.set)

    def flag(self) -> None:
        """Only raise the flag (safe inside a signal handler); :meth:`set` passes it on."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def run(self, work: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(stop_event)`` on a fresh event loop in this thread."""

        async def main() -> T:
            event = asyncio.Event()
            with self._lock:
                self._loops[event] = asyncio.get_running_loop()
                if self._event.is_set():
                    event.set()
            try:
                return await work(event)
            finally:
                with self._lock:
                    self._loops.pop(event, None)

        return asyncio.run(main())


@dataclass(slots=True)
class RunRecord:
    """Filled in by the body of :func:`guarded_run`."""

    result: JobResult = field(default_factory=lambda: JobResult(True, "done"))


@contextmanager
def guarded_run(
    storage: Storage,
    job: str,
    *,
    wait: float = 0.0,
    shared: bool = False,
    clock: Clock = utc_now,
) -> Iterator[RunRecord]:
    """Hold the job's lock and record the run in ``job_runs``.

    Raises:
        LockHeldError: the same job is running elsewhere (after ``wait`` seconds).
    """
    # The lock keeps real time whatever ``clock`` says: other processes read it.
    with storage.locks.hold(job, wait=wait, shared=shared):
        storage.job_runs.started(job, clock())
        record = RunRecord()
        try:
            yield record
        except BaseException as exc:
            reason = f"failed: {exc}" if isinstance(exc, Exception) else "interrupted"
            storage.job_runs.finished(job, clock(), ok=False, result=reason)
            raise
        storage.job_runs.finished(job, clock(), ok=record.result.ok, result=record.result.summary)


# -- poll ---------------------------------------------------------------------------


def poll_summary(outcomes: Sequence[PollOutcome], skipped: int = 0) -> JobResult:
    failed = sum(1 for o in outcomes if not o.ok)
    new = sum(o.new_entries for o in outcomes)
    updated = sum(o.updated_entries for o in outcomes)
    text = (
        f"polled {plural(len(outcomes), 'feed')}: {len(outcomes) - failed} ok, {failed} failed; "
        f"{new} new {'candidate' if new == 1 else 'candidates'}, {updated} updated"
    )
    if skipped:
        text += f"; stopped before {skipped} more"
    return JobResult(True, text)


@dataclass(frozen=True, slots=True)
class PollRun:
    """What one poll did (the CLI's ``poll``, the daemon's poll job, ``poll --worker``)."""

    outcomes: tuple[PollOutcome, ...]  # one per feed polled, in completion order
    selected: int  # feeds chosen (a worker: claimed) for this run
    batches: int = 0  # a worker's leased batches


#: Told, before the fetching starts, how many feeds were chosen and how many
#: enabled ones were left out (failing and still backing off).
Starting = Callable[[int, int], None]


def run_poll(
    app: App,
    stop: StopSignal,
    clock: Clock = utc_now,
    *,
    mode: SelectMode = "poll",
    owner: str | None = None,
    progress: Callable[[PollOutcome], None] | None = None,
    starting: Starting | None = None,
) -> PollRun:
    """The one poll use case: bring the stored feed list in line with the config,
    choose the feeds, then fetch, parse and store them (roundup_bot.services.polling).

    ``mode`` chooses the feeds (``poll``: every healthy one and the failing ones
    that are due; ``due``: only the due ones, the daemon; ``all``: every enabled
    one). With ``owner`` (``poll --worker``) the due feeds are claimed in leased
    batches instead, until none are left: several workers, on one or more
    machines, share them, and a batch is released as soon as it is done, or
    abandoned when the worker is stopped, so its unfinished feeds are due again
    at once. When ``stop`` is set the run ends promptly, keeping every feed
    already stored. News for the editors that could not be sent before is tried
    again first (every poll retries it).
    """
    now = clock()
    _tell_editors(app, None, now)
    configured = app.sync_feeds(now)
    if owner is not None:
        return _poll_as_worker(app, stop, clock, owner, progress)
    selected = app.storage.feeds.for_update(now, mode=mode)
    if starting is not None:
        starting(len(selected), sum(1 for f in configured if f.enabled) - len(selected))
    if not selected:
        return PollRun(outcomes=(), selected=0)
    outcomes = stop.run(functools.partial(_poll_batch, app, selected, clock, progress))
    return PollRun(outcomes=tuple(outcomes), selected=len(selected), batches=1)


def _poll_as_worker(
    app: App,
    stop: StopSignal,
    clock: Clock,
    owner: str,
    progress: Callable[[PollOutcome], None] | None,
) -> PollRun:
    options = app.poll_options()
    policy = app.feed_policy()
    batch_size = max(options.concurrency, 1)
    lease_s = lease_seconds(policy.timeout, batch_size, policy.per_host)
    outcomes: list[PollOutcome] = []
    claimed = batches = 0
    while not stop.is_set():
        batch = app.storage.leases.claim(owner, clock(), lease_s=lease_s, limit=batch_size)
        if not batch:
            break
        batches += 1
        claimed += len(batch)
        try:
            outcomes.extend(stop.run(functools.partial(_poll_batch, app, batch, clock, progress)))
        finally:
            app.storage.leases.release(owner, [feed.id for feed in batch])
    return PollRun(outcomes=tuple(outcomes), selected=claimed, batches=batches)


def lease_seconds(timeout_s: float, batch: int, per_host: int) -> float:
    """How long a worker may keep a claimed batch: long enough for the whole batch
    even if every feed is on one host (so ``per_host`` at a time) and each takes
    the full timeout, plus a margin. Pure."""
    return timeout_s * math.ceil(batch / max(per_host, 1)) + 60.0


async def _poll_batch(
    app: App,
    batch: list[FeedForUpdate],
    clock: Clock,
    progress: Callable[[PollOutcome], None] | None,
    stop: asyncio.Event,
) -> list[PollOutcome]:
    # Loaded here, not at the top: `draft`, `show` and the web page use this module
    # too and must not load feedparser and httpx (the README promises light commands).
    from roundup_bot.services.polling import poll_feeds_async

    return await poll_feeds_async(
        app.storage,
        batch,
        app.feed_policy(),
        app.poll_options(),
        progress=progress,
        clock=clock,
        stop=stop,
    )


def poll_feeds_job(app: App, stop: StopSignal, clock: Clock = utc_now) -> JobResult:
    """The daemon's poll: only feeds whose next poll time has come."""
    run = run_poll(app, stop, clock, mode="due")
    if not run.selected:
        return JobResult(True, "no feeds due")
    return poll_summary(run.outcomes, skipped=run.selected - len(run.outcomes))


def poll_worker_job(app: App, stop: StopSignal, owner: str, clock: Clock = utc_now) -> JobResult:
    """``poll --worker``: claim due feeds in leased batches until none are left
    (see :func:`run_poll`)."""
    run = run_poll(app, stop, clock, owner=owner)
    result = poll_summary(run.outcomes)
    batches = plural(run.batches, "batch", "batches")
    return JobResult(True, f"{result.summary} (worker {owner}, {batches})")


# -- mentions and draft: the work lives with its own feature ----------------------------


def poll_mentions_job(app: App, stop: StopSignal, clock: Clock = utc_now) -> JobResult:
    """Read suggestions from every enabled channel (X, Mastodon, Bluesky mentions, then
    WordPress comments); skipped when none is enabled. One failing never stops another."""
    from roundup_bot.services.channels import enabled_channel_names

    results: list[JobResult] = []
    if enabled_channel_names(app.settings):
        from roundup_bot.services.mentions import mentions_from_settings

        reports = mentions_from_settings(
            app.settings, app.storage, opener=app.open_channel, clock=clock, stop=stop
        )
        results.append(runs_result(reports))
    if app.settings.wordpress.comments_on and not stop.is_set():
        results.append(_wordpress_comments(app, clock()))
    if not results:
        return JobResult(
            None,
            "skipped: no suggestion source is enabled"
            " (see [twitter], [mastodon], [bluesky] enabled, [wordpress] read_comments)",
        )
    if len(results) == 1:
        return results[0]
    verdicts = [r.ok for r in results if r.ok is not None]
    ok = all(verdicts) if verdicts else None
    return JobResult(ok, "; ".join(r.summary for r in results))


def runs_result(reports: Sequence[MentionsReport]) -> JobResult:
    """The mentions job's result over every channel: ok only when each one is;
    "stopped" (None) when the run was asked to stop. One line per channel, "x: ..." first."""
    from roundup_bot.services.mentions import job_line

    if len(reports) == 1:
        line = job_line(reports[0])
    else:
        line = "; ".join(f"{r.channel}: {job_line(r)}" for r in reports)
    if any(r.outcome == "stopped" for r in reports):
        return JobResult(None, line)
    return JobResult(all(r.ok for r in reports), line)


def _wordpress_comments(app: App, now: datetime) -> JobResult:
    from roundup_bot.core.errors import RoundupError
    from roundup_bot.services.wordpress_comments import read_new_comments

    try:
        report = read_new_comments(app, now)
    except RoundupError as exc:  # missing credentials: the other channels still run
        return JobResult(False, f"WordPress comments FAILED: {exc}")
    return JobResult(report.ok, report.line)


def wordpress_job(app: App, stop: StopSignal, clock: Clock = utc_now) -> JobResult:
    """Retry the WordPress posts that failed, once their backoff has passed."""
    from roundup_bot.core.errors import LockHeldError
    from roundup_bot.services.publish import retry_posts

    if not app.settings.wordpress.enabled:
        return JobResult(None, "skipped: [wordpress] enabled is false")
    try:
        report = retry_posts(app, clock())
    except LockHeldError:
        return JobResult(None, "skipped: a publish is running; the next run retries")
    ok, line = report.summary()
    return JobResult(ok, line)


def draft_job(app: App, stop: StopSignal, clock: Clock = utc_now) -> JobResult:
    """Make (or refresh) the draft of the week that ends nearest to ``clock()``."""
    from roundup_bot.services.drafting import draft_week

    now = clock()
    roundup = app.settings.roundup
    week = week_to_draft(now, roundup.timezone, roundup.week_ends)
    outcome = draft_week(app, week, now=now)
    told = _tell_editors(app, outcome.draft if outcome.created else None, now)
    if outcome.left_alone:
        return JobResult(None, f"skipped: {outcome.left_alone}")
    verb = "created" if outcome.created else "refreshed"
    return JobResult(
        True,
        f"{verb} the {week.label} draft (draft {outcome.draft.id}) "
        f"with {plural(len(outcome.draft.shown_items), 'item')}{told}",
    )


def _tell_editors(app: App, new_draft: Draft | None, now: datetime) -> str:
    """Tell the editors about a newly made draft, and send any news still owed from
    an earlier run; a few words for the job's result, empty when nothing was sent."""
    from roundup_bot.services.notify import tell_editors

    report = tell_editors(app, new_draft, now)
    if not (report.sent or report.failed):
        return ""
    return f"; editors told: {report}"


JobFunction = Callable[[App, StopSignal, Clock], JobResult]

#: The daemon's jobs by name.
JOBS: dict[str, JobFunction] = {
    JOB_POLL: poll_feeds_job,
    JOB_MENTIONS: poll_mentions_job,
    JOB_DRAFT: draft_job,
    JOB_WORDPRESS: wordpress_job,
}
