"""Small helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from roundup_bot.core.errors import StorageError
from roundup_bot.storage.db import _short


def upsert(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL both do).

    Each dialect's module is imported here, when that dialect is in use: loading
    the PostgreSQL one (with its asyncpg and psycopg variants) costs a SQLite run
    tens of milliseconds at start-up, and the engine has loaded its own already."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, so it waits its turn instead of
    failing when another process is writing. Database errors become StorageError."""
    try:
        with engine.execution_options(sqlite_immediate=True).begin() as conn:
            yield conn
    except OperationalError as exc:
        raise StorageError(f"database write failed: {_short(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"database error: {_short(exc)}") from exc


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read transaction; database errors become StorageError."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StorageError(f"database read failed: {_short(exc)}") from exc
