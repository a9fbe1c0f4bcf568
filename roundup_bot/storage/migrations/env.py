"""Alembic environment: runs migrations on the connection roundup-bot hands it.

roundup-bot runs migrations itself (on first use and in ``roundup-bot init``)
through :func:`roundup_bot.storage.db.migrate`, which passes an open connection
in ``config.attributes["connection"]``. Running ``alembic`` by hand works too,
with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from roundup_bot.storage.schema import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database as: alembic -x url=sqlite:///roundup.db upgrade head")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
