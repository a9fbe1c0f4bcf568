"""Whole mentions runs against the local fake X API, on SQLite and PostgreSQL.

Covers the reading position (first run by start_time, then since_id; every
page; a stopped run carries on where it stopped), nothing stored twice,
limits (rate limit, usage cap, the monthly cost guard), faults, the abuse
rules and the thank-you replies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.fake_x_api import LOOKUP, FakeXApi, Reply, Sleeps, running_fake, twarc_pages
from sqlalchemy import func, select

from roundup_bot.adapters.twitter import XApi, XApiOptions, XCredentials
from roundup_bot.config import Settings, settings_from_mapping
from roundup_bot.core.suggestion_rules import AbuseRules
from roundup_bot.services.app import build_app
from roundup_bot.services.jobs import StopSignal, poll_mentions_job
from roundup_bot.services.mentions import (
    RESUME_TOKEN,
    SINCE_ID,
    USER_ID,
    MentionsOptions,
    MentionsReport,
    read_mentions,
)
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import candidate_sources, candidates, suggestions

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MENTIONS = r"/2/users/9/mentions"
USERS = [
    {"id": "1", "username": "alice"},
    {"id": "2", "username": "bob"},
    {"id": "3", "username": "carol"},
]


def tweet(post_id: int, author: str, *links: str, minutes: int = 0) -> dict[str, Any]:
    return {
        "id": str(post_id),
        "author_id": author,
        "text": f"@welovelocalgov worth a read {' '.join(links)}",
        "created_at": (NOW - timedelta(hours=2, minutes=minutes))
        .isoformat()
        .replace("+00:00", "Z"),
        "entities": {
            "urls": [
                {"url": "https://t.co/x", "expanded_url": link, "title": f"Title of {link}"}
                for link in links
            ]
        },
    }


def page(*tweets: dict[str, Any], next_token: str | None = None) -> Reply:
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta["newest_id"] = tweets[0]["id"]
        meta["oldest_id"] = tweets[-1]["id"]
    if next_token:
        meta["next_token"] = next_token
    return Reply.json({"data": list(tweets), "includes": {"users": USERS}, "meta": meta})


PAGE_1 = (
    tweet(305, "1", "https://blog.example.gov.uk/a?utm_source=x"),
    tweet(304, "2", "https://blog.example.gov.uk/a", "https://news.example.org/b", minutes=5),
)
PAGE_2 = (tweet(303, "3", "https://c.example/c", minutes=10),)
PAGE_3 = (tweet(302, "1", "https://d.example/d", minutes=15),)
EMPTY = Reply.json({"meta": {"result_count": 0}})


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    with running_fake(account=True) as server:
        yield server


def run(
    storage: Storage,
    fake: FakeXApi,
    *,
    rules: AbuseRules | None = None,
    options: MentionsOptions | None = None,
    sleeps: Sleeps | None = None,
    thanks: Any = None,
    now: datetime = NOW,
) -> MentionsReport:
    api = XApi(
        XCredentials(
            bearer_token="tok-123456",
            consumer_key="ck-123456",
            consumer_secret="cs-123456",
            access_token="at-123456",
            access_token_secret="as-123456",
        ),
        XApiOptions(base_url=fake.base_url, timeout=2, retries=1, retry_backoff=0.01),
        sleep=sleeps or Sleeps(),
        clock=lambda: now,
    )
    try:
        return read_mentions(
            storage,
            api,
            options or MentionsOptions(),
            rules or AbuseRules.build(),
            clock=lambda: now,
            thanks_text=thanks,
        )
    finally:
        api.close()


def table_count(storage: Storage, table: Any) -> int:
    with storage.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_every_page_is_read_and_since_id_moves_to_the_newest(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add(
        "GET",
        MENTIONS,
        page(*PAGE_1, next_token="p2"),
        page(*PAGE_2, next_token="p3"),
        page(*PAGE_3),
    )
    report = run(storage, fake)
    assert report.outcome == "completed"
    assert report.ok
    assert (report.pages, report.mentions, report.accepted) == (3, 4, 5)
    assert report.new_candidates == 4  # blog.example.gov.uk/a twice is one candidate
    first, second, third = fake.calls(MENTIONS)
    assert first.query["start_time"] == (NOW - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "since_id" not in first.query
    assert "pagination_token" not in first.query
    assert second.query["pagination_token"] == "p2"
    assert second.query["start_time"] == first.query["start_time"]
    assert third.query["pagination_token"] == "p3"
    assert storage.state.get("x", SINCE_ID) == "305"
    assert storage.state.get("x", USER_ID) == "9"
    assert storage.state.get("x", RESUME_TOKEN) is None

    [shared] = [c for c in storage.candidates.list() if c.url == "https://blog.example.gov.uk/a"]
    assert shared.suggested_by == ("@bob", "@alice")  # in the order they suggested it
    assert {s.url for s in shared.sources} == {
        "https://x.com/alice/status/305",
        "https://x.com/bob/status/304",
    }

    fake.add("GET", MENTIONS, EMPTY)
    again = run(storage, fake)
    assert again.outcome == "completed"
    assert again.pages == 1
    last = fake.calls(MENTIONS)[-1]
    assert last.query["since_id"] == "305"
    assert "start_time" not in last.query
    assert len(fake.calls(LOOKUP)) == 1  # the account's id was looked up once


def test_a_run_stopped_half_way_keeps_its_place_and_the_next_finishes(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_1, next_token="p2"))
    fake.add("GET", MENTIONS, Reply.json({"title": "Internal Error"}, 500), repeat=True)
    report = run(storage, fake)
    assert report.outcome == "failed"
    assert "HTTP 500" in (report.error or "")
    assert report.accepted == 3  # the first page is stored
    assert storage.state.get("x", SINCE_ID) is None  # not advanced: the sweep is unfinished
    assert storage.state.get("x", RESUME_TOKEN) == "p2"

    fake.routes.clear()
    fake.add("GET", MENTIONS, page(*PAGE_2))
    report = run(storage, fake)
    assert report.outcome == "completed"
    assert report.accepted == 1
    resumed = fake.calls(MENTIONS)[-1]
    assert resumed.query["pagination_token"] == "p2"
    assert resumed.query["start_time"] == fake.calls(MENTIONS)[0].query["start_time"]
    assert storage.state.get("x", SINCE_ID) == "305"  # the first page's newest
    assert table_count(storage, suggestions) == 4


def test_reading_the_same_mentions_again_stores_nothing_twice(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_1, next_token="p2"), page(*PAGE_2))
    run(storage, fake)
    counts = [table_count(storage, t) for t in (suggestions, candidates, candidate_sources)]
    # As if the run had died before its position was committed: read it all again.
    storage.state.set("x", SINCE_ID, None)
    fake.add("GET", MENTIONS, page(*PAGE_1, next_token="p2"), page(*PAGE_2))
    report = run(storage, fake)
    assert report.outcome == "completed"
    assert (report.accepted, report.duplicates, report.new_candidates) == (0, 4, 0)
    assert [table_count(storage, t) for t in (suggestions, candidates, candidate_sources)] == counts


def test_an_expired_resume_token_starts_the_sweep_again(storage: Storage, fake: FakeXApi) -> None:
    storage.state.set("x", RESUME_TOKEN, "stale")
    storage.state.set("x", SINCE_ID, "300")
    body = {"errors": [{"message": "The `pagination_token` query parameter value is invalid"}]}
    fake.add("GET", MENTIONS, Reply.json(body, 400), page(*PAGE_1))
    report = run(storage, fake)
    assert report.outcome == "completed"
    assert report.accepted == 3
    retry = fake.calls(MENTIONS)[-1]
    assert "pagination_token" not in retry.query
    assert retry.query["since_id"] == "300"


def test_a_far_rate_limit_stops_the_run_and_keeps_its_place(
    storage: Storage, fake: FakeXApi
) -> None:
    reset = int(NOW.timestamp()) + 600
    fake.add("GET", MENTIONS, page(*PAGE_1, next_token="p2"))
    fake.add("GET", MENTIONS, Reply.json({}, 429, {"x-rate-limit-reset": str(reset)}))
    sleeps = Sleeps()
    report = run(storage, fake, sleeps=sleeps)
    assert report.outcome == "rate_limited"
    assert report.resume_at == datetime.fromtimestamp(reset, UTC)
    assert sleeps.calls == []
    assert report.accepted == 3
    assert storage.state.get("x", RESUME_TOKEN) == "p2"
    assert storage.state.get("x", "resume_after") == datetime.fromtimestamp(reset, UTC).isoformat()


def test_a_usage_cap_stops_the_run_without_sleeping(
    storage: Storage, fake: FakeXApi, corpus: Path
) -> None:
    body = (corpus / "twitter" / "samples" / "error-bodies" / "429-usage-capped.json").read_bytes()
    headers = (("content-type", "application/json"), ("x-rate-limit-reset", "0"))
    fake.add("GET", MENTIONS, Reply(429, body, headers))
    sleeps = Sleeps()
    report = run(storage, fake, sleeps=sleeps)
    assert report.outcome == "usage_capped"
    assert "usage cap" in (report.error or "")
    assert sleeps.calls == []


def test_the_monthly_cost_guard_asks_for_small_pages_and_stops(
    storage: Storage, fake: FakeXApi
) -> None:
    many = [tweet(400 - n, "1", f"https://e.example/{n}") for n in range(4)]
    fake.add("GET", MENTIONS, page(*many, next_token="p2"), page(*many[:2], next_token="p3"))
    report = run(storage, fake, options=MentionsOptions(max_posts_per_month=6))
    assert report.outcome == "cost_guard"
    assert "max_posts_per_month" in (report.error or "")
    first, second = fake.calls(MENTIONS)
    assert first.query["max_results"] == "6"
    assert second.query["max_results"] == "5"  # 2 left, but X's smallest page is 5
    assert report.posts_read_month == 6
    assert storage.state.get("x", RESUME_TOKEN) == "p3"  # carries on next month
    next_month = run(storage, fake, options=MentionsOptions(max_posts_per_month=6), now=NOW)
    assert next_month.outcome == "cost_guard"
    assert len(fake.calls(MENTIONS)) == 2


def test_a_malformed_page_fails_the_run_and_keeps_what_was_read(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_1, next_token="p2"), Reply.json({"data": "oops"}))
    report = run(storage, fake)
    assert report.outcome == "failed"
    assert "malformed page" in (report.error or "")
    assert report.accepted == 3
    assert storage.state.get("x", RESUME_TOKEN) == "p2"


def test_rejected_suggestions_are_stored_and_never_candidates(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_1, *PAGE_2))
    rules = AbuseRules.build(blocked_users=["carol"], blocked_domains=["news.example.org"])
    report = run(storage, fake, rules=rules)
    assert (report.accepted, report.rejected) == (2, 2)
    urls = {c.url for c in storage.candidates.list()}
    assert urls == {"https://blog.example.gov.uk/a"}
    with storage.engine.connect() as conn:
        reasons = dict(
            conn.execute(
                select(suggestions.c.canonical_url, suggestions.c.reason).where(
                    suggestions.c.status == "rejected"
                )
            ).all()
        )
    assert "blocked_users" in reasons["https://c.example/c"]
    assert "blocked_domains" in reasons["https://news.example.org/b"]


def test_the_real_corpus_pages_go_through_a_whole_run(
    storage: Storage, fake: FakeXApi, corpus: Path
) -> None:
    folder = corpus / "twitter" / "samples" / "twarc-csv"
    pages = [next(twarc_pages(folder / f"{name}.jsonl")) for name in ("many_urls", "quoted_edit")]
    pages[0]["meta"] = {"result_count": 1, "newest_id": "1610692575752601600", "next_token": "n"}
    fake.add("GET", MENTIONS, Reply.json(pages[0]), Reply.json(pages[1]))
    report = run(storage, fake)
    assert report.outcome == "completed"
    assert report.accepted == 1
    [candidate] = storage.candidates.list()
    assert candidate.suggested_by == ("@uiuxadrian",)
    assert (
        candidate.title == "The Ultimate Guide to Web Design (Landing Page UI Kit + Free Bonuses)"
    )
    assert storage.state.get("x", SINCE_ID) == "1610692575752601600"


def test_each_accepted_suggestion_is_thanked_once(storage: Storage, fake: FakeXApi) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_1), EMPTY)
    fake.add(
        "POST",
        "/2/tweets",
        lambda request: Reply.json(
            {"data": {"id": "9" + str(len(fake.requests)), "text": "t"}}, 201
        ),
        repeat=True,
    )
    texts: list[tuple[str, tuple[str, ...]]] = []

    def thanks(user: str, links: tuple[str, ...], titles: Any, post_url: str) -> str:
        texts.append((user, links))
        return f"Thanks {user}!"

    options = MentionsOptions(thank=True)
    report = run(storage, fake, options=options, thanks=thanks)
    assert report.thanked == 2
    assert report.ok
    posted = fake.calls("/2/tweets")
    assert len(posted) == 2  # one reply per post, though post 304 had two links
    assert sorted(json.loads(p.body)["reply"]["in_reply_to_tweet_id"] for p in posted) == [
        "304",
        "305",
    ]
    assert {json.loads(p.body)["text"] for p in posted} == {"Thanks alice!", "Thanks bob!"}
    assert run(storage, fake, options=options, thanks=thanks).thanked == 0
    assert len(fake.calls("/2/tweets")) == 2


def test_a_refused_reply_is_reported_and_retried_next_time(
    storage: Storage, fake: FakeXApi
) -> None:
    fake.add("GET", MENTIONS, page(*PAGE_2))
    fake.add("POST", "/2/tweets", Reply.json({"title": "Forbidden", "detail": "read-only"}, 403))
    report = run(storage, fake, options=MentionsOptions(thank=True), thanks=lambda *a: "Thanks!")
    assert report.outcome == "completed"
    assert not report.ok
    assert "write permission" in report.thank_errors[0]
    assert storage.suggestions.counts("x").thanked == 0


def test_a_reply_whose_answer_is_lost_is_never_posted_again(
    storage: Storage, fake: FakeXApi
) -> None:
    """The reply went out but its answer came after the deadline: it may be on X,
    so the claim is kept and the next run posts no second thank-you."""
    fake.add("GET", MENTIONS, page(*PAGE_2), EMPTY, EMPTY)
    made = Reply.json({"data": {"id": "91", "text": "t"}}, 201)
    fake.add("POST", "/2/tweets", Reply(201, made.body, made.headers, hang=3.0), made)
    options = MentionsOptions(thank=True)
    first = run(storage, fake, options=options, thanks=lambda *a: "Thanks!")
    second = run(storage, fake, options=options, thanks=lambda *a: "Thanks!")
    assert len(fake.calls("/2/tweets")) == 1
    assert (first.thanked, second.thanked) == (0, 0)
    assert "may have been posted" in first.thank_errors[0]


# -- the daemon's job ---------------------------------------------------------------------


def settings_for(db_url: str, fake: FakeXApi, **twitter: Any) -> Settings:
    return settings_from_mapping(
        {
            "database": {"url": db_url},
            "twitter": {
                "enabled": True,
                "api_base_url": fake.base_url,
                "retries": 1,
                "retry_backoff": 0.01,
                **twitter,
            },
        },
        "<test>",
        {},
    )


def test_the_daemons_mentions_job_reads_and_reports(
    db_url: str, fake: FakeXApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_TWITTER_BEARER_TOKEN", "tok-123456")
    fake.add("GET", MENTIONS, page(*PAGE_1))
    app = build_app(settings_for(db_url, fake))
    try:
        result = poll_mentions_job(app, StopSignal(), lambda: datetime.now(UTC))
    finally:
        app.close()
    assert result.ok is True
    assert "3 suggestions accepted" in result.summary


def test_a_stop_request_ends_a_rate_limit_wait_at_once(
    db_url: str, fake: FakeXApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_TWITTER_BEARER_TOKEN", "tok-123456")
    reset = int(datetime.now(UTC).timestamp()) + 25
    fake.add("GET", MENTIONS, Reply.json({}, 429, {"x-rate-limit-reset": str(reset)}))
    app = build_app(settings_for(db_url, fake, max_rate_limit_wait=60.0))
    stop = StopSignal()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    try:
        result = poll_mentions_job(app, stop, app.clock)  # would wait ~25 s for the reset otherwise
    finally:
        timer.cancel()
        app.close()
    assert result.ok is None
    assert result.summary.startswith("stopped")
    assert len(fake.calls(MENTIONS)) == 1
