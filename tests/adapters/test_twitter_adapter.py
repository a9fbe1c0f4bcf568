"""The X adapter against a real local HTTP server: recorded answers, limits and faults.

tweepy, requests and our session run for real; only the host differs, reached
through api_base_url as a proxy would be.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.fake_x_api import FakeXApi, Reply, Sleeps, load_cassette, running_fake

from roundup_bot.adapters.twitter import XApi, XApiOptions, XCredentials
from roundup_bot.core.errors import (
    XAuthError,
    XBadResponse,
    XRateLimited,
    XRequestError,
    XUnavailable,
    XUsageCapped,
)

TOKEN = "test-bearer-AAAA-1234567890"
MENTIONS = r"/2/users/\d+/mentions"


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with running_fake() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def api_for(
    fake: FakeXApi, sleeps: Sleeps, *, retries: int = 2, timeout: float = 2.0, **creds: str
) -> XApi:
    credentials = XCredentials(bearer_token=TOKEN, **creds)
    options = XApiOptions(
        base_url=fake.base_url,
        timeout=timeout,
        max_rate_limit_wait=30,
        retries=retries,
        retry_backoff=0.01,
    )
    return XApi(
        credentials, options, sleep=sleeps, clock=lambda: datetime.fromtimestamp(1_800_000_000, UTC)
    )


def error_body(corpus: Path, name: str) -> bytes:
    return (corpus / "twitter" / "samples" / "error-bodies" / name).read_bytes()


# -- replaying tweepy's recorded answers --------------------------------------------------


def test_recorded_user_lookup_and_mentions_page_replay_through_the_base_url(
    corpus: Path, fake: FakeXApi, sleeps: Sleeps
) -> None:
    cassettes = corpus / "twitter" / "tweepy-cassettes" / "v2"
    [user] = load_cassette(cassettes / "test_client_get_user.yaml")
    [page] = load_cassette(cassettes / "test_client_get_users_mentions.yaml")
    fake.add("GET", user.path, user.reply)
    fake.add("GET", page.path, page.reply)
    api = api_for(fake, sleeps)
    assert api.lookup_user_id("Twitter") == "783214"
    body = api.mentions("783214", since_id="1578000000000000000")
    assert body == page.json()  # gzip body served byte for byte, decoded by requests
    assert len(body["data"]) == 10
    assert body["meta"]["next_token"]
    request = fake.calls(MENTIONS)[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("roundup-bot/")
    assert request.query["since_id"] == "1578000000000000000"
    assert "start_time" not in request.query
    assert request.query["max_results"] == "100"
    assert set(request.query["expansions"].split(",")) == {
        "author_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    }
    fields = set(request.query["tweet.fields"].split(","))
    assert {"entities", "created_at", "referenced_tweets", "note_tweet", "author_id"} <= fields
    assert request.query["user.fields"].split(",")[0] == "username"


def test_first_page_by_start_time_then_the_pagination_token(
    corpus: Path, fake: FakeXApi, sleeps: Sleeps
) -> None:
    [page] = load_cassette(
        corpus / "twitter" / "tweepy-cassettes" / "v2" / "test_client_get_users_mentions.yaml"
    )
    fake.add("GET", MENTIONS, page.reply, repeat=True)
    api = api_for(fake, sleeps)
    api.mentions("1", start_time=datetime(2026, 11, 13, 12, 0, tzinfo=UTC), max_results=3)
    api.mentions("1", since_id="5", pagination_token="tok-2")
    first, second = fake.calls(MENTIONS)
    assert first.query["start_time"] == "2026-11-13T12:00:00Z"
    assert first.query["max_results"] == "5"  # X's smallest page
    assert second.query["pagination_token"] == "tok-2"


def test_a_reply_is_posted_with_oauth1_from_the_recorded_answer(
    corpus: Path, fake: FakeXApi, sleeps: Sleeps
) -> None:
    create = load_cassette(
        corpus / "twitter" / "tweepy-cassettes" / "v2" / "test_client_create_and_delete_tweet.yaml"
    )[0]
    fake.add("POST", "/2/tweets", create.reply)
    api = api_for(
        fake,
        sleeps,
        consumer_key="ck-123456",
        consumer_secret="cs-123456",
        access_token="at-123456",
        access_token_secret="ats-123456",
    )
    assert api.reply("1576995594388000768", "Thanks!") == "1456012973835788293"
    [request] = fake.calls("/2/tweets")
    assert request.headers["authorization"].startswith("OAuth ")
    assert "cs-123456" not in request.headers["authorization"]  # secrets only sign
    assert json.loads(request.body) == {
        "text": "Thanks!",
        "reply": {"in_reply_to_tweet_id": "1576995594388000768"},
    }


def test_the_debug_log_of_a_reply_never_shows_an_oauth1_credential(
    fake: FakeXApi, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add("POST", "/2/tweets", Reply.json({"data": {"id": "5", "text": "Thanks!"}}, 201))
    keys = {
        "consumer_key": "ck-SECRET-9f8e7d",
        "consumer_secret": "cs-SECRET-9f8e7d",
        "access_token": "1234-at/SECRET+9f8e7d",
        "access_token_secret": "ats-SECRET-9f8e7d",
    }
    with contextlib.ExitStack() as stack:
        # the CLI's logging set-up quietens these libraries; an earlier test may have run it
        for name in ("", "requests_oauthlib", "oauthlib"):
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name or None))
        assert api_for(fake, sleeps, **keys).reply("1", "Thanks!") == "5"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "oauth_consumer_key" in logged  # oauthlib logged what it signed...
    assert "SECRET" not in logged  # ...with every key hidden, quoted or not


# -- limits ----------------------------------------------------------------------------------


def test_a_rate_limit_that_resets_soon_is_waited_out(fake: FakeXApi, sleeps: Sleeps) -> None:
    soon = {"x-rate-limit-reset": str(1_800_000_000 + 5), "x-rate-limit-remaining": "0"}
    fake.add(
        "GET",
        MENTIONS,
        Reply.json({"title": "Too Many Requests"}, 429, soon),
        Reply.json({"meta": {"result_count": 0}}),
    )
    body = api_for(fake, sleeps).mentions("1")
    assert body == {"meta": {"result_count": 0}}
    assert sleeps.calls == [6.0]
    assert len(fake.calls(MENTIONS)) == 2


def test_a_rate_limit_far_away_stops_and_says_when(fake: FakeXApi, sleeps: Sleeps) -> None:
    later = {"x-rate-limit-reset": str(1_800_000_000 + 900)}
    fake.add("GET", MENTIONS, Reply.json({"title": "Too Many Requests"}, 429, later))
    with pytest.raises(XRateLimited) as caught:
        api_for(fake, sleeps).mentions("1")
    assert caught.value.resume_at == datetime.fromtimestamp(1_800_000_900, UTC)
    assert "2027-01-15 08:15:00 UTC" in str(caught.value)
    assert sleeps.calls == []


def test_a_usage_cap_stops_at_once_without_sleeping(
    corpus: Path, fake: FakeXApi, sleeps: Sleeps
) -> None:
    # The real body X sent, with a near reset and plenty "remaining": waiting would not help.
    headers = (
        ("content-type", "application/problem+json"),
        ("x-rate-limit-remaining", "39999"),
        ("x-rate-limit-reset", str(1_800_000_000 + 2)),
    )
    fake.add("GET", MENTIONS, Reply(429, error_body(corpus, "429-usage-capped.json"), headers))
    with pytest.raises(XUsageCapped) as caught:
        api_for(fake, sleeps).mentions("1")
    assert "usage cap" in str(caught.value)
    assert "Monthly product cap" in str(caught.value)
    assert sleeps.calls == []
    assert len(fake.calls(MENTIONS)) == 1


def test_credits_depleted_is_a_usage_limit(fake: FakeXApi, sleeps: Sleeps) -> None:
    body = {
        "title": "Payment Required",
        "detail": "credits depleted",
        "type": "https://api.x.com/2/problems/credits-depleted",
    }
    fake.add("GET", MENTIONS, Reply.json(body, 402))
    with pytest.raises(XUsageCapped, match="no API credits left"):
        api_for(fake, sleeps).mentions("1")


# -- refusals ----------------------------------------------------------------------------------


def test_401_names_the_token_variable_and_never_the_token(fake: FakeXApi, sleeps: Sleeps) -> None:
    fake.add("GET", MENTIONS, Reply.json({"title": "Unauthorized", "status": 401}, 401))
    with pytest.raises(XAuthError) as caught:
        api_for(fake, sleeps).mentions("1")
    message = str(caught.value)
    assert "ROUNDUP_TWITTER_BEARER_TOKEN" in message
    assert "401" in message
    assert TOKEN not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("403-client-not-enrolled.json", "not attached to a Project"),
        ("403-unsupported-authentication.json", "does not accept this kind of credentials"),
        ("403-code-453-v1.1-access-level.json", "access level does not include"),
    ],
)
def test_403_names_the_likely_cause(
    corpus: Path, fake: FakeXApi, sleeps: Sleeps, name: str, cause: str
) -> None:
    fake.add("GET", MENTIONS, Reply.raw(error_body(corpus, name), 403))
    with pytest.raises(XAuthError) as caught:
        api_for(fake, sleeps).mentions("1")
    assert cause in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(fake.calls(MENTIONS)) == 1  # never retried


def test_a_refused_pagination_token_is_a_request_error(fake: FakeXApi, sleeps: Sleeps) -> None:
    body = {"errors": [{"message": "The `pagination_token` query parameter value is invalid"}]}
    fake.add("GET", MENTIONS, Reply.json(body, 400))
    with pytest.raises(XRequestError, match="pagination_token"):
        api_for(fake, sleeps).mentions("1", pagination_token="stale")


def test_an_unknown_username(fake: FakeXApi, sleeps: Sleeps) -> None:
    body = {"errors": [{"title": "Not Found Error", "detail": "Could not find user: nobody_x"}]}
    fake.add("GET", "/2/users/by/username/nobody_x", Reply.json(body))
    with pytest.raises(XRequestError, match="no account @nobody_x"):
        api_for(fake, sleeps).lookup_user_id("@nobody_x")


# -- faults ------------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff_then_succeed(
    fake: FakeXApi, sleeps: Sleeps
) -> None:
    fake.add(
        "GET",
        MENTIONS,
        Reply.json({"title": "Service Unavailable"}, 503),
        Reply.raw(b"<html>bad gateway</html>", 502, "text/html"),
        Reply.json({"meta": {"result_count": 0}}),
    )
    assert api_for(fake, sleeps).mentions("1") == {"meta": {"result_count": 0}}
    assert len(sleeps.calls) == 2
    assert sleeps.calls[1] > sleeps.calls[0]


def test_server_errors_that_go_on_are_reported_after_the_retries(
    fake: FakeXApi, sleeps: Sleeps
) -> None:
    fake.add("GET", MENTIONS, Reply.json({"title": "Internal Error"}, 500), repeat=True)
    with pytest.raises(XUnavailable, match=r"HTTP 500.*gave up after 3 tries"):
        api_for(fake, sleeps, retries=2).mentions("1")
    assert len(fake.calls(MENTIONS)) == 3


def test_a_hanging_server_times_out_and_is_retried(fake: FakeXApi, sleeps: Sleeps) -> None:
    # The hanging answer would take ten minutes, far past the test's own timeout:
    # getting the second answer at all shows the client gave up on the first.
    fake.add("GET", MENTIONS, Reply.hanging(600), Reply.json({"meta": {"result_count": 0}}))
    assert api_for(fake, sleeps, timeout=0.3).mentions("1") == {"meta": {"result_count": 0}}
    assert len(fake.calls(MENTIONS)) == 2

    fake.add("GET", MENTIONS, Reply.hanging(600), repeat=True)
    with pytest.raises(XUnavailable, match=r"no answer within 0\.3 s"):
        api_for(fake, sleeps, timeout=0.3, retries=1).mentions("1")


def test_an_answer_that_drips_is_cut_off_at_the_timeout(fake: FakeXApi, sleeps: Sleeps) -> None:
    body = json.dumps({"meta": {"result_count": 0}}).encode()
    # A byte every 10 s: the whole answer would take minutes, past the test's own
    # timeout, so failing at all shows the client cut each try off at its deadline.
    dripping = Reply(200, body, (("content-type", "application/json"),), drip=10.0)
    fake.add("GET", MENTIONS, dripping, repeat=True)
    with pytest.raises(XUnavailable, match="gave up after 2 tries"):
        api_for(fake, sleeps, timeout=0.5, retries=1).mentions("1")
    assert len(fake.calls(MENTIONS)) == 2


def test_an_oversize_answer_stops_at_the_limit_after_decompression(
    fake: FakeXApi, sleeps: Sleeps
) -> None:
    bomb = gzip.compress(b" " * (4 * 1024 * 1024))  # 4 MiB of JSON whitespace, 4 KiB on the wire
    headers = (("content-type", "application/json"), ("content-encoding", "gzip"))
    fake.add("GET", MENTIONS, Reply(200, bomb, headers), Reply.json({"meta": {"result_count": 0}}))
    options = XApiOptions(base_url=fake.base_url, timeout=5, max_answer_bytes=1024 * 1024)
    api = XApi(XCredentials(bearer_token=TOKEN), options, sleep=sleeps)
    with pytest.raises(XBadResponse, match="too large"):
        api.mentions("1")
    assert api.mentions("1") == {"meta": {"result_count": 0}}  # a normal page still reads


def test_a_closed_port_is_unavailable(sleeps: Sleeps) -> None:
    server = FakeXApi()
    base = server.base_url
    server.close()
    options = XApiOptions(base_url=base, timeout=1, retries=1, retry_backoff=0.01)
    api = XApi(XCredentials(bearer_token=TOKEN), options, sleep=sleeps)
    with pytest.raises(XUnavailable, match="connection failed"):
        api.mentions("1")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply.raw(b'{"data": [', 200), "not JSON"),
        (Reply.raw(b"<html>maintenance</html>", 200, "text/html"), "not JSON"),
        (Reply.raw(b"[1, 2]", 200), "expected a JSON object"),
        (Reply.raw(b"[1, 2]", 418), "unexpected answer"),
    ],
)
def test_a_malformed_body_is_reported(
    fake: FakeXApi, sleeps: Sleeps, reply: Reply, problem: str
) -> None:
    fake.add("GET", MENTIONS, reply)
    with pytest.raises(XBadResponse, match=problem):
        api_for(fake, sleeps).mentions("1")


def test_tweepys_debug_log_of_request_headers_never_shows_the_token(
    fake: FakeXApi, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add("GET", MENTIONS, Reply.json({"meta": {"result_count": 0}}))
    with caplog.at_level(logging.DEBUG):
        api_for(fake, sleeps).mentions("1")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Making API request" in logged  # tweepy logged the headers...
    assert "Bearer ***" in logged
    assert TOKEN not in logged  # ...without the token, whoever set up logging
