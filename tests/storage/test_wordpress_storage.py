"""The WordPress step's rows and the comments read, on SQLite and PostgreSQL; and
migration 0006 on a populated database of revision 0005."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from roundup_bot.core.suggestion_rules import JudgedSuggestion, SuggestedLink
from roundup_bot.core.wordpress import PostFacts
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.db import alembic_config, create_db_engine, current_revision, head_revision
from roundup_bot.storage.schema import (
    draft_items,
    drafts,
    feeds,
    metadata,
    suggestions,
    wordpress_comments,
    wordpress_posts,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def a_draft(storage: Storage, week: str = "2026-W48", status: str = "approved") -> int:
    with storage.engine.begin() as conn:
        return int(
            conn.execute(
                insert(drafts)
                .values(
                    roundup="welovelocalgov",
                    week=week,
                    period_start=NOW - timedelta(days=7),
                    period_end=NOW,
                    status=status,
                    title="T",
                    intro="I",
                    outro="O",
                    intro_edited=False,
                    outro_edited=False,
                    version=1,
                    publish_count=0,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(drafts.c.id)
            ).scalar_one()
        )


def test_publishing_marks_the_step_pending_in_the_same_transaction(storage: Storage) -> None:
    draft_id = a_draft(storage)
    storage.drafts.mark_published(draft_id, path="x.html", now=NOW, wordpress_slug="w-2026-w48")
    step = storage.wordpress.get(draft_id)
    assert step is not None
    assert (step.state, step.slug, step.post_id) == ("pending", "w-2026-w48", None)
    assert [s.draft_id for s in storage.wordpress.due("welovelocalgov", NOW)] == [draft_id]
    assert storage.wordpress.due("other-roundup", NOW) == []


def test_success_stores_the_post_with_done_and_a_republish_keeps_its_id(storage: Storage) -> None:
    draft_id = a_draft(storage)
    storage.drafts.mark_published(draft_id, path="x.html", now=NOW, wordpress_slug="s")
    failed = storage.wordpress.record_failure(
        draft_id, "HTTP 503", next_try=NOW + timedelta(minutes=5), now=NOW
    )
    assert (failed.state, failed.attempts, failed.error) == ("failed", 1, "HTTP 503")
    assert storage.wordpress.due("welovelocalgov", NOW) == []  # backing off
    assert len(storage.wordpress.due("welovelocalgov", NOW + timedelta(minutes=5))) == 1
    done = storage.wordpress.record_success(
        draft_id, PostFacts(42, "s", "draft", "https://blog/s/"), NOW
    )
    assert (done.state, done.post_id, done.link, done.error, done.attempts) == (
        "done",
        42,
        "https://blog/s/",
        None,
        0,
    )
    assert storage.wordpress.due("welovelocalgov", NOW + timedelta(days=1)) == []
    assert storage.wordpress.latest("welovelocalgov") == ("2026-W48", done)
    assert storage.wordpress.posts_since("welovelocalgov", NOW - timedelta(days=1)) == [42]
    # Reopened and approved again: pending once more, the same post id kept.
    storage.drafts.reopen(draft_id, by="bob", now=NOW, allow_published=True)
    with storage.engine.begin() as conn:
        conn.execute(drafts.update().values(status="approved").where(drafts.c.id == draft_id))
    storage.drafts.mark_published(draft_id, path="x.html", now=NOW, wordpress_slug="s")
    again = storage.wordpress.get(draft_id)
    assert again is not None
    assert (again.state, again.post_id) == ("pending", 42)
    assert storage.wordpress.for_drafts([draft_id, 999]) == {draft_id: again}


def test_comments_and_their_suggestions_are_stored_together_once(storage: Storage) -> None:
    link = SuggestedLink(
        post_id="5",
        post_url="https://blog/?p=42#comment-5",
        author_id=None,
        author_username="Jo Bloggs",
        text="Have a look",
        posted_at=NOW,
        link="https://council.example.gov.uk/post",
        canonical_url="https://council.example.gov.uk/post",
        link_title=None,
        link_description=None,
    )
    judged = [JudgedSuggestion(link, "accepted")]
    first = storage.wordpress.store_comments("blog", judged, [(5, 42), (6, 42)], NOW)
    assert (first.accepted, first.new_candidates) == (1, 1)
    assert storage.wordpress.read_comment_ids("blog", [5, 6, 7]) == {5, 6}
    assert storage.wordpress.read_comment_ids("another-blog", [5]) == set()
    again = storage.wordpress.store_comments("blog", judged, [(5, 42)], NOW)
    assert (again.accepted, again.duplicates) == (0, 1)
    candidate = storage.candidates.list()[0]
    with storage.engine.connect() as conn:
        names = conn.execute(select(suggestions.c.author_username)).scalars().all()
    assert names == ["Jo Bloggs"]
    assert candidate.url == "https://council.example.gov.uk/post"


def test_0006_upgrades_a_populated_0005_database(db_url: str) -> None:
    """Migration 0006 runs on a database at 0005 holding feeds, drafts, items and
    suggestions; everything stays, the new tables work, and the schema matches the code."""
    from alembic import command

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            conn.execute(
                insert(feeds).values(
                    url="https://blog.example/feed", in_config=True, created_at=NOW
                )
            )
        assert current_revision(engine) == "0005"
    finally:
        engine.dispose()
    store = open_storage(db_url, auto_migrate=False)
    try:
        draft_id = a_draft(store, status="published")
        with store.engine.begin() as conn:
            conn.execute(
                insert(suggestions).values(
                    platform="x",
                    post_id="1",
                    post_url="https://x.com/a/status/1",
                    author_username="ann",
                    link="https://a.example/",
                    canonical_url="https://a.example/",
                    status="accepted",
                    created_at=NOW,
                )
            )
    finally:
        store.close()
    store = open_storage(db_url)  # migrates 0005 -> 0006 (and on to the head)
    try:
        assert current_revision(store.engine) == head_revision()  # 0006 and any later migration
        assert [f.url for f in store.feeds.for_update(NOW)] == ["https://blog.example/feed"]
        assert store.drafts.get(draft_id).status == "published"
        assert store.suggestions.counts("x").accepted == 1
        step = store.wordpress.ensure_pending(draft_id, "welovelocalgov-2026-w48", NOW)
        assert step.state == "pending"
        with store.engine.connect() as conn:
            assert conn.execute(select(wordpress_posts.c.draft_id)).scalars().all() == [draft_id]
            assert conn.execute(select(wordpress_comments)).all() == []
            assert conn.execute(select(draft_items)).all() == []
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


BIG = 2**63 - 1  # the largest id an answer may carry (past PostgreSQL's 32-bit INTEGER)


def test_wordpress_ids_up_to_64_bits_are_stored(storage: Storage) -> None:
    draft_id = a_draft(storage)
    storage.drafts.mark_published(draft_id, path="x.html", now=NOW, wordpress_slug="s")
    done = storage.wordpress.record_success(draft_id, PostFacts(BIG, "s", "draft", None), NOW)
    assert done.post_id == BIG
    assert storage.wordpress.posts_since("welovelocalgov", NOW) == [BIG]
    storage.wordpress.store_comments("blog", [], [(BIG, BIG), (2**31, 7)], NOW)
    assert storage.wordpress.read_comment_ids("blog", [BIG, 2**31, 5]) == {BIG, 2**31}


def test_0009_widens_the_wordpress_ids_of_a_populated_0008_database(db_url: str) -> None:
    """Migration 0009 on a database at 0008 holding a posted round-up and comments read:
    the rows stay, 64-bit ids fit afterwards, and the schema matches the code."""
    from alembic import command

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0008")
        assert current_revision(engine) == "0008"
    finally:
        engine.dispose()
    store = open_storage(db_url, auto_migrate=False)
    try:
        draft_id = a_draft(store, status="published")
        with store.engine.begin() as conn:
            conn.execute(
                insert(wordpress_posts).values(
                    draft_id=draft_id,
                    slug="welovelocalgov-2026-w48",
                    state="done",
                    post_id=2**31 - 1,
                    link="https://blog.example/p/",
                    status="publish",
                    attempts=0,
                    pushed_at=NOW,
                    updated_at=NOW,
                )
            )
            conn.execute(
                insert(wordpress_comments).values(
                    site="blog.example", comment_id=5, post_id=2**31 - 1, read_at=NOW
                )
            )
    finally:
        store.close()
    store = open_storage(db_url)  # migrates 0008 -> 0009 (and on to the head)
    try:
        assert current_revision(store.engine) == head_revision()
        step = store.wordpress.get(draft_id)
        assert step is not None
        assert (step.state, step.post_id, step.link) == (
            "done",
            2**31 - 1,
            "https://blog.example/p/",
        )
        assert store.wordpress.read_comment_ids("blog.example", [5, 6]) == {5}
        store.wordpress.record_success(draft_id, PostFacts(BIG, "s", "publish", None), NOW)
        store.wordpress.store_comments("blog.example", [], [(BIG, BIG)], NOW)
        assert store.wordpress.read_comment_ids("blog.example", [5, BIG]) == {5, BIG}
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()
