"""One mentions run: read new X mentions, store the suggested links, optionally say thanks.

The flow, one page at a time (X returns the newest mentions first)::

    resolve the account's id (once; stored)
      -> XApi.mentions(since_id | start_time, pagination_token)
      -> parse_page (pure)  ->  judge (pure: abuse rules)
      -> storage.suggestions.store_page: suggestions, candidates, the page's
         place (next pagination token) and the month's post count, in ONE transaction

Nothing lost, nothing twice: ``since_id`` moves to the newest mention only in
the transaction that stores the sweep's last page. Until then the state holds
where the sweep stands (``resume_token`` and the sweep's own ``since_id`` /
``start_time``), so a run stopped by a rate limit, a usage cap, a fault or a
kill carries on from the last stored page next time; and if it re-reads a
page, the unique (post, link) key stores nothing twice.

Cost: every page asks for at most the posts still allowed by
``[twitter] max_posts_per_month`` (X bills each post read), and the run stops
before a page when the month's count has reached it.

The X adapter (and with it tweepy) is imported inside the functions that use
it, so ``status`` and a daemon with X switched off never load it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from roundup_bot.config import Settings
from roundup_bot.core.errors import ConfigError, RoundupError
from roundup_bot.core.suggestion_rules import (
    PLATFORM,
    WEEK,
    AbuseRules,
    MalformedPage,
    judge,
    parse_page,
)
from roundup_bot.services.thanks import ThanksText, thanks_renderer
from roundup_bot.storage import Storage

if TYPE_CHECKING:
    from roundup_bot.services.app import App
    from roundup_bot.services.jobs import JobResult

log = logging.getLogger(__name__)

Outcome = Literal["completed", "rate_limited", "usage_capped", "cost_guard", "failed", "stopped"]
Clock = Callable[[], datetime]

# Keys in source_state under source "x".
USER_ID = "user_id"
USER_ID_FOR = "user_id_for"  # the username the stored id belongs to
SINCE_ID = "since_id"
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


class RunStopped(RoundupError):
    """The daemon asked the run to stop while it waited (rate-limit reset, retry backoff)."""


def interruptible_sleep(stop: Stop) -> Callable[[float], None]:
    """A sleep that ends the run at once when ``stop`` is set while it waits."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise RunStopped("stopped while waiting")

    return sleep


class MentionsApi(Protocol):
    """What a run needs from the X API (``roundup_bot.adapters.twitter.XApi``).

    Raises:
        XLimitError: a rate limit or usage cap stopped the call.
        XApiError: any other failure, as one line for the operator.
    """

    def lookup_user_id(self, username: str) -> str: ...

    def mentions(
        self,
        user_id: str,
        *,
        since_id: str | None = None,
        start_time: datetime | None = None,
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]: ...

    def reply(self, in_reply_to: str, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class MentionsOptions:
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
    """What one run did; the CLI prints it and chooses the exit status from ``outcome``."""

    outcome: Outcome
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
    api: MentionsApi,
    options: MentionsOptions,
    rules: AbuseRules,
    *,
    clock: Clock,
    thanks_text: ThanksText | None = None,
    stop: Stop | None = None,
) -> MentionsReport:
    """Read every new mention (all pages), store the suggestions, then thank if asked.

    Limits and faults never raise: they end the run with a report whose
    ``outcome`` says what stopped it, and the stored state keeps its place.
    Storage failures (StorageError) do raise: nothing more can be done then.
    When ``stop`` is set the run ends before its next page (or reply), and at
    once if the API's sleep raises RunStopped.
    """
    from roundup_bot.adapters.twitter import XApiError, XLimitError, XUsageCapped

    started = clock()
    tally = _Tally(
        MentionsReport(outcome="completed", max_posts_per_month=options.max_posts_per_month)
    )
    try:
        user_id = _user_id(storage, api, options)
        _sweep(storage, api, options, rules, user_id, tally, clock, stop)
    except XLimitError as exc:
        outcome: Outcome = "usage_capped" if isinstance(exc, XUsageCapped) else "rate_limited"
        tally.report = replace(
            tally.report, outcome=outcome, error=str(exc), resume_at=exc.resume_at
        )
    except XApiError as exc:
        tally.report = replace(tally.report, outcome="failed", error=str(exc))
    except RunStopped:
        tally.report = replace(tally.report, outcome="stopped", error="stopped on request")
    report = replace(
        tally.report,
        posts_read_month=storage.suggestions.posts_read(PLATFORM, month_of(clock())),
        since_id=storage.state.get(PLATFORM, SINCE_ID),
    )
    if options.thank and thanks_text is not None and report.outcome not in ("failed", "stopped"):
        report = _thank(storage, api, thanks_text, report, clock, stop)
    _record_run(storage, report, started)
    return report


@dataclass(slots=True)
class _Tally:
    """The run's report so far: pages already stored count even when a later one fails."""

    report: MentionsReport


