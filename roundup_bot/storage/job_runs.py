"""When each scheduled job last ran, how it went, and when it runs next.

Written by the daemon and by the one-shot commands alike, so ``status`` tells
the same story however the bot is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import job_runs


@dataclass(frozen=True, slots=True)
class JobRun:
    """One job's latest run, as stored."""

    name: str
    last_started: datetime | None
    last_finished: datetime | None
    last_result: str | None  # one line: what it did, or why it failed or skipped
    last_ok: bool | None  # None while running or when it skipped
    next_run: datetime | None  # set by a running daemon; None when nothing is scheduled


class JobRunRepository:
    """Attached to Storage as ``storage.job_runs``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def started(self, name: str, now: datetime) -> None:
        with write(self.engine) as conn:
            stmt = upsert(conn, job_runs).values(name=name, last_started=now, last_ok=None)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name"], set_={"last_started": now, "last_ok": None}
                )
            )

    def finished(self, name: str, now: datetime, *, ok: bool | None, result: str) -> None:
        values = {"last_finished": now, "last_ok": ok, "last_result": result[:1000]}
        with write(self.engine) as conn:
            stmt = upsert(conn, job_runs).values(name=name, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))

    def set_next_run(self, name: str, when: datetime | None) -> None:
        with write(self.engine) as conn:
            stmt = upsert(conn, job_runs).values(name=name, next_run=when)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["name"], set_={"next_run": when})
            )

    def clear_next_runs(self) -> None:
        """The daemon stopped: nothing is scheduled any more."""
        with write(self.engine) as conn:
            conn.execute(update(job_runs).values(next_run=None))

    def all(self) -> dict[str, JobRun]:
        with read(self.engine) as conn:
            rows = conn.execute(select(job_runs).order_by(job_runs.c.name)).all()
        return {
            row.name: JobRun(
                name=row.name,
                last_started=row.last_started,
                last_finished=row.last_finished,
                last_result=row.last_result,
                last_ok=row.last_ok,
                next_run=row.next_run,
            )
            for row in rows
        }
