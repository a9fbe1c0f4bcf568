"""Scores that explain themselves. Pure: no I/O, no clock.

A candidate's score is the sum of named parts, each with its points and a
sentence for people, so the editors (and ``candidates --json``) can see why
one article ranks above another. The names are stable keys for the JSON;
:func:`plain_reason` says each part in plain words for the editors' page::

    suggestions   [ranking] suggestion_points for each distinct person who suggested it
    feeds         [ranking] feed_points for each feed that carried it
    feed weight   [ranking] weight_points x (the highest weight of those feeds - 1)
    recency       [ranking] recency_points x how far through the week it appeared (0..1)
    keyword       each [ranking] keyword_boosts word in its title or summary, its boost

A candidate from a ``[ranking] blocked_domains`` site, an advert (by its
categories or a title marker, see ``core.exclusions``), one with an
``exclude_keywords`` word, or one already used in an earlier approved or
published round-up, keeps its parts but is *excluded*: it is never picked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from roundup_bot.core.curation import domain_matches, host_of
from roundup_bot.core.exclusions import (
    DEFAULT_EXCLUDE_CATEGORIES,
    DEFAULT_EXCLUDE_TITLE_MARKERS,
    exclusion_rules,
)
from roundup_bot.core.records import Candidate, RankingFacts, Score, ScorePart, Window

#: Rounding each part to 2 places can move a total by a little; bounds allow for it.
_SLACK = 0.05


@dataclass(frozen=True)
class RankingRules:
    """The [ranking] section as the ranking reads it; its defaults are the config's.

    (``config.RankingRules.rules()`` builds it from the validated config.)
    """

    keyword_boosts: Mapping[str, float] = field(default_factory=dict)
    blocked_domains: tuple[str, ...] = ()
    suggestion_points: float = 3.0  # for each distinct person who suggested it
    feed_points: float = 1.0  # for each feed that carried it
    weight_points: float = 2.0  # times (the highest weight of its feeds - 1)
    recency_points: float = 2.0  # times how far through the week it appeared (0..1)
    exclude_categories: tuple[str, ...] = DEFAULT_EXCLUDE_CATEGORIES  # adverts, by category
    exclude_title_markers: tuple[str, ...] = DEFAULT_EXCLUDE_TITLE_MARKERS  # ... by title
    exclude_keywords: tuple[str, ...] = ()  # the user's own: whole words in title or summary


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate with its score, as the ranking ordered it."""

    candidate: Candidate
    score: Score


def _points(value: float) -> float:
    return round(value, 2)


def placed_at(candidate: Candidate) -> datetime:
    """The moment that places a candidate in a week: published if known, else first seen."""
    return candidate.published or candidate.first_seen


@lru_cache(maxsize=256)
def _keyword_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word.strip()) + r"(?!\w)", re.IGNORECASE)


def score_candidate(
    candidate: Candidate,
    week: Window,
    settings: RankingRules,
    *,
    used_in: str | None = None,
) -> Score:
    """Score one candidate of ``week``; ``used_in`` names an earlier round-up that used it."""
    return _Scorer(week, settings).score(candidate, used_in)


