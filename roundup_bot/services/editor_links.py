"""An editor's own link: any URL becomes a candidate credited to them, and joins a draft.

The web page's "Add a link" field, its bookmarklet's confirmation form and
``roundup-bot add URL`` all come here::

    canonical URL (core; http and https only)
      -> the page's details (title, description), fetched under the usual SSRF rules
         (never a private, loopback or link-local address unless [network] allows it)
         and cached like the draft's link details
      -> storage: the candidate (or the existing one of that URL) with the editor
         as a source (kind "editor"), in one transaction
      -> the draft: an AddItem edit by the editor (the same rules, version check
         and limits as the draft page); already there is not an error

A page that cannot be read does not stop anything: the link is added with
its address as its title, and the error is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from roundup_bot.core.curation import canonical_url
from roundup_bot.core.errors import EditorLinkError, InvalidURL
from roundup_bot.core.records import AddItem, Draft, LinkDetails
from roundup_bot.core.weeks import week_containing
from roundup_bot.services.app import App
from roundup_bot.storage.editors import name_key

SOURCE_KIND = "editor"
MAX_URL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class AddedLink:
    candidate_id: int
    url: str  # canonical
    title: str | None
    new_candidate: bool
    draft: Draft | None  # the draft it joined (as saved), or None
    already_in_draft: bool = False
    details_error: str | None = None  # why the page's details could not be read


def parse_link(text: str) -> tuple[str, str]:
    """(the link as given, its canonical URL), or EditorLinkError in plain words."""
    link = text.strip()
    if not link:
        raise EditorLinkError("give the address of the page to add")
    if len(link) > MAX_URL_CHARS:
        raise EditorLinkError(f"that address is longer than {MAX_URL_CHARS} characters")
    if not link.lower().startswith(("http://", "https://")):
        raise EditorLinkError("only web addresses (http:// or https://) can be added")
    try:
        return link, canonical_url(link)
    except InvalidURL as exc:
        raise EditorLinkError(f"that is not a web address we can use ({exc})") from None


def current_draft(app: App, now: datetime) -> Draft | None:
    """The draft of the week that ends next (the one editors are working on), if any."""
    r = app.settings.roundup
    week = week_containing(now, r.timezone, r.week_ends)
    return app.storage.drafts.find(r.name, week.label)


def add_editor_link(
    app: App,
    text: str,
    *,
    by: str,
    now: datetime,
    draft_id: int | None = None,
    to_current_draft: bool = True,
    expected_version: int | None = None,
    fetch_details: bool = True,
) -> AddedLink:
    """Add ``text`` (a URL) as a candidate credited to editor ``by`` and put it in
    the draft ``draft_id`` (by default the current week's draft, when there is one
    and ``to_current_draft``).

    Raises:
        EditorLinkError: not a usable web address, or no such draft.
        DraftError: the draft is approved or published, or changed meanwhile
            (StaleDraftError, when ``expected_version`` is given and old).
    """
    link, url = parse_link(text)
    draft: Draft | None
    if draft_id is not None:
        try:
            draft = app.storage.drafts.get(draft_id)
        except LookupError:
            raise EditorLinkError(f"there is no draft {draft_id}") from None
    else:
        draft = current_draft(app, now) if to_current_draft else None
    if draft is not None and draft.status != "draft":
        raise EditorLinkError(
            f"the {draft.week} round-up is {draft.status}: reopen it to add links"
        )
    details = _details(app, url, now) if fetch_details else None
    title = details.title if details is not None and details.ok else None
    summary = details.description if details is not None and details.ok else None
    candidate_id, created = app.storage.candidates.add_link(
        url=url,
        link=link,
        title=title,
        summary=summary,
        source_kind=SOURCE_KIND,
        source_ref=name_key(by),
        source_name=by.strip(),
        now=now,
    )
    error = details.error if details is not None and not details.ok else None
    if draft is None:
        return AddedLink(candidate_id, url, title, created, None, details_error=error)
    if any(item.candidate_id == candidate_id and not item.removed for item in draft.items):
        return AddedLink(candidate_id, url, title, created, draft, True, error)
    [candidate] = app.storage.candidates.list(ids=[candidate_id])
    saved = app.storage.drafts.apply_edits(
        draft.id,
        [AddItem(candidate_id)],
        expected_version=expected_version if expected_version is not None else draft.version,
        by=by.strip(),
        now=now,
        addable=[candidate],  # an editor's own link may be from any week
    )
    return AddedLink(candidate_id, url, title, created, saved, details_error=error)


def _details(app: App, url: str, now: datetime) -> LinkDetails | None:
    """What the page says about itself, from the cache or fetched now (SSRF rules apply)."""
    cached = app.storage.link_details.get_many([url])
    max_age = timedelta(seconds=app.settings.roundup.link_details_max_age_seconds)
    from roundup_bot.adapters.pages import is_fresh, refresh_link_details

    if url in cached and is_fresh(cached[url], now, max_age):
        return cached[url]
    fetched = refresh_link_details([url], cached, app.link_policy(), now, max_age=max_age)
    for details in fetched:
        app.storage.link_details.save(details)
    return fetched[0] if fetched else cached.get(url)
