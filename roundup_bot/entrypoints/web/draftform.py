"""The draft page's form, read and checked. Pure: no Flask, no I/O.

The page is one form: the intro, the outro, a "Blurb" text box per item, the
items' order (hidden fields, in page order), and a button per action (Save,
Move up, Move down, Remove, Put back, Add). Every button sends the whole form,
so whatever was typed is saved together with the move or removal instead of
being lost: this is what makes the page work with JavaScript off.

:func:`read_form` turns the posted fields into a :class:`Submission`;
:func:`plan_edits` compares it with the stored draft and returns the
:mod:`roundup_bot.core.records` edits to apply in one transaction, or raises
:class:`FormProblem` with a message for the editor (and then nothing changes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from roundup_bot.core.draft_edits import (  # the one set of limits and text cleaning
    MAX_BLURB,
    MAX_DETAIL,
    MAX_INTRO,
    clean_line,
    clean_text,
    too_long,
)
from roundup_bot.core.errors import FormProblem
from roundup_bot.core.records import (
    AddItem,
    Draft,
    DraftEdit,
    DraftItem,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
    SetOutro,
)

MAX_SEARCH = 200

_ACTION = re.compile(r"^(save|preview|search|link|up|down|remove|restore|add)(?:-(\d{1,12}))?$")
MAX_LINK = 2000
__all__ = [
    "DETAILS",
    "MAX_BLURB",
    "MAX_DETAIL",
    "MAX_INTRO",
    "FormProblem",
    "Submission",
    "fingerprint",
    "order_fingerprint",
    "plan_edits",
    "read_form",
]

#: An item's shown details: form field prefix -> (DraftItem attribute, label).
DETAILS = {
    "title": ("title", "Title"),
    "author": ("author", "Author"),
    "site": ("site_name", "Blog"),
}

_WITH_ID = frozenset({"up", "down", "remove", "restore", "add"})


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # save | preview | search | link | up | down | remove | restore | add
    target: int | None = None  # an item id, or for "add" a candidate id


@dataclass(frozen=True, slots=True)
class Submission:
    """What the editor sent, as typed (line endings normalised)."""

    version: int | None
    intro: str | None
    outro: str | None
    order: tuple[int, ...]  # shown item ids, in page order
    blurbs: Mapping[int, str] = field(default_factory=dict)
    # item id -> {"title"|"author"|"site": text} for the "Edit title, author and blog" boxes
    details: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    action: Action = Action("save")
    query: str = ""
    new_link: str = ""  # "Add a link": any address the editor found themselves
    # Fingerprints of each field as it was when the page was loaded ("intro",
    # "outro", "blurb-<id>", "order"), so a conflict can tell what this editor
    # changed from what the other editor changed.
    origs: Mapping[str, str] = field(default_factory=dict)

    def changed(self, name: str, value: str) -> bool:
        """Did the editor change field ``name`` (sent as ``value``) on the page?
        Without a fingerprint, assume so: better to show too much than lose text."""
        orig = self.origs.get(name)
        return orig is None or orig != fingerprint(value)


def fingerprint(value: str) -> str:
    """A short digest of a field's text (normalised as the form reads it)."""
    text = _text(value) or ""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def order_fingerprint(item_ids: Sequence[int]) -> str:
    return fingerprint(",".join(str(i) for i in item_ids))


def _text(value: str | None) -> str | None:
    return clean_text(value) if value is not None else None


def _int(value: str | None) -> int | None:
    """A number the page wrote (ASCII digits, at most 12), else None: not isdigit(),
    which also takes '²' that int() refuses."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 12:
        return None
    return int(text)


def read_form(form: Mapping[str, str], items: Sequence[str]) -> Submission:
    """``form`` is the posted fields (first value of each); ``items`` every value of
    the repeated ``item`` field. Raises FormProblem for an unreadable form."""
    raw_action = (form.get("action") or "save").strip()
    match = _ACTION.match(raw_action)
    if not match or (match.group(1) in _WITH_ID) != (match.group(2) is not None):
        raise FormProblem("That button is not one this page knows. Reload the page.")
    action = Action(match.group(1), int(match.group(2)) if match.group(2) else None)
    order: list[int] = []
    for value in items:
        number = _int(value)
        if number is None:
            raise FormProblem("The list of items was damaged. Reload the page.")
        order.append(number)
    blurbs: dict[int, str] = {}
    details: dict[int, dict[str, str]] = {}
    for name, value in form.items():
        prefix, _, rest = name.partition("-")
        if prefix == "blurb" or prefix in DETAILS:
            number = _int(rest)
            if number is None:
                raise FormProblem("The list of items was damaged. Reload the page.")
            if prefix == "blurb":
                blurbs[number] = _text(value) or ""
            else:
                details.setdefault(number, {})[prefix] = clean_line(value)
    return Submission(
        version=_int(form.get("version")),
        intro=_text(form.get("intro")),
        outro=_text(form.get("outro")),
        order=tuple(order),
        blurbs=blurbs,
        details=details,
        action=action,
        query=(form.get("q") or "").strip()[:MAX_SEARCH],
        new_link=(form.get("new_link") or "").strip()[: MAX_LINK + 1],
        origs={
            name[len("orig-") :]: value.strip()[:64]
            for name, value in form.items()
            if name.startswith("orig-")
        },
    )


def item_details(item: DraftItem) -> dict[str, str]:
    """What an item's detail boxes hold when the page is made."""
    return {
        key: " ".join((getattr(item, attr) or "").split()) for key, (attr, _) in DETAILS.items()
    }


