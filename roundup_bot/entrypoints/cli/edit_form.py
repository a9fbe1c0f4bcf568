"""The plain-text form of a draft that ``roundup-bot edit DRAFT_ID`` opens in an
editor, and how what comes back turns into edits. Pure: no files, no editor.

The form is the intro, each shown item under an ``[item ID]`` heading with its
blurb, and the outro::

    [intro]
    Here's our round-up of some of our favourite blog posts of the week.

    [item 42] Leeds rebuilds its bins service
    # https://leeds.example.gov.uk/bins
    # A. Writer, Leeds Digital
    Leeds asked forty residents what a bin day should look like.

    [outro]
    If you've got others you think we've missed, tweet us.

Lines starting with ``# `` (or a lone ``#``) are notes and are left out. A text
line that would look like a note or a heading is written with a ``\\`` in
front, which reading takes off again, so every text goes round unchanged.
Moving an item's block reorders the items, deleting it removes the item, and
a removed item's heading (listed in a note at the end) put among the others
brings it back. Titles, authors and added candidates are changed with the
``edit`` subcommands, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roundup_bot.core.draft_edits import clean_text
from roundup_bot.core.errors import FormUnreadable
from roundup_bot.core.records import (
    Draft,
    DraftEdit,
    DraftItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetOrder,
    SetOutro,
)

_HEADING = re.compile(r"^\[(intro|outro|item (\d{1,12}))\](.*)$")
_ESCAPED_START = ("#", "[", "\\")


def render_form(draft: Draft) -> str:
    """The draft as text to edit (see the module docstring)."""
    lines = [
        f"# Draft {draft.id}: the round-up for the week {draft.week} (version {draft.version}).",
        "# Change the intro, the blurbs and the outro under their [headings]. Move an",
        "# item's block to change the order; delete the block to remove the item.",
        "# Keep each [heading] line as it is. Lines starting with '# ' are left out.",
        "# Save and close the editor to apply the changes; empty the file to change nothing.",
        "",
        "[intro]",
        *_text_lines(draft.intro),
        "",
    ]
    for item in draft.shown_items:
        lines += [_heading(item), *_notes(item), *_text_lines(item.blurb), ""]
    lines += ["[outro]", *_text_lines(draft.outro), ""]
    if draft.removed_items:
        lines += ["# Removed items: to put one back, copy its line among the items above", "#"]
        lines += [f"# {_heading(item)}" for item in draft.removed_items]
        lines.append("")
    return "\n".join(lines)


def _heading(item: DraftItem) -> str:
    return f"[item {item.id}] {_one_line(item.title or item.url)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _notes(item: DraftItem) -> list[str]:
    notes = [f"# {_one_line(item.url)}"]
    credit = ", ".join(_one_line(part) for part in (item.author, item.site_name) if part)
    if item.suggested_by:
        credit += (" · " if credit else "") + "suggested by " + ", ".join(item.suggested_by)
    if credit:
        notes.append(f"# {credit}")
    return notes


def _text_lines(text: str) -> list[str]:
    if not text.strip():
        return []
    return [
        f"\\{line}" if line.startswith(_ESCAPED_START) else line
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]


@dataclass
class _Section:
    key: str  # "intro", "outro" or "item"
    item_id: int | None
    line: int  # 1-based line of its heading
    text: list[str]


def read_form(text: str, draft: Draft) -> list[DraftEdit] | None:
    """The edits that turn ``draft`` into the edited form; None when the form was
    emptied (change nothing). Raises FormUnreadable, naming the line at fault."""
    sections: list[_Section] = []
    content = False
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if line == "#" or line.startswith("# "):
            continue
        heading = _HEADING.match(line)
        if heading:
            item_id = int(heading.group(2)) if heading.group(2) else None
            key = "item" if item_id is not None else heading.group(1)
            sections.append(_Section(key, item_id, number, []))
            content = True
            continue
        if line.startswith("\\"):
            line = line[1:]
        if sections:
            sections[-1].text.append(line)
        elif line.strip():
            raise FormUnreadable(f"line {number}: text before the [intro] heading")
    if not content:
        return None
    return _edits(sections, draft)


def _edits(sections: list[_Section], draft: Draft) -> list[DraftEdit]:
    by_key: dict[str, _Section] = {}
    items: list[_Section] = []
    known = {item.id: item for item in draft.items}
    for section in sections:
        if section.key == "item":
            assert section.item_id is not None
            if section.item_id not in known:
                raise FormUnreadable(
                    f"line {section.line}: draft {draft.id} has no item {section.item_id}"
                )
            if any(s.item_id == section.item_id for s in items):
                raise FormUnreadable(f"line {section.line}: [item {section.item_id}] twice")
            items.append(section)
        elif section.key in by_key:
            raise FormUnreadable(f"line {section.line}: [{section.key}] twice")
        else:
            by_key[section.key] = section
    for key in ("intro", "outro"):
        if key not in by_key:
            raise FormUnreadable(f"the [{key}] heading is missing")
    edits: list[DraftEdit] = []
    intro, outro = (clean_text("\n".join(by_key[k].text)) for k in ("intro", "outro"))
    if intro != clean_text(draft.intro):
        edits.append(SetIntro(intro))
    listed = [s.item_id for s in items if s.item_id is not None]
    shown = [item.id for item in draft.shown_items]
    edits += [RestoreItem(i) for i in listed if known[i].removed]
    edits += [RemoveItem(i) for i in shown if i not in listed]
    after = [i for i in shown if i in listed] + [i for i in listed if known[i].removed]
    if listed != after:
        edits.append(SetOrder(tuple(listed)))
    for section in items:
        assert section.item_id is not None
        blurb = clean_text("\n".join(section.text))
        if blurb != clean_text(known[section.item_id].blurb):
            edits.append(SetBlurb(section.item_id, blurb))
    if outro != clean_text(draft.outro):
        edits.append(SetOutro(outro))
    return edits
