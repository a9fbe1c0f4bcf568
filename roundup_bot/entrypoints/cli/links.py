"""``roundup-bot add URL``: an editor's own link, from the terminal."""

from __future__ import annotations

import click

from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._output import RowId, echo_json
from roundup_bot.entrypoints.cli.drafts import user_name
from roundup_bot.services.editor_links import add_editor_link


@click.command("add")
@click.argument("url")
@click.option("--by", "by", metavar="NAME", help="Who adds it (default: your user name).")
@click.option(
    "--draft",
    "draft_id",
    type=RowId(),
    default=None,
    help="The draft it joins (default: the draft of the week that ends next, if there is one).",
)
@click.option("--no-link-details", is_flag=True, help="Do not read the page for its title.")
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
@pass_cli
def add(
    cli: CliContext,
    url: str,
    by: str | None,
    draft_id: int | None,
    no_link_details: bool,
    as_json: bool,
) -> None:
    """Add a link you found yourself: it becomes a candidate credited to you and
    joins the draft.

    The page's title and description are read (never from a private, loopback
    or link-local address unless [network] allow_private_addresses). Exit
    status 1 when the address is not a web address, the draft does not exist
    or is approved, or changed while adding.
    """
    who = (by or user_name()).strip()
    added = add_editor_link(
        cli.app,
        url,
        by=who,
        now=cli.app.clock(),
        draft_id=draft_id,
        fetch_details=not no_link_details,
    )
    if as_json:
        echo_json(
            {
                "candidate_id": added.candidate_id,
                "url": added.url,
                "title": added.title,
                "new_candidate": added.new_candidate,
                "draft_id": added.draft.id if added.draft else None,
                "week": added.draft.week if added.draft else None,
                "already_in_draft": added.already_in_draft,
                "details_error": added.details_error,
            }
        )
        return
    what = f"{added.title} ({added.url})" if added.title else added.url
    click.echo(f"added {what} as candidate {added.candidate_id}, credited to {who}")
    if added.draft is None:
        click.echo("no draft for this week yet: `roundup-bot draft` or --draft ID puts it in one")
    elif added.already_in_draft:
        click.echo(f"it is already in draft {added.draft.id} ({added.draft.week})")
    else:
        click.echo(f"it joined draft {added.draft.id} ({added.draft.week})")
    if added.details_error:
        click.echo(f"note: the page could not be read: {added.details_error}", err=True)


COMMANDS = [add]
