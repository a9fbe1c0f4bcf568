"""Job locks: one run of a job at a time, across processes and machines.

The daemon and cron one-shots (``poll``, ``mentions``, ``draft``) take the
job's lock before they start, so the same job never runs twice at once. The
lock lives in the database, which every process and machine already shares:

* **PostgreSQL**: a session-level advisory lock, held on a dedicated
  connection for the job's duration. When the holder dies, its connection
  closes and the server drops the lock at once. ``poll --worker`` processes
  take the poll lock *shared*, so workers run side by side while a plain
  ``poll`` (exclusive) waits for all of them, and they for it. The reverse
  can happen too: a connection that drops mid-job (a server restart, a
  network cut, noticed through TCP keepalives within about a minute) takes
  the lock with it. A watcher thread notices within
  ``ttl_s / 3`` seconds and takes the lock again on a new connection; if
  another run got it first, it says so (the jobs are safe to overlap, but
  the work is done twice).
* **SQLite**: a row in ``job_locks`` with an expiry. A heartbeat thread pushes
  the expiry forward while the job runs, so a holder that crashed blocks
  others only until its row expires; a holder on this same machine whose
  process is gone is recognised at once. SQLite has no shared mode (and no
  workers: ``poll --worker`` needs PostgreSQL).

A row is also kept on PostgreSQL, for information only (who holds it), so
``status`` and the "skipped" message can name the holder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.errors import LockHeldError, StorageError
from roundup_bot.core.numbers import whole_number
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.db import _short
from roundup_bot.storage.schema import job_locks

log = logging.getLogger(__name__)

#: First half of every advisory lock key: roundup-bot's namespace ("rbot").
ADVISORY_NAMESPACE = 0x72626F74
#: How long a SQLite lock row stays valid without a heartbeat.
DEFAULT_TTL_S = 60.0
_RETRY_S = 0.25


def make_owner() -> str:
    """host:pid:nonce. The nonce tells two holds in one process apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advisory_key(scope: str, job: str) -> int:
    """A stable signed 32-bit key for a job (second half of the advisory key).

    ``scope`` is the PostgreSQL schema in use: advisory locks are per database,
    and two installations may share one database under different schemas.
    """
    value = zlib.crc32(f"{scope}:{job}".encode())
    return value - (1 << 32) if value >= (1 << 31) else value


