"""Immutable records passed between the layers.

Nothing here does I/O or imports a third-party library: storage returns these,
sources produce them, the pure core (curation) consumes them, and the CLI and
web page display them. ORM objects never leave ``roundup_bot.storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SourceKind = Literal["feed", "x", "mastodon", "bluesky"]


@dataclass(frozen=True, slots=True)
class FeedForUpdate:
    """What the poller needs to know about one stored feed to fetch it."""

    id: int
    url: str  # the URL to fetch (a recorded permanent redirect replaces the configured one)
    name: str | None  # the configured name, if any
    etag: str | None  # sent back verbatim as If-None-Match
    last_modified: str | None  # sent back verbatim as If-Modified-Since
    consecutive_errors: int


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one conditional GET.

    ``content`` is None when the server answered 304 Not Modified.
    """

    requested_url: str
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # the real response headers, lower-cased names
    content: bytes | None
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None  # where a 301/308 chain (only) ended, if anywhere


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One feed entry, cleaned: plain-text title and summary, absolute link, UTC time."""

    link: str  # absolute, as the feed gave it (xml:base / feed URL resolved)
    canonical_url: str
    title: str | None
    author: str | None
    published: datetime | None  # timezone-aware UTC
    summary: str | None  # short plain-text excerpt
    entry_id: str | None  # the feed's guid / atom:id


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document: its own title and its usable entries."""

    url: str
    title: str | None
    site_url: str | None
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None  # feedparser's bozo message when the feed still parsed


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What happened to one feed in one poll round; storage records it."""

    feed_id: int
    feed_url: str
    ok: bool
    not_modified: bool = False
    error: str | None = None
    gone: bool = False
    retry_after: float | None = None  # seconds the server asked us to wait
    new_entries: int = 0
    updated_entries: int = 0


@dataclass(frozen=True, slots=True)
class CandidateSource:
    """Where a candidate was seen: a feed, or a person's post on X/Mastodon/Bluesky."""

    kind: SourceKind
    name: str  # the feed's name, or "@username"
    url: str  # the feed's URL, or the post's URL


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate link for the round-up, as stored."""

    id: int
    url: str  # canonical URL: the de-duplication key
    link: str  # the original link as first seen
    title: str | None
    author: str | None
    published: datetime | None
    first_seen: datetime
    summary: str | None
    site_name: str | None = None
    description: str | None = None
    sources: tuple[CandidateSource, ...] = ()
    suggested_by: tuple[str, ...] = ()  # "@username", each person once
    feed_weights: tuple[float, ...] = ()  # weight of each feed that carried it


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One feed's health, for ``roundup-bot status`` and the sources page."""

    id: int
    url: str
    name: str | None
    enabled: bool
    ok: bool | None  # None until the first poll
    last_error: str | None
    consecutive_errors: int
    last_polled: datetime | None
    next_due: datetime | None
    gone: bool = False
    permanent_url: str | None = None
    entries: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start, end) in UTC."""

    start: datetime
    end: datetime
