"""The Bluesky channel through the real atproto SDK, against a local fake XRPC server.

The recorded listNotifications answer of the shared corpus (bskyr's vcr
cassette of bsky.social) is served as recorded (gzip, rate-limit headers);
faults are played by the fake: 429 with a reset, 5xx, timeouts, malformed
JSON, an expired session. Whole runs go through the mentions use case into
SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.fake_x_api import FakeXApi, Recorded, Reply, Sleeps
from sqlalchemy import select

from roundup_bot.adapters.bluesky import (
    SESSION,
    BlueskyChannel,
    BlueskyCredentials,
    BlueskyOptions,
)
from roundup_bot.core.bluesky_posts import parse_notifications
from roundup_bot.core.channels import ReadPlace, ReplyTarget
from roundup_bot.core.errors import (
    ChannelBadResponse,
    ChannelLimited,
    ChannelUnavailable,
)
from roundup_bot.core.suggestion_rules import AbuseRules
from roundup_bot.services.mentions import SINCE_ID, MentionsReport, read_channel
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import suggestions

PASSWORD = "app-pass-wd12-3456"
HANDLE = "welovelocalgov.bsky.social"
BOT_DID = "did:plc:botbotbotbotbotbotbotbotb"
LIST = r"/xrpc/app\.bsky\.notification\.listNotifications"
CREATE = r"/xrpc/com\.atproto\.server\.createSession"
REFRESH = r"/xrpc/com\.atproto\.server\.refreshSession"
RECORD = r"/xrpc/com\.atproto\.repo\.createRecord"
NOW = datetime.now(UTC).replace(microsecond=0)


def jwt(expires_in: float, kind: str = "access") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"scope": "com.atproto.appPass", "sub": BOT_DID, "iat": now,
              "exp": int(now + expires_in), "jti": f"{kind}-{now}-{expires_in}"}  # fmt: skip
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2lnbmF0dXJl"


def session_answer(access_in: float = 7200) -> Reply:
    return Reply.json(
        {
            "did": BOT_DID,
            "handle": HANDLE,
            "accessJwt": jwt(access_in),
            "refreshJwt": jwt(90 * 86400, "refresh"),
            "active": True,
        }
    )


OPENED: list[BlueskyChannel] = []


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    server = FakeXApi()
    try:
        yield server
    finally:
        while OPENED:
            OPENED.pop().close()
        server.close()


def channel(fake: FakeXApi, sleeps: Sleeps | None = None, **options: Any) -> BlueskyChannel:
    made = BlueskyChannel(
        BlueskyCredentials(PASSWORD),
        BlueskyOptions(
            handle=HANDLE,
            service=fake.base_url,
            **{"timeout": 2.0, "retries": 1, "retry_backoff": 0.01, **options},
        ),
        sleep=sleeps or Sleeps(),
    )
    OPENED.append(made)
    return made


def post(
    rkey: str,
    handle: str,
    text: str,
    *,
    links: tuple[str, ...] = (),
    card: dict[str, str] | None = None,
    reason: str = "mention",
    minutes: int = 10,
    did: str | None = None,
) -> dict[str, Any]:
    author = did or f"did:plc:{handle.split('.')[0]:a<24}"
    indexed = (NOW - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    facets = []
    for link in links:
        start = text.encode().find(link[:10].encode())
        facets.append(
            {
                "index": {"byteStart": max(start, 0), "byteEnd": max(start, 0) + 10},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
            }
        )
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": indexed,
        "facets": facets,
    }
    if card:
        record["embed"] = {"$type": "app.bsky.embed.external", "external": card}
    return {
        "uri": f"at://{author}/app.bsky.feed.post/{rkey}",
        "cid": f"bafy{rkey}",
        "author": {"did": author, "handle": handle},
        "reason": reason,
        "record": record,
        "isRead": False,
        "indexedAt": indexed,
    }


def page(*notes: dict[str, Any], cursor: str | None = None, **headers: str) -> Reply:
    body: dict[str, Any] = {"notifications": list(notes)}
    if cursor:
        body["cursor"] = cursor
    return Reply.json(body, headers=headers or None)


def cassette(path: Path) -> Reply:
    """bskyr's R vcr cassette: served with its recorded headers, the body gzip-encoded
    as its Content-Encoding header says (the cassette keeps it decoded)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    response = data["http_interactions"][0]["response"]
    headers = {k.lower(): str(v) for k, v in response["headers"].items()}
    body = response["body"]["string"].encode("utf-8")
    if headers.get("content-encoding") == "gzip":
        body = gzip.compress(body)
    kept = tuple((k, v) for k, v in headers.items() if k not in ("transfer-encoding", "date"))
    return Reply(int(response["status"]), body, kept)


