"""The ranking: order and the explanation of each score."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from roundup_bot.core.ranking import (
    RankingRules,
    eligible,
    plain_reason,
    rank,
    score_bounds,
    score_candidate,
    score_json,
    upper_bounds,
)
from roundup_bot.core.records import Candidate, CandidateSource, RankingFacts, ScorePart, Window

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WEEK = Window(START, START + timedelta(days=7))


def candidate(
    cid: int,
    *,
    day: float = 3.0,
    feeds: tuple[str, ...] = ("Blog A",),
    weights: tuple[float, ...] | None = None,
    tips: tuple[str, ...] = (),
    title: str = "A post",
    summary: str | None = None,
    host: str = "blog.example.gov.uk",
) -> Candidate:
    when = START + timedelta(days=day)
    return Candidate(
        id=cid,
        url=f"https://{host}/{cid}",
        link=f"https://{host}/{cid}",
        title=title,
        author=None,
        published=when,
        first_seen=when,
        summary=summary,
        sources=tuple(CandidateSource("feed", name, f"https://f/{name}") for name in feeds),
        suggested_by=tips,
        feed_weights=weights if weights is not None else tuple(1.0 for _ in feeds),
    )


def parts(score: object) -> dict[str, float]:
    return {p.name: p.points for p in score.parts}  # type: ignore[attr-defined]


def test_each_part_is_named_with_its_points_and_they_add_up() -> None:
    settings = RankingRules(keyword_boosts={"digital": 1.5, "cats": -4.0})
    c = candidate(
        1,
        day=7.0,
        feeds=("Blog A", "Blog B"),
        weights=(1.5, 1.0),
        tips=("@ann", "@bob"),
        title="Digital services in Leeds",
    )
    score = score_candidate(c, WEEK, settings)
    assert parts(score) == {
        "suggestions": 6.0,  # 2 people x 3
        "feeds": 2.0,  # 2 feeds x 1
        "feed weight": 1.0,  # 2 x (1.5 - 1)
        "recency": 2.0,  # at the very end of the week
        "keyword": 1.5,
    }
    assert score.total == 12.5
    assert score.excluded is None
    details = {p.name: p.detail for p in score.parts}
    assert details["suggestions"] == "suggested by 2 people (@ann, @bob)"
    assert details["feeds"] == "carried by 2 feeds (Blog A, Blog B)"
    assert details["keyword"] == 'mentions "digital"'
    as_json = score_json(score)
    assert as_json["score"] == 12.5
    assert {"name": "keyword", "points": 1.5, "detail": 'mentions "digital"'} in as_json["why"]


def test_keywords_match_whole_words_in_title_or_summary_case_insensitively() -> None:
    settings = RankingRules(keyword_boosts={"AI": 2.0})
    assert "keyword" in parts(
        score_candidate(candidate(1, summary="Using ai well"), WEEK, settings)
    )
    assert "keyword" not in parts(score_candidate(candidate(2, title="Rain again"), WEEK, settings))


def test_recency_grows_through_the_week() -> None:
    settings = RankingRules()
    early = score_candidate(candidate(1, day=0.0), WEEK, settings)
    middle = score_candidate(candidate(2, day=3.5), WEEK, settings)
    assert parts(early)["recency"] == 0.0
    assert parts(middle)["recency"] == 1.0


def test_order_suggestions_beat_feeds_and_ties_go_to_the_newer() -> None:
    settings = RankingRules()
    found = [
        candidate(1, day=1.0),
        candidate(2, day=1.0, tips=("@ann",)),
        candidate(3, day=1.0, feeds=("Blog A", "Blog B")),
        candidate(4, day=1.0, tips=("@ann", "@bob")),
        candidate(5, day=6.0),
        candidate(6, day=1.0, weights=(0.5,)),
    ]
    order = [r.candidate.id for r in rank(found, WEEK, settings)]
    assert order == [4, 2, 5, 3, 1, 6]


def test_blocked_domains_and_earlier_roundups_are_excluded_but_explained() -> None:
    settings = RankingRules(blocked_domains=("spam.example",))
    found = [
        candidate(1, tips=("@a", "@b", "@c"), host="www.spam.example"),
        candidate(2, tips=("@a", "@b")),
        candidate(3),
    ]
    ranked = rank(found, WEEK, settings, used={2: "2026-W47"})
    assert [r.candidate.id for r in ranked] == [3, 1, 2]
    assert ranked[1].score.excluded == "blocked domain spam.example"
    assert ranked[2].score.excluded == "already in the 2026-W47 round-up"
    assert ranked[1].score.total > 0  # the parts are still shown
    assert [r.candidate.id for r in eligible(ranked)] == [3]


def test_the_same_person_twice_counts_once_because_suggesters_are_distinct() -> None:
    # Storage hands over each person once; the score counts what it is given.
    score = score_candidate(candidate(1, tips=("@ann",)), WEEK, RankingRules())
    assert parts(score)["suggestions"] == 3.0
    assert score.parts[0].detail == "suggested by 1 person (@ann)"


def test_score_bounds_hold_for_every_text() -> None:
    """The draft loads candidates by their best possible score; that must never be
    below what the full score turns out to be."""
    rng = random.Random(3)
    settings = RankingRules(keyword_boosts={"digital": 2.5, "cats": -3.0, "data": 0.333})
    facts, found = [], []
    for n in range(300):
        feeds = tuple(f"Blog {i}" for i in range(rng.choice([0, 1, 1, 2, 3])))
        weights = tuple(rng.choice([0.5, 1.0, 1.3]) for _ in feeds)
        tips = tuple(f"@u{i}" for i in range(rng.choice([0, 0, 1, 3])))
        title = " ".join(rng.sample(["digital", "cats", "data", "roads", "parks"], 2))
        c = candidate(n, day=rng.random() * 7, feeds=feeds, weights=weights, tips=tips, title=title)
        found.append(c)
        facts.append(
            RankingFacts(
                id=n,
                placed_at=c.published.timestamp(),  # type: ignore[union-attr]
                feeds=len(feeds),
                max_weight=max(weights) if weights else None,
                people=len(tips),
            )
        )
    for c, f in zip(found, facts, strict=True):
        low, high = score_bounds(f, WEEK, settings)
        assert low <= score_candidate(c, WEEK, settings).total <= high
    highs = dict((cid, high) for high, cid in upper_bounds(facts, WEEK, settings))
    for f in facts:
        assert abs(highs[f.id] - score_bounds(f, WEEK, settings)[1]) < 1e-9
    order = [cid for _high, cid in upper_bounds(facts, WEEK, settings)]
    assert [highs[i] for i in order] == sorted(highs.values(), reverse=True)


def test_an_international_blocked_domain_matches_its_punycode_host() -> None:
    from roundup_bot.core.curation import canonical_url, domain_matches, host_of

    host = host_of(canonical_url("https://www.bücher.example/post"))
    assert host == "xn--bcher-kva.example"
    assert domain_matches(host, "bücher.example")
    assert domain_matches(host, "xn--bcher-kva.example")
    assert not domain_matches(host, "other.example")


def test_the_reasons_read_as_plain_words_while_the_json_keys_stay() -> None:
    settings = RankingRules(keyword_boosts={"digital": 1.5})
    c = candidate(1, day=3.1, weights=(1.5,), tips=("@ann",), title="Digital by default")
    score = score_candidate(c, WEEK, settings)
    plain = {p.name: plain_reason(p) for p in score.parts}
    assert plain == {
        "suggestions": "suggested by 1 person (@ann)",
        "feeds": "carried by 1 feed (Blog A)",
        "feed weight": "a favoured feed: from a feed of weight 1.5",
        "recency": "new this week: 3.9 days before the deadline",
        "keyword": 'keyword in the settings: mentions "digital"',
    }
    # The JSON keeps its machine fields: the same names, points and keys.
    why = score_json(score)["why"]
    assert [w["name"] for w in why] == ["suggestions", "feeds", "feed weight", "recency", "keyword"]  # type: ignore[attr-defined,index]
    assert {"name": "recency", "points": 0.89, "detail": "3.9 days before the deadline"} in why  # type: ignore[operator]
    late = score_candidate(candidate(2, day=6.9), WEEK, settings).parts[-1]
    assert plain_reason(late) == "new this week: 2 h before the deadline"
    last = score_candidate(candidate(3, day=7.0), WEEK, settings).parts[-1]
    assert plain_reason(last) == "new this week: at the deadline"


def test_reasons_stored_in_older_drafts_read_plainly_too() -> None:
    old = ScorePart("recency", 1.1, "appeared 3.9 days before the week's end")
    assert plain_reason(old) == "new this week: 3.9 days before the deadline"
    ended = ScorePart("recency", 2.0, "appeared at the end of the week")
    assert plain_reason(ended) == "new this week: at the deadline"
    assert plain_reason(ScorePart("feed weight", -1.0, "from a feed of weight 0.5")) == (
        "a less favoured feed: from a feed of weight 0.5"
    )
    assert plain_reason(ScorePart("novel", 1.0, "something new")) == "novel: something new"
