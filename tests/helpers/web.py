"""Shared set-up for the web page's tests: a temporary SQLite database with a
week of candidates (one with a hostile title), an editor, and the Flask app.

The clock is fixed inside round-up week 2026-W48 (it ends Friday 27 November
2026, 09:00 Europe/London), so the week's draft is the one ``/`` leads to.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from helpers.feeds import record_parsed
from roundup_bot.config import Settings, settings_from_mapping
from roundup_bot.core.records import ConfiguredFeed, Draft, ParsedEntry, ParsedFeed
from roundup_bot.core.weeks import week_containing
from roundup_bot.entrypoints.web import create_app
from roundup_bot.services.app import App, build_app
from roundup_bot.services.drafting import draft_week

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
WEEK = "2026-W48"
EDITOR = "Ann Editor"
PASSWORD = "correct horse battery"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Hostile'
#: Every page behind the sign-in (the auth and browser tests visit them all signed out).
SIGNED_IN_PAGES = (
    "/",
    "/drafts",
    "/drafts/1",
    "/drafts/1/preview",
    "/drafts/1/preview.html",
    "/candidates",
    "/sources",
    "/published",
)
#: Cheap argon2 parameters: the tests check behaviour, not hashing strength.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def entry(n: int, title: str, site: str = "blog.example.gov.uk", hours_ago: int = 0) -> ParsedEntry:
    published = NOW - timedelta(days=2, hours=hours_ago)
    return ParsedEntry(
        link=f"https://{site}/post-{n}",
        canonical_url=f"https://{site}/post-{n}",
        title=title,
        author=f"Author {n}",
        published=published,
        summary=f"What post {n} is about, in a sentence. And a second sentence.",
        entry_id=f"id-{n}",
    )


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {
        "database": {"url": f"sqlite:///{tmp_path / 'roundup.db'}"},
        "roundup": {"fetch_link_details": False, "max_items": 3, "max_per_source": 0},
        "publish": {"output_dir": str(tmp_path / "public")},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return settings_from_mapping(data, str(tmp_path / "config.toml"), environ={})


def seed(app: App) -> None:
    """Two feeds, six candidates in week 2026-W48; one title is hostile markup."""
    storage = app.storage
    storage.feeds.sync(
        [
            ConfiguredFeed("https://blog.example.gov.uk/feed", "Council Blog", 1.0, True),
            ConfiguredFeed("https://other.example.org/feed", "Other Blog", 1.0, True),
        ],
        NOW,
    )
    feeds = {f.url: f for f in storage.feeds.for_update(NOW, mode="all")}
    kwargs: dict[str, Any] = dict(
        etag=None, last_modified=None, permanent_url=None, now=NOW, next_due=NOW
    )
    council = feeds["https://blog.example.gov.uk/feed"]
    record_parsed(
        storage,
        council,
        parsed=ParsedFeed(
            url=council.url,
            title="Council Blog",
            site_url=None,
            entries=(
                entry(1, "Potholes and people", hours_ago=1),
                entry(2, "Libraries open late", hours_ago=2),
                entry(3, HOSTILE, hours_ago=3),
            ),
        ),
        **kwargs,
    )
    other = feeds["https://other.example.org/feed"]
    record_parsed(
        storage,
        other,
        parsed=ParsedFeed(
            url=other.url,
            title="Other Blog",
            site_url=None,
            entries=(
                entry(4, "Parks in winter", site="other.example.org", hours_ago=30),
                entry(5, "Bins, again", site="other.example.org", hours_ago=31),
                entry(6, "Digital by default", site="other.example.org", hours_ago=32),
            ),
        ),
        **kwargs,
    )


def make_draft(app: App) -> Draft:
    r = app.settings.roundup
    week = week_containing(NOW, r.timezone, r.week_ends)
    assert week.label == WEEK
    return draft_week(app, week, now=NOW, fetch_details=False).draft


@dataclass
class Site:
    settings: Settings
    app: App
    flask: Flask
    tmp_path: Path

    def client(self) -> FlaskClient:
        return self.flask.test_client()

    def close(self) -> None:
        self.app.close()


def make_site(tmp_path: Path, *, with_draft: bool = True, **sections: dict[str, Any]) -> Site:
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = make_settings(tmp_path, **sections)
    app = build_app(settings)
    seed(app)
    from roundup_bot.entrypoints.web.accounts import Accounts

    Accounts(app.storage.editors, FAST_HASHER).add(EDITOR, PASSWORD, NOW)
    if with_draft:
        make_draft(app)
    flask = create_app(
        settings,
        roundup=app,
        environ={"ROUNDUP_WEB_SECRET_KEY": "test-secret-key-0123456789"},
        clock=lambda: NOW,
        hasher=FAST_HASHER,
    )
    return Site(settings=settings, app=app, flask=flask, tmp_path=tmp_path)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, name: str = EDITOR, password: str = PASSWORD) -> Any:
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post(
        "/sign-in",
        data={"name": name, "password": password, "csrf_token": csrf_of(page)},
    )


@contextmanager
def serving(flask: Flask, threads: int = 4) -> Iterator[str]:
    """Serve ``flask`` with waitress on an ephemeral 127.0.0.1 port; yields its base URL.

    Every socket is closed by the serving thread itself: closing them from the
    test's thread while that thread sits in select() (a browser keeps its
    connections alive) raced into "Bad file descriptor" in the server thread.
    """
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(flask, host="127.0.0.1", port=0, threads=threads)
    sockets = server._map  # the single server's socket map (waitress has no public name for it)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set() and sockets:
                wasyncore.loop(timeout=0.05, map=sockets, count=1)
        finally:
            wasyncore.close_all(sockets, ignore_all=True)

    thread = threading.Thread(target=run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive(), "the waitress thread did not stop"


def draft(site: Site) -> Draft:
    return site.app.storage.drafts.get(1)


def form_of(d: Draft, html: str, **changes: Any) -> dict[str, Any]:
    """The draft page's form as a browser would send it, with ``changes`` applied."""
    data: dict[str, Any] = {
        "csrf_token": csrf_of(html),
        "version": str(d.version),
        "intro": d.intro,
        "outro": d.outro,
        "item": [str(i.id) for i in d.shown_items],
        "q": "",
    }
    for item in d.shown_items:
        data[f"blurb-{item.id}"] = item.blurb
    data.update(re.findall(r'<input type="hidden" name="(orig-[\w-]+)" value="(\w+)">', html))
    data.update(changes)
    return data


def post(client: FlaskClient, site: Site, **changes: Any) -> Any:
    html = client.get("/drafts/1").get_data(as_text=True)
    return client.post("/drafts/1", data=form_of(draft(site), html, **changes))
