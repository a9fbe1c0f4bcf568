"""The ``roundup-bot`` command line: thin commands over the app.

Exit statuses (documented in the README):
  0  the command did its work (a poll that completed is 0 even if some feeds failed)
  1  the run itself could not happen (database unreachable, a source failed as a whole)
  2  bad config or bad command-line usage
  3  the same job is already running elsewhere and this run skipped
  4  a source stopped at a limit (X rate limit or usage cap, or max_posts_per_month);
     its place is kept and the next run carries on
"""

from __future__ import annotations

import sys
from typing import Any

import click

from roundup_bot import __version__
from roundup_bot.cli._context import CliContext
from roundup_bot.cli._logging import setup_logging
from roundup_bot.exceptions import ConfigError, LockHeldError, RoundupError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $ROUNDUP_CONFIG, else ./config.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Log level (default: [logging] level, else INFO).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines as text, or one JSON object per line.",
)
@click.version_option(__version__, prog_name="roundup-bot")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, log_level: str | None, log_format: str | None
) -> None:
    """roundup-bot finds the week's best local-government blog posts and drafts
    the round-up for an editor to approve."""
    ctx.obj = CliContext(config_path=config_path, log_level=log_level, log_format=log_format)
    setup_logging(log_level or "WARNING", log_format or "text")
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from roundup_bot.cli import web as web_commands

    for command in web_commands.COMMANDS:
        cli.add_command(command)
    from roundup_bot.cli import feeds as feed_commands

    for command in feed_commands.COMMANDS:
        cli.add_command(command)
    from roundup_bot.cli import drafts as draft_commands

    for command in draft_commands.COMMANDS:
        cli.add_command(command)
    from roundup_bot.cli import daemon as daemon_commands

    for command in daemon_commands.COMMANDS:
        cli.add_command(command)
    from roundup_bot.cli import mentions as mention_commands

    for command in mention_commands.COMMANDS:
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns roundup-bot's own errors into one line and an exit status."""
    try:
        cli.main(args=argv, prog_name="roundup-bot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_CONFIG if exc.exit_code == 2 else exc.exit_code)
    except ConfigError as exc:
        click.echo(f"config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except LockHeldError as exc:
        click.echo(f"skipped: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except RoundupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    code: Any = 0
    sys.exit(code)
