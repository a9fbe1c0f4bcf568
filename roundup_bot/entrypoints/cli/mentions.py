"""``roundup-bot mentions``: suggestions from every channel; the channels in ``status``."""

from __future__ import annotations

import sys
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.core.channels import CHANNEL_NAMES
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._exits import exit_for_channel_runs
from roundup_bot.entrypoints.cli._output import echo_json, iso
from roundup_bot.services.health import CHANNEL_LABELS, ChannelHealth, parse_time
from roundup_bot.services.jobs import JOB_MENTIONS, guarded_run, runs_result
from roundup_bot.services.mentions import (
    MentionsReport,
    check_enabled,
    mentions_from_settings,
    summary,
)


def report_json(report: MentionsReport) -> dict[str, Any]:
    return {
        "channel": report.channel,
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
@click.option(
    "--channel",
    "only",
    type=click.Choice(CHANNEL_NAMES),
    default=None,
    help="Read only this channel (default: every channel that is on).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as a JSON object.")
@pass_cli
def mentions(cli: CliContext, only: str | None, as_json: bool) -> None:
    """Read new mentions on every suggestion channel that is on (X, Mastodon,
    Bluesky) and store the links they suggest.

    Reads every post since the last run (the first run: the last
    first_run_days days of the channel's section), all pages. Each link becomes
    a candidate credited to whoever suggested it, unless a [suggestions] rule
    rejects it. One failing channel never stops the others. Each channel needs
    its credential in the environment (ROUNDUP_TWITTER_BEARER_TOKEN,
    ROUNDUP_MASTODON_ACCESS_TOKEN, ROUNDUP_BLUESKY_APP_PASSWORD).

    Exit status: 0 every channel's run completed; 1 one failed (credentials
    refused, the service unavailable, a malformed answer, a thank-you reply
    failed); 2 bad config; 3 the mentions job is running elsewhere; 4 stopped
    by a limit (a rate limit, X's usage cap or max_posts_per_month): run again
    later, it carries on where it stopped.
    """
    settings = cli.settings
    names = check_enabled(settings, only)
    app = cli.app
    with guarded_run(app.storage, JOB_MENTIONS, wait=settings.schedule.lock_wait_seconds) as record:
        for name in names:  # a missing credential is a config error (exit 2) here
            app.check_channel(name)
        reports = mentions_from_settings(
            settings, app.storage, opener=app.open_channel, clock=app.clock, only=only
        )
        record.result = runs_result(reports)
    several = len(reports) > 1
    if as_json:
        echo_json({"ok": all(r.ok for r in reports), "channels": [report_json(r) for r in reports]})
    else:
        for report in reports:
            prefix = f"{_label(report.channel)}: " if several else ""
            click.echo(prefix + summary(report))
    for report in reports:
        prefix = f"{_label(report.channel)}: " if several else ""
        if report.outcome == "failed":
            click.echo(f"error: {prefix}{report.error}", err=True)
        elif report.outcome != "completed":
            click.echo(f"stopped: {prefix}{report.error}", err=True)
        for problem in report.thank_errors:
            click.echo(f"error: {prefix}thank-you reply failed: {problem}", err=True)
    status = exit_for_channel_runs((r.outcome, len(r.thank_errors)) for r in reports)
    if status:
        sys.exit(status)


def _label(name: str) -> str:
    return CHANNEL_LABELS.get(name, name)


def channel_json(x: ChannelHealth) -> dict[str, Any]:
    return {
        "channel": x.name,
        "enabled": x.enabled,
        "account": x.account,
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


def x_json(x: ChannelHealth) -> dict[str, Any]:
    """The X channel in ``status --json`` (``"x"``; every channel is also under
    ``"channels"``): the channel's record with ``account`` named ``username``, as
    before channels had a common form."""
    record = channel_json(x)
    del record["channel"]
    return {"enabled": record.pop("enabled"), "username": record.pop("account"), **record}


def echo_x(x: ChannelHealth, zone: ZoneInfo) -> None:
    """Print one channel's health after the feed table (X first)."""
    last = _when(x.last_run, zone)
    read = (
        f"{x.posts_read_this_month} of {x.max_posts_per_month} posts read this month"
        if x.max_posts_per_month
        else f"{x.posts_read_this_month} posts read this month"
    )
    click.echo("")
    click.echo(
        f"{x.label} {x.account}: {_health(x)}; last run {last}; since_id {x.since_id or '-'};"
        f" {read}; {x.suggestions.accepted} suggestions accepted,"
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


def _health(x: ChannelHealth) -> str:
    state = x.state
    if state == "limited":
        return f"STOPPED ({_LIMITS.get(x.last_outcome or '', 'limited')})"
    return {"disabled": "off", "never": "new", "ok": "ok"}.get(state, "FAILING")


def _when(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return "never"
    parsed = parse_time(value)
    return parsed.astimezone(zone).strftime("%Y-%m-%d %H:%M") if parsed else value


COMMANDS = [mentions]
