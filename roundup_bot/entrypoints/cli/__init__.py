"""The ``roundup-bot`` command line: thin commands over the app.

Exit statuses (documented in the README) and which error ends in which are in
:mod:`roundup_bot.entrypoints.cli._exits`; :func:`main` applies them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import click

from roundup_bot.core.errors import RoundupError
from roundup_bot.entrypoints.cli._context import CliContext
from roundup_bot.entrypoints.cli._exits import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, exit_for
from roundup_bot.entrypoints.cli._gc import cycle_collection_paused
from roundup_bot.entrypoints.cli._logging import setup_logging

#: command name -> (module, attribute). Commands load on first use, so a run of
#: `roundup-bot draft` never imports Flask, tweepy or APScheduler.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("roundup_bot.entrypoints.cli.feeds", "init"),
    "poll": ("roundup_bot.entrypoints.cli.feeds", "poll"),
    "candidates": ("roundup_bot.entrypoints.cli.feeds", "candidates"),
    "status": ("roundup_bot.entrypoints.cli.feeds", "status"),
    "feeds": ("roundup_bot.entrypoints.cli.feeds", "feeds"),
    "mentions": ("roundup_bot.entrypoints.cli.mentions", "mentions"),
    "draft": ("roundup_bot.entrypoints.cli.drafts", "draft"),
    "show": ("roundup_bot.entrypoints.cli.drafts", "show"),
    "drafts": ("roundup_bot.entrypoints.cli.drafts", "drafts_command"),
    "approve": ("roundup_bot.entrypoints.cli.drafts", "approve"),
    "reopen": ("roundup_bot.entrypoints.cli.drafts", "reopen"),
    "publish": ("roundup_bot.entrypoints.cli.wordpress", "publish"),
    "wordpress": ("roundup_bot.entrypoints.cli.wordpress", "wordpress"),
    "edit": ("roundup_bot.entrypoints.cli.edit", "edit"),
    "add": ("roundup_bot.entrypoints.cli.links", "add"),
    "run": ("roundup_bot.entrypoints.cli.daemon", "run"),
    "web": ("roundup_bot.entrypoints.cli.web", "web"),
    "editor": ("roundup_bot.entrypoints.cli.web", "editor"),
}


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``, worded as click's version_option words it; the version is read
    only when asked (see roundup_bot.__getattr__)."""
    if not value or ctx.resilient_parsing:
        return
    from roundup_bot import __version__

    click.echo(f"roundup-bot, version {__version__}", color=ctx.color)
    ctx.exit()


class LazyGroup(click.Group):
    """A group whose commands are imported only when they are run or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attribute = LAZY_COMMANDS[cmd_name]
            command = getattr(_import_quietly(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


def _import_quietly(module_name: str) -> ModuleType:
    """A command's module, imported with the cyclic collector paused (see ``_gc``)."""
    with cycle_collection_paused():
        return importlib.import_module(module_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, log_level: str | None, log_format: str | None
) -> None:
    """roundup-bot finds the week's best local-government blog posts and drafts
    the round-up for an editor to approve."""
    ctx.obj = CliContext(config_path=config_path, log_level=log_level, log_format=log_format)
    setup_logging(log_level or "WARNING", log_format or "text")
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns roundup-bot's own errors into one line and an exit status."""
    try:
        code = cli.main(args=argv, prog_name="roundup-bot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.BadParameter as exc:
        # A bad value: one line naming the option and the problem; the usage text
        # would only repeat what --help says.
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(EXIT_CONFIG)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_CONFIG if exc.exit_code == 2 else exc.exit_code)
    except RoundupError as exc:
        status, word = exit_for(exc)
        click.echo(f"{word}: {exc}", err=True)
        sys.exit(status)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    # With standalone_mode off, click returns ctx.exit()'s status instead of exiting.
    sys.exit(code if isinstance(code, int) else EXIT_OK)