# -- the pure part ----------------------------------------------------------------------


def test_links_come_from_facets_and_cards_never_from_the_shortened_text(corpus: Path) -> None:
    data = yaml.safe_load((corpus / "bluesky/bskyr-vcr/n_notifications.yml").read_text())
    answer = json.loads(data["http_interactions"][0]["response"]["body"]["string"])
    reading = parse_notifications(answer)
    first = next(s for s in reading.suggestions if "ridiculously easy" in (s.text or ""))
    assert (first.text or "").rstrip().endswith("christophertkenny.com/bskyr/index....")
    assert first.link == "https://christophertkenny.com/bskyr/index.html"  # the facet, in full
    assert first.author_username == "josephjefe.bsky.social"
    assert first.author_id == "did:plc:lprqqpoyjspuma25n5gofocf"
    assert first.post_url.startswith("https://bsky.app/profile/josephjefe.bsky.social/post/")
    ref = json.loads(first.reply_ref or "{}")
    assert ref["cid"].startswith("bafyrei")
    assert ref["root_uri"].endswith("/3lmiagxqgas2s")  # a reply: the thread's root is kept
    assert all(s.link.startswith("https://") for s in reading.suggestions)
    tags = {s.canonical_url for s in reading.suggestions}
    assert not any("rstats" in url for url in tags)  # hashtag facets are not links


def test_an_external_embed_gives_its_link_with_title(corpus: Path) -> None:
    data = yaml.safe_load((corpus / "bluesky/bskyr-vcr/f_search.yml").read_text())
    answer = json.loads(data["http_interactions"][0]["response"]["body"]["string"])
    notes = [
        {**p, "reason": "mention", "uri": p["uri"], "cid": p["cid"]}
        for p in answer["posts"]
        if (p["record"].get("embed") or {}).get("$type") == "app.bsky.embed.external"
    ]
    assert notes, "the corpus has posts with link cards"
    reading = parse_notifications({"notifications": notes})
    card = notes[0]["record"]["embed"]["external"]
    found = next(s for s in reading.suggestions if s.link == card["uri"])
    assert found.link_title == card["title"][:300].strip() or found.link_title


# -- recorded answers through the real SDK --------------------------------------------


def test_the_recorded_notifications_answer_is_read_through_the_sdk(
    fake: FakeXApi, corpus: Path
) -> None:
    fake.add("POST", CREATE, session_answer())
    fake.add("GET", LIST, cassette(corpus / "bluesky/bskyr-vcr/n_notifications.yml"))
    reading = channel(fake)
    state = reading.start({})
    assert state["user_id"] == BOT_DID
    result = reading.read_page(ReadPlace(floor_time=datetime(2024, 1, 1, tzinfo=UTC)), 50)
    assert result.mentions == 11
    assert {s.link for s in result.suggestions} >= {
        "https://christophertkenny.com/bskyr/index.html",
        "https://christophertkenny.com/bskyr/",
        "https://posit.cloud",
    }
    assert result.next_cursor == "2024-12-19T06:43:45.863Z"
    [request] = fake.calls(LIST)
    assert request.query["limit"] == "50"
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.query["reasons"] in ("mention", "reply")  # the reasons asked for