class _Scorer:
    """:func:`score_candidate` for one week and rule set, with what every candidate
    shares worked out once (a big week's listing scores 20,000 candidates)."""

    __slots__ = ("_boosts", "_end", "_exclusions", "_length", "_settings", "_start")

    def __init__(self, week: Window, settings: RankingRules) -> None:
        self._start = week.start.timestamp()
        self._end = week.end.timestamp()
        self._length = self._end - self._start
        self._settings = settings
        self._exclusions = exclusion_rules(
            tuple(settings.exclude_categories),
            tuple(settings.exclude_title_markers),
            tuple(settings.exclude_keywords),
        )
        self._boosts = [
            (word.strip(), _keyword_pattern(word), _points(boost))
            for word, boost in settings.keyword_boosts.items()
            if word.strip()
        ]

    def score(self, candidate: Candidate, used_in: str | None) -> Score:
        settings = self._settings
        parts: list[ScorePart] = []
        people = candidate.suggested_by
        if people:
            shown = ", ".join(people[:5]) + (", …" if len(people) > 5 else "")
            noun = "person" if len(people) == 1 else "people"
            parts.append(
                ScorePart(
                    "suggestions",
                    _points(settings.suggestion_points * len(people)),
                    f"suggested by {len(people)} {noun} ({shown})",
                )
            )
        names = [s.name for s in candidate.sources if s.kind == "feed"]
        feed_count = max(len(names), len(candidate.feed_weights))
        if feed_count:
            noun = "feed" if feed_count == 1 else "feeds"
            feed_names = sorted(set(names))
            shown = ", ".join(feed_names[:3]) + (", …" if len(feed_names) > 3 else "")
            parts.append(
                ScorePart(
                    "feeds",
                    _points(settings.feed_points * feed_count),
                    f"carried by {feed_count} {noun}" + (f" ({shown})" if shown else ""),
                )
            )
        if candidate.feed_weights:
            weight = max(candidate.feed_weights)
            if weight != 1.0:
                parts.append(
                    ScorePart(
                        "feed weight",
                        _points(settings.weight_points * (weight - 1.0)),
                        f"from a feed of weight {weight:g}",
                    )
                )
        parts.append(self._recency(placed_at(candidate).timestamp()))
        if self._boosts:
            text = " ".join(filter(None, (candidate.title, candidate.summary)))
            if text:
                for word, pattern, boost in self._boosts:
                    if pattern.search(text):
                        parts.append(ScorePart("keyword", boost, f'mentions "{word}"'))
        total = 0.0
        for part in parts:
            total += part.points
        excluded = None
        blocked = None
        if settings.blocked_domains:
            host = host_of(candidate.url)
            blocked = next((d for d in settings.blocked_domains if domain_matches(host, d)), None)
        if blocked is not None:
            excluded = f"blocked domain {blocked}"
        else:
            excluded = self._exclusions.why(
                candidate.title, candidate.summary, candidate.categories
            )
            if excluded is None and used_in is not None:
                excluded = f"already in the {used_in} round-up"
        return Score(total=_points(total), parts=tuple(parts), excluded=excluded)

    def _recency(self, moment: float) -> ScorePart:
        fraction = _fraction(moment, self._start, self._length)
        left = self._end - moment
        if left <= 0:
            detail = "at the deadline"
        elif left < 86400:
            detail = f"{max(int(left // 3600), 1)} h before the deadline"
        else:
            detail = f"{left / 86400:.1f} days before the deadline"
        return ScorePart("recency", _points(self._settings.recency_points * fraction), detail)


def _fraction(moment: float, start: float, length: float) -> float:
    """How far through a week (``start`` and ``length`` in seconds) ``moment`` is: 0..1."""
    return min(max((moment - start) / length, 0.0), 1.0) if length > 0 else 0.0


def plain_reason(part: ScorePart) -> str:
    """One part of a score in plain words, for the editors' page: what the part's
    ``name`` (a stable key for ``--json``) means, then its ``detail``.

    "new this week: 3.9 days before the deadline", not "recency: appeared 3.9 days
    before the week's end" (which drafts made before this wording still store)."""
    detail = part.detail
    if part.name == "recency":
        detail = detail.removeprefix("appeared ").replace("the end of the week", "the deadline")
        return "new this week: " + detail.replace("the week's end", "the deadline")
    if part.name in ("suggestions", "feeds"):
        return detail  # "suggested by 2 people (@ann, @bob)", "carried by 2 feeds (…)"
    if part.name == "feed weight":
        lead = "a favoured feed" if part.points >= 0 else "a less favoured feed"
        return f"{lead}: {detail}"
    if part.name == "keyword":
        return f"keyword in the settings: {detail}"
    return f"{part.name}: {detail}"


