"""The plain-text form `roundup-bot edit DRAFT_ID` opens in an editor: every text
goes round unchanged, and what an editor changes becomes the right edits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers.draft_records import draft_item, draft_record
from hypothesis import given
from hypothesis import strategies as st

from roundup_bot.core.draft_edits import edit_draft
from roundup_bot.core.errors import FormUnreadable
from roundup_bot.core.records import (
    DraftItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetOrder,
    SetOutro,
)
from roundup_bot.entrypoints.cli.edit_form import read_form, render_form


def item(item_id: int, blurb: str, removed: bool = False) -> DraftItem:
    return draft_item(
        item_id,
        title=f"Title {item_id}",
        author="A. Writer",
        blurb=blurb,
        suggested_by=("@ann",) if item_id == 1 else (),
        removed=removed,
    )


DRAFT = draft_record(
    item(1, "First blurb."),
    item(2, "#localgov is trending\n[intro] is not a heading here\n\\ a backslash\n# hash"),
    item(3, ""),
    item(4, "Gone.", removed=True),
    intro="Hello.\n\nSecond paragraph.",
)


def test_the_form_shows_intro_items_and_outro_with_notes() -> None:
    form = render_form(DRAFT)
    assert "# Draft 7: the round-up for the week 2026-W48 (version 5)." in form
    assert "[intro]\nHello.\n\nSecond paragraph.\n" in form
    assert (
        "[item 1] Title 1\n# https://blog.example/1\n# A. Writer, Blog A · suggested by @ann\n"
        "First blurb.\n"
    ) in form
    # Text that would read as a note or a heading is escaped.
    assert (
        "\\#localgov is trending\n\\[intro] is not a heading here\n\\\\ a backslash\n\\# hash"
    ) in form
    assert form.index("[item 1]") < form.index("[item 2]") < form.index("[outro]")
    assert "# [item 4] Title 4" in form  # removed: listed in a note


def test_an_unchanged_form_means_no_edits() -> None:
    assert read_form(render_form(DRAFT), DRAFT) == []


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(_TEXT, _TEXT, _TEXT)
def test_every_text_goes_round(intro: str, blurb: str, outro: str) -> None:
    cleaned = edit_draft(DRAFT, [SetIntro(intro), SetBlurb(2, blurb), SetOutro(outro)]).draft
    assert read_form(render_form(cleaned), cleaned) == []


def test_changed_texts_become_edits() -> None:
    form = render_form(DRAFT)
    form = form.replace("Hello.", "Hi all.").replace("First blurb.", "Better.\r\n\r\nTwo.")
    form = form.replace("[outro]\nBye.", "[outro]\nSee you.")
    assert read_form(form, DRAFT) == [
        SetIntro("Hi all.\n\nSecond paragraph."),
        SetBlurb(1, "Better.\n\nTwo."),
        SetOutro("See you."),
    ]


def _blocks(form: str) -> dict[str, str]:
    """The form's item blocks by heading line, and the parts around them."""
    head, rest = form.split("[item 1]", 1)
    rest = "[item 1]" + rest
    items, tail = rest.split("[outro]", 1)
    blocks = {}
    for chunk in items.split("[item ")[1:]:
        blocks[chunk.split("]", 1)[0]] = "[item " + chunk
    return {"head": head, "tail": "[outro]" + tail, **blocks}


def test_moved_deleted_and_brought_back_blocks_become_order_removal_and_restore() -> None:
    parts = _blocks(render_form(DRAFT))
    brought_back = "[item 4] Title 4\nGone.\n\n"
    form = parts["head"] + parts["3"] + brought_back + parts["1"] + parts["tail"]
    assert read_form(form, DRAFT) == [
        RestoreItem(4),
        RemoveItem(2),
        SetOrder((3, 4, 1)),
    ]
    outcome = edit_draft(DRAFT, read_form(form, DRAFT) or [])
    assert [i.id for i in outcome.draft.shown_items] == [3, 4, 1]


def test_an_emptied_form_changes_nothing() -> None:
    assert read_form("", DRAFT) is None
    assert read_form("# only notes\n\n#\n", DRAFT) is None


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ("some text\n[intro]\n[outro]\n", "line 1: text before the [intro] heading"),
        ("[intro]\nHi\n", "the [outro] heading is missing"),
        ("[outro]\nBye\n", "the [intro] heading is missing"),
        ("[intro]\n[intro]\n[outro]\n", "line 2: [intro] twice"),
        ("[intro]\n[item 1]\n[item 1]\n[outro]\n", "line 3: [item 1] twice"),
        ("[intro]\n[item 99] x\n[outro]\n", "line 2: draft 7 has no item 99"),
    ],
)
def test_an_unreadable_form_says_where(form: str, message: str) -> None:
    with pytest.raises(FormUnreadable) as caught:
        read_form(form, DRAFT)
    assert str(caught.value) == message


def test_a_removed_items_blurb_is_not_offered() -> None:
    only_removed = replace(DRAFT, items=(item(4, "Gone.", removed=True),))
    assert read_form(render_form(only_removed), only_removed) == []
