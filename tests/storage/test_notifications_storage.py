"""The messages owed about drafts, on SQLite and PostgreSQL: owed once, claimed by
one run only, and the editors' addresses kept by migration 0007."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from helpers.drafts import Article, make_app, seed
from sqlalchemy import insert, select

from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.drafting import draft_week
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.db import alembic_config, create_db_engine, current_revision, head_revision
from roundup_bot.storage.schema import editors

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WEEK = week_by_label("2026-W48", "Europe/London", "friday 09:00")


def a_draft(storage: Storage, tmp_path: object) -> int:
    seed(storage, [Article("post", NOW - timedelta(days=1))], NOW)
    app = make_app(storage, tmp_path)  # type: ignore[arg-type]
    return draft_week(app, WEEK, now=NOW).draft.id


def test_messages_are_owed_once(storage: Storage, tmp_path: object) -> None:
    draft_id = a_draft(storage, tmp_path)
    owed = storage.notifications.owe(draft_id, "email", ["a@council.gov.uk", "b@x.org"], NOW)
    again = storage.notifications.owe(draft_id, "email", ["a@council.gov.uk"], NOW)
    assert (owed, again) == (2, 0)
    assert [n.recipient for n in storage.notifications.due()] == ["a@council.gov.uk", "b@x.org"]


def test_only_one_of_many_runs_claims_a_message(storage: Storage, tmp_path: object) -> None:
    draft_id = a_draft(storage, tmp_path)
    storage.notifications.owe(draft_id, "webhook", ["webhook"], NOW)
    [message] = storage.notifications.due()
    start = threading.Barrier(6)
    won: list[bool] = []

    def try_to_claim() -> None:
        start.wait(30)
        won.append(storage.notifications.claim(message.id, NOW))

    threads = [threading.Thread(target=try_to_claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(won) == [False] * 5 + [True]
    assert storage.notifications.due() == []
    storage.notifications.failed(message.id, "HTTP 503")
    assert [n.attempts for n in storage.notifications.due()] == [1]  # released: tried again
    assert storage.notifications.claim(message.id, NOW)
    storage.notifications.sent(message.id, NOW)
    assert storage.notifications.summary().counts == {"sent": 1}


def test_an_editor_keeps_everything_through_migration_0004(db_url: str) -> None:
    from alembic import command

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0006")
            conn.execute(
                insert(editors).values(name="ann", password_hash="$argon2id$x", created_at=NOW)
            )
    finally:
        engine.dispose()
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        [ann] = store.editors.list()
        assert (ann.name, ann.email, ann.created_at) == ("ann", None, NOW)
        assert store.editors.set_email("ann", "ann@council.gov.uk")
        assert store.editors.list()[0].email == "ann@council.gov.uk"
        with store.engine.connect() as conn:
            hashes = conn.execute(select(editors.c.password_hash)).scalars().all()
        assert hashes == ["$argon2id$x"]
        assert store.notifications.summary().counts == {}
    finally:
        store.close()
