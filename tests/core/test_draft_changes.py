"""What one save changed, and what an editor coming back is shown: the pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from helpers.draft_records import WHEN, draft_item, draft_record

from roundup_bot.core.draft_changes import (
    VISIT_GAP,
    PartChange,
    by_editor,
    marks_for,
    merged,
    parts_changed,
    since_words,
    visit_since,
)
from roundup_bot.core.draft_edits import edit_draft
from roundup_bot.core.records import (
    DraftEdit,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
)

LONDON = ZoneInfo("Europe/London")


def five() -> object:
    return draft_record(*(draft_item(i) for i in range(1, 6)))


def changed(
    edits: list[DraftEdit], before: object = None
) -> dict[tuple[str, int], tuple[str, ...]]:
    start = before if before is not None else five()
    outcome = edit_draft(start, edits, addable={})  # type: ignore[arg-type]
    assert outcome.problems == ()
    return parts_changed(start, outcome.draft, edits)  # type: ignore[arg-type]


def test_a_rewritten_blurb_new_details_and_the_intro_are_named() -> None:
    assert changed(
        [SetBlurb(2, "New words."), SetItemDetails(3, title="Mine"), SetIntro("Hi")]
    ) == {
        ("intro", 0): ("text",),
        ("item", 2): ("blurb",),
        ("item", 3): ("details",),
    }


def test_removing_marks_only_the_removed_item_not_those_that_shift_up() -> None:
    assert changed([RemoveItem(2)]) == {("item", 2): ("removed",)}


def test_putting_back_is_named() -> None:
    start = draft_record(*(draft_item(i) for i in range(1, 4)), draft_item(4, removed=True))
    assert changed([RestoreItem(4)], start) == {("item", 4): ("restored",)}


def test_moving_down_marks_the_item_moved_not_the_one_it_passed() -> None:
    assert changed([MoveItem(2, 1)]) == {("item", 2): ("moved",)}
    assert changed([MoveItem(4, -1)]) == {("item", 4): ("moved",)}


def test_a_drag_marks_the_fewest_items_that_explain_the_new_order() -> None:
    # The first dragged to the end: only it moved, though every position changed.
    assert changed([SetOrder((2, 3, 4, 5, 1))]) == {("item", 1): ("moved",)}
    # Two dragged: both.
    assert set(changed([SetOrder((5, 2, 3, 1, 4))])) == {("item", 5), ("item", 1)}
    # Saving with the same order marks nothing.
    assert changed([SetOrder((1, 2, 3, 4, 5))]) == {}


def test_a_rewrite_and_a_move_in_one_save_are_both_named() -> None:
    assert changed([SetBlurb(1, "Other."), MoveItem(1, 1)]) == {("item", 1): ("blurb", "moved")}


def test_an_added_item_is_found_under_its_new_id() -> None:
    start = five()
    after = draft_record(*start.items, draft_item(9, position=6))  # type: ignore[attr-defined]
    assert parts_changed(start, after) == {("item", 9): ("added",)}  # type: ignore[arg-type]


def change(by: str, at: datetime, *what: str, item: int = 1) -> PartChange:
    return PartChange("item", item, at, by, what)


def test_the_same_editors_changes_add_up_within_a_visit_only() -> None:
    earlier = change("Bob", WHEN, "blurb")
    assert merged(earlier, ("moved",), "Bob", WHEN + timedelta(minutes=5)) == ("blurb", "moved")
    assert merged(earlier, ("moved",), "Ann", WHEN + timedelta(minutes=5)) == ("moved",)
    assert merged(earlier, ("moved",), "Bob", WHEN + VISIT_GAP * 2) == ("moved",)
    assert merged(earlier, ("blurb",), "Bob", WHEN) == ("blurb",)
    assert change("Bob", WHEN, "blurb", "moved", "details").words == (
        "rewrote the blurb, moved it and changed the title, author or blog"
    )


def test_a_visit_keeps_its_starting_point_until_a_long_enough_gap() -> None:
    monday = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert visit_since(None, None, monday) is None  # a first visit marks nothing
    # Clicking around within the visit: the starting point stays (None, here).
    assert visit_since(monday, None, monday + timedelta(minutes=10)) is None
    # Back on Tuesday: marks count from where Monday's visit ended.
    ended = monday + timedelta(minutes=20)
    tuesday = ended + timedelta(days=1)
    assert visit_since(ended, None, tuesday) == ended
    assert visit_since(tuesday, ended, tuesday + timedelta(minutes=29)) == ended
    assert visit_since(tuesday, ended, tuesday + timedelta(minutes=31)) == tuesday


def test_marks_are_other_editors_changes_after_the_starting_point() -> None:
    since = WHEN
    changes = [
        change("Bob", WHEN + timedelta(minutes=1), "blurb", item=1),
        change("ann", WHEN + timedelta(minutes=2), "blurb", item=2),  # my own (any case)
        change("Cat", WHEN - timedelta(minutes=1), "moved", item=3),  # before I looked
        change("Cat", WHEN + timedelta(minutes=3), "moved", item=4),
        change("Bob", WHEN + timedelta(minutes=4), "text", item=0),
    ]
    marks = marks_for(changes, "Ann", since)
    assert sorted(marks) == [("item", 0), ("item", 1), ("item", 4)]
    assert by_editor(marks) == [("Bob", 2), ("Cat", 1)]
    assert marks_for(changes, "Ann", None) == {}


def test_since_words_are_what_a_person_would_say() -> None:
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thursday
    assert since_words(now - timedelta(hours=2), now, LONDON) == "since 13:00 today"
    assert since_words(now - timedelta(days=1), now, LONDON) == "since yesterday"
    assert since_words(now - timedelta(days=2), now, LONDON) == "since Tuesday"
    assert since_words(now - timedelta(days=9), now, LONDON) == "since 17 Nov"
