"""Immutable records passed between the layers.

Nothing here does I/O or imports a third-party library: storage returns these,
sources produce them, the pure core (curation) consumes them, and the CLI and
web page display them. ORM objects never leave ``roundup_bot.storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

SourceKind = Literal["feed", "x", "mastodon", "bluesky", "wordpress", "editor"]


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
    categories: tuple[str, ...] = ()  # the feed's categories / tags for the entry


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document: its own title and its usable entries."""

    url: str
    title: str | None
    site_url: str | None
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None  # feedparser's bozo message when the feed still parsed
    # Entries the document had beyond ParseLimits.max_entries (the oldest), not kept.
    dropped_entries: int = 0


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
    site: str | None = None  # a feed's own site (its home page), when it names one


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
    categories: tuple[str, ...] = ()  # the feed's categories for it
    aliases: tuple[CandidateAlias, ...] = ()  # other addresses found to be this article


@dataclass(frozen=True, slots=True)
class CandidateAlias:
    """Another address of a candidate's article: a redirector's link that led to it, a
    syndicated copy naming it as canonical, or a candidate merged into it."""

    url: str  # canonical form of the other address
    reason: str  # "redirect" | "canonical"


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
    notice: str | None = None  # what the last good poll left out, e.g. entries over max_entries


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start, end) in UTC."""

    start: datetime
    end: datetime


# --- The weekly round-up: ranking, link details, drafts ------------------------------------

DraftStatus = Literal["draft", "approved", "published"]


class ScorePart(NamedTuple):
    """One named reason in a candidate's score, so the ranking explains itself.

    A named tuple rather than a frozen dataclass: a big week's listing makes 70,000
    of them, and a tuple is built five times faster."""

    name: str  # "suggestions", "feeds", "feed weight", "recency", "keyword"
    points: float
    detail: str  # for people: "suggested by 2 people (@a, @b)"


@dataclass(frozen=True, slots=True)
class Score:
    """A candidate's score: the sum of its parts, or why it cannot be picked at all."""

    total: float
    parts: tuple[ScorePart, ...]
    excluded: str | None = None  # "blocked domain example.com", "used in the 2026-W47 round-up"


@dataclass(frozen=True, slots=True)
class LinkDetails:
    """What an article page says about itself (OpenGraph, <meta>, JSON-LD), as cached."""

    url: str  # canonical URL of the article
    fetched_at: datetime
    ok: bool  # False: the page could not be read; ``error`` says why
    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    description: str | None = None
    error: str | None = None
    resolved_url: str | None = None  # the article's true address, when it is not ``url``
    resolved_reason: str | None = None  # "redirect" | "canonical"
    lead: str | None = None  # the first real paragraph of the article's main text


@dataclass(frozen=True, slots=True)
class ItemDetails:
    """An item's title, author and blog name from one origin (None: that origin
    has none)."""

    title: str | None = None
    author: str | None = None
    site_name: str | None = None


@dataclass(frozen=True, slots=True)
class DraftItem:
    """One article in a draft, with what the editor changed marked.

    ``title``, ``author`` and ``site_name`` are what the round-up shows: the
    editor's own text where they set it (``overrides``), else the feed's or
    tweet's, else what the article page said (``automatic``). Keeping both lets
    the pure draft edits (:mod:`roundup_bot.core.draft_edits`) change one and
    put one back without the database.
    """

    id: int  # negative for an item added by an edit and not yet stored
    candidate_id: int
    position: int  # 1-based order among the items shown; removed items come last
    url: str  # canonical URL
    title: str | None
    author: str | None
    site_name: str | None
    blurb: str
    suggested_by: tuple[str, ...]  # "@username", each person once
    score: float
    why: tuple[ScorePart, ...]
    published: datetime | None = None  # the article's own date, if known
    via: str | None = None  # the link blog that pointed at the article
    blurb_edited: bool = False
    removed: bool = False  # taken out by an editor (kept so a refresh does not put it back)
    added_by_editor: bool = False
    moved_by_editor: bool = False
    overrides: ItemDetails = ItemDetails()  # the editor's own text; None: not set
    automatic: ItemDetails = ItemDetails()  # what shows where the editor set nothing

    @property
    def details_edited(self) -> bool:
        """The editor set the title, author or site name."""
        own = self.overrides
        return bool(own.title or own.author or own.site_name)


