"""``roundup-bot edit DRAFT_ID``: change a draft from the terminal.

The rules are the web page's (:func:`roundup_bot.core.draft_edits.edit_draft`)
and so is the saving (:meth:`DraftRepository.apply_edits`, one version check,
one version bump), so a change means the same wherever it is made, and an edit
made against a version someone has changed since is refused, naming who.

Items are named by number: the shown items are 1, 2, ... in order (as ``show``
numbers them), and the removed ones follow. With no subcommand the draft opens
in ``$VISUAL`` or ``$EDITOR`` as plain text (see
:mod:`roundup_bot.entrypoints.cli.edit_form`) and what changed is applied when
the editor closes, as ``git commit`` does; text that cannot be applied stays in
a file the message names.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click

from roundup_bot.adapters.render import and_list
from roundup_bot.core.clock import utc_now
from roundup_bot.core.draft_edits import clean_line, edit_draft, item_name
from roundup_bot.core.errors import DraftError, FormUnreadable, RoundupError, StaleDraftError
from roundup_bot.core.records import (
    AddItem,
    Candidate,
    Draft,
    DraftEdit,
    DraftItem,
    MoveItem,
    RemoveItem,
    RestoreItem,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOutro,
)
from roundup_bot.core.wording import plural
from roundup_bot.entrypoints.cli._context import CliContext
from roundup_bot.entrypoints.cli._output import RowId, echo_json
from roundup_bot.entrypoints.cli.drafts import draft_json, user_name
from roundup_bot.entrypoints.cli.edit_form import read_form, render_form

#: The most standard input a text may come from (the longest text allowed is far less).
MAX_STDIN = 64 * 1024

_TEXT_HELP = "TEXT '-' reads it from standard input."


@dataclass(frozen=True)
class _Request:
    """What the ``edit`` group and its subcommand were told, together."""

    cli: CliContext
    draft_id: int
    by: str
    expected_version: int | None
    as_json: bool


_GIVEN = "roundup_bot.edit.given"  # ctx.meta key: the shared options given so far


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a shared option where the subcommand finds it: ``ctx.meta`` is one dict
    for the group and its subcommand, so one given after the subcommand wins."""
    if value and param.name:
        ctx.meta.setdefault(_GIVEN, {})[param.name] = value


def _shared_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--by, --expect-version and --json, taken before or after the subcommand."""
    kept: dict[str, Any] = {"expose_value": False, "callback": _remember}
    shared = [
        click.option("--json", "as_json", is_flag=True, help="Print the draft as JSON.", **kept),
        click.option(
            "--expect-version",
            "expected_version",
            type=click.IntRange(min=1),
            metavar="V",
            help="Refuse the edit unless the draft is still at version V (as `draft --json` "
            "printed it).",
            **kept,
        ),
        click.option(
            "--by", metavar="NAME", help="Who makes the change (default: your user name).", **kept
        ),
    ]
    for option in shared:
        function = option(function)
    return function


def _request(ctx: click.Context) -> _Request:
    cli = ctx.find_object(CliContext)
    assert cli is not None
    given = ctx.meta.get(_GIVEN, {})
    return _Request(
        cli=cli,
        draft_id=ctx.meta[_DRAFT_ID],
        by=given.get("by") or user_name(),
        expected_version=given.get("expected_version"),
        as_json=bool(given.get("as_json")),
    )


_DRAFT_ID = "roundup_bot.edit.draft_id"


class _EditGroup(click.Group):
    """A group whose own options may also come after DRAFT_ID (``edit 5 --json``,
    ``edit 5 --by ann remove 2``): click stops reading a group's options at its
    first argument, so they are moved in front of it first."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = {
            name: param.is_flag
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
            for name in param.opts
        }
        moved: list[str] = []
        positional: list[str] = []  # DRAFT_ID, once seen
        rest = list(args)
        while rest:
            token = rest[0]
            name = token.split("=", 1)[0]
            if name not in options:
                if positional:
                    break  # the subcommand: its own options stay behind it
                positional.append(rest.pop(0))
                continue
            moved.append(rest.pop(0))
            if not options[name] and "=" not in token and rest:
                moved.append(rest.pop(0))  # the option's value
        return super().parse_args(ctx, moved + positional + rest)


