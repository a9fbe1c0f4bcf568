"""Editors' own links from anywhere: the bookmarklet and its confirmation form.

The bookmarklet (offered on ``/bookmarklet``) opens ``/add-link?url=…&title=…``
on this site for the page the editor is reading. That GET only *shows* a
confirmation form ("Add this page to the round-up"), signed-in editors only
(the sign-in page brings them back here); nothing changes until the form is
posted, with its CSRF token, from this site. The address and title come from
another site and are untrusted: they are shown escaped and the address is
checked again when the form is posted (roundup_bot.services.editor_links).
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from roundup_bot.core.errors import DraftError, EditorLinkError
from roundup_bot.entrypoints.web.auth import current_editor
from roundup_bot.entrypoints.web.context import web
from roundup_bot.services.editor_links import (
    MAX_URL_CHARS,
    add_editor_link,
    current_draft,
    parse_link,
)

log = logging.getLogger(__name__)
bp = Blueprint("links", __name__)
MAX_TITLE = 300


def bookmarklet_code(base: str) -> str:
    """The bookmarklet: open this site's confirmation page for the current page."""
    target = json.dumps(base.rstrip("/") + "/add-link?url=")
    return (
        "javascript:(function(){location.href="
        + target
        + "+encodeURIComponent(location.href)+'&title='+encodeURIComponent(document.title)})()"
    )


@bp.get("/bookmarklet")
def bookmarklet() -> str:
    base = web().roundup.settings.web.base_url or request.url_root
    return render_template("links/bookmarklet.html", code=bookmarklet_code(base))


@bp.get("/add-link")
def confirm() -> tuple[str, int]:
    given = (request.args.get("url") or "").strip()[: MAX_URL_CHARS + 1]
    title = " ".join((request.args.get("title") or "").split())[:MAX_TITLE]
    problem = None
    try:
        parse_link(given)
    except EditorLinkError as exc:
        problem = str(exc)
    draft = current_draft(web().roundup, web().clock())
    return (
        render_template(
            "links/confirm.html",
            url=given,
            title=title,
            problem=problem,
            draft=draft if draft is not None and draft.status == "draft" else None,
            closed=draft if draft is not None and draft.status != "draft" else None,
        ),
        400 if problem else 200,
    )


@bp.post("/add-link")
def add() -> BaseResponse | tuple[str, int]:
    given = (request.form.get("url") or "").strip()[: MAX_URL_CHARS + 1]
    raw_draft = (request.form.get("draft") or "").strip()
    draft_id = int(raw_draft) if raw_draft.isascii() and raw_draft.isdecimal() else None
    editor = current_editor()
    app = web().roundup
    try:
        added = add_editor_link(
            app,
            given,
            by=editor.name,
            now=web().clock(),
            draft_id=draft_id if draft_id and len(raw_draft) <= 12 else None,
            to_current_draft=False,
            fetch_details=app.settings.roundup.fetch_link_details,
        )
    except (EditorLinkError, DraftError) as exc:
        body = render_template(
            "links/confirm.html", url=given, title="", problem=str(exc), draft=None, closed=None
        )
        return body, 400
    log.info("editor %r added %s from the bookmarklet", editor.name, added.url)
    name = added.title or added.url
    if added.draft is None:
        flash(f"“{name}” is now a candidate of this week, credited to you.", "success")
        return redirect(url_for("drafts.home"))
    if added.already_in_draft:
        flash(f"“{name}” is already in the draft.", "success")
    else:
        flash(f"Added “{name}” to the {added.draft.week} draft.", "success")
    return redirect(url_for("drafts.edit", draft_id=added.draft.id))
