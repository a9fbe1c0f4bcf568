"""The weekly draft: picking, starter blurbs, refreshes that keep editors' edits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.drafts import Article, make_app, seed
from sqlalchemy import insert

from roundup_bot.core.errors import DraftError, DraftNotFound, StaleDraftError
from roundup_bot.core.ranking import placed_at, rank
from roundup_bot.core.records import (
    AddItem,
    Candidate,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
    Window,
)
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.drafting import (
    draft_week,
    plan_draft,
    rank_for_draft,
    rank_week,
    resolve_week,
    starter_blurb,
)
from roundup_bot.services.publish import approve, reopen
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import candidates, suggestions

WEEK = week_by_label("2026-W48", "Europe/London", "friday 09:00")  # 20 Nov 09:00 - 27 Nov 09:00
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return WEEK.start + timedelta(days=n)


def articles(count: int) -> list[Article]:
    """``count`` articles; a lower number ranks higher (more feeds / tips, newer)."""
    out = []
    for n in range(count):
        out.append(
            Article(
                slug=f"post-{n}",
                published=day(6.5 - n * 0.1),
                summary=f"Post {n} is about councils. It has a second sentence. And a third.",
                feeds=("Blog A",),
                tips=(("@ann",) if n < 2 else ()),
            )
        )
    return out


# --- starter blurbs (pure) ------------------------------------------------------------------


def _candidate(summary: str | None, description: str | None = None) -> Candidate:
    return Candidate(
        id=1,
        url="https://a.example/1",
        link="https://a.example/1",
        title="T",
        author=None,
        published=NOW,
        first_seen=NOW,
        summary=summary,
        description=description,
    )


def test_a_starter_blurb_is_a_sentence_or_two_of_the_summary() -> None:
    long_first = (
        "Leeds City Council has rebuilt its bins service around what residents said in "
        + ("forty interviews over the summer. Then more.")
    )
    assert starter_blurb(_candidate(long_first)) == (
        "Leeds City Council has rebuilt its bins service around what residents said in "
        "forty interviews over the summer."
    )
    assert starter_blurb(_candidate("Short one here. Another short one. A third.")) == (
        "Short one here. Another short one."
    )


def test_a_starter_blurb_drops_feed_boilerplate_and_falls_back_to_the_page() -> None:
    text = "The council moved to the cloud. The post Cloud day appeared first on Council Blog."
    assert starter_blurb(_candidate(text)) == "The council moved to the cloud."
    assert starter_blurb(_candidate("What was learnt… Continue reading →")) == ""
    assert starter_blurb(_candidate("Read more", "From the page, in whole words.")) == (
        "From the page, in whole words."
    )
    assert starter_blurb(_candidate(None)) == ""
    assert starter_blurb(_candidate("word " * 400)) == ""


# --- making and refreshing drafts -----------------------------------------------------------


def test_draft_picks_the_top_items_with_blurbs_and_credits(
    storage: Storage, tmp_path: Path
) -> None:
    seeded = seed(storage, articles(14), NOW)
    app = make_app(storage, tmp_path, roundup={"max_items": 10})
    outcome = draft_week(app, WEEK, now=NOW)
    draft = outcome.draft
    assert outcome.created
    assert draft.status == "draft"
    assert draft.week == "2026-W48"
    assert [i.candidate_id for i in draft.shown_items] == [
        seeded.ids[f"post-{n}"] for n in range(10)
    ]
    first = draft.shown_items[0]
    assert first.blurb == "Post 0 is about councils. It has a second sentence."
    assert first.suggested_by == ("@ann",)
    assert first.site_name == "Blog A"
    assert first.author == "A. Writer"
    assert first.score > draft.shown_items[-1].score
    assert {p.name for p in first.why} >= {"suggestions", "feeds", "recency"}
    assert draft.intro.startswith("Here's our round-up")
    # Running it again refreshes the same draft.
    again = draft_week(app, WEEK, now=NOW + timedelta(hours=1))
    assert not again.created
    assert again.draft.id == draft.id
    assert again.draft.version == draft.version + 1


def test_a_refresh_never_overwrites_what_an_editor_changed(
    storage: Storage, tmp_path: Path
) -> None:
    seeded = seed(storage, articles(8), NOW)
    app = make_app(storage, tmp_path, roundup={"max_items": 5})
    draft = draft_week(app, WEEK, now=NOW).draft
    shown = draft.shown_items
    ids = {i.candidate_id: i.id for i in draft.items}
    post = lambda n: ids[seeded.ids[f"post-{n}"]]  # noqa: E731
    edited = storage.drafts.apply_edits(
        draft.id,
        [
            SetBlurb(post(1), "Our own words about post one."),
            RemoveItem(post(2)),
            MoveItem(post(4), -4),  # to the top
            SetIntro("A special week."),
            SetItemDetails(post(3), title="A better title"),
            AddItem(seeded.ids["post-7"], blurb="Added by hand."),
        ],
        expected_version=draft.version,
        by="editor-1",
        now=NOW,
    )
    assert edited.updated_by == "editor-1"
    order = [i.id for i in edited.shown_items]
    assert order[0] == post(4)
    assert post(2) not in order
    assert order[-1] == edited.shown_items[-1].id

    # New articles arrive that outrank everything; the draft is refreshed.
    hot = seed(
        storage,
        [
            Article(slug="hot-1", published=day(6.9), summary="Hot news.", tips=("@x", "@y", "@z")),
            Article(slug="hot-2", published=day(6.9), summary="Also hot.", tips=("@x", "@y")),
        ],
        NOW,
    )
    refreshed = draft_week(app, WEEK, now=NOW + timedelta(hours=2)).draft
    by_candidate = {i.candidate_id: i for i in refreshed.items}
    # the editor's blurb, removal, title, added item, order and intro all survive
    assert by_candidate[seeded.ids["post-1"]].blurb == "Our own words about post one."
    assert by_candidate[seeded.ids["post-2"]].removed
    assert by_candidate[seeded.ids["post-3"]].title == "A better title"
    assert by_candidate[seeded.ids["post-7"]].blurb == "Added by hand."
    assert refreshed.intro == "A special week."
    assert refreshed.intro_edited
    assert refreshed.shown_items[0].candidate_id == seeded.ids["post-4"]
    # the free slots went to the new articles, at the end because the editor ordered it
    shown_ids = [i.candidate_id for i in refreshed.shown_items]
    assert len(shown_ids) == 5
    assert hot.ids["hot-1"] in shown_ids
    # untouched post-0 gave way to hot news; every touched item stayed
    assert set(shown_ids) == {
        seeded.ids["post-4"],
        seeded.ids["post-1"],
        seeded.ids["post-3"],
        seeded.ids["post-7"],
        hot.ids["hot-1"],
    }
    assert shown[0].candidate_id not in shown_ids


def test_without_editor_moves_items_are_in_score_order(storage: Storage, tmp_path: Path) -> None:
    seeded = seed(storage, articles(4), NOW)
    app = make_app(storage, tmp_path, roundup={"max_items": 3})
    draft = draft_week(app, WEEK, now=NOW).draft
    item = draft.shown_items[2]
    storage.drafts.apply_edits(
        draft.id, [SetBlurb(item.id, "Mine.")], expected_version=draft.version, by="e", now=NOW
    )
    top = seed(storage, [Article(slug="top", published=day(6.9), tips=("@a", "@b", "@c"))], NOW)
    refreshed = draft_week(app, WEEK, now=NOW).draft
    assert [i.candidate_id for i in refreshed.shown_items] == [
        top.ids["top"],
        seeded.ids["post-0"],
        item.candidate_id,
    ]
    assert refreshed.shown_items[2].blurb == "Mine."


def test_a_stale_save_is_refused_naming_who_saved(storage: Storage, tmp_path: Path) -> None:
    seed(storage, articles(3), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, WEEK, now=NOW).draft
    item = draft.shown_items[0]
    storage.drafts.apply_edits(
        draft.id, [SetBlurb(item.id, "First!")], expected_version=draft.version, by="ann", now=NOW
    )
    with pytest.raises(StaleDraftError) as caught:
        storage.drafts.apply_edits(
            draft.id,
            [SetBlurb(item.id, "Second")],
            expected_version=draft.version,
            by="bob",
            now=NOW,
        )
    assert caught.value.updated_by == "ann"
    assert caught.value.current == draft.version + 1
    assert "ann" in str(caught.value)
    assert storage.drafts.get(draft.id).shown_items[0].blurb == "First!"


def test_edits_are_all_or_nothing_and_checked(storage: Storage, tmp_path: Path) -> None:
    seed(storage, articles(3), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, WEEK, now=NOW).draft
    first, second, third = (i.id for i in draft.shown_items)
    with pytest.raises(DraftError, match="limit is 2000"):
        storage.drafts.apply_edits(
            draft.id,
            [SetBlurb(first, "fine"), SetBlurb(second, "x" * 2001)],
            expected_version=draft.version,
            by="e",
            now=NOW,
        )
    with pytest.raises(DraftNotFound):
        storage.drafts.apply_edits(
            draft.id, [RemoveItem(999999)], expected_version=draft.version, by="e", now=NOW
        )
    with pytest.raises(DraftError, match="exactly once"):
        storage.drafts.apply_edits(
            draft.id,
            [SetOrder((first, first, third))],
            expected_version=draft.version,
            by="e",
            now=NOW,
        )
    with pytest.raises(DraftError, match="no candidate"):
        storage.drafts.apply_edits(
            draft.id, [AddItem(999999)], expected_version=draft.version, by="e", now=NOW
        )
    unchanged = storage.drafts.get(draft.id)
    assert unchanged.version == draft.version
    assert unchanged.shown_items[0].blurb == draft.shown_items[0].blurb
    reordered = storage.drafts.apply_edits(
        draft.id,
        [SetOrder((third, first, second)), RemoveItem(first), RestoreItem(first)],
        expected_version=draft.version,
        by="e",
        now=NOW,
    )
    assert [i.id for i in reordered.shown_items] == [third, second, first]
    assert all(i.moved_by_editor for i in reordered.shown_items[:1])
    # saving a blurb unchanged marks nothing
    same = storage.drafts.apply_edits(
        draft.id,
        [SetBlurb(second, reordered.shown_items[1].blurb)],
        expected_version=reordered.version,
        by="e",
        now=NOW,
    )
    assert not same.shown_items[1].blurb_edited


def test_an_approved_draft_is_left_alone_and_cannot_be_edited(
    storage: Storage, tmp_path: Path
) -> None:
    seed(storage, articles(3), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, WEEK, now=NOW).draft
    storage.drafts.approve(draft.id, by="ann", now=NOW)
    outcome = draft_week(app, WEEK, now=NOW)
    assert outcome.left_alone is not None
    assert "approved by ann" in outcome.left_alone
    assert outcome.draft.version == draft.version + 1
    with pytest.raises(DraftError, match="reopen it"):
        storage.drafts.apply_edits(
            draft.id, [SetIntro("x")], expected_version=outcome.draft.version, by="e", now=NOW
        )
    back = reopen(app, draft.id, by="ann", now=NOW)
    assert back.status == "draft"
    assert back.approved_by is None
    assert back.reopened_by == "ann"
    with pytest.raises(DraftError, match="already a draft"):
        reopen(app, draft.id, by="ann", now=NOW)


def test_articles_used_in_an_earlier_roundup_are_left_out(storage: Storage, tmp_path: Path) -> None:
    previous = week_by_label("2026-W47", "Europe/London", "friday 09:00")
    old = Article(slug="old", published=previous.end - timedelta(hours=1), tips=("@a", "@b"))
    seeded = seed(storage, [old, *articles(3)], NOW)
    app = make_app(storage, tmp_path, roundup={"max_items": 5})
    earlier = draft_week(app, previous, now=NOW).draft
    assert [i.candidate_id for i in earlier.shown_items] == [seeded.ids["old"]]
    approve(app, earlier.id, by="ann", now=NOW)
    # The same article turns up again in this week (a later date from another feed).
    this_week = draft_week(app, WEEK, now=NOW).draft
    assert seeded.ids["old"] not in [i.candidate_id for i in this_week.shown_items]
    ranked = rank(
        storage.candidates.list(),
        Window(WEEK.start, WEEK.end),
        app.settings.ranking.rules(),
        used=storage.drafts.used_elsewhere("welovelocalgov", WEEK.label, [seeded.ids["old"]]),
    )
    assert next(r for r in ranked if r.candidate.id == seeded.ids["old"]).score.excluded == (
        "already in the 2026-W47 round-up"
    )
    # Asked about a whole big week (more ids than one query takes), the answer is the same.
    many = [seeded.ids["old"], *range(10**6, 10**6 + 600)]
    drafts = storage.drafts
    assert drafts.used_elsewhere("welovelocalgov", WEEK.label, many) == {
        seeded.ids["old"]: "2026-W47"
    }
    assert drafts.used_elsewhere("welovelocalgov", "2026-W47", many) == {}
    assert drafts.used_elsewhere("welovelocalgov", WEEK.label, []) == {}


def test_plan_is_pure_and_fills_slots_freed_by_removals(storage: Storage, tmp_path: Path) -> None:
    seeded = seed(storage, articles(4), NOW)
    app = make_app(storage, tmp_path, roundup={"max_items": 2})
    draft = draft_week(app, WEEK, now=NOW).draft
    top = draft.shown_items[0]
    edited = storage.drafts.apply_edits(
        draft.id, [RemoveItem(top.id)], expected_version=draft.version, by="e", now=NOW
    )
    ranked = rank(
        storage.candidates.list(), Window(WEEK.start, WEEK.end), app.settings.ranking.rules()
    )
    plan = plan_draft(
        roundup="welovelocalgov",
        week=WEEK,
        settings=app.settings.roundup,
        ranked=ranked,
        existing=edited,
    )
    shown = [p.candidate_id for p in plan.items][:2]
    assert shown == [seeded.ids["post-1"], seeded.ids["post-2"]]
    assert plan.items[-1].candidate_id == top.candidate_id  # removed, kept last
    assert plan.expected_version == edited.version


def test_ranking_facts_place_each_candidate_to_the_millisecond(storage: Storage) -> None:
    """The database works out each candidate's time as seconds (SQLite from its text,
    PostgreSQL from its timestamp): they agree with the stored times."""
    times = [day(0.0) + timedelta(microseconds=1), day(2.123456789), day(6.999999)]
    seed(storage, [Article(f"t{n}", when) for n, when in enumerate(times)], NOW)
    found = {c.id: c for c in storage.candidates.list(WEEK.start, WEEK.end)}
    facts = storage.drafts.ranking_facts(WEEK.start, WEEK.end)
    assert sorted(f.id for f in facts) == sorted(found)
    for f in facts:
        assert f.placed_at == pytest.approx(placed_at(found[f.id]).timestamp(), abs=0.001)


def test_the_draft_ranks_only_what_can_reach_the_top_and_picks_the_same(
    storage: Storage, tmp_path: Path
) -> None:
    """rank_for_draft loads candidates by their best possible score; its picks must be
    exactly the full ranking's, whatever the boosts, weights and exclusions."""
    rng = random.Random(7)
    hosts = ["a.example", "b.example", "spam.example"]
    many = [
        Article(
            slug=f"p{n}",
            published=day(rng.random() * 7),
            title=rng.choice(["Digital things", "Housing news", "Cats", "Budget"]) + f" {n}",
            summary=rng.choice([None, "About digital housing.", "Nothing much."]),
            feeds=tuple(rng.sample(["Blog A", "Blog B", "Blog C"], rng.choice([1, 1, 1, 2]))),
            tips=tuple(rng.sample(["u1", "u2", "u3", "u4"], rng.choice([0, 0, 0, 0, 1, 2]))),
            host=rng.choice(hosts),
        )
        for n in range(400)
    ]
    seed(storage, many, NOW, weights={"Blog A": 1.5, "Blog B": 0.5})
    app = make_app(
        storage,
        tmp_path,
        roundup={"max_items": 6},
        ranking={
            "keyword_boosts": {"digital": 2.5, "cats": -3.0, "budget": 0.5},
            "blocked_domains": ["spam.example"],
        },
    )
    # A link only tweeted: placed in the week by the post's time, first seen (read) later.
    with storage.engine.begin() as conn:
        tip_id = conn.execute(
            insert(candidates)
            .values(
                url="https://c.example/tip",
                link="https://c.example/tip",
                title="Tipped",
                first_seen=WEEK.end + timedelta(hours=5),
                updated_at=NOW,
                placed_at=day(0.5),
            )
            .returning(candidates.c.id)
        ).scalar_one()
        conn.execute(
            insert(suggestions),
            [
                {
                    "platform": "x",
                    "post_id": f"tip-{who}",
                    "post_url": "https://x.com/s/1",
                    "author_username": who,
                    "link": "https://c.example/tip",
                    "canonical_url": "https://c.example/tip",
                    "candidate_id": tip_id,
                    "status": "accepted",
                    "created_at": NOW,
                }
                for who in ("Ann", "ann", "@bob", "cy", "dee", "eve", "fay")
            ],
        )
    full = [r.candidate.id for r in rank_week(app, WEEK) if r.score.excluded is None]
    assert full[0] == tip_id
    pruned = [r.candidate.id for r in rank_for_draft(app, WEEK, None) if r.score.excluded is None]
    assert pruned[:6] == full[:6]
    assert len(pruned) < len(full)  # it did not need everything
    draft = draft_week(app, WEEK, now=NOW).draft
    assert [i.candidate_id for i in draft.shown_items] == full[:6]
    # With an editor's removals the draft needs more, and still agrees.
    edited = storage.drafts.apply_edits(
        draft.id,
        [RemoveItem(i.id) for i in draft.shown_items[:3]],
        expected_version=draft.version,
        by="e",
        now=NOW,
    )
    refreshed = draft_week(app, WEEK, now=NOW).draft
    assert [i.candidate_id for i in refreshed.shown_items] == full[3:9]
    assert len(refreshed.removed_items) == 3
    assert edited.version < refreshed.version


