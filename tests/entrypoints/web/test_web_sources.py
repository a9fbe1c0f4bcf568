"""The sources page: which feeds are failing and why, when each was polled, the X source's state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from helpers.web import NOW, make_site, sign_in

from roundup_bot.core.records import ConfiguredFeed


def test_failing_feeds_come_first_with_their_error_and_times(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_draft=False, twitter={"enabled": True})
    try:
        storage = site.app.storage
        storage.feeds.sync(
            [
                ConfiguredFeed("https://blog.example.gov.uk/feed", "Council Blog", 1.0, True),
                ConfiguredFeed("https://other.example.org/feed", "Other Blog", 1.0, True),
                ConfiguredFeed("https://broken.example.net/rss", "Broken <b>Blog</b>", 1.0, True),
                ConfiguredFeed("https://new.example.net/rss", None, 1.0, True),
            ],
            NOW,
        )
        broken = next(f for f in storage.feeds.for_update(NOW, mode="all") if "broken" in f.url)
        storage.feeds.record_failure(
            broken,
            error="HTTP 503 from https://broken.example.net/rss",
            gone=False,
            now=NOW - timedelta(hours=1),
            next_due=NOW + timedelta(hours=1),
        )
        storage.state.set("x", "since_id", "1234567890")
        storage.state.set("x", "ok", "false")
        storage.state.set("x", "outcome", "rate_limited")
        storage.state.set("x", "last_run", (NOW - timedelta(minutes=30)).isoformat())
        storage.state.set("x", "last_error", "rate limited until 10:15")
        storage.state.set("x", "resume_token", "must-not-show")
        client = site.client()
        sign_in(client)
        html = " ".join(client.get("/sources").get_data(as_text=True).split())
        assert '4 feeds: 2 OK, <strong class="bad">1 failing</strong>, 1 not polled yet.' in html
        assert html.index("Broken &lt;b&gt;Blog&lt;/b&gt;") < html.index("Council Blog")
        assert "HTTP 503 from https://broken.example.net/rss" in html
        assert "Wed 25 Nov 2026, 09:00" in html  # last polled, in Europe/London
        assert "Not polled yet" in html
        assert "Reading mentions of @welovelocalgov:" in html
        assert "Paused by X&#39;s rate limit" in html
        assert "Wed 25 Nov 2026, 09:30" in html  # last read
        assert "Newest post read" in html
        assert "1234567890" in html
        assert "0 of 1000" in html  # posts read this month, of the cap
        assert "Scheduled jobs" in html
        assert "Not run yet" in html
        assert "rate limited until 10:15" in html
        assert "must-not-show" not in html
        # A healthy feed and a job never run say so, instead of an empty "Problem:"/"Result:"
        assert '<td data-label="Problem">—</td>' in html
        assert '<td data-label="Result">—</td>' in html
    finally:
        site.close()


def test_the_x_source_turned_off_says_so(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_draft=False)
    try:
        client = site.client()
        sign_in(client)
        html = client.get("/sources").get_data(as_text=True)
        assert "Reading suggestions from X is turned off" in html
    finally:
        site.close()


def test_a_password_in_a_feed_url_never_reaches_the_page(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_draft=False)
    try:
        storage = site.app.storage
        url = "https://reader:hunter2-secret@intranet.example.gov.uk/feed"
        storage.feeds.sync([ConfiguredFeed(url, None, 1.0, True)], NOW)
        [feed] = storage.feeds.for_update(NOW, mode="all")
        storage.feeds.record_failure(
            feed, error=f"HTTP 500 from {url}", gone=False, now=NOW, next_due=NOW
        )
        client = site.client()
        sign_in(client)
        html = client.get("/sources").get_data(as_text=True)
        assert "intranet.example.gov.uk" in html
        assert "hunter2-secret" not in html
    finally:
        site.close()


def test_each_suggestion_channel_has_its_own_state_on_the_page(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        with_draft=False,
        mastodon={"enabled": True, "api_base_url": "https://council.social"},
        bluesky={"enabled": True, "handle": "welovelocalgov.bsky.social"},
    )
    try:
        state = site.app.storage.state
        state.set("mastodon", "account", "@welovelocalgov@council.social")
        state.set("mastodon", "ok", "true")
        state.set("mastodon", "last_run", (NOW - timedelta(minutes=5)).isoformat())
        state.set("mastodon", "since_id", "5501")
        state.set("bluesky", "ok", "false")
        state.set("bluesky", "outcome", "failed")
        state.set("bluesky", "last_run", (NOW - timedelta(minutes=5)).isoformat())
        state.set("bluesky", "last_error", "Bluesky login: the app password was refused")
        state.set("bluesky", "session", "h:::did:::eyJsecret:::eyJrefresh:::pds")
        client = site.client()
        sign_in(client)
        html = " ".join(client.get("/sources").get_data(as_text=True).split())
        assert "Suggestions on X" in html
        assert "Reading suggestions from X is turned off" in html
        assert "Suggestions on Mastodon" in html
        assert "Reading mentions of @welovelocalgov@council.social:" in html
        assert "5501" in html
        assert "Suggestions on Bluesky" in html
        assert "Reading mentions of @welovelocalgov.bsky.social:" in html
        assert "the app password was refused" in html
        assert "eyJsecret" not in html  # the kept session never shows
    finally:
        site.close()
