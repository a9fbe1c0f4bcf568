"""`roundup-bot run` as a real subprocess against local feed servers.

Intervals are a second long; every wait is bounded, and the daemon is always
killed in a ``finally``. Times are never asserted. The daemon's promise to stop
promptly on SIGTERM is tested by its mechanism: held feeds would keep a fetch
open for ten minutes (``timeout = 600``), so a daemon that waited for them
instead of stopping would never exit within the test's two-minute guard.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, write_config
from helpers.feed_server import FeedServer

from roundup_bot.core.errors import RoundupError
from roundup_bot.storage import open_storage

pytestmark = pytest.mark.slow

#: Only a guard against a hung test: a daemon that waits for its fetches needs 600 s.
STOP_GUARD_S = 120


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """/fast/<n>.xml answers at once; /slow/<n>.xml waits until the gate opens."""
    with FeedServer(held=lambda path: path.startswith("/slow/")) as running:
        yield running


def make_config(
    tmp_path: Path, server: FeedServer, fast: int, slow: int, db_url: str | None = None
) -> Path:
    url = db_url or f"sqlite:///{tmp_path / 'roundup.db'}"
    lines = [
        "[database]",
        f'url = "{url}"',
        "[polling]",
        "per_host = 16",
        "timeout = 600",
        "[schedule]",
        'poll_feeds_every = "1s"',
        'poll_mentions_every = "2s"',
        'jitter = "0"',
        'lock_wait = "0"',
    ]
    for n in range(fast):
        lines += ["[[feeds]]", f'url = "{server.url("fast", n)}"']
    for n in range(slow):
        lines += ["[[feeds]]", f'url = "{server.url("slow", n)}"']
    return write_config(tmp_path, "\n".join(lines) + "\n")


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "roundup_bot", "--config", str(config), *args]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDUP_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def status_jobs(config: Path) -> dict[str, dict[str, Any]]:
    """``status --json``'s jobs, by name."""
    done = subprocess.run(
        command(config, "status", "--json"),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=True,
    )
    return {job["name"]: job for job in json.loads(done.stdout)["jobs"]}


class Daemon:
    """The daemon subprocess; its log goes to a file (a full pipe would block it)."""

    def __init__(self, config: Path, tmp_path: Path, **env: str) -> None:
        self.log_path = tmp_path / "daemon.log"
        self.log_file = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            command(config, "--log-format", "json", "--log-level", "INFO", "run"),
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            env=environment(**env),
            cwd=tmp_path,
        )

    def log_lines(self) -> list[dict[str, object]]:
        text = self.log_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def terminate(self) -> int:
        """SIGTERM; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_GUARD_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log_file.close()


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def candidate_titles(db_url: str) -> list[str]:
    """The stored candidates' titles; [] until the daemon has created the schema."""
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
        return []
    try:
        store = open_storage(db_url, auto_migrate=False)
    except RoundupError:
        return []
    try:
        return [c.title or "" for c in store.candidates.list()]
    except RoundupError:  # not created yet
        return []
    finally:
        store.close()


