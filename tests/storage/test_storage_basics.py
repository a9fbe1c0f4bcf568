"""The schema is made by migrations, matches the tables in code, and upserts never duplicate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from helpers.feeds import record_parsed
from sqlalchemy import insert

from roundup_bot.core.records import ConfiguredFeed, ParsedEntry, ParsedFeed
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.db import (
    alembic_config,
    create_db_engine,
    current_revision,
    head_revision,
    migrate,
)
from roundup_bot.storage.schema import feeds, metadata

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def entry(n: int, title: str | None = None) -> ParsedEntry:
    return ParsedEntry(
        link=f"https://blog.example.gov.uk/post-{n}?utm_source=rss",
        canonical_url=f"https://blog.example.gov.uk/post-{n}",
        title=title or f"Post {n}",
        author="A. Writer",
        published=datetime(2026, 11, 18, 9, n % 60, tzinfo=UTC),
        summary="Summary",
        entry_id=f"id-{n}",
    )


def test_migrations_create_exactly_the_schema_in_code(db_url: str) -> None:
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert migrate(store.engine) is False  # already at head: nothing to do
    finally:
        store.close()


def test_storing_the_same_entries_twice_creates_no_duplicates(storage: Storage) -> None:
    storage.feeds.sync([ConfiguredFeed("https://a.example/feed", "A", 1.0, True)], NOW)
    [feed] = storage.feeds.for_update(NOW)
    parsed = ParsedFeed(url=feed.url, title="A", site_url=None, entries=(entry(1), entry(2)))
    kwargs = dict(etag=None, last_modified=None, permanent_url=None, now=NOW, next_due=NOW)
    assert record_parsed(storage, feed, parsed=parsed, **kwargs) == (2, 0)
    assert record_parsed(storage, feed, parsed=parsed, **kwargs) == (0, 0)
    changed = ParsedFeed(url=feed.url, title="A", site_url=None, entries=(entry(1, "New title"),))
    assert record_parsed(storage, feed, parsed=changed, **kwargs) == (0, 1)
    found = storage.candidates.list()
    assert len(found) == 2
    assert {c.title for c in found} == {"New title", "Post 2"}
    assert all(len(c.sources) == 1 for c in found)


def test_the_same_article_from_two_feeds_is_one_candidate_with_both_sources(
    storage: Storage,
) -> None:
    storage.feeds.sync(
        [
            ConfiguredFeed("https://a.example/feed", "Blog A", 1.0, True),
            ConfiguredFeed("https://b.example/feed", "Blog B", 2.0, True),
        ],
        NOW,
    )
    for feed in storage.feeds.for_update(NOW):
        parsed = ParsedFeed(url=feed.url, title=None, site_url=None, entries=(entry(7),))
        record_parsed(
            storage,
            feed,
            parsed=parsed,
            etag='"x"',
            last_modified=None,
            permanent_url=None,
            now=NOW,
            next_due=NOW,
        )
    [candidate] = storage.candidates.list()
    assert {s.name for s in candidate.sources} == {"Blog A", "Blog B"}
    assert sorted(candidate.feed_weights) == [1.0, 2.0]
    assert candidate.published is not None
    assert candidate.published.tzinfo is not None


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    from roundup_bot.storage.db import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD


def test_a_database_made_by_an_older_release_is_upgraded_with_its_data(db_url: str) -> None:
    """Every later migration runs on a populated database at revision 0001 (what the
    first release made), and what was stored is still there afterwards."""
    from alembic import command

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.execute(
                insert(feeds).values(
                    url="https://blog.example.gov.uk/feed", in_config=True, created_at=NOW
                )
            )
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()
    store = open_storage(db_url)  # migrates on first use
    try:
        assert current_revision(store.engine) == head_revision()
        assert [f.url for f in store.feeds.for_update(NOW)] == ["https://blog.example.gov.uk/feed"]
        assert [f.notice for f in store.feeds.statuses()] == [None]  # 0005's column
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


def test_upgrading_to_0003_takes_feed_passwords_out_of_stored_links(db_url: str) -> None:
    """Rows stored before 0003 from a private feed (``user:secret@host``) lose the
    user name and password in every copy of, or link resolved against, the feed's
    URL; the feed row keeps them (it is fetched with them), and links without any
    are untouched."""
    from alembic import command
    from sqlalchemy import select

    from roundup_bot.storage.schema import candidate_sources, candidates

    private = "https://reader:p%40ss:w@rd@blog.example.gov.uk/feed"
    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            feed_id = conn.execute(
                insert(feeds)
                .values(
                    url=private,
                    fetch_url="https://reader:secret@blog.example.gov.uk/moved",
                    site_url="https://reader:secret@blog.example.gov.uk/",
                    in_config=True,
                    created_at=NOW,
                )
                .returning(feeds.c.id)
            ).scalar_one()
            links = {
                "https://reader:secret@blog.example.gov.uk/posts/1": (
                    "https://blog.example.gov.uk/posts/1"
                ),
                "https://other.example/a@b?q=x@y": "https://other.example/a@b?q=x@y",
            }
            for n, link in enumerate(links):
                candidate_id = conn.execute(
                    insert(candidates)
                    .values(
                        url=f"https://blog.example.gov.uk/posts/{n}",
                        link=link,
                        first_seen=NOW,
                        updated_at=NOW,
                        placed_at=NOW,
                    )
                    .returning(candidates.c.id)
                ).scalar_one()
                conn.execute(
                    insert(candidate_sources).values(
                        candidate_id=candidate_id,
                        kind="feed",
                        source_ref=str(feed_id),
                        feed_id=feed_id,
                        name=private,
                        url=private,
                        entry_id=link if n == 0 else "tag:blog.example.gov.uk,2026:a@b",
                        first_seen=NOW,
                    )
                )
    finally:
        engine.dispose()
    store = open_storage(db_url)  # migrates on first use
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            feed = conn.execute(select(feeds)).one()
            found = conn.execute(select(candidates.c.link).order_by(candidates.c.id)).all()
            sources = conn.execute(select(candidate_sources).order_by(candidate_sources.c.id))
            source_rows = sources.all()
    finally:
        store.close()
    assert (feed.url, feed.fetch_url) == (
        private,
        "https://reader:secret@blog.example.gov.uk/moved",
    )
    assert feed.site_url == "https://blog.example.gov.uk/"
    assert [row.link for row in found] == list(links.values())
    public = "https://blog.example.gov.uk/feed"
    assert [(s.name, s.url, s.entry_id) for s in source_rows] == [
        (public, public, "https://blog.example.gov.uk/posts/1"),
        (public, public, "tag:blog.example.gov.uk,2026:a@b"),
    ]


def test_the_sql_log_hides_feed_passwords_and_keeps_stdout_clean(
    db_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[database] echo = true`` logs every statement through logging (so the
    redacting handlers see it), never straight to standard output, and a feed
    URL's password never reaches the log, however long the URL."""
    secret = "s3cret-pass-9876"
    long_user = "u" * 200  # SQLAlchemy shortens long values: the cut must not expose the rest
    urls = [
        f"https://reader:{secret}@example.org/feed",
        f"https://{long_user}:{secret}{'p' * 300}@example.org/feed",
    ]
    caplog.set_level(logging.INFO)
    store = open_storage(db_url, echo=True)
    try:
        feeds = [ConfiguredFeed(url, None, 1.0, True) for url in urls]
        store.feeds.sync(feeds, datetime(2026, 11, 25, tzinfo=UTC))
    finally:
        store.close()
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy")]
    assert any("INSERT INTO feeds" in line for line in logged)
    assert not [line for line in logged if secret[:6] in line]
    out, _err = capsys.readouterr()
    assert out == ""


