"""What is new on the draft page for the editor looking at it: the parts another
editor changed since they last looked, and the candidates and suggestions that
arrived after the draft was made, each addable in one click.

Every showing of the draft page counts as looking (see
:func:`roundup_bot.core.draft_changes.visit_since` for when marks clear).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from roundup_bot.core.draft_changes import (
    Arrival,
    PartChange,
    PartKey,
    by_editor,
    marks_for,
    since_words,
)
from roundup_bot.core.ranking import Ranked
from roundup_bot.core.records import Draft
from roundup_bot.entrypoints.web.service import RoundupService

#: The draft page lists at most this many new arrivals; the rest are on Candidates.
MAX_ARRIVALS = 10


@dataclass
class News:
    since: datetime | None = None  # where this editor's marks count from; None: first visit
    since_words: str = ""  # "since yesterday"
    marks: dict[PartKey, PartChange] = field(default_factory=dict)
    editors: list[tuple[str, int]] = field(default_factory=list)  # (who, parts changed)
    arrived: list[tuple[Arrival, Ranked]] = field(default_factory=list)  # addable, newest first
    arrived_total: int = 0
    arrived_words: str = ""  # "since Tuesday": since the draft was made

    def item(self, item_id: int) -> PartChange | None:
        return self.marks.get(("item", item_id))

    def part(self, name: str) -> PartChange | None:
        return self.marks.get((name, 0))


def news_for(svc: RoundupService, draft: Draft, editor: str, now: datetime) -> News:
    """Record that ``editor`` is looking at ``draft`` now, and say what is new for them.

    Raises:
        StorageError: the database cannot be read or written.
    """
    zone = ZoneInfo(svc.settings.roundup.timezone)
    views = svc.storage.draft_views
    since = views.visit(draft.id, editor, now)
    marks = marks_for(views.changes(draft.id), editor, since)
    news = News(since=since, marks=marks, editors=by_editor(marks))
    if since is not None:
        news.since_words = since_words(since, now, zone)
    if draft.status != "draft":
        return news
    week = svc.week_of(draft)
    in_draft = {item.candidate_id for item in draft.items}
    ranked = {r.candidate.id: r for r in svc.ranked(week)}
    addable = [
        (a, ranked[a.candidate_id])
        for a in views.arrivals(week.start, week.end, draft.created_at)
        if a.candidate_id in ranked
        and a.candidate_id not in in_draft
        and ranked[a.candidate_id].score.excluded is None
    ]
    news.arrived = addable[:MAX_ARRIVALS]
    news.arrived_total = len(addable)
    news.arrived_words = since_words(draft.created_at, now, zone)
    return news