def test_draft_week_nearest_is_the_week_just_ended_at_its_end(
    storage: Storage, tmp_path: Path
) -> None:
    """A cron line `draft --week nearest` at Friday 09:00 drafts the week that has just
    ended (as the daemon does), while the plain default is the week that ends next."""
    app = make_app(storage, tmp_path)
    friday_nine = datetime(2026, 11, 27, 9, 0, 5, tzinfo=UTC)  # GMT: 09:00 London
    assert resolve_week(app, None, friday_nine).label == "2026-W49"
    assert resolve_week(app, "nearest", friday_nine).label == "2026-W48"
    assert resolve_week(app, " Nearest ", friday_nine - timedelta(hours=17)).label == "2026-W48"
    assert resolve_week(app, "2026-W40", friday_nine).label == "2026-W40"


def test_edited_text_loses_characters_no_database_or_page_may_hold(
    storage: Storage, tmp_path: Path
) -> None:
    """NUL (refused by PostgreSQL), a lone surrogate (not encodable) and pasted controls
    are dropped from an editor's text instead of failing the save with a traceback."""
    seed(storage, articles(2), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, WEEK, now=NOW).draft
    item = draft.shown_items[0]
    saved = storage.drafts.apply_edits(
        draft.id,
        [SetBlurb(item.id, "Our\x00 own\ud800 words\x0b.\n\tTabbed."), SetIntro("Hi\x0c there.")],
        expected_version=draft.version,
        by="e",
        now=NOW,
    )
    assert saved.shown_items[0].blurb == "Our own words.\n\tTabbed."
    assert saved.intro == "Hi there."