def test_migration_0004_keeps_stored_suggestions_and_takes_long_post_ids(db_url: str) -> None:
    """A populated 0003 database (an X suggestion with its candidate) upgrades; the row is
    intact, and a Bluesky post (an at:// URI over 64 characters, a DID) can then be stored."""
    from alembic import command
    from sqlalchemy import select

    from roundup_bot.core.suggestion_rules import JudgedSuggestion, SuggestedLink
    from roundup_bot.storage.schema import candidates, suggestions

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            conn.execute(
                insert(candidates).values(
                    id=1,
                    url="https://blog.example.gov.uk/a",
                    link="https://blog.example.gov.uk/a",
                    first_seen=NOW,
                    updated_at=NOW,
                    placed_at=NOW,
                )
            )
            conn.execute(
                insert(suggestions).values(
                    platform="x",
                    post_id="1859000000000000001",
                    post_url="https://x.com/ann/status/1859000000000000001",
                    author_id="42",
                    author_username="ann",
                    link="https://blog.example.gov.uk/a",
                    canonical_url="https://blog.example.gov.uk/a",
                    candidate_id=1,
                    status="accepted",
                    created_at=NOW,
                )
            )
        assert current_revision(engine) == "0003"
    finally:
        engine.dispose()
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        uri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lmicbemya22g"
        assert len(uri) > 64
        bluesky = SuggestedLink(
            post_id=uri,
            post_url="https://bsky.app/profile/ann.bsky.social/post/3lmicbemya22g",
            author_id="did:web:comms.an-unusually-long-council-domain-name.gov.uk:people:ann",
            author_username="ann.bsky.social",
            text="look",
            posted_at=NOW,
            link="https://blog.example.gov.uk/a",
            canonical_url="https://blog.example.gov.uk/a",
            link_title=None,
            link_description=None,
            reply_ref='{"cid":"bafy"}',
        )
        stored = store.suggestions.store_page(
            "bluesky",
            [JudgedSuggestion(bluesky, "accepted")],
            posts_read=1,
            month="2026-11",
            state={},
            now=NOW,
        )
        assert stored.accepted == 1
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    suggestions.c.platform, suggestions.c.post_id, suggestions.c.reply_ref
                ).order_by(suggestions.c.id)
            ).all()
        assert [tuple(r) for r in rows] == [
            ("x", "1859000000000000001", None),
            ("bluesky", uri, '{"cid":"bafy"}'),
        ]
        assert sorted(store.candidates.list()[0].suggested_by) == ["@ann", "@ann.bsky.social"]
    finally:
        store.close()