def test_a_whole_run_stores_credits_and_moves_the_floor(fake: FakeXApi, storage: Storage) -> None:
    fake.add("POST", CREATE, session_answer())
    notes = [
        post("3a", "ann.bsky.social", "look https://blog.example…",
             links=("https://blog.example.gov.uk/a?utm_source=bsky",), minutes=5),
        post("3b", "bob.example.org", "reply with a card", reason="reply",
             card={"uri": "https://news.example.org/b", "title": "B", "description": "About"},
             minutes=6),
        post("3c", HANDLE, "our own https://ours.example/", did=BOT_DID,
             links=("https://ours.example/",), minutes=7),
    ]  # fmt: skip
    fake.add("GET", LIST, page(*notes, cursor="c1"), page(cursor=None))
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "completed", report.error
    assert report.accepted == 2
    assert storage.state.get("bluesky", SINCE_ID) == (NOW - timedelta(minutes=5)).isoformat()
    assert storage.state.get("bluesky", SESSION)  # kept for the next run
    with storage.engine.connect() as conn:
        rows = sorted(
            conn.execute(select(suggestions.c.author_username, suggestions.c.link_title)).all()
        )
    assert rows == [("ann.bsky.social", None), ("bob.example.org", "B")]
    candidates = {c.url: c.suggested_by for c in storage.candidates.list()}
    assert candidates["https://blog.example.gov.uk/a"] == ("@ann.bsky.social",)


def test_the_session_is_kept_and_reused_never_a_new_login_each_run(
    fake: FakeXApi, storage: Storage
) -> None:
    fake.add("POST", CREATE, session_answer())
    fake.add("GET", LIST, page(), repeat=True)
    for _ in range(3):
        report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
        assert report.outcome == "completed", report.error
    assert len(fake.calls(CREATE)) == 1


def test_an_expiring_session_is_refreshed_and_the_new_one_stored(
    fake: FakeXApi, storage: Storage
) -> None:
    created = session_answer(access_in=60)  # within the SDK's 15-minute margin: refresh
    refreshed = session_answer(access_in=7200)
    fake.add("POST", CREATE, created)
    fake.add("POST", REFRESH, refreshed)
    fake.add("GET", LIST, page(), repeat=True)
    read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert len(fake.calls(REFRESH)) == 1
    kept = storage.state.get("bluesky", SESSION) or ""
    assert json.loads(refreshed.body)["accessJwt"] in kept
    assert json.loads(created.body)["accessJwt"] not in kept
    assert (
        fake.calls(REFRESH)[0]
        .headers["authorization"]
        .endswith(json.loads(created.body)["refreshJwt"])
    )
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "completed", report.error
    assert (len(fake.calls(CREATE)), len(fake.calls(REFRESH))) == (1, 1)


def test_a_session_the_server_expired_leads_to_one_new_login(
    fake: FakeXApi, storage: Storage
) -> None:
    fake.add("POST", CREATE, session_answer(), session_answer())
    fake.add("GET", LIST, page())
    read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    expired = Reply.json({"error": "ExpiredToken", "message": "Token has expired"}, 400)
    fake.add("GET", LIST, expired, page())
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "completed", report.error
    assert len(fake.calls(CREATE)) == 2


