"""What changed in a draft, and what an editor coming back to it is shown. Pure:
no I/O, no clock (``now`` is passed in).

Editors look at the round-up a few times a week. When they come back, the draft
page marks what *another* editor changed since they last looked, and lists the
candidates that arrived after the draft was made. Three decisions live here:

- :func:`parts_changed`: which parts of a draft one save changed, and how
  (storage records them with who and when, per part);
- :func:`visit_since`: the moment an editor's marks count from. A visit is a run
  of page views with less than :data:`VISIT_GAP` between them; the marks count
  from the end of the previous visit, so they stay while the editor works (every
  button reloads the page) and are gone on their next visit;
- :func:`marks_for`: the changes another editor made after that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from roundup_bot.core.records import Draft, DraftEdit, MoveItem

#: Page views less than this apart are one visit (the usual web-analytics session).
VISIT_GAP = timedelta(minutes=30)

#: A part of a draft: ("intro", 0), ("outro", 0) or ("item", the draft item's id).
PartKey = tuple[str, int]

#: What a change did, in the words the page uses after the editor's name.
WORDS = {
    "text": "rewrote it",
    "blurb": "rewrote the blurb",
    "details": "changed the title, author or blog",
    "moved": "moved it",
    "added": "added it",
    "removed": "removed it",
    "restored": "put it back",
}


@dataclass(frozen=True, slots=True)
class PartChange:
    """The last change an editor made to one part of a draft."""

    part: str  # intro | outro | item
    item_id: int  # the draft item's id; 0 for the intro and outro
    changed_at: datetime
    changed_by: str
    what: tuple[str, ...]  # keys of WORDS, in order

    @property
    def key(self) -> PartKey:
        return (self.part, self.item_id)

    @property
    def words(self) -> str:
        """In words, as the page says it: "rewrote the blurb and moved it"."""
        said = [WORDS.get(w, w) for w in self.what]
        if len(said) <= 1:
            return "".join(said)
        return ", ".join(said[:-1]) + " and " + said[-1]


@dataclass(frozen=True, slots=True)
class Arrival:
    """A candidate of the week that arrived, or was suggested, after the draft was made."""

    candidate_id: int
    at: datetime  # its latest arrival: first seen, or a suggestion
    new: bool  # first seen after the draft was made (else: suggested again since)
    suggested_by: tuple[str, ...] = ()  # those who suggested it since, "@ann"


def parts_changed(
    before: Draft, after: Draft, edits: Sequence[DraftEdit] = ()
) -> dict[PartKey, tuple[str, ...]]:
    """The parts of ``before`` that are different in ``after`` (the same draft, saved),
    each with what changed. Items are matched by candidate, so an item added by the
    save is found under its new id.

    An item counts as moved when the editor moved it: named by a :class:`MoveItem`,
    or, after a new order (a drag), one of the fewest items whose moving explains
    the new order. Items that only shifted because others moved are not marked.
    """
    found: dict[PartKey, list[str]] = {}
    if after.intro.strip() != before.intro.strip():
        found[("intro", 0)] = ["text"]
    if after.outro.strip() != before.outro.strip():
        found[("outro", 0)] = ["text"]
    old = {item.candidate_id: item for item in before.items}
    for item in after.items:
        was = old.get(item.candidate_id)
        what: list[str] = []
        if was is None:
            what.append("added")
        else:
            if item.removed and not was.removed:
                what.append("removed")
            elif was.removed and not item.removed:
                what.append("restored")
            if item.blurb.strip() != was.blurb.strip():
                what.append("blurb")
            if item.overrides != was.overrides:
                what.append("details")
        if what:
            found[("item", item.id)] = what
    move_ids = {e.item_id for e in edits if isinstance(e, MoveItem)}
    named = {i.candidate_id for i in before.items if i.id in move_ids}
    moved = _moved(before, after, named)
    for item in after.items:
        if item.candidate_id in moved:
            found.setdefault(("item", item.id), []).append("moved")
    return {key: tuple(what) for key, what in found.items()}


def _moved(before: Draft, after: Draft, named: set[int]) -> set[int]:
    """Candidates whose item was moved (see :func:`parts_changed`)."""
    common = {i.candidate_id for i in before.shown_items} & {
        i.candidate_id for i in after.shown_items
    }
    old = [i.candidate_id for i in before.shown_items if i.candidate_id in common]
    new = [i.candidate_id for i in after.shown_items if i.candidate_id in common]
    if old == new:
        return set()
    if named and [c for c in old if c not in named] == [c for c in new if c not in named]:
        return named & common
    place = {c: n for n, c in enumerate(old)}
    return set(new) - set(_longest_increasing([place[c] for c in new], new))


def _longest_increasing(places: list[int], names: list[int]) -> list[int]:
    """The names at the longest increasing run (not necessarily contiguous) of places:
    the items that kept their order. O(n²), for a round-up's ten or so items."""
    if not places:
        return []
    best = [1] * len(places)
    back = [-1] * len(places)
    for i in range(len(places)):
        for j in range(i):
            if places[j] < places[i] and best[j] + 1 > best[i]:
                best[i], back[i] = best[j] + 1, j
    i = max(range(len(places)), key=lambda k: best[k])
    kept = []
    while i != -1:
        kept.append(names[i])
        i = back[i]
    return kept


def merged(
    earlier: PartChange | None, what: tuple[str, ...], by: str, now: datetime
) -> tuple[str, ...]:
    """What to record for a part changed again: the same editor's changes within one
    visit add up ("rewrote the blurb and moved it"); anyone else's start afresh."""
    if earlier is None or earlier.changed_by != by or now - earlier.changed_at > VISIT_GAP:
        return what
    return tuple(dict.fromkeys((*earlier.what, *what)))


def visit_since(seen_at: datetime | None, since: datetime | None, now: datetime) -> datetime | None:
    """The moment an editor's marks count from, for a view at ``now``, given their last
    view (``seen_at``) and the moment of the visit it belonged to (``since``).
    None: a first visit, when nothing is marked (everything would be)."""
    if seen_at is None:
        return None
    if now - seen_at > VISIT_GAP:
        return seen_at  # a new visit: mark what changed since the last one ended
    return since


def marks_for(
    changes: Iterable[PartChange], editor: str, since: datetime | None
) -> dict[PartKey, PartChange]:
    """The changes another editor made after ``since``, by part."""
    if since is None:
        return {}
    me = editor.casefold()
    return {c.key: c for c in changes if c.changed_at > since and c.changed_by.casefold() != me}


def since_words(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """When, as a busy person says it: "since 09:15 today", "since yesterday",
    "since Tuesday" (within the week), else "since 17 Nov"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    days = (today - local.date()).days
    if days <= 0:
        return f"since {local:%H:%M} today"
    if days == 1:
        return "since yesterday"
    if days < 7:
        return f"since {local:%A}"
    return f"since {local.day} {local:%b}"


def by_editor(marks: Mapping[PartKey, PartChange]) -> list[tuple[str, int]]:
    """(editor, how many parts they changed), most first, for the page's summary."""
    counts: dict[str, int] = {}
    for change in marks.values():
        counts[change.changed_by] = counts.get(change.changed_by, 0) + 1
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0].casefold()))
