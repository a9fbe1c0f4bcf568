"""Commands for feeds and candidates: init, poll, candidates, status, feeds export-opml."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.adapters.opml import write_opml
from roundup_bot.core.clock import utc_now
from roundup_bot.core.errors import WeekLabelError
from roundup_bot.core.ranking import placed_at, score_json
from roundup_bot.core.records import Candidate, FeedStatus, PollOutcome
from roundup_bot.core.redaction import redact, redact_url
from roundup_bot.core.weeks import RoundupWeek, week_by_label, week_containing
from roundup_bot.core.wording import plural
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._gc import without_cycle_collection
from roundup_bot.entrypoints.cli._jobs import job_lock, poll_as_worker
from roundup_bot.entrypoints.cli._output import (
    echo_compact_json,
    echo_json,
    iso,
    parse_when,
    shorten,
    table,
)
from roundup_bot.services.drafting import rank_candidates
from roundup_bot.services.jobs import StopSignal, poll_summary, run_poll
from roundup_bot.storage.db import current_revision, migrate
from roundup_bot.storage.notifications import NotifySummary


@click.command()
@pass_cli
def init(cli: CliContext) -> None:
    """Create or upgrade the database schema and load the feed list from the config."""
    from roundup_bot.services.app import build_app

    settings = cli.settings
    app = build_app(settings, auto_migrate=False)
    try:
        before = current_revision(app.storage.engine)
        changed = migrate(app.storage.engine)
        feeds = app.sync_feeds(utc_now())
        revision = current_revision(app.storage.engine)
    finally:
        app.close()
    state = ("created" if before is None else "upgraded") if changed else "up to date"
    listed = min(len(settings.feeds), len(feeds))
    where = f"{plural(listed, 'feed')} from {settings.path}"
    if settings.polling.opml:
        opml = settings.resolve_path(settings.polling.opml)
        where += f" and {len(feeds) - listed} more from the OPML file {opml}"
    click.echo(f"database {state} (schema {revision}); {where}")


@click.command()
@click.option("--due", "mode", flag_value="due", help="Only feeds whose next poll time has come.")
@click.option("--force", "mode", flag_value="all", help="Every enabled feed, ignoring backoff.")
@click.option("--quiet", "-q", is_flag=True, help="No progress, only the summary.")
@click.option(
    "--worker",
    is_flag=True,
    help="Share the due feeds with other `poll --worker` processes (PostgreSQL only).",
)
@pass_cli
@job_lock("poll", bypass="worker")
def poll(cli: CliContext, mode: str | None, quiet: bool, worker: bool = False) -> str:
    """Fetch every enabled feed once and store new and changed entries as candidates.

    Feeds that are failing and still backing off are skipped (use --force).
    Exits 0 when the run completed, even if some feeds failed; exits 3 when
    another poll is running and did not finish within [schedule] lock_wait.
    """
    if worker:
        return poll_as_worker(cli, quiet)
    app = cli.app
    if cli.log_level is None:
        # The summary below names every failing feed; the per-feed log lines
        # (INFO, for the daemon's log) would only repeat them on the terminal.
        logging.getLogger("roundup_bot.services.polling").setLevel(logging.WARNING)
    show_progress = not quiet and sys.stderr.isatty()
    total = done = 0

    def starting(selected: int, backing_off: int) -> None:
        nonlocal total
        total = selected
        if not quiet:
            click.echo(
                f"polling {plural(selected, 'feed')}"
                + (f" ({backing_off} backing off)" if backing_off > 0 else ""),
                err=True,
            )

    def progress(outcome: PollOutcome) -> None:
        nonlocal done
        done += 1
        if show_progress:
            mark = "ok " if outcome.ok else "ERR"
            click.echo(
                f"\r[{done}/{total}] {mark} {shorten(redact(outcome.feed_url), 70):<70}",
                err=True,
                nl=False,
            )

    run = run_poll(
        app,
        StopSignal(),
        app.clock,
        mode=mode or "poll",  # type: ignore[arg-type]
        progress=progress,
        starting=starting,
    )
    if show_progress and total:
        click.echo("", err=True)
    _summary(run.outcomes)
    return poll_summary(run.outcomes).summary


def _summary(outcomes: Sequence[PollOutcome]) -> None:
    failed = [o for o in outcomes if not o.ok]
    new = sum(o.new_entries for o in outcomes)
    updated = sum(o.updated_entries for o in outcomes)
    unchanged = sum(1 for o in outcomes if o.not_modified)
    click.echo(
        f"polled {plural(len(outcomes), 'feed')}: {len(outcomes) - len(failed)} ok "
        f"({unchanged} unchanged), {len(failed)} failed; "
        f"{new} new {'candidate' if new == 1 else 'candidates'}, {updated} updated"
    )
    for outcome in sorted(failed, key=lambda o: o.feed_url):
        click.echo(f"FAILED {redact(outcome.feed_url)}: {_shown(outcome.error) or ''}")


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {
        "id": candidate.id,
        "url": candidate.url,
        "link": candidate.link,
        "title": candidate.title,
        "author": candidate.author,
        "published": iso(candidate.published),
        "first_seen": iso(candidate.first_seen),
        "summary": candidate.summary,
        "site_name": candidate.site_name,
        "sources": [
            {"kind": s.kind, "name": s.name, "url": redact_url(s.url)} for s in candidate.sources
        ],
        "suggested_by": list(candidate.suggested_by),
        "categories": list(candidate.categories),
        # Other addresses found to be this article (a tracker's link that led here, a
        # syndicated copy naming it canonical), merged into this candidate.
        "merged": [{"url": a.url, "reason": a.reason} for a in candidate.aliases],
    }


@click.command()
@click.option(
    "--since", metavar="DATE", help="Only candidates published (else first seen) from DATE."
)
@click.option(
    "--until", metavar="DATE", help="Only candidates published (else first seen) before DATE."
)
@click.option("--week", metavar="YYYY-Www", help="Only the candidates of this round-up week.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (with score and why).")
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most this many (from the newest weeks)."
)
@click.option(
    "--sort",
    type=click.Choice(["best", "newest"]),
    default="best",
    show_default=True,
    help="best: each week's best first, as the draft picks (newest week first); "
    "newest: newest first.",
)
@pass_cli
@without_cycle_collection
def candidates(
    cli: CliContext,
    since: str | None,
    until: str | None,
    week: str | None,
    as_json: bool,
    limit: int | None,
    sort: str,
) -> None:
    """List candidate links, each week's best first, each with its ranking score."""
    zone = ZoneInfo(cli.settings.roundup.timezone)
    start = _option_when(since, zone, "--since")
    end = _option_when(until, zone, "--until")
    if week:
        chosen = _round_up_week(cli, week)
        start, end = max(start or chosen.start, chosen.start), min(end or chosen.end, chosen.end)
    found = cli.app.storage.candidates.list(start, end, limit=limit)
    if limit and sort == "best" and len(found) == limit:
        # The best of whole weeks: every candidate of the oldest week reached.
        settings = cli.settings.roundup
        oldest = week_containing(placed_at(found[-1]), settings.timezone, settings.week_ends)
        found = cli.app.storage.candidates.list(max(start or oldest.start, oldest.start), end)
    ranked = rank_candidates(cli.app, found)
    scores = {r.candidate.id: r.score for r in ranked}
    if sort == "best":
        found = [r.candidate for r in ranked]
    if limit:
        found = found[:limit]
    if as_json:
        records = []
        for c in found:
            record = candidate_json(c)
            record.update(score_json(scores[c.id]))
            records.append(record)
        if sys.stdout.isatty():
            echo_json(records)
        else:  # piped: compact, which is several times faster for a big week
            echo_compact_json(records)
        return
    if not found:
        if since or until or week:
            click.echo("no candidates in that period")
        else:
            click.echo(_why_no_candidates(cli.app.storage.feeds.statuses()))
        return
    rows = [
        [
            str(c.id),
            (c.published or c.first_seen).astimezone(zone).strftime("%Y-%m-%d"),
            c.title or c.url,
            ", ".join(sorted({s.name for s in c.sources if s.kind == "feed"})) or "-",
            str(len(c.suggested_by)),
            "out" if scores[c.id].excluded else f"{scores[c.id].total:g}",
        ]
        for c in found
    ]
    table(["id", "date", "title", "from", "tips", "score"], rows, flexible=2)


