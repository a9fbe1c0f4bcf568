"""The rules for editing a draft: one pure function, :func:`edit_draft`.

The web page, ``roundup-bot edit`` and storage all go through it, so an edit
means the same wherever it is made::

    Draft (as loaded) + [DraftEdit, ...] (+ the week's candidates, for AddItem)
        -> edit_draft
        -> EditOutcome(draft=the new Draft, problems=(EditProblem, ...))

Nothing here does I/O: storage loads the draft, checks its ``version``, saves
the new draft's differences and bumps the version; the front doors turn the
problems into their own messages. The limits and the text cleaning live here
once, so a length the page accepts is a length the database stores.

What an edit marks (``blurb_edited``, ``moved_by_editor``, ``added_by_editor``,
``intro_edited``, an item's own title ...) is what a later ``roundup-bot
draft`` refresh leaves alone; an edit that changes nothing (a blurb saved as
it was) marks nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import replace

from roundup_bot.core.records import (
    AddItem,
    Candidate,
    CandidateSource,
    Draft,
    DraftEdit,
    DraftItem,
    EditOutcome,
    EditProblem,
    ItemDetails,
    MoveItem,
    ProblemKind,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
    SetOutro,
)

#: Longest text an editor may save, in characters (after cleaning).
MAX_BLURB = 2000
MAX_INTRO = 4000  # the intro and the outro each
MAX_DETAIL = 300  # an item's title, author or blog name

# What no database column or XML page may hold: NUL (PostgreSQL refuses it), other C0
# controls but tab and newline, lone surrogates (not encodable), U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TITLE_SHOWN = 60


def clean_text(value: str) -> str:
    """An editor's text as it is stored: one kind of line ending, composed (NFC)
    characters, none that a database or XML page refuses, no surrounding space.
    The length limits count what this returns."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _FORBIDDEN.sub("", unicodedata.normalize("NFC", text)).strip()


def clean_line(value: str) -> str:
    """:func:`clean_text` on one line: runs of spaces and line breaks become one
    space (a title, author or blog name never spans lines)."""
    return " ".join(clean_text(value).split())


def too_long(what: str, text: str, limit: int) -> str | None:
    """``"the intro is 4100 characters; the limit is 4000"``, or None when it fits."""
    if len(text) <= limit:
        return None
    return f"{what} is {len(text)} characters; the limit is {limit}"


def feed_site_name(sources: Sequence[CandidateSource]) -> str | None:
    """The first feed's name, unless the feed had no name but its URL: the blog an
    item is credited to before any other clue."""
    return next((s.name for s in sources if s.kind == "feed" and "://" not in s.name), None)


def item_name(draft: Draft, item: DraftItem) -> str:
    """How messages name an item: 'item 2 (“Its title”)', by its place among the
    shown items, or 'the removed item “Its title”'."""
    title = item.title or item.url
    if len(title) > _TITLE_SHOWN:
        title = title[: _TITLE_SHOWN - 1].rstrip() + "…"
    shown = [i.id for i in draft.shown_items]
    if item.id in shown:
        return f"item {shown.index(item.id) + 1} (“{title}”)"
    return f"the removed item “{title}”"


def edit_draft(
    draft: Draft,
    edits: Sequence[DraftEdit],
    *,
    addable: Mapping[int, Candidate] | None = None,
) -> EditOutcome:
    """Apply ``edits`` to ``draft`` in order; pure.

    ``addable`` holds the candidates an :class:`AddItem` may name: the draft's
    week's candidates (storage or the caller looks them up; an id not in it is
    refused). Only a draft (not an approved or published round-up) can be
    edited. An edit with a problem is skipped and the problem reported: the
    callers apply all the edits or, when there is any problem, none.

    The new draft lists its shown items in order and then the removed ones,
    numbered 1, 2, ... in that order; an item added here has a negative id
    (-1, -2, ...) until storage saves it. ``version`` is left as it was:
    bumping it is storage's job.
    """
    work = _Work(draft, addable or {})
    if draft.status != "draft":
        work.problem(
            None,
            "not_editable",
            f"draft {draft.id} ({draft.week}) is {draft.status}: reopen it before changing it",
        )
        return EditOutcome(draft=draft, problems=tuple(work.problems))
    for edit in edits:
        work.apply(edit)
    items = tuple(
        item if item.position == n else replace(item, position=n)
        for n, item in enumerate(work.shown() + work.removed(), start=1)
    )
    new = replace(
        draft,
        items=items,
        intro=work.intro,
        outro=work.outro,
        intro_edited=work.intro_edited,
        outro_edited=work.outro_edited,
    )
    return EditOutcome(draft=new, problems=tuple(work.problems), changed=_differs(draft, new))


