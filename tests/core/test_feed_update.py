"""What a poll stores, decided without a database (roundup_bot.core.feed_update)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roundup_bot.core.feed_update import (
    CandidateChange,
    StoredEntry,
    decide_entries,
    decide_success,
)
from roundup_bot.core.records import FeedForUpdate, FetchResult, ParsedEntry, ParsedFeed

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
FEED = FeedForUpdate(
    id=7,
    url="https://editor:s3cret@blog.example.gov.uk/feed",
    name=None,
    etag='"old"',
    last_modified="Tue, 17 Nov 2026 10:00:00 GMT",
    consecutive_errors=0,
)


def entry(
    n: int, title: str | None = "Post", published: datetime | None = PUBLISHED
) -> ParsedEntry:
    return ParsedEntry(
        link=f"https://blog.example.gov.uk/post-{n}?utm_source=rss",
        canonical_url=f"https://blog.example.gov.uk/post-{n}",
        title=title,
        author="A. Writer",
        published=published,
        summary="Summary",
        entry_id=f"id-{n}",
    )


def stored(
    n: int, *, title: str | None = "Post", described_by: int | None = 7, **fields: object
) -> StoredEntry:
    values: dict[str, object] = {
        "title": title,
        "author": "A. Writer",
        "published": PUBLISHED,
        "summary": "Summary",
        **fields,
    }
    return StoredEntry(candidate_id=100 + n, described_by=described_by, **values)  # type: ignore[arg-type]


def fetched(content: bytes | None = b"<rss/>", **fields: object) -> FetchResult:
    values: dict[str, object] = {
        "etag": None,
        "last_modified": None,
        "permanent_redirect": None,
        **fields,
    }
    return FetchResult(
        requested_url=FEED.url,
        final_url=FEED.url,
        status=200 if content is not None else 304,
        headers={},
        content=content,
        **values,  # type: ignore[arg-type]
    )


def parsed(
    *entries: ParsedEntry, title: str | None = "Council blog", dropped: int = 0
) -> ParsedFeed:
    return ParsedFeed(
        url=FEED.url, title=title, site_url=None, entries=entries, dropped_entries=dropped
    )


# -- the feed's state --------------------------------------------------------------


def test_a_304_keeps_the_validators_that_earned_it_and_changes_nothing_else() -> None:
    success = decide_success(FEED, fetched(None), None, now=NOW, interval_s=3600)
    assert (success.etag, success.last_modified) == (FEED.etag, FEED.last_modified)
    assert not success.changed
    assert success.entries == ()
    assert success.next_due == NOW + timedelta(hours=1)


def test_a_changed_document_takes_the_new_validators_even_when_there_are_none() -> None:
    success = decide_success(FEED, fetched(), parsed(entry(1)), now=NOW, interval_s=60)
    assert (success.etag, success.last_modified) == (None, None)
    new = decide_success(FEED, fetched(etag='"new"'), parsed(entry(1)), now=NOW, interval_s=60)
    assert new.etag == '"new"'
    assert new.changed


def test_the_source_name_is_the_configured_name_else_the_title_else_the_address() -> None:
    named = FeedForUpdate(
        id=FEED.id,
        url=FEED.url,
        name="Our blog",
        etag=None,
        last_modified=None,
        consecutive_errors=0,
    )
    assert decide_success(named, fetched(), parsed(), now=NOW, interval_s=0).source_name == (
        "Our blog"
    )
    assert decide_success(FEED, fetched(), parsed(), now=NOW, interval_s=0).source_name == (
        "Council blog"
    )
    untitled = decide_success(FEED, fetched(), parsed(title=None), now=NOW, interval_s=0)
    assert untitled.source_name == "https://blog.example.gov.uk/feed"


def test_a_private_feeds_password_never_reaches_its_sources() -> None:
    success = decide_success(FEED, fetched(), parsed(entry(1)), now=NOW, interval_s=0)
    assert "s3cret" not in success.source_url
    assert "s3cret" not in success.source_name


def test_entries_are_one_per_canonical_url_in_url_order_the_last_duplicate_winning() -> None:
    doc = parsed(entry(3), entry(1, title="First"), entry(2), entry(1, title="Second"))
    success = decide_success(FEED, fetched(), doc, now=NOW, interval_s=0)
    assert [e.canonical_url[-6:] for e in success.entries] == ["post-1", "post-2", "post-3"]
    assert success.entries[0].title == "Second"


def test_a_notice_says_what_was_left_out_and_a_moved_feed_is_remembered() -> None:
    doc = parsed(entry(1), dropped=1500)
    result = fetched(permanent_redirect="https://blog.example.gov.uk/new-feed")
    success = decide_success(FEED, result, doc, now=NOW, interval_s=0)
    assert (
        success.notice == "dropped 1,500 older entries, kept the newest 1 ([polling] max_entries)"
    )
    assert success.permanent_url == "https://blog.example.gov.uk/new-feed"
    assert decide_success(FEED, fetched(), parsed(entry(1)), now=NOW, interval_s=0).notice is None


# -- the entries -------------------------------------------------------------------


def test_a_new_entry_is_placed_by_its_published_time_else_when_first_seen() -> None:
    intents = decide_entries(7, [entry(1), entry(2, published=None)], {}, NOW)
    assert [(n.entry.canonical_url[-6:], n.placed_at) for n in intents.new] == [
        ("post-1", PUBLISHED),
        ("post-2", NOW),
    ]
    assert intents.changes == ()
    assert len(intents.sources) == 2


def test_an_unchanged_entry_changes_nothing_but_is_still_linked_to_the_feed() -> None:
    intents = decide_entries(7, [entry(1)], {entry(1).canonical_url: stored(1)}, NOW)
    assert (intents.new, intents.changes) == ((), ())
    assert intents.sources == (entry(1),)


def test_the_describing_feeds_edits_update_the_candidate() -> None:
    later = PUBLISHED + timedelta(days=1)
    edited = entry(1, title="New title", published=later)
    intents = decide_entries(7, [edited], {edited.canonical_url: stored(1)}, NOW)
    assert intents.changes == (
        CandidateChange(101, {"title": "New title", "published": later, "placed_at": later}),
    )


def test_another_feeds_wording_never_overwrites_the_describing_feeds() -> None:
    edited = entry(1, title="Their title")
    intents = decide_entries(7, [edited], {edited.canonical_url: stored(1, described_by=3)}, NOW)
    assert intents.changes == ()
    assert intents.sources == (edited,)  # still one of its sources


def test_a_candidate_no_polled_feed_carries_takes_the_feeds_text() -> None:
    """A follower's suggestion (or one whose feeds were all removed) has no describer."""
    edited = entry(1, title="Feed title")
    row = stored(1, title=None, described_by=None)
    intents = decide_entries(7, [edited], {edited.canonical_url: row}, NOW)
    assert intents.changes == (CandidateChange(101, {"title": "Feed title"}),)


def test_an_empty_field_never_blanks_a_stored_one() -> None:
    blank = entry(1, title=None, published=None)
    intents = decide_entries(7, [blank], {blank.canonical_url: stored(1)}, NOW)
    assert intents.changes == ()
