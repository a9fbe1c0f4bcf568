"""``roundup-bot mentions``: followers' suggestions from X mentions; the X part of ``status``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.app import App
from roundup_bot.cli._context import CliContext, pass_cli
from roundup_bot.cli._output import echo_json, iso
from roundup_bot.jobs import JOB_MENTIONS, JobResult, guarded_run
from roundup_bot.mentions import (
    LAST_ERROR,
    LAST_OK,
    LAST_OUTCOME,
    LAST_RUN,
    RESUME_AFTER,
    RESUME_TOKEN,
    SINCE_ID,
    USER_ID,
    MentionsReport,
    check_enabled,
    mentions_from_settings,
    month_of,
    summary,
)
from roundup_bot.suggestions import PLATFORM

EXIT_FAILED = 1
EXIT_LIMITED = 4  # stopped by a rate limit, a usage cap or max_posts_per_month; place kept


def report_json(report: MentionsReport) -> dict[str, Any]:
    return {
        "outcome": report.outcome,
        "ok": report.ok,
        "pages": report.pages,
        "mentions": report.mentions,
        "posts_read": report.posts_read,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "new_candidates": report.new_candidates,
        "posts_read_this_month": report.posts_read_month,
        "max_posts_per_month": report.max_posts_per_month,
        "since_id": report.since_id,
        "resume_after": iso(report.resume_at),
        "error": report.error,
        "thanked": report.thanked,
        "thank_errors": list(report.thank_errors),
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as a JSON object.")
@pass_cli
def mentions(cli: CliContext, as_json: bool) -> None:
    """Read new mentions of the X account and store the links they suggest.

    Reads every mention since the last run (the first run: the last
    [twitter] first_run_days days), all pages. Each link becomes a candidate
    credited to whoever suggested it, unless a [suggestions] rule rejects it.
    Needs [twitter] enabled = true and ROUNDUP_TWITTER_BEARER_TOKEN.

    Exit status: 0 the run completed; 1 it failed (credentials refused, X
    unavailable, a malformed answer, a thank-you reply failed); 2 bad config;
    3 the mentions job is running elsewhere; 4 stopped by a limit (X's rate
    limit or usage cap, or max_posts_per_month): run again later, it carries
    on where it stopped.
    """
    settings = cli.settings
    check_enabled(settings)
    app = cli.app
    with guarded_run(app.storage, JOB_MENTIONS, wait=settings.schedule.lock_wait_seconds) as record:
        report = mentions_from_settings(settings, app.storage)
        record.result = JobResult(report.ok, _job_line(report))
    if as_json:
        echo_json(report_json(report))
    else:
        click.echo(summary(report))
    if report.outcome == "failed":
        click.echo(f"error: {report.error}", err=True)
    elif report.outcome != "completed":
        click.echo(f"stopped: {report.error}", err=True)
    for problem in report.thank_errors:
        click.echo(f"error: thank-you reply failed: {problem}", err=True)
    if report.outcome == "failed" or report.thank_errors:
        sys.exit(EXIT_FAILED)
    if report.outcome != "completed":
        sys.exit(EXIT_LIMITED)


def _job_line(report: MentionsReport) -> str:
    line = summary(report)
    return f"{report.outcome}: {report.error} ({line})" if report.error else line


def x_status(app: App, now: datetime | None = None) -> dict[str, Any]:
    """The X source's health for ``roundup-bot status``."""
    twitter = app.settings.twitter
    state = app.storage.state.all(PLATFORM)
    month = month_of(now or datetime.now(UTC))
    counts = app.storage.suggestions.counts(PLATFORM)
    ok = state.get(LAST_OK)
    return {
        "enabled": twitter.enabled,
        "username": "@" + twitter.username,
        "user_id": twitter.user_id or state.get(USER_ID),
        "ok": None if ok is None else ok == "true",
        "last_run": state.get(LAST_RUN),
        "last_outcome": state.get(LAST_OUTCOME),
        "last_error": state.get(LAST_ERROR),
        "since_id": state.get(SINCE_ID),
        "unfinished_sweep": bool(state.get(RESUME_TOKEN)),
        "resume_after": state.get(RESUME_AFTER),
        "month": month,
        "posts_read_this_month": app.storage.suggestions.posts_read(PLATFORM, month),
        "max_posts_per_month": twitter.max_posts_per_month,
        "suggestions": {
            "accepted": counts.accepted,
            "rejected": counts.rejected,
            "thanked": counts.thanked,
        },
    }


def echo_x_status(status: dict[str, Any], zone: ZoneInfo) -> None:
    """Print the X source's health after the feed table."""
    health = "off" if not status["enabled"] else _health(status["ok"], status["last_outcome"])
    last = _when(status["last_run"], zone)
    click.echo("")
    click.echo(
        f"X {status['username']}: {health}; last run {last}; since_id {status['since_id'] or '-'};"
        f" {status['posts_read_this_month']} of {status['max_posts_per_month']} posts read"
        f" this month; {status['suggestions']['accepted']} suggestions accepted,"
        f" {status['suggestions']['rejected']} rejected"
    )
    if status["resume_after"]:
        click.echo(f"  resumes after {_when(status['resume_after'], zone)}")
    if status["last_error"]:
        click.echo(f"  last error: {status['last_error']}")


def _health(ok: bool | None, outcome: str | None) -> str:
    if ok is None:
        return "new"
    if ok:
        return "ok"
    limited = {"rate_limited": "rate limited", "usage_capped": "usage capped"}
    if outcome in limited or outcome == "cost_guard":
        return f"STOPPED ({limited.get(outcome, 'max_posts_per_month reached')})"
    return "FAILING"


def _when(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return "never"
    try:
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


COMMANDS = [mentions]
