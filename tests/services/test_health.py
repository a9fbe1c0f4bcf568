"""roundup_bot.services.health: the facts ``status`` and the sources page share, judged once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers.feeds import record_parsed
from sqlalchemy import insert, select

from roundup_bot.core.records import ConfiguredFeed, FeedStatus, ParsedEntry, ParsedFeed
from roundup_bot.services.health import ChannelHealth, feed_state, jobs_health
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import candidate_sources, candidates
from roundup_bot.storage.suggestions import SuggestionCounts

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def article(n: int) -> ParsedEntry:
    return ParsedEntry(
        link=f"https://example.org/post-{n}",
        canonical_url=f"https://example.org/post-{n}",
        title=f"Post {n}",
        author=None,
        published=NOW - timedelta(hours=n),
        summary=None,
        entry_id=f"id-{n}",
    )


def test_each_feed_counts_the_articles_it_gave_and_nothing_else(storage: Storage) -> None:
    urls = ["https://a.example/feed", "https://b.example/feed", "https://c.example/feed"]
    storage.feeds.sync([ConfiguredFeed(url, None, 1.0, True) for url in urls], NOW)
    fetch = {f.url: f for f in storage.feeds.for_update(NOW, mode="all")}
    for url, entries in ((urls[0], (article(1), article(2))), (urls[1], (article(2),))):
        record_parsed(
            storage,
            fetch[url],
            parsed=ParsedFeed(url=url, title=None, site_url=None, entries=entries),
            etag=None,
            last_modified=None,
            permanent_url=None,
            now=NOW,
            next_due=NOW,
        )
    with storage.engine.begin() as conn:  # someone on X suggested post 1 too
        first = conn.execute(
            select(candidates.c.id).where(candidates.c.url.like("%post-1"))
        ).scalar_one()
        conn.execute(
            insert(candidate_sources).values(
                candidate_id=first,
                kind="x",
                source_ref="501",
                name="@alice",
                url="https://x.com/alice/status/501",
                first_seen=NOW,
            )
        )

    entries = {status.url: status.entries for status in storage.feeds.statuses()}

    # post 2 is in both feeds, so it counts for each; the X suggestion for neither.
    assert entries == {urls[0]: 2, urls[1]: 1, urls[2]: 0}


def status(**changes: object) -> FeedStatus:
    base: dict[str, object] = dict(
        id=1,
        url="https://a.example/feed",
        name=None,
        enabled=True,
        ok=True,
        last_error=None,
        consecutive_errors=0,
        last_polled=NOW,
        next_due=NOW,
    )
    return FeedStatus(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "ok"),
        ({"ok": None, "last_polled": None}, "never"),
        ({"ok": False, "consecutive_errors": 2}, "failing"),
        ({"ok": False, "gone": True}, "gone"),
        ({"enabled": False, "ok": False, "gone": True}, "disabled"),
    ],
)
def test_feed_state(changes: dict[str, object], state: str) -> None:
    assert feed_state(status(**changes)) == state


def test_every_job_is_listed_with_how_its_last_run_went(storage: Storage) -> None:
    runs = storage.job_runs
    runs.started("poll", NOW)
    runs.finished("poll", NOW + timedelta(minutes=1), ok=True, result="polled 3 feeds")
    runs.started("mentions", NOW)  # never finished: killed
    runs.started("zeta", NOW)
    runs.finished("zeta", NOW + timedelta(minutes=1), ok=False, result="boom")
    runs.started("alpha", NOW)
    runs.finished("alpha", NOW + timedelta(minutes=1), ok=None, result="skipped: off")

    with storage.locks.hold("alpha"):
        jobs = {job.name: job for job in jobs_health(storage)}
        order = [job.name for job in jobs_health(storage)]

    assert order == ["poll", "mentions", "draft", "alpha", "zeta"]
    assert {name: job.state for name, job in jobs.items()} == {
        "poll": "ok",
        "mentions": "interrupted",
        "draft": "never",
        "alpha": "running",
        "zeta": "failed",
    }
    assert jobs["alpha"].running_on is not None
    assert jobs["poll"].running_on is None
    assert jobs["poll"].last_result == "polled 3 feeds"
    assert jobs["draft"].last_started is None
    assert {job.name: job.state for job in jobs_health(storage)}["alpha"] == "skipped"


def x(**changes: object) -> ChannelHealth:
    base: dict[str, object] = dict(
        enabled=True,
        account="@welovelocalgov",
        user_id="9",
        ok=True,
        last_run="2026-11-20T12:00:00+00:00",
        last_outcome="completed",
        last_error=None,
        since_id="501",
        unfinished_sweep=False,
        resume_after=None,
        month="2026-11",
        posts_read_this_month=12,
        max_posts_per_month=1000,
        suggestions=SuggestionCounts(3, 1, 2),
    )
    return ChannelHealth(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "ok"),
        ({"enabled": False}, "disabled"),
        ({"ok": None, "last_run": None}, "never"),
        ({"ok": False, "last_outcome": "rate_limited"}, "limited"),
        ({"ok": False, "last_outcome": "cost_guard"}, "limited"),
        ({"ok": False, "last_outcome": "failed"}, "failing"),
    ],
)
def test_x_state(changes: dict[str, object], state: str) -> None:
    assert x(**changes).state == state


def test_x_times_are_parsed_and_an_unreadable_one_is_kept_as_text() -> None:
    health = x(resume_after="soon")
    assert health.last_run_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert health.resume_after_at is None
    assert health.resume_after == "soon"