def test_the_daemon_polls_and_stops_on_sigterm(tmp_path: Path, server: FeedServer) -> None:
    config = make_config(tmp_path, server, fast=3, slow=0)
    daemon = Daemon(config, tmp_path)
    try:
        db_url = f"sqlite:///{tmp_path / 'roundup.db'}"
        wait_until(lambda: len(candidate_titles(db_url)) == 3, what="3 candidates")
        wait_until(
            lambda: any("no feeds due" in str(line.get("message")) for line in daemon.log_lines()),
            what="a second poll run",
        )
        scheduled = {name: job["next_run"] for name, job in status_jobs(config).items()}
        assert scheduled["poll"] is not None
        assert scheduled["draft"] is not None  # next Friday 09:00 London
        code = daemon.terminate()
    finally:
        daemon.kill()
    assert code == 0
    lines = daemon.log_lines()  # every line is a JSON object (json.loads above)
    messages = [str(line["message"]) for line in lines]
    assert any(m.startswith("scheduled job poll") for m in messages)
    assert any(m == "job poll: starting" for m in messages)
    finished = [line for line in lines if line.get("job") == "poll" and "result" in line]
    assert finished
    assert str(finished[0]["result"]).startswith("polled 3 feeds: 3 ok")
    assert "next_run" in finished[0]
    assert any(
        "skipped: no suggestion source is enabled" in m for m in messages
    )  # mentions: X is off
    assert messages[-1] == "roundup-bot scheduler stopped"
    assert all(server.counts[f"/fast/{n}.xml"] == 1 for n in range(3))  # only due feeds
    jobs = status_jobs(config)
    assert jobs["poll"]["last_ok"] is True
    assert jobs["poll"]["running"] is False
    assert jobs["poll"]["next_run"] is None  # the daemon is gone: nothing scheduled
    assert jobs["draft"]["last_started"] is None


def test_sigterm_mid_poll_stops_without_waiting_and_keeps_the_database_consistent(
    tmp_path: Path, server: FeedServer, db_url: str
) -> None:
    config = make_config(tmp_path, server, fast=4, slow=3, db_url=db_url)
    daemon = Daemon(config, tmp_path)
    try:
        server.wait_for_held(3)
        wait_until(lambda: len(candidate_titles(db_url)) == 4, what="the fast feeds stored")
        code = daemon.terminate()
    finally:
        daemon.kill()
    assert code == 0
    messages = [str(line["message"]) for line in daemon.log_lines()]
    assert "stopping: received SIGTERM" in messages
    assert any("stopped before 3 more" in m for m in messages)
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = open_storage(db_url)
    try:
        titles = sorted(c.title or "" for c in store.candidates.list())
        assert titles == [f"Post from fast-{n}" for n in range(4)]
        for feed in store.feeds.statuses():
            if "/slow/" in feed.url:  # interrupted: left exactly as before the poll
                assert feed.last_polled is None
                assert feed.ok is None
            else:
                assert feed.ok is True
        assert store.locks.holders() == {}
        run = store.job_runs.all()["poll"]
        assert run.last_finished is not None
        assert run.last_ok is True
    finally:
        store.close()


def test_a_one_shot_poll_during_the_daemons_poll_skips_or_waits(
    tmp_path: Path, server: FeedServer, db_url: str
) -> None:
    config = make_config(tmp_path, server, fast=2, slow=2, db_url=db_url)
    daemon = Daemon(config, tmp_path)
    try:
        server.wait_for_held(2)
        skipped = subprocess.run(
            command(config, "poll"),
            capture_output=True,
            text=True,
            env=environment(),
            timeout=60,
        )
        assert skipped.returncode == 3, skipped.stderr
        assert "skipped: the poll job is already running elsewhere (held by " in skipped.stderr
        assert all(count == 1 for count in server.counts.values())  # nothing fetched twice

        # With a wait, the one-shot starts only once the daemon's poll is over.
        waiting = subprocess.Popen(
            command(config, "poll"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(ROUNDUP_SCHEDULE_LOCK_WAIT='"60s"'),
        )
        try:
            assert waiting.stderr is not None
            said = []
            for line in waiting.stderr:  # the gate opens only once it says it waits
                said.append(line)
                if "waiting up to 60 s for the poll lock" in line:
                    break
            else:
                pytest.fail(f"the one-shot never waited for the lock: {''.join(said)}")
            assert all(count == 1 for count in server.counts.values())
            server.gate.set()  # let the daemon's poll finish
            out, err = waiting.communicate(timeout=60)
        finally:
            waiting.kill()
            waiting.wait()
        assert waiting.returncode == 0, err
        assert "polled 4 feeds" in out
        code = daemon.terminate()
    finally:
        daemon.kill()
    assert code == 0
    titles = candidate_titles(db_url)
    assert sorted(titles) == sorted(set(titles))  # no duplicates
    assert len(titles) == 4
