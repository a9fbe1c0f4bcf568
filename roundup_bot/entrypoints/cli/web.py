"""Commands for the editors' web page: ``web`` (serve it) and ``editor add|remove|list``."""

from __future__ import annotations

import ipaddress
import logging
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from roundup_bot.core.clock import utc_now
from roundup_bot.core.errors import EditorExistsError
from roundup_bot.core.notices import is_plain_address
from roundup_bot.entrypoints.cli._context import CliContext, pass_cli
from roundup_bot.entrypoints.cli._output import echo_json, iso, table

log = logging.getLogger(__name__)

#: waitress worker threads: a handful of editors, one slow publish must not block the rest.
THREADS = 8


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: [web] port).",
)
@pass_cli
def web(cli: CliContext, host: str | None, port: int | None) -> None:
    """Serve the editors' web page with waitress (a production WSGI server).

    Put it behind an HTTPS proxy such as nginx when editors reach it over a
    network, and set [web] behind_proxy = true there.
    """
    from waitress import create_server

    from roundup_bot.entrypoints.web import create_app

    settings = cli.settings
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    app = create_app(settings, roundup=cli.app)
    if not cli.app.storage.editors.list():
        click.echo(
            "warning: there are no editors yet; add one with `roundup-bot editor add NAME`",
            err=True,
        )
    if not _is_loopback(host) and not settings.web.behind_proxy:
        click.echo(
            f"warning: serving plain HTTP on {host}; passwords cross the network unencrypted."
            " Put it behind an HTTPS proxy (see the README).",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    try:
        # Listen first, so a taken port or an unknown host is one line, not a traceback
        # after a "serving" message that was never true.
        server = create_server(
            app,
            host=host,
            port=port,
            threads=THREADS,
            ident="roundup-bot",
            # ProxyFix in the app trusts exactly one proxy; waitress itself trusts none.
            clear_untrusted_proxy_headers=False,
        )
    except ValueError:  # waitress: the host name does not resolve
        raise click.ClickException(
            f"cannot listen on {shown}:{port}: unknown host name or address"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"cannot listen on {shown}:{port}: {reason}") from None
    click.echo(f"serving the editors' page on http://{shown}:{port}/ (Ctrl-C to stop)", err=True)
    try:
        server.run()
    finally:
        server.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.group()
def editor() -> None:
    """Add, remove and list the editors who may sign in to the web page."""


def _read_password(name: str) -> str:
    """At a terminal: prompt twice, hidden. Otherwise: the first line of standard input."""
    if sys.stdin.isatty():
        value: str = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
        return value
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _address(value: str | None) -> str | None:
    """An --email value: a plain address, or "" to clear it (None)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not is_plain_address(value):
        raise click.BadParameter(f"{value!r} is not an email address", param_hint="--email")
    return value


@editor.command("add")
@click.argument("name")
@click.option("--email", help="Tell this editor by email when the week's draft is ready.")
@pass_cli
def editor_add(cli: CliContext, name: str, email: str | None) -> None:
    """Add an editor. Asks for the password (or reads it from standard input)."""
    from roundup_bot.core.errors import AccountError
    from roundup_bot.entrypoints.web.accounts import Accounts, clean_name

    try:
        name = clean_name(name)
    except AccountError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    accounts = Accounts(cli.app.storage.editors)
    if accounts.editors.credentials(name) is not None:
        raise click.ClickException(f"an editor named {name!r} already exists")
    address = _address(email)
    password = _read_password(name)
    try:
        accounts.add(name, password, utc_now())
    except AccountError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None
    except EditorExistsError as exc:
        raise click.ClickException(str(exc)) from None
    if address:
        accounts.editors.set_email(name, address)
    click.echo(f"added editor {name}" + (f" <{address}>" if address else ""))


@editor.command("set")
@click.argument("name")
@click.option(
    "--email",
    required=True,
    help='Where to tell this editor the draft is ready ("" to stop the emails).',
)
@pass_cli
def editor_set(cli: CliContext, name: str, email: str) -> None:
    """Change an editor's details: their email address."""
    address = _address(email)
    if not cli.app.storage.editors.set_email(name.strip(), address):
        raise click.ClickException(f"there is no editor named {name!r}")
    if address:
        click.echo(f"{name.strip()} will be emailed at {address} when a draft is ready")
    else:
        click.echo(f"{name.strip()} will no longer be emailed")


@editor.command("password")
@click.argument("name")
@pass_cli
def editor_password(cli: CliContext, name: str) -> None:
    """Set a new password for an editor (and sign them out everywhere)."""
    from roundup_bot.core.errors import AccountError
    from roundup_bot.entrypoints.web.accounts import Accounts

    accounts = Accounts(cli.app.storage.editors)
    found = accounts.editors.credentials(name.strip())
    if found is None:
        raise click.ClickException(f"there is no editor named {name!r}")
    password = _read_password(found.name)
    try:
        accounts.set_password(found.name, password)
    except AccountError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None
    click.echo(f"changed the password of {found.name}")


@editor.command("remove")
@click.argument("name")
@pass_cli
def editor_remove(cli: CliContext, name: str) -> None:
    """Remove an editor; they are signed out at once."""
    if not cli.app.storage.editors.remove(name.strip()):
        raise click.ClickException(f"there is no editor named {name!r}")
    click.echo(f"removed editor {name.strip()}")


@editor.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_cli
def editor_list(cli: CliContext, as_json: bool) -> None:
    """List the editors and when each last signed in."""
    editors = cli.app.storage.editors.list()
    if as_json:
        echo_json(
            [
                {
                    "name": e.name,
                    "email": e.email,
                    "created_at": iso(e.created_at),
                    "last_sign_in": iso(e.last_sign_in),
                }
                for e in editors
            ]
        )
        return
    if not editors:
        click.echo("no editors yet: add one with `roundup-bot editor add NAME`")
        return
    zone = ZoneInfo(cli.settings.roundup.timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M")

    rows = [
        [
            e.name,
            e.email or "-",
            local(e.created_at),
            local(e.last_sign_in) if e.last_sign_in else "never",
        ]
        for e in editors
    ]
    table(["name", "email", "added", f"last sign-in ({zone.key} time)"], rows, flexible=1)


COMMANDS = [web, editor]