@dataclass(frozen=True, slots=True)
class Draft:
    """A week's round-up, whatever its status (draft -> approved -> published)."""

    id: int
    roundup: str  # which round-up ([roundup] name)
    week: str  # ISO week of the week's end, "2026-W48"
    period_start: datetime  # UTC; the week is [period_start, period_end)
    period_end: datetime
    status: DraftStatus
    title: str
    intro: str
    outro: str
    version: int  # bumped by every change; editors send it back to detect concurrent saves
    created_at: datetime
    updated_at: datetime
    items: tuple[DraftItem, ...] = ()  # every item, removed ones included, by position
    intro_edited: bool = False
    outro_edited: bool = False
    updated_by: str | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    published_at: datetime | None = None  # the latest publication
    first_published_at: datetime | None = None
    publish_count: int = 0  # more than 1: it was reopened and republished
    published_path: str | None = None  # the published HTML file
    reopened_by: str | None = None
    reopened_at: datetime | None = None

    @property
    def shown_items(self) -> tuple[DraftItem, ...]:
        """The items the round-up shows, in order."""
        return tuple(item for item in self.items if not item.removed)

    @property
    def removed_items(self) -> tuple[DraftItem, ...]:
        return tuple(item for item in self.items if item.removed)


@dataclass(frozen=True, slots=True)
class DraftSummary:
    """A draft without its items, for lists."""

    id: int
    roundup: str
    week: str
    status: DraftStatus
    items: int  # items shown
    version: int
    updated_at: datetime
    updated_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    published_at: datetime | None


# Editors change a draft through these. :func:`roundup_bot.core.draft_edits.edit_draft`
# applies them; ``storage.drafts.apply_edits`` runs it and saves the result in one
# transaction (one version check, one version bump).


@dataclass(frozen=True, slots=True)
class SetBlurb:
    item_id: int
    text: str


@dataclass(frozen=True, slots=True)
class SetItemDetails:
    """Override what the round-up shows; None puts back the automatic value."""

    item_id: int
    title: str | None = None
    author: str | None = None
    site_name: str | None = None


@dataclass(frozen=True, slots=True)
class RemoveItem:
    item_id: int


@dataclass(frozen=True, slots=True)
class RestoreItem:
    item_id: int


@dataclass(frozen=True, slots=True)
class MoveItem:
    """Move a shown item ``offset`` places: -1 is up one, +1 down one."""

    item_id: int
    offset: int


@dataclass(frozen=True, slots=True)
class SetOrder:
    """The shown items in their new order (every shown item exactly once)."""

    item_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AddItem:
    """Add a candidate of the week; it goes last unless ``position`` says where."""

    candidate_id: int
    blurb: str = ""
    position: int | None = None


@dataclass(frozen=True, slots=True)
class SetIntro:
    text: str


@dataclass(frozen=True, slots=True)
class SetOutro:
    text: str


DraftEdit = (
    SetBlurb
    | SetItemDetails
    | RemoveItem
    | RestoreItem
    | MoveItem
    | SetOrder
    | AddItem
    | SetIntro
    | SetOutro
)


ProblemKind = Literal[
    "too_long",  # a text over its limit
    "no_item",  # the draft has no item with that id
    "bad_order",  # a new order that does not list each shown item once
    "already_shown",  # AddItem for a candidate the draft already shows
    "no_candidate",  # AddItem for a candidate not of the draft's week
    "bad_edit",  # not an edit at all
    "not_editable",  # the draft is approved or published
]


