"""Announcements in the database (SQLite and PostgreSQL): owed once, claimed once,
and migration 0008 on a populated 0007 database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.db import alembic_config, create_db_engine, current_revision
from roundup_bot.storage.schema import drafts

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def published_draft(storage: Storage) -> int:
    with storage.engine.begin() as conn:
        return int(
            conn.execute(
                insert(drafts)
                .values(roundup="welovelocalgov", week="2026-W48",
                        period_start=NOW - timedelta(days=7), period_end=NOW,
                        status="published", title="T", intro="I", outro="O",
                        intro_edited=False, outro_edited=False, version=3,
                        publish_count=1, created_at=NOW, updated_at=NOW)
                .returning(drafts.c.id)
            ).scalar_one()
        )  # fmt: skip


def test_an_announcement_is_owed_once_and_claimed_once(storage: Storage) -> None:
    draft_id = published_draft(storage)
    storage.announcements.owe(draft_id, ["mastodon", "bluesky"], NOW)
    storage.announcements.owe(draft_id, ["mastodon"], NOW)  # again: nothing new
    assert [a.state for a in storage.announcements.for_draft(draft_id)] == ["pending", "pending"]
    assert storage.announcements.claim(draft_id, "mastodon", NOW)
    assert not storage.announcements.claim(draft_id, "mastodon", NOW)  # a second run: no
    storage.announcements.failed(draft_id, "mastodon", "HTTP 503")
    assert storage.announcements.claim(draft_id, "mastodon", NOW)  # released: tried again
    storage.announcements.sent(draft_id, "mastodon", "5001", NOW)
    assert not storage.announcements.claim(draft_id, "mastodon", NOW)
    rows = {a.channel: a for a in storage.announcements.for_draft(draft_id)}
    assert (rows["mastodon"].state, rows["mastodon"].post_id, rows["mastodon"].attempts) == (
        "sent",
        "5001",
        2,
    )


def test_0008_upgrades_a_populated_0007_database(db_url: str) -> None:
    from alembic import command

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
        assert current_revision(engine) == "0007"
    finally:
        engine.dispose()
    before = open_storage(db_url, auto_migrate=False)
    try:
        draft_id = published_draft(before)
    finally:
        before.close()
    store = open_storage(db_url)  # migrates 0007 -> 0008 and on to the head
    try:
        assert store.drafts.get(draft_id).status == "published"
        store.announcements.owe(draft_id, ["x"], NOW)
        assert store.announcements.claim(draft_id, "x", NOW)
    finally:
        store.close()
