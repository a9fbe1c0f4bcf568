"""Opening the database: engine settings, SQLite pragmas, migrations.

SQLite gets WAL (readers never block the writer), a busy timeout, foreign keys,
and ``BEGIN IMMEDIATE`` for write transactions: a deferred transaction that
later wants to write can fail at once with "database is locked" when another
process wrote meanwhile, whatever the busy timeout; an immediate one waits its
turn instead. PostgreSQL needs none of that.

The schema is created and upgraded by Alembic, on first use and by
``roundup-bot init``. Two processes starting together on an empty database
serialise on a lock (SQLite's write lock, a PostgreSQL advisory lock), so only
one of them migrates.
"""

from __future__ import annotations

import logging
import sqlite3
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from roundup_bot.core.errors import StorageError
from roundup_bot.core.redaction import redact

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

#: The newest migration. Every command checks the database against it with one
#: query, so Alembic (a tenth of a second to import) loads only when the schema
#: really has to change; a test keeps it equal to the migrations' head.
SCHEMA_HEAD = "0012"

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: libpq settings for every PostgreSQL connection. TCP keepalives (and a send
#: timeout) turn a silently dead server or network into an error within about a
#: minute, instead of a query that waits for the kernel's default of hours: a
#: job lock's connection is watched this way (storage.locks).
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
# An arbitrary constant: the advisory lock id under which migrations run on PostgreSQL.
MIGRATION_LOCK_ID = 0x726F756E  # "roun"


#: Where an engine made with ``echo`` logs its statements (``[database] echo``).
SQL_ECHO_LOGGER = "sqlalchemy.engine.Engine.echo"


class RedactSqlParameters(logging.Filter):
    """Hides secrets (a feed URL's password...) in the parameters of logged SQL.

    SQLAlchemy logs parameters through a helper object that shortens long values
    when it is printed: a cut in the middle of ``user:password@`` would leave the
    start of a password that no later redaction of the line can recognise. So the
    values are redacted here, whole, before they are shortened. Only this log
    record's copy changes, never what is sent to the database.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            for arg in record.args:
                if hasattr(arg, "params") and hasattr(arg, "max_chars"):
                    arg.params = _redacted(arg.params)
        return True


def _redacted(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 3:
        return value
    if isinstance(value, dict):
        return {key: _redacted(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redacted(item, depth + 1) for item in value)
    return value


def _sql_logging(echo: bool) -> dict[str, Any]:
    """Engine options for ``echo``. Never SQLAlchemy's own echo: that adds a handler
    of its own that prints to standard output (into ``--json`` output, and past the
    redacting log formatters). An echoing engine logs under SQL_ECHO_LOGGER at INFO
    instead, through the process's handlers, with its parameters redacted."""
    for name in ("sqlalchemy.engine.Engine", SQL_ECHO_LOGGER):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSqlParameters) for f in logger.filters):
            logger.addFilter(RedactSqlParameters())
    if not echo:
        return {}
    logging.getLogger(SQL_ECHO_LOGGER).setLevel(logging.INFO)
    return {"logging_name": SQL_ECHO_LOGGER.rsplit(".", 1)[1]}


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for the configured URL, with roundup-bot's connection settings."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database url is not valid: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, echo)
    if backend == "postgresql":
        if parsed.drivername not in ("postgresql+psycopg", "postgresql+psycopg_async"):
            raise StorageError(
                f"use a postgresql+psycopg:// URL for PostgreSQL (got {parsed.drivername}://)"
            )
        return create_engine(
            url, pool_pre_ping=True, connect_args=POSTGRES_CONNECT_ARGS, **_sql_logging(echo)
        )
    raise StorageError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


def _sqlite_engine(url: str, echo: bool) -> Engine:
    engine = create_engine(
        url,
        **_sql_logging(echo),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("roundup_bot.storage") / "migrations"))
    return cfg


def head_revision() -> str:
    """The head of the migration scripts (loads Alembic and every script)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database).

    Raises:
        StorageError: the database cannot be reached.
    """
    try:
        with engine.connect() as conn:
            return _stored_revision(conn)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open the database: {_short(exc)}") from exc


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest revision. Returns True when it changed anything."""
    try:
        with engine.connect() as conn:
            if _stored_revision(conn) == SCHEMA_HEAD:
                return False
        from alembic import command

        cfg = alembic_config()
        with engine.execution_options(sqlite_immediate=True).begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            if _stored_revision(conn) == SCHEMA_HEAD:
                return False  # another process migrated while we waited for the lock
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return True
    except OperationalError as exc:
        raise StorageError(f"cannot open the database: {_short(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the database: {_short(exc)}") from exc


def _stored_revision(conn: Connection) -> str | None:
    """alembic_version's row read with plain SQL (None when there is no such table yet)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def _short(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    message = str(original if original is not None else exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