def _option_when(value: str | None, zone: ZoneInfo, option: str) -> datetime | None:
    """parse_when, with a bad date's message naming the option it came from."""
    if not value:
        return None
    try:
        return parse_when(value, zone)
    except click.BadParameter as exc:
        exc.param_hint = f"'{option}'"
        raise


def _round_up_week(cli: CliContext, label: str) -> RoundupWeek:
    settings = cli.settings.roundup
    try:
        return week_by_label(label, settings.timezone, settings.week_ends)
    except WeekLabelError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None


def _shown(text: str | None) -> str | None:
    """A private feed's URL may carry a password (user:secret@host): never print it."""
    return redact(text) if text is not None else None


def _problem(feed: FeedStatus) -> str:
    """The status table's last column: the error, else what the last poll left
    out and where the feed moved."""
    moved = f"moved permanently to {feed.permanent_url}" if feed.permanent_url else None
    return redact(feed.last_error or "; ".join(part for part in (feed.notice, moved) if part))


def feed_status_json(status: FeedStatus) -> dict[str, Any]:
    return {
        "url": redact(status.url),
        "name": status.name,
        "enabled": status.enabled,
        "ok": status.ok,
        "last_error": _shown(status.last_error),
        "notice": status.notice,
        "consecutive_errors": status.consecutive_errors,
        "last_polled": iso(status.last_polled),
        "next_due": iso(status.next_due),
        "gone": status.gone,
        "moved_to": _shown(status.permanent_url),
        "entries": status.entries,
    }


