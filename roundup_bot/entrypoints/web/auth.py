"""Signing in and out, and the rule that every other page needs a signed-in editor.

A session is a random token in the (signed, HttpOnly) Flask session cookie;
the database keeps its SHA-256 with the editor and an expiry. Signing out
deletes that row, so a copied cookie is dead afterwards; removing an editor
or changing their password ends all their sessions.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response as BaseResponse

from roundup_bot.core.errors import FormProblem
from roundup_bot.entrypoints.web.context import web
from roundup_bot.entrypoints.web.draftform import read_form
from roundup_bot.entrypoints.web.draftpage import typed_text
from roundup_bot.entrypoints.web.security import is_safe_redirect
from roundup_bot.storage.editors import Editor, name_key

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: A session ends this long after the last page an editor opened...
SESSION_LIFETIME = timedelta(hours=12)
#: ...and in any case this long after signing in.
SESSION_MAX_AGE = timedelta(days=7)
#: Endpoints anyone may reach: the sign-in page and the CSS/JS it needs.
PUBLIC_ENDPOINTS = frozenset({"auth.sign_in", "static"})
#: The cookie that marks a browser an editor has signed in from (see ratelimit).
DEVICE_COOKIE = "roundup_device"
DEVICE_MAX_AGE = timedelta(days=90)
_DEVICE_SALT = "roundup-bot sign-in device"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def current_editor() -> Editor:
    """The signed-in editor (views behind the sign-in rule only)."""
    editor: Editor = g.editor
    return editor


def install(app: Flask) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME

    @app.before_request
    def load_editor() -> BaseResponse | None:
        g.editor = None
        token = session.get("sid")
        if isinstance(token, str) and token:
            g.editor = _live_editor(token_hash(token))
            if g.editor is None:
                session.pop("sid", None)
        if g.editor is None and request.endpoint not in PUBLIC_ENDPOINTS:
            typed = unsaved_in_request()
            if typed:  # signed out while typing: show it back instead of dropping it
                message = "You were signed out (the session had expired), so nothing was saved."
                body = render_template(
                    "error.html", code=401, title="Signed out", message=message, unsaved=typed
                )
                return Response(body, status=401)
            target = request.full_path if request.method == "GET" else request.path
            target = target.rstrip("?")
            wanted = target if target not in ("/", "") else None
            return redirect(url_for("auth.sign_in", next=wanted))
        return None

    @app.context_processor
    def editor_in_templates() -> dict[str, object]:
        return {"editor": g.get("editor")}


def unsaved_in_request() -> list[tuple[str, str]]:
    """The text typed into the draft page's form, when this request is its save."""
    if request.method != "POST" or request.endpoint != "drafts.save":
        return []
    try:
        return typed_text(read_form(request.form, request.form.getlist("item")))
    except FormProblem:
        return []


def _live_editor(hashed: str) -> Editor | None:
    """The session's editor, sliding its expiry forward when an editor is active
    (written at most once an hour, so a page view costs no database write)."""
    ctx = web()
    now = ctx.clock()
    found = ctx.roundup.storage.editors.session(hashed, now)
    if found is None:
        return None
    wanted = min(now + SESSION_LIFETIME, found.started + SESSION_MAX_AGE)
    if wanted - found.expires_at > timedelta(hours=1):
        ctx.roundup.storage.editors.extend_session(hashed, wanted)
    return found.editor


def _client_address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> BaseResponse | str | tuple[str, int]:
    target = request.values.get("next", "")
    if not is_safe_redirect(target) or target.startswith("/sign-in"):
        target = ""
    if g.editor is not None:
        return redirect(target or url_for("drafts.home"))
    if request.method != "POST":
        # Only a POST signs in: HEAD (which Flask answers for every GET route) passes
        # the Origin check and CSRF token unchecked, so it must never count or change state.
        return render_template("auth/sign_in.html", next=target, name="")
    name = request.form.get("name", "")[:200]
    password = request.form.get("password", "")
    ctx = web()
    address = _client_address()
    device = _known_device(name)
    # Counted before the password is checked, so parallel tries cannot all slip under the limit.
    attempt = ctx.limiter.reserve(name, address, ctx.monotonic(), device)
    if attempt.wait is not None:
        log.warning("sign-in refused: too many failures (name %r, address %s)", name[:80], address)
        seconds = max(int(attempt.wait + 0.999), 1)
        flash(
            f"Too many failed sign-ins. Wait {seconds} seconds and try again.",
            "error",
        )
        body = render_template("auth/sign_in.html", next=target, name=name)
        return Response(body, status=429, headers={"Retry-After": str(seconds)})
    found = ctx.accounts.verify(name, password) if name.strip() and password else None
    if found is None:
        log.warning("failed sign-in (name %r, address %s)", name[:80], address)
        flash("That name and password do not match an editor.", "error")
        return render_template("auth/sign_in.html", next=target, name=name), 200
    ctx.limiter.succeeded(attempt)
    token = secrets.token_urlsafe(32)
    now = ctx.clock()
    ctx.roundup.storage.editors.start_session(
        found.id, token_hash(token), now, now + SESSION_LIFETIME
    )
    session.clear()  # a fresh session (and CSRF token) after signing in
    session["sid"] = token
    session.permanent = True
    log.info("editor %r signed in from %s", found.name, address)
    response = redirect(target or url_for("drafts.home"))
    _remember_device(response, found.name)
    return response


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_DEVICE_SALT)


def _known_device(name: str) -> str | None:
    """The id of this browser when it has signed in as ``name`` before (a valid,
    unexpired device cookie for that editor, made under their current password),
    else None: a password change or a removed editor ends the exemption."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 500:
        return None
    try:
        payload = _device_signer().loads(raw, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadData:
        return None
    if not isinstance(payload, dict) or payload.get("name") != name_key(name):
        return None
    device = payload.get("device")
    if not isinstance(device, str) or not device:
        return None
    found = web().roundup.storage.editors.credentials(name.strip())
    if found is None or payload.get("key") != _password_key(found.id, found.password_hash):
        return None
    return device


def _password_key(editor_id: int, password_hash: str) -> str:
    """Ties a device cookie to one editor and their password of the moment."""
    return hashlib.sha256(f"{editor_id}:{password_hash}".encode()).hexdigest()[:24]


def _remember_device(response: BaseResponse, name: str) -> None:
    # Read again: signing in may just have upgraded the stored hash's parameters.
    found = web().roundup.storage.editors.credentials(name)
    if found is None:
        return
    token = _device_signer().dumps(
        {
            "name": name_key(name),
            "device": secrets.token_urlsafe(16),
            "key": _password_key(found.id, found.password_hash),
        }
    )
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        path=url_for("auth.sign_in"),
        secure=current_app.session_interface.get_cookie_secure(current_app),
        httponly=True,
        samesite="Lax",
    )


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> BaseResponse:
    token = session.get("sid")
    if isinstance(token, str) and token:
        web().roundup.storage.editors.end_session(token_hash(token))
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))
