"""``roundup-bot run``: the scheduler daemon (the only module that imports APScheduler).

APScheduler 3.x is used the way it wants to be used when the scheduler *is*
the process: a ``BlockingScheduler`` in the main thread, jobs built afresh
from the config at every start-up in the memory job store (nothing to
migrate or to share between processes), and the run-once-at-a-time rules set
on purpose:

* ``max_instances=1`` - a job still running when its next time comes is not
  started twice (the database lock also covers other processes);
* ``coalesce=True`` - runs missed while the process was busy or suspended
  collapse into one;
* ``misfire_grace_time`` - a poll that is late by up to one interval still
  runs; the draft still runs up to :data:`DRAFT_GRACE_S` late.

Each job logs its start, its result and its next run time, and stores them in
``job_runs`` for ``roundup-bot status``. A job that fails is logged and the
scheduler carries on. SIGTERM or SIGINT stops it: the running poll is told to
stop (each feed already polled is stored in its own transaction), the
scheduler shuts down, and the process exits 0 within a few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ADDED,
    EVENT_SCHEDULER_STARTED,
    JobEvent,
    SchedulerEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from roundup_bot.config import Settings, parse_duration
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.errors import LockHeldError, RoundupError
from roundup_bot.core.weeks import week_end_parts
from roundup_bot.services.app import App
from roundup_bot.services.jobs import (
    JOB_DRAFT,
    JOB_MENTIONS,
    JOB_POLL,
    JOB_WORDPRESS,
    JOBS,
    JobFunction,
    JobResult,
    StopSignal,
    guarded_run,
)

log = logging.getLogger(__name__)

#: How late the weekly draft may still be made (the machine was asleep, the
#: scheduler busy): half a day, so a Friday-morning draft is never made on Saturday.
DRAFT_GRACE_S = 12 * 3600
#: After a stop request, how long running jobs get to finish before the process leaves.
STOP_GRACE_S = 8.0
#: How often the wordpress job looks for failed posts whose backoff has passed (one query).
RETRY_EVERY = "1m"
#: The first polls run this soon after start-up (only due feeds, so cheap).
START_DELAY_S = 1.0

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class JobPlan:
    """One job as the config asks for it: what runs, when, and how late it may be."""

    id: str
    description: str
    trigger: BaseTrigger
    misfire_grace_s: int
    run_at_start: bool


def _off(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "off"


def draft_trigger(settings: Settings) -> CronTrigger:
    """``[schedule] draft_at`` (default ``[roundup] week_ends``), weekly, in the round-up's zone."""
    moment = settings.schedule.draft_at or settings.roundup.week_ends
    weekday, hour, minute = week_end_parts(moment)
    return CronTrigger(
        day_of_week=_DAYS[weekday],
        hour=hour,
        minute=minute,
        timezone=ZoneInfo(settings.roundup.timezone),
    )


def plan_jobs(settings: Settings) -> list[JobPlan]:
    """The jobs the config asks for, with their triggers. Pure: no I/O, no clock."""
    schedule = settings.schedule
    zone = ZoneInfo(settings.roundup.timezone)
    jitter = schedule.jitter_seconds
    plans: list[JobPlan] = []
    if not _off(schedule.poll_feeds_every):
        plans.append(
            _every(JOB_POLL, "poll due feeds", schedule.poll_feeds_every, jitter, 0.5, zone)
        )
    if not _off(schedule.poll_mentions_every):
        plans.append(
            _every(
                JOB_MENTIONS, "read suggestions", schedule.poll_mentions_every, jitter, 0.25, zone
            )
        )
    if settings.wordpress.enabled:
        plans.append(_every(JOB_WORDPRESS, "retry failed WordPress posts", RETRY_EVERY, 0, 0, zone))
    if not _off(schedule.draft_at):
        moment = schedule.draft_at or settings.roundup.week_ends
        plans.append(
            JobPlan(
                id=JOB_DRAFT,
                description=f"make the draft every {moment} ({settings.roundup.timezone})",
                trigger=draft_trigger(settings),
                misfire_grace_s=DRAFT_GRACE_S,
                run_at_start=False,
            )
        )
    return plans


