"""The editors' web page: a Flask app built by :func:`create_app`.

Plain server-rendered pages, one blueprint per area (``auth``, ``drafts``,
``candidates``, ``sources``, ``published``), a little progressive JavaScript
from ``static/`` and nothing that needs it: every action is a form that works
with JavaScript off. ``roundup-bot web`` serves it with waitress.

Flask lives only in this package; the views call the same storage and
publishing functions as the command line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from flask import Flask, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from roundup_bot import __version__
from roundup_bot.adapters.render import safe_url
from roundup_bot.config import Settings
from roundup_bot.core.clock import utc_now
from roundup_bot.core.ranking import plain_reason
from roundup_bot.core.redaction import redact
from roundup_bot.entrypoints.web import auth, security
from roundup_bot.entrypoints.web.accounts import Accounts
from roundup_bot.entrypoints.web.context import EXTENSION, WebContext
from roundup_bot.entrypoints.web.ratelimit import SignInLimiter
from roundup_bot.services.app import App, build_app

SECRET_ENV = "ROUNDUP_WEB_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
SECRET_NAME = "web_session_key"  # noqa: S105 - the row's name in app_secrets
#: Largest request body accepted: ten long blurbs are a few kilobytes.
MAX_BODY = 512 * 1024

csrf = CSRFProtect()


def create_app(
    settings: Settings,
    *,
    roundup: App | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
    hasher: PasswordHasher | None = None,
) -> Flask:
    """Build the web app for ``settings``.

    ``roundup`` is the wired app (storage and settings) when the caller already
    has one; otherwise one is built here and owned by the web app. ``clock`` and
    ``hasher`` are seams for tests.

    Raises:
        StorageError: the database cannot be opened or migrated.
    """
    env = os.environ if environ is None else environ
    owns = roundup is None
    rb = roundup if roundup is not None else build_app(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(rb, env, clock),
        SESSION_COOKIE_NAME="roundup_session",
        MAX_CONTENT_LENGTH=MAX_BODY,
        # The token lives as long as the session; a draft left open all morning still saves.
        WTF_CSRF_TIME_LIMIT=None,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.extensions[EXTENSION] = WebContext(
        roundup=rb,
        accounts=Accounts(rb.storage.editors, hasher),
        limiter=SignInLimiter(),
        clock=clock,
        owns_roundup=owns,
    )
    security.install(app, settings.web)
    csrf.init_app(app)
    auth.install(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_filters(app, settings)
    return app


def _secret_key(rb: App, env: Mapping[str, str], clock: Callable[[], datetime]) -> str:
    """ROUNDUP_WEB_SECRET_KEY, else a random key made once and kept in the database
    (so sessions survive a restart and every process shares it)."""
    given = env.get(SECRET_ENV, "").strip()
    if given:
        return given
    return rb.storage.secrets.get_or_create(SECRET_NAME, secrets.token_hex(32), clock())


def _register_blueprints(app: Flask) -> None:
    from roundup_bot.entrypoints.web import candidates, drafts, links, published, sources

    app.register_blueprint(auth.bp)
    app.register_blueprint(drafts.bp)
    app.register_blueprint(candidates.bp)
    app.register_blueprint(sources.bp)
    app.register_blueprint(published.bp)
    app.register_blueprint(links.bp)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        if request.endpoint == "auth.sign_in":
            # Most often a sign-in page left open until its session cookie expired.
            flash("The sign-in form had expired. Please sign in again.", "error")
            return redirect(url_for("auth.sign_in"))
        # Going back re-fetches the page (no-store) with a fresh token, and the browser
        # puts back what was typed; reloading would throw that text away.
        message = (
            "This form had expired (for example, you signed in again in another tab) or did"
            " not come from this site, so nothing was changed. Use your browser's Back"
            " button: what you typed is still there. Then press the button again."
        )
        body = render_template(
            "error.html",
            code=400,
            title="Form refused",
            message=message,
            unsaved=auth.unsaved_in_request(),
        )
        return body, 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        if code < 400:
            return error
        titles = {
            403: "Not allowed",
            404: "Not found",
            405: "Not allowed",
            413: "Too much text",
            429: "Too many tries",
        }
        message = error.description or ""
        if code == 404 and "requested URL was not found" in message:
            message = "There is no page here."
        if code == 413:
            message = "That form was too large to accept. Nothing was changed."
        title = titles.get(code, error.name)
        body = render_template("error.html", code=code, title=title, message=message)
        return body, code


def _register_filters(app: Flask, settings: Settings) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.roundup.timezone)

    def local_time(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
        if value is None:
            return "never"
        return value.astimezone(zone).strftime(fmt)

    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["plain_reason"] = plain_reason
    app.jinja_env.filters["redact"] = redact  # a feed URL may carry a password
    # Every address put in an href, as in the published round-up: http(s) or '#'.
    app.jinja_env.filters["safe_url"] = safe_url
    app.jinja_env.globals["roundup_title"] = settings.roundup.title
    app.jinja_env.globals["timezone_name"] = settings.roundup.timezone
    app.jinja_env.globals["asset_version"] = __version__


__all__ = ["create_app"]