def test_migration_0011_keeps_candidates_and_cached_pages(db_url: str) -> None:
    """A populated 0010 database (candidates, a source, a cached page) upgrades to
    0011: nothing is lost, the new columns start empty, and aliases work at once."""
    from alembic import command
    from sqlalchemy import text

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0010")
            feed_id = conn.execute(
                insert(feeds)
                .values(
                    url="https://blog.example.gov.uk/feed",
                    name="Blog",
                    site_url="https://blog.example.gov.uk/",
                    in_config=True,
                    created_at=NOW,
                )
                .returning(feeds.c.id)
            ).scalar_one()
            for n, url in enumerate(("https://blog.example.gov.uk/a", "https://t.example/x")):
                conn.execute(
                    text(
                        "INSERT INTO candidates (id, url, link, title, first_seen, updated_at,"
                        " placed_at) VALUES (:id, :url, :url, :title, :now, :now, :now)"
                    ),
                    {"id": n + 1, "url": url, "title": f"Post {n}", "now": NOW},
                )
                conn.execute(
                    text(
                        "INSERT INTO candidate_sources (candidate_id, kind, source_ref, feed_id,"
                        " name, url, first_seen) VALUES (:c, 'feed', :f, :f, 'Blog',"
                        " 'https://blog.example.gov.uk/feed', :now)"
                    ),
                    {"c": n + 1, "f": feed_id, "now": NOW},
                )
            conn.execute(
                text(
                    "INSERT INTO link_details (url, fetched_at, ok, title) VALUES"
                    " ('https://blog.example.gov.uk/a', :now, true, 'From the page')"
                ),
                {"now": NOW},
            )
        assert current_revision(engine) == "0010"
    finally:
        engine.dispose()
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        found = {c.url: c for c in store.candidates.list()}
        assert set(found) == {"https://blog.example.gov.uk/a", "https://t.example/x"}
        post = found["https://blog.example.gov.uk/a"]
        assert (post.categories, post.aliases) == ((), ())
        assert post.sources[0].site == "https://blog.example.gov.uk/"
        cached = store.link_details.get_many(["https://blog.example.gov.uk/a"])
        page = cached["https://blog.example.gov.uk/a"]
        assert (page.title, page.lead, page.resolved_url) == ("From the page", None, None)
        # The new table works: the tracker's candidate merges into the post.
        from roundup_bot.core.addresses import TrueAddress

        moved = store.addresses.move(
            found["https://t.example/x"].id,
            TrueAddress("https://blog.example.gov.uk/a", "redirect"),
            now=NOW,
            by="test",
        )
        assert moved is not None
        assert moved.merged_id == found["https://t.example/x"].id
        [merged] = store.candidates.list()
        assert [a.url for a in merged.aliases] == ["https://t.example/x"]
        assert len(merged.sources) == 1  # the same feed once
    finally:
        store.close()


def test_migration_0012_keeps_candidates_and_widens_the_week_index(db_url: str) -> None:
    """A populated 0011 database upgrades to 0012: every candidate is still there,
    in the same weeks, and the week index holds the times a draft ranks by."""
    from alembic import command
    from sqlalchemy import inspect, text

    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0011")
            for n in range(1, 31):
                conn.execute(
                    text(
                        "INSERT INTO candidates (id, url, link, title, published, first_seen,"
                        " updated_at, placed_at) VALUES (:id, :url, :url, :title, :published,"
                        " :now, :now, :published)"
                    ),
                    {
                        "id": n,
                        "url": f"https://blog.example.gov.uk/{n}",
                        "title": f"Post {n}",
                        "published": NOW - timedelta(hours=n),
                        "now": NOW,
                    },
                )
        assert current_revision(engine) == "0011"
    finally:
        engine.dispose()
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        [index] = [
            i
            for i in inspect(store.engine).get_indexes("candidates")
            if i["name"] == "ix_candidates_placed_at"
        ]
        assert index["column_names"] == ["placed_at", "id", "published", "first_seen"]
        found = store.candidates.list(NOW - timedelta(hours=10, minutes=30), NOW)
        assert [c.id for c in found] == list(range(1, 11))  # newest first, as before
        facts = store.drafts.ranking_facts(NOW - timedelta(days=2), NOW)
        assert sorted(f.id for f in facts) == list(range(1, 31))
    finally:
        store.close()