@click.group(cls=_EditGroup, invoke_without_command=True, subcommand_metavar="[COMMAND [ARGS]...]")
@click.argument("draft_id", type=RowId())
@_shared_options
@click.pass_context
def edit(ctx: click.Context, draft_id: int) -> None:
    """Change a draft: its items, blurbs, intro and outro.

    Items are numbered as `show` numbers them (1, 2, ... in order); removed
    items follow the shown ones. With no COMMAND, the draft opens in $VISUAL
    or $EDITOR as text: change the intro, blurbs and outro, move or delete an
    item's block, save and close, and what changed is applied. Edits follow
    the web page's rules, and one made against a changed draft is refused,
    naming who changed it.
    """
    ctx.meta[_DRAFT_ID] = draft_id
    if ctx.invoked_subcommand is None:
        _edit_in_editor(_request(ctx))


# --- applying edits ----------------------------------------------------------------------------


def _load(request: _Request) -> Draft:
    draft = request.cli.app.storage.drafts.get(request.draft_id)
    if draft.status != "draft":
        raise DraftError(
            f"draft {draft.id} ({draft.week}) is {draft.status}: reopen it before changing it"
        )
    expected = request.expected_version
    if expected is not None and expected != draft.version:
        raise StaleDraftError(draft.id, expected, draft.version, draft.updated_by, draft.updated_at)
    return draft


def _addable(request: _Request, draft: Draft, edits: Sequence[DraftEdit]) -> list[Candidate]:
    """The candidates named by AddItem that are of the draft's week (as the web page
    offers only the week's candidates)."""
    wanted = [edit.candidate_id for edit in edits if isinstance(edit, AddItem)]
    if not wanted:
        return []
    return request.cli.app.storage.candidates.list(draft.period_start, draft.period_end, ids=wanted)


def _save(request: _Request, draft: Draft, edits: Sequence[DraftEdit]) -> Draft | None:
    """The draft as saved, or None when the edits change nothing (then nothing is
    saved and the version stays). Raises DraftError for the first problem."""
    addable = _addable(request, draft, edits)
    outcome = edit_draft(draft, edits, addable={c.id: c for c in addable})
    if outcome.problems:
        raise DraftError(outcome.problems[0].message)
    if not outcome.changed:
        return None
    return request.cli.app.storage.drafts.apply_edits(
        draft.id,
        edits,
        expected_version=draft.version,
        by=request.by,
        now=utc_now(),
        addable=addable,
    )


def _report(request: _Request, draft: Draft, saved: Draft | None, done: str) -> None:
    shown = saved or draft
    message = (
        f"{done} Draft {shown.id} ({shown.week}) is at version {shown.version}."
        if saved is not None
        else f"Nothing had changed: draft {shown.id} ({shown.week}) is still at version"
        f" {shown.version}."
    )
    click.echo(message, err=request.as_json)
    if request.as_json:
        echo_json(draft_json(shown))


def _numbered(draft: Draft) -> list[DraftItem]:
    return [*draft.shown_items, *draft.removed_items]


def _item(draft: Draft, number: int) -> DraftItem:
    items = _numbered(draft)
    if 1 <= number <= len(items):
        return items[number - 1]
    shown, removed = len(draft.shown_items), len(draft.removed_items)
    what = f"it shows {shown} item{'s' if shown != 1 else ''}"
    if removed:
        what += f" (1-{shown}) and has {removed} removed ({shown + 1}-{shown + removed})"
    raise DraftError(f"draft {draft.id} has no item {number}: {what}")


def _number(draft: Draft, item_id: int) -> int:
    return next(n for n, item in enumerate(_numbered(draft), 1) if item.id == item_id)


def _shown_item(draft: Draft, number: int) -> DraftItem:
    item = _item(draft, number)
    if item.removed:
        raise DraftError(
            f"item {number} of draft {draft.id} is removed: "
            f"`roundup-bot edit {draft.id} restore {number}` puts it back first"
        )
    return item


def _text(value: str) -> str:
    """TEXT, or with '-' standard input (bounded)."""
    if value != "-":
        return value
    stream: TextIO = sys.stdin
    text = stream.read(MAX_STDIN + 1)
    if len(text) > MAX_STDIN:
        raise click.BadParameter(f"standard input holds more than {MAX_STDIN} characters")
    return text


