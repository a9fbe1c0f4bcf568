"""Polling concurrently, politely, and surviving being killed.

* per_host and concurrency bounds, measured at real local servers;
* a ``python -m roundup_bot poll`` killed with SIGKILL part-way leaves a
  consistent database and the next poll completes;
* two polls started together (SQLite, PostgreSQL, and PostgreSQL workers)
  create no duplicates; nor do concurrent writers of overlapping entries.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run_cli, start_cli
from helpers.feeds import record_parsed
from helpers.server import InFlight, LocalServer, Reply, SeenRequest, rss, wait_for
from sqlalchemy import create_engine, text

from roundup_bot.core.records import ConfiguredFeed, ParsedEntry, ParsedFeed
from roundup_bot.storage import Storage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def write_config(path: Path, db_url: str, urls: list[str], **polling: Any) -> Path:
    lines = [f"[database]\nurl = {json.dumps(db_url)}\n", "[schedule]", 'lock_wait = "90s"\n']
    lines.append("[polling]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in polling.items()]
    for url in urls:
        lines += ["\n[[feeds]]", f"url = {json.dumps(url)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def feed_doc(i: int) -> str:
    return rss(
        [
            (f"https://example.org/f{i}/1", f"Feed {i} one"),
            (f"https://example.org/f{i}/2", f"Feed {i} two"),
            (f"https://example.org/shared?utm_source=feed{i}", "Shared story"),
        ]
    )


@pytest.fixture
def slow_feeds() -> Iterator[tuple[LocalServer, list[str]]]:
    with LocalServer() as server:
        urls = [
            server.route(
                f"/f{i}.xml",
                Reply(200, {"Content-Type": "text/xml"}, feed_doc(i).encode(), delay=0.25),
            )
            for i in range(30)
        ]
        yield server, urls


# --- bounds ------------------------------------------------------------------------------


def test_no_more_than_per_host_requests_at_one_server(tmp_path: Path, sqlite_url: str) -> None:
    shared = InFlight()
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
    servers = [LocalServer(host, shared).__enter__() for host in hosts]
    try:

        def side_by_side(i: int) -> Callable[[SeenRequest], Reply]:
            def answer(_seen: SeenRequest) -> Reply:
                shared.wait_for_max(3)  # held until three are in flight (or 30 s pass)
                return Reply(200, {}, feed_doc(i).encode(), delay=0.3)

            return answer

        urls = [
            server.route(f"/f{i}.xml", side_by_side(i))
            for n, server in enumerate(servers)
            for i in range(n * 4, n * 4 + 4)
        ]
        config = write_config(tmp_path / "c.toml", sqlite_url, urls, per_host=2, concurrency=5)
        result = run_cli(["--config", str(config), "poll", "--quiet"])
        assert result.code == 0, result
        assert "16 ok" in result.stdout
        for server in servers:
            assert len(server.requests) == 4
            assert server.max_in_flight <= 2
        assert shared.max <= 5
        assert shared.max >= 3  # they really ran side by side (never timed: see side_by_side)
    finally:
        for server in servers:
            server.close()


def test_per_host_one_serialises_a_host(tmp_path: Path, sqlite_url: str) -> None:
    with LocalServer() as server:
        urls = [
            server.route(f"/f{i}.xml", Reply(200, {}, feed_doc(i).encode(), delay=0.75))
            for i in range(8)
        ]
        # One at a time, the last answer comes after 6 s: more than the 5 s deadline,
        # while each fetch alone has over 4 s to spare, however loaded the machine.
        config = write_config(tmp_path / "c.toml", sqlite_url, urls, per_host=1, timeout=5)
        result = run_cli(["--config", str(config), "poll", "--quiet"])
        assert result.code == 0, result
        assert "8 ok" in result.stdout  # queueing did not eat anyone's deadline
        assert server.max_in_flight == 1


# --- killed part-way ---------------------------------------------------------------------


def check_consistent(db_file: Path) -> tuple[int, int]:
    """integrity_check, no duplicates, no candidate without a source; returns
    (feeds polled, candidates)."""
    conn = sqlite3.connect(db_file)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        dupes = conn.execute(
            "SELECT url FROM candidates GROUP BY url HAVING count(*) > 1"
        ).fetchall()
        assert dupes == []
        orphans = conn.execute(
            "SELECT count(*) FROM candidates c WHERE NOT EXISTS "
            "(SELECT 1 FROM candidate_sources s WHERE s.candidate_id = c.id)"
        ).fetchone()[0]
        assert orphans == 0
        source_dupes = conn.execute(
            "SELECT candidate_id, source_ref FROM candidate_sources "
            "GROUP BY candidate_id, kind, source_ref HAVING count(*) > 1"
        ).fetchall()
        assert source_dupes == []
        # A feed recorded as polled has all of its entries stored (one transaction).
        done = conn.execute("SELECT id FROM feeds WHERE last_success IS NOT NULL").fetchall()
        for (feed_id,) in done:
            count = conn.execute(
                "SELECT count(*) FROM candidate_sources WHERE feed_id = ?", (feed_id,)
            ).fetchone()[0]
            assert count == 3, feed_id
        candidates = conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
        return len(done), candidates
    finally:
        conn.close()


def polled_count(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1)
        try:
            return int(
                conn.execute(
                    "SELECT count(*) FROM feeds WHERE last_success IS NOT NULL"
                ).fetchone()[0]
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created or migrated yet


@pytest.mark.slow
def test_a_poll_killed_part_way_leaves_a_consistent_database(
    tmp_path: Path, slow_feeds: tuple[LocalServer, list[str]]
) -> None:
    _server, urls = slow_feeds
    db_file = tmp_path / "roundup.db"
    config = write_config(tmp_path / "c.toml", f"sqlite:///{db_file}", urls, concurrency=2)
    proc = start_cli(["--config", str(config), "poll", "--quiet"])
    try:
        assert wait_for(lambda: polled_count(db_file) >= 6, timeout=60), proc.stderr
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert still_running, "the poll finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    polled, _candidates = check_consistent(db_file)
    assert 6 <= polled < 30

    result = run_cli(["--config", str(config), "poll", "--quiet"])
    assert result.code == 0, result
    polled, candidates = check_consistent(db_file)
    assert polled == 30
    assert candidates == 30 * 2 + 1
    conn = sqlite3.connect(db_file)
    try:
        shared = conn.execute(
            "SELECT count(*) FROM candidate_sources s JOIN candidates c ON c.id = s.candidate_id "
            "WHERE c.url = 'https://example.org/shared'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert shared == 30


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (Linux /proc; zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_parse_workers_of_a_killed_poll_do_not_linger(tmp_path: Path) -> None:
    """A big run parses in worker processes; SIGKILL on the poll must not orphan them."""
    with LocalServer() as server:
        urls = [
            server.route(f"/f{i}.xml", Reply(200, {}, feed_doc(i).encode(), delay=0.2))
            for i in range(40)
        ]
        db_file = tmp_path / "roundup.db"
        config = write_config(tmp_path / "c.toml", f"sqlite:///{db_file}", urls, concurrency=4)
        proc = start_cli(
            ["--config", str(config), "poll", "--quiet"], capture=False, new_group=True
        )
        group = proc.pid  # the poll and everything it starts
        try:
            assert wait_for(lambda: polled_count(db_file) >= 4, timeout=60)
            assert len(group_members(group)) > 1, "the poll parsed without worker processes"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert wait_for(lambda: group_members(group) == [], 20), group_members(group)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)  # never leave any behind
            proc.wait(10)


# --- two polls at once -------------------------------------------------------------------


def run_two(config: Path, *args: str) -> None:
    procs = [start_cli(["--config", str(config), "poll", "--quiet", *args]) for _ in range(2)]
    outputs = [p.communicate(timeout=110) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err


def check_no_duplicates(db_url: str, feeds: int) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            dupes = conn.execute(
                text("SELECT url FROM candidates GROUP BY url HAVING count(*) > 1")
            ).all()
            assert dupes == []
            assert conn.execute(text("SELECT count(*) FROM candidates")).scalar_one() == (
                feeds * 2 + 1
            )
            orphans = conn.execute(
                text(
                    "SELECT count(*) FROM candidates c WHERE NOT EXISTS "
                    "(SELECT 1 FROM candidate_sources s WHERE s.candidate_id = c.id)"
                )
            ).scalar_one()
            assert orphans == 0
            shared = conn.execute(
                text(
                    "SELECT count(*) FROM candidate_sources s JOIN candidates c "
                    "ON c.id = s.candidate_id WHERE c.url = 'https://example.org/shared'"
                )
            ).scalar_one()
            assert shared == feeds
    finally:
        engine.dispose()


@pytest.fixture
def quick_feeds() -> Iterator[list[str]]:
    with LocalServer() as server:
        yield [
            server.route(f"/f{i}.xml", Reply(200, {}, feed_doc(i).encode(), delay=0.05))
            for i in range(12)
        ]


@pytest.mark.slow
def test_two_polls_at_once_on_sqlite_create_no_duplicates(
    tmp_path: Path, sqlite_url: str, quick_feeds: list[str]
) -> None:
    config = write_config(tmp_path / "c.toml", sqlite_url, quick_feeds, concurrency=4)
    run_two(config)
    check_no_duplicates(sqlite_url, len(quick_feeds))
    assert check_consistent(Path(sqlite_url.removeprefix("sqlite:///")))[0] == len(quick_feeds)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_polls_at_once_on_postgresql_create_no_duplicates(
    tmp_path: Path, postgres_url: str, quick_feeds: list[str]
) -> None:
    config = write_config(tmp_path / "c.toml", postgres_url, quick_feeds, concurrency=4)
    run_two(config)
    check_no_duplicates(postgres_url, len(quick_feeds))


@pytest.mark.slow
@pytest.mark.postgres
def test_two_poll_workers_at_once_on_postgresql_create_no_duplicates(
    tmp_path: Path, postgres_url: str, quick_feeds: list[str]
) -> None:
    config = write_config(tmp_path / "c.toml", postgres_url, quick_feeds, concurrency=4)
    assert run_cli(["--config", str(config), "init"]).code == 0
    run_two(config, "--worker")
    check_no_duplicates(postgres_url, len(quick_feeds))


def test_concurrent_writers_of_overlapping_entries_neither_deadlock_nor_duplicate(
    storage: Storage,
) -> None:
    """Several feeds carrying the same articles in different orders, stored at once."""
    writers = 4
    storage.feeds.sync(
        [
            ConfiguredFeed(f"https://f{i}.example.org/feed", f"F{i}", 1.0, True)
            for i in range(writers)
        ],
        NOW,
    )
    feeds = storage.feeds.for_update(NOW)
    urls = [f"https://example.org/article/{n}" for n in range(150)]
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(feed_index: int) -> None:
        order = urls[:]
        random.Random(feed_index).shuffle(order)
        entries = tuple(
            ParsedEntry(
                link=url,
                canonical_url=url,
                title=f"{url} by {feed_index}",
                author=None,
                published=NOW,
                summary=None,
                entry_id=url,
            )
            for url in order
        )
        feed = feeds[feed_index]
        parsed = ParsedFeed(url=feed.url, title=None, site_url=None, entries=entries)
        start.wait()
        try:
            for _ in range(2):
                record_parsed(
                    storage,
                    feed,
                    parsed=parsed,
                    etag=None,
                    last_modified=None,
                    permanent_url=None,
                    now=NOW,
                    next_due=NOW,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    found = storage.candidates.list()
    assert len(found) == len(urls)
    assert all(len(c.sources) == writers for c in found)
