"""Making the week's draft: pick, blurb, merge with what editors changed.

The decisions are pure (:func:`starter_blurb`, :func:`with_details`,
:func:`plan_draft`, and ``core.picking``, ``core.blurbs``, ``core.credits``,
``core.addresses``: no I/O, no clock). :func:`draft_week` is the thin
orchestration that the ``draft`` command, the scheduler and the web page all
call::

    storage.drafts.find (approved? leave it alone)
      -> rank_for_draft: storage.drafts.ranking_facts (score bounds for the whole week)
         -> load and rank best-first only what can reach the top (minus earlier round-ups)
      -> plan_draft (fair picks: at most [roundup] max_per_source from one blog)
      -> the picks' pages (cached; optional): true address, credits, description, lead
         -> a pick whose page led elsewhere moves there, merging with the candidate
            already there (storage.addresses) -> rank and plan again (a few rounds)
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
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from roundup_bot.config import RoundupSettings
from roundup_bot.core.addresses import AliasReason, TrueAddress
from roundup_bot.core.blurbs import BlurbSource, BlurbStart, choose_start, unquoted
from roundup_bot.core.clock import utc_now
from roundup_bot.core.credits import credit, link_blog_source
from roundup_bot.core.errors import StaleDraftError
from roundup_bot.core.picking import Picks, blog_key, blog_name, cap_part, pick_fairly
from roundup_bot.core.ranking import Ranked, placed_at, rank, score_all, upper_bounds
from roundup_bot.core.records import (
    Candidate,
    Draft,
    DraftItem,
    DraftPlan,
    LinkDetails,
    PlannedItem,
    Score,
    ScorePart,
    Window,
)
from roundup_bot.core.weeks import RoundupWeek, week_by_label, week_containing, week_to_draft

if TYPE_CHECKING:
    from roundup_bot.services.app import App

log = logging.getLogger(__name__)

#: Who a refresh is recorded as, in ``drafts.updated_by``.
DRAFT_BOT = "roundup-bot draft"
#: Rounds of "resolve the picks' addresses, merge, pick again" before the picks are final.
_RESOLVE_ROUNDS = 3


# --- pure decisions ----------------------------------------------------------------------


Quote = Callable[[BlurbStart, Candidate], str]


def plain_quote(start: BlurbStart, candidate: Candidate) -> str:
    """The packaged blurb template's wording, for callers without templates: words in
    the first person are quoted and attributed; anything else is the text itself."""
    if not start.first_person:
        return start.text
    who = start.speaker or candidate.site_name or "The author"
    return f"{who}: \u201c{unquoted(start.text)}\u201d"


def blurb_sources(candidate: Candidate, details: LinkDetails | None) -> list[BlurbSource]:
    """Where a starter blurb may come from, best first, each with whose words it is.

    A link blog's own summary is the link blogger's comment: the linked page's
    description and first paragraph come first, and a quote from the summary is
    attributed to the link blogger, never to the article's author.
    """
    page = details if details is not None and details.ok else None
    page_author = page.author if page is not None else None
    page_description = page.description if page is not None else None
    lead = page.lead if page is not None else None
    shown = credit(
        url=candidate.url,
        sources=candidate.sources,
        author=candidate.author,
        site_name=candidate.site_name,
        page_author=page_author,
        page_site_name=page.site_name if page is not None else None,
    )
    description = candidate.description or page_description
    if link_blog_source(candidate.url, candidate.sources) is not None:
        return [
            BlurbSource("description", page_description, shown.author),
            BlurbSource("lead", lead, shown.author),
            BlurbSource("summary", candidate.summary, candidate.author or shown.via),
        ]
    return [
        BlurbSource("summary", candidate.summary, shown.author),
        BlurbSource("description", description, shown.author),
        BlurbSource("lead", lead, shown.author),
    ]


def starter_blurb(
    candidate: Candidate,
    details: LinkDetails | None = None,
    quote: Quote = plain_quote,
) -> str:
    """One or two whole sentences for the editor to keep or rewrite, from the first
    usable of the feed's summary, the page's description and the page's first real
    paragraph (see ``core.blurbs``), worded by ``quote`` (the ``[roundup]
    blurb_template``). Empty when there is nothing to start from."""
    start = choose_start(blurb_sources(candidate, details), candidate.title)
    if start is None:
        return ""
    return quote(start, candidate).strip()


def with_details(candidate: Candidate, details: LinkDetails | None) -> Candidate:
    """Fill what the feed or tweet lacked from what the page said; never overwrite."""
    if details is None or not details.ok:
        return candidate
    return replace(
        candidate,
        title=candidate.title or details.title,
        site_name=candidate.site_name or details.site_name,
    )


def fair_picks(
    ranked: Sequence[Ranked],
    *,
    slots: int,
    max_per_source: int,
    taken: Collection[int] = frozenset(),
    kept_blogs: Iterable[str] = (),
) -> Picks:
    """The automatic picks: the best eligible candidates not ``taken``, at most
    ``max_per_source`` from one blog (``kept_blogs`` already in the draft)."""
    eligible_ids = (  # lazily: picking stops once the places are filled
        (r.candidate.id, blog_key(r.candidate))
        for r in ranked
        if r.score.excluded is None and r.candidate.id not in taken
    )
    return pick_fairly(eligible_ids, slots, max_per_source, kept_blogs)


def cap_notes(ranked: Sequence[Ranked], settings: RoundupSettings) -> dict[int, ScorePart]:
    """For ``candidates --json`` and the candidates page: the candidates the cap held
    back from a fresh draft of this ranking, each with a ``why`` entry saying so."""
    picks = fair_picks(ranked, slots=settings.max_items, max_per_source=settings.max_per_source)
    by_id = {r.candidate.id: r.candidate for r in ranked}
    return {
        cid: cap_part(blog_name(by_id[cid]), settings.max_per_source) for cid in picks.held_back
    }


def _touched(item: DraftItem) -> bool:
    return item.added_by_editor or item.blurb_edited or item.moved_by_editor or item.details_edited


def plan_draft(
    *,
    roundup: str,
    week: RoundupWeek,
    settings: RoundupSettings,
    ranked: Sequence[Ranked],
    existing: Draft | None,
    details: Mapping[str, LinkDetails] | None = None,
    quote: Quote = plain_quote,
) -> DraftPlan:
    """Decide a new draft, or the refresh of ``existing``, from the week's ranking.

    ``ranked`` is :func:`ranking.rank`'s output (excluded candidates included,
    for their scores); only eligible ones are picked, at most ``[roundup]
    max_per_source`` from one blog (items an editor kept count too). ``details``
    (by candidate URL) is what the articles' pages said, for the starter blurbs.
    """
    details = details or {}
    known = {r.candidate.id: r for r in ranked}
    rank_index = {r.candidate.id: index for index, r in enumerate(ranked)}
    items = existing.items if existing is not None else ()
    removed = [item for item in items if item.removed]
    kept = [item for item in items if not item.removed and _touched(item)]
    taken = {item.candidate_id for item in removed} | {item.candidate_id for item in kept}
    slots = max(settings.max_items - len(kept), 0)
    kept_blogs = [
        blog_key(known[i.candidate_id].candidate) for i in kept if i.candidate_id in known
    ]
    chosen = fair_picks(
        ranked,
        slots=slots,
        max_per_source=settings.max_per_source,
        taken=taken,
        kept_blogs=kept_blogs,
    ).ids
    picks = [known[cid] for cid in chosen]
    picked_ids = set(chosen)
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
            blurb = starter_blurb(entry.candidate, details.get(entry.candidate.url), quote)
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
    moved: int = 0  # candidates given their true address
    merged: int = 0  # candidates found to be another's article and merged into it


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
    candidates page); those the ``max_per_source`` cap holds back say so."""
    settings = app.settings
    found = app.storage.candidates.list(week.start, week.end)
    used = app.storage.drafts.used_elsewhere(
        settings.roundup.name, week.label, [c.id for c in found]
    )
    ranked = rank(found, Window(week.start, week.end), settings.ranking.rules(), used=used)
    return with_cap_notes(ranked, settings.roundup)


