"""Approval and publishing: status rules, the files, the Atom feed, atomic writes."""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.drafts import Article, make_app, seed
from helpers.markup import assert_no_active_markup

from roundup_bot.core.errors import DraftError, PublishError, StaleDraftError, TemplateError
from roundup_bot.core.records import SetBlurb
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services import publish as publish_module
from roundup_bot.services.drafting import draft_week
from roundup_bot.services.publish import approve, atomic_write, publish, reopen
from roundup_bot.storage import Storage

ATOM = "{http://www.w3.org/2005/Atom}"
W47 = week_by_label("2026-W47", "Europe/London", "friday 09:00")
W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def week_articles() -> list[Article]:
    return [
        Article(slug="w47-a", published=W47.end - timedelta(days=1), summary="Last week."),
        Article(
            slug="w48-a",
            published=W48.end - timedelta(days=1),
            title=HOSTILE,
            summary=HOSTILE + " A blurb.",
            tips=("ann",),
        ),
        Article(slug="w48-b", published=W48.end - timedelta(days=2), summary="Second."),
    ]


def test_approve_publishes_html_markdown_and_feed(storage: Storage, tmp_path: Path) -> None:
    seed(storage, week_articles(), NOW)
    app = make_app(storage, tmp_path, publish={"base_url": "https://roundup.example/"})
    first = draft_week(app, W47, now=NOW).draft
    approve(app, first.id, by="ann", now=NOW)
    second = draft_week(app, W48, now=NOW).draft
    published = approve(app, second.id, by="bob", now=NOW + timedelta(minutes=5))

    out = tmp_path / "public"
    assert published.html_path == out / "2026-W48.html"
    assert published.draft.status == "published"
    assert published.draft.approved_by == "bob"
    assert published.draft.approved_at == NOW + timedelta(minutes=5)
    assert published.draft.published_path == str(out / "2026-W48.html")
    html = (out / "2026-W48.html").read_text()
    assert "thanks to @ann for the tip" in html
    assert_no_active_markup(html)
    assert (out / "2026-W48.md").read_text().startswith("# That was the local government week")
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-W47.html",
        "2026-W47.md",
        "2026-W48.html",
        "2026-W48.md",
        "feed.xml",
    ]  # no temporary files left behind
    assert oct((out / "feed.xml").stat().st_mode & 0o777) == "0o644"

    feed = ET.parse(out / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "That was the local government week that was"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "tag:roundup-bot,2026:welovelocalgov/2026-W48",
        "tag:roundup-bot,2026:welovelocalgov/2026-W47",
    ]
    assert entries[0].find(f"{ATOM}link").get("href") == "https://roundup.example/2026-W48.html"
    content = entries[0].findtext(f"{ATOM}content")
    assert entries[0].find(f"{ATOM}content").get("type") == "html"
    assert "<h1>" in content
    assert_no_active_markup(content)


def test_status_rules_and_republishing(storage: Storage, tmp_path: Path) -> None:
    seed(storage, week_articles(), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, W48, now=NOW).draft
    with pytest.raises(DraftError, match="only an approved one"):
        publish(app, draft.id, now=NOW)
    with pytest.raises(StaleDraftError):
        approve(app, draft.id, by="ann", now=NOW, expected_version=draft.version - 1)
    done = approve(app, draft.id, by="ann", now=NOW).draft
    with pytest.raises(DraftError, match="already published"):
        approve(app, draft.id, by="ann", now=NOW)
    with pytest.raises(DraftError, match="--force"):
        reopen(app, draft.id, by="ann", now=NOW)
    html_before = (tmp_path / "public" / "2026-W48.html").read_text()
    reopened = reopen(app, draft.id, by="bob", now=NOW + timedelta(hours=1), force=True)
    assert reopened.status == "draft"
    assert reopened.reopened_by == "bob"
    assert (tmp_path / "public" / "2026-W48.html").read_text() == html_before  # untouched
    item = reopened.shown_items[0]
    storage.drafts.apply_edits(
        draft.id,
        [SetBlurb(item.id, "A corrected blurb.")],
        expected_version=reopened.version,
        by="bob",
        now=NOW,
    )
    again = approve(app, draft.id, by="bob", now=NOW + timedelta(hours=2)).draft
    assert again.publish_count == 2
    assert again.first_published_at == done.first_published_at == NOW
    assert again.published_at == NOW + timedelta(hours=2)
    assert "A corrected blurb." in (tmp_path / "public" / "2026-W48.html").read_text()
    entry = ET.parse(tmp_path / "public" / "feed.xml").getroot().find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published").startswith("2026-11-27T10:00:00")
    assert entry.findtext(f"{ATOM}updated").startswith("2026-11-27T12:00:00")
    assert [s.status for s in storage.drafts.summaries("welovelocalgov")] == ["published"]


