"""One mentions run: read every enabled suggestion channel, store the links, thank.

Each channel (X, Mastodon, Bluesky...) is an adapter behind
:class:`~roundup_bot.core.channels.SuggestionChannel`; this module reads any of
them the same way, one page at a time (newest first)::

    channel.start(state)                     (a looked-up id, a restored session: stored)
      -> channel.read_page(place, limit)
      -> judge (pure: the [suggestions] rules, per platform)
      -> storage.suggestions.store_page: suggestions, candidates, the next place
         and the month's post count, in ONE transaction

Nothing lost, nothing twice: the floor (``since_id``) moves to the newest post
only in the transaction that stores the sweep's last page. Until then the state
holds where the sweep stands (``resume_token`` and the sweep's own floor and
newest id), so a run stopped by a rate limit, a usage cap, a fault or a kill
carries on from the last stored page next time; and if it re-reads a page, the
unique (platform, post, link) key stores nothing twice.

One channel failing never stops the others: each is read in turn, each has its
own state (``source_state`` under the channel's name) and its own report.

Cost: a channel with ``max_posts_per_month`` (X, which bills each post read)
asks for at most the posts still allowed, and the run stops before a page when
the month's count has reached it.

Adapters (and with them tweepy, Mastodon.py, atproto) are imported by
``roundup_bot.services.channels`` only for the channels that are on, so
``status`` and a daemon with every channel off never load them. A run gets its
channels through an *opener* that ``services/app.py`` wires
(:meth:`App.open_channel`, with the app's environment): this module reads no
environment and builds no adapter.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from roundup_bot.config import Settings
from roundup_bot.core.channels import CHANNEL_NAMES, ReadPlace, ReplyTarget, SuggestionChannel
from roundup_bot.core.clock import Clock
from roundup_bot.core.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelLimited,
    ChannelMaybePosted,
    ChannelRequestError,
    ConfigError,
    RoundupError,
    RunStopped,
)
from roundup_bot.core.suggestion_rules import WEEK, AbuseRules, judge
from roundup_bot.storage import Storage

if TYPE_CHECKING:
    from roundup_bot.adapters.twitter import XApi
    from roundup_bot.services.channels import OpenChannel
    from roundup_bot.services.thanks import ThanksText  # the renderer (Jinja2) only as a type

    #: (channel name, sleep) -> a channel ready to read (``App.open_channel``).
    Opener = Callable[[str, Callable[[float], None]], OpenChannel]

log = logging.getLogger(__name__)

Outcome = Literal["completed", "rate_limited", "usage_capped", "cost_guard", "failed", "stopped"]

# Keys in source_state, under each channel's name ("x", "mastodon", "bluesky").
USER_ID = "user_id"
ACCOUNT = "account"  # the channel's own account as shown ("@bot@council.social")
USER_ID_FOR = "user_id_for"  # the username the stored id belongs to
SINCE_ID = "since_id"  # the floor: the newest post of the last finished sweep
RESUME_TOKEN = "resume_token"  # noqa: S105 - a state key, not a secret
RESUME_SINCE_ID = "resume_since_id"
RESUME_START_TIME = "resume_start_time"
RESUME_NEWEST_ID = "resume_newest_id"
LAST_RUN = "last_run"
LAST_OK = "ok"
LAST_OUTCOME = "outcome"
LAST_ERROR = "last_error"
RESUME_AFTER = "resume_after"
THANKS_WINDOW = timedelta(days=7)  # older suggestions are not thanked any more
PAGE_SIZE = 100


class Stop(Protocol):
    """A stop request (``threading.Event``, the daemon's ``StopSignal``)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def interruptible_sleep(stop: Stop) -> Callable[[float], None]:
    """A sleep that ends the run at once when ``stop`` is set while it waits."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise RunStopped("stopped while waiting")

    return sleep


@dataclass(frozen=True, slots=True)
class MentionsOptions:
    """The X channel's options (kept for the X-only entry point, read_mentions)."""

    username: str = "welovelocalgov"
    user_id: str | None = None
    max_posts_per_month: int = 1000
    first_run_days: int = 7
    thank: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> MentionsOptions:
        twitter = settings.twitter
        return cls(
            username=twitter.username,
            user_id=twitter.user_id,
            max_posts_per_month=twitter.max_posts_per_month,
            first_run_days=twitter.first_run_days,
            thank=twitter.thank_suggesters,
        )


@dataclass(frozen=True, slots=True)
class MentionsReport:
    """What one channel's run did; the CLI prints it and picks the exit status from ``outcome``."""

    outcome: Outcome
    channel: str = "x"
    pages: int = 0
    mentions: int = 0
    posts_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    new_candidates: int = 0
    posts_read_month: int = 0
    max_posts_per_month: int = 0
    since_id: str | None = None
    resume_at: datetime | None = None
    error: str | None = None
    thanked: int = 0
    thank_errors: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome == "completed" and not self.thank_errors


def month_of(now: datetime) -> str:
    """The counting month of the cost guard: the UTC calendar month, "2026-11"."""
    return now.astimezone(UTC).strftime("%Y-%m")


def abuse_rules(settings: Settings) -> AbuseRules:
    rules = settings.suggestions
    return AbuseRules.build(
        rules.blocked_users,
        rules.blocked_domains,
        rules.allowed_domains,
        rules.max_per_user_per_week,
    )


def read_mentions(
    storage: Storage,
    api: XApi,
    options: MentionsOptions,
    rules: AbuseRules,
    *,
    clock: Clock,
    thanks_text: ThanksText | None = None,
    stop: Stop | None = None,
) -> MentionsReport:
    """Read the X channel through ``api`` (see read_channel)."""
    from roundup_bot.adapters.twitter import XChannel

    channel = XChannel(
        api,
        username=options.username,
        user_id=options.user_id,
        max_posts_per_month=options.max_posts_per_month,
    )
    return read_channel(
        storage,
        channel,
        rules,
        clock=clock,
        first_run_days=options.first_run_days,
        thanks_text=thanks_text if options.thank else None,
        stop=stop,
    )


def read_channel(
    storage: Storage,
    channel: SuggestionChannel,
    rules: AbuseRules,
    *,
    clock: Clock,
    first_run_days: int = 7,
    thanks_text: ThanksText | None = None,
    stop: Stop | None = None,
) -> MentionsReport:
    """Read every new post of one channel (all pages), store the suggestions, then
    thank if ``thanks_text`` is given.

    Limits and faults never raise: they end the run with a report whose
    ``outcome`` says what stopped it, and the stored state keeps its place.
    Storage failures (StorageError) do raise: nothing more can be done then.
    When ``stop`` is set the run ends before its next page (or reply), and at
    once if the channel's sleep raises RunStopped.
    """
    started = clock()
    tally = _Tally(
        MentionsReport(
            outcome="completed",
            channel=channel.name,
            max_posts_per_month=channel.max_posts_per_month,
        )
    )
    try:
        for key, value in channel.start(storage.state.all(channel.name)).items():
            storage.state.set(channel.name, key, value)
        _sweep(storage, channel, rules, first_run_days, tally, clock, stop)
    except ChannelLimited as exc:
        outcome: Outcome = "usage_capped" if exc.outcome == "usage_capped" else "rate_limited"
        tally.report = replace(
            tally.report, outcome=outcome, error=str(exc), resume_at=exc.resume_at
        )
    except ChannelError as exc:
        tally.report = replace(tally.report, outcome="failed", error=str(exc))
    except RunStopped:
        tally.report = replace(tally.report, outcome="stopped", error="stopped on request")
    report = replace(
        tally.report,
        posts_read_month=storage.suggestions.posts_read(channel.platform, month_of(clock())),
        since_id=storage.state.get(channel.name, SINCE_ID),
    )
    if thanks_text is not None and report.outcome not in ("failed", "stopped"):
        report = _thank(storage, channel, thanks_text, report, clock, stop)
    for key, value in channel.saved_state().items():
        storage.state.set(channel.name, key, value)
    _record_run(storage, channel.name, report, started)
    return report


@dataclass(slots=True)
class _Tally:
    """The run's report so far: pages already stored count even when a later one fails."""

    report: MentionsReport


@dataclass(slots=True)
class _Sweep:
    """Where the current sweep stands: its floor and the next page to read."""

    since_id: str | None
    start_time: str | None
    token: str | None
    newest_id: str | None

    def place(self) -> ReadPlace:
        return ReadPlace(
            floor_id=self.since_id,
            floor_time=datetime.fromisoformat(self.start_time) if self.start_time else None,
            cursor=self.token,
        )

    def resuming_state(self, next_token: str) -> dict[str, str | None]:
        return {
            RESUME_TOKEN: next_token,
            RESUME_SINCE_ID: self.since_id,
            RESUME_START_TIME: self.start_time,
            RESUME_NEWEST_ID: self.newest_id,
        }

    def finished_state(self) -> dict[str, str | None]:
        done: dict[str, str | None] = {
            RESUME_TOKEN: None,
            RESUME_SINCE_ID: None,
            RESUME_START_TIME: None,
            RESUME_NEWEST_ID: None,
        }
        if self.newest_id:
            done[SINCE_ID] = self.newest_id
        return done


def _new_sweep(state: Mapping[str, str | None], first_run_days: int, now: datetime) -> _Sweep:
    since_id = state.get(SINCE_ID)
    start = None
    if not since_id:
        start = (now - timedelta(days=first_run_days)).replace(microsecond=0).isoformat()
    return _Sweep(since_id=since_id, start_time=start, token=None, newest_id=None)


def _sweep(
    storage: Storage,
    channel: SuggestionChannel,
    rules: AbuseRules,
    first_run_days: int,
    tally: _Tally,
    clock: Clock,
    stop: Stop | None = None,
) -> None:
    name, platform = channel.name, channel.platform
    label = _LABELS.get(name, name)
    state = storage.state.all(name)
    if state.get(RESUME_TOKEN):
        sweep = _Sweep(
            since_id=state.get(RESUME_SINCE_ID),
            start_time=state.get(RESUME_START_TIME),
            token=state.get(RESUME_TOKEN),
            newest_id=state.get(RESUME_NEWEST_ID),
        )
        log.info("%s: resuming an unfinished sweep", label)
    else:
        sweep = _new_sweep(state, first_run_days, clock())
    resumed = sweep.token is not None
    cap = channel.max_posts_per_month
    while True:
        if stop is not None and stop.is_set():
            tally.report = replace(tally.report, outcome="stopped", error="stopped on request")
            return
        now = clock()
        month = month_of(now)
        used = storage.suggestions.posts_read(platform, month)
        remaining = cap - used if cap > 0 else PAGE_SIZE
        if remaining <= 0:
            tally.report = replace(
                tally.report,
                outcome="cost_guard",
                error=(
                    f"read {used} posts this month, the limit [{_section(name)}]"
                    f" max_posts_per_month is {cap}: reading resumes next month (UTC) or"
                    " when the limit is raised"
                ),
            )
            return
        try:
            page = channel.read_page(sweep.place(), min(PAGE_SIZE, remaining))
        except ChannelRequestError as exc:
            if not (resumed and tally.report.pages == 0):
                raise
            # The stored cursor is no longer accepted: start the sweep again.
            log.warning("%s: could not resume (%s); starting the sweep again", label, exc)
            storage.state.set(name, RESUME_TOKEN, None)
            sweep = _new_sweep(storage.state.all(name), first_run_days, now)
            resumed = False
            continue
        for problem in page.skipped:
            log.info("%s: skipped %s", label, problem)
        if sweep.newest_id is None and page.newest_id:
            sweep.newest_id = page.newest_id
        earliest = min((s.posted_at or now for s in page.suggestions), default=now)
        prior = storage.suggestions.prior(
            platform,
            [s.author_username for s in page.suggestions],
            earliest - WEEK,
            author_ids=[s.author_id for s in page.suggestions if s.author_id],
        )
        judged = judge(page.suggestions, rules, prior, now, platform)
        place = (
            sweep.resuming_state(page.next_cursor) if page.next_cursor else sweep.finished_state()
        )
        place = {**channel.saved_state(), **place}
        stored = storage.suggestions.store_page(
            platform,
            judged,
            posts_read=page.posts,
            month=month,
            state=place,
            now=now,
            state_source=name,
        )
        done = tally.report
        tally.report = replace(
            done,
            pages=done.pages + 1,
            mentions=done.mentions + page.mentions,
            posts_read=done.posts_read + page.posts,
            accepted=done.accepted + stored.accepted,
            rejected=done.rejected + stored.rejected,
            duplicates=done.duplicates + stored.duplicates,
            new_candidates=done.new_candidates + stored.new_candidates,
        )
        for item in judged:
            if item.status == "rejected":
                log.info(
                    "%s: rejected %s from @%s: %s",
                    label,
                    item.suggestion.canonical_url,
                    item.suggestion.author_username,
                    item.reason,
                )
        if not page.next_cursor:
            return
        sweep.token = page.next_cursor


def _thank(
    storage: Storage,
    channel: SuggestionChannel,
    thanks_text: ThanksText,
    report: MentionsReport,
    clock: Clock,
    stop: Stop | None = None,
) -> MentionsReport:
    thanked = 0
    errors: list[str] = []
    platform = channel.platform
    for target in storage.suggestions.to_thank(platform, clock() - THANKS_WINDOW):
        if stop is not None and stop.is_set():
            break
        claimed_at = clock()
        if not storage.suggestions.claim_thanks(platform, target.post_id, claimed_at):
            continue  # another run is thanking this post
        sent = False
        try:
            text = thanks_text(target.username, target.links, target.titles, target.post_url)
            channel.reply(
                ReplyTarget(
                    post_id=target.post_id,
                    post_url=target.post_url,
                    handle=target.username,
                    author_id=target.author_id,
                    reply_ref=target.reply_ref,
                ),
                text,
            )
            sent = True
        except ChannelMaybePosted as exc:
            # The reply may be there: keep the claim, so it is never posted twice.
            sent = True
            errors.append(f"thanking @{target.username} ({target.post_url}): {exc}")
            continue
        except (ChannelAuthError, ChannelLimited) as exc:
            errors.append(str(exc))
            break  # the next reply would fail the same way
        except RoundupError as exc:
            errors.append(f"thanking @{target.username} ({target.post_url}): {exc}")
            continue
        finally:
            if not sent:
                storage.suggestions.release_thanks(platform, target.post_id, claimed_at)
        thanked += 1
    return replace(report, thanked=thanked, thank_errors=tuple(errors))


def _record_run(storage: Storage, name: str, report: MentionsReport, started: datetime) -> None:
    error = report.error
    if report.thank_errors:
        error = "; ".join(filter(None, [error, *report.thank_errors]))
    storage.state.set(name, LAST_RUN, started.isoformat())
    storage.state.set(name, LAST_OK, "true" if report.ok else "false")
    storage.state.set(name, LAST_OUTCOME, report.outcome)
    storage.state.set(name, LAST_ERROR, error[:1000] if error else None)
    storage.state.set(
        name, RESUME_AFTER, report.resume_at.isoformat() if report.resume_at else None
    )


_LABELS = {"x": "X mentions", "mastodon": "Mastodon mentions", "bluesky": "Bluesky mentions"}


def _section(name: str) -> str:
    return "twitter" if name == "x" else name


def reply_ref_json(**values: object) -> str:
    """A reply reference as stored (compact JSON)."""
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def check_enabled(settings: Settings, only: str | None = None) -> list[str]:
    """The channels a run reads: every enabled one, or ``only``.

    Raises:
        ConfigError: no channel is on, ``only`` is unknown or off, or a channel
            that is on lacks a credential or has a broken thank-you template.
    """
    from roundup_bot.services.channels import enabled_channel_names

    names = enabled_channel_names(settings)
    if only is not None:
        if only not in CHANNEL_NAMES:
            raise ConfigError(
                "--channel", None, f"{only!r} is not a channel ({', '.join(CHANNEL_NAMES)})"
            )
        if only == "wordpress":
            raise ConfigError(
                "--channel",
                None,
                "WordPress comments are read by `roundup-bot wordpress comments` (and the"
                " daemon's mentions job), each comment once",
            )
        if only not in names:
            section = _section(only)
            raise ConfigError(
                settings.path, f"{section}.enabled", f"the {only} channel is off: set it to true"
            )
        names = [only]
    if not names:
        raise ConfigError(
            settings.path,
            "twitter.enabled",
            "no suggestion channel is on: set [twitter], [mastodon] or [bluesky] enabled = true",
        )
    return names


def mentions_from_settings(
    settings: Settings,
    storage: Storage,
    *,
    opener: Opener,
    clock: Clock,
    only: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: Stop | None = None,
) -> list[MentionsReport]:
    """Read every enabled channel (or ``only``), one after the other.

    A channel that cannot even start (a missing credential, a broken template)
    gets a failed report; the others are read all the same. ``opener`` builds a
    channel (``App.open_channel``; tests pass fakes).

    Raises:
        ConfigError: no channel is on, or ``only`` is unknown or off.
        StorageError: the database failed.
    """
    names = check_enabled(settings, only)
    rules = abuse_rules(settings)
    reports: list[MentionsReport] = []
    for name in names:
        if stop is not None and stop.is_set():
            break
        try:
            opened = opener(name, interruptible_sleep(stop) if stop is not None else sleep)
        except RoundupError as exc:  # ConfigError, TemplateError: this channel only
            log.error("%s: %s", _LABELS.get(name, name), exc)
            report = MentionsReport(outcome="failed", channel=name, error=str(exc))
            _record_run(storage, name, report, clock())
            reports.append(report)
            continue
        try:
            reports.append(
                read_channel(
                    storage,
                    opened.channel,
                    rules,
                    clock=clock,
                    first_run_days=opened.first_run_days,
                    thanks_text=opened.thanks_text,
                    stop=stop,
                )
            )
        finally:
            opened.channel.close()
    return reports


def summary(report: MentionsReport) -> str:
    """One line for the log, the job record and the end of ``roundup-bot mentions``."""
    limit = (
        f"{report.posts_read_month} of {report.max_posts_per_month} posts read this month"
        if report.max_posts_per_month
        else f"{report.posts_read_month} posts read this month"
    )
    text = (
        f"read {report.mentions} mentions ({report.posts_read} posts) in {report.pages} pages:"
        f" {report.accepted} suggestions accepted, {report.rejected} rejected,"
        f" {report.duplicates} already stored; {report.new_candidates} new candidates; {limit}"
    )
    if report.thanked:
        text += f"; thanked {report.thanked}"
    return text


def job_line(report: MentionsReport) -> str:
    """One channel's line for the job record: the summary, with what stopped it first."""
    line = summary(report)
    if report.error:
        line = f"{report.outcome}: {report.error} ({line})"
    for problem in report.thank_errors:
        line += f"; thanks failed: {problem}"
    return line
