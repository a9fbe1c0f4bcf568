"""The sources page: each feed's health, the scheduled jobs, and the X source.

The same facts as ``roundup-bot status`` (it calls the same functions): which
feeds are failing and why, when each was last polled and is next due, when
each job last ran, and how reading suggestions from X is going. Failing feeds
come first, since they are what an editor would tell whoever runs the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template

from roundup_bot.cli.daemon import jobs_status
from roundup_bot.cli.mentions import x_status
from roundup_bot.types import FeedStatus
from roundup_bot.web.context import web

bp = Blueprint("sources", __name__)


@dataclass(frozen=True, slots=True)
class FeedRow:
    status: FeedStatus
    state: str  # gone | failing | never | ok | disabled
    label: str


@dataclass(frozen=True, slots=True)
class JobRow:
    name: str
    state: str  # running | ok | failing | skipped | interrupted | never
    label: str
    last_started: datetime | None
    next_run: datetime | None
    result: str | None


_ORDER = {"gone": 0, "failing": 1, "never": 2, "ok": 3, "disabled": 4}


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


def _jobs() -> list[JobRow]:
    storage = web().roundup.storage
    running = storage.locks.holders()
    rows = []
    for job in jobs_status(storage):
        if job.name in running:
            state, label = "running", "Running now"
        elif job.last_started is None:
            state, label = "never", "Not run yet"
        elif job.last_finished is None or job.last_finished < job.last_started:
            state, label = "failing", "Interrupted"
        elif job.last_ok is None:
            state, label = "never", "Skipped"
        elif job.last_ok:
            state, label = "ok", "OK"
        else:
            state, label = "failing", "Failed"
        rows.append(JobRow(job.name, state, label, job.last_started, job.next_run, job.last_result))
    return rows


def _x() -> dict[str, Any]:
    """``roundup-bot status``'s X facts, with a label for people and times parsed."""
    facts = x_status(web().roundup, web().clock())
    ok, outcome = facts["ok"], facts["last_outcome"]
    if not facts["enabled"]:
        state, label = "disabled", "Turned off"
    elif ok is None:
        state, label = "never", "Not read yet"
    elif ok:
        state, label = "ok", "OK"
    elif outcome in ("rate_limited", "usage_capped", "cost_guard"):
        reasons = {
            "rate_limited": "X's rate limit",
            "usage_capped": "X's usage cap",
            "cost_guard": "this month's post limit",
        }
        state, label = "failing", f"Paused by {reasons[outcome]}"
    else:
        state, label = "failing", "Failing"
    return {
        **facts,
        "state": state,
        "label": label,
        "last_run_at": _parse(facts["last_run"]),
        "resume_after_at": _parse(facts["resume_after"]),
    }


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@bp.get("/sources")
def index() -> str:
    storage = web().roundup.storage
    rows = sorted(
        (_classify(feed) for feed in storage.feeds.statuses()),
        key=lambda r: (_ORDER[r.state], (r.status.name or r.status.url).casefold()),
    )
    counts = {state: sum(1 for r in rows if r.state == state) for state in _ORDER}
    return render_template("sources/index.html", rows=rows, counts=counts, jobs=_jobs(), x=_x())