# --- the subcommands ---------------------------------------------------------------------------


def _subcommand(name: str, help_text: str) -> Callable[[Callable[..., Any]], click.Command]:
    def decorate(function: Callable[..., Any]) -> click.Command:
        return edit.command(name, help=help_text)(_shared_options(click.pass_context(function)))

    return decorate


@_subcommand("remove", "Take item N out of the round-up (`restore` puts it back).")
@click.argument("number", metavar="N", type=int)
def remove(ctx: click.Context, number: int) -> None:
    request = _request(ctx)
    draft = _load(request)
    item = _item(draft, number)
    if item.removed:
        raise DraftError(f"item {number} of draft {draft.id} is already removed")
    saved = _save(request, draft, [RemoveItem(item.id)])
    done = f"Removed {item_name(draft, item)}."
    if saved is not None:
        back = _number(saved, item.id)
        done += (
            f" It is listed as removed item {back}:"
            f" `roundup-bot edit {draft.id} restore {back}` puts it back."
        )
    _report(request, draft, saved, done)


@_subcommand("restore", "Put removed item N back, at the end of the list.")
@click.argument("number", metavar="N", type=int)
def restore(ctx: click.Context, number: int) -> None:
    request = _request(ctx)
    draft = _load(request)
    item = _item(draft, number)
    if not item.removed:
        raise DraftError(f"item {number} of draft {draft.id} is not among the removed ones")
    saved = _save(request, draft, [RestoreItem(item.id)])
    where = f", as item {_number(saved, item.id)}" if saved is not None else ""
    title = item.title or item.url
    _report(request, draft, saved, f"Put “{title}” back at the end of the list{where}.")


@_subcommand("move", "Move item N to place M.")
@click.argument("number", metavar="N", type=int)
@click.option("--to", "to", metavar="M", type=int, required=True, help="Its new place.")
def move(ctx: click.Context, number: int, to: int) -> None:
    request = _request(ctx)
    draft = _load(request)
    item = _shown_item(draft, number)
    places = len(draft.shown_items)
    if not 1 <= to <= places:
        raise DraftError(f"there is no place {to}: draft {draft.id} shows {plural(places, 'item')}")
    saved = _save(request, draft, [MoveItem(item.id, to - number)])
    _report(request, draft, saved, f"Moved {item_name(draft, item)} to place {to}.")


@_subcommand("blurb", f"Set the blurb of item N. {_TEXT_HELP}")
@click.argument("number", metavar="N", type=int)
@click.argument("text", metavar="TEXT")
def blurb(ctx: click.Context, number: int, text: str) -> None:
    request = _request(ctx)
    draft = _load(request)
    item = _item(draft, number)
    saved = _save(request, draft, [SetBlurb(item.id, _text(text))])
    _report(request, draft, saved, f"Saved the blurb of {item_name(draft, item)}.")


@_subcommand("intro", f"Set the intro. {_TEXT_HELP}")
@click.argument("text", metavar="TEXT")
def intro(ctx: click.Context, text: str) -> None:
    request = _request(ctx)
    draft = _load(request)
    _report(request, draft, _save(request, draft, [SetIntro(_text(text))]), "Saved the intro.")


@_subcommand("outro", f"Set the outro. {_TEXT_HELP}")
@click.argument("text", metavar="TEXT")
def outro(ctx: click.Context, text: str) -> None:
    request = _request(ctx)
    draft = _load(request)
    _report(request, draft, _save(request, draft, [SetOutro(_text(text))]), "Saved the outro.")


def _set_detail(request: _Request, number: int, attr: str, text: str) -> None:
    """Set one of the item's own title/author, keeping its other own details."""
    draft = _load(request)
    item = _item(draft, number)
    wanted = clean_line(_text(text))
    own = {
        "title": item.overrides.title,
        "author": item.overrides.author,
        "site_name": item.overrides.site_name,
        attr: wanted or None,
    }
    saved = _save(request, draft, [SetItemDetails(item.id, **own)])
    value = getattr(_by_id(saved, item.id) if saved else item, attr)
    shows = f"“{value}”" if value else "none"
    done = f"Saved the {attr} of" if wanted else f"Put back the automatic {attr} of"
    _report(request, draft, saved, f"{done} {item_name(draft, item)}; it shows {shows}.")


