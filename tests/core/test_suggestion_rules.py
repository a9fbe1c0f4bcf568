"""Link extraction from real X API v2 pages, and the abuse rules (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_x_api import twarc_pages

from roundup_bot.core.channels import credit
from roundup_bot.core.errors import MalformedPage
from roundup_bot.core.suggestion_rules import (
    AbuseRules,
    PriorSuggestion,
    SuggestedLink,
    blocked_user_key,
    is_x_link,
    judge,
    parse_page,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def twarc(corpus: Path, name: str) -> dict[str, Any]:
    return next(twarc_pages(corpus / "twitter" / "samples" / "twarc-csv" / name))


def sns(corpus: Path, name: str) -> dict[str, Any]:
    path = corpus / "twitter" / "samples" / "sns-sdks-python-twitter" / "testdata" / name
    return json.loads(path.read_text(encoding="utf-8"))


# -- real pages from the corpus ----------------------------------------------------------


def test_a_link_with_unwound_url_title_and_description(corpus: Path) -> None:
    reading = parse_page(twarc(corpus, "many_urls.jsonl"))
    [found] = reading.suggestions
    assert found.link == "https://uiadrian.gumroad.com/l/web-design-guide/?offer_code=twk0uc9f7"
    assert found.canonical_url == found.link  # offer_code selects the page: kept
    assert found.author_username == "uiuxadrian"
    assert found.post_id == "1610692575752601600"
    assert found.post_url == "https://x.com/uiuxadrian/status/1610692575752601600"
    assert found.posted_at == datetime(2023, 1, 4, 17, 40, 9, tzinfo=UTC)
    assert found.link_title == (
        "The Ultimate Guide to Web Design (Landing Page UI Kit + Free Bonuses)"
    )
    assert found.link_description is not None
    assert found.link_description.startswith("🎄 Christmas Promotion")
    assert len(found.link_description) <= 401
    assert found.text is not None
    assert "web design ebook" in found.text


def test_a_quote_of_a_post_with_only_a_photo_and_a_self_link_suggests_nothing(
    corpus: Path,
) -> None:
    page = twarc(corpus, "quoted_edit.jsonl")
    [mention] = page["data"]
    assert {r["type"] for r in mention["referenced_tweets"]} == {"quoted", "replied_to"}
    reading = parse_page(page)
    # The quote link (twitter.com/<user>/status/<id>), the quoted post's
    # /i/web/status/ self link and its photo are all links to X itself.
    assert reading.suggestions == ()
    assert reading.mentions == 1


def test_a_retweet_takes_the_original_posts_links_and_drops_its_photo(corpus: Path) -> None:
    page = twarc(corpus, "mentions_tweet.jsonl")
    reading = parse_page(page)
    assert reading.suggestions == ()  # the original has only a self link and a photo
    # Give the original a real link, as a retweeted article would have.
    original = next(t for t in page["includes"]["tweets"] if t["id"] == "1589671906718134272")
    original["entities"]["urls"].append(
        {
            "url": "https://t.co/abc",
            "expanded_url": "https://blog.example.gov.uk/post?utm_source=twitter",
            "display_url": "blog.example.gov.uk/post",
        }
    )
    [found] = parse_page(page).suggestions
    assert found.author_username == "BaldManGamer"  # the retweeter suggested it
    assert found.canonical_url == "https://blog.example.gov.uk/post"


def test_media_links_are_never_suggestions(corpus: Path) -> None:
    assert parse_page(twarc(corpus, "media_tweet.jsonl")).suggestions == ()
    # media links without a media_key: pic.twitter.com /photo/1 in a search page
    search = sns(corpus, "apis/searches/search_tweets_query.json")
    assert parse_page(search).suggestions == ()


def test_self_links_of_long_and_edited_posts_are_not_suggestions(corpus: Path) -> None:
    reading = parse_page(twarc(corpus, "edited.jsonl"))
    assert reading.suggestions == ()


def test_a_large_real_search_page(corpus: Path) -> None:
    page = twarc(corpus, "entities_test.jsonl")
    reading = parse_page(page)
    links = [s.link for s in reading.suggestions]
    assert links, "the page has external links"
    assert not any(is_x_link(link) for link in links)
    assert not any("t.co/" in link for link in links)
    # politi.co's short link was unwound by X: the article is what counts
    assert any(link.startswith("https://www.politico.eu/article/italy-election") for link in links)
    assert not any("politi.co" in link for link in links)
    # tracking parameters go, the rest of the query stays
    briefly = next(s for s in reading.suggestions if "briefly.co" in s.link)
    assert "utm_" not in briefly.canonical_url
    assert "hl=1" in briefly.canonical_url
    # partial errors in a 200 answer do not stop the page
    assert page["errors"]
    assert reading.mentions == len(page["data"])
    assert reading.next_token == page["meta"]["next_token"]
    assert reading.newest_id == page["meta"]["newest_id"]
    posts = {t["id"] for t in page["data"]} | {t["id"] for t in page["includes"]["tweets"]}
    assert reading.posts == len(posts)
    for found in reading.suggestions:
        assert found.post_url.startswith("https://x.com/")


def test_every_real_v2_sample_parses(corpus: Path) -> None:
    folder = corpus / "twitter" / "samples"
    pages: list[Any] = [p for f in sorted(folder.glob("twarc-csv/*.jsonl")) for p in twarc_pages(f)]
    pages += [
        json.loads(f.read_text(encoding="utf-8"))
        for f in sorted(folder.glob("sns-sdks-python-twitter/**/*.json"))
    ]
    assert len(pages) >= 10
    for page in pages:
        if isinstance(page.get("data"), dict):  # a single-object lookup, not a page
            page = {**page, "data": [page["data"]]}
        reading = parse_page(page)
        assert all(not is_x_link(s.link) for s in reading.suggestions)


# -- hand-built payloads for what the corpus lacks --------------------------------------


def mention(
    post_id: str,
    *,
    author: str = "1",
    urls: list[dict[str, Any]] | None = None,
    note_urls: list[dict[str, Any]] | None = None,
    refs: list[dict[str, str]] | None = None,
    created: str = "2026-11-19T10:00:00.000Z",
) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": post_id,
        "author_id": author,
        "text": f"@welovelocalgov have a look {post_id}",
        "created_at": created,
    }
    if urls is not None:
        tweet["entities"] = {"urls": urls}
    if note_urls is not None:
        tweet["note_tweet"] = {"text": "a long post " * 40, "entities": {"urls": note_urls}}
    if refs is not None:
        tweet["referenced_tweets"] = refs
    return tweet


def url(expanded: str, **extra: Any) -> dict[str, Any]:
    return {"url": "https://t.co/x", "expanded_url": expanded, **extra}


def page_of(*tweets: dict[str, Any], included: list[dict[str, Any]] | None = None) -> dict:
    return {
        "data": list(tweets),
        "includes": {
            "users": [
                {"id": "1", "username": "alice"},
                {"id": "2", "username": "Bob_99"},
                {"id": "9", "username": "welovelocalgov"},
            ],
            "tweets": included or [],
        },
        "meta": {"result_count": len(tweets), "newest_id": tweets[0]["id"] if tweets else None},
    }


def test_links_in_a_long_note_post_are_found() -> None:
    page = page_of(mention("10", note_urls=[url("https://council.example.gov.uk/blog/a")]))
    [found] = parse_page(page).suggestions
    assert found.canonical_url == "https://council.example.gov.uk/blog/a"
    assert found.text is not None
    assert found.text.startswith("a long post")


def test_a_quoted_post_with_an_article_counts_for_the_quoter() -> None:
    quoted = mention("5", author="2", urls=[url("https://news.example.org/story")])
    page = page_of(
        mention(
            "11",
            urls=[url("https://twitter.com/Bob_99/status/5")],
            refs=[{"type": "quoted", "id": "5"}],
        ),
        included=[quoted],
    )
    [found] = parse_page(page).suggestions
    assert found.author_username == "alice"
    assert found.canonical_url == "https://news.example.org/story"


def test_a_replied_to_posts_links_are_not_taken() -> None:
    parent = mention("5", author="2", urls=[url("https://news.example.org/story")])
    page = page_of(mention("12", refs=[{"type": "replied_to", "id": "5"}]), included=[parent])
    assert parse_page(page).suggestions == ()


def test_unwound_url_is_preferred_and_bare_tco_links_are_dropped() -> None:
    page = page_of(
        mention(
            "13",
            urls=[
                url("https://bit.ly/abc", unwound_url="https://blog.example.gov.uk/real"),
                {"url": "https://t.co/onlythis"},
                url("https://x.com/someone/status/1/video/1"),
                url("https://pbs.twimg.com/media/a.jpg"),
                url("https://blog.example.gov.uk/real#comments"),
            ],
        )
    )
    [found] = parse_page(page).suggestions  # the same article twice is one suggestion
    assert found.link == "https://blog.example.gov.uk/real"


def test_the_accounts_own_posts_and_authorless_posts_suggest_nothing() -> None:
    page = page_of(
        mention("14", author="9", urls=[url("https://a.example/1")]),
        mention("15", author="404", urls=[url("https://a.example/2")]),
    )
    reading = parse_page(page, own_user_id="9")
    assert reading.suggestions == ()
    assert len(reading.skipped) == 1
    assert "15" in reading.skipped[0]


def test_untrusted_titles_become_short_plain_text() -> None:
    page = page_of(
        mention(
            "16",
            urls=[
                url(
                    "https://a.example/1",
                    title="<script>alert(1)</script><b>Bold</b> &amp; title",
                    description="x" * 5000,
                )
            ],
        )
    )
    [found] = parse_page(page).suggestions
    assert found.link_title == "Bold & title"
    assert found.link_description is not None
    assert len(found.link_description) <= 401


@pytest.mark.parametrize(
    "bad",
    [[], "text", {"data": {"id": "1"}}, {"data": [], "includes": []}, {"meta": "x"}],
)
def test_a_page_of_the_wrong_shape_is_malformed(bad: Any) -> None:
    with pytest.raises(MalformedPage):
        parse_page(bad)


def test_an_empty_page_is_fine() -> None:
    reading = parse_page({"meta": {"result_count": 0}})
    assert reading.suggestions == ()
    assert reading.next_token is None
    assert reading.posts == 0


# -- the abuse rules ----------------------------------------------------------------------


def suggestion(
    user: str, link: str, *, post: str = "1", at: datetime = NOW, user_id: str | None = None
) -> SuggestedLink:
    return SuggestedLink(
        post_id=post,
        post_url=f"https://x.com/{user}/status/{post}",
        author_id=user_id or f"id-{user.lower()}",
        author_username=user,
        text=None,
        posted_at=at,
        link=link,
        canonical_url=link,
        link_title=None,
        link_description=None,
    )


def test_blocked_users_and_domains_are_rejected_with_a_reason() -> None:
    rules = AbuseRules.build(
        blocked_users=["@Spammer", "777"], blocked_domains=["spam.example", "https://www.bad.io/"]
    )
    judged = judge(
        [
            suggestion("spammer", "https://ok.example/1"),
            suggestion("other", "https://ok.example/2", user_id="777"),
            suggestion("alice", "https://news.spam.example/x"),
            suggestion("alice", "https://bad.io/y"),
            suggestion("alice", "https://notspam.example/z"),
        ],
        rules,
        [],
        NOW,
    )
    assert [j.status for j in judged] == ["rejected"] * 4 + ["accepted"]
    assert "blocked_users" in (judged[0].reason or "")
    assert "blocked_domains" in (judged[2].reason or "")


def test_a_configured_international_domain_matches_its_punycode_links() -> None:
    rules = AbuseRules.build(
        blocked_domains=["bücher.example"], allowed_domains=["bücher.example", "ok.example"]
    )
    judged = judge(
        [
            suggestion("a", "https://shop.xn--bcher-kva.example/x"),
            suggestion("a", "https://ok.example/y"),
        ],
        rules,
        [],
        NOW,
    )
    assert [j.status for j in judged] == ["rejected", "accepted"]
    assert "blocked_domains" in (judged[0].reason or "")


def test_allowed_domains_when_set_are_the_only_ones_accepted() -> None:
    rules = AbuseRules.build(allowed_domains=["gov.uk"])
    judged = judge(
        [suggestion("a", "https://www.camden.gov.uk/x"), suggestion("a", "https://example.com/")],
        rules,
        [],
        NOW,
    )
    assert [j.status for j in judged] == ["accepted", "rejected"]
    assert "allowed_domains" in (judged[1].reason or "")


def test_at_most_n_different_links_per_person_per_week() -> None:
    rules = AbuseRules.build(max_per_user_per_week=2)
    prior = [PriorSuggestion("alice", "https://a.example/old", NOW - timedelta(days=2), "id-alice")]
    judged = judge(
        [
            suggestion("Alice", "https://a.example/1", post="2"),
            suggestion("alice", "https://a.example/old", post="3"),  # again: not counted
            suggestion("alice", "https://a.example/2", post="4", at=NOW + timedelta(minutes=1)),
            suggestion("bob", "https://a.example/3", post="5"),
        ],
        rules,
        prior,
        NOW,
    )
    assert [j.status for j in judged] == ["accepted", "accepted", "rejected", "accepted"]
    assert "limit of 2" in (judged[2].reason or "")


def test_the_weekly_limit_follows_the_account_not_its_name() -> None:
    """Renaming the account does not reset the limit; a new account that takes a
    freed name does not inherit it."""
    rules = AbuseRules.build(max_per_user_per_week=1)
    prior = [PriorSuggestion("alice", "https://a.example/old", NOW - timedelta(days=1), "42")]
    judged = judge(
        [
            suggestion("alice_renamed", "https://a.example/1", post="2", user_id="42"),
            suggestion("alice", "https://a.example/2", post="3", user_id="77"),
        ],
        rules,
        prior,
        NOW,
    )
    assert [j.status for j in judged] == ["rejected", "accepted"]
    assert "@alice_renamed passed the limit of 1" in (judged[0].reason or "")


def test_the_weekly_window_slides_and_zero_means_no_limit() -> None:
    prior = [
        PriorSuggestion("alice", f"https://a.example/{n}", NOW - timedelta(days=8), "id-alice")
        for n in range(9)
    ]
    [judged] = judge([suggestion("alice", "https://a.example/new")], AbuseRules.build(), prior, NOW)
    assert judged.status == "accepted"
    recent = [
        PriorSuggestion("alice", f"https://a.example/{n}", NOW - timedelta(hours=1), "id-alice")
        for n in range(9)
    ]
    unlimited = AbuseRules.build(max_per_user_per_week=0)
    [judged] = judge([suggestion("alice", "https://a.example/new")], unlimited, recent, NOW)
    assert judged.status == "accepted"


def test_the_limit_counts_in_time_order_whatever_the_page_order() -> None:
    rules = AbuseRules.build(max_per_user_per_week=1)
    newer = suggestion("alice", "https://a.example/2", post="9", at=NOW)
    older = suggestion("alice", "https://a.example/1", post="8", at=NOW - timedelta(hours=3))
    judged = judge([newer, older], rules, [], NOW)  # X sends the newest first
    assert [j.status for j in judged] == ["rejected", "accepted"]


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ("@Spammer", "*:spammer"),
        ("777", "*:777"),
        ("mastodon:@Nasty@Evil.Social", "mastodon:nasty@evil.social"),
        ("bluesky: spam.bsky.social", "bluesky:spam.bsky.social"),
        ("bluesky:did:plc:abc123", "bluesky:did:plc:abc123"),
        ("twitter:@spammer", "x:spammer"),
        ("did:plc:abc123", "*:did:plc:abc123"),
    ],
)
def test_blocked_users_may_name_a_platform(entry: str, key: str) -> None:
    assert blocked_user_key(entry) == key


@pytest.mark.parametrize(
    ("handle", "shown"),
    [
        ("ann", "@ann"),
        ("@ann@council.social", "@ann@council.social"),
        ("ann.bsky.social", "@ann.bsky.social"),
    ],
)
def test_credit_reads_naturally_on_each_platform(handle: str, shown: str) -> None:
    assert credit(handle) == shown