def holder_is_dead_here(owner: str, hostname: str | None = None) -> bool:
    """True when ``owner`` names a process on this machine that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    pid = whole_number(pid_text, max_digits=9)
    if host != (hostname or socket.gethostname()) or pid is None:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, as another user
    return False


def _say_waiting(job: str, wait: float, holder: str | None) -> None:
    """An operator watching a one-shot pause should know why (and tests wait for it)."""
    log.info("waiting up to %g s for the %s lock, held by %s", wait, job, holder or "another run")


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a job's lock, as far as the database knows."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


class JobLocks:
    """Takes and releases job locks. Attached to Storage as ``storage.locks``."""

    def __init__(self, engine: Engine, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        # Between tries while waiting for another holder: a seam, so a test can see
        # that a waiter really was waiting when the lock was released.
        self.pause: Callable[[float], None] = time.sleep

    @contextmanager
    def hold(
        self,
        job: str,
        *,
        wait: float = 0.0,
        shared: bool = False,
        owner: str | None = None,
        clock: Clock = utc_now,
    ) -> Iterator[str]:
        """Hold ``job``'s lock for the ``with`` block; yields the owner string.

        Waits up to ``wait`` seconds for another holder to finish.

        Raises:
            LockHeldError: still held elsewhere after ``wait`` seconds.
            StorageError: the database could not be reached.
        """
        owner = owner or make_owner()
        if self.engine.dialect.name == "postgresql":
            with self._hold_postgres(job, wait, shared, owner, clock):
                yield owner
        else:
            with self._hold_row(job, wait, owner, clock):
                yield owner

    def holders(self, clock: Clock = utc_now) -> dict[str, LockInfo]:
        """The locks currently held, by job name (expired SQLite rows left out)."""
        now = clock()
        with read(self.engine) as conn:
            rows = conn.execute(select(job_locks)).all()
            live_pg: set[str] | None = None
            if self.engine.dialect.name == "postgresql":
                live_pg = _held_advisory(conn, [row.name for row in rows])
        found = {}
        for row in rows:
            if live_pg is not None and row.name not in live_pg:
                continue
            if live_pg is None and (row.expires_at <= now or holder_is_dead_here(row.owner)):
                continue
            found[row.name] = LockInfo(row.name, row.owner, row.acquired_at, row.expires_at)
        return found

    # -- PostgreSQL ------------------------------------------------------------------

    @contextmanager
    def _hold_postgres(
        self, job: str, wait: float, shared: bool, owner: str, clock: Clock
    ) -> Iterator[None]:
        conn = self._lock_connection(job)
        try:
            key = self._acquire_advisory(conn, job, wait, shared, owner, clock)
        except BaseException:
            _discard(conn)
            raise
        hold = _AdvisoryHold(conn)
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch_advisory,
            args=(hold, job, key, shared, owner, clock, stop),
            name=f"roundup-lock-{job}",
            daemon=True,
        )
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join(timeout=5)
            with hold.guard:
                try:
                    self._release_advisory(hold.conn, job, key, shared, owner)
                finally:
                    _discard(hold.conn)

    def _lock_connection(self, job: str) -> Connection:
        try:
            # Autocommit: the connection must not sit "idle in transaction" for a whole poll.
            return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot take the {job} lock: {_short(exc)}") from exc

    def _watch_advisory(
        self,
        hold: _AdvisoryHold,
        job: str,
        key: int,
        shared: bool,
        owner: str,
        clock: Clock,
        stop: threading.Event,
    ) -> None:
        """Check the lock's connection now and then; if it dropped, take the lock again."""
        lost = False  # the connection is gone and the lock not yet taken again
        while not stop.wait(self.ttl_s / 3):
            with hold.guard:
                if stop.is_set():
                    return
                if not lost:
                    try:
                        hold.conn.execute(text("SELECT 1"))
                        continue
                    except SQLAlchemyError as exc:
                        log.warning(
                            "the database connection holding the %s lock dropped (%s): "
                            "taking the lock again",
                            job,
                            _short(exc),
                        )
                    lost = True
                _discard(hold.conn)
                try:
                    hold.conn = self._lock_connection(job)
                    # (the holder's row is written again: it may have gone meanwhile)
                    taken = self._try_advisory(hold.conn, job, key, shared, owner, clock)
                except (SQLAlchemyError, StorageError) as exc:
                    log.debug("could not take the %s lock again yet: %s", job, exc)
                    continue  # the database may be restarting: try again next time
                lost = False
                if not taken:
                    log.error(
                        "the %s lock was lost with its database connection and another run "
                        "has taken it: both runs continue (nothing is stored twice, but the "
                        "work is done twice)",
                        job,
                    )
                    return
                log.warning("took the %s lock again on a new database connection", job)

    def _acquire_advisory(
        self, conn: Connection, job: str, wait: float, shared: bool, owner: str, clock: Clock
    ) -> int:
        try:
            key = advisory_key(_scope(conn), job)
            deadline = time.monotonic() + wait
            tries = 0
            while not self._try_advisory(conn, job, key, shared, owner, clock):
                if time.monotonic() >= deadline:
                    raise LockHeldError(job, self._recorded_owner(conn, job))
                if tries == 0:
                    _say_waiting(job, wait, self._recorded_owner(conn, job))
                tries += 1
                self.pause(min(_RETRY_S, max(deadline - time.monotonic(), 0.01)))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot take the {job} lock: {_short(exc)}") from exc
        return key

    def _try_advisory(
        self, conn: Connection, job: str, key: int, shared: bool, owner: str, clock: Clock
    ) -> bool:
        """One try at the advisory lock; an exclusive holder records itself in job_locks."""
        func = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        taken = bool(
            conn.execute(
                text(f"SELECT {func}(:ns, :key)"), {"ns": ADVISORY_NAMESPACE, "key": key}
            ).scalar_one()
        )
        if taken and not shared:
            now = clock()
            self._record(conn, job, owner, now, now + timedelta(days=3650))
        return taken

    def _release_advisory(
        self, conn: Connection, job: str, key: int, shared: bool, owner: str
    ) -> None:
        unlock = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        try:
            if not shared:
                conn.execute(
                    delete(job_locks).where(job_locks.c.name == job, job_locks.c.owner == owner)
                )
            conn.execute(
                text(f"SELECT {unlock}(:ns, :key)"), {"ns": ADVISORY_NAMESPACE, "key": key}
            )
        except SQLAlchemyError as exc:  # closing the connection releases it anyway
            log.warning("releasing the %s lock failed: %s", job, _short(exc))

    # -- SQLite (and any database without advisory locks) -------------------------------

    @contextmanager
    def _hold_row(self, job: str, wait: float, owner: str, clock: Clock) -> Iterator[None]:
        deadline = time.monotonic() + wait
        tries = 0
        while True:
            holder = self._try_row(job, owner, clock)
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise LockHeldError(job, holder)
            if tries == 0:
                _say_waiting(job, wait, holder)
            tries += 1
            self.pause(min(_RETRY_S, max(deadline - time.monotonic(), 0.01)))
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat,
            args=(job, owner, stop, clock),
            name=f"roundup-lock-{job}",
            daemon=True,
        )
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join(timeout=5)
            try:
                with write(self.engine) as conn:
                    conn.execute(
                        delete(job_locks).where(job_locks.c.name == job, job_locks.c.owner == owner)
                    )
            except StorageError as exc:  # the row expires on its own
                log.warning("releasing the %s lock failed: %s", job, exc)

    def _try_row(self, job: str, owner: str, clock: Clock) -> str | None:
        """Take the row if free, expired or left by a dead local process; else its owner."""
        now = clock()
        with write(self.engine) as conn:
            row = conn.execute(select(job_locks).where(job_locks.c.name == job)).first()
            if row is not None and row.owner != owner:
                if row.expires_at > now and not holder_is_dead_here(row.owner):
                    return str(row.owner)
                log.warning("taking over the %s lock left behind by %s", job, row.owner)
            self._record(conn, job, owner, now, now + timedelta(seconds=self.ttl_s))
        return None

    def _heartbeat(self, job: str, owner: str, stop: threading.Event, clock: Clock) -> None:
        while not stop.wait(self.ttl_s / 3):
            try:
                with write(self.engine) as conn:
                    result = conn.execute(
                        update(job_locks)
                        .where(job_locks.c.name == job, job_locks.c.owner == owner)
                        .values(expires_at=clock() + timedelta(seconds=self.ttl_s))
                    )
                if result.rowcount == 0:
                    log.error("the %s lock was taken over by another process", job)
                    return
            except StorageError as exc:  # keep trying: the row is still ours until it expires
                log.warning("could not renew the %s lock: %s", job, exc)

    # -- both -------------------------------------------------------------------------

    @staticmethod
    def _record(
        conn: Connection, job: str, owner: str, now: datetime, expires_at: datetime
    ) -> None:
        stmt = upsert(conn, job_locks).values(
            name=job, owner=owner, acquired_at=now, expires_at=expires_at
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"owner": owner, "acquired_at": now, "expires_at": expires_at},
            )
        )

    @staticmethod
    def _recorded_owner(conn: Connection, job: str) -> str | None:
        owner = conn.execute(
            select(job_locks.c.owner).where(job_locks.c.name == job)
        ).scalar_one_or_none()
        return str(owner) if owner is not None else None


class _AdvisoryHold:
    """The connection an advisory lock lives on; the watcher may replace it, so
    every use goes through ``guard`` (a Connection is not thread-safe)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.guard = threading.Lock()


def _discard(conn: Connection) -> None:
    """Close a lock connection for good: one that may hold a lock never goes
    back to the pool."""
    try:
        conn.invalidate()
        conn.close()
    except SQLAlchemyError as exc:
        log.debug("closing a lock connection: %s", _short(exc))


def _held_advisory(conn: Connection, names: list[str]) -> set[str]:
    """Which of these jobs' advisory locks some session holds right now."""
    if not names:
        return set()
    rows = conn.execute(
        text(
            "SELECT DISTINCT objid::bigint AS objid FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND classid::bigint = :ns "
            "AND objsubid = 2 AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"
        ),
        {"ns": ADVISORY_NAMESPACE},
    ).all()
    held = {int(row.objid) for row in rows}
    scope = _scope(conn)
    return {name for name in names if advisory_key(scope, name) % (1 << 32) in held}


def _scope(conn: Connection) -> str:
    return str(conn.execute(text("SELECT current_schema()")).scalar_one())