def _by_id(draft: Draft, item_id: int) -> DraftItem:
    return next(item for item in draft.items if item.id == item_id)


_DETAIL_HELP = "An empty TEXT puts back the automatic one (from the feed or the page). "


@_subcommand("title", f"Set the title item N shows. {_DETAIL_HELP}{_TEXT_HELP}")
@click.argument("number", metavar="N", type=int)
@click.argument("text", metavar="TEXT")
def title(ctx: click.Context, number: int, text: str) -> None:
    _set_detail(_request(ctx), number, "title", text)


@_subcommand("author", f"Set the author item N credits. {_DETAIL_HELP}{_TEXT_HELP}")
@click.argument("number", metavar="N", type=int)
@click.argument("text", metavar="TEXT")
def author(ctx: click.Context, number: int, text: str) -> None:
    _set_detail(_request(ctx), number, "author", text)


@_subcommand(
    "add", "Add one of the week's candidates (see `candidates --week`), last or at --to M."
)
@click.argument("candidate_id", metavar="CANDIDATE_ID", type=RowId())
@click.option("--to", "to", metavar="M", type=click.IntRange(min=1), help="Its place.")
def add(ctx: click.Context, candidate_id: int, to: int | None) -> None:
    request = _request(ctx)
    draft = _load(request)
    saved = _save(request, draft, [AddItem(candidate_id, position=to)])
    done = f"Added candidate {candidate_id}."
    if saved is not None:
        added = next(item for item in saved.items if item.candidate_id == candidate_id)
        where = "at the end of the list" if to is None else "to the list"
        done = (
            f"Added candidate {candidate_id} (“{added.title or added.url}”) {where},"
            f" as item {_number(saved, added.id)}."
        )
    _report(request, draft, saved, done)


# --- the draft in an editor ------------------------------------------------------------------


def _edit_in_editor(request: _Request) -> None:
    """Open the draft as text in the user's editor and apply what changed."""
    draft = _load(request)
    form = render_form(draft)
    fd, name = tempfile.mkstemp(prefix=f"roundup-draft-{draft.id}-", suffix=".txt")
    path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(form)
    try:
        click.edit(filename=str(path))
    except click.ClickException as exc:
        raise DraftError(f"{exc.message}; nothing was changed; {_kept(path)}") from None
    except KeyboardInterrupt:
        click.echo(f"Nothing was changed; {_kept(path)}", err=True)
        raise
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftError(
            f"the edited draft could not be read ({exc}); nothing was changed; {_kept(path)}"
        ) from None
    try:
        edits = read_form(text, draft) if text != form else []
    except FormUnreadable as exc:
        raise DraftError(
            f"the edited draft could not be read: {exc}; nothing was changed; {_kept(path)}"
        ) from None
    if edits is None:
        path.unlink(missing_ok=True)
        click.echo(f"The text was emptied: nothing was changed in draft {draft.id}.", err=True)
        if request.as_json:
            echo_json(draft_json(draft))
        return
    try:
        saved = _save(request, draft, edits) if edits else None
    except RoundupError as exc:  # stale, too long ...: the text is not lost
        raise DraftError(f"{exc}; {_kept(path)}") from exc
    path.unlink(missing_ok=True)
    _report(request, draft, saved, f"Saved {_summary(edits)}.")


def _kept(path: Path) -> str:
    return f"your text is kept in {path}"


def _summary(edits: Sequence[DraftEdit]) -> str:
    """'the intro, 2 blurbs and the order; removed 1 item'."""
    counts: dict[str, int] = {}
    for edit in edits:
        key = type(edit).__name__
        counts[key] = counts.get(key, 0) + 1

    def many(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    parts = []
    if "SetIntro" in counts:
        parts.append("the intro")
    if "SetBlurb" in counts:
        parts.append(many(counts["SetBlurb"], "blurb"))
    if "SetOrder" in counts:
        parts.append("the order")
    if "SetOutro" in counts:
        parts.append("the outro")
    saved = and_list(parts) or "the draft"
    if "RemoveItem" in counts:
        saved += f"; removed {many(counts['RemoveItem'], 'item')}"
    if "RestoreItem" in counts:
        saved += f"; put back {many(counts['RestoreItem'], 'item')}"
    return saved


COMMANDS = [edit]
