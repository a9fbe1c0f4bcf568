"""Commands for the weekly round-up: draft, show, drafts, approve, reopen."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.adapters.render import FORMATS, renderer_for
from roundup_bot.core.clock import utc_now
from roundup_bot.core.errors import WeekLabelError
from roundup_bot.core.records import Draft, DraftSummary
from roundup_bot.core.weeks import parse_week_label
from roundup_bot.core.wording import plural
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._gc import without_cycle_collection
from roundup_bot.entrypoints.cli._jobs import job_lock
from roundup_bot.entrypoints.cli._output import RowId, echo_json, iso, table
from roundup_bot.services.drafting import draft_week, resolve_week
from roundup_bot.services.notify import tell_editors


def draft_json(draft: Draft) -> dict[str, Any]:
    """The JSON shape of a draft (``draft --json``)."""
    return {
        "id": draft.id,
        "week": draft.week,
        "status": draft.status,
        "version": draft.version,
        "period_start": iso(draft.period_start),
        "period_end": iso(draft.period_end),
        "title": draft.title,
        "intro": draft.intro,
        "outro": draft.outro,
        "approved_by": draft.approved_by,
        "approved_at": iso(draft.approved_at),
        "published_at": iso(draft.published_at),
        "items": [
            {
                "item_id": item.id,
                "candidate_id": item.candidate_id,
                "url": item.url,
                "title": item.title,
                "author": item.author,
                "site_name": item.site_name,
                "via": item.via,
                "blurb": item.blurb,
                "suggested_by": list(item.suggested_by),
                "score": item.score,
                "why": [{"name": p.name, "points": p.points, "detail": p.detail} for p in item.why],
                "edited": {
                    "blurb": item.blurb_edited,
                    "moved": item.moved_by_editor,
                    "added": item.added_by_editor,
                    "details": item.details_edited,
                },
            }
            for item in draft.shown_items
        ],
    }


def _week_option(cli: CliContext, week: str | None, now: datetime) -> Any:
    try:
        return resolve_week(cli.app, week, now)
    except WeekLabelError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None


def _check_week(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse a malformed --week while parsing, before the job lock is taken, so a
    typo is a usage error and not a failed draft run in ``status``."""
    if value and value.strip().lower() != "nearest":
        try:
            parse_week_label(value)
        except WeekLabelError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.option(
    "--week",
    callback=_check_week,
    metavar="YYYY-Www|nearest",
    help="The week (default: the one that ends next). 'nearest': the week whose end is "
    "nearest now, as the daemon's draft job picks it (for a cron line at the week's end).",
)
@click.option(
    "--link-details/--no-link-details",
    default=None,
    help="Read the picked articles' pages: true addresses, credits, blurb text "
    "(default: [roundup] fetch_link_details).",
)
@click.option(
    "--refresh-details",
    is_flag=True,
    help="Read the picked articles' pages again, even those read recently (or that failed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the draft as JSON.")
@pass_cli
@job_lock("draft")
@without_cycle_collection
def draft(
    cli: CliContext,
    week: str | None,
    link_details: bool | None,
    refresh_details: bool,
    as_json: bool,
) -> None:
    """Create the week's draft round-up, or refresh it.

    Picks the week's best [roundup] max_items candidates (at most [roundup]
    max_per_source from one blog), with a starter blurb and thanks to whoever
    suggested it. --refresh-details reads the articles' pages again. Running it again
    refreshes the same draft and keeps every change an editor made; an
    approved or published round-up is left alone. Prints the draft's id.
    """
    now = utc_now()
    chosen = _week_option(cli, week, now)
    if refresh_details and link_details is False:
        raise click.UsageError("--refresh-details reads pages: it cannot go with --no-link-details")
    outcome = draft_week(
        cli.app,
        chosen,
        now=now,
        fetch_details=True if refresh_details else link_details,
        refresh_details=refresh_details,
    )
    report = tell_editors(cli.app, outcome.draft if outcome.created else None, now)
    if report.sent or report.failed:
        click.echo(f"editors told the draft is ready: {report}", err=True)
    if outcome.left_alone:
        click.echo(outcome.left_alone, err=True)
    elif outcome.details_fetched:
        click.echo(
            f"read {plural(outcome.details_fetched, 'article page')}"
            + (f" ({outcome.details_failed} could not be read)" if outcome.details_failed else ""),
            err=True,
        )
    if outcome.merged or outcome.moved:
        click.echo(
            f"{outcome.moved + outcome.merged} links led to their articles' true addresses"
            + (f" ({outcome.merged} merged with the same article)" if outcome.merged else ""),
            err=True,
        )
    if as_json:
        echo_json(draft_json(outcome.draft))
        return
    if not outcome.left_alone:
        verb = "created" if outcome.created else "refreshed"
        items = plural(len(outcome.draft.shown_items), "item")
        click.echo(f"{verb} the {chosen.label} draft with {items}", err=True)
    click.echo(str(outcome.draft.id))