def with_cap_notes(ranked: Sequence[Ranked], settings: RoundupSettings) -> list[Ranked]:
    """``ranked`` with a ``cap`` part added to the ``why`` of each candidate the
    ``max_per_source`` cap would hold back from a fresh draft (no points)."""
    notes = cap_notes(ranked, settings)
    return [
        Ranked(r.candidate, replace(r.score, parts=(*r.score.parts, notes[r.candidate.id])))
        if r.candidate.id in notes
        else r
        for r in ranked
    ]


def rank_for_draft(app: App, week: RoundupWeek, existing: Draft | None) -> list[Ranked]:
    """The part of the week's ranking a draft needs: every candidate that could be
    picked, in rank order, plus the existing items' candidates; the same picks as
    :func:`rank_week` without loading the whole week.

    The database counts each candidate's score ingredients; :func:`score_bounds`
    turns them into the lowest and highest score its text could give. Candidates
    are loaded and scored exactly in order of their highest possible score, until
    enough eligible ones score above anything not yet loaded, counting at most
    ``[roundup] max_per_source`` from each blog (the rest could not be picked).
    """
    settings = app.settings
    window = Window(week.start, week.end)
    rules = settings.ranking.rules()
    facts = app.storage.drafts.ranking_facts(week.start, week.end)
    bounded = upper_bounds(facts, window, rules)
    in_week = {f.id for f in facts}
    items = existing.items if existing is not None else ()
    must = [item.candidate_id for item in items if item.candidate_id in in_week]
    # Kept items may use up a blog's share, and removed ones are not picked again:
    # enough spare candidates for both.
    need = settings.roundup.max_items + 2 * len(items)
    cap = settings.roundup.max_per_source
    batch = max(4 * need, 100)
    loaded: dict[int, Candidate] = {}
    used: dict[int, str] = {}
    eligible: list[tuple[float, str]] = []
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
                eligible.append((entry.score.total, blog_key(entry.candidate)))
        if position >= len(bounded):
            break
        eligible.sort(key=lambda pair: -pair[0])
        per_blog: Counter[str] = Counter()
        scores: list[float] = []
        for score, blog in eligible:
            if not cap or per_blog[blog] < cap:
                per_blog[blog] += 1
                scores.append(score)
        if len(scores) >= need and scores[need - 1] > bounded[position][0]:
            break
    return rank(loaded.values(), window, rules, used=used)


