"""Making the week's draft: pick, blurb, merge with what editors changed.

The decisions are pure (:func:`starter_blurb`, :func:`with_details`,
:func:`plan_draft`: no I/O, no clock). :func:`draft_week` is the thin
orchestration that the ``draft`` command, the scheduler and the web page all
call::

    storage.drafts.find (approved? leave it alone)
      -> rank_for_draft: storage.drafts.ranking_facts (score bounds for the whole week)
         -> load and rank best-first only what can reach the top (minus earlier round-ups)
      -> plan_draft -> link details for picks the feeds left incomplete (cached; optional)
      -> plan_draft again with the details -> storage.drafts.save_plan (version-checked)

:func:`rank_week` ranks the whole week (the candidates page); :func:`score_candidates`
scores any list of candidates, each in its own week (``roundup-bot candidates``).

The merge rule: a refresh re-picks only what no editor touched. Items an
editor added, moved, re-blurbed or re-titled stay, with their text; items an
editor removed stay removed (and free their slot); the intro and outro stay
once edited. If an editor has reordered anything, the order is theirs and new
picks go at the end; otherwise the items are in score order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from roundup_bot.config import RoundupSettings
from roundup_bot.core.clock import utc_now
from roundup_bot.core.curation import excerpt
from roundup_bot.core.errors import StaleDraftError
from roundup_bot.core.ranking import Ranked, placed_at, rank, score_candidate, upper_bounds
from roundup_bot.core.records import (
    Candidate,
    Draft,
    DraftItem,
    DraftPlan,
    LinkDetails,
    PlannedItem,
    Score,
    Window,
)
from roundup_bot.core.weeks import RoundupWeek, week_by_label, week_containing, week_to_draft

if TYPE_CHECKING:
    from roundup_bot.services.app import App

log = logging.getLogger(__name__)

#: Who a refresh is recorded as, in ``drafts.updated_by``.
DRAFT_BOT = "roundup-bot draft"
BLURB_LIMIT = 300
_SHORT_SENTENCE = 100

_BOILERPLATE = (
    re.compile(r"\s*The post .{1,300}? appeared first on .{1,200}?\.?\s*$", re.IGNORECASE),
    re.compile(r"\s*(Continue reading|Read more|Read the full (post|article|story))\b.*$", re.I),
    re.compile(r"\s*(\[(…|\.\.\.)\]|\((…|\.\.\.)\))\s*$"),
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+(?=[\"'“‘(]?[A-Z0-9])")


# --- pure decisions ----------------------------------------------------------------------


def _clean_summary(text: str) -> str:
    for pattern in _BOILERPLATE:
        text = pattern.sub("", text)
    return text.strip()


def starter_blurb(candidate: Candidate) -> str:
    """A sentence or two from the summary (else the page's description) for the editor
    to rewrite. Empty when there is nothing to start from."""
    source = candidate.summary or candidate.description or ""
    text = _clean_summary(source)
    if not text:
        return ""
    sentences = _SENTENCE_END.split(text)
    blurb = sentences[0]
    if len(blurb) < _SHORT_SENTENCE and len(sentences) > 1:
        blurb = f"{blurb} {sentences[1]}"
    return excerpt(blurb.strip(), BLURB_LIMIT) or ""


def with_details(candidate: Candidate, details: LinkDetails | None) -> Candidate:
    """Fill what the feed or tweet lacked from what the page said; never overwrite."""
    if details is None or not details.ok:
        return candidate
    return replace(
        candidate,
        title=candidate.title or details.title,
        author=candidate.author or details.author,
        site_name=candidate.site_name or details.site_name,
        description=candidate.description or details.description,
    )


def lacks_details(candidate: Candidate) -> bool:
    """Whether the feed or tweet left out something the round-up shows: a title, an
    author, something to start the blurb from, or (for a link only tweeted) the blog."""
    from_feed = any(source.kind == "feed" for source in candidate.sources)
    return (
        not candidate.title
        or not candidate.author
        or not (candidate.summary or candidate.description)
        or not (from_feed or candidate.site_name)
    )


def _touched(item: DraftItem) -> bool:
    return item.added_by_editor or item.blurb_edited or item.moved_by_editor or item.details_edited


def plan_draft(
    *,
    roundup: str,
    week: RoundupWeek,
    settings: RoundupSettings,
    ranked: Sequence[Ranked],
    existing: Draft | None,
) -> DraftPlan:
    """Decide a new draft, or the refresh of ``existing``, from the week's ranking.

    ``ranked`` is :func:`ranking.rank`'s output (excluded candidates included,
    for their scores); only eligible ones are picked.
    """
    known = {r.candidate.id: r for r in ranked}
    rank_index = {r.candidate.id: index for index, r in enumerate(ranked)}
    items = existing.items if existing is not None else ()
    removed = [item for item in items if item.removed]
    kept = [item for item in items if not item.removed and _touched(item)]
    taken = {item.candidate_id for item in removed} | {item.candidate_id for item in kept}
    slots = max(settings.max_items - len(kept), 0)
    picks = [r for r in ranked if r.score.excluded is None and r.candidate.id not in taken][:slots]
    picked_ids = {r.candidate.id for r in picks}
    by_candidate = {item.candidate_id: item for item in items}
    deleted = tuple(
        item.id
        for item in items
        if not item.removed and not _touched(item) and item.candidate_id not in picked_ids
    )

    editor_ordered = any(item.moved_by_editor for item in kept)
    shown_ids: list[int]
    if editor_ordered:
        surviving = [
            item.candidate_id
            for item in items
            if not item.removed and (_touched(item) or item.candidate_id in picked_ids)
        ]
        fresh = [r.candidate.id for r in picks if r.candidate.id not in by_candidate]
        shown_ids = surviving + fresh
    else:

        def order(candidate_id: int) -> tuple[float, int]:
            if candidate_id in known:
                return (-known[candidate_id].score.total, rank_index[candidate_id])
            return (-by_candidate[candidate_id].score, len(ranked))

        shown_ids = sorted([item.candidate_id for item in kept] + list(picked_ids), key=order)

    planned: list[PlannedItem] = []
    for position, candidate_id in enumerate(
        shown_ids + [item.candidate_id for item in removed], start=1
    ):
        item = by_candidate.get(candidate_id)
        entry = known.get(candidate_id)
        if entry is not None:
            score, why = entry.score.total, entry.score.parts
        else:
            score, why = (item.score, item.why) if item is not None else (0.0, ())
        blurb: str | None = None
        if entry is not None and (item is None or not item.blurb_edited):
            blurb = starter_blurb(entry.candidate)
        planned.append(
            PlannedItem(
                candidate_id=candidate_id,
                position=position,
                score=score,
                why=why,
                item_id=item.id if item is not None else None,
                blurb=blurb,
            )
        )
    return DraftPlan(
        roundup=roundup,
        week=week.label,
        period_start=week.start,
        period_end=week.end,
        title=settings.title,
        intro=None if existing is not None and existing.intro_edited else settings.intro,
        outro=None if existing is not None and existing.outro_edited else settings.outro,
        items=tuple(planned),
        delete_item_ids=deleted,
        draft_id=existing.id if existing is not None else None,
        expected_version=existing.version if existing is not None else None,
    )


# --- orchestration -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftOutcome:
    """What ``draft_week`` did."""

    draft: Draft
    created: bool  # a new draft (else refreshed, or left alone)
    left_alone: str | None = None  # why it was not touched (approved or published)
    details_fetched: int = 0  # article pages read now
    details_failed: int = 0  # of those, how many could not be read


def resolve_week(app: App, label: str | None, now: datetime) -> RoundupWeek:
    """The week named ``label``, else the one that ends next. Raises WeekLabelError.

    ``"nearest"`` is the week whose end is nearest ``now``, as the daemon's draft
    job picks it: a cron line at the week's end drafts the week just ended, not
    the empty one that has just begun.
    """
    roundup = app.settings.roundup
    if label and label.strip().lower() == "nearest":
        return week_to_draft(now, roundup.timezone, roundup.week_ends)
    if label:
        return week_by_label(label, roundup.timezone, roundup.week_ends)
    return week_containing(now, roundup.timezone, roundup.week_ends)


def rank_week(app: App, week: RoundupWeek) -> list[Ranked]:
    """Every candidate of the week with its score and reasons, best first (the
    candidates page and ``candidates --week``)."""
    settings = app.settings
    found = app.storage.candidates.list(week.start, week.end)
    used = app.storage.drafts.used_elsewhere(
        settings.roundup.name, week.label, [c.id for c in found]
    )
    return rank(found, Window(week.start, week.end), settings.ranking.rules(), used=used)


def rank_for_draft(app: App, week: RoundupWeek, existing: Draft | None) -> list[Ranked]:
    """The part of the week's ranking a draft needs: every candidate that could be
    picked, in rank order, plus the existing items' candidates; the same picks as
    :func:`rank_week` without loading the whole week.

    The database counts each candidate's score ingredients; :func:`score_bounds`
    turns them into the lowest and highest score its text could give. Candidates
    are loaded and scored exactly in order of their highest possible score, until
    enough eligible ones score above anything not yet loaded.
    """
    settings = app.settings
    window = Window(week.start, week.end)
    rules = settings.ranking.rules()
    facts = app.storage.drafts.ranking_facts(week.start, week.end)
    bounded = upper_bounds(facts, window, rules)
    in_week = {f.id for f in facts}
    items = existing.items if existing is not None else ()
    must = [item.candidate_id for item in items if item.candidate_id in in_week]
    need = settings.roundup.max_items + len(items)
    batch = max(4 * need, 100)
    loaded: dict[int, Candidate] = {}
    used: dict[int, str] = {}
    scores: list[float] = []
    position = 0
    while True:
        wanted = [cid for _high, cid in bounded[position : position + batch]]
        wanted += [cid for cid in must if cid not in loaded and cid not in wanted]
        position += batch
        found = app.storage.candidates.list(ids=wanted) if wanted else []
        used.update(
            app.storage.drafts.used_elsewhere(
                settings.roundup.name, week.label, [c.id for c in found]
            )
        )
        for entry in rank(found, window, rules, used=used):
            loaded[entry.candidate.id] = entry.candidate
            if entry.score.excluded is None:
                scores.append(entry.score.total)
        if position >= len(bounded):
            break
        scores.sort(reverse=True)
        if len(scores) >= need and scores[need - 1] > bounded[position][0]:
            break
    return rank(loaded.values(), window, rules, used=used)


def score_candidates(app: App, found: Iterable[Candidate]) -> dict[int, Score]:
    """Scores for any candidates, each within its own round-up week."""
    settings = app.settings.roundup
    by_week: dict[str, tuple[RoundupWeek, list[Candidate]]] = {}
    week: RoundupWeek | None = None
    for candidate in found:
        moment = placed_at(candidate)
        if week is None or not week.contains(moment):
            week = week_containing(moment, settings.timezone, settings.week_ends)
        by_week.setdefault(week.label, (week, []))[1].append(candidate)
    scores: dict[int, Score] = {}
    rules = app.settings.ranking.rules()
    for each, members in by_week.values():
        window = Window(each.start, each.end)
        used = app.storage.drafts.used_elsewhere(settings.name, each.label, [c.id for c in members])
        for candidate in members:
            scores[candidate.id] = score_candidate(
                candidate, window, rules, used_in=used.get(candidate.id)
            )
    return scores


def draft_week(
    app: App,
    week: RoundupWeek,
    *,
    now: datetime | None = None,
    fetch_details: bool | None = None,
    attempts: int = 3,
) -> DraftOutcome:
    """Create the week's draft, or refresh it keeping every editor change.

    An approved or published draft is returned untouched with ``left_alone``
    saying why. ``fetch_details`` (default ``[roundup] fetch_link_details``)
    reads the picked articles' pages for what the feeds lacked.

    Raises:
        StorageError: the database failed.
        StaleDraftError: editors kept saving while this ran (after ``attempts``).
    """
    now = now or utc_now()
    settings = app.settings.roundup
    if fetch_details is None:
        fetch_details = settings.fetch_link_details
    for attempt in range(1, attempts + 1):
        existing = app.storage.drafts.find(settings.name, week.label)
        if existing is not None and existing.status != "draft":
            who = f" by {existing.approved_by}" if existing.approved_by else ""
            return DraftOutcome(
                draft=existing,
                created=False,
                left_alone=(
                    f"the {week.label} round-up (draft {existing.id}) is {existing.status}{who};"
                    f" left alone (use `roundup-bot reopen {existing.id}` to change it)"
                ),
            )
        ranked = rank_for_draft(app, week, existing)
        plan = plan_draft(
            roundup=settings.name, week=week, settings=settings, ranked=ranked, existing=existing
        )
        details, fetched, failed = _link_details(app, plan, ranked, now, fetch_details)
        if details:
            ranked = [
                Ranked(with_details(r.candidate, details.get(r.candidate.url)), r.score)
                for r in ranked
            ]
            plan = plan_draft(
                roundup=settings.name,
                week=week,
                settings=settings,
                ranked=ranked,
                existing=existing,
            )
        try:
            draft = app.storage.drafts.save_plan(plan, now=now, by=DRAFT_BOT)
        except StaleDraftError:
            if attempt == attempts:
                raise
            log.info("draft for %s changed while refreshing; trying again", week.label)
            continue
        return DraftOutcome(
            draft=draft,
            created=existing is None,
            details_fetched=fetched,
            details_failed=failed,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _link_details(
    app: App,
    plan: DraftPlan,
    ranked: Sequence[Ranked],
    now: datetime,
    fetch: bool,
) -> tuple[dict[str, LinkDetails], int, int]:
    """Cached (and, when ``fetch``, freshly fetched) details of the planned items."""
    by_id = {r.candidate.id: r.candidate for r in ranked}
    planned = [by_id[i.candidate_id] for i in plan.items if i.candidate_id in by_id]
    urls = [c.url for c in planned]
    if not urls:
        return {}, 0, 0
    cached = app.storage.link_details.get_many(urls)
    fetched: list[LinkDetails] = []
    wanted = [c.url for c in planned if lacks_details(c)]
    if fetch and wanted:
        from roundup_bot.adapters.pages import refresh_link_details

        max_age = timedelta(seconds=app.settings.roundup.link_details_max_age_seconds)
        fetched = refresh_link_details(wanted, cached, app.link_policy(), now, max_age=max_age)
        for details in fetched:
            app.storage.link_details.save(details)
            if not details.ok:
                log.info("no link details for %s: %s", details.url, details.error)
    merged = {**cached, **{d.url: d for d in fetched}}
    return merged, len(fetched), sum(1 for d in fetched if not d.ok)