@dataclass(frozen=True, slots=True)
class EditProblem:
    """Why one edit cannot be applied (then none of them is)."""

    kind: ProblemKind
    message: str  # one line, lower case first, e.g. "the intro is 4100 characters; ..."
    edit: DraftEdit | None  # the edit at fault (None: the draft as a whole)
    field: str | None = None  # the web form's field: "intro", "blurb-42", "title-42" ...


@dataclass(frozen=True, slots=True)
class EditOutcome:
    """What :func:`roundup_bot.core.draft_edits.edit_draft` made of a draft and edits."""

    draft: Draft  # the draft with every edit that had no problem applied
    problems: tuple[EditProblem, ...] = ()
    changed: bool = False  # anything shown or marked differs from the draft edited


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """What a draft refresh wants one item to become (see ``drafting.plan_draft``)."""

    candidate_id: int
    position: int
    score: float
    why: tuple[ScorePart, ...]
    item_id: int | None = None  # None: a new item
    blurb: str | None = None  # None: keep the stored blurb (the editor's)


@dataclass(frozen=True, slots=True)
class DraftPlan:
    """A whole draft refresh, decided purely and then stored in one transaction."""

    roundup: str
    week: str
    period_start: datetime
    period_end: datetime
    title: str
    intro: str | None  # None: keep the stored one (the editor's)
    outro: str | None
    items: tuple[PlannedItem, ...]
    delete_item_ids: tuple[int, ...] = ()
    draft_id: int | None = None  # None: create the draft
    expected_version: int | None = None


class RankingFacts(NamedTuple):
    """The numbers a candidate's score is made of, except keywords (which need its
    text): enough to bound its score without loading the candidate. (A named tuple:
    a draft reads one for every candidate of the week, 20,000 on the benchmark.)"""

    id: int
    placed_at: float  # published, else first seen: seconds since 1970 (UTC)
    feeds: int  # feed sources carrying it
    max_weight: float | None  # the highest weight of those feeds
    people: int  # distinct people who suggested it


def default_user_agent() -> str:
    """The User-Agent roundup-bot sends, built when a policy is: the version is read
    from the installed metadata only when something asks for it (roundup_bot.__getattr__)."""
    from roundup_bot import __version__

    return f"roundup-bot/{__version__} (+https://github.com/welovelocalgov/roundup-bot)"


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Limits applied to every request."""

    timeout: float = 20.0  # overall deadline per fetch, seconds
    max_bytes: int = 10 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    per_host: int = 2  # requests in flight to one host
    allow_private: bool = True  # False for URLs that strangers suggest
    user_agent: str = field(default_factory=default_user_agent)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """How much of one fetched feed document is read: a hostile feed may send
    100,000 entries or markup nested 100,000 deep, within the size limit."""

    max_entries: int = 500  # the newest by date are kept; the rest are dropped
    # CPU seconds one document's parse may take before it is stopped and fails
    # (the poll sets it to the per-feed deadline, [polling] timeout).
    cpu_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class PollOptions:
    concurrency: int = 16
    interval_s: float = 7200.0
    max_backoff_s: float = 86400.0
    # Worker processes for parsing; None picks one per CPU (up to 4) for runs of
    # PROCESS_PARSE_MIN_FEEDS feeds or more, 0 always parses in a thread.
    parse_processes: int | None = None
    parse_limits: ParseLimits = ParseLimits()


@dataclass(frozen=True, slots=True)
class ConfiguredFeed:
    """A feed as the config lists it (from [[feeds]] or the OPML file)."""

    url: str
    name: str | None
    weight: float
    enabled: bool


@dataclass(frozen=True, slots=True)
class LinkCard:
    """What a link card shows (Bluesky builds none itself): from the page's OpenGraph."""

    url: str
    title: str | None = None
    description: str | None = None
    image: bytes | None = None  # the thumbnail, at most 1 MB
    image_type: str | None = None  # its MIME type