def rank_candidates(app: App, found: Iterable[Candidate]) -> list[Ranked]:
    """Any candidates, each scored within its own round-up week: the newest week
    first, each week best first; a candidate the ``max_per_source`` cap would hold
    back from a fresh draft says so in its ``why`` (``roundup-bot candidates``)."""
    settings = app.settings.roundup
    rules = app.settings.ranking.rules()
    out: list[Ranked] = []
    for week, members, used in _by_week(app, found):
        ranked = rank(members, Window(week.start, week.end), rules, used=used)
        out.extend(with_cap_notes(ranked, settings))
    return out


def score_candidates(app: App, found: Iterable[Candidate]) -> dict[int, Score]:
    """Scores for any candidates, each within its own round-up week."""
    rules = app.settings.ranking.rules()
    scores: dict[int, Score] = {}
    for week, members, used in _by_week(app, found):
        each_score = score_all(members, Window(week.start, week.end), rules, used=used)
        scores.update((c.id, score) for c, score in zip(members, each_score, strict=True))
    return scores


def _by_week(
    app: App, found: Iterable[Candidate]
) -> list[tuple[RoundupWeek, list[Candidate], dict[int, str]]]:
    """The candidates grouped by their round-up week, newest week first, each with
    those of them an earlier round-up already used (and its week)."""
    settings = app.settings.roundup
    by_week: dict[str, tuple[RoundupWeek, list[Candidate]]] = {}
    week: RoundupWeek | None = None
    for candidate in found:
        moment = placed_at(candidate)
        if week is None or not week.contains(moment):
            week = week_containing(moment, settings.timezone, settings.week_ends)
        by_week.setdefault(week.label, (week, []))[1].append(candidate)
    return [
        (
            each,
            members,
            app.storage.drafts.used_elsewhere(settings.name, each.label, [c.id for c in members]),
        )
        for each, members in sorted(by_week.values(), key=lambda pair: pair[0].end, reverse=True)
    ]


def draft_week(
    app: App,
    week: RoundupWeek,
    *,
    now: datetime | None = None,
    fetch_details: bool | None = None,
    refresh_details: bool = False,
    attempts: int = 3,
) -> DraftOutcome:
    """Create the week's draft, or refresh it keeping every editor change.

    An approved or published draft is returned untouched with ``left_alone``
    saying why. ``fetch_details`` (default ``[roundup] fetch_link_details``)
    reads the picked articles' pages: their true addresses (merging candidates
    that turn out to be one article, then picking again), credits and text for
    the starter blurbs. ``refresh_details`` reads them again even when what they
    said is cached.

    Raises:
        StorageError: the database failed.
        StaleDraftError: editors kept saving while this ran (after ``attempts``).
        TemplateError: the ``[roundup] blurb_template`` is missing or broken.
    """
    now = now or utc_now()
    settings = app.settings.roundup
    if fetch_details is None:
        fetch_details = settings.fetch_link_details
    quote = _template_quote(app)
    fetched_urls: set[str] = set()
    tally = _Tally()
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
        details: dict[str, LinkDetails] = {}
        for round_ in range(_RESOLVE_ROUNDS + 1):
            details = _link_details(
                app, plan, ranked, now, fetch_details, refresh_details, fetched_urls, tally
            )
            # The last round only reads the pages of the final picks.
            if round_ == _RESOLVE_ROUNDS or not _move_to_true_addresses(
                app, plan, ranked, details, now, tally
            ):
                break
            # Candidates merged or moved: pick again from the new ranking.
            existing = app.storage.drafts.find(settings.name, week.label)
            ranked = rank_for_draft(app, week, existing)
            plan = plan_draft(
                roundup=settings.name,
                week=week,
                settings=settings,
                ranked=ranked,
                existing=existing,
            )
        ranked = [
            Ranked(with_details(r.candidate, details.get(r.candidate.url)), r.score) for r in ranked
        ]
        plan = plan_draft(
            roundup=settings.name,
            week=week,
            settings=settings,
            ranked=ranked,
            existing=existing,
            details=details,
            quote=quote,
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
            details_fetched=tally.fetched,
            details_failed=tally.failed,
            moved=tally.moved,
            merged=tally.merged,
        )
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _Tally:
    fetched: int = 0
    failed: int = 0
    moved: int = 0
    merged: int = 0


