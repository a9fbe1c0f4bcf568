"""The week's draft: see it, shape it, preview it, approve it.

``/`` leads to the current week's draft (or offers to make it); ``/drafts/<id>``
is one form (see :mod:`roundup_bot.entrypoints.web.draftform`) whose every button saves
what was typed along with its own action, then redirects back (post/redirect/
get), so the page works the same with JavaScript off. A save against an old
version is refused and the page shows the other editor's version with this
editor's unsaved text kept beside each box it differs from: nothing either
typed is lost.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from roundup_bot.core.errors import (
    AlreadyApproved,
    DraftError,
    DraftNotFound,
    EditorLinkError,
    FormProblem,
    RoundupError,
    StaleDraftError,
    StorageError,
    WeekLabelError,
    WeekOutOfRange,
)
from roundup_bot.core.ranking import Ranked
from roundup_bot.core.records import Draft
from roundup_bot.core.weeks import previous_week
from roundup_bot.entrypoints.web.auth import current_editor
from roundup_bot.entrypoints.web.context import web
from roundup_bot.entrypoints.web.draftform import (
    DETAILS,
    MAX_BLURB,
    MAX_DETAIL,
    MAX_INTRO,
    plan_edits,
    read_form,
)
from roundup_bot.entrypoints.web.draftpage import (
    PageState,
    matches,
    state_after_conflict,
    state_from_draft,
    state_from_submission,
    unsaved_text,
)
from roundup_bot.entrypoints.web.news import News, news_for
from roundup_bot.entrypoints.web.security import preview_headers
from roundup_bot.entrypoints.web.service import MAX_RESULTS, OFFERED, RoundupService
from roundup_bot.services.drafting import DRAFT_BOT
from roundup_bot.services.editor_links import add_editor_link, parse_link
from roundup_bot.services.publish import Published

log = logging.getLogger(__name__)

bp = Blueprint("drafts", __name__)

#: For this long after a week ends, its unpublished round-up comes first on ``/``.
JUST_ENDED = timedelta(days=3)


def service() -> RoundupService:
    return web().service()


def _draft_or_404(draft_id: int) -> Draft:
    try:
        return service().get(draft_id)
    except DraftNotFound:
        abort(404, description=f"There is no draft number {draft_id}.")


# --- searching the week's other candidates --------------------------------------------------


def add_results(draft: Draft, query: str) -> list[Ranked]:
    """The week's candidates not shown in the draft: the best few, or those matching ``query``
    (words in the title, site, author or address)."""
    svc = service()
    shown = {item.candidate_id for item in draft.shown_items}
    ranked = [r for r in svc.ranked(svc.week_of(draft)) if r.candidate.id not in shown]
    words = query.casefold().split()
    if words:
        return [r for r in ranked if matches(r, words)][:MAX_RESULTS]
    return [r for r in ranked if r.score.excluded is None][:OFFERED]


def addable_ids(draft: Draft) -> frozenset[int]:
    svc = service()
    shown = {item.candidate_id for item in draft.shown_items}
    return frozenset(
        r.candidate.id for r in svc.ranked(svc.week_of(draft)) if r.candidate.id not in shown
    )


def render_page(state: PageState, status: int = 200) -> tuple[str, int]:
    if not state.results and state.draft.status == "draft":
        state.results = add_results(state.draft, state.query)
        state.searched = bool(state.query)
    svc = service()
    try:
        news = news_for(svc, state.draft, current_editor().name, web().clock())
    except StorageError as exc:  # what is new is a comfort: the page shows without it
        log.warning("draft %d: what is new could not be read: %s", state.draft.id, exc)
        news = News()
    body = render_template(
        "drafts/edit.html",
        s=state,
        d=state.draft,
        news=news,
        week=svc.week_of(state.draft),
        max_blurb=MAX_BLURB,
        max_intro=MAX_INTRO,
        max_detail=MAX_DETAIL,
        detail_fields=DETAILS,
        published_url=svc.public_url(state.draft),
        **_published_extras(svc, state.draft),
    )
    return body, status


def _published_extras(svc: RoundupService, draft: Draft) -> dict[str, Any]:
    """A published round-up's WordPress post and its "Copy for the blog" texts."""
    if draft.status != "published":
        return {"wordpress": None, "wordpress_edit": None, "blog_copy": None}
    post = svc.wordpress_post(draft)
    return {
        "wordpress": post,
        "wordpress_edit": svc.wordpress_edit_url(post) if post else None,
        "blog_copy": svc.blog_copy(draft),
    }


