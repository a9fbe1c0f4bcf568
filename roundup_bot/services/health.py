"""How the bot is doing: each feed, each scheduled job and the X source.

``roundup-bot status`` and the web sources page show the same facts, so both
gather them here as immutable records and only decide how to print them. The
states are judged once, here, so the two can never disagree about whether a
feed is failing or a job was interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from roundup_bot.core.channels import CHANNEL_NAMES
from roundup_bot.core.clock import utc_now
from roundup_bot.core.records import FeedStatus
from roundup_bot.services.app import App
from roundup_bot.services.jobs import JOB_NAMES
from roundup_bot.services.mentions import (
    ACCOUNT,
    LAST_ERROR,
    LAST_OK,
    LAST_OUTCOME,
    LAST_RUN,
    RESUME_AFTER,
    RESUME_TOKEN,
    SINCE_ID,
    USER_ID,
    month_of,
)
from roundup_bot.storage import Storage
from roundup_bot.storage.suggestions import SuggestionCounts

FeedState = Literal["disabled", "gone", "never", "failing", "ok"]
JobState = Literal["running", "never", "interrupted", "skipped", "ok", "failed"]
XState = Literal["disabled", "never", "ok", "limited", "failing"]

# Outcomes of a mentions run that a limit stopped; the run carries on later.
LIMITED_OUTCOMES = ("rate_limited", "usage_capped", "cost_guard")


def feed_state(feed: FeedStatus) -> FeedState:
    """A feed's health in one word (a gone feed is also failing, but says more)."""
    if not feed.enabled:
        return "disabled"
    if feed.gone:
        return "gone"
    if feed.ok is None:
        return "never"
    return "ok" if feed.ok else "failing"


@dataclass(frozen=True, slots=True)
class JobHealth:
    """One scheduled job's latest run, judged."""

    name: str
    state: JobState
    running_on: str | None  # the lock holder while it runs
    last_started: datetime | None
    last_finished: datetime | None
    last_ok: bool | None
    last_result: str | None
    next_run: datetime | None


def jobs_health(storage: Storage) -> list[JobHealth]:
    """Every known job, including jobs that never ran, in a fixed order."""
    runs = storage.job_runs.all()
    running = storage.locks.holders()
    names = list(JOB_NAMES) + sorted(set(runs) - set(JOB_NAMES))
    out = []
    for name in names:
        run = runs.get(name)
        started = run.last_started if run else None
        finished = run.last_finished if run else None
        ok = run.last_ok if run else None
        state: JobState
        if name in running:
            state = "running"
        elif started is None:
            state = "never"
        elif finished is None or finished < started:
            state = "interrupted"
        elif ok is None:
            state = "skipped"
        else:
            state = "ok" if ok else "failed"
        out.append(
            JobHealth(
                name=name,
                state=state,
                running_on=running[name].owner if name in running else None,
                last_started=started,
                last_finished=finished,
                last_ok=ok,
                last_result=run.last_result if run else None,
                next_run=run.next_run if run else None,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """How reading suggestions from one channel (X, Mastodon, Bluesky...) is going.

    The times are kept as stored (ISO text) so that output can show an
    unreadable value as it is; ``last_run_at`` and ``resume_after_at`` parse them.
    """

    enabled: bool
    account: str  # whose mentions are read: "@welovelocalgov", "@bot@council.social"
    user_id: str | None
    ok: bool | None  # None until the first run
    last_run: str | None
    last_outcome: str | None
    last_error: str | None
    since_id: str | None
    unfinished_sweep: bool
    resume_after: str | None
    month: str
    posts_read_this_month: int
    max_posts_per_month: int  # 0: no monthly limit
    suggestions: SuggestionCounts
    name: str = "x"  # the channel: "x", "mastodon", "bluesky"

    @property
    def label(self) -> str:
        return CHANNEL_LABELS.get(self.name, self.name)

    @property
    def state(self) -> XState:
        if not self.enabled:
            return "disabled"
        if self.ok is None:
            return "never"
        if self.ok:
            return "ok"
        return "limited" if self.last_outcome in LIMITED_OUTCOMES else "failing"

    @property
    def last_run_at(self) -> datetime | None:
        return parse_time(self.last_run)

    @property
    def resume_after_at(self) -> datetime | None:
        return parse_time(self.resume_after)


#: The X channel's health (the name it had before there were other channels).
XHealth = ChannelHealth
CHANNEL_LABELS = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "wordpress": "WordPress"}


def x_health(app: App, now: datetime | None = None) -> ChannelHealth:
    return channel_health(app, "x", now)


def channel_health(app: App, name: str, now: datetime | None = None) -> ChannelHealth:
    """One channel's health from its stored state (whether or not it is on)."""
    settings = app.settings
    section = getattr(settings, "twitter" if name == "x" else name, None)
    state = app.storage.state.all(name)
    month = month_of(now or utc_now())
    ok = state.get(LAST_OK)
    if name == "x":
        account = "@" + settings.twitter.username
        user_id = settings.twitter.user_id or state.get(USER_ID)
    else:
        account = state.get(ACCOUNT) or str(getattr(section, "account_hint", "") or name)
        user_id = state.get(USER_ID)
    return ChannelHealth(
        name=name,
        enabled=bool(getattr(section, "enabled", False)),
        account=account,
        user_id=user_id,
        ok=None if ok is None else ok == "true",
        last_run=state.get(LAST_RUN),
        last_outcome=state.get(LAST_OUTCOME),
        last_error=state.get(LAST_ERROR),
        since_id=state.get(SINCE_ID),
        unfinished_sweep=bool(state.get(RESUME_TOKEN)),
        resume_after=state.get(RESUME_AFTER),
        month=month,
        posts_read_this_month=app.storage.suggestions.posts_read(name, month),
        max_posts_per_month=int(getattr(section, "max_posts_per_month", 0) or 0),
        suggestions=app.storage.suggestions.counts(name),
    )


def channels_health(app: App, now: datetime | None = None) -> list[ChannelHealth]:
    """X always (it says when it is off), then every other channel that is on or
    was ever read, in reading order."""
    out = [channel_health(app, "x", now)]
    # WordPress comments are read by their own step (services.wordpress_comments,
    # each comment once), not as a sweep with this state: [wordpress] enabled is
    # about publishing, so it is not listed here.
    for name in (n for n in CHANNEL_NAMES[1:] if n != "wordpress"):
        health = channel_health(app, name, now)
        if health.enabled or health.last_run:
            out.append(health)
    return out


def parse_time(value: str | None) -> datetime | None:
    """A stored ISO time, or None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