def _template_quote(app: App) -> Quote:
    """Starter blurbs worded by the ``[roundup] blurb_template`` (text, no markup)."""
    from roundup_bot.adapters.render import renderer_for

    renderer = renderer_for(app.settings)
    name = app.settings.roundup.blurb_template

    def quote(start: BlurbStart, candidate: Candidate) -> str:
        return renderer.render_template(
            name,
            fmt="text",
            text=unquoted(start.text) if start.first_person else start.text,
            first_person=start.first_person,
            author=start.speaker,
            site_name=candidate.site_name,
            title=candidate.title,
            source=start.kind,
        )

    return quote


def _planned(plan: DraftPlan, ranked: Sequence[Ranked]) -> list[Candidate]:
    by_id = {r.candidate.id: r.candidate for r in ranked}
    return [by_id[i.candidate_id] for i in plan.items if i.candidate_id in by_id]


def _link_details(
    app: App,
    plan: DraftPlan,
    ranked: Sequence[Ranked],
    now: datetime,
    fetch: bool,
    refresh: bool,
    fetched_urls: set[str],
    tally: _Tally,
) -> dict[str, LinkDetails]:
    """Cached (and, when ``fetch``, freshly fetched) details of the planned items'
    pages; with ``refresh`` each page is read again once in this run."""
    urls = [c.url for c in _planned(plan, ranked)]
    if not urls:
        return {}
    cached = app.storage.link_details.get_many(urls)
    fetched: list[LinkDetails] = []
    if fetch:
        from roundup_bot.adapters.pages import refresh_link_details

        max_age = timedelta(seconds=app.settings.roundup.link_details_max_age_seconds)
        known = {url: d for url, d in cached.items() if not refresh or url in fetched_urls}
        wanted = [url for url in urls if url not in fetched_urls or url not in cached]
        fetched = refresh_link_details(wanted, known, app.link_policy(), now, max_age=max_age)
        for details in fetched:
            fetched_urls.add(details.url)
            app.storage.link_details.save(details)
            if details.resolved_url:
                # The same page under its true address, so the moved candidate has it.
                fetched_urls.add(details.resolved_url)
                app.storage.link_details.save(
                    replace(
                        details, url=details.resolved_url, resolved_url=None, resolved_reason=None
                    )
                )
            if not details.ok:
                log.info("no link details for %s: %s", details.url, details.error)
        tally.fetched += len(fetched)
        tally.failed += sum(1 for d in fetched if not d.ok)
    return {**cached, **{d.url: d for d in fetched}}


def _move_to_true_addresses(
    app: App,
    plan: DraftPlan,
    ranked: Sequence[Ranked],
    details: Mapping[str, LinkDetails],
    now: datetime,
    tally: _Tally,
) -> bool:
    """Give each planned candidate whose page led elsewhere its true address, merging
    it with the candidate already there; True when anything changed."""
    changed = False
    for candidate in _planned(plan, ranked):
        found = details.get(candidate.url)
        if found is None or not found.ok or not found.resolved_url:
            continue
        reason: AliasReason = "canonical" if found.resolved_reason == "canonical" else "redirect"
        moved = app.storage.addresses.move(
            candidate.id, TrueAddress(found.resolved_url, reason), now=now, by=DRAFT_BOT
        )
        if moved is None:
            continue
        changed = True
        if moved.merged_id is not None:
            tally.merged += 1
            log.info(
                "candidate %s (%s) is the same article as candidate %s (%s): merged",
                moved.merged_id,
                candidate.url,
                moved.candidate_id,
                found.resolved_url,
            )
        else:
            tally.moved += 1
            log.info("candidate %s moved to its true address %s", candidate.id, found.resolved_url)
    return changed