def check_lengths(sub: Submission, draft: Draft | None = None) -> None:
    """Raises FormProblem for the first field over its limit, naming the item
    (its place on the page and its title) when ``draft`` is given: on a page of
    ten items, "a blurb" alone does not say which box to shorten."""
    checks: list[tuple[str, str, int, str]] = []  # (what, text, limit, field)
    for name in ("intro", "outro"):
        text = getattr(sub, name)
        if text is not None:
            checks.append((f"the {name}", text, MAX_INTRO, name))
    for item_id, fields in sub.details.items():
        for key, text in fields.items():
            what = f"the {DETAILS[key][1].lower()}{_which(item_id, sub, draft)}"
            checks.append((what, text, MAX_DETAIL, f"{key}-{item_id}"))
    for item_id, text in sub.blurbs.items():
        what = f"the blurb{_which(item_id, sub, draft)}"
        checks.append((what, text, MAX_BLURB, f"blurb-{item_id}"))
    for what, text, limit, name in checks:
        problem = too_long(what, text, limit)
        if problem:
            raise FormProblem(
                problem[0].upper() + problem[1:] + ". Shorten it and save again.", field=name
            )


def _which(item_id: int, sub: Submission, draft: Draft | None) -> str:
    """Where the field is, e.g. ' of item 2 (“Its title”)'; "" when it cannot be named."""
    if draft is None:
        return ""
    item = next((i for i in draft.items if i.id == item_id), None)
    if item is None:
        return ""
    place = f" {sub.order.index(item_id) + 1}" if item_id in sub.order else ""
    title = item.title or item.url
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    return f" of item{place} (“{title}”)"


def plan_edits(
    draft: Draft, sub: Submission, addable: frozenset[int] = frozenset()
) -> list[DraftEdit]:
    """The edits that turn ``draft`` into what the editor sent, plus the button's action.

    Only what differs is sent, so an untouched intro or blurb stays "not edited"
    and a later ``roundup-bot draft`` refresh may still update it. ``addable``
    holds the ids of the week's candidates that may be added.
    """
    check_lengths(sub, draft)
    shown = [item.id for item in draft.shown_items]
    by_id = {item.id: item for item in draft.items}
    if sub.order and sorted(sub.order) != sorted(shown):
        raise FormProblem("The draft's items changed since this page was loaded. Reload the page.")
    unknown = [i for i in (*sub.blurbs, *sub.details) if i not in by_id]
    if unknown:
        raise FormProblem("The draft's items changed since this page was loaded. Reload the page.")
    edits: list[DraftEdit] = []
    if sub.intro is not None and sub.intro != draft.intro.strip():
        edits.append(SetIntro(sub.intro))
    if sub.outro is not None and sub.outro != draft.outro.strip():
        edits.append(SetOutro(sub.outro))
    for item_id, text in sub.blurbs.items():
        if text != by_id[item_id].blurb.strip():
            edits.append(SetBlurb(item_id, text))
    for item_id, fields in sub.details.items():
        shown_now = item_details(by_id[item_id])
        wanted = {key: fields.get(key, shown_now[key]) for key in DETAILS}
        if wanted != shown_now:
            # All three go together (an empty box: back to the automatic value).
            edits.append(
                SetItemDetails(
                    item_id,
                    title=wanted["title"] or None,
                    author=wanted["author"] or None,
                    site_name=wanted["site"] or None,
                )
            )
    if sub.order and list(sub.order) != shown:
        edits.append(SetOrder(tuple(sub.order)))
    order = list(sub.order) if sub.order else shown
    action, target = sub.action.kind, sub.action.target
    if action in ("up", "down", "remove"):
        if target not in order:
            raise FormProblem("That item is no longer in the draft. Reload the page.")
        if action == "remove":
            edits.append(RemoveItem(target))
        else:
            offset = -1 if action == "up" else 1
            place = order.index(target)
            if 0 <= place + offset < len(order):
                edits.append(MoveItem(target, offset))
    elif action == "restore":
        if target is None or target not in by_id or not by_id[target].removed:
            raise FormProblem("That item is not among the removed ones. Reload the page.")
        edits.append(RestoreItem(target))
    elif action == "add":
        if target is None or target not in addable:
            raise FormProblem(
                "That candidate cannot be added: it is not one of this week's candidates,"
                " or it is already in the draft."
            )
        edits.append(AddItem(target))
    return edits
