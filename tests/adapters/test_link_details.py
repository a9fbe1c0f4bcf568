"""Link details: page metadata read with extruct, cached, and never fetched from
private, loopback or link-local addresses unless allowed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.dns import FakeDns, loopback_counts_as_public, public_and_internal
from helpers.drafts import Article, make_app, seed
from helpers.server import Reply
from pytest_httpserver import HTTPServer

from roundup_bot.adapters.http import HttpFetcher
from roundup_bot.adapters.pages import (
    fetch_details,
    fetch_many,
    is_fresh,
    parse_page,
    refresh_link_details,
)
from roundup_bot.core.records import HttpPolicy, LinkDetails
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.drafting import draft_week
from roundup_bot.storage import Storage

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PAGE = """<!doctype html>
<html><head>
<meta charset="utf-8">
<title>Fallback title | Council</title>
<meta property="og:title" content="Rebuilding the bins service &amp; what we learnt">
<meta property="og:site_name" content="Leeds Digital">
<meta name="description" content="How <b>forty</b> interviews changed the service.">
<meta name="author" content="Meta Author">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "Leeds Digital"},
  {"@type": "BlogPosting", "headline": "JSON-LD headline",
   "author": [{"@type": "Person", "name": "Priya Shah"}, {"@type": "Person", "name": "Tom Lee"}],
   "publisher": {"@type": "Organization", "name": "Leeds City Council"}}
]}
</script>
</head><body><p>Hello</p></body></html>"""


def policy(allow_private: bool) -> HttpPolicy:
    return HttpPolicy(timeout=5.0, max_bytes=100_000, max_redirects=3, allow_private=allow_private)


def test_metadata_comes_from_opengraph_json_ld_and_meta_tags() -> None:
    page = parse_page(PAGE.encode(), "https://leeds.example/bins")
    assert page.title == "Rebuilding the bins service & what we learnt"
    assert page.author == "Priya Shah, Tom Lee"
    assert page.site_name == "Leeds Digital"
    assert page.description == "How forty interviews changed the service."


def test_plain_pages_and_rubbish_still_give_what_they_can() -> None:
    page = parse_page(
        b"<html><head><title> Just a title </title><meta name=author content='Ann'>",
        "https://a.example/",
    )
    assert page.title == "Just a title"
    assert page.author == "Ann"
    assert page.site_name is None
    assert parse_page(b"", "https://a.example/").title is None
    assert parse_page(b"\x00\xff\xfe garbage <<<", "https://a.example/").author is None
    latin = parse_page(
        "<title>Café</title>".encode("latin-1"),
        "https://a.example/",
        {"content-type": "text/html; charset=iso-8859-1"},
    )
    assert latin.title == "Café"


def test_pages_are_fetched_from_a_real_server_when_private_addresses_are_allowed(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/post").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/file.pdf").respond_with_data(
        b"%PDF", content_type="application/pdf"
    )
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    base = f"http://127.0.0.1:{httpserver.port}"
    found = asyncio.run(
        fetch_many([f"{base}/post", f"{base}/file.pdf", f"{base}/gone"], policy(True), NOW)
    )
    by_url = {d.url: d for d in found}
    assert by_url[f"{base}/post"].ok
    assert by_url[f"{base}/post"].site_name == "Leeds Digital"
    assert not by_url[f"{base}/file.pdf"].ok
    assert "not an HTML page" in (by_url[f"{base}/file.pdf"].error or "")
    assert not by_url[f"{base}/gone"].ok
    assert "404" in (by_url[f"{base}/gone"].error or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/",
        "http://localhost:9/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    [details] = asyncio.run(fetch_many([url], policy(False), NOW))
    assert not details.ok
    assert "non-public address" in (details.error or "")


@pytest.fixture(name="loopback_counts_as_public")
def _loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the test server at 127.0.0.1 stand in for a public site, and nothing else."""
    loopback_counts_as_public(monkeypatch)


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.8/admin",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::1]/",
        "http://192.168.1.1/",
        "http://127.0.0.2:9/",  # loopback, though not the test server's own address
    ],
)
@pytest.mark.usefixtures("loopback_counts_as_public")
def test_a_redirect_to_a_private_address_is_refused(httpserver: HTTPServer, target: str) -> None:
    httpserver.expect_request("/moved").respond_with_data(
        "", status=302, headers={"Location": target}
    )
    url = f"http://127.0.0.1:{httpserver.port}/moved"
    [details] = asyncio.run(fetch_many([url], policy(False), NOW))
    assert not details.ok
    assert "non-public address" in (details.error or "")


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_dns_rebinding_gets_no_request_to_an_internal_page() -> None:
    """The name answers "public" to the first lookup and loopback afterwards: the
    page is read from the address that was checked; the internal one sees nothing."""
    dns = FakeDns({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]})
    with public_and_internal() as (public, internal):
        public.route("/post", Reply(200, {"Content-Type": "text/html"}, PAGE.encode()))
        internal.route("/post", Reply(200, {"Content-Type": "text/html"}, b"<title>admin"))

        async def go() -> LinkDetails:
            async with HttpFetcher(policy(False), resolver=dns) as fetcher:
                return await fetch_details(
                    f"http://rebind.example:{public.port}/post", fetcher, NOW
                )

        details = asyncio.run(go())
        assert internal.requests == []
    assert details.ok
    assert details.site_name == "Leeds Digital"


