"""Builders for the draft tests: an app over a test database, articles seeded as
candidates through the real storage (feeds) and the suggestions table (tips)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from helpers.feeds import record_parsed
from roundup_bot.config import settings_from_mapping
from roundup_bot.core.records import ConfiguredFeed, ParsedEntry, ParsedFeed
from roundup_bot.services.app import App
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import suggestions


@dataclass(frozen=True)
class Article:
    slug: str
    published: datetime
    title: str | None = None
    summary: str | None = None
    author: str | None = "A. Writer"
    feeds: tuple[str, ...] = ("Blog A",)
    tips: tuple[str, ...] = ()  # usernames who suggested it
    host: str = "blog.example.gov.uk"
    scheme: str = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}/{self.slug}"


@dataclass
class Seeded:
    ids: dict[str, int] = field(default_factory=dict)  # slug -> candidate id


def make_app(storage: Storage, tmp_path: Path, **sections: dict[str, Any]) -> App:
    data: dict[str, Any] = {
        "database": {"url": "sqlite:///unused.db"},
        "publish": {"output_dir": str(tmp_path / "public")},
        # One blog writes most test weeks: no cap unless a test sets one.
        "roundup": {"fetch_link_details": False, "max_per_source": 0},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    settings = settings_from_mapping(data, "<test>", environ={})
    return App(settings=settings, storage=storage)


def seed(
    storage: Storage,
    articles: Sequence[Article],
    now: datetime,
    weights: dict[str, float] | None = None,
) -> Seeded:
    weights = weights or {}
    names = sorted({name for a in articles for name in a.feeds})
    configured = [
        ConfiguredFeed(f"https://feeds.example/{n.replace(' ', '-')}", n, weights.get(n, 1.0), True)
        for n in names
    ]
    storage.feeds.sync(configured, now)
    for feed in storage.feeds.for_update(now, mode="all"):
        name = next(c.name for c in configured if c.url == feed.url)
        entries = tuple(
            ParsedEntry(
                link=a.url,
                canonical_url=a.url,
                title=a.title if a.title is not None else f"Title of {a.slug}",
                author=a.author,
                published=a.published,
                summary=a.summary,
                entry_id=a.slug,
            )
            for a in articles
            if name in a.feeds
        )
        record_parsed(
            storage,
            feed,
            parsed=ParsedFeed(url=feed.url, title=name, site_url=None, entries=entries),
            etag=None,
            last_modified=None,
            permanent_url=None,
            now=now,
            next_due=now,
            source_name=name,
        )
    by_url = {c.url: c.id for c in storage.candidates.list()}
    seeded = Seeded({a.slug: by_url[a.url] for a in articles if a.url in by_url})
    rows = [
        {
            "platform": "x",
            "post_id": f"{a.slug}-{user}",
            "post_url": f"https://x.com/{user}/status/1",
            "author_username": user,
            "posted_at": a.published,
            "link": a.url,
            "canonical_url": a.url,
            "candidate_id": seeded.ids[a.slug],
            "status": "accepted",
            "created_at": now,
        }
        for a in articles
        for user in a.tips
    ]
    if rows:
        with storage.engine.begin() as conn:
            conn.execute(insert(suggestions), rows)
    return seeded