def test_a_broken_template_publishes_nothing_and_keeps_the_approval(
    storage: Storage, tmp_path: Path
) -> None:
    seed(storage, week_articles(), NOW)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "roundup.md.j2").write_text("{{ roundup.nope }}\n")
    app = make_app(storage, tmp_path, roundup={"templates_dir": str(templates)})
    draft = draft_week(app, W48, now=NOW).draft
    with pytest.raises(TemplateError, match=r"roundup\.md\.j2:1"):
        approve(app, draft.id, by="ann", now=NOW)
    assert not (tmp_path / "public").exists()
    assert storage.drafts.get(draft.id).status == "approved"
    (templates / "roundup.md.j2").write_text("# {{ roundup.title }}\n")
    assert approve(app, draft.id, by="ann", now=NOW).draft.status == "published"  # retried


def test_atomic_write_replaces_whole_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.html"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["x.html"]


def test_a_file_in_the_way_of_the_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(PublishError, match="blocker"):
        atomic_write(tmp_path / "blocker" / "feed.xml", b"x")


def test_two_round_ups_approved_at_once_both_reach_the_feed(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing holds a lock: without it each would write a feed.xml lacking the other."""
    seed(storage, week_articles(), NOW)
    app = make_app(storage, tmp_path)
    ids = [draft_week(app, week, now=NOW).draft.id for week in (W47, W48)]
    building = threading.Event()
    second_waits = threading.Event()
    original = publish_module.build_feed
    pause = app.storage.locks.pause

    def note_the_wait(seconds: float) -> None:
        second_waits.set()
        pause(seconds)

    app.storage.locks.pause = note_the_wait

    def slow_build_feed(*args: Any, **kwargs: Any) -> bytes:
        if building.is_set():  # the second publish: it must not overlap the first
            return original(*args, **kwargs)
        building.set()
        # The first publish builds its feed only once the second is waiting for the
        # lock: without the lock, the second would be building its own meanwhile.
        assert second_waits.wait(30), "the second publish never waited for the lock"
        return original(*args, **kwargs)

    monkeypatch.setattr(publish_module, "build_feed", slow_build_feed)
    errors: list[BaseException] = []

    def approve_one(draft_id: int) -> None:
        try:
            approve(app, draft_id, by="ann", now=NOW)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve_one, args=(i,)) for i in ids]
    threads[0].start()
    assert building.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    feed = ET.parse(tmp_path / "public" / "feed.xml").getroot()
    assert sorted(e.findtext(f"{ATOM}id") or "" for e in feed.findall(f"{ATOM}entry")) == [
        "tag:roundup-bot,2026:welovelocalgov/2026-W47",
        "tag:roundup-bot,2026:welovelocalgov/2026-W48",
    ]


def test_control_characters_an_editor_pasted_do_not_stop_publishing(
    storage: Storage, tmp_path: Path
) -> None:
    """A vertical tab or form feed (a paste from a word processor) is not allowed in XML:
    it used to stop feed.xml with a traceback; it is dropped from every output instead."""
    seed(storage, week_articles(), NOW)
    app = make_app(storage, tmp_path)
    draft = draft_week(app, W48, now=NOW).draft
    item = draft.shown_items[0]
    storage.drafts.apply_edits(
        draft.id,
        [SetBlurb(item.id, "Line\x0bbreak and\x0c page\x1b.")],
        expected_version=draft.version,
        by="bob",
        now=NOW,
    )
    published = approve(app, draft.id, by="bob", now=NOW)
    feed = ET.parse(published.feed_path).getroot()
    [entry] = feed.findall(f"{ATOM}entry")
    assert "Linebreak and page." in (entry.findtext(f"{ATOM}content") or "")
    for path in (published.html_path, published.markdown_path):
        text = path.read_text()
        assert "Linebreak and page." in text
        assert not any(ch in text for ch in "\x0b\x0c\x1b")
