"""The draft page's state, built from the stored draft, from what an editor
posted, or from both after a conflicting save. No Flask, no I/O: the views in
:mod:`roundup_bot.entrypoints.web.drafts` fetch and store; this decides what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from roundup_bot.core.errors import StaleDraftError
from roundup_bot.core.ranking import Ranked
from roundup_bot.core.records import Draft, DraftItem
from roundup_bot.entrypoints.web.draftform import (
    DETAILS,
    Submission,
    fingerprint,
    item_details,
    order_fingerprint,
)


@dataclass
class Row:
    item: DraftItem
    blurb: str  # the text in the box
    mine: str | None = None  # after a conflict: what this editor had typed, where it differs
    details: dict[str, str] = field(default_factory=dict)  # title, author, site boxes
    mine_details: dict[str, str] = field(default_factory=dict)  # after a conflict, as ``mine``

    def __post_init__(self) -> None:
        self.details = {**item_details(self.item), **self.details}


@dataclass
class Conflict:
    by: str | None
    at: datetime | None
    lost: list[tuple[str, str]] = field(default_factory=list)  # (item title, text) gone meanwhile
    order: list[str] = field(default_factory=list)  # this editor's order, when it differed
    undone: str | None = None  # the button they pressed, which was not carried out


@dataclass
class PageState:
    draft: Draft
    version: int
    intro: str
    outro: str
    rows: list[Row]
    mine_intro: str | None = None
    mine_outro: str | None = None
    conflict: Conflict | None = None
    error: str | None = None
    error_field: str | None = None
    query: str = ""
    results: list[Ranked] = field(default_factory=list)
    searched: bool = False
    jump_to_results: bool = False  # the Search button was pressed: focus its results
    origs: dict[str, str] = field(default_factory=dict)  # see Submission.origs
    # (label, text) an editor typed that cannot be saved at all (the round-up was
    # approved or published meanwhile): shown read-only so they can copy it.
    unsaved: list[tuple[str, str]] = field(default_factory=list)


def _title(item: DraftItem) -> str:
    return item.title or item.url


def fingerprints(draft: Draft) -> dict[str, str]:
    """What each field held when the page was made, for telling edits apart later."""
    origs = {"intro": fingerprint(draft.intro), "outro": fingerprint(draft.outro)}
    for item in draft.shown_items:
        origs[f"blurb-{item.id}"] = fingerprint(item.blurb)
        for key, text in item_details(item).items():
            origs[f"{key}-{item.id}"] = fingerprint(text)
    origs["order"] = order_fingerprint([i.id for i in draft.shown_items])
    return origs


def state_from_draft(draft: Draft) -> PageState:
    return PageState(
        draft=draft,
        version=draft.version,
        intro=draft.intro,
        outro=draft.outro,
        rows=[Row(item, item.blurb) for item in draft.shown_items],
        origs=fingerprints(draft),
    )


def state_from_submission(draft: Draft, sub: Submission) -> PageState:
    """The page as the editor had it (nothing saved): their order and their text."""
    by_id = {item.id: item for item in draft.shown_items}
    order = [i for i in sub.order if i in by_id] + [i for i in by_id if i not in sub.order]
    return PageState(
        draft=draft,
        version=sub.version if sub.version is not None else draft.version,
        intro=sub.intro if sub.intro is not None else draft.intro,
        outro=sub.outro if sub.outro is not None else draft.outro,
        rows=[
            Row(by_id[i], sub.blurbs.get(i, by_id[i].blurb), details=dict(sub.details.get(i, {})))
            for i in order
        ],
        query=sub.query,
        origs={**fingerprints(draft), **sub.origs},
    )


def state_after_conflict(current: Draft, sub: Submission, error: StaleDraftError) -> PageState:
    """The other editor's saved version, with this editor's own changes beside it:
    only what they changed on the page and what now differs (text they left
    alone is not offered back, so it cannot undo the other editor's work)."""
    state = state_from_draft(current)
    if (
        sub.intro is not None
        and sub.changed("intro", sub.intro)
        and sub.intro != current.intro.strip()
    ):
        state.mine_intro = sub.intro
    if (
        sub.outro is not None
        and sub.changed("outro", sub.outro)
        and sub.outro != current.outro.strip()
    ):
        state.mine_outro = sub.outro
    conflict = Conflict(by=error.updated_by, at=error.updated_at)
    shown = {row.item.id: row for row in state.rows}
    every = {item.id: item for item in current.items}
    for item_id, text in sub.blurbs.items():
        if not sub.changed(f"blurb-{item_id}", text):
            continue
        row = shown.get(item_id)
        if row is not None:
            if text != row.item.blurb.strip():
                row.mine = text
        elif text:
            gone = every.get(item_id)
            conflict.lost.append((_title(gone) if gone else f"item {item_id}", text))
    for item_id, fields in sub.details.items():
        row = shown.get(item_id)
        if row is None:
            continue
        for key, text in fields.items():
            if sub.changed(f"{key}-{item_id}", text) and text != row.details[key]:
                row.mine_details[key] = text
    if (
        sub.order
        and sub.changed("order", ",".join(str(i) for i in sub.order))
        and [i for i in sub.order if i in shown] != [r.item.id for r in state.rows]
    ):
        conflict.order = [_title(shown[i].item) for i in sub.order if i in shown]
    conflict.undone = _undone(sub, current)
    state.conflict = conflict
    state.query = sub.query
    return state


def unsaved_text(current: Draft, sub: Submission) -> list[tuple[str, str]]:
    """What the editor changed on the page that ``current`` does not hold, as
    (label, text): for a save that cannot be applied at all, so nothing they
    typed is lost even then."""
    stale = StaleDraftError(
        current.id, sub.version or 0, current.version, current.updated_by, current.updated_at
    )
    state = state_after_conflict(current, sub, stale)
    kept: list[tuple[str, str]] = []
    if state.mine_intro is not None:
        kept.append(("Intro", state.mine_intro))
    for row in state.rows:
        title = _title(row.item)
        for key, text in row.mine_details.items():
            kept.append((f"{DETAILS[key][1]} of “{title}”", text))
        if row.mine is not None:
            kept.append((f"Blurb for “{title}”", row.mine))
    if state.conflict is not None:
        kept.extend((f"Blurb for “{title}”", text) for title, text in state.conflict.lost)
    if state.mine_outro is not None:
        kept.append(("Outro", state.mine_outro))
    return kept


def typed_text(sub: Submission) -> list[tuple[str, str]]:
    """What the editor changed on the page, as (label, text), from the form alone:
    for a save refused before anyone is signed in (an expired session), when the
    draft itself may not be shown. Items are named by their place on the page."""
    kept: list[tuple[str, str]] = []
    if sub.intro is not None and sub.intro and sub.changed("intro", sub.intro):
        kept.append(("Intro", sub.intro))
    places = {item_id: n for n, item_id in enumerate(sub.order, 1)}
    for item_id, text in sub.blurbs.items():
        if text and sub.changed(f"blurb-{item_id}", text):
            place = places.get(item_id)
            kept.append((f"Blurb of item {place}" if place else "Blurb", text))
    if sub.outro is not None and sub.outro and sub.changed("outro", sub.outro):
        kept.append(("Outro", sub.outro))
    return kept


_VERBS = {
    "up": "Move up",
    "down": "Move down",
    "remove": "Remove",
    "restore": "Put back",
    "add": "Add",
    "preview": "Save and preview",
}


def _undone(sub: Submission, current: Draft) -> str | None:
    kind, target = sub.action.kind, sub.action.target
    if kind not in _VERBS:
        return None
    if target is None:
        return f"You pressed “{_VERBS[kind]}”; it was not done."
    if kind == "add":
        what = f"candidate {target}"
    else:
        item = next((i for i in current.items if i.id == target), None)
        what = f"“{_title(item)}”" if item else f"item {target}"
    return f"You pressed “{_VERBS[kind]}” for {what}; it was not done."


def matches(ranked: Ranked, words: list[str]) -> bool:
    """Every word (case-folded) appears in the title, site, author, address or sources."""
    c = ranked.candidate
    hay = " ".join(
        filter(None, (c.title, c.site_name, c.author, c.url, *(s.name for s in c.sources)))
    ).casefold()
    return all(word in hay for word in words)
