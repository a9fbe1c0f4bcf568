"""Scale-out: several `poll --worker` processes share one PostgreSQL database.

A local HTTP server counts the requests for each feed path: however the due
feeds are split, each must be fetched exactly once per round.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, write_config
from helpers.feed_server import FeedServer
from sqlalchemy import func, update

from roundup_bot.config import load_settings
from roundup_bot.core.errors import LockHeldError
from roundup_bot.core.records import ConfiguredFeed
from roundup_bot.services.app import build_app
from roundup_bot.services.jobs import StopSignal, lease_seconds, poll_worker_job
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.schema import feeds as feeds_table

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer(delay=0.01) as running:
        yield running


def config_for(
    tmp_path: Path, db_url: str, server: FeedServer, feeds: int, fetch_timeout: int = 10
) -> Path:
    lines = [
        "[database]",
        f'url = "{db_url}"',
        "[polling]",
        "concurrency = 8",
        "per_host = 8",
        f"timeout = {fetch_timeout}",
        "[schedule]",
        'lock_wait = "30s"',
    ]
    for n in range(feeds):
        lines += ["[[feeds]]", f'url = "{server.url("feed", n)}"']
    return write_config(tmp_path, "\n".join(lines) + "\n")


def cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "roundup_bot", "--config", str(config), *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_fetch_each_of_300_feeds_exactly_once(
    tmp_path: Path, postgres_url: str, server: FeedServer
) -> None:
    config = config_for(tmp_path, postgres_url, server, 300)
    subprocess.run(cli(config, "init"), check=True, env=env(), timeout=60, capture_output=True)
    workers = [
        subprocess.Popen(
            cli(config, "poll", "--worker", "--quiet"),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            outputs.append(out)
            assert worker.returncode == 0, err
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    paths = {f"/feed/{n}.xml" for n in range(300)}
    assert set(server.counts) == paths
    assert [path for path, count in server.counts.items() if count != 1] == []
    polled = [int(out.split("polled ", 1)[1].split(" ", 1)[0]) for out in outputs]
    assert sum(polled) == 300
    assert sum(1 for n in polled if n > 0) >= 2  # the work really was shared
    store = open_storage(postgres_url)
    try:
        assert store.candidates.count() == 300
        statuses = store.feeds.statuses()
        assert all(s.ok for s in statuses)
        assert store.leases.leased() == {}
    finally:
        store.close()


@pytest.mark.postgres
def test_a_dead_workers_feeds_are_only_delayed(
    tmp_path: Path, postgres_url: str, server: FeedServer
) -> None:
    settings = load_settings(config_for(tmp_path, postgres_url, server, 20))
    app = build_app(settings)
    try:
        now = datetime.now(UTC)
        app.sync_feeds(now)
        # A worker claims a batch and dies before fetching it.
        dead = app.storage.leases.claim("dead-host:1:x", now, lease_s=300, limit=5)
        assert len(dead) == 5
        result = poll_worker_job(app, StopSignal(), "live:2:y", clock=lambda: now)
        assert "polled 15 feeds" in result.summary
        assert sum(server.counts.values()) == 15
        dead_paths = {f"/feed/{int(f.url.rsplit('/', 1)[1][:-4])}.xml" for f in dead}
        assert not dead_paths & set(server.counts)
        # Once the lease has run out (by the database's clock), the next round picks them up.
        expire_leases(app.storage, "dead-host:1:x")
        later = now + timedelta(seconds=301)
        result = poll_worker_job(app, StopSignal(), "live:2:y", clock=lambda: later)
        assert "polled 5 feeds" in result.summary
        assert set(server.counts) >= dead_paths
        assert [p for p, c in server.counts.items() if c != 1] == []
    finally:
        app.close()


@pytest.mark.postgres
def test_claims_never_overlap(postgres_url: str) -> None:
    store = open_storage(postgres_url)
    try:
        store.feeds.sync(
            [ConfiguredFeed(f"https://b{n}.example/feed", None, 1.0, True) for n in range(10)],
            NOW,
        )
        first = store.leases.claim("a", NOW, lease_s=60, limit=4)
        second = store.leases.claim("b", NOW, lease_s=60, limit=100)
        assert len(first) == 4
        assert len(second) == 6
        assert not {f.id for f in first} & {f.id for f in second}
        assert store.leases.claim("c", NOW, lease_s=60, limit=100) == []
        store.leases.release("a", [f.id for f in first])
        assert len(store.leases.claim("c", NOW, lease_s=60, limit=100)) == 4
        # A worker whose clock runs an hour ahead still sees the leases as live...
        assert store.leases.claim("d", NOW + timedelta(hours=1), lease_s=60, limit=100) == []
        # ...until they run out by the database's clock.
        expire_leases(store, "b")
        assert len(store.leases.claim("d", NOW, lease_s=60, limit=100)) == 6
        assert set(store.leases.leased().values()) == {"c", "d"}
    finally:
        store.close()


def expire_leases(store: Storage, owner: str) -> None:
    """As if the owner's leases had run out: moved into the past by the database's clock."""
    with store.engine.begin() as conn:
        conn.execute(
            update(feeds_table)
            .where(feeds_table.c.lease_owner == owner)
            .values(lease_until=func.now() - timedelta(seconds=1))
        )


@pytest.mark.postgres
def test_workers_share_the_poll_lock_but_a_plain_poll_excludes_them(postgres_url: str) -> None:
    one, two = open_storage(postgres_url), open_storage(postgres_url)

    def can_hold(store: Storage, *, shared: bool) -> bool:
        try:
            with store.locks.hold("poll", shared=shared):
                return True
        except LockHeldError:
            return False

    try:
        with one.locks.hold("poll", shared=True), two.locks.hold("poll", shared=True):
            assert can_hold(one, shared=True)
            assert not can_hold(one, shared=False)
        with one.locks.hold("poll"):
            assert not can_hold(two, shared=True)
    finally:
        one.close()
        two.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_stopped_mid_round_gives_its_feeds_back(tmp_path: Path, postgres_url: str) -> None:
    with FeedServer(held=lambda _path: True) as server:
        # Held fetches would last ten minutes: a worker that waited for them instead
        # of stopping would never exit within communicate()'s guard (no time asserted).
        config = config_for(tmp_path, postgres_url, server, 12, fetch_timeout=600)
        subprocess.run(cli(config, "init"), check=True, env=env(), timeout=60, capture_output=True)
        worker = subprocess.Popen(
            cli(config, "poll", "--worker", "--quiet"),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            server.wait_for_held(8)  # a whole batch (concurrency = 8) is in flight
            store = open_storage(postgres_url)
            try:
                assert len(store.leases.leased()) == 8
                worker.send_signal(signal.SIGTERM)
                out, err = worker.communicate(timeout=120)
                assert worker.returncode == 0, err
                assert "polled 0 feeds" in out
                assert store.leases.leased() == {}  # due again at once
                assert all(status.last_polled is None for status in store.feeds.statuses())
                assert store.locks.holders() == {}
            finally:
                store.close()
        finally:
            worker.kill()
            worker.communicate()


def test_worker_is_refused_on_sqlite(tmp_path: Path, sqlite_url: str) -> None:
    with FeedServer() as server:
        config = config_for(tmp_path, sqlite_url, server, 2)
        done = subprocess.run(
            cli(config, "poll", "--worker"), env=env(), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2
        assert "poll --worker needs PostgreSQL" in done.stderr
        assert sum(server.counts.values()) == 0


def test_lease_length_covers_a_whole_batch_on_one_host() -> None:
    assert lease_seconds(20.0, 16, 2) == 20.0 * 8 + 60
    assert lease_seconds(5.0, 3, 8) == 5.0 + 60
