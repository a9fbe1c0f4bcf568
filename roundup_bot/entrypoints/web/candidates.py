"""The candidates page: the week's candidates, ranked, each with the reasons for its score.

Searchable by words in the title, site, author or address (on the server, so it
works without JavaScript; with it, the list also filters as you type).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from roundup_bot.core.errors import WeekLabelError, WeekOutOfRange
from roundup_bot.core.weeks import next_week, previous_week
from roundup_bot.entrypoints.web.context import web
from roundup_bot.entrypoints.web.draftpage import matches

bp = Blueprint("candidates", __name__)

#: The page lists at most this many (the best first); a search narrows them.
LIMIT = 200


@bp.get("/candidates")
def index() -> str | tuple[str, int]:
    svc = web().service()
    label = (request.args.get("week") or "").strip()
    current = svc.current_week(web().clock())
    try:
        week = svc.week(label) if label else current
    except WeekLabelError as exc:  # not a week label: 400; a week there is not: 404
        code = 404 if isinstance(exc, WeekOutOfRange) else 400
        page = render_template("error.html", code=code, title="No such week", message=str(exc))
        return page, code
    query = (request.args.get("q") or "").strip()[:200]
    ranked = svc.ranked(week)
    words = query.casefold().split()
    matching = [r for r in ranked if matches(r, words)] if words else ranked
    draft = svc.find(week)
    in_draft = {item.candidate_id for item in draft.shown_items} if draft else set()
    week_ends = svc.settings.roundup.week_ends
    return render_template(
        "candidates/index.html",
        week=week,
        current=current,
        earlier=previous_week(week, week_ends),
        later=next_week(week, week_ends) if week.end <= current.start else None,
        query=query,
        total=len(ranked),
        shown=matching[:LIMIT],
        matching=len(matching),
        limit=LIMIT,
        draft=draft,
        in_draft=in_draft,
    )