# --- views ----------------------------------------------------------------------------------


@bp.get("/")
def home() -> BaseResponse | str:
    """The draft editors are working on: the week that has just ended while its
    round-up is not yet published (the weekly draft is made at the week's end),
    else the week in progress; when neither has a draft, offer to make one."""
    svc = service()
    now = web().clock()
    current = svc.current_week(now)
    previous = previous_week(current, svc.settings.roundup.week_ends)
    before = svc.find(previous)
    draft = svc.find(current)
    if (
        before is not None
        and before.status != "published"
        and (draft is None or now - previous.end < JUST_ENDED)
    ):
        return redirect(url_for("drafts.edit", draft_id=before.id))
    if draft is not None:
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    return render_template(
        "drafts/home.html",
        week=current,
        previous=previous if before is None else None,
        published=before,
        drafts=svc.drafts()[:12],
    )


@bp.get("/drafts")
def index() -> str:
    svc = service()
    return render_template(
        "drafts/index.html", drafts=svc.drafts(), week=svc.current_week(web().clock())
    )


@bp.post("/drafts/new")
def create() -> BaseResponse | tuple[str, int]:
    svc = service()
    now = web().clock()
    label = (request.form.get("week") or "").strip()
    try:
        week = svc.week(label) if label else svc.current_week(now)
    except WeekLabelError as exc:  # not a week label: 400; a week there is not: 404
        code = 404 if isinstance(exc, WeekOutOfRange) else 400
        page = render_template("error.html", code=code, title="No such week", message=str(exc))
        return page, code
    editor = current_editor()
    try:
        outcome = svc.make_draft(
            week, now, refresh_details=bool(request.form.get("refresh_details"))
        )
    except RoundupError as exc:
        flash(f"The draft could not be made: {exc}", "error")
        return redirect(url_for("drafts.home"))
    draft = outcome.draft
    log.info("editor %r made the draft for %s (draft %d)", editor.name, week.label, draft.id)
    if outcome.left_alone:
        flash(f"The round-up for week {week.label} is already {draft.status}.", "info")
    elif outcome.created:
        flash(f"Made the draft for week {week.label}.", "success")
    elif request.form.get("refresh_details"):
        flash(
            f"Looked up {outcome.details_fetched} article pages again"
            + (f" ({outcome.details_failed} could not be read)" if outcome.details_failed else "")
            + "; your edits were kept.",
            "success",
        )
    else:
        flash(f"Refreshed the draft for week {week.label}; your edits were kept.", "success")
    return redirect(url_for("drafts.edit", draft_id=draft.id))


@bp.get("/drafts/<int:draft_id>")
def edit(draft_id: int) -> tuple[str, int]:
    draft = _draft_or_404(draft_id)
    state = state_from_draft(draft)
    state.query = (request.args.get("q") or "").strip()[:200]
    return render_page(state)


_DONE = {
    "save": "Saved.",
    "preview": "Saved.",
    "up": "Saved, and moved the item up.",
    "down": "Saved, and moved the item down.",
    "remove": "Saved, and removed the item. It is listed under “Removed” if you want it back.",
    "restore": "Saved, and put the item back at the end of the list.",
    "add": "Saved, and added the article at the end of the list.",
    "link": "Saved.",
}


