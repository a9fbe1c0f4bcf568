"""Key/value state kept per source (since_id, the account's id, monthly counters)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from roundup_bot.core.clock import utc_now
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import source_state


class StateRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, source: str, key: str) -> str | None:
        with read(self.engine) as conn:
            return get_state(conn, source, key)

    def all(self, source: str) -> dict[str, str | None]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(source_state.c.key, source_state.c.value).where(
                    source_state.c.source == source
                )
            )
            return {row.key: row.value for row in rows}

    def set(self, source: str, key: str, value: str | None) -> None:
        with write(self.engine) as conn:
            set_state(conn, source, key, value)


def get_state(conn: Connection, source: str, key: str) -> str | None:
    return conn.execute(
        select(source_state.c.value).where(
            source_state.c.source == source, source_state.c.key == key
        )
    ).scalar_one_or_none()


def set_state(conn: Connection, source: str, key: str, value: str | None) -> None:
    now = utc_now()
    stmt = upsert(conn, source_state).values(source=source, key=key, value=value, updated_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source", "key"], set_={"value": value, "updated_at": now}
        )
    )
