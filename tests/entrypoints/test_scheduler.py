"""The schedule built from the config, and the job runner, driven by a fixed clock."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from helpers.feeds import record_parsed

from roundup_bot.config import Settings, settings_from_mapping
from roundup_bot.core.clock import Clock
from roundup_bot.core.errors import SourceError
from roundup_bot.core.records import ParsedEntry, ParsedFeed
from roundup_bot.entrypoints.scheduler import (
    DRAFT_GRACE_S,
    Daemon,
    describe_schedule,
    draft_trigger,
    missed_fire_time,
    plan_jobs,
)
from roundup_bot.services.app import App, build_app
from roundup_bot.services.jobs import (
    JOB_DRAFT,
    JOB_POLL,
    JobResult,
    StopSignal,
    draft_job,
    week_to_draft,
)

LONDON_WINTER_FRIDAY_9 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # GMT = UTC


def settings(**schedule: Any) -> Settings:
    data: dict[str, Any] = {"schedule": schedule} if schedule else {}
    return settings_from_mapping(data, "<test>", environ={})


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    data = {"database": {"url": f"sqlite:///{tmp_path / 'r.db'}"}, "schedule": {"jitter": "0"}}
    built = build_app(settings_from_mapping(data, "<test>", environ={}))
    try:
        yield built
    finally:
        built.close()


def test_default_plan_has_three_jobs_with_the_documented_timings() -> None:
    plans = {plan.id: plan for plan in plan_jobs(settings())}
    assert list(plans) == ["poll", "mentions", "draft"]
    poll = plans["poll"].trigger
    assert isinstance(poll, IntervalTrigger)
    assert poll.interval == timedelta(hours=2)
    assert poll.jitter == 300  # [schedule] jitter "5m"
    assert plans["poll"].misfire_grace_s == 7200
    assert plans["poll"].run_at_start
    mentions = plans["mentions"].trigger
    assert isinstance(mentions, IntervalTrigger)
    assert mentions.interval == timedelta(minutes=15)
    assert mentions.jitter == 225  # capped at a quarter of the interval
    assert isinstance(plans["draft"].trigger, CronTrigger)
    assert plans["draft"].misfire_grace_s == DRAFT_GRACE_S
    assert not plans["draft"].run_at_start


def test_short_intervals_and_no_jitter() -> None:
    plans = {p.id: p for p in plan_jobs(settings(poll_feeds_every="1s", jitter="0"))}
    trigger = plans["poll"].trigger
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(seconds=1)
    assert trigger.jitter is None
    assert plans["poll"].misfire_grace_s == 1


def test_jobs_can_be_switched_off() -> None:
    ids = [p.id for p in plan_jobs(settings(poll_mentions_every="off", draft_at="OFF"))]
    assert ids == ["poll"]
    assert (
        plan_jobs(settings(poll_feeds_every="off", poll_mentions_every="off", draft_at="off")) == []
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Wednesday in winter: Friday 09:00 GMT.
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        # Friday 08:59: one minute later, the same day.
        (datetime(2026, 11, 27, 8, 59, tzinfo=UTC), datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        # Friday 09:00:01: a week later.
        (datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC), datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        # Summer: Friday 09:00 BST is 08:00 UTC.
        (datetime(2026, 7, 1, 0, 0, tzinfo=UTC), datetime(2026, 7, 3, 8, 0, tzinfo=UTC)),
        # Across the clocks going back (Sunday 25 October 2026).
        (datetime(2026, 10, 24, 12, 0, tzinfo=UTC), datetime(2026, 10, 30, 9, 0, tzinfo=UTC)),
    ],
)
def test_the_draft_fires_at_week_ends_in_the_roundup_timezone(
    now: datetime, expected: datetime
) -> None:
    fire = draft_trigger(settings()).get_next_fire_time(None, now)
    assert fire == expected


def test_draft_at_overrides_week_ends_and_follows_the_timezone() -> None:
    data = {"schedule": {"draft_at": "monday 07:30"}, "roundup": {"timezone": "America/New_York"}}
    trigger = draft_trigger(settings_from_mapping(data, "<test>", environ={}))
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    assert fire == datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # 07:30 EST


def test_a_bad_draft_at_is_a_config_error() -> None:
    from roundup_bot.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"schedule\.draft_at"):
        settings(draft_at="fri 9am")
    with pytest.raises(ConfigError, match=r"schedule\.poll_feeds_every"):
        settings(poll_feeds_every="often")


def test_a_draft_missed_while_the_daemon_was_down_is_made_at_start_up() -> None:
    trigger = draft_trigger(settings())
    started_late = LONDON_WINTER_FRIDAY_9 + timedelta(minutes=40)
    assert missed_fire_time(trigger, started_late, None, DRAFT_GRACE_S) == LONDON_WINTER_FRIDAY_9
    # Already made this week: nothing to catch up.
    made = LONDON_WINTER_FRIDAY_9 + timedelta(seconds=2)
    assert missed_fire_time(trigger, started_late, made, DRAFT_GRACE_S) is None
    # Too late (the next day): wait for next week instead.
    next_day = LONDON_WINTER_FRIDAY_9 + timedelta(hours=25)
    assert missed_fire_time(trigger, next_day, None, DRAFT_GRACE_S) is None
    # Before the moment: nothing missed.
    assert (
        missed_fire_time(trigger, LONDON_WINTER_FRIDAY_9 - timedelta(minutes=1), None, 3600) is None
    )


def fixed(now: datetime) -> Clock:
    return lambda: now


def test_the_draft_job_runs_with_the_configured_moment_as_now(app: App) -> None:
    seen: list[datetime] = []

    def fake_draft(_app: App, _stop: StopSignal, clock: Clock) -> JobResult:
        seen.append(clock())
        return JobResult(True, "drafted week 2026-W48 with 10 items")

    moment = draft_trigger(app.settings).get_next_fire_time(
        None, datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    )
    assert moment == LONDON_WINTER_FRIDAY_9
    daemon = Daemon(app, jobs={JOB_DRAFT: fake_draft}, clock=fixed(moment))
    result = daemon.run_job(JOB_DRAFT)
    assert result == JobResult(True, "drafted week 2026-W48 with 10 items")
    assert seen == [LONDON_WINTER_FRIDAY_9]
    run = app.storage.job_runs.all()[JOB_DRAFT]
    assert run.last_started == LONDON_WINTER_FRIDAY_9
    assert run.last_ok is True
    assert run.last_result == "drafted week 2026-W48 with 10 items"


def test_the_daemon_catches_up_a_missed_draft_at_start(app: App) -> None:
    late = LONDON_WINTER_FRIDAY_9 + timedelta(minutes=40)
    daemon = Daemon(app, clock=fixed(late))
    job = daemon.scheduler.get_job(JOB_DRAFT)
    assert job is not None
    assert job.next_run_time == late + timedelta(seconds=1)
    on_time = Daemon(app, clock=fixed(LONDON_WINTER_FRIDAY_9 - timedelta(days=1)))
    job = on_time.scheduler.get_job(JOB_DRAFT)
    assert getattr(job, "next_run_time", None) is None  # computed from the trigger at start


def test_a_failing_job_is_logged_and_the_scheduler_carries_on(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(_app: App, _stop: StopSignal, _clock: Clock) -> JobResult:
        calls.append("broken")
        raise ZeroDivisionError("division by zero")

    def failing(_app: App, _stop: StopSignal, _clock: Clock) -> JobResult:
        calls.append("failing")
        raise SourceError("the X API answered 503")

    daemon = Daemon(
        app,
        jobs={JOB_POLL: broken, "mentions": failing, JOB_DRAFT: broken},
        clock=fixed(LONDON_WINTER_FRIDAY_9),
    )
    with caplog.at_level(logging.INFO, logger="roundup_bot.entrypoints.scheduler"):
        first = daemon.run_job(JOB_POLL)
        second = daemon.run_job("mentions")
        third = daemon.run_job(JOB_POLL)
    assert calls == ["broken", "failing", "broken"]
    assert first.ok is False
    assert first.summary == "crashed: ZeroDivisionError: division by zero"
    assert second == JobResult(False, "failed: the X API answered 503")
    assert third.ok is False
    messages = [r.getMessage() for r in caplog.records]
    assert any("job poll: starting" in m for m in messages)
    assert any("job mentions: failed: the X API answered 503" in m for m in messages)
    crash = next(r for r in caplog.records if r.getMessage() == "job poll: crashed")
    assert crash.exc_info is not None  # the traceback is logged for a bug
    runs = app.storage.job_runs.all()
    assert runs[JOB_POLL].last_ok is False
    assert runs["mentions"].last_result == "failed: the X API answered 503"
    assert app.storage.locks.holders() == {}  # locks released after failures


def test_a_job_running_elsewhere_is_skipped(app: App) -> None:
    ran: list[bool] = []

    def poll(_app: App, _stop: StopSignal, _clock: Clock) -> JobResult:
        ran.append(True)
        return JobResult(True, "polled")

    daemon = Daemon(app, jobs={JOB_POLL: poll})
    with app.storage.locks.hold(JOB_POLL, owner="cron-host:77:ab"):
        result = daemon.run_job(JOB_POLL)
    assert ran == []
    assert result.ok is None
    assert result.summary.startswith("skipped: the poll job is already running elsewhere")
    assert "cron-host:77:ab" in result.summary
    assert daemon.run_job(JOB_POLL) == JobResult(True, "polled")


def test_the_daemon_logs_each_jobs_result_and_next_run(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(app, jobs={JOB_POLL: lambda *_: JobResult(True, "no feeds due")})
    with caplog.at_level(logging.INFO, logger="roundup_bot.entrypoints.scheduler"):
        daemon.run_job(JOB_POLL)
    done = next(r for r in caplog.records if "no feeds due" in r.getMessage())
    assert "next run" in done.getMessage()
    assert done.__dict__["job"] == JOB_POLL
    assert done.__dict__["result"] == "no feeds due"


def test_a_stopping_daemon_starts_no_new_job(app: App) -> None:
    ran: list[bool] = []
    daemon = Daemon(app, jobs={JOB_POLL: lambda *_: ran.append(True) or JobResult(True, "x")})
    daemon.request_stop("test")
    assert daemon.run_job(JOB_POLL).ok is None
    assert ran == []


def test_dry_run_schedule_lists_each_job_and_its_next_run() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    rows = describe_schedule(settings(), now)
    assert [row[0] for row in rows] == ["poll", "mentions", "draft"]
    assert rows[0][2] == now + timedelta(seconds=1)
    assert rows[2][2] == LONDON_WINTER_FRIDAY_9


@pytest.mark.parametrize(
    ("now", "label"),
    [
        (LONDON_WINTER_FRIDAY_9, "2026-W48"),  # at the week's end: the week that just ended
        (LONDON_WINTER_FRIDAY_9 + timedelta(hours=2), "2026-W48"),  # a little after
        (LONDON_WINTER_FRIDAY_9 - timedelta(hours=17), "2026-W48"),  # Thursday 16:00: about to end
        (LONDON_WINTER_FRIDAY_9 + timedelta(days=4), "2026-W49"),  # Tuesday: next week is nearer
    ],
)
def test_the_draft_is_for_the_week_whose_end_is_nearest(now: datetime, label: str) -> None:
    assert week_to_draft(now, "Europe/London", "friday 09:00").label == label


def test_the_real_draft_job_drafts_the_week_that_just_ended(tmp_path: Path) -> None:
    data = {
        "database": {"url": f"sqlite:///{tmp_path / 'r.db'}"},
        "roundup": {"fetch_link_details": False, "max_per_source": 0},  # one blog
        "feeds": [{"url": "https://blog.example.gov.uk/feed", "name": "Example blog"}],
    }
    app = build_app(settings_from_mapping(data, "<test>", environ={}))
    try:
        app.sync_feeds(LONDON_WINTER_FRIDAY_9 - timedelta(days=3))
        [feed] = app.storage.feeds.for_update(LONDON_WINTER_FRIDAY_9, mode="all")
        entries = tuple(
            ParsedEntry(
                link=f"https://blog.example.gov.uk/post-{n}",
                canonical_url=f"https://blog.example.gov.uk/post-{n}",
                title=f"Post {n}",
                author=None,
                published=LONDON_WINTER_FRIDAY_9 - timedelta(days=n + 1),
                summary=f"What happened on day {n}.",
                entry_id=None,
            )
            for n in range(3)
        )
        record_parsed(
            app.storage,
            feed,
            parsed=ParsedFeed(url=feed.url, title="Example", site_url=None, entries=entries),
            etag=None,
            last_modified=None,
            permanent_url=None,
            now=LONDON_WINTER_FRIDAY_9 - timedelta(hours=1),
            next_due=LONDON_WINTER_FRIDAY_9 + timedelta(hours=1),
        )
        daemon = Daemon(app, clock=fixed(LONDON_WINTER_FRIDAY_9))  # the real jobs
        first = daemon.run_job(JOB_DRAFT)
        assert first.ok is True
        assert first.summary.startswith("created the 2026-W48 draft")
        assert first.summary.endswith("with 3 items")
        again = draft_job(app, StopSignal(), fixed(LONDON_WINTER_FRIDAY_9 + timedelta(minutes=5)))
        assert again.summary.startswith("refreshed the 2026-W48 draft")
        assert app.storage.job_runs.all()[JOB_DRAFT].last_result == first.summary
    finally:
        app.close()


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run(install_signals=False)))
    thread.start()
    return thread, codes


def only_poll(tmp_path: Path) -> App:
    data = {
        "database": {"url": f"sqlite:///{tmp_path / 'r.db'}"},
        "schedule": {"jitter": "0", "poll_mentions_every": "off", "draft_at": "off"},
    }
    return build_app(settings_from_mapping(data, "<test>", environ={}))


def test_a_stop_request_reaches_the_running_job_and_the_daemon_returns_0(tmp_path: Path) -> None:
    app = only_poll(tmp_path)
    started = threading.Event()

    def poll_until_stopped(_app: App, stop: StopSignal, _clock: Clock) -> JobResult:
        started.set()
        stop.wait(30)
        return JobResult(True, "stopped early")

    daemon = Daemon(app, jobs={JOB_POLL: poll_until_stopped})
    thread, codes = run_in_thread(daemon)
    try:
        assert started.wait(30)
        daemon.request_stop("test")
        thread.join(30)
        assert codes == [0]
        runs = app.storage.job_runs.all()
        assert runs[JOB_POLL].last_result == "stopped early"
        assert runs[JOB_POLL].next_run is None  # nothing scheduled once stopped
        assert app.storage.locks.holders() == {}
    finally:
        daemon.request_stop("cleanup")
        thread.join(30)
        app.close()


def test_a_job_that_ignores_the_stop_does_not_keep_the_process_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = only_poll(tmp_path)
    started, release = threading.Event(), threading.Event()
    exits: list[int] = []
    monkeypatch.setattr("roundup_bot.entrypoints.scheduler.os._exit", exits.append)

    def stubborn(_app: App, _stop: StopSignal, _clock: Clock) -> JobResult:
        started.set()
        release.wait(30)
        return JobResult(True, "finally")

    daemon = Daemon(app, jobs={JOB_POLL: stubborn}, stop_grace_s=0.3)
    thread, codes = run_in_thread(daemon)
    try:
        assert started.wait(30)
        with caplog.at_level(logging.ERROR, logger="roundup_bot.entrypoints.scheduler"):
            daemon.request_stop("test")
            thread.join(30)
        assert exits == [0]  # leaves with status 0 instead of hanging
        assert any("did not stop within" in r.getMessage() for r in caplog.records)
    finally:
        release.set()
        thread.join(30)
        app.close()
    assert codes == [0]


def test_a_broken_log_stream_does_not_stop_the_forced_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If stderr went away (a journal that closed), flushing it must not keep the process up."""
    app = only_poll(tmp_path)
    started, release = threading.Event(), threading.Event()
    exits: list[int] = []
    monkeypatch.setattr("roundup_bot.entrypoints.scheduler.os._exit", exits.append)
    closed = io.StringIO()
    closed.close()
    broken = logging.StreamHandler(closed)
    broken.setLevel(logging.CRITICAL + 1)  # only its flush is reached
    logging.getLogger().addHandler(broken)

    def stubborn(_app: App, _stop: StopSignal, _clock: Clock) -> JobResult:
        started.set()
        release.wait(30)
        return JobResult(True, "finally")

    daemon = Daemon(app, jobs={JOB_POLL: stubborn}, stop_grace_s=0.2)
    thread, _codes = run_in_thread(daemon)
    try:
        assert started.wait(30)
        daemon.request_stop("test")
        thread.join(30)
        assert exits == [0]
    finally:
        logging.getLogger().removeHandler(broken)
        release.set()
        thread.join(30)
        app.close()
