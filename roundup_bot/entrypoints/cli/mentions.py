"""``roundup-bot mentions``: followers' suggestions from X mentions; the X part of ``status``."""

from __future__ import annotations

import sys
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._output import echo_json, iso
from roundup_bot.services.health import XHealth, parse_time
from roundup_bot.services.jobs import JOB_MENTIONS, JobResult, guarded_run
from roundup_bot.services.mentions import (
    MentionsReport,
    check_enabled,
    mentions_from_settings,
    summary,
)

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


def x_json(x: XHealth) -> dict[str, Any]:
    return {
        "enabled": x.enabled,
        "username": x.username,
        "user_id": x.user_id,
        "ok": x.ok,
        "last_run": x.last_run,
        "last_outcome": x.last_outcome,
        "last_error": x.last_error,
        "since_id": x.since_id,
        "unfinished_sweep": x.unfinished_sweep,
        "resume_after": x.resume_after,
        "month": x.month,
        "posts_read_this_month": x.posts_read_this_month,
        "max_posts_per_month": x.max_posts_per_month,
        "suggestions": {
            "accepted": x.suggestions.accepted,
            "rejected": x.suggestions.rejected,
            "thanked": x.suggestions.thanked,
        },
    }


def echo_x(x: XHealth, zone: ZoneInfo) -> None:
    """Print the X source's health after the feed table."""
    last = _when(x.last_run, zone)
    click.echo("")
    click.echo(
        f"X {x.username}: {_health(x)}; last run {last}; since_id {x.since_id or '-'};"
        f" {x.posts_read_this_month} of {x.max_posts_per_month} posts read"
        f" this month; {x.suggestions.accepted} suggestions accepted,"
        f" {x.suggestions.rejected} rejected"
    )
    if x.resume_after:
        click.echo(f"  resumes after {_when(x.resume_after, zone)}")
    if x.last_error:
        click.echo(f"  last error: {x.last_error}")


_LIMITS = {
    "rate_limited": "rate limited",
    "usage_capped": "usage capped",
    "cost_guard": "max_posts_per_month reached",
}


def _health(x: XHealth) -> str:
    state = x.state
    if state == "limited":
        return f"STOPPED ({_LIMITS[x.last_outcome or '']})"
    return {"disabled": "off", "never": "new", "ok": "ok"}.get(state, "FAILING")


def _when(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return "never"
    parsed = parse_time(value)
    return parsed.astimezone(zone).strftime("%Y-%m-%d %H:%M") if parsed else value


COMMANDS = [mentions]