def _user_id(storage: Storage, api: MentionsApi, options: MentionsOptions) -> str:
    if options.user_id:
        return options.user_id
    wanted = options.username.lower()
    state = storage.state.all(PLATFORM)
    if state.get(USER_ID) and state.get(USER_ID_FOR) == wanted:
        return str(state[USER_ID])
    user_id = api.lookup_user_id(options.username)
    storage.state.set(PLATFORM, USER_ID, user_id)
    storage.state.set(PLATFORM, USER_ID_FOR, wanted)
    log.info("X account @%s has id %s (stored)", options.username, user_id)
    return user_id


@dataclass(slots=True)
class _Sweep:
    """Where the current sweep stands: its lower bound and the next page to read."""

    since_id: str | None
    start_time: str | None
    token: str | None
    newest_id: str | None

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


def _new_sweep(state: Mapping[str, str | None], options: MentionsOptions, now: datetime) -> _Sweep:
    since_id = state.get(SINCE_ID)
    start = None
    if not since_id:
        start = (now - timedelta(days=options.first_run_days)).replace(microsecond=0).isoformat()
    return _Sweep(since_id=since_id, start_time=start, token=None, newest_id=None)


def _sweep(
    storage: Storage,
    api: MentionsApi,
    options: MentionsOptions,
    rules: AbuseRules,
    user_id: str,
    tally: _Tally,
    clock: Clock,
    stop: Stop | None = None,
) -> None:
    from roundup_bot.adapters.twitter import XBadResponse, XRequestError

    state = storage.state.all(PLATFORM)
    if state.get(RESUME_TOKEN):
        sweep = _Sweep(
            since_id=state.get(RESUME_SINCE_ID),
            start_time=state.get(RESUME_START_TIME),
            token=state.get(RESUME_TOKEN),
            newest_id=state.get(RESUME_NEWEST_ID),
        )
        log.info("X mentions: resuming an unfinished sweep")
    else:
        sweep = _new_sweep(state, options, clock())
    resumed = sweep.token is not None
    while True:
        if stop is not None and stop.is_set():
            tally.report = replace(tally.report, outcome="stopped", error="stopped on request")
            return
        now = clock()
        month = month_of(now)
        used = storage.suggestions.posts_read(PLATFORM, month)
        remaining = options.max_posts_per_month - used
        if remaining <= 0:
            tally.report = replace(
                tally.report,
                outcome="cost_guard",
                error=(
                    f"read {used} posts this month, the limit [twitter] max_posts_per_month is"
                    f" {options.max_posts_per_month}: reading resumes next month (UTC) or when"
                    " the limit is raised"
                ),
            )
            return
        try:
            page = api.mentions(
                user_id,
                since_id=sweep.since_id,
                start_time=datetime.fromisoformat(sweep.start_time) if sweep.start_time else None,
                pagination_token=sweep.token,
                max_results=min(PAGE_SIZE, remaining),
            )
        except XRequestError as exc:
            if not (resumed and tally.report.pages == 0):
                raise
            # The stored pagination token is no longer accepted: start the sweep again.
            log.warning("X mentions: could not resume (%s); starting the sweep again", exc)
            storage.state.set(PLATFORM, RESUME_TOKEN, None)
            sweep = _new_sweep(storage.state.all(PLATFORM), options, now)
            resumed = False
            continue
        try:
            reading = parse_page(page, own_user_id=user_id)
        except MalformedPage as exc:
            raise XBadResponse(f"X API mentions: malformed page: {exc}") from exc
        for problem in reading.skipped:
            log.info("X mentions: skipped %s", problem)
        if sweep.newest_id is None and reading.newest_id:
            sweep.newest_id = reading.newest_id
        earliest = min((s.posted_at or now for s in reading.suggestions), default=now)
        prior = storage.suggestions.prior(
            PLATFORM,
            [s.author_username for s in reading.suggestions],
            earliest - WEEK,
            author_ids=[s.author_id for s in reading.suggestions if s.author_id],
        )
        judged = judge(reading.suggestions, rules, prior, now)
        if reading.next_token:
            place = sweep.resuming_state(reading.next_token)
        else:
            place = sweep.finished_state()
        stored = storage.suggestions.store_page(
            PLATFORM, judged, posts_read=reading.posts, month=month, state=place, now=now
        )
        done = tally.report
        tally.report = replace(
            done,
            pages=done.pages + 1,
            mentions=done.mentions + reading.mentions,
            posts_read=done.posts_read + reading.posts,
            accepted=done.accepted + stored.accepted,
            rejected=done.rejected + stored.rejected,
            duplicates=done.duplicates + stored.duplicates,
            new_candidates=done.new_candidates + stored.new_candidates,
        )
        for item in judged:
            if item.status == "rejected":
                log.info(
                    "X mentions: rejected %s from @%s: %s",
                    item.suggestion.canonical_url,
                    item.suggestion.author_username,
                    item.reason,
                )
        if not reading.next_token:
            return
        sweep.token = reading.next_token


