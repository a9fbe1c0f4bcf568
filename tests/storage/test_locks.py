"""Job locks: one run of a job at a time, across processes, with crashed holders recovered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from roundup_bot.core.errors import LockHeldError
from roundup_bot.services.jobs import JobResult, guarded_run
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.locks import (
    ADVISORY_NAMESPACE,
    advisory_key,
    holder_is_dead_here,
    make_owner,
)
from roundup_bot.storage.schema import job_locks

HOLDER = """
import sys, time
from roundup_bot.storage import open_storage
store = open_storage(sys.argv[1])
with store.locks.hold("poll"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_and_named(storage: Storage, db_url: str) -> None:
    other = open_storage(db_url)
    try:
        with storage.locks.hold("poll", owner="host-a:1:x"):
            with pytest.raises(LockHeldError) as caught, other.locks.hold("poll"):
                pass
            assert caught.value.job == "poll"
            assert caught.value.holder == "host-a:1:x"
            assert "already running elsewhere" in str(caught.value)
            with other.locks.hold("draft"):  # other jobs are independent
                pass
        with other.locks.hold("poll"):  # free again once released
            pass
    finally:
        other.close()


def test_a_waiting_holder_gets_the_lock_when_it_is_released(storage: Storage, db_url: str) -> None:
    """The second holder asks while the first holds (it has been refused once and
    is pausing before its next try), and gets the lock once the first lets go."""
    other = open_storage(db_url)
    waiting = threading.Event()
    took: list[bool] = []

    def pause_and_tell(seconds: float) -> None:
        waiting.set()
        time.sleep(seconds)

    other.locks.pause = pause_and_tell

    def second_holder() -> None:
        with other.locks.hold("poll", wait=60):
            took.append(True)

    try:
        with storage.locks.hold("poll"):
            waiter = threading.Thread(target=second_holder)
            waiter.start()
            assert waiting.wait(60), "the second holder never had to wait"
        waiter.join(60)
        assert took == [True]
    finally:
        other.close()


def test_waiting_gives_up_after_the_wait(storage: Storage, db_url: str) -> None:
    other = open_storage(db_url)
    try:
        with storage.locks.hold("poll"):
            started = time.monotonic()
            with pytest.raises(LockHeldError), other.locks.hold("poll", wait=0.6):
                pass
            assert time.monotonic() - started >= 0.5
    finally:
        other.close()


def test_holders_lists_live_locks_only(storage: Storage) -> None:
    assert storage.locks.holders() == {}
    with storage.locks.hold("mentions", owner="h:1:a"):
        held = storage.locks.holders()
        assert list(held) == ["mentions"]
        assert held["mentions"].owner == "h:1:a"
    assert storage.locks.holders() == {}


def test_a_killed_holder_does_not_block_the_next_run(db_url: str) -> None:
    """PostgreSQL drops the advisory lock with the connection; on SQLite the row
    of a process that is gone from this machine is taken over at once."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE, text=True
    )
    store = open_storage(db_url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError), store.locks.hold("poll"):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with store.locks.hold("poll", wait=10):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
        store.close()


def test_an_expired_sqlite_row_is_taken_over(sqlite_url: str) -> None:
    store = open_storage(sqlite_url)
    try:
        past = datetime.now(UTC) - timedelta(minutes=5)
        with store.engine.begin() as conn:
            conn.execute(
                job_locks.insert().values(
                    name="poll",
                    owner="elsewhere.example:4242:abcd",
                    acquired_at=past - timedelta(hours=1),
                    expires_at=past,
                )
            )
        with store.locks.hold("poll"):
            assert store.locks.holders()["poll"].owner != "elsewhere.example:4242:abcd"
    finally:
        store.close()


def test_a_live_sqlite_row_from_another_machine_is_respected(sqlite_url: str) -> None:
    store = open_storage(sqlite_url)
    try:
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            conn.execute(
                job_locks.insert().values(
                    name="poll",
                    owner="elsewhere.example:4242:abcd",
                    acquired_at=now,
                    expires_at=now + timedelta(minutes=1),
                )
            )
        with pytest.raises(LockHeldError, match=r"elsewhere\.example"), store.locks.hold("poll"):
            pass
    finally:
        store.close()


def test_the_sqlite_heartbeat_keeps_a_long_run_alive(sqlite_url: str) -> None:
    """The lock's clock jumps an hour, far past the TTL: only a renewal by the
    heartbeat (every ttl/3 of real time) keeps the row from being taken over."""
    store = open_storage(sqlite_url)
    store.locks.ttl_s = 0.6  # renewed every 0.2 s
    now = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    try:
        with store.locks.hold("poll", clock=clock):
            now[0] += timedelta(hours=1)
            for _ in range(600):  # a renewal is due every 0.2 s; wait for one, however slow
                if store.locks.holders(clock=clock).get("poll") is not None:
                    break
                time.sleep(0.05)
            assert store.locks.holders(clock=clock)["poll"].expires_at > now[0]
            with pytest.raises(LockHeldError), store.locks.hold("poll", clock=clock):
                pass
    finally:
        store.close()


def test_dead_holder_detection() -> None:
    assert not holder_is_dead_here(make_owner())  # this very process
    assert not holder_is_dead_here("another-host.invalid:1:x")
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone_pid = int(finished.stdout)
    host = make_owner().split(":")[0]
    assert holder_is_dead_here(f"{host}:{gone_pid}:x")
    assert not holder_is_dead_here(f"{host}:{os.getppid()}:x")


def test_guarded_run_records_the_run(storage: Storage) -> None:
    times = iter(datetime(2026, 11, 20, 9, m, tzinfo=UTC) for m in range(10))
    with guarded_run(storage, "poll", clock=lambda: next(times)) as record:
        record.result = JobResult(True, "polled 3 feeds")
    run = storage.job_runs.all()["poll"]
    assert run.last_ok is True
    assert run.last_result == "polled 3 feeds"
    assert run.last_started == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert run.last_finished == datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError), guarded_run(storage, "poll"):
        raise RuntimeError("boom")
    run = storage.job_runs.all()["poll"]
    assert run.last_ok is False
    assert run.last_result == "failed: boom"
    assert storage.locks.holders() == {}


def _drop_lock_connection(store: Storage, job: str) -> int:
    """Kill, from another connection, the server session holding ``job``'s advisory
    lock (as a server restart or a network cut would); returns how many were killed."""
    with store.engine.connect() as conn:
        key = advisory_key(str(conn.execute(text("SELECT current_schema()")).scalar_one()), job)
        killed = conn.execute(
            text(
                # With a timeout, pg_terminate_backend waits until the session has
                # ended (and its locks are gone) instead of only signalling it.
                "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid::bigint = :ns "
                "AND objid::bigint = :key AND pid <> pg_backend_pid()"
            ),
            {"ns": ADVISORY_NAMESPACE, "key": key % (1 << 32)},
        ).scalar_one()
    return int(killed)


def _wait_for(text_wanted: str, caplog: pytest.LogCaptureFixture, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while text_wanted not in caplog.text:
        assert time.monotonic() < deadline, f"never logged: {text_wanted!r}\n{caplog.text}"
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_dropped_lock_connection_is_noticed_and_the_lock_taken_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, other = open_storage(postgres_url), open_storage(postgres_url)
    store.locks.ttl_s = 0.3
    try:
        with store.locks.hold("poll", owner="host-a:1:x"):
            assert _drop_lock_connection(other, "poll") == 1
            _wait_for("took the poll lock again on a new database connection", caplog)
            with pytest.raises(LockHeldError), other.locks.hold("poll"):
                pass
        with other.locks.hold("poll"):  # and it is released at the end as usual
            pass
    finally:
        store.close()
        other.close()


@pytest.mark.postgres
def test_a_lock_lost_to_another_run_is_reported(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, other = open_storage(postgres_url), open_storage(postgres_url)
    store.locks.ttl_s = 6.0  # the watcher looks every 2 s: the other run is quicker
    try:
        with store.locks.hold("poll"):
            assert _drop_lock_connection(other, "poll") == 1
            with other.locks.hold("poll"):
                _wait_for("another run has taken it", caplog)
        assert "poll" not in other.locks.holders()
    finally:
        store.close()
        other.close()