def _differs(before: Draft, after: Draft) -> bool:
    """Whether anything an editor or reader can see changed (stored positions may be
    renumbered without that)."""

    def content(draft: Draft) -> tuple[object, ...]:
        return (
            draft.intro,
            draft.outro,
            draft.intro_edited,
            draft.outro_edited,
            tuple(replace(item, position=0) for item in draft.shown_items),
            frozenset(replace(item, position=0) for item in draft.removed_items),
        )

    return content(before) != content(after)


class _Work:
    """The draft being edited: its items in a list (shown ones in order, removed
    ones anywhere) and its intro and outro, changed one edit at a time."""

    def __init__(self, draft: Draft, addable: Mapping[int, Candidate]) -> None:
        self.draft = draft
        self.addable = addable
        self.items = list(draft.items)
        self.intro = draft.intro
        self.outro = draft.outro
        self.intro_edited = draft.intro_edited
        self.outro_edited = draft.outro_edited
        self.problems: list[EditProblem] = []
        self._next_new_id = -1

    # --- reading the state ---------------------------------------------------------------

    def shown(self) -> list[DraftItem]:
        return [item for item in self.items if not item.removed]

    def removed(self) -> list[DraftItem]:
        return [item for item in self.items if item.removed]

    def find(self, edit: DraftEdit, item_id: int) -> DraftItem | None:
        for item in self.items:
            if item.id == item_id:
                return item
        self.problem(edit, "no_item", f"draft {self.draft.id} has no item {item_id}")
        return None

    def put(self, item: DraftItem) -> None:
        """Replace the item with the same id where it stands."""
        self.items = [item if old.id == item.id else old for old in self.items]

    def problem(
        self, edit: DraftEdit | None, kind: ProblemKind, message: str, field: str | None = None
    ) -> None:
        self.problems.append(EditProblem(kind=kind, message=message, edit=edit, field=field))

    def name(self, item: DraftItem) -> str:
        return item_name(replace(self.draft, items=tuple(self.items)), item)

    # --- the edits -----------------------------------------------------------------------

    def apply(self, edit: DraftEdit) -> None:
        if isinstance(edit, SetBlurb):
            self.set_blurb(edit)
        elif isinstance(edit, SetItemDetails):
            self.set_details(edit)
        elif isinstance(edit, RemoveItem):
            item = self.find(edit, edit.item_id)
            if item is not None and not item.removed:
                self.put(replace(item, removed=True))
        elif isinstance(edit, RestoreItem):
            self.restore(edit)
        elif isinstance(edit, MoveItem):
            self.move(edit)
        elif isinstance(edit, SetOrder):
            self.set_order(edit)
        elif isinstance(edit, AddItem):
            self.add(edit)
        elif isinstance(edit, SetIntro | SetOutro):
            self.set_intro_or_outro(edit)
        else:  # pragma: no cover - the union is closed
            self.problem(edit, "bad_edit", f"unknown edit {edit!r}")

    def set_blurb(self, edit: SetBlurb) -> None:
        item = self.find(edit, edit.item_id)
        if item is None:
            return
        text = clean_text(edit.text)
        problem = too_long(f"the blurb of {self.name(item)}", text, MAX_BLURB)
        if problem:
            self.problem(edit, "too_long", problem, f"blurb-{item.id}")
        elif text != item.blurb:
            self.put(replace(item, blurb=text, blurb_edited=True))

    def set_details(self, edit: SetItemDetails) -> None:
        """All three together; an empty or None one puts back the automatic value."""
        item = self.find(edit, edit.item_id)
        if item is None:
            return
        own: dict[str, str | None] = {}
        for attr, label, key in (
            ("title", "title", "title"),
            ("author", "author", "author"),
            ("site_name", "blog name", "site"),
        ):
            raw = getattr(edit, attr)
            text = clean_line(raw) if raw else ""
            problem = too_long(f"the {label} of {self.name(item)}", text, MAX_DETAIL)
            if problem:
                self.problem(edit, "too_long", problem, f"{key}-{item.id}")
                return
            own[attr] = text or None
        overrides = ItemDetails(**own)
        auto = item.automatic
        self.put(
            replace(
                item,
                overrides=overrides,
                title=overrides.title or auto.title,
                author=overrides.author or auto.author,
                site_name=overrides.site_name or auto.site_name,
            )
        )

    def restore(self, edit: RestoreItem) -> None:
        """A removed item comes back at the end of the shown ones."""
        item = self.find(edit, edit.item_id)
        if item is None or not item.removed:
            return
        back = replace(item, removed=False)
        self.items = [*self.shown(), back, *(i for i in self.removed() if i.id != item.id)]

    def move(self, edit: MoveItem) -> None:
        item = self.find(edit, edit.item_id)
        if item is None or item.removed or edit.offset == 0:
            return
        shown = self.shown()
        index = next(n for n, i in enumerate(shown) if i.id == item.id)
        target = min(max(index + edit.offset, 0), len(shown) - 1)
        if target == index:
            return
        shown.pop(index)
        shown.insert(target, replace(item, moved_by_editor=True))
        self.items = shown + self.removed()

    def set_order(self, edit: SetOrder) -> None:
        shown = self.shown()
        wanted = list(edit.item_ids)
        if sorted(wanted) != sorted(i.id for i in shown) or len(set(wanted)) != len(wanted):
            self.problem(
                edit,
                "bad_order",
                f"the new order for draft {self.draft.id} must list each shown item exactly once",
            )
            return
        by_id = {i.id: i for i in shown}
        ordered = [
            by_id[i] if before.id == i else replace(by_id[i], moved_by_editor=True)
            for before, i in zip(shown, wanted, strict=True)
        ]
        self.items = ordered + self.removed()

    def add(self, edit: AddItem) -> None:
        """A candidate of the week goes in (last, unless ``position`` says where);
        one removed before comes back instead of a second copy."""
        existing = next((i for i in self.items if i.candidate_id == edit.candidate_id), None)
        if existing is not None and not existing.removed:
            self.problem(
                edit,
                "already_shown",
                f"candidate {edit.candidate_id} is already in draft {self.draft.id}"
                f" ({self.name(existing)})",
            )
            return
        candidate = self.addable.get(edit.candidate_id)
        if existing is None and candidate is None:
            self.problem(
                edit,
                "no_candidate",
                f"there is no candidate {edit.candidate_id} in the week of draft"
                f" {self.draft.id} ({self.draft.week})",
            )
            return
        blurb = clean_text(edit.blurb)
        problem = too_long("the blurb", blurb, MAX_BLURB)
        if problem:
            self.problem(edit, "too_long", problem)
            return
        if existing is not None:
            item = replace(existing, removed=False, added_by_editor=True)
            if blurb:
                item = replace(item, blurb=blurb, blurb_edited=True)
        else:
            assert candidate is not None
            item = self.new_item(candidate, blurb)
        if edit.position is not None:
            item = replace(item, moved_by_editor=True)  # placed on purpose: a refresh keeps it
        shown = [i for i in self.shown() if i.id != item.id]
        at = len(shown) if edit.position is None else min(max(edit.position - 1, 0), len(shown))
        shown.insert(at, item)
        self.items = shown + [i for i in self.removed() if i.id != item.id]

    def new_item(self, candidate: Candidate, blurb: str) -> DraftItem:
        auto = ItemDetails(
            title=candidate.title,
            author=candidate.author,
            site_name=feed_site_name(candidate.sources) or candidate.site_name,
        )
        item_id = self._next_new_id
        self._next_new_id -= 1
        return DraftItem(
            id=item_id,
            candidate_id=candidate.id,
            position=0,
            url=candidate.url,
            title=auto.title,
            author=auto.author,
            site_name=auto.site_name,
            blurb=blurb,
            suggested_by=candidate.suggested_by,
            score=0.0,
            why=(),
            published=candidate.published,
            blurb_edited=bool(blurb),
            added_by_editor=True,
            automatic=auto,
        )

    def set_intro_or_outro(self, edit: SetIntro | SetOutro) -> None:
        which = "intro" if isinstance(edit, SetIntro) else "outro"
        text = clean_text(edit.text)
        problem = too_long(f"the {which}", text, MAX_INTRO)
        if problem:
            self.problem(edit, "too_long", problem, which)
        elif which == "intro" and text != self.intro:
            self.intro, self.intro_edited = text, True
        elif which == "outro" and text != self.outro:
            self.outro, self.outro_edited = text, True