def _thank(
    storage: Storage,
    api: MentionsApi,
    thanks_text: ThanksText,
    report: MentionsReport,
    clock: Clock,
    stop: Stop | None = None,
) -> MentionsReport:
    from roundup_bot.adapters.twitter import XApiError, XAuthError, XLimitError

    thanked = 0
    errors: list[str] = []
    for target in storage.suggestions.to_thank(PLATFORM, clock() - THANKS_WINDOW):
        if stop is not None and stop.is_set():
            break
        claimed_at = clock()
        if not storage.suggestions.claim_thanks(PLATFORM, target.post_id, claimed_at):
            continue  # another run is thanking this post
        sent = False
        try:
            text = thanks_text(target.username, target.links, target.titles, target.post_url)
            api.reply(target.post_id, text)
            sent = True
        except (XAuthError, XLimitError) as exc:
            errors.append(str(exc))
            break  # the next reply would fail the same way
        except (XApiError, RoundupError) as exc:
            errors.append(f"thanking @{target.username} ({target.post_url}): {exc}")
            continue
        finally:
            if not sent:
                storage.suggestions.release_thanks(PLATFORM, target.post_id, claimed_at)
        thanked += 1
    return replace(report, thanked=thanked, thank_errors=tuple(errors))


def _record_run(storage: Storage, report: MentionsReport, started: datetime) -> None:
    error = report.error
    if report.thank_errors:
        error = "; ".join(filter(None, [error, *report.thank_errors]))
    storage.state.set(PLATFORM, LAST_RUN, started.isoformat())
    storage.state.set(PLATFORM, LAST_OK, "true" if report.ok else "false")
    storage.state.set(PLATFORM, LAST_OUTCOME, report.outcome)
    storage.state.set(PLATFORM, LAST_ERROR, error[:1000] if error else None)
    storage.state.set(
        PLATFORM, RESUME_AFTER, report.resume_at.isoformat() if report.resume_at else None
    )


def check_enabled(settings: Settings) -> None:
    """Raises ConfigError when the X source is switched off."""
    if not settings.twitter.enabled:
        raise ConfigError(
            settings.path, "twitter.enabled", "the X source is off: set it to true to read mentions"
        )


def mentions_from_settings(
    settings: Settings,
    storage: Storage,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: Stop | None = None,
) -> MentionsReport:
    """Wire a run from the config and the environment, and run it.

    Raises:
        ConfigError: the X source is off, or a credential it needs is not set.
        TemplateError: the thank-you template is missing or broken.
        StorageError: the database failed.
    """
    from roundup_bot.adapters.twitter import XApi, XApiOptions, XCredentials

    check_enabled(settings)
    credentials = XCredentials.from_env(os.environ if environ is None else environ)
    credentials.require_reading()
    thanks_text = None
    if settings.twitter.thank_suggesters:
        credentials.require_posting()
        thanks_text = thanks_renderer(settings)
    twitter = settings.twitter
    api = XApi(
        credentials,
        XApiOptions(
            base_url=twitter.api_base_url,
            timeout=twitter.timeout,
            max_rate_limit_wait=twitter.max_rate_limit_wait,
            retries=twitter.retries,
            retry_backoff=twitter.retry_backoff,
        ),
        sleep=interruptible_sleep(stop) if stop is not None else sleep,
    )
    try:
        return read_mentions(
            storage,
            api,
            MentionsOptions.from_settings(settings),
            abuse_rules(settings),
            clock=clock or _utc_now,
            thanks_text=thanks_text,
            stop=stop,
        )
    finally:
        api.close()


def summary(report: MentionsReport) -> str:
    """One line for the log, the job record and the end of ``roundup-bot mentions``."""
    text = (
        f"read {report.mentions} mentions ({report.posts_read} posts) in {report.pages} pages:"
        f" {report.accepted} suggestions accepted, {report.rejected} rejected,"
        f" {report.duplicates} already stored; {report.new_candidates} new candidates;"
        f" {report.posts_read_month} of {report.max_posts_per_month} posts read this month"
    )
    if report.thanked:
        text += f"; thanked {report.thanked}"
    return text


def run_mentions(app: App, now: datetime | None = None, stop: Stop | None = None) -> JobResult:
    """The daemon's mentions job (see roundup_bot.services.jobs). Given ``stop``, the run
    ends promptly when it is set, even while it waits for a rate-limit reset."""
    from roundup_bot.services.jobs import JobResult

    clock: Clock = _utc_now
    if now is not None:
        offset = now - _utc_now()

        def clock() -> datetime:
            return _utc_now() + offset

    report = mentions_from_settings(app.settings, app.storage, clock=clock, stop=stop)
    line = summary(report)
    if report.error:
        line = f"{report.outcome}: {report.error} ({line})"
    for problem in report.thank_errors:
        line += f"; thanks failed: {problem}"
    return JobResult(None if report.outcome == "stopped" else report.ok, line)


def _utc_now() -> datetime:
    return datetime.now(UTC)
