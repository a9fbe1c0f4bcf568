"""``roundup-bot publish`` and ``roundup-bot wordpress check|comments``; the WordPress
parts of ``approve``, ``drafts --json`` and ``status``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from roundup_bot.config import Settings
from roundup_bot.core.wordpress import WordPressPost
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._output import echo_json, iso

if TYPE_CHECKING:  # publishing loads Jinja2 and httpx: only the commands that publish do
    from roundup_bot.services.publish import Published

EXIT_FAILED = 1


def wordpress_json(
    settings: Settings, post: WordPressPost | None, environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """``{"id", "link", "edit_link", "status", "state", "error", "next_try"}`` of a
    round-up's post, or None when it has none."""
    if post is None:
        return None
    from roundup_bot.services.wordpress import edit_url

    return {
        "id": post.post_id,
        "link": post.link,
        "edit_link": edit_url(settings, post, environ),
        "status": post.status,
        "state": post.state,
        "error": post.error,
        "next_try": iso(post.next_try),
    }


def wordpress_line(settings: Settings, post: WordPressPost) -> str:
    """One line for people: where the post is, or why it is not there yet."""
    zone = ZoneInfo(settings.roundup.timezone)
    if post.done:
        return f"WordPress: post {post.post_id} ({post.status}) {post.link or ''}".rstrip()
    when = post.next_try.astimezone(zone).strftime("%Y-%m-%d %H:%M") if post.next_try else "soon"
    if post.state == "pending":
        return "WordPress: the post is still to be made"
    return f"WordPress: FAILED: {post.error} (tried {post.attempts} times; next try {when})"


def echo_published(cli: CliContext, published: Published, verb: str) -> None:
    """Print where a round-up was published; exit 1 when a step failed."""
    click.echo(f"{verb} the {published.draft.week} round-up:")
    for path in (published.html_path, published.markdown_path, published.feed_path):
        click.echo(f"  {path}")
    from roundup_bot.services.announce import summary as announce_lines

    for line in announce_lines(published.announcements):
        click.echo("  " + line)
    announce_failed = any(not r.ok for r in published.announcements)
    if announce_failed:
        click.echo(
            f"error: an announcement failed: `roundup-bot publish {published.draft.id}` tries"
            " again (never posting one twice)",
            err=True,
        )
    post = published.wordpress
    if post is None:
        if announce_failed:
            sys.exit(EXIT_FAILED)
        return
    from roundup_bot.services.wordpress import edit_url

    click.echo("  " + wordpress_line(cli.settings, post))
    edit = edit_url(cli.settings, post, cli.app.environ)
    if post.done and edit:
        click.echo(f"  edit it in WordPress: {edit}")
    if not post.done:
        click.echo(
            f"error: the files are published, the WordPress post is not: `roundup-bot publish"
            f" {published.draft.id}` tries again (the daemon also retries it)",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    if announce_failed:
        sys.exit(EXIT_FAILED)


@click.command()
@click.argument("draft_id", type=int)
@pass_cli
def publish(cli: CliContext, draft_id: int) -> None:
    """Retry every step of publishing a round-up that has not succeeded.

    An approved round-up whose files could not be written gets its files (and
    then its WordPress post); a published one whose WordPress post failed gets
    the post, made or updated, never a second one; an announcement that failed
    on a channel with announce = true is posted (never one already posted).

    Exit status: 0 every step is done; 1 a step failed (said on one line); 2 bad
    config (WordPress credentials missing); 3 another publish held the lock for
    a minute.
    """
    from roundup_bot.services.publish import publish as publish_steps

    done = publish_steps(cli.app, draft_id, now=cli.app.clock(), retry=True)
    echo_published(cli, done, "published")


@click.group()
def wordpress() -> None:
    """The WordPress blog: check the credentials, read the comments."""


@wordpress.command()
@pass_cli
def check(cli: CliContext) -> None:
    """Try the WordPress credentials (users/me) and name the likely cause of a refusal.

    Exit status: 0 signed in; 1 refused or unreachable (one line naming the
    likely cause); 2 bad config (no site_url, no credentials, plain http://).
    """
    from roundup_bot.services.wordpress import check as check_credentials

    report = check_credentials(cli.settings, os.environ)
    click.echo(f"ok: signed in to {report.api} as {report.user} with {report.style}")


@wordpress.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@pass_cli
def comments(cli: CliContext, as_json: bool) -> None:
    """Read approved comments on the round-up posts: their links become suggestions.

    The same [suggestions] rules as suggestions from X; each comment is read
    once. The daemon does this with its mentions job.

    Exit status: 0 the run completed (or comments are off); 1 it failed; 2 bad
    config.
    """
    from roundup_bot.services.wordpress_comments import read_new_comments

    report = read_new_comments(cli.app, cli.app.clock())
    if as_json:
        echo_json(
            {
                "ok": report.ok,
                "comments": report.comments,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "new_candidates": report.new_candidates,
                "error": report.error,
            }
        )
    else:
        click.echo(report.line, err=report.ok is False)
    if report.ok is False:
        sys.exit(EXIT_FAILED)


def status_json(cli: CliContext) -> dict[str, Any] | None:
    """The last publish to WordPress, for ``status --json``; None while WordPress is off."""
    if not cli.settings.wordpress.enabled:
        return None
    latest = cli.app.storage.wordpress.latest(cli.settings.roundup.name)
    if latest is None:
        return {"enabled": True, "last": None}
    week, post = latest
    shown = wordpress_json(cli.settings, post, cli.app.environ) or {}
    return {"enabled": True, "last": {"week": week, **shown}}


def echo_status(cli: CliContext) -> None:
    """The last publish to WordPress, for ``status``."""
    if not cli.settings.wordpress.enabled:
        return
    latest = cli.app.storage.wordpress.latest(cli.settings.roundup.name)
    click.echo("")
    if latest is None:
        click.echo("WordPress: nothing published yet")
        return
    week, post = latest
    click.echo(f"last publish ({week}): " + wordpress_line(cli.settings, post))


COMMANDS = [publish, wordpress]