@click.command()
@click.argument("draft_id", type=RowId())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="html and markdown use the templates that are published.",
)
@pass_cli
def show(cli: CliContext, draft_id: int, fmt: str) -> None:
    """Render a draft with the round-up's templates."""
    found = cli.app.storage.drafts.get(draft_id)
    click.echo(renderer_for(cli.settings).render(found, fmt), nl=False)  # type: ignore[arg-type]


def summary_json(summary: DraftSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        "roundup": summary.roundup,
        "week": summary.week,
        "status": summary.status,
        "items": summary.items,
        "version": summary.version,
        "updated_at": iso(summary.updated_at),
        "updated_by": summary.updated_by,
        "approved_by": summary.approved_by,
        "approved_at": iso(summary.approved_at),
        "published_at": iso(summary.published_at),
    }


@click.command("drafts")
@click.option("--json", "as_json", is_flag=True, help='Print {"drafts": [...]}.')
@pass_cli
def drafts_command(cli: CliContext, as_json: bool) -> None:
    """List the round-up's drafts with their status, newest week first."""
    found = cli.app.storage.drafts.summaries(cli.settings.roundup.name)
    if as_json:
        from roundup_bot.entrypoints.cli.wordpress import wordpress_json

        posts = cli.app.storage.wordpress.for_drafts([s.id for s in found])
        settings, env = cli.settings, cli.app.environ
        echo_json(
            {
                "drafts": [
                    {
                        **summary_json(s),
                        "wordpress": wordpress_json(settings, posts.get(s.id), env),
                    }
                    for s in found
                ]
            }
        )
        return
    if not found:
        click.echo("no drafts yet: run `roundup-bot draft`")
        return
    zone = ZoneInfo(cli.settings.roundup.timezone)

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    rows = [
        [
            str(s.id),
            s.week,
            s.status,
            str(s.items),
            when(s.updated_at),
            s.approved_by or "",
            when(s.published_at),
        ]
        for s in found
    ]
    table(["id", "week", "status", "items", "updated", "approved by", "published"], rows, 5)


@click.command()
@click.argument("draft_id", type=RowId())
@click.option("--by", "by", required=True, metavar="NAME", help="Who approves it (recorded).")
@pass_cli
def approve(cli: CliContext, draft_id: int, by: str) -> None:
    """Approve a draft and publish it to [publish] output_dir (and WordPress).

    Writes YYYY-Www.html and YYYY-Www.md and rewrites feed.xml (Atom, every
    published round-up); every file is written whole or not at all. With
    [wordpress] enabled, the round-up then becomes one post on the blog.

    Exit status: 0 published; 1 not approved or a step failed (the files
    stand; `roundup-bot publish DRAFT_ID` retries the WordPress post); 2 bad
    config (WordPress credentials missing: nothing is approved).
    """
    # Publishing (the Atom feed, WordPress, announcements) is loaded by the commands
    # that publish, not at start-up by `draft` and `show`.
    from roundup_bot.entrypoints.cli.wordpress import echo_published
    from roundup_bot.services.publish import approve as approve_draft

    published = approve_draft(cli.app, draft_id, by=by)
    echo_published(cli, published, f"approved by {by} and published")


@click.command()
@click.argument("draft_id", type=RowId())
@click.option("--by", "by", metavar="NAME", help="Who reopens it (default: your user name).")
@click.option("--force", is_flag=True, help="Reopen a round-up that is already published.")
@pass_cli
def reopen(cli: CliContext, draft_id: int, by: str | None, force: bool) -> None:
    """Take an approved round-up back to draft so it can be changed.

    A published one needs --force: its files stay as published until it is
    approved again, which republishes it and records that it changed.
    """
    from roundup_bot.services.publish import reopen as reopen_draft

    reopened = reopen_draft(cli.app, draft_id, by=by or user_name(), force=force)
    click.echo(f"draft {reopened.id} ({reopened.week}) is a draft again")


def user_name() -> str:
    """Who a command records as having made a change, when --by does not say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


COMMANDS = [draft, show, drafts_command, approve, reopen]