def test_cache_freshness() -> None:
    good = LinkDetails(url="u", fetched_at=NOW - timedelta(days=3), ok=True)
    bad = LinkDetails(url="u", fetched_at=NOW - timedelta(days=2), ok=False, error="x")
    assert is_fresh(good, NOW, timedelta(days=7))
    assert not is_fresh(good, NOW, timedelta(days=1))
    assert not is_fresh(bad, NOW, timedelta(days=7))  # failures are retried after a day
    assert refresh_link_details(["u"], {"u": good}, policy(False), NOW, max_age=timedelta(7)) == []


def test_a_draft_fills_missing_details_from_the_page_and_caches_them(
    storage: Storage, tmp_path: Path, httpserver: HTTPServer
) -> None:
    week = week_by_label("2026-W48", "Europe/London", "friday 09:00")
    host = f"127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/bins").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/broken").respond_with_data("no", status=500)
    httpserver.expect_request("/complete").respond_with_data(
        "<title>Other</title><meta name=author content='Someone Else'>", content_type="text/html"
    )
    seed(
        storage,
        [
            Article(
                slug="bins",
                published=week.end - timedelta(days=1),
                title="",
                author=None,
                summary=None,
                host=host,
                scheme="http",
            ),
            Article(
                slug="broken",
                published=week.end - timedelta(days=1),
                title="Kept as is",
                author=None,
                summary="From the feed, in whole words.",
                host=host,
                scheme="http",
            ),
            Article(  # the feed gave everything: the page is read, but never overrides it
                slug="complete",
                published=week.end - timedelta(days=2),
                title="Complete",
                author="Ann",
                summary="Whole and complete sentence.",
                host=host,
                scheme="http",
            ),
        ],
        NOW,
    )
    app = make_app(
        storage,
        tmp_path,
        roundup={"fetch_link_details": True},
        network={"allow_private_addresses": True},
    )
    outcome = draft_week(app, week, now=NOW)
    # Every pick's page is read (its true address, credits, first paragraph).
    assert outcome.details_fetched == 3
    assert outcome.details_failed == 1
    items = {i.url.rsplit("/", 1)[1]: i for i in outcome.draft.shown_items}
    assert items["bins"].title == "Rebuilding the bins service & what we learnt"
    assert items["bins"].author == "Priya Shah, Tom Lee"
    assert items["bins"].blurb == "How forty interviews changed the service."
    assert items["broken"].title == "Kept as is"
    assert items["broken"].blurb == "From the feed, in whole words."
    assert items["complete"].title == "Complete"
    assert items["complete"].author == "Ann"
    # Cached: a second refresh asks the server for nothing (the failure is retried later).
    requests = len(httpserver.log)
    again = draft_week(app, week, now=NOW + timedelta(hours=1))
    assert again.details_fetched == 0
    assert len(httpserver.log) == requests