def test_a_refused_app_password_is_one_line(fake: FakeXApi, storage: Storage) -> None:
    refused = Reply.json(
        {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401
    )
    fake.add("POST", CREATE, refused)
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "failed"
    assert "ROUNDUP_BLUESKY_APP_PASSWORD" in (report.error or "")
    assert len(fake.calls(CREATE)) == 1


# -- faults -----------------------------------------------------------------------------


def ready(fake: FakeXApi) -> BlueskyChannel:
    fake.add("POST", CREATE, session_answer())
    return channel(fake)


def test_a_near_rate_limit_is_waited_out_and_a_far_one_stops(fake: FakeXApi) -> None:
    soon = str(int(time.time()) + 20)
    fake.add(
        "GET", LIST, Reply.json({"error": "RateLimitExceeded"}, 429, {"ratelimit-reset": soon})
    )
    fake.add("GET", LIST, page())
    sleeps = Sleeps()
    reading = ready(fake)
    reading._sleep = sleeps
    reading.start({})
    reading.read_page(ReadPlace(floor_time=NOW), 50)
    assert len(sleeps.calls) == 1
    assert 10 < sleeps.calls[0] <= 22
    later = str(int(time.time()) + 3600)
    fake.add(
        "GET", LIST, Reply.json({"error": "RateLimitExceeded"}, 429, {"ratelimit-reset": later})
    )
    with pytest.raises(ChannelLimited) as stopped:
        reading.read_page(ReadPlace(floor_time=NOW), 50)
    assert stopped.value.resume_at is not None


def test_no_requests_left_waits_before_the_next_call(fake: FakeXApi) -> None:
    reset = str(int(time.time()) + 15)
    fake.add("GET", LIST, page(**{"ratelimit-remaining": "0", "ratelimit-reset": reset}), page())
    sleeps = Sleeps()
    reading = ready(fake)
    reading._sleep = sleeps
    reading.start({})
    reading.read_page(ReadPlace(floor_time=NOW), 50)
    reading.read_page(ReadPlace(floor_time=NOW), 50)
    assert len(sleeps.calls) == 1


def test_server_errors_are_retried_then_reported(fake: FakeXApi) -> None:
    reading = ready(fake)
    reading.start({})
    fake.add("GET", LIST, Reply.json({"error": "InternalServerError"}, 500), page())
    reading.read_page(ReadPlace(floor_time=NOW), 50)
    fake.add("GET", LIST, Reply.json({"error": "UpstreamFailure"}, 502), repeat=True)
    with pytest.raises(ChannelUnavailable, match="gave up after 2 tries"):
        reading.read_page(ReadPlace(floor_time=NOW), 50)


def test_a_hanging_server_times_out(fake: FakeXApi) -> None:
    fake.add("POST", CREATE, session_answer())
    reading = channel(fake, timeout=0.5)
    reading.start({})
    fake.add("GET", LIST, Reply.hanging(30), repeat=True)
    with pytest.raises(ChannelUnavailable, match=r"no answer within 0\.5 s"):
        reading.read_page(ReadPlace(floor_time=NOW), 50)


def test_a_gzip_bomb_stops_at_the_size_limit(fake: FakeXApi) -> None:
    fake.add("POST", CREATE, session_answer())
    reading = channel(fake, max_answer_bytes=64 * 1024)
    reading.start({})
    bomb = gzip.compress(b'{"notifications": [' + b" " * (4 * 1024 * 1024) + b"]}")
    fake.add("GET", LIST, Reply(200, bomb, (("content-type", "application/json"),
                                            ("content-encoding", "gzip"))))  # fmt: skip
    with pytest.raises(ChannelBadResponse, match="too large"):
        reading.read_page(ReadPlace(floor_time=NOW), 50)


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b'{"notifications": "nope"}', b'{"notif', b"[]"]
)
def test_a_malformed_answer_is_reported(fake: FakeXApi, body: bytes) -> None:
    reading = ready(fake)
    reading.start({})
    fake.add("GET", LIST, Reply.raw(body))
    with pytest.raises(ChannelBadResponse):
        reading.read_page(ReadPlace(floor_time=NOW), 50)


# -- replies ------------------------------------------------------------------------------


def test_a_reply_goes_into_the_suggesters_thread_once(fake: FakeXApi) -> None:
    made: list[Recorded] = []

    def answer(request: Recorded) -> Reply:
        made.append(request)
        return Reply.json({"uri": "at://did:plc:bot/app.bsky.feed.post/reply1", "cid": "bafyr"})

    reading = ready(fake)
    reading.start({})
    fake.add("POST", RECORD, answer)
    root = "at://did:plc:annannannannannannannanna/app.bsky.feed.post/root1"
    ref = json.dumps({"cid": "bafy3a", "root_uri": root, "root_cid": "bafyroot"})
    target = ReplyTarget(
        "at://did:plc:annannannannannannannanna/app.bsky.feed.post/3a",
        "https://bsky.app/profile/ann.bsky.social/post/3a",
        "ann.bsky.social",
        "did:plc:annannannannannannannanna",
        ref,
    )
    uri = reading.reply(target, "Thanks for the tip! See https://roundup.example.org/")
    assert uri.endswith("/reply1")
    record = json.loads(made[0].body)["record"]
    parent, first = record["reply"]["parent"], record["reply"]["root"]
    assert (parent["uri"], parent["cid"]) == (target.post_id, "bafy3a")
    assert (first["uri"], first["cid"]) == (root, "bafyroot")
    [facet] = record["facets"]  # the link in the text is clickable
    assert facet["features"][0]["uri"] == "https://roundup.example.org/"
    fake.add("POST", RECORD, Reply.json({"error": "InternalServerError"}, 500))
    with pytest.raises(ChannelUnavailable, match="1 try"):
        reading.reply(target, "again")
    assert len(fake.calls(RECORD)) == 2  # a failed post is never retried


