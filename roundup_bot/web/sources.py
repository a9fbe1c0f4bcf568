"""The sources page: each feed's health and the X source's state.

The same facts as ``roundup-bot status``: which feeds are failing and why,
when each was last polled and is next due. Failing feeds come first, since
they are what an editor would want to tell the person who runs the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template

from roundup_bot.types import FeedStatus
from roundup_bot.web.context import web

bp = Blueprint("sources", __name__)

#: source_state keys shown with a readable label; others are shown as they are.
X_LABELS = {
    "user_id": "Account id",
    "since_id": "Newest post read",
    "last_poll": "Last polled",
    "last_polled": "Last polled",
    "last_success": "Last success",
    "last_error": "Last error",
    "posts_this_month": "Posts read this month",
    "month": "Month counted",
}
_HIDDEN = ("token", "secret", "password", "key")


@dataclass(frozen=True, slots=True)
class FeedRow:
    status: FeedStatus
    state: str  # failing | gone | never | disabled | ok
    label: str


def _classify(feed: FeedStatus) -> FeedRow:
    if not feed.enabled:
        return FeedRow(feed, "disabled", "Turned off")
    if feed.gone:
        return FeedRow(feed, "gone", "Gone")
    if feed.ok is None:
        return FeedRow(feed, "never", "Not polled yet")
    if not feed.ok:
        return FeedRow(feed, "failing", "Failing")
    return FeedRow(feed, "ok", "OK")


_ORDER = {"gone": 0, "failing": 1, "never": 2, "ok": 3, "disabled": 4}


@bp.get("/sources")
def index() -> str:
    ctx = web()
    storage = ctx.roundup.storage
    rows = sorted(
        (_classify(feed) for feed in storage.feeds.statuses()),
        key=lambda r: (_ORDER[r.state], (r.status.name or r.status.url).casefold()),
    )
    counts = {state: sum(1 for r in rows if r.state == state) for state in _ORDER}
    x_state = [
        (X_LABELS.get(key, key.replace("_", " ").capitalize()), value)
        for key, value in sorted(storage.state.all("x").items())
        if not any(word in key.lower() for word in _HIDDEN)
    ]
    return render_template(
        "sources/index.html",
        rows=rows,
        counts=counts,
        x_enabled=ctx.roundup.settings.twitter.enabled,
        x_username=ctx.roundup.settings.twitter.username,
        x_state=x_state,
    )