def _every(
    job: str, what: str, every_text: str, jitter_s: float, share: float, zone: ZoneInfo
) -> JobPlan:
    """A job run at start and then every ``every_text``; its jitter is capped at
    ``share`` of the interval, and a missed run is made up within one interval."""
    every = parse_duration(every_text)
    return JobPlan(
        id=job,
        description=f"{what} every {every_text}",
        trigger=IntervalTrigger(
            seconds=every, jitter=_jitter(jitter_s, every, share), timezone=zone
        ),
        misfire_grace_s=max(int(every), 1),
        run_at_start=True,
    )


def _jitter(jitter_s: float, every_s: float, share: float) -> int | None:
    """Jitter spreads load between installations; never more than a share of the interval."""
    capped = int(min(jitter_s, every_s * share))
    return capped or None


def missed_fire_time(
    trigger: BaseTrigger, now: datetime, last_started: datetime | None, grace_s: float
) -> datetime | None:
    """The fire time within the last ``grace_s`` seconds that has not run yet, if any.

    Lets a daemon that was down at Friday 09:00 and starts at 09:40 still make
    the draft. Pure: everything comes in as arguments.
    """
    earliest = now - timedelta(seconds=grace_s)
    if last_started is not None and last_started > earliest:
        earliest = last_started + timedelta(seconds=1)
    fire: datetime | None = trigger.get_next_fire_time(None, earliest)
    if fire is not None and fire <= now:
        return fire
    return None


