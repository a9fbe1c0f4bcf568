"""True addresses: where a link really leads, and merging what turns out to be one
article. Pure: no I/O (the pages adapter fetches, storage applies the merge).

A feed or a tweet may give a click-tracker or shortener's address
(feedburner's ``~r`` links, feedpress ``tracking``, t.co, bit.ly…) or a
syndicated copy of an article published elsewhere. The article's true address
is where the link's redirects end, or the page's own ``<link rel="canonical">``
when it names a plausible original (:func:`true_address`). Two candidates whose
true addresses are one are one article: :func:`combine_items` says how two draft
items of the same article become one without losing what an editor did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from roundup_bot.core.curation import canonical_url, domain_matches, host_of
from roundup_bot.core.errors import InvalidURL

#: Click trackers and shorteners: links through them are always looked up.
REDIRECTORS: tuple[str, ...] = (
    "feedproxy.google.com",
    "feeds.feedburner.com",
    "feedburner.com",
    "tracking.feedpress.it",
    "feedpress.me",
    "t.co",
    "bit.ly",
    "bitly.com",
    "ow.ly",
    "buff.ly",
    "lnkd.in",
    "dlvr.it",
    "tinyurl.com",
    "goo.gl",
    "is.gd",
    "trib.al",
    "fb.me",
    "rebrand.ly",
    "shorturl.at",
    "tiny.cc",
    "wp.me",
    "flip.it",
    "ift.tt",
    "eepurl.com",
    "mailchi.mp",
    "list-manage.com",
    "hubspotlinks.com",
    "substack.com/redirect",
)

AliasReason = Literal["redirect", "canonical"]


def is_redirector(url: str) -> bool:
    """Whether ``url`` goes through a known click tracker or shortener."""
    host = host_of(url)
    path = urlsplit(url).path
    for entry in REDIRECTORS:
        domain, _, prefix = entry.partition("/")
        if domain_matches(host, domain) and (not prefix or path.startswith("/" + prefix)):
            return True
    return "/~r/" in path and "feedburner" in host


@dataclass(frozen=True, slots=True)
class TrueAddress:
    """Where a candidate's link really leads, and how that was found."""

    url: str  # canonical form
    reason: AliasReason


def _root(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def true_address(link: str, final_url: str | None, canonical: str | None) -> TrueAddress | None:
    """The article's true address (canonical form) when it differs from ``link``'s.

    ``final_url`` is where fetching ``link`` ended after redirects; ``canonical`` is
    the page's ``<link rel="canonical">``, already made absolute. A canonical that
    points at a site's home page (a common misconfiguration), at a redirector, or
    is not http(s), is ignored.
    """
    try:
        start = canonical_url(link)
    except InvalidURL:
        return None
    landed: str | None = None
    if final_url:
        try:
            landed = canonical_url(final_url)
        except InvalidURL:
            landed = None
    if canonical:
        try:
            named = canonical_url(canonical)
        except InvalidURL:
            named = None
        if (
            named is not None
            and not is_redirector(named)
            and (not _root(named) or _root(landed or start))
        ):
            if named != start:
                reason: AliasReason = "canonical" if named != landed else "redirect"
                return TrueAddress(named, reason)
            return None
    if landed is not None and landed != start:
        return TrueAddress(landed, "redirect")
    return None


@dataclass(frozen=True, slots=True)
class ItemMarks:
    """The parts of a draft item an editor may have changed."""

    position: int
    blurb: str
    blurb_edited: bool
    removed: bool
    added_by_editor: bool
    moved_by_editor: bool
    title: str | None
    author: str | None
    site_name: str | None
    score: float


def combine_items(keep: ItemMarks, gone: ItemMarks) -> ItemMarks:
    """One draft item from two items of the same article, nothing an editor did lost.

    The kept item's own edits win; an edit made only on the other is carried over
    (an edited blurb, a title, author or blog). The item stays shown if either
    was shown, at the better of the two places.
    """
    removed = keep.removed and gone.removed
    shown = [m for m in (keep, gone) if not m.removed] or [keep, gone]
    blurb, blurb_edited = keep.blurb, keep.blurb_edited
    if not keep.blurb_edited and gone.blurb_edited:
        blurb, blurb_edited = gone.blurb, True
    return ItemMarks(
        position=min(m.position for m in shown),
        blurb=blurb,
        blurb_edited=blurb_edited,
        removed=removed,
        added_by_editor=keep.added_by_editor or gone.added_by_editor,
        moved_by_editor=keep.moved_by_editor or gone.moved_by_editor,
        title=keep.title or gone.title,
        author=keep.author or gone.author,
        site_name=keep.site_name or gone.site_name,
        score=max(keep.score, gone.score),
    )
