"""Announcing a published round-up on Mastodon and Bluesky (local fakes), once each,
claimed before sending, retried by `publish`; Bluesky's link card from the page's
OpenGraph data (the page and its image served on 127.0.0.2)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_x_api import FakeXApi, Reply
from helpers.web import NOW, WEEK, make_draft, make_settings, seed
from pytest_httpserver import HTTPServer

from roundup_bot.core.suggestion_rules import JudgedSuggestion, SuggestedLink
from roundup_bot.services.app import App, build_app
from roundup_bot.services.publish import approve, publish

STATUSES = r"/api/v1/statuses"
RECORD = r"/xrpc/com\.atproto\.repo\.createRecord"
BLOB = r"/xrpc/com\.atproto\.repo\.uploadBlob"
CREATE = r"/xrpc/com\.atproto\.server\.createSession"
ANN_DID = "did:plc:annannannannannannannanna"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def jwt(expires_in: float) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"sub": "did:plc:bot", "exp": int(time.time() + expires_in), "iat": int(time.time())}
    return f"{part({'alg': 'ES256K'})}.{part(claims)}.c2ln"


@pytest.fixture
def page() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def mastodon() -> Iterator[FakeXApi]:
    server = FakeXApi()
    server.add("GET", r"/api/v1/accounts/verify_credentials",
               Reply.json({"id": "900", "acct": "bot", "url": "https://c.social/@bot"}),
               repeat=True)  # fmt: skip
    server.add("GET", r"/api/v2/notifications/policy", Reply.json({}), repeat=True)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def bluesky() -> Iterator[FakeXApi]:
    server = FakeXApi()
    server.add(
        "POST",
        CREATE,
        Reply.json({"did": "did:plc:bot", "handle": "bot.bsky.social",
                    "accessJwt": jwt(7200), "refreshJwt": jwt(86400 * 30)}),
        repeat=True,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.close()


def suggested(platform: str, handle: str, author_id: str, url: str) -> JudgedSuggestion:
    return JudgedSuggestion(
        SuggestedLink(
            post_id=f"{platform}-1",
            post_url=f"https://{platform}.example/1",
            author_id=author_id,
            author_username=handle,
            text="this one",
            posted_at=NOW - timedelta(days=1),
            link=url,
            canonical_url=url,
            link_title="Suggested post",
            link_description=None,
        ),
        "accepted",
    )


def make_app(
    tmp_path: Path,
    page: HTTPServer,
    mastodon: FakeXApi,
    bluesky: FakeXApi,
    *,
    bluesky_announces: bool = True,
    bluesky_timeout: float = 20.0,
) -> App:
    settings = make_settings(
        tmp_path,
        publish={"base_url": page.url_for("/roundups").rstrip("/")},
        network={"allow_private_addresses": True},
        mastodon={"enabled": True, "api_base_url": mastodon.base_url, "announce": True,
                  "retries": 0},
        bluesky={"enabled": True, "handle": "bot.bsky.social", "service": bluesky.base_url,
                 "announce": bluesky_announces, "retries": 0, "timeout": bluesky_timeout},
    )  # fmt: skip
    app = build_app(
        settings,
        environ={
            "ROUNDUP_MASTODON_ACCESS_TOKEN": "mastodon-token-123456",
            "ROUNDUP_BLUESKY_APP_PASSWORD": "app-pass-word-1234",
        },
    )
    seed(app)
    url = "https://blog.example.gov.uk/suggested"
    for platform, handle, author in (
        ("mastodon", "ann@town.social", "11"),
        ("bluesky", "ann.bsky.social", ANN_DID),
    ):
        app.storage.suggestions.store_page(
            platform, [suggested(platform, handle, author, url)],
            posts_read=1, month="2026-11", state={}, now=NOW - timedelta(days=1),
        )  # fmt: skip
    return app


def serve_page(page: HTTPServer) -> None:
    html = (
        "<html><head><meta property='og:title' content='That was the week'>"
        "<meta property='og:description' content='Our favourite posts.'>"
        "<meta property='og:image' content='/card.png'></head></html>"
    )
    page.expect_request(f"/roundups/{WEEK}.html").respond_with_data(html, content_type="text/html")
    page.expect_request("/card.png").respond_with_data(PNG, content_type="image/png")


def test_a_published_round_up_is_announced_once_on_each_channel(
    tmp_path: Path, page: HTTPServer, mastodon: FakeXApi, bluesky: FakeXApi
) -> None:
    serve_page(page)
    mastodon.add("POST", STATUSES, Reply.json({"id": "5001"}))
    blob = {"$type": "blob", "ref": {"$link": "bafkreicard"}, "mimeType": "image/png", "size": 70}
    bluesky.add("POST", BLOB, Reply.json({"blob": blob}))
    made = {"uri": "at://did:plc:bot/app.bsky.feed.post/ann1", "cid": "bafyx"}
    bluesky.add("POST", RECORD, Reply.json(made))
    app = make_app(tmp_path, page, mastodon, bluesky)
    try:
        draft = make_draft(app)
        assert any("suggested" in (i.url or "") for i in draft.shown_items)
        done = approve(app, draft.id, by="Ann Editor", now=NOW)
        by_channel = {r.channel: r for r in done.announcements}
        assert by_channel["mastodon"].ok
        assert by_channel["mastodon"].post_id == "5001"
        assert by_channel["bluesky"].post_id == "at://did:plc:bot/app.bsky.feed.post/ann1"

        [status] = mastodon.calls(STATUSES)
        form = dict(_form(status.body))
        url = page.url_for(f"/roundups/{WEEK}.html")
        assert url in form["status"]
        assert "Thanks to @ann@town.social for the tips!" in form["status"]
        assert status.headers["idempotency-key"] == f"roundup-bot-announce-welovelocalgov-{WEEK}"

        record = json.loads(bluesky.calls(RECORD)[0].body)["record"]
        external = record["embed"]["external"]
        assert external["uri"] == url
        assert external["title"] == "That was the week"
        assert external["description"] == "Our favourite posts."
        assert external["thumb"]["ref"]["$link"] == "bafkreicard"
        assert bluesky.calls(BLOB)[0].body == PNG
        mentions = [f for f in record["facets"] if "mention" in f["features"][0]["$type"]]
        assert mentions[0]["features"][0]["did"] == ANN_DID
        text = record["text"].encode()
        start, end = mentions[0]["index"]["byteStart"], mentions[0]["index"]["byteEnd"]
        assert text[start:end] == b"@ann.bsky.social"

        again = publish(app, draft.id, now=NOW, retry=True)
        assert all(r.skipped for r in again.announcements)
        assert len(mastodon.calls(STATUSES)) == 1
        assert len(bluesky.calls(RECORD)) == 1
    finally:
        app.close()


def test_a_failed_announcement_is_recorded_and_posted_by_the_next_publish(
    tmp_path: Path, page: HTTPServer, mastodon: FakeXApi, bluesky: FakeXApi
) -> None:
    serve_page(page)
    mastodon.add("POST", STATUSES, Reply.json({"error": "down"}, 503), Reply.json({"id": "6"}))
    blob = {"$type": "blob", "ref": {"$link": "b"}, "mimeType": "image/png", "size": 70}
    bluesky.add("POST", BLOB, Reply.json({"blob": blob}))
    bluesky.add("POST", RECORD, Reply.json({"uri": "at://did:plc:bot/app.bsky.feed.post/1",
                                            "cid": "c"}))  # fmt: skip
    app = make_app(tmp_path, page, mastodon, bluesky)
    try:
        draft = make_draft(app)
        first = approve(app, draft.id, by="Ann Editor", now=NOW)
        failed = {r.channel: r for r in first.announcements}
        assert not failed["mastodon"].ok
        assert "503" in (failed["mastodon"].error or "")
        assert failed["bluesky"].ok  # one channel failing never stops the others
        rows = {a.channel: a for a in app.storage.announcements.for_draft(draft.id)}
        assert rows["mastodon"].state == "failed"
        again = publish(app, draft.id, now=NOW, retry=True)
        by_channel = {r.channel: r for r in again.announcements}
        assert by_channel["mastodon"].post_id == "6"
        assert by_channel["bluesky"].skipped
        assert len(mastodon.calls(STATUSES)) == 2  # the failed one, then the retry
        assert len(bluesky.calls(RECORD)) == 1
    finally:
        app.close()


def test_a_claimed_announcement_is_never_posted_again(
    tmp_path: Path, page: HTTPServer, mastodon: FakeXApi, bluesky: FakeXApi
) -> None:
    """A run killed after claiming (it may have posted) leaves the row "sending":
    later publishes leave it alone rather than risk a second post."""
    serve_page(page)
    app = make_app(tmp_path, page, mastodon, bluesky, bluesky_announces=False)
    try:
        draft = make_draft(app)
        app.storage.announcements.owe(draft.id, ["mastodon"], NOW)
        assert app.storage.announcements.claim(draft.id, "mastodon", NOW)
        done = approve(app, draft.id, by="Ann Editor", now=NOW)
        assert [(r.channel, r.skipped) for r in done.announcements] == [("mastodon", True)]
        assert mastodon.calls(STATUSES) == []
        assert app.storage.announcements.claim(draft.id, "mastodon", NOW) is False
    finally:
        app.close()


def test_an_announcement_whose_answer_is_lost_is_never_posted_again(
    tmp_path: Path, page: HTTPServer, mastodon: FakeXApi, bluesky: FakeXApi
) -> None:
    """The Bluesky post went out but its answer came after the deadline: the row
    stays "sending" (the post may be there), and the next publish leaves it alone."""
    serve_page(page)
    mastodon.add("POST", STATUSES, Reply.json({"id": "6"}))
    blob = {"$type": "blob", "ref": {"$link": "b"}, "mimeType": "image/png", "size": 70}
    bluesky.add("POST", BLOB, Reply.json({"blob": blob}))
    made = Reply.json({"uri": "at://did:plc:bot/app.bsky.feed.post/1", "cid": "c"})
    bluesky.add("POST", RECORD, Reply(200, made.body, made.headers, hang=3.0), made)
    app = make_app(tmp_path, page, mastodon, bluesky, bluesky_timeout=1.0)
    try:
        draft = make_draft(app)
        first = {
            r.channel: r for r in approve(app, draft.id, by="Ann Editor", now=NOW).announcements
        }
        assert not first["bluesky"].ok
        assert "may have been posted" in (first["bluesky"].error or "")
        rows = {a.channel: a for a in app.storage.announcements.for_draft(draft.id)}
        assert rows["bluesky"].state == "sending"
        again = {r.channel: r for r in publish(app, draft.id, now=NOW, retry=True).announcements}
        assert again["bluesky"].skipped
        assert len(bluesky.calls(RECORD)) == 1
    finally:
        app.close()


def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())