@bp.post("/drafts/<int:draft_id>")
def save(draft_id: int) -> BaseResponse | tuple[str, int]:
    svc = service()
    draft = _draft_or_404(draft_id)
    if draft.status != "draft":
        state = state_from_draft(draft)
        by = f" (approved by {draft.approved_by})" if draft.approved_by else ""
        state.error = (
            f"This round-up is {draft.status}{by}, so it cannot be changed. Nothing was saved."
            + (" Reopen it first." if draft.status == "approved" else "")
        )
        with contextlib.suppress(FormProblem):  # an unreadable form holds nothing to keep
            state.unsaved = unsaved_text(
                draft, read_form(request.form, request.form.getlist("item"))
            )
        return render_page(state, 409)
    try:
        sub = read_form(request.form, request.form.getlist("item"))
    except FormProblem as problem:
        state = state_from_draft(draft)
        state.error = str(problem) + " Nothing was saved."
        return render_page(state, 400)
    if sub.action.kind == "search":
        state = state_from_submission(draft, sub)
        state.jump_to_results = True
        return render_page(state)
    if sub.version != draft.version:
        stale = StaleDraftError(
            draft.id, sub.version or 0, draft.version, draft.updated_by, draft.updated_at
        )
        return render_page(state_after_conflict(draft, sub, stale), 409)
    editor = current_editor()
    if sub.action.kind == "link":
        try:
            parse_link(sub.new_link)  # a bad address changes nothing, typed text included
        except EditorLinkError as problem:
            state = state_from_submission(draft, sub)
            state.error, state.error_field = f"{problem}. Nothing was saved.", "new_link"
            return render_page(state, 400)
    try:
        addable = addable_ids(draft) if sub.action.kind == "add" else frozenset()
        edits = plan_edits(draft, sub, addable)
        if edits:
            draft = svc.apply(draft.id, edits, draft.version, editor.name, web().clock())
            log.info(
                "editor %r saved draft %d (%s): %s",
                editor.name,
                draft.id,
                draft.week,
                ", ".join(type(edit).__name__ for edit in edits),
            )
    except FormProblem as problem:
        state = state_from_submission(draft, sub)
        state.error, state.error_field = str(problem) + " Nothing was saved.", problem.field
        return render_page(state, 400)
    except StaleDraftError as stale:
        current = svc.get(draft.id)
        return render_page(state_after_conflict(current, sub, stale), 409)
    except DraftError as exc:
        state = state_from_submission(draft, sub)
        state.error = f"Nothing was saved: {exc}."
        return render_page(state, 400)
    kind = sub.action.kind
    if kind == "link":
        return _add_link(draft, sub.new_link, editor.name, saved=bool(edits))
    flash(_DONE[kind] if edits else already_saved(draft, kind, editor.name), "success")
    if kind == "preview":
        return redirect(url_for("drafts.preview", draft_id=draft.id))
    anchor = again = None
    if kind in ("up", "down") and sub.action.target is not None:
        anchor = f"item-{sub.action.target}"
        # With the keyboard, focus comes back to the button just pressed, so pressing
        # it again moves the item again (app.js; without script, the anchor is there).
        again = f"{kind}-{sub.action.target}"
    elif kind in ("restore", "add") and draft.shown_items:
        anchor = f"item-{draft.shown_items[-1].id}"
    query = sub.query if sub.query and kind in ("save", "add") else None
    return redirect(url_for("drafts.edit", draft_id=draft.id, _anchor=anchor, q=query, focus=again))


def _add_link(draft: Draft, link: str, by: str, *, saved: bool) -> BaseResponse:
    """The "Add a link" button: typed text is saved first, then the link joins the draft."""
    svc = service()
    try:
        added = add_editor_link(
            svc.app,
            link,
            by=by,
            now=web().clock(),
            draft_id=draft.id,
            fetch_details=svc.settings.roundup.fetch_link_details,
        )
    except (EditorLinkError, DraftError) as exc:
        flash(f"{'Saved, but the' if saved else 'The'} link was not added: {exc}.", "error")
        return redirect(url_for("drafts.edit", draft_id=draft.id, _anchor="add-link"))
    svc.rankings.clear()
    log.info("editor %r added %s to draft %d", by, added.url, draft.id)
    name = added.title or added.url
    if added.already_in_draft:
        flash(f"“{name}” is already in the draft.", "success")
    else:
        flash(
            f"{'Saved, and added' if saved else 'Added'} “{name}” at the end of the list.",
            "success",
        )
    if added.details_error:
        flash(f"Its page could not be read ({added.details_error}): check its title.", "error")
    shown = added.draft.shown_items if added.draft else ()
    anchor = next((f"item-{i.id}" for i in shown if i.candidate_id == added.candidate_id), None)
    return redirect(url_for("drafts.edit", draft_id=draft.id, _anchor=anchor))