def score_bounds(facts: RankingFacts, week: Window, settings: RankingRules) -> tuple[float, float]:
    """The lowest and highest total :func:`score_candidate` can give a candidate with
    these facts, whatever its text (which only keyword boosts read).

    The parts are not rounded here: rounding each of the (at most four) parts and
    the total moves a score by at most 0.025, well inside the ``_SLACK``."""
    start = week.start.timestamp()
    fraction = _fraction(facts.placed_at, start, week.end.timestamp() - start)
    base = settings.recency_points * fraction
    if facts.people:
        base += settings.suggestion_points * facts.people
    if facts.feeds:
        base += settings.feed_points * facts.feeds
    if facts.max_weight is not None and facts.max_weight != 1.0:
        base += settings.weight_points * (facts.max_weight - 1.0)
    boosts = [_points(b) for w, b in settings.keyword_boosts.items() if w.strip()]
    low = base + sum(b for b in boosts if b < 0)
    high = base + sum(b for b in boosts if b > 0)
    return low - _SLACK, high + _SLACK


def upper_bounds(
    facts: Sequence[RankingFacts], week: Window, settings: RankingRules
) -> list[tuple[float, int]]:
    """(highest possible score, id) for many candidates, best first: the second
    element of :func:`score_bounds`, computed in one pass for a whole week."""
    start = week.start.timestamp()
    length = week.end.timestamp() - start
    boost = sum(_points(b) for w, b in settings.keyword_boosts.items() if w.strip() and b > 0)
    people_points, feed_points = settings.suggestion_points, settings.feed_points
    weight_points, recency_points = settings.weight_points, settings.recency_points
    out = []
    for f in facts:
        high = recency_points * _fraction(f.placed_at, start, length) + boost + _SLACK
        if f.people:
            high += people_points * f.people
        if f.feeds:
            high += feed_points * f.feeds
        weight = f.max_weight
        if weight is not None and weight != 1.0:
            high += weight_points * (weight - 1.0)
        out.append((high, f.id))
    out.sort(key=lambda pair: (-pair[0], pair[1]))
    return out


def rank_key(entry: Ranked) -> tuple[bool, float, float, int]:
    """The ranking order: eligible first, then higher score, newer, seen first."""
    return (
        entry.score.excluded is not None,
        -entry.score.total,
        -placed_at(entry.candidate).timestamp(),
        entry.candidate.id,
    )


def rank(
    candidates: Iterable[Candidate],
    week: Window,
    settings: RankingRules,
    *,
    used: Mapping[int, str] | None = None,
) -> list[Ranked]:
    """Every candidate scored, best first (excluded ones included, last).

    Ties go to the more recent article, then to the one seen first (lower id),
    so the order is stable from one run to the next.
    """
    found = list(candidates)
    scores = score_all(found, week, settings, used=used)
    ranked = [Ranked(c, s) for c, s in zip(found, scores, strict=True)]
    ranked.sort(key=rank_key)
    return ranked


def score_all(
    candidates: Iterable[Candidate],
    week: Window,
    settings: RankingRules,
    *,
    used: Mapping[int, str] | None = None,
) -> list[Score]:
    """:func:`score_candidate` for many candidates of one week, in their order, with
    what they share (the week's times, the compiled rules) worked out once."""
    used = used or {}
    scorer = _Scorer(week, settings)
    return [scorer.score(c, used.get(c.id)) for c in candidates]


def eligible(ranked: Sequence[Ranked]) -> list[Ranked]:
    """Those that may be picked, in rank order."""
    return [r for r in ranked if r.score.excluded is None]


def score_json(score: Score) -> dict[str, object]:
    """The ``score`` and ``why`` fields of the JSON outputs."""
    return {
        "score": score.total,
        "excluded": score.excluded,
        "why": [{"name": p.name, "points": p.points, "detail": p.detail} for p in score.parts],
    }
