"""The sources page: each feed's health, the scheduled jobs, and the suggestion channels.

The same facts as ``roundup-bot status`` (it calls the same functions): which
feeds are failing and why, when each was last polled and is next due, when
each job last ran, and how reading suggestions from each channel is going. Failing feeds
come first, since they are what an editor would tell whoever runs the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template

from roundup_bot.core.records import FeedStatus
from roundup_bot.entrypoints.web.context import web
from roundup_bot.services.health import (
    ChannelHealth,
    JobHealth,
    channels_health,
    feed_state,
    jobs_health,
)

bp = Blueprint("sources", __name__)


@dataclass(frozen=True, slots=True)
class FeedRow:
    status: FeedStatus
    state: str  # gone | failing | never | ok | disabled
    label: str


@dataclass(frozen=True, slots=True)
class JobRow:
    job: JobHealth
    state: str  # running | ok | failing | never (the badge's colour)
    label: str


_ORDER = {"gone": 0, "failing": 1, "never": 2, "ok": 3, "disabled": 4}
_FEED_LABELS = {
    "disabled": "Turned off",
    "gone": "Gone",
    "never": "Not polled yet",
    "failing": "Failing",
    "ok": "OK",
}
_JOB_BADGES = {
    "running": ("running", "Running now"),
    "never": ("never", "Not run yet"),
    "interrupted": ("failing", "Interrupted"),
    "skipped": ("never", "Skipped"),
    "ok": ("ok", "OK"),
    "failed": ("failing", "Failed"),
}
_LIMITS = {
    "rate_limited": "{label}'s rate limit",
    "usage_capped": "{label}'s usage cap",
    "cost_guard": "this month's post limit",
}


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: ChannelHealth
    state: str  # the badge's colour
    label: str


def _feed_row(feed: FeedStatus) -> FeedRow:
    state = feed_state(feed)
    return FeedRow(feed, state, _FEED_LABELS[state])


def _x_badge(x: ChannelHealth) -> tuple[str, str]:
    state = x.state
    if state == "limited":
        limit = _LIMITS.get(x.last_outcome or "", "a limit").format(label=x.label)
        return "failing", f"Paused by {limit}"
    labels = {"disabled": "Turned off", "never": "Not read yet", "ok": "OK", "failing": "Failing"}
    return state, labels[state]


@bp.get("/sources")
def index() -> str:
    roundup = web().roundup
    rows = sorted(
        (_feed_row(feed) for feed in roundup.storage.feeds.statuses()),
        key=lambda r: (_ORDER[r.state], (r.status.name or r.status.url).casefold()),
    )
    counts = {state: sum(1 for r in rows if r.state == state) for state in _ORDER}
    jobs = [JobRow(job, *_JOB_BADGES[job.state]) for job in jobs_health(roundup.storage)]
    channels = [
        ChannelRow(channel, *_x_badge(channel))
        for channel in channels_health(roundup, web().clock())
    ]
    return render_template(
        "sources/index.html", rows=rows, counts=counts, jobs=jobs, channels=channels
    )