@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"feeds": [...], "jobs": [...], "x": {...}, "channels": [...]}.',
)
@pass_cli
def status(cli: CliContext, as_json: bool) -> None:
    """Show each feed's health (last poll, errors, when it is next due), the
    scheduled jobs' last and next runs, and each suggestion channel's state."""
    # Loaded here, not at the top: only `status` needs them, and `candidates` starts faster.
    from roundup_bot.entrypoints.cli.daemon import echo_jobs, jobs_json
    from roundup_bot.entrypoints.cli.mentions import channel_json, echo_x, x_json
    from roundup_bot.entrypoints.cli.wordpress import echo_status as echo_wordpress_status
    from roundup_bot.entrypoints.cli.wordpress import status_json as wordpress_status_json
    from roundup_bot.services.health import channels_health, feed_state, jobs_health

    app = cli.app
    app.sync_feeds(utc_now())
    feeds = app.storage.feeds.statuses()
    jobs = jobs_health(app.storage)
    channels = channels_health(app)
    notify = app.storage.notifications.summary()
    if as_json:
        echo_json(
            {
                "feeds": [feed_status_json(f) for f in feeds],
                "jobs": jobs_json(jobs),
                "x": x_json(channels[0]),
                "channels": [channel_json(c) for c in channels],
                "wordpress": wordpress_status_json(cli),
                "notify": {"messages": notify.counts, "last_error": notify.last_error},
            }
        )
        return
    zone = ZoneInfo(cli.settings.roundup.timezone)

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "never"

    rows = [
        [
            _FEED_WORDS[feed_state(feed)],
            feed.name or redact(feed.url),
            when(feed.last_polled),
            when(feed.next_due),
            str(feed.consecutive_errors),
            _problem(feed),
        ]
        for feed in feeds
    ]
    table(["health", "feed", "last polled", "next due", "errors", "last error"], rows, flexible=5)
    click.echo("")
    echo_jobs(jobs, zone)
    for channel in channels:
        echo_x(channel, zone)
    echo_wordpress_status(cli)
    _echo_notify(notify)


def _echo_notify(notify: NotifySummary) -> None:
    """One line on the news for editors, when there has been any."""
    if not notify.counts:
        return
    counts = ", ".join(f"{count} {state}" for state, count in sorted(notify.counts.items()))
    line = f"\nnews for editors (draft ready): {counts}"
    if notify.counts.get("failed"):
        line += f"; last failure: {notify.last_error} (tried again at the next poll)"
    if notify.counts.get("unknown"):
        line += "; 'unknown' ones went out but got no answer: not sent again, check with them"
    if notify.counts.get("sending"):
        line += "; 'sending' ones were cut off mid-send and are not sent again"
    click.echo(line)


_FEED_WORDS = {
    "disabled": "disabled",
    "gone": "GONE",
    "never": "new",
    "ok": "ok",
    "failing": "FAILING",
}


@click.group()
def feeds() -> None:
    """Work with the feed list."""


@feeds.command("export-opml")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file instead of standard output.",
)
@click.option(
    "--with-passwords",
    is_flag=True,
    help="Keep passwords in feed URLs (user:password@host); by default they are written as ***.",
)
@pass_cli
def export_opml(cli: CliContext, output: Path | None, with_passwords: bool) -> None:
    """Write the configured feed list as OPML."""
    app = cli.app
    configured = app.sync_feeds(utc_now())
    document = write_opml(
        configured,
        app.storage.feeds.titles(),
        cli.settings.roundup.title,
        with_passwords=with_passwords,
    )
    hidden = [] if with_passwords else [f for f in configured if redact_url(f.url) != f.url]
    if hidden:
        click.echo(
            f"{len(hidden)} feed URL(s) had a password, written as ***"
            " (--with-passwords keeps them): " + ", ".join(redact_url(f.url) for f in hidden),
            err=True,
        )
    if output is None:
        click.echo(document, nl=False)
    else:
        try:
            output.write_text(document, encoding="utf-8")
        except OSError as exc:
            raise click.FileError(str(output), exc.strerror) from None
        click.echo(f"wrote {plural(len(configured), 'feed')} to {output}", err=True)


COMMANDS = [init, poll, candidates, status, feeds]


def _why_no_candidates(feeds: Sequence[FeedStatus]) -> str:
    """The next step depends on why the list is empty: never polled, nothing read, or
    feeds that had nothing (right after an offline first poll, "run poll" would mislead)."""
    if not any(feed.last_polled for feed in feeds):
        return "no candidates yet: run `roundup-bot poll` first"
    if not any(feed.ok for feed in feeds):
        return "no candidates yet: no feed could be read (`roundup-bot status` says why)"
    return "no candidates yet: the feeds read so far had no entries"