@bp.get("/drafts/<int:draft_id>/preview")
def preview(draft_id: int) -> str | tuple[str, int]:
    draft = _draft_or_404(draft_id)
    svc = service()
    try:
        markdown = svc.render(draft, "markdown")
    except RoundupError as exc:
        return render_template(
            "error.html", code=500, title="The template is broken", message=str(exc)
        ), 500
    return render_template(
        "drafts/preview.html", d=draft, week=svc.week_of(draft), markdown=markdown
    )


@bp.get("/drafts/<int:draft_id>/preview.html")
def preview_html(draft_id: int) -> Response:
    """The round-up exactly as it will be published, for the preview page's frame.

    Served with its own policy: framed by this site only, sandboxed, no script."""
    draft = _draft_or_404(draft_id)
    try:
        html = service().render(draft, "html")
    except RoundupError as exc:
        html = render_template("drafts/broken_template.html", message=str(exc))
    return preview_headers(Response(html, mimetype="text/html"))


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 12 else None


@bp.post("/drafts/<int:draft_id>/approve")
def approve(draft_id: int) -> BaseResponse:
    svc = service()
    draft = _draft_or_404(draft_id)
    version = _version()
    editor = current_editor()
    if version is None:
        flash("The form was damaged; nothing was approved. Reload and try again.", "error")
        return redirect(url_for("drafts.preview", draft_id=draft.id))
    # Publishing cannot be undone from this page, so a first approval needs the
    # box ticked as well as the button pressed: one stray tap publishes nothing.
    # (Publishing an already approved round-up again, after a failure, does not.)
    if draft.status == "draft" and request.form.get("confirm") != "publish":
        flash(
            "Nothing was published: tick “I have checked this preview” first, then Approve.",
            "error",
        )
        return redirect(url_for("drafts.preview", draft_id=draft.id))
    try:
        result = svc.approve(draft.id, editor.name, web().clock(), version)
    except AlreadyApproved as done:  # another editor pressed Approve first: nothing failed
        log.info(
            "editor %r approved draft %d (%s) after %r had: left as it is",
            editor.name,
            draft.id,
            draft.week,
            done.approved_by,
        )
        flash(already_approved(done), "info")
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    except StaleDraftError as stale:
        who = f" by {stale.updated_by}" if stale.updated_by else ""
        flash(
            f"The draft was changed{who} after you previewed it, so it was not approved."
            " Check the preview below and approve again.",
            "error",
        )
        return redirect(url_for("drafts.preview", draft_id=draft.id))
    except RoundupError as exc:
        now_status = svc.get(draft.id).status
        if now_status == "approved":  # approved, but the files could not be written
            log.error("draft %d (%s) approved but not published: %s", draft.id, draft.week, exc)
            flash(
                f"Approved, but publishing failed: {exc}. Once that is fixed, press Publish.",
                "error",
            )
            return redirect(url_for("drafts.edit", draft_id=draft.id))
        flash(f"Not approved: {exc}", "error")
        return redirect(url_for("drafts.preview", draft_id=draft.id))
    log.info("editor %r approved draft %d (%s)", editor.name, draft.id, draft.week)
    url = svc.public_url(result.draft)
    where = f"{result.html_path}" + (f" ({url})" if url else "")
    flash(f"Approved and published to {where}.", "success")
    _flash_wordpress(result)
    _flash_announcements(result)
    return redirect(url_for("drafts.edit", draft_id=draft.id))


