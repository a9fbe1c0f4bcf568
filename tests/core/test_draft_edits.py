"""The draft-editing rules, every edit, without a database."""

from __future__ import annotations

from dataclasses import replace

from helpers.draft_records import WHEN as NOW
from helpers.draft_records import draft_item, draft_record
from hypothesis import given
from hypothesis import strategies as st

from roundup_bot.core.draft_edits import (
    MAX_BLURB,
    MAX_DETAIL,
    MAX_INTRO,
    clean_line,
    clean_text,
    edit_draft,
    feed_site_name,
    item_name,
    too_long,
)
from roundup_bot.core.records import (
    AddItem,
    Candidate,
    CandidateSource,
    Draft,
    DraftEdit,
    DraftItem,
    ItemDetails,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
    SetOutro,
)

#: Three items shown (1, 2, 3) and one removed (4).
DRAFT = draft_record(draft_item(1), draft_item(2), draft_item(3), draft_item(4, removed=True))


def candidate(candidate_id: int, **values: object) -> Candidate:
    fields: dict[str, object] = {
        "id": candidate_id,
        "url": f"https://other.example/{candidate_id}",
        "link": f"https://other.example/{candidate_id}",
        "title": f"Candidate {candidate_id}",
        "author": "C. Writer",
        "published": NOW,
        "first_seen": NOW,
        "summary": None,
        "site_name": "Other site",
        "sources": (CandidateSource("feed", "Other Blog", "https://other.example/feed"),),
        "suggested_by": ("@ann",),
        **values,
    }
    return Candidate(**fields)  # type: ignore[arg-type]


def shown(draft: Draft) -> list[int]:
    return [i.id for i in draft.shown_items]


def by_id(draft: Draft, item_id: int) -> DraftItem:
    return next(i for i in draft.items if i.id == item_id)


# --- text cleaning and limits ------------------------------------------------------------


def test_text_is_cleaned_once_for_every_door() -> None:
    assert clean_text("  one\r\ntwo\rthree\x00\x1f\ufffe  \n") == "one\ntwo\nthree"
    assert clean_text("e\u0301") == "\u00e9"  # composed (NFC)
    assert clean_text("tab\there") == "tab\there"
    assert clean_line("  A\n  title\twith   gaps ") == "A title with gaps"


def test_too_long_names_the_text_and_the_limit() -> None:
    assert too_long("the intro", "x" * 4, 4) is None
    assert too_long("the intro", "x" * 5, 4) == "the intro is 5 characters; the limit is 4"


def test_the_site_name_is_the_first_named_feed() -> None:
    assert feed_site_name(()) is None
    unnamed = CandidateSource("feed", "https://a.example/feed", "https://a.example/feed")
    tip = CandidateSource("x", "@ann", "https://x.com/ann/status/1")
    named = CandidateSource("feed", "Blog B", "https://b.example/feed")
    assert feed_site_name((tip, unnamed, named)) == "Blog B"


def test_an_item_is_named_by_its_place_and_title() -> None:
    assert item_name(DRAFT, by_id(DRAFT, 2)) == "item 2 (“Title 2”)"
    assert item_name(DRAFT, by_id(DRAFT, 4)) == "the removed item “Title 4”"
    long = replace(by_id(DRAFT, 1), title="word " * 30)
    assert item_name(replace(DRAFT, items=(long,)), long).endswith("word…”)")


# --- blurbs, intro, outro -------------------------------------------------------------------


def test_a_new_blurb_is_cleaned_and_marked() -> None:
    outcome = edit_draft(DRAFT, [SetBlurb(2, "  Our own\r\nwords.\x00 ")])
    assert not outcome.problems
    assert outcome.changed
    edited = by_id(outcome.draft, 2)
    assert edited.blurb == "Our own\nwords."
    assert edited.blurb_edited
    assert not by_id(outcome.draft, 1).blurb_edited


def test_a_blurb_saved_as_it_was_marks_nothing() -> None:
    outcome = edit_draft(DRAFT, [SetBlurb(2, " Blurb 2. \r\n")])
    assert not outcome.changed
    assert not by_id(outcome.draft, 2).blurb_edited
    assert outcome.draft == DRAFT


def test_a_removed_items_blurb_can_be_changed() -> None:
    outcome = edit_draft(DRAFT, [SetBlurb(4, "Kept for later.")])
    assert by_id(outcome.draft, 4).blurb == "Kept for later."
    assert by_id(outcome.draft, 4).removed


def test_a_blurb_over_the_limit_is_a_problem_naming_the_item() -> None:
    text = "x" * (MAX_BLURB + 1)
    outcome = edit_draft(DRAFT, [SetBlurb(2, text)])
    (problem,) = outcome.problems
    assert problem.kind == "too_long"
    assert problem.field == "blurb-2"
    assert problem.edit == SetBlurb(2, text)
    assert problem.message == (
        f"the blurb of item 2 (“Title 2”) is {MAX_BLURB + 1} characters; the limit is {MAX_BLURB}"
    )
    assert by_id(outcome.draft, 2).blurb == "Blurb 2."
    # The limit counts the cleaned text: trailing space and NULs do not count.
    assert not edit_draft(DRAFT, [SetBlurb(2, "x" * MAX_BLURB + "  \x00")]).problems


