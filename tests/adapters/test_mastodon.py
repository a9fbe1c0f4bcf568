"""The Mastodon channel through the real Mastodon.py, against a local fake server.

Recorded answers from the shared corpus (Mastodon.py's own cassettes) are
served byte for byte; faults (429 with reset headers, 5xx, timeouts,
malformed JSON, a server older than 4.3) are played by the fake. Whole runs go
through the mentions use case into SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_x_api import FakeXApi, Recorded, Reply, Sleeps, load_cassette
from sqlalchemy import select

from roundup_bot.adapters.mastodon import MastodonChannel, MastodonCredentials, MastodonOptions
from roundup_bot.core.channels import ReadPlace, ReplyTarget
from roundup_bot.core.errors import (
    ChannelAuthError,
    ChannelBadResponse,
    ChannelUnavailable,
)
from roundup_bot.core.mastodon_posts import parse_notifications, status_links
from roundup_bot.core.suggestion_rules import AbuseRules
from roundup_bot.services.mentions import SINCE_ID, read_channel
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import suggestions

TOKEN = "mastodon-token-5ecret-abcdef"
NOTES = r"/api/v1/notifications"
ME = r"/api/v1/accounts/verify_credentials"
POLICY = r"/api/v2/notifications/policy"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BOT = {"id": "900", "username": "welovelocalgov", "acct": "welovelocalgov",
       "url": "https://council.social/@welovelocalgov"}  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    server = FakeXApi()
    try:
        yield server
    finally:
        server.close()


def channel(fake: FakeXApi, sleeps: Sleeps | None = None, **options: Any) -> MastodonChannel:
    return MastodonChannel(
        MastodonCredentials(TOKEN),
        MastodonOptions(
            api_base_url=fake.base_url,
            **{"timeout": 2.0, "retries": 1, "retry_backoff": 0.01, **options},
        ),
        sleep=sleeps or Sleeps(),
    )


def account(handle: str, number: int) -> dict[str, Any]:
    user, _, server = handle.partition("@")
    return {
        "id": str(number),
        "username": user,
        "acct": handle,
        "url": f"https://{server or 'council.social'}/@{user}",
    }


def status(number: int, who: dict[str, Any], html: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(number),
        "created_at": (NOW - timedelta(minutes=number % 60)).isoformat().replace("+00:00", "Z"),
        "url": f"https://council.social/@x/{number}",
        "uri": f"https://council.social/users/x/statuses/{number}",
        "visibility": "public",
        "content": html,
        "account": who,
        "mentions": [],
        "tags": [],
        "card": None,
        **extra,
    }


def mention(note_id: int, post: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(note_id),
        "type": "mention",
        "created_at": post["created_at"],
        "account": post["account"],
        "status": post,
    }


ANN = account("ann@town.social", 11)
BOB = account("bob", 12)  # an account on the bot's own server
LINK = '<a href="{0}" rel="nofollow noopener" target="_blank">{0}</a>'


def page(*notes: dict[str, Any]) -> Reply:
    return Reply.json(list(notes), headers={"x-ratelimit-remaining": "299"})


def ready(fake: FakeXApi, *, policy: Reply | None = None) -> None:
    fake.add("GET", ME, Reply.json(BOT))
    fake.add("GET", POLICY, policy or Reply.json({"for_not_following": "filter"}), repeat=True)


# -- the pure part ----------------------------------------------------------------------


def test_mentions_and_hashtags_are_not_links_but_the_card_is(corpus: Path) -> None:
    folder = corpus / "mastodon" / "mastodonpy-cassettes"
    [reply] = [
        i.json()
        for i in load_cassette(folder / "cassettes_entity_tests/test_entity_statusmention.yaml")
    ]
    assert status_links(reply["content"]) == []  # one mention, one hashtag, no article
    with_card = next(
        i.json()
        for i in load_cassette(folder / "cassettes/test_status_card.yaml")
        if i.method == "GET"
    )
    reading = parse_notifications(
        [mention(77, with_card)], local_domain="localhost", own_account_id="1"
    )
    [found] = reading.suggestions
    assert found.link == "http://example.org/"
    assert found.link_title == "Example Domain"
    assert found.author_username == "mastodonpy_test@localhost"  # a local account: + server
    assert json.loads(found.reply_ref or "{}") == {
        "acct": "mastodonpy_test@localhost",
        "visibility": "unlisted",  # as the recorded status was posted
    }


# -- recorded answers through the real client -----------------------------------------


def test_the_recorded_notifications_page_is_read_through_mastodon_py(
    fake: FakeXApi, corpus: Path
) -> None:
    folder = corpus / "mastodon" / "mastodonpy-cassettes" / "cassettes_entity_tests"
    [recorded] = load_cassette(folder / "test_entity_notification.yaml")
    ready(fake, policy=Reply.json({"error": "Not found"}, 404))  # as a server before 4.3
    fake.add("GET", NOTES, recorded.reply)
    reading = channel(fake)
    reading.start({})
    result = reading.read_page(ReadPlace(floor_id="500000000"), 100)
    # 40 mentions: 39 of deleted statuses, one direct ping of three accounts with no link
    assert result.mentions == 40
    assert result.suggestions == ()
    assert len(result.skipped) == 39
    assert result.newest_id == recorded.json()[0]["id"]
    assert result.next_cursor == recorded.json()[-1]["id"]  # a full page: there may be more
    [request] = fake.calls(NOTES)
    assert request.query["types[]"] == "mention"
    assert request.query["since_id"] == "500000000"
    assert request.query["include_filtered"] == "true"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_whole_run_stores_credited_suggestions_and_moves_since_id(
    fake: FakeXApi, storage: Storage
) -> None:
    ready(fake)
    first = status(
        301,
        ANN,
        "<p>"
        '<span class="h-card"><a href="https://council.social/@welovelocalgov" '
        'class="u-url mention">@<span>welovelocalgov</span></a></span> look '
        + LINK.format("https://blog.example.gov.uk/a?utm_source=mastodon")
        + ' <a href="https://town.social/tags/localgov" class="mention hashtag">#localgov</a>'
        "</p>",
    )
    second = status(302, BOB, "<p>and " + LINK.format("https://news.example.org/b") + "</p>")
    own = status(303, BOT, "<p>" + LINK.format("https://ours.example/c") + "</p>")
    fake.add("GET", NOTES, page(mention(52, own), mention(51, second), mention(50, first)))
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "completed"
    assert report.accepted == 2
    assert storage.state.get("mastodon", SINCE_ID) == "52"
    assert storage.state.get("mastodon", "account") == "@welovelocalgov@council.social"
    with storage.engine.connect() as conn:
        rows = sorted(
            conn.execute(select(suggestions.c.author_username, suggestions.c.canonical_url)).all()
        )
    assert rows == [
        ("ann@town.social", "https://blog.example.gov.uk/a"),
        ("bob@council.social", "https://news.example.org/b"),
    ]
    candidates = {c.url: c.suggested_by for c in storage.candidates.list()}
    assert candidates["https://blog.example.gov.uk/a"] == ("@ann@town.social",)

    fake.add("GET", NOTES, page())
    again = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert again.outcome == "completed"
    assert fake.calls(NOTES)[-1].query["since_id"] == "52"
    assert len(fake.calls(ME)) == 1  # the account is looked up once and kept


def test_a_full_page_is_followed_by_the_next_with_max_id(fake: FakeXApi, storage: Storage) -> None:
    ready(fake)
    posts = [
        mention(100 - n, status(400 + n, ANN, LINK.format(f"https://a.example/{n}")))
        for n in range(3)
    ]
    fake.add("GET", NOTES, page(*posts[:2]), page(posts[2]))
    reading = channel(fake)
    reading.start({})
    first = reading.read_page(ReadPlace(floor_id="10"), 2)
    assert first.next_cursor == "99"
    second = reading.read_page(ReadPlace(floor_id="10", cursor="99"), 2)
    assert second.next_cursor is None  # a short page: the sweep is done
    assert fake.calls(NOTES)[-1].query["max_id"] == "99"


# -- faults -----------------------------------------------------------------------------


def reset_in(seconds: float) -> dict[str, str]:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        "x-ratelimit-limit": "300",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": when.isoformat().replace("+00:00", "Z"),
        "date": format_datetime(datetime.now(UTC), usegmt=True),
    }


def test_a_near_rate_limit_reset_is_waited_out(fake: FakeXApi) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.json({"error": "Too many requests"}, 429, reset_in(20)), page())
    sleeps = Sleeps()
    reading = channel(fake, sleeps)
    reading.start({})
    reading.read_page(ReadPlace(floor_id="1"), 40)
    assert len(sleeps.calls) == 1
    assert 10 < sleeps.calls[0] <= 22
    assert len(fake.calls(NOTES)) == 2


def test_a_far_rate_limit_stops_and_says_when(fake: FakeXApi, storage: Storage) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.json({"error": "Too many requests"}, 429, reset_in(3600)))
    sleeps = Sleeps()
    report = read_channel(storage, channel(fake, sleeps), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "rate_limited"
    assert report.resume_at is not None
    assert report.resume_at > datetime.now(UTC) + timedelta(minutes=50)
    assert sleeps.calls == []


def test_no_requests_left_waits_before_the_next_call(fake: FakeXApi) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.json([], headers=reset_in(15)), page())
    sleeps = Sleeps()
    reading = channel(fake, sleeps)
    reading.start({})
    reading.read_page(ReadPlace(floor_id="1"), 40)
    assert sleeps.calls == []
    reading.read_page(ReadPlace(floor_id="1"), 40)
    assert len(sleeps.calls) == 1  # X-RateLimit-Remaining: 0 was honoured before asking again


def test_server_errors_are_retried_then_reported(fake: FakeXApi) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.json({"error": "oops"}, 502), page())
    reading = channel(fake)
    reading.start({})
    reading.read_page(ReadPlace(floor_id="1"), 40)
    fake.add("GET", NOTES, Reply.json({"error": "down"}, 503), repeat=True)
    with pytest.raises(ChannelUnavailable, match="gave up after 2 tries"):
        reading.read_page(ReadPlace(floor_id="1"), 40)


def test_a_hanging_server_times_out(fake: FakeXApi) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.hanging(30), repeat=True)
    reading = channel(fake, timeout=0.5)
    reading.start({})
    with pytest.raises(ChannelUnavailable, match=r"no answer within 0\.5 s"):
        reading.read_page(ReadPlace(floor_id="1"), 40)


def test_a_dripping_answer_is_cut_at_the_deadline(fake: FakeXApi) -> None:
    ready(fake)
    body = json.dumps([mention(1, status(1, ANN, "x"))]).encode()
    fake.add("GET", NOTES, Reply(200, body, (("content-type", "application/json"),), drip=0.05))
    reading = channel(fake, timeout=0.5, retries=0)
    reading.start({})
    with pytest.raises(ChannelUnavailable):
        reading.read_page(ReadPlace(floor_id="1"), 40)


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b'{"not": "a list"}', b"[1, 2", b'"text"']
)
def test_a_malformed_answer_is_reported(fake: FakeXApi, body: bytes) -> None:
    ready(fake)
    fake.add("GET", NOTES, Reply.raw(body))
    reading = channel(fake)
    reading.start({})
    with pytest.raises(ChannelBadResponse):
        reading.read_page(ReadPlace(floor_id="1"), 40)


def test_a_refused_token_is_one_line_naming_the_variable(fake: FakeXApi) -> None:
    fake.add("GET", ME, Reply.json({"error": "The access token is invalid"}, 401))
    with pytest.raises(ChannelAuthError, match="ROUNDUP_MASTODON_ACCESS_TOKEN"):
        channel(fake).start({})


def test_a_server_older_than_4_3_is_read_without_notification_requests(
    fake: FakeXApi, storage: Storage
) -> None:
    ready(fake, policy=Reply.raw(b"<h1>Not Found</h1>", 404, "text/html"))
    fake.add("GET", NOTES, page(mention(5, status(5, ANN, LINK.format("https://a.example/x")))))
    report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "completed"
    assert report.accepted == 1


def test_a_policy_that_drops_mentions_is_warned_about(
    fake: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    ready(fake, policy=Reply.json({"for_not_following": "drop", "for_new_accounts": "accept"}))
    with caplog.at_level(logging.WARNING):
        channel(fake).start({})
    assert "drops mentions (for_not_following)" in caplog.text


# -- replies ------------------------------------------------------------------------------


def test_a_reply_names_the_author_and_keeps_a_private_mention_private(fake: FakeXApi) -> None:
    posted: list[Recorded] = []

    def answer(request: Recorded) -> Reply:
        posted.append(request)
        return Reply.json({"id": "777"})

    fake.add("POST", r"/api/v1/statuses", answer, repeat=True)
    reading = channel(fake)
    ref = json.dumps({"acct": "ann@town.social", "visibility": "direct"})
    target = ReplyTarget("301", "https://town.social/@ann/1", "ann@town.social", "11", ref)
    assert reading.reply(target, "Thanks for the suggestion!") == "777"
    public = ReplyTarget("302", "u", "bob@council.social", "12", None)
    reading.reply(public, "Thanks @bob@council.social!")
    first, second = (dict(_form(r.body)) for r in posted)
    assert first["status"] == "@ann@town.social Thanks for the suggestion!"
    assert first["visibility"] == "direct"
    assert first["in_reply_to_id"] == "301"
    assert posted[0].headers["idempotency-key"] == "roundup-bot-thanks-301"
    assert second["status"] == "Thanks @bob@council.social!"  # already named: not twice
    assert second["visibility"] == "unlisted"


def test_a_failed_reply_is_not_retried(fake: FakeXApi) -> None:
    fake.add("POST", r"/api/v1/statuses", Reply.json({"error": "down"}, 503), repeat=True)
    with pytest.raises(ChannelUnavailable, match="1 try"):
        channel(fake).reply(ReplyTarget("1", "u", "ann@town.social", "11", None), "Thanks")
    assert len(fake.calls(r"/api/v1/statuses")) == 1


def test_the_token_never_reaches_the_logs(
    fake: FakeXApi, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add("GET", ME, Reply.json({"error": "The access token is invalid"}, 401))
    with caplog.at_level(logging.DEBUG):
        report = read_channel(storage, channel(fake), AbuseRules.build(), clock=lambda: NOW)
    assert report.outcome == "failed"
    assert TOKEN not in caplog.text
    assert TOKEN not in (report.error or "")
    assert TOKEN not in repr(MastodonCredentials(TOKEN))


def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())
