"""Suggestions in the database (SQLite and PostgreSQL): candidates, credit, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers.feeds import record_parsed

from roundup_bot.core.records import ConfiguredFeed, ParsedEntry, ParsedFeed
from roundup_bot.core.suggestion_rules import JudgedSuggestion, SuggestedLink
from roundup_bot.storage import Storage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ARTICLE = "https://blog.example.gov.uk/post-1"


def link(
    user: str,
    post: str,
    url: str = ARTICLE,
    *,
    title: str | None = None,
    description: str | None = None,
    at: datetime = NOW,
) -> SuggestedLink:
    return SuggestedLink(
        post_id=post,
        post_url=f"https://x.com/{user}/status/{post}",
        author_id=f"id-{user}",
        author_username=user,
        text=f"@welovelocalgov look {url}",
        posted_at=at,
        link=url + "?utm_source=twitter",
        canonical_url=url,
        link_title=title,
        link_description=description,
    )


def accepted(*links: SuggestedLink) -> list[JudgedSuggestion]:
    return [JudgedSuggestion(s, "accepted") for s in links]


def store(storage: Storage, judged: list[JudgedSuggestion], posts: int = 1, **state: str | None):
    return storage.suggestions.store_page(
        "x", judged, posts_read=posts, month="2026-11", state=state, now=NOW
    )


def test_an_accepted_suggestion_becomes_a_credited_candidate(storage: Storage) -> None:
    result = store(storage, accepted(link("alice", "100", title="A post", description="About it")))
    assert (result.accepted, result.rejected, result.new_candidates) == (1, 0, 1)
    [candidate] = storage.candidates.list()
    assert candidate.url == ARTICLE
    assert candidate.link == ARTICLE + "?utm_source=twitter"
    assert candidate.title == "A post"
    assert candidate.summary == "About it"
    assert candidate.suggested_by == ("@alice",)
    [source] = candidate.sources
    assert (source.kind, source.name, source.url) == (
        "x",
        "@alice",
        "https://x.com/alice/status/100",
    )


def test_storing_the_same_page_again_stores_nothing_twice(storage: Storage) -> None:
    page = accepted(link("alice", "100"), link("bob", "101", "https://a.example/2"))
    store(storage, page)
    again = store(storage, page)
    assert (again.accepted, again.duplicates, again.new_candidates) == (0, 2, 0)
    assert len(storage.candidates.list()) == 2
    assert storage.suggestions.counts("x").accepted == 2


def test_a_person_counts_once_per_candidate(storage: Storage) -> None:
    store(
        storage,
        accepted(
            link("alice", "100"),
            link("Alice", "105", at=NOW + timedelta(hours=1)),
            link("bob", "106"),
        ),
    )
    [candidate] = storage.candidates.list()
    assert candidate.suggested_by == ("@alice", "@bob")
    assert len([s for s in candidate.sources if s.kind == "x"]) == 3  # every post is a source


def test_a_suggestion_joins_the_feed_candidate_and_fills_only_what_is_empty(
    storage: Storage,
) -> None:
    storage.feeds.sync([ConfiguredFeed("https://blog.example.gov.uk/feed", "Blog", 1.0, True)], NOW)
    [feed] = storage.feeds.for_update(NOW)
    entry = ParsedEntry(
        link=ARTICLE,
        canonical_url=ARTICLE,
        title="Feed title",
        author=None,
        published=NOW - timedelta(days=1),
        summary=None,
        entry_id="e1",
    )
    record_parsed(
        storage,
        feed,
        parsed=ParsedFeed(url=feed.url, title="Blog", site_url=None, entries=(entry,)),
        etag=None,
        last_modified=None,
        permanent_url=None,
        now=NOW,
        next_due=NOW,
    )
    result = store(storage, accepted(link("alice", "100", title="X title", description="X says")))
    assert result.new_candidates == 0
    [candidate] = storage.candidates.list()
    assert candidate.title == "Feed title"  # the feed's title stays
    assert candidate.summary == "X says"  # the empty summary is filled
    assert {s.kind for s in candidate.sources} == {"feed", "x"}
    assert candidate.suggested_by == ("@alice",)


def test_rejected_suggestions_are_kept_with_their_reason_and_make_no_candidate(
    storage: Storage,
) -> None:
    judged = [JudgedSuggestion(link("spammer", "200"), "rejected", "blocked")]
    result = store(storage, judged)
    assert (result.accepted, result.rejected, result.new_candidates) == (0, 1, 0)
    assert storage.candidates.list() == []
    assert storage.suggestions.counts("x").rejected == 1
    assert storage.suggestions.prior("x", ["spammer"], NOW - timedelta(days=7)) == []


def test_prior_lists_accepted_suggestions_in_the_window(storage: Storage) -> None:
    store(
        storage,
        accepted(
            link("Alice", "1", "https://a.example/1", at=NOW - timedelta(days=10)),
            link("alice", "2", "https://a.example/2", at=NOW - timedelta(days=1)),
        ),
    )
    prior = storage.suggestions.prior("x", ["ALICE"], NOW - timedelta(days=7))
    assert [(p.username, p.canonical_url, p.author_id) for p in prior] == [
        ("alice", "https://a.example/2", "id-alice")
    ]
    # Found by user id too (the account was renamed since), and never twice.
    by_id = storage.suggestions.prior(
        "x", ["alice_new", "alice"], NOW - timedelta(days=7), author_ids=["id-alice"]
    )
    assert [(p.username, p.canonical_url) for p in by_id] == [("alice", "https://a.example/2")]


def test_state_and_the_monthly_counter_commit_with_the_page(storage: Storage) -> None:
    result = store(storage, accepted(link("alice", "1")), posts=7, since_id="99", resume_token=None)
    assert result.posts_read_month == 7
    store(storage, [], posts=3)
    assert storage.suggestions.posts_read("x", "2026-11") == 10
    assert storage.suggestions.posts_read("x", "2026-12") == 0
    assert storage.state.get("x", "since_id") == "99"
    december = storage.suggestions.store_page(
        "x", [], posts_read=4, month="2026-12", state={}, now=NOW
    )
    assert december.posts_read_month == 4  # a new month starts from zero


def test_thanks_go_once_per_post(storage: Storage) -> None:
    store(
        storage,
        accepted(
            link("alice", "1", "https://a.example/1", title="One"),
            link("alice", "1", "https://a.example/2"),
            link("bob", "2", "https://a.example/3", at=NOW - timedelta(days=30)),
        ),
    )
    [target] = storage.suggestions.to_thank("x", NOW - timedelta(days=7))
    assert target.post_id == "1"
    assert target.username == "alice"
    assert set(target.links) == {
        "https://a.example/1?utm_source=twitter",
        "https://a.example/2?utm_source=twitter",
    }
    assert storage.suggestions.claim_thanks("x", "1", NOW)
    assert not storage.suggestions.claim_thanks("x", "1", NOW)  # a second run does not
    assert storage.suggestions.to_thank("x", NOW - timedelta(days=7)) == []
    storage.suggestions.release_thanks("x", "1", NOW)  # the reply failed: try again later
    assert [t.post_id for t in storage.suggestions.to_thank("x", NOW - timedelta(days=7))] == ["1"]
    assert storage.suggestions.claim_thanks("x", "1", NOW)
    assert storage.suggestions.counts("x").thanked == 2
