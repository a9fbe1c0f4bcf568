"""The draft form's pure logic: reading what was posted and planning only the edits that differ."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from roundup_bot.core.errors import FormProblem
from roundup_bot.core.ranking import Ranked
from roundup_bot.core.records import (
    AddItem,
    Draft,
    DraftItem,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetOrder,
)
from roundup_bot.entrypoints.web.draftform import plan_edits, read_form
from roundup_bot.entrypoints.web.service import RankingCache

WHEN = datetime(2026, 11, 25, tzinfo=UTC)


def item(item_id: int, position: int, *, removed: bool = False) -> DraftItem:
    return DraftItem(
        id=item_id,
        candidate_id=100 + item_id,
        position=position,
        url=f"https://example.org/{item_id}",
        title=f"Post {item_id}",
        author=None,
        site_name=None,
        blurb=f"Blurb {item_id}",
        suggested_by=(),
        score=1.0,
        why=(),
        removed=removed,
    )


DRAFT = Draft(
    id=1,
    roundup="welovelocalgov",
    week="2026-W48",
    period_start=WHEN,
    period_end=WHEN,
    status="draft",
    title="T",
    intro="Intro",
    outro="Outro",
    version=3,
    created_at=WHEN,
    updated_at=WHEN,
    items=(item(1, 1), item(2, 2), item(3, 3), item(4, 4, removed=True)),
)


def form(**fields: str) -> dict[str, str]:
    base = {"version": "3", "intro": "Intro", "outro": "Outro"}
    base.update({f"blurb-{i}": f"Blurb {i}" for i in (1, 2, 3)})
    base.update(fields)
    return base


ORDER = ["1", "2", "3"]


def test_an_unchanged_form_plans_nothing() -> None:
    assert plan_edits(DRAFT, read_form(form(), ORDER)) == []


def test_only_what_differs_is_planned_with_windows_line_endings_normalised() -> None:
    sub = read_form(form(intro="New\r\nintro", **{"blurb-2": "  Blurb 2  "}), ORDER)
    assert plan_edits(DRAFT, sub) == [SetIntro("New\nintro")]


def test_the_buttons() -> None:
    assert plan_edits(DRAFT, read_form(form(action="up-2"), ORDER)) == [MoveItem(2, -1)]
    assert plan_edits(DRAFT, read_form(form(action="down-2"), ORDER)) == [MoveItem(2, 1)]
    assert plan_edits(DRAFT, read_form(form(action="up-1"), ORDER)) == []  # already first
    assert plan_edits(DRAFT, read_form(form(action="remove-3"), ORDER)) == [RemoveItem(3)]
    assert plan_edits(DRAFT, read_form(form(action="restore-4"), ORDER)) == [RestoreItem(4)]
    added = plan_edits(DRAFT, read_form(form(action="add-200"), ORDER), frozenset({200}))
    assert added == [AddItem(200)]


def test_typed_text_goes_with_the_button() -> None:
    sub = read_form(form(action="down-1", **{"blurb-1": "Mine"}), ORDER)
    assert plan_edits(DRAFT, sub) == [SetBlurb(1, "Mine"), MoveItem(1, 1)]


def test_a_new_order_from_the_page_is_one_edit() -> None:
    assert plan_edits(DRAFT, read_form(form(), ["3", "1", "2"])) == [SetOrder((3, 1, 2))]


@pytest.mark.parametrize(
    ("fields", "order", "addable"),
    [
        ({"action": "add-999"}, ORDER, frozenset()),  # not a candidate of the week
        ({"action": "restore-1"}, ORDER, frozenset()),  # not removed
        ({"action": "remove-4"}, ORDER, frozenset()),  # not shown
        ({}, ["1", "2"], frozenset()),  # an item missing from the order
        ({"blurb-77": "x"}, ORDER, frozenset()),  # an item not in the draft
        ({"blurb-1": "x" * 5000}, ORDER, frozenset()),  # too long
        ({"intro": "x" * 5000}, ORDER, frozenset()),
    ],
)
def test_bad_input_is_refused(
    fields: dict[str, str], order: list[str], addable: frozenset[int]
) -> None:
    with pytest.raises(FormProblem):
        plan_edits(DRAFT, read_form(form(**fields), order), addable)


@pytest.mark.parametrize("action", ["explode", "up", "save-3", "add-x", "up-1-2"])
def test_unknown_buttons_are_refused(action: str) -> None:
    with pytest.raises(FormProblem):
        read_form(form(action=action), ORDER)


def test_a_damaged_order_or_version_is_refused_or_read_as_missing() -> None:
    with pytest.raises(FormProblem):
        read_form(form(), ["1", "two"])
    assert read_form(form(version="x"), ORDER).version is None


def test_the_ranking_cache_keeps_a_week_for_its_ttl_and_can_be_cleared() -> None:
    now = [0.0]
    calls: list[int] = []
    cache = RankingCache(ttl_s=30, clock=lambda: now[0], size=2)
    ranked: list[Ranked] = []

    def compute() -> list[Ranked]:
        calls.append(1)
        return ranked

    cache.get("2026-W48", compute)
    cache.get("2026-W48", compute)
    assert len(calls) == 1
    now[0] = 31
    cache.get("2026-W48", compute)
    assert len(calls) == 2
    cache.clear()
    cache.get("2026-W48", compute)
    assert len(calls) == 3
    cache.get("2026-W47", compute)
    cache.get("2026-W46", compute)
    assert len(cache._kept) == 2


def test_fingerprints_tell_what_the_editor_changed_on_the_page() -> None:
    from roundup_bot.entrypoints.web.draftform import fingerprint

    sub = read_form(
        form(**{"orig-intro": fingerprint("Intro"), "orig-blurb-1": fingerprint("Old")}), ORDER
    )
    assert not sub.changed("intro", "Intro")
    assert not sub.changed("intro", "Intro\r\n")  # normalised as the form reads it
    assert sub.changed("intro", "Intro, edited")
    assert sub.changed("blurb-1", "Blurb 1")
    assert sub.changed("outro", "Outro")  # no fingerprint sent: assume it changed


def test_item_details_are_planned_together_and_only_when_changed() -> None:
    from roundup_bot.core.records import SetItemDetails

    same = read_form(form(**{"title-1": "Post  1", "author-1": "", "site-1": ""}), ORDER)
    assert plan_edits(DRAFT, same) == []
    changed = read_form(form(**{"title-1": "Post 1", "author-1": "Jo", "site-1": ""}), ORDER)
    assert plan_edits(DRAFT, changed) == [SetItemDetails(1, title="Post 1", author="Jo")]
    with pytest.raises(FormProblem):
        plan_edits(DRAFT, read_form(form(**{"author-9": "Jo"}), ORDER))


@pytest.mark.parametrize("odd", ["²", "١٢", "٣", "1e3", "-1", "9999999999999"])
def test_numbers_the_page_never_writes_are_a_damaged_form(odd: str) -> None:
    with pytest.raises(FormProblem, match="damaged"):
        read_form({}, [odd])
    with pytest.raises(FormProblem, match="damaged"):
        read_form({f"blurb-{odd}": "x"}, [])
    assert read_form({"version": odd}, []).version is None