def test_an_edit_naming_no_item_is_a_problem() -> None:
    for edit in (SetBlurb(99, "x"), RemoveItem(99), RestoreItem(99), MoveItem(99, 1)):
        (problem,) = edit_draft(DRAFT, [edit]).problems
        assert problem.kind == "no_item"
        assert problem.message == "draft 7 has no item 99"


def test_intro_and_outro_change_and_are_marked() -> None:
    outcome = edit_draft(DRAFT, [SetIntro(" A special week. "), SetOutro("Bye.")])
    assert outcome.draft.intro == "A special week."
    assert outcome.draft.intro_edited
    assert outcome.draft.outro == "Bye."
    assert not outcome.draft.outro_edited  # saved as it was
    (problem,) = edit_draft(DRAFT, [SetOutro("y" * (MAX_INTRO + 1))]).problems
    assert (problem.kind, problem.field) == ("too_long", "outro")
    assert problem.message.startswith("the outro is 4001 characters")


# --- title, author and blog -------------------------------------------------------------------


def test_the_editors_own_details_show_and_an_empty_one_goes_back_to_automatic() -> None:
    outcome = edit_draft(
        DRAFT, [SetItemDetails(1, title="  A better\n title ", author=None, site_name="")]
    )
    edited = by_id(outcome.draft, 1)
    assert edited.title == "A better title"
    assert edited.overrides == ItemDetails(title="A better title")
    assert edited.author == "Author 1"  # automatic
    assert edited.details_edited
    back = by_id(edit_draft(outcome.draft, [SetItemDetails(1)]).draft, 1)
    assert back.title == "Title 1"
    assert back.overrides == ItemDetails()
    assert not back.details_edited


def test_a_detail_over_the_limit_is_a_problem_for_its_box() -> None:
    outcome = edit_draft(DRAFT, [SetItemDetails(3, author="a" * (MAX_DETAIL + 1))])
    (problem,) = outcome.problems
    assert (problem.kind, problem.field) == ("too_long", "author-3")
    assert problem.message.startswith("the author of item 3 (“Title 3”) is 301 characters")
    assert by_id(outcome.draft, 3).overrides == ItemDetails()


# --- removing, restoring, moving, ordering ---------------------------------------------------


def test_a_removed_item_goes_after_the_shown_ones_and_all_are_renumbered() -> None:
    outcome = edit_draft(DRAFT, [RemoveItem(2)])
    assert shown(outcome.draft) == [1, 3]
    assert [i.id for i in outcome.draft.removed_items] == [2, 4]
    assert [i.position for i in outcome.draft.items] == [1, 2, 3, 4]
    again = edit_draft(outcome.draft, [RemoveItem(2)])
    assert not again.changed


def test_a_restored_item_comes_back_at_the_end() -> None:
    removed_first = edit_draft(DRAFT, [RemoveItem(1)]).draft
    outcome = edit_draft(removed_first, [RestoreItem(4), RestoreItem(1)])
    assert shown(outcome.draft) == [2, 3, 4, 1]
    assert not outcome.draft.removed_items
    assert not edit_draft(DRAFT, [RestoreItem(2)]).changed  # already shown


def test_moving_an_item_marks_only_it_and_stops_at_the_ends() -> None:
    outcome = edit_draft(DRAFT, [MoveItem(3, -1)])
    assert shown(outcome.draft) == [1, 3, 2]
    assert [i.moved_by_editor for i in outcome.draft.shown_items] == [False, True, False]
    assert shown(edit_draft(DRAFT, [MoveItem(3, -10)]).draft) == [3, 1, 2]
    for edit in (MoveItem(1, -1), MoveItem(3, 1), MoveItem(2, 0), MoveItem(4, -1)):
        assert not edit_draft(DRAFT, [edit]).changed, edit


def test_a_new_order_marks_the_items_whose_place_changed() -> None:
    outcome = edit_draft(DRAFT, [SetOrder((1, 3, 2))])
    assert shown(outcome.draft) == [1, 3, 2]
    assert [i.moved_by_editor for i in outcome.draft.shown_items] == [False, True, True]
    assert not edit_draft(DRAFT, [SetOrder((1, 2, 3))]).changed


def test_a_new_order_must_list_each_shown_item_once() -> None:
    for order in ((1, 1, 3), (1, 2), (1, 2, 3, 4), (1, 2, 3, 3)):
        (problem,) = edit_draft(DRAFT, [SetOrder(order)]).problems
        assert problem.kind == "bad_order"
        assert "must list each shown item exactly once" in problem.message


# --- adding -----------------------------------------------------------------------------------