def _thanks_run(fake: FakeXApi, storage: Storage) -> MentionsReport:
    return read_channel(
        storage,
        channel(fake),
        AbuseRules.build(),
        clock=lambda: NOW,
        thanks_text=lambda *_a: "Thanks for the tip!",
    )


def _one_suggestion(fake: FakeXApi) -> None:
    fake.add("POST", CREATE, session_answer())
    note = post("3a", "ann.bsky.social", "look https://blog.example…",
                links=("https://blog.example.gov.uk/a",), minutes=5)  # fmt: skip
    fake.add("GET", LIST, page(note, cursor=None), page(cursor=None), page(cursor=None))


def test_a_thank_you_whose_answer_is_lost_is_never_posted_again(
    fake: FakeXApi, storage: Storage
) -> None:
    """The reply went out and was made, but its answer came after the deadline:
    the claim is kept (Bluesky has no idempotency key), so the next run posts no
    second thank-you; the run says the reply may be there."""
    _one_suggestion(fake)
    made = Reply.json({"uri": "at://did:plc:bot/app.bsky.feed.post/r1", "cid": "bafyr"})
    fake.add("POST", RECORD, Reply(200, made.body, made.headers, hang=3.0), made)
    first = _thanks_run(fake, storage)
    second = _thanks_run(fake, storage)
    assert len(fake.calls(RECORD)) == 1
    assert (first.thanked, second.thanked) == (0, 0)
    [error] = first.thank_errors
    assert "@ann.bsky.social" in error
    assert "may have been posted" in error
    assert not second.thank_errors


def test_a_thank_you_refused_with_an_http_error_is_sent_by_the_next_run(
    fake: FakeXApi, storage: Storage
) -> None:
    """An HTTP error answer means nothing was posted: the claim is released."""
    _one_suggestion(fake)
    made = Reply.json({"uri": "at://did:plc:bot/app.bsky.feed.post/r1", "cid": "bafyr"})
    fake.add("POST", RECORD, Reply.json({"error": "InternalServerError"}, 500), made)
    first = _thanks_run(fake, storage)
    second = _thanks_run(fake, storage)
    assert len(fake.calls(RECORD)) == 2
    assert (first.thanked, second.thanked) == (0, 1)
    assert "may have been posted" not in first.thank_errors[0]


def test_the_password_and_tokens_never_reach_the_logs(
    fake: FakeXApi, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    answer = session_answer()
    tokens = json.loads(answer.body)
    fake.add("POST", CREATE, answer)
    fake.add("GET", LIST, Reply.json({"error": "InvalidRequest", "message": "bad"}, 400))
    with caplog.at_level(logging.DEBUG):
        report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "failed"
    shown = caplog.text + (report.error or "") + repr(BlueskyCredentials(PASSWORD))
    for secret in (PASSWORD, tokens["accessJwt"], tokens["refreshJwt"]):
        assert secret not in shown
    assert json.loads(fake.calls(CREATE)[0].body)["password"] == PASSWORD  # it was used


def test_session_tokens_are_hidden_in_any_log_line() -> None:
    from roundup_bot.core.redaction import redact

    token = jwt(60)
    line = f"INSERT INTO source_state ... ('bluesky', 'session', 'h:::did:::{token}:::x')"
    assert token not in redact(line)
    assert "***" in redact(line)
