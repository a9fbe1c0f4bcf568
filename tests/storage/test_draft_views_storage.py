"""What changed since each editor last looked, stored, on SQLite and PostgreSQL:
views and their visits, each part's last change (recorded with the save), the
candidates and suggestions that arrived after the draft was made, and migration
0010 over a populated database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.drafts import Article, make_app, seed
from sqlalchemy import TableClause, column, insert, table

from roundup_bot.core.records import Draft, MoveItem, SetBlurb, SetIntro
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.drafting import draft_week
from roundup_bot.storage import Storage, open_storage
from roundup_bot.storage.db import alembic_config, create_db_engine, current_revision, head_revision
from roundup_bot.storage.schema import UTCDateTime, editors, suggestions

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday of week 2026-W48
WEEK = week_by_label("2026-W48", "Europe/London", "friday 09:00")
ARTICLES = [Article(f"post-{n}", NOW - timedelta(days=1, hours=n)) for n in range(1, 4)]


def a_draft(storage: Storage, tmp_path: Path) -> Draft:
    seed(storage, ARTICLES, NOW)
    return draft_week(make_app(storage, tmp_path), WEEK, now=NOW).draft


def test_a_view_starts_a_visit_and_marks_count_from_the_previous_one(
    storage: Storage, tmp_path: Path
) -> None:
    d = a_draft(storage, tmp_path)
    views = storage.draft_views
    assert views.visit(d.id, "Ann", NOW) is None  # first visit
    assert views.visit(d.id, "Ann", NOW + timedelta(minutes=10)) is None  # same visit
    tomorrow = NOW + timedelta(days=1)
    ended = NOW + timedelta(minutes=10)
    assert views.visit(d.id, "Ann", tomorrow) == ended
    assert views.visit(d.id, "Ann", tomorrow + timedelta(minutes=20)) == ended
    assert views.visit(d.id, "Bob", tomorrow) is None  # each editor their own
    # A clock that went back never moves a view backwards.
    assert views.visit(d.id, "Ann", NOW) == ended
    assert views.visit(d.id, "Ann", tomorrow + timedelta(minutes=25)) == ended


def test_a_save_records_who_changed_which_part_and_how(storage: Storage, tmp_path: Path) -> None:
    d = a_draft(storage, tmp_path)
    first, second = d.shown_items[0], d.shown_items[1]
    later = NOW + timedelta(hours=1)
    d = storage.drafts.apply_edits(
        d.id,
        [SetBlurb(first.id, "Bob's words."), SetIntro("Hello from Bob.")],
        expected_version=d.version,
        by="Bob",
        now=later,
    )
    d = storage.drafts.apply_edits(
        d.id,
        [MoveItem(first.id, 1)],
        expected_version=d.version,
        by="Bob",
        now=later + timedelta(minutes=5),
    )
    changes = {c.key: c for c in storage.draft_views.changes(d.id)}
    assert set(changes) == {("intro", 0), ("item", first.id)}
    assert changes[("item", first.id)].what == ("blurb", "moved")  # one visit: added up
    assert changes[("item", first.id)].changed_at == later + timedelta(minutes=5)
    assert changes[("intro", 0)].changed_by == "Bob"
    # Another editor's change to the same item replaces Bob's.
    d = storage.drafts.apply_edits(
        d.id,
        [SetBlurb(first.id, "Cat's words.")],
        expected_version=d.version,
        by="Cat",
        now=later + timedelta(minutes=6),
    )
    changes = {c.key: c for c in storage.draft_views.changes(d.id)}
    assert (changes[("item", first.id)].changed_by, changes[("item", first.id)].what) == (
        "Cat",
        ("blurb",),
    )
    assert ("item", second.id) not in changes  # it only shifted up


def test_candidates_and_suggestions_after_the_draft_arrive(
    storage: Storage, tmp_path: Path
) -> None:
    d = a_draft(storage, tmp_path)
    assert storage.draft_views.arrivals(WEEK.start, WEEK.end, d.created_at) == []
    later = NOW + timedelta(hours=3)
    fresh = Article("fresh", NOW - timedelta(hours=2))
    seeded = seed(storage, [*ARTICLES, fresh], later)
    with storage.engine.begin() as conn:
        conn.execute(
            insert(suggestions).values(
                platform="mastodon",
                post_id="99",
                post_url="https://social.example/@ann/99",
                author_username="ann@social.example",
                link=ARTICLES[0].url,
                canonical_url=ARTICLES[0].url,
                candidate_id=seeded.ids["post-1"],
                status="accepted",
                created_at=later + timedelta(hours=1),
            )
        )
    found = storage.draft_views.arrivals(WEEK.start, WEEK.end, d.created_at)
    assert [(a.candidate_id, a.new, a.suggested_by) for a in found] == [
        (seeded.ids["post-1"], False, ("@ann@social.example",)),
        (seeded.ids["fresh"], True, ()),
    ]
    assert found[0].at == later + timedelta(hours=1)
    # Nothing of another week.
    assert storage.draft_views.arrivals(WEEK.end, WEEK.end + timedelta(days=7), NOW) == []


def _table(name: str, *columns: str) -> TableClause:
    """Only the named columns: the rows are written as the 0009 schema had them,
    whatever columns later migrations add."""
    return table(name, *(column(c, UTCDateTime if c.endswith(_TIMES) else None) for c in columns))


_TIMES = ("_at", "_seen", "placed_at", "period_start", "period_end")


def test_a_populated_database_keeps_everything_through_migration_0010(db_url: str) -> None:
    from alembic import command

    start, end = WEEK.start, WEEK.end
    engine = create_db_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0009")
            conn.execute(insert(editors).values(name="Ann", password_hash="$x", created_at=NOW))
            conn.execute(
                insert(
                    _table(
                        "candidates",
                        "id",
                        "url",
                        "link",
                        "title",
                        "first_seen",
                        "updated_at",
                        "placed_at",
                    )
                ),
                [
                    {
                        "id": n,
                        "url": f"https://b.example/{n}",
                        "link": f"https://b.example/{n}",
                        "title": f"Post {n}",
                        "first_seen": NOW,
                        "updated_at": NOW,
                        "placed_at": NOW - timedelta(days=1),
                    }
                    for n in (1, 2)
                ],
            )
            conn.execute(
                insert(
                    _table(
                        "drafts",
                        "id",
                        "roundup",
                        "week",
                        "period_start",
                        "period_end",
                        "status",
                        "title",
                        "intro",
                        "outro",
                        "intro_edited",
                        "outro_edited",
                        "version",
                        "created_at",
                        "updated_at",
                        "updated_by",
                        "publish_count",
                    )
                ).values(
                    id=1,
                    roundup="welovelocalgov",
                    week="2026-W48",
                    period_start=start,
                    period_end=end,
                    status="draft",
                    title="The week",
                    intro="Hello.",
                    outro="Bye.",
                    intro_edited=False,
                    outro_edited=False,
                    version=3,
                    created_at=NOW,
                    updated_at=NOW,
                    updated_by="Ann",
                    publish_count=0,
                )
            )
            conn.execute(
                insert(
                    _table(
                        "draft_items",
                        "id",
                        "draft_id",
                        "candidate_id",
                        "position",
                        "blurb",
                        "blurb_edited",
                        "removed",
                        "added_by_editor",
                        "moved_by_editor",
                        "score",
                        "why",
                    )
                ),
                [
                    {
                        "id": n,
                        "draft_id": 1,
                        "candidate_id": n,
                        "position": n,
                        "blurb": f"Blurb {n}.",
                        "blurb_edited": False,
                        "removed": False,
                        "added_by_editor": False,
                        "moved_by_editor": False,
                        "score": 1.0,
                        "why": "[]",
                    }
                    for n in (1, 2)
                ],
            )
    finally:
        engine.dispose()
    store = open_storage(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        kept = store.drafts.get(1)
        assert (kept.version, kept.intro, kept.updated_by) == (3, "Hello.", "Ann")
        assert [(i.id, i.blurb) for i in kept.shown_items] == [(1, "Blurb 1."), (2, "Blurb 2.")]
        assert [e.name for e in store.editors.list()] == ["Ann"]
        assert store.draft_views.changes(1) == []
        assert store.draft_views.visit(1, "Ann", NOW) is None
        store.drafts.apply_edits(
            1,
            [SetBlurb(1, "After the upgrade.")],
            expected_version=3,
            by="Bob",
            now=NOW + timedelta(hours=1),
        )
        [change] = store.draft_views.changes(1)
        assert (change.key, change.changed_by, change.what) == (("item", 1), "Bob", ("blurb",))
        assert store.draft_views.visit(1, "Ann", NOW + timedelta(hours=2)) == NOW
    finally:
        store.close()
