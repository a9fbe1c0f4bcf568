"""The pure WordPress decisions: the slug, scheduling, statuses, REST addresses,
refusal causes, backoff; and the links read from comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roundup_bot.core.errors import MalformedAnswer
from roundup_bot.core.wordpress import (
    credentials_allowed,
    is_whole_page,
    next_try,
    post_fields,
    post_slug,
    post_with_slug,
    refusal_cause,
    route_url,
    scheduled_moment,
    status_on_update,
    term_with_name,
    v2_base,
    wpcom_base,
)
from roundup_bot.core.wordpress_comments import links_in, read_comments

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_the_slug_is_stable_and_plain() -> None:
    assert post_slug("welovelocalgov", "2026-W48") == "welovelocalgov-2026-w48"
    assert post_slug("Wé Love Local Gov!", "2026-W01") == "we-love-local-gov-2026-w01"
    assert len(post_slug("x" * 500, "2026-W01")) <= 190


def test_a_future_post_goes_out_at_the_first_publish_at_after_the_week_end() -> None:
    week_end = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 09:00 in London
    friday_noon = scheduled_moment(week_end, "friday 12:00", "Europe/London", NOW)
    assert friday_noon == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    monday = scheduled_moment(week_end, "monday 08:00", "Europe/London", NOW)
    assert monday == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    before_end = scheduled_moment(week_end, "friday 08:00", "Europe/London", NOW)
    assert before_end == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # a week on, never before the end
    assert (
        scheduled_moment(week_end, "friday 12:00", "Europe/London", NOW + timedelta(hours=3))
        is None
    )
    summer = scheduled_moment(
        datetime(2026, 7, 3, 8, 0, tzinfo=UTC),
        "friday 12:00",
        "Europe/London",
        NOW - timedelta(days=200),
    )
    assert summer == datetime(2026, 7, 3, 11, 0, tzinfo=UTC)  # noon BST


def test_a_live_post_is_never_taken_back() -> None:
    assert status_on_update("draft", None, "draft") == "draft"
    assert status_on_update("draft", None, "publish") is None
    assert status_on_update("publish", None, "private") is None
    assert status_on_update("future", None, "future") == "publish"  # its moment has passed
    fields = post_fields(
        title="T",
        content="<h1>T</h1>",
        excerpt="I",
        slug="s",
        status="future",
        categories=(3,),
        tags=(),
        date_gmt=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )
    assert fields["date_gmt"] == "2026-11-27T12:00:00"
    assert "status" not in post_fields(
        title="T",
        content="c",
        excerpt="",
        slug="s",
        status=None,
        categories=(),
        tags=(),
        date_gmt=None,
    )


def test_credentials_go_over_https_or_to_this_machine_only() -> None:
    assert credentials_allowed("https://blog.example.org/wp-json/")
    assert credentials_allowed("http://127.0.0.1:8080/wp-json/")
    assert credentials_allowed("http://localhost/wp-json/")
    assert credentials_allowed("http://[::1]:80/")
    assert not credentials_allowed("http://blog.example.org/wp-json/")
    assert not credentials_allowed("http://10.0.0.5/wp-json/")
    assert not credentials_allowed("http://127.0.0.1.nip.io/")
    assert not credentials_allowed("ftp://127.0.0.1/")


def test_rest_addresses_for_pretty_and_plain_permalinks_and_wordpress_com() -> None:
    assert v2_base("https://blog.example/wp-json/") == "https://blog.example/wp-json/wp/v2/"
    assert v2_base("https://blog.example/wp-json") == "https://blog.example/wp-json/wp/v2/"
    plain = v2_base("https://blog.example/?rest_route=/")
    assert plain == "https://blog.example/?rest_route=/wp/v2/"
    assert route_url(plain, "posts/7", {"context": "edit"}) == (
        "https://blog.example/?rest_route=/wp/v2/posts/7&context=edit"
    )
    assert route_url("https://b/wp-json/wp/v2/", "posts", {"slug": "a b", "status": "x,y"}) == (
        "https://b/wp-json/wp/v2/posts?slug=a+b&status=x,y"
    )
    assert wpcom_base("https://roundup.wordpress.com") == (
        "https://public-api.wordpress.com/wp/v2/sites/roundup.wordpress.com/"
    )


def test_answers_are_read_strictly() -> None:
    posts = [{"id": 4, "slug": "s-2", "status": "draft"}, {"id": 3, "slug": "s", "status": "draft"}]
    found = post_with_slug(posts, "s")
    assert found is not None
    assert found.id == 3
    assert post_with_slug([], "s") is None
    with pytest.raises(MalformedAnswer):
        post_with_slug({"id": 3}, "s")
    with pytest.raises(MalformedAnswer):
        post_with_slug([{"id": "3", "slug": "s"}], "s")
    assert term_with_name([{"id": 5, "name": "Councils &amp; more"}], "councils & MORE") == 5
    assert term_with_name([{"id": 5, "name": "Other"}], "x") is None


def test_refusals_name_the_likely_cause() -> None:
    assert "login name" in refusal_cause(401, "invalid_username", "application-password")
    assert "Application Password" in refusal_cause(
        401, "incorrect_password", "application-password"
    )
    assert "HTTPS" in refusal_cause(401, "rest_not_logged_in", "application-password")
    assert "token" in refusal_cause(401, None, "wpcom-token")
    assert "Author, Editor" in refusal_cause(403, "rest_cannot_create", "application-password")


def test_backoff_doubles_to_a_cap_and_honours_retry_after() -> None:
    assert next_try(1, NOW) == NOW + timedelta(minutes=5)
    assert next_try(2, NOW) == NOW + timedelta(minutes=10)
    assert next_try(30, NOW) == NOW + timedelta(hours=6)
    assert next_try(1, NOW, 7200) == NOW + timedelta(hours=2)
    assert next_try(1, NOW, 10) == NOW + timedelta(minutes=5)
    assert next_try(1, NOW, 10**9) == NOW + timedelta(days=1)


def test_a_whole_page_is_not_a_post() -> None:
    assert is_whole_page("<!DOCTYPE html><html><body>x</body></html>")
    assert is_whole_page("\n<html lang=en>")
    assert not is_whole_page("<h1>The round-up</h1><p>...</p>")


def test_links_in_a_comment() -> None:
    html = (
        '<p><a href="https://a.example/1">one</a> <a href="javascript:x()">no</a>'
        ' see https://b.example/2. and <a href="https://a.example/1">again</a></p>'
    )
    assert links_in(html) == ["https://a.example/1", "https://b.example/2"]
    assert links_in("<p>" + "x" * 30_000 + " https://late.example/</p>") == []  # cut first


def test_comments_are_read_with_their_people_and_posts() -> None:
    comments = [
        {
            "id": 9,
            "post": 101,
            "author": 0,
            "author_name": "Jo <b>Bloggs</b>",
            "link": "https://blog.example/r/#comment-9",
            "date_gmt": "2026-11-28T10:00:00",
            "content": {
                "rendered": '<a href="https://c.example/x">x</a> <a href="https://blog.example/r">r</a>'
            },
        },
        {
            "id": 10,
            "post": 101,
            "author": 5,
            "author_name": "Ed",
            "content": {"rendered": "Thanks!"},
        },
        {"no": "id"},
    ]
    reading = read_comments(comments, own_hosts=["blog.example"])
    assert reading.comments == ((9, 101), (10, 101))
    assert reading.skipped == ("a comment without an id",)
    [link] = reading.suggestions
    assert (link.post_id, link.author_username, link.author_id) == ("9", "Jo Bloggs", None)
    assert link.canonical_url == "https://c.example/x"
    assert link.posted_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with pytest.raises(MalformedAnswer):
        read_comments({"not": "a list"}, own_hosts=[])


def test_the_rest_root_is_read_from_the_link_header() -> None:
    from roundup_bot.core.wordpress import link_with_rel

    header = (
        "<https://blog.example/?p=7>; rel=shortlink, "
        '<https://blog.example/wp-json/>; rel="https://api.w.org/"'
    )
    assert link_with_rel(header, "https://api.w.org/", "https://blog.example/") == (
        "https://blog.example/wp-json/"
    )
    relative = '</index.php?rest_route=/>; rel="https://api.w.org/"'
    assert link_with_rel(relative, "https://api.w.org/", "https://blog.example/") == (
        "https://blog.example/index.php?rest_route=/"
    )
    assert link_with_rel("<https://x/>; rel=next", "https://api.w.org/", "https://x/") is None
    assert link_with_rel("garbage", "https://api.w.org/", "https://x/") is None


def test_basic_credentials_are_redacted_and_plain_words_are_not() -> None:
    from roundup_bot.core.redaction import redact

    assert redact("Authorization: Basic ZWRpdG9yOmFiY2QgRUZHSA==") == "Authorization: Basic ***"
    assert redact("basic information about the feed") == "basic information about the feed"


# --- review fixes: where the password may go, and ids that fit ------------------------------


SITE_URL = "https://blog.example"


@pytest.mark.parametrize(
    ("chain", "advertised", "root", "why"),
    [
        # the site's own origin, whatever the path or query
        ([f"{SITE_URL}/"], "https://blog.example/wp-json/", "https://blog.example/wp-json/", None),
        ([f"{SITE_URL}/"], "https://BLOG.example:443/?rest_route=/", None, None),
        # another host, another port, another scheme: not trusted
        ([f"{SITE_URL}/"], "https://evil.example/wp-json/", "default", "another host"),
        ([f"{SITE_URL}/"], "https://blog.example:8443/wp-json/", "default", "another host"),
        ([f"{SITE_URL}/"], "http://blog.example/wp-json/", "default", "another host"),
        # the final host of an all-HTTPS redirect chain is trusted...
        (
            [f"{SITE_URL}/", "https://www.blog.example/"],
            "https://www.blog.example/wp-json/",
            "https://www.blog.example/wp-json/",
            None,
        ),
        # ...but not a third host it names, nor after a plain-HTTP hop
        (
            [f"{SITE_URL}/", "https://www.blog.example/"],
            "https://evil.example/wp-json/",
            "default",
            "another host",
        ),
        (
            ["http://127.0.0.2:81/", "http://127.0.0.3:82/"],
            "http://127.0.0.3:82/wp-json/",
            "default",
            "another host",
        ),
        ([f"{SITE_URL}/"], None, "default", None),
    ],
)
def test_a_discovered_rest_root_is_trusted_only_on_the_sites_own_host(
    chain: list[str], advertised: str | None, root: str | None, why: str | None
) -> None:
    from roundup_bot.core.wordpress import trusted_rest_root

    site = chain[0].rstrip("/")
    got, reason = trusted_rest_root(site, chain, advertised)
    expected = f"{site}/wp-json/" if root == "default" else (root or advertised)
    assert got == expected
    assert (reason is None) == (why is None)
    if why:
        assert why in (reason or "")


def test_an_https_to_http_hop_is_refused() -> None:
    from roundup_bot.core.wordpress import refused_hop

    assert refused_hop("https://blog.example/", "http://blog.example/") is not None
    assert refused_hop("https://blog.example/", "https://www.blog.example/") is None
    assert refused_hop("http://127.0.0.1/", "http://127.0.0.2/") is None
    assert refused_hop("https://blog.example/", "ftp://blog.example/") is not None


@pytest.mark.parametrize("bad", [2**63, 2**64, 0, -1, True, 1.0, "3"])
def test_ids_that_no_database_column_holds_are_malformed(bad: object) -> None:
    from roundup_bot.core.wordpress import post_facts

    with pytest.raises(MalformedAnswer):
        post_facts({"id": bad, "slug": "s", "status": "draft"})
    with pytest.raises(MalformedAnswer):
        term_with_name([{"id": bad, "name": "x"}], "x")
    assert post_facts({"id": 2**63 - 1, "slug": "s"}).id == 2**63 - 1
    assert term_with_name([{"id": 2**63 - 1, "name": "x"}], "x") == 2**63 - 1


def test_a_comment_with_an_oversized_id_is_skipped_and_the_rest_read() -> None:
    comments = [
        {"id": 2**64, "post": 101, "content": {"rendered": '<a href="https://c.example/a">a</a>'}},
        {"id": 7, "post": 2**64, "content": {"rendered": "no post"}},
        {
            "id": 8,
            "post": 101,
            "author": 2**64,
            "author_name": "Jo",
            "content": {"rendered": '<a href="https://c.example/b">b</a>'},
        },
    ]
    reading = read_comments(comments, own_hosts=[])
    assert reading.comments == ((7, 0), (8, 101))
    assert reading.skipped == ("a comment without an id",)
    [link] = reading.suggestions
    assert (link.post_id, link.author_id, link.canonical_url) == ("8", None, "https://c.example/b")
