"""True credits: who wrote the article and where, by name. Pure: no I/O.

A link blog's post points at someone else's article. The round-up credits the
article's own author and blog (from that page's metadata) and keeps the link
blog as ``via``; it never credits the link blogger with another person's work.
A byline never repeats a name ("Katie Floyd, Katie Floyd" is "Katie Floyd").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from roundup_bot.core.curation import host_of
from roundup_bot.core.records import CandidateSource

_NAME_SEPARATORS = re.compile(r"\s*(?:,|;|\s&\s|\sand\s)\s*")


@dataclass(frozen=True, slots=True)
class Credit:
    """What the round-up shows under an item's title."""

    author: str | None
    site_name: str | None
    via: str | None = None  # the link blog that pointed at the article


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and (a or "").casefold().strip() == (b or "").casefold().strip()


def unique_names(names: str | None) -> str | None:
    """A list of names with each person once ("Ann, Ann and Bob" -> "Ann, Bob")."""
    if not names or not names.strip():
        return None
    parts = [p for p in _NAME_SEPARATORS.split(names.strip()) if p]
    seen: dict[str, str] = {}
    for part in parts:
        seen.setdefault(part.casefold(), part)
    if len(seen) == len(parts):
        return names.strip()
    return ", ".join(seen.values())


def same_site(host_a: str, host_b: str) -> bool:
    """Hosts of one site: equal, or one a subdomain of the other (www. ignored)."""
    a, b = host_a.removeprefix("www."), host_b.removeprefix("www.")
    return bool(a) and bool(b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def link_blog_source(url: str, sources: Sequence[CandidateSource]) -> CandidateSource | None:
    """The feed that pointed at another site's article (a link blog), if every feed
    that carried ``url`` lives on another site; None when a feed is the article's own."""
    feeds = [s for s in sources if s.kind == "feed"]
    if not feeds or any(not s.site for s in feeds):
        return None
    host = host_of(url)
    if any(same_site(host, host_of(s.site or "")) for s in feeds):
        return None
    return feeds[0]


def feed_name(sources: Sequence[CandidateSource]) -> str | None:
    """The first feed's name, unless the feed had no name but its URL."""
    return next(
        (s.name for s in sources if s.kind == "feed" and s.name and "://" not in s.name), None
    )


def credit(
    *,
    url: str,
    sources: Sequence[CandidateSource],
    author: str | None,
    site_name: str | None,
    page_author: str | None,
    page_site_name: str | None,
) -> Credit:
    """The automatic credit of a candidate: ``author``/``site_name`` as the feed or tweet
    gave them, ``page_*`` as the article's page said (None when unknown)."""
    via_source = link_blog_source(url, sources)
    shown_author: str | None
    shown_site: str | None
    via: str | None
    if via_source is not None:
        # The feed's author wrote the link post, not the article.
        shown_author = page_author
        shown_site = page_site_name or host_of(url)
        via = via_source.name if "://" not in via_source.name else host_of(via_source.site or "")
    else:
        shown_author = author or page_author
        shown_site = feed_name(sources) or site_name or page_site_name
        via = None
    return tidy(shown_author, shown_site, via)


def tidy(author: str | None, site_name: str | None, via: str | None) -> Credit:
    """A byline that names each name once: a blog named after its author is shown
    once, and ``via`` only when it is another name."""
    author = unique_names(author)
    site_name = (site_name or "").strip() or None
    if _same(author, site_name):
        site_name = None
    if via is not None and (_same(via, site_name) or _same(via, author)):
        via = None
    return Credit(author=author, site_name=site_name, via=via)