def test_a_candidate_of_the_week_is_added_last_with_its_credits() -> None:
    outcome = edit_draft(DRAFT, [AddItem(500, blurb=" Added. ")], addable={500: candidate(500)})
    assert not outcome.problems
    added = outcome.draft.shown_items[-1]
    assert added.id == -1  # not stored yet
    assert added.candidate_id == 500
    assert (added.title, added.author, added.site_name) == (
        "Candidate 500",
        "C. Writer",
        "Other Blog",  # the feed's name before the page's site name
    )
    assert added.automatic == ItemDetails("Candidate 500", "C. Writer", "Other Blog")
    assert added.suggested_by == ("@ann",)
    assert (added.blurb, added.blurb_edited, added.added_by_editor) == ("Added.", True, True)
    assert not added.moved_by_editor
    assert added.position == 4


def test_a_candidate_added_at_a_place_is_marked_as_placed() -> None:
    addable = {500: candidate(500), 501: candidate(501)}
    outcome = edit_draft(
        DRAFT, [AddItem(500, position=1), AddItem(501, position=99)], addable=addable
    )
    assert shown(outcome.draft) == [-1, 1, 2, 3, -2]
    assert outcome.draft.shown_items[0].moved_by_editor
    assert not outcome.draft.shown_items[0].blurb_edited


def test_adding_a_removed_items_candidate_brings_the_item_back() -> None:
    outcome = edit_draft(DRAFT, [AddItem(104, blurb="Back again.")])
    assert shown(outcome.draft) == [1, 2, 3, 4]
    back = by_id(outcome.draft, 4)
    assert (back.added_by_editor, back.blurb, back.blurb_edited) == (True, "Back again.", True)
    assert by_id(edit_draft(DRAFT, [AddItem(104)]).draft, 4).blurb == "Blurb 4."


def test_only_the_weeks_candidates_not_shown_can_be_added() -> None:
    (shown_twice,) = edit_draft(DRAFT, [AddItem(102)], addable={102: candidate(102)}).problems
    assert shown_twice.kind == "already_shown"
    assert shown_twice.message == "candidate 102 is already in draft 7 (item 2 (“Title 2”))"
    (elsewhere,) = edit_draft(DRAFT, [AddItem(600)]).problems
    assert elsewhere.kind == "no_candidate"
    assert elsewhere.message == "there is no candidate 600 in the week of draft 7 (2026-W48)"
    (long,) = edit_draft(
        DRAFT, [AddItem(500, blurb="b" * (MAX_BLURB + 1))], addable={500: candidate(500)}
    ).problems
    assert long.kind == "too_long"


def test_an_approved_or_published_round_up_cannot_be_edited() -> None:
    for status in ("approved", "published"):
        approved = replace(DRAFT, status=status)  # type: ignore[arg-type]
        outcome = edit_draft(approved, [SetIntro("Changed.")])
        (problem,) = outcome.problems
        assert problem.kind == "not_editable"
        assert problem.message == f"draft 7 (2026-W48) is {status}: reopen it before changing it"
        assert outcome.draft == approved


# --- together -----------------------------------------------------------------------------------


def test_edits_apply_in_order_and_every_problem_is_reported() -> None:
    edits: list[DraftEdit] = [
        RemoveItem(1),
        SetBlurb(2, "x" * (MAX_BLURB + 1)),
        SetOrder((3, 2)),
        SetIntro("i" * (MAX_INTRO + 1)),
    ]
    outcome = edit_draft(DRAFT, edits)
    assert [p.edit for p in outcome.problems] == [edits[1], edits[3]]
    # The edits without a problem are in the draft out (callers then apply none).
    assert shown(outcome.draft) == [3, 2]
    assert outcome.draft.version == DRAFT.version  # storage bumps it


_EDITS = st.one_of(
    st.builds(SetBlurb, st.integers(0, 5), st.text(max_size=20)),
    st.builds(RemoveItem, st.integers(0, 5)),
    st.builds(RestoreItem, st.integers(0, 5)),
    st.builds(MoveItem, st.integers(0, 5), st.integers(-4, 4)),
    st.builds(SetOrder, st.lists(st.integers(0, 5), max_size=5).map(tuple)),
    st.builds(AddItem, st.sampled_from([101, 104, 500, 501, 600]), st.text(max_size=5)),
    st.builds(SetIntro, st.text(max_size=20)),
    st.builds(
        SetItemDetails, st.integers(0, 5), st.none() | st.text(max_size=10), st.none(), st.none()
    ),
)


@given(st.lists(_EDITS, max_size=8))
def test_any_edits_keep_the_draft_whole(edits: list[DraftEdit]) -> None:
    outcome = edit_draft(DRAFT, edits, addable={500: candidate(500), 501: candidate(501)})
    draft = outcome.draft
    ids = [i.id for i in draft.items]
    assert len(set(ids)) == len(ids)
    assert len({i.candidate_id for i in draft.items}) == len(ids)
    assert {i.id for i in DRAFT.items} <= set(ids)  # an edit never deletes an item
    assert [i.position for i in draft.items] == list(range(1, len(ids) + 1))
    assert list(draft.items) == [*draft.shown_items, *draft.removed_items]
    if not outcome.changed:
        assert shown(draft) == shown(DRAFT)
        assert (draft.intro, [i.blurb for i in draft.items]) == (
            DRAFT.intro,
            [i.blurb for i in DRAFT.items],
        )