class Daemon:
    """Builds the scheduler from the app's settings and runs it until told to stop."""

    def __init__(
        self,
        app: App,
        *,
        jobs: Mapping[str, JobFunction] | None = None,
        clock: Clock = utc_now,
        stop_grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.app = app
        self.jobs = {**JOBS, **(jobs or {})}
        self.clock = clock
        self.stop_grace_s = stop_grace_s
        self.stop = StopSignal()
        self.plans = plan_jobs(app.settings)
        self.scheduler = self._build()
        self._started = threading.Event()
        self._running = 0
        self._running_changed = threading.Condition()
        self._stop_reason = "asked to stop"

    def _build(self) -> BlockingScheduler:
        # APScheduler's own INFO lines repeat ours; keep its warnings (a run skipped
        # because the previous one is still going, a run missed by too much).
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=max(len(self.plans), 1))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=ZoneInfo(self.app.settings.roundup.timezone),
        )
        now = self.clock()
        last_runs = self.app.storage.job_runs.all()
        for plan in self.plans:
            first: datetime | None = None
            if plan.run_at_start:
                first = now + timedelta(seconds=START_DELAY_S)
            elif plan.id == JOB_DRAFT:
                last = last_runs.get(plan.id)
                missed = missed_fire_time(
                    plan.trigger, now, last.last_started if last else None, plan.misfire_grace_s
                )
                if missed is not None:
                    log.info("the %s job missed its run at %s; running it now", plan.id, missed)
                    first = now + timedelta(seconds=START_DELAY_S)
            options: dict[str, Any] = {}
            if first is not None:
                options["next_run_time"] = first
            scheduler.add_job(
                self.run_job,
                trigger=plan.trigger,
                args=(plan.id,),
                id=plan.id,
                name=plan.description,
                misfire_grace_time=plan.misfire_grace_s,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
                **options,
            )
        scheduler.add_listener(self._on_event, EVENT_JOB_ADDED | EVENT_SCHEDULER_STARTED)
        return scheduler

    # -- running jobs -------------------------------------------------------------------

    def run_job(self, job_id: str) -> JobResult:
        """Run one job under its lock; log and record how it went; never raise."""
        with self._running_changed:
            self._running += 1
        try:
            return self._run_job(job_id)
        finally:
            with self._running_changed:
                self._running -= 1
                self._running_changed.notify_all()

    def _run_job(self, job_id: str) -> JobResult:
        if self.stop.is_set():
            return JobResult(None, "skipped: stopping")
        extra = {"job": job_id}
        log.info("job %s: starting", job_id, extra=extra)
        started = time.monotonic()
        try:
            with guarded_run(self.app.storage, job_id, clock=self.clock) as record:
                record.result = self.jobs[job_id](self.app, self.stop, self.clock)
            result = record.result
        except LockHeldError as exc:
            result = JobResult(None, f"skipped: {exc}")
        except RoundupError as exc:
            result = JobResult(False, f"failed: {exc}")
        except Exception as exc:  # a bug in a job must not stop the scheduler
            log.exception("job %s: crashed", job_id, extra=extra)
            result = JobResult(False, f"crashed: {type(exc).__name__}: {exc}")
        next_run = self._next_run(job_id)
        level = logging.ERROR if result.ok is False else logging.INFO
        log.log(
            level,
            "job %s: %s (%.1f s); next run %s",
            job_id,
            result.summary,
            time.monotonic() - started,
            _when(next_run),
            extra={**extra, "result": result.summary, "next_run": _when(next_run)},
        )
        return result

    def _next_run(self, job_id: str) -> datetime | None:
        job = self.scheduler.get_job(job_id) if self.scheduler.running else None
        when: datetime | None = job.next_run_time if job is not None else None
        try:
            self.app.storage.job_runs.set_next_run(job_id, when)
        except RoundupError as exc:
            log.warning("could not record the next run of %s: %s", job_id, exc)
        return when

    def _on_event(self, event: SchedulerEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED:
            self._started.set()
            return
        if isinstance(event, JobEvent):
            job = self.scheduler.get_job(event.job_id)
            if job is not None and job.next_run_time is not None:
                log.info(
                    "scheduled job %s (%s); next run %s",
                    job.id,
                    job.name,
                    _when(job.next_run_time),
                    extra={"job": job.id, "next_run": _when(job.next_run_time)},
                )
                try:
                    self.app.storage.job_runs.set_next_run(job.id, job.next_run_time)
                except RoundupError as exc:
                    log.warning("could not record the next run of %s: %s", job.id, exc)

    # -- starting and stopping -------------------------------------------------------------

    def request_stop(self, reason: str = "asked to stop") -> None:
        """Thread-safe; the scheduler stops and running jobs are told to stop."""
        self._stop_reason = reason
        self.stop.flag()

    def run(self, *, install_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or :meth:`request_stop`); returns the exit status."""
        if not self.plans:
            log.warning("every job is switched off in [schedule]; nothing to do")
            return 0
        previous: dict[signal.Signals, Any] = {}
        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        watcher = threading.Thread(target=self._watch_stop, name="roundup-stop", daemon=True)
        watcher.start()
        try:
            log.info("roundup-bot scheduler starting with %d jobs", len(self.plans))
            self.scheduler.start()  # blocks until shut down
            self._wait_for_jobs()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            try:
                self.app.storage.job_runs.clear_next_runs()
            except RoundupError as exc:
                log.warning("could not clear the schedule in job_runs: %s", exc)
        log.info("roundup-bot scheduler stopped")
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only raise a flag here; the watcher thread does the work outside the handler.
        self._stop_reason = f"received {signal.Signals(signum).name}"
        self.stop.flag()

    def _watch_stop(self) -> None:
        self.stop.wait()
        log.info("stopping: %s", self._stop_reason)
        self.stop.set()  # reaches the event loop of a poll in progress
        self._started.wait(timeout=10)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _wait_for_jobs(self) -> None:
        deadline = time.monotonic() + self.stop_grace_s
        with self._running_changed:
            while self._running and time.monotonic() < deadline:
                self._running_changed.wait(timeout=max(deadline - time.monotonic(), 0.01))
            still = self._running
        if still:
            log.error(
                "%d job(s) did not stop within %g s; leaving anyway "
                "(everything stored so far is complete: each result is its own transaction)",
                still,
                self.stop_grace_s,
            )
            # A closed or broken log stream (a journal that went away) must not stop the exit.
            for handler in logging.getLogger().handlers:
                with contextlib.suppress(OSError, ValueError):
                    handler.flush()
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os._exit(0)


def describe_schedule(settings: Settings, now: datetime) -> list[tuple[str, str, datetime | None]]:
    """(job, description, next run) for each job, as ``run --dry-run`` shows them. Pure."""
    out = []
    for plan in plan_jobs(settings):
        first = now + timedelta(seconds=START_DELAY_S) if plan.run_at_start else None
        out.append((plan.id, plan.description, first or plan.trigger.get_next_fire_time(None, now)))
    return out


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "not scheduled"


__all__ = [
    "DRAFT_GRACE_S",
    "Daemon",
    "JobPlan",
    "describe_schedule",
    "draft_trigger",
    "missed_fire_time",
    "plan_jobs",
]
