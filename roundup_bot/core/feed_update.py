"""What a poll stores: the decisions, apart from the doing. Pure: no I/O, no clock.

As lemon24/reader splits its update into a *Decider* (data in, intents out)
and a *Pipeline* (storage, retriever, parser), a poll of one feed goes::

    storage.feeds.for_update         -> FeedForUpdate
    HttpFetcher.get (conditional GET) -> FetchResult
    parse_feed                        -> ParsedFeed (None on a 304)
    decide_success                    -> FeedSuccess   (this module: the feed's new state)
    storage.feeds.record_success, in ONE transaction:
        load what is stored for the entries' URLs -> {url: StoredEntry}
        decide_entries                -> EntryIntents  (this module: insert, update, link)
        apply the intents, and the feed's new state

The rules decided here, and nowhere else:

* A 304 often comes without validators: the feed keeps the ones that earned it.
* The candidates' source name is the configured name, else the feed's own title,
  else its address; and a private feed's password never reaches a source (only
  the feed row keeps it, to fetch with).
* An entry is stored once per canonical URL (of duplicates in one document,
  the last wins). A new one is *placed* in a week by its published time, else
  by the moment it was first seen; an update that changes ``published`` moves it.
* An article carried by several feeds is described by the first of them still
  polled: only that feed's edits (title, author, published, summary) update it,
  so two feeds that word it differently do not overwrite each other every poll.
  A candidate no polled feed carries yet (a follower's suggestion) takes the
  feed's text.
* An empty field in the feed never blanks a stored one (its categories included).
* A URL stored as another address of an article (a tracker's link that led to it)
  is that article: storage looks it up among the aliases too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from roundup_bot.core.curation import without_credentials
from roundup_bot.core.records import FeedForUpdate, FetchResult, ParsedEntry, ParsedFeed

#: The candidate fields a feed's later edits may change.
UPDATABLE = ("title", "author", "published", "summary")


@dataclass(frozen=True, slots=True)
class FeedSuccess:
    """A feed's state after a good poll, and what its entries need to be stored."""

    feed_id: int
    now: datetime  # the poll's moment: last_polled, last_success, first_seen of new entries
    next_due: datetime
    etag: str | None  # to send back next time
    last_modified: str | None
    permanent_url: str | None  # a 301/308 to remember, if any
    changed: bool  # False: a 304, nothing below is new (title, notice and entries stay)
    title: str | None  # the feed's own title
    site_url: str | None
    notice: str | None  # what of the document was left out (over [polling] max_entries)
    source_name: str  # the name the candidates' sources show
    source_url: str  # the feed's address as the sources show it: never with a password
    entries: tuple[ParsedEntry, ...]  # one per canonical URL, in URL order (the lock order)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """What is stored for one canonical URL that a feed carries."""

    candidate_id: int
    title: str | None
    author: str | None
    published: datetime | None
    summary: str | None
    #: The first still-polled feed that carried it (whose text it shows); None if none has.
    described_by: int | None
    categories: tuple[str, ...] = ()  # the describing feed's categories for it


@dataclass(frozen=True, slots=True)
class NewCandidate:
    """An entry to store as a new candidate."""

    entry: ParsedEntry
    placed_at: datetime  # where it falls in the round-up weeks


@dataclass(frozen=True, slots=True)
class CandidateChange:
    """An existing candidate whose describing feed edited it."""

    candidate_id: int
    values: Mapping[str, object]  # the changed UPDATABLE fields, and placed_at with published


@dataclass(frozen=True, slots=True)
class EntryIntents:
    """What storing a feed's entries does; storage applies it as it stands."""

    new: tuple[NewCandidate, ...]  # candidates to insert (URL order)
    changes: tuple[CandidateChange, ...]  # candidates to update
    #: Every entry, to be linked to the feed as one of its sources (once; a link
    #: that exists already stays as it is).
    sources: tuple[ParsedEntry, ...]


def decide_success(
    feed: FeedForUpdate,
    result: FetchResult,
    parsed: ParsedFeed | None,
    *,
    now: datetime,
    interval_s: float,
) -> FeedSuccess:
    """The feed's new state after a good fetch (``parsed`` is None on a 304)."""
    changed = result.content is not None
    public_url = without_credentials(feed.url)
    unique: dict[str, ParsedEntry] = {}
    if parsed is not None:
        for entry in parsed.entries:
            unique[entry.canonical_url] = entry
    return FeedSuccess(
        feed_id=feed.id,
        now=now,
        next_due=now + timedelta(seconds=interval_s),
        etag=result.etag or (None if changed else feed.etag),
        last_modified=result.last_modified or (None if changed else feed.last_modified),
        permanent_url=result.permanent_redirect,
        changed=parsed is not None,
        title=parsed.title if parsed is not None else None,
        site_url=parsed.site_url if parsed is not None else None,
        notice=dropped_notice(parsed) if parsed is not None and parsed.dropped_entries else None,
        source_name=feed.name or (parsed.title if parsed is not None else None) or public_url,
        source_url=public_url,
        entries=tuple(entry for _url, entry in sorted(unique.items())),
    )


def dropped_notice(parsed: ParsedFeed) -> str:
    """The feed's status line when a document had more entries than are kept."""
    return (
        f"dropped {parsed.dropped_entries:,} older entries, "
        f"kept the newest {len(parsed.entries):,} ([polling] max_entries)"
    )


def decide_entries(
    feed_id: int,
    entries: Sequence[ParsedEntry],
    stored: Mapping[str, StoredEntry],
    now: datetime,
) -> EntryIntents:
    """What storing ``entries`` (one per canonical URL) of feed ``feed_id`` does, given
    what is ``stored`` for their URLs (a URL missing from it is not stored yet)."""
    new: list[NewCandidate] = []
    changes: list[CandidateChange] = []
    for entry in entries:
        row = stored.get(entry.canonical_url)
        if row is None:
            new.append(NewCandidate(entry, placed_at=entry.published or now))
            continue
        if row.described_by is not None and row.described_by != feed_id:
            continue
        values: dict[str, object] = {
            name: getattr(entry, name)
            for name in UPDATABLE
            if getattr(entry, name) is not None and getattr(entry, name) != getattr(row, name)
        }
        if entry.categories and entry.categories != row.categories:
            values["categories"] = entry.categories
        if "published" in values:
            values["placed_at"] = values["published"]
        if values:
            changes.append(CandidateChange(row.candidate_id, values))
    return EntryIntents(new=tuple(new), changes=tuple(changes), sources=tuple(entries))