_PLATFORMS = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def _flash_announcements(result: Published) -> None:
    """Where the round-up was announced, and which announcement failed (whoever runs
    roundup-bot retries it with `roundup-bot publish`)."""
    done = [_PLATFORMS.get(r.channel, r.channel) for r in result.announcements if r.ok]
    if done:
        flash(f"Announced on {', '.join(done)}.", "success")
    for failed in (r for r in result.announcements if not r.ok):
        name = _PLATFORMS.get(failed.channel, failed.channel)
        log.error("draft %d: announcing on %s failed: %s", result.draft.id, name, failed.error)
        flash(
            f"The announcement on {name} failed ({failed.error}); it is tried again"
            f" with `roundup-bot publish {result.draft.id}`.",
            "error",
        )


def _flash_wordpress(result: Published) -> None:
    post = result.wordpress
    if post is None:
        return
    if post.done:
        flash(
            f"It is on the blog: {post.link or 'post ' + str(post.post_id)} ({post.status}).",
            "success",
        )
        return
    log.error(
        "draft %d (%s) is not on the blog: %s", result.draft.id, result.draft.week, post.error
    )
    flash(
        f"The files are published, but the blog post is not: {post.error}. It is tried again"
        " automatically; you can also press “Try the blog again”.",
        "error",
    )


@bp.post("/drafts/<int:draft_id>/publish-again")
def publish_again(draft_id: int) -> BaseResponse:
    """Retry the steps of publishing that failed (the WordPress post): never a second post."""
    svc = service()
    draft = _draft_or_404(draft_id)
    editor = current_editor()
    if draft.status != "published":
        flash("Only a published round-up's blog post can be tried again here.", "error")
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    try:
        result = svc.publish_again(draft.id, web().clock())
    except RoundupError as exc:
        flash(f"Not published: {exc}", "error")
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    log.info("editor %r retried publishing draft %d (%s)", editor.name, draft.id, draft.week)
    _flash_wordpress(result)
    return redirect(url_for("drafts.edit", draft_id=draft.id))


def already_saved(draft: Draft, kind: str, editor: str) -> str:
    """What a button that changed nothing says: when the draft was last saved and
    by whom. (A bare "Nothing had changed." on the preview, after the editor had
    just pressed Save, read as if their save was lost.)"""
    zone = ZoneInfo(service().settings.roundup.timezone)
    when = f"{draft.updated_at.astimezone(zone):%H:%M on %a %d %b}"
    shows = "This preview shows" if kind == "preview" else "The page shows"
    if draft.updated_by == editor:
        return f"Already saved: you saved it at {when}. {shows} what you saved."
    if draft.updated_by and draft.updated_by != DRAFT_BOT:
        return f"No changes to save. {shows} the draft as {draft.updated_by} saved it at {when}."
    return f"No changes to save. {shows} the draft as it was made at {when}."


def already_approved(done: AlreadyApproved) -> str:
    """What an editor who pressed Approve second is told."""
    who = f" by {done.approved_by}" if done.approved_by else ""
    zone = ZoneInfo(service().settings.roundup.timezone)
    when = f" at {done.approved_at.astimezone(zone):%H:%M}" if done.approved_at else ""
    state = "is published" if done.status == "published" else "is being published"
    return f"Already approved{who}{when}: the round-up {state}. Nothing more to do."


@bp.post("/drafts/<int:draft_id>/reopen")
def reopen(draft_id: int) -> BaseResponse:
    svc = service()
    draft = _draft_or_404(draft_id)
    version = _version()
    editor = current_editor()
    if draft.status != "approved" or version is None:
        reason = (
            "A published round-up is not changed from this page."
            if draft.status == "published"
            else "Only an approved round-up can be reopened."
        )
        flash(f"Not reopened. {reason}", "error")
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    try:
        svc.reopen(draft.id, editor.name, web().clock(), version)
    except RoundupError as exc:
        flash(f"Not reopened: {exc}", "error")
        return redirect(url_for("drafts.edit", draft_id=draft.id))
    log.info("editor %r reopened draft %d (%s)", editor.name, draft.id, draft.week)
    flash("Reopened: the round-up is a draft again and can be edited.", "success")
    return redirect(url_for("drafts.edit", draft_id=draft.id))
