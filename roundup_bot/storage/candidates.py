"""Candidates: one row per canonical URL, with every place it was seen."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, Select, bindparam, func, select, update

from roundup_bot.core.records import Candidate, CandidateAlias, CandidateSource, ParsedEntry
from roundup_bot.core.suggestion_rules import credit
from roundup_bot.storage._sql import read, upsert
from roundup_bot.storage.schema import (
    MAX_ID,
    candidate_aliases,
    candidate_sources,
    candidates,
    feeds,
    suggestions,
)

_BATCH = 500
_LISTED = (
    "id",
    "url",
    "link",
    "title",
    "author",
    "published",
    "first_seen",
    "summary",
    "site_name",
    "description",
    "categories",
)
_Ids = Sequence[int] | Select[tuple[int]]
_UPDATABLE = ("title", "author", "published", "summary")


class CandidateRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[Candidate]:
        """Candidates placed (published, else first seen) in [since, until), newest first;
        only those with the given ``ids`` when they are given."""
        query = select(*(candidates.c[name] for name in _LISTED))
        if ids is not None:
            query = query.where(candidates.c.id.in_(list(ids)))
        if since is not None:
            query = query.where(candidates.c.placed_at >= since)
        if until is not None:
            query = query.where(candidates.c.placed_at < until)
        query = query.order_by(candidates.c.placed_at.desc(), candidates.c.id.desc())
        if limit is not None:  # more than there can be rows means all (and fits in SQL)
            query = query.limit(min(limit, MAX_ID))
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
            found: _Ids = [row.id for row in rows]
            if len(rows) > _BATCH:
                # A big window: one query per related table, not one per batch of ids.
                found = select(query.with_only_columns(candidates.c.id).subquery().c.id)
            sources = sources_for(conn, found)
            suggested = suggesters_for(conn, found)
            weights = _feed_weights_for(conn, found)
            aliases = aliases_for(conn, found)
        return [
            Candidate(
                id=row.id,
                url=row.url,
                link=row.link,
                title=row.title,
                author=row.author,
                published=row.published,
                first_seen=row.first_seen,
                summary=row.summary,
                site_name=row.site_name,
                description=row.description,
                sources=tuple(sources.get(row.id, ())),
                suggested_by=tuple(suggested.get(row.id, ())),
                feed_weights=tuple(weights.get(row.id, ())),
                categories=categories_from_json(row.categories),
                aliases=tuple(aliases.get(row.id, ())),
            )
            for row in rows
        ]

    def count(self) -> int:
        from sqlalchemy import func

        with read(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(candidates)).scalar_one())


def _chunks(ids: _Ids) -> list[_Ids]:
    if isinstance(ids, Select):
        return [ids]
    return [ids[i : i + _BATCH] for i in range(0, len(ids), _BATCH)]


def sources_for(conn: Connection, ids: _Ids) -> dict[int, list[CandidateSource]]:
    """Where each candidate came from, oldest source first (the draft store uses it too)."""
    out: dict[int, list[CandidateSource]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                candidate_sources.c.candidate_id,
                candidate_sources.c.kind,
                candidate_sources.c.name,
                candidate_sources.c.url,
                feeds.c.site_url,
            )
            .select_from(
                candidate_sources.outerjoin(feeds, feeds.c.id == candidate_sources.c.feed_id)
            )
            .where(candidate_sources.c.candidate_id.in_(chunk))
            .order_by(candidate_sources.c.id)
        )
        for row in rows:
            out[row.candidate_id].append(
                CandidateSource(kind=row.kind, name=row.name, url=row.url, site=row.site_url)
            )
    return out


def aliases_for(conn: Connection, ids: _Ids) -> dict[int, list[CandidateAlias]]:
    """Each candidate's other addresses (a tracker's link, a syndicated copy), oldest first."""
    out: dict[int, list[CandidateAlias]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                candidate_aliases.c.candidate_id,
                candidate_aliases.c.url,
                candidate_aliases.c.reason,
            )
            .where(candidate_aliases.c.candidate_id.in_(chunk))
            .order_by(candidate_aliases.c.created_at, candidate_aliases.c.url)
        )
        for row in rows:
            out[row.candidate_id].append(CandidateAlias(url=row.url, reason=row.reason))
    return out


def categories_json(categories: Sequence[str]) -> str | None:
    return json.dumps(list(categories), ensure_ascii=False) if categories else None


def categories_from_json(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        data = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(c) for c in data) if isinstance(data, list) else ()


def suggesters_for(conn: Connection, ids: _Ids) -> dict[int, list[str]]:
    """Who suggested each candidate ("@handle", each person once, earliest first)."""
    out: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                suggestions.c.candidate_id, suggestions.c.platform, suggestions.c.author_username
            )
            .where(suggestions.c.candidate_id.in_(chunk), suggestions.c.status == "accepted")
            .order_by(suggestions.c.posted_at, suggestions.c.id)
        )
        for row in rows:
            handle = credit(row.platform, row.author_username)
            bucket = out[row.candidate_id]
            if handle.lower() not in (h.lower() for h in bucket):
                bucket.append(handle)
    return out


def _feed_weights_for(conn: Connection, ids: _Ids) -> dict[int, list[float]]:
    out: dict[int, list[float]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(candidate_sources.c.candidate_id, feeds.c.weight)
            .select_from(candidate_sources.join(feeds, feeds.c.id == candidate_sources.c.feed_id))
            .where(candidate_sources.c.candidate_id.in_(chunk), candidate_sources.c.kind == "feed")
        )
        for row in rows:
            out[row.candidate_id].append(float(row.weight))
    return out


def store_entries(
    conn: Connection,
    *,
    feed_id: int,
    source_name: str,
    source_url: str,
    entries: Sequence[ParsedEntry],
    now: datetime,
) -> tuple[int, int]:
    """Upsert a feed's entries as candidates and record the feed as a source of each.

    Safe against a concurrent run doing the same: inserts use ON CONFLICT DO
    NOTHING on the unique canonical URL and (candidate, kind, source) keys, so
    neither run can create a duplicate. Returns (new, updated).
    """
    if not entries:
        return 0, 0
    # Rows are written in URL order: two runs storing overlapping entries (two
    # feeds carrying the same articles, or ``poll --worker`` processes) then lock
    # them in the same order, so PostgreSQL never has to break a deadlock.
    by_url = {entry.canonical_url: entry for entry in entries}
    by_url = dict(sorted(by_url.items()))
    existing = _existing(conn, list(by_url))
    inserted: set[str] = set()
    changed: list[dict[str, object]] = []
    fresh = [entry for url, entry in by_url.items() if url not in existing]
    if fresh:
        rows = [
            {
                "url": entry.canonical_url,
                "link": entry.link,
                "title": entry.title,
                "author": entry.author,
                "published": entry.published,
                "summary": entry.summary,
                "categories": categories_json(entry.categories),
                "first_seen": now,
                "updated_at": now,
                "placed_at": entry.published or now,
            }
            for entry in fresh
        ]
        for start in range(0, len(rows), _BATCH):
            stmt = upsert(conn, candidates).on_conflict_do_nothing(index_elements=["url"])
            result = conn.execute(stmt.returning(candidates.c.url), rows[start : start + _BATCH])
            inserted.update(result.scalars().all())
        existing = _existing(conn, list(by_url))
    for url, entry in by_url.items():
        row = existing.get(url)
        if row is None or url in inserted:
            continue
        delta = {
            field: getattr(entry, field)
            for field in _UPDATABLE
            if getattr(entry, field) is not None and getattr(entry, field) != row[field]
        }
        if entry.categories and categories_json(entry.categories) != row["categories"]:
            delta["categories"] = categories_json(entry.categories)
        if delta:
            delta["b_id"] = row["id"]
            changed.append(delta)
    if changed:
        # An article carried by several feeds is described by the first of them
        # still polled; otherwise two feeds that word it differently would
        # overwrite each other on every poll.
        others = _described_by_another_feed(conn, [int(str(d["b_id"])) for d in changed], feed_id)
        changed = [d for d in changed if d["b_id"] not in others]
    for delta in changed:
        values = {k: v for k, v in delta.items() if k != "b_id"}
        values["updated_at"] = now
        if "published" in values:
            values["placed_at"] = values["published"]
        conn.execute(update(candidates).where(candidates.c.id == delta["b_id"]).values(**values))
    source_rows = [
        {
            "candidate_id": existing[url]["id"],
            "kind": "feed",
            "source_ref": str(feed_id),
            "feed_id": feed_id,
            "name": source_name,
            "url": source_url,
            "entry_id": entry.entry_id,
            "first_seen": now,
        }
        for url, entry in by_url.items()
        if url in existing
    ]
    for start in range(0, len(source_rows), _BATCH):
        stmt = upsert(conn, candidate_sources).on_conflict_do_nothing(
            index_elements=["candidate_id", "kind", "source_ref"]
        )
        conn.execute(stmt, source_rows[start : start + _BATCH])
    # Keep each source's display name current (a feed renamed in the config).
    conn.execute(
        update(candidate_sources)
        .where(
            candidate_sources.c.feed_id == feed_id,
            candidate_sources.c.name != bindparam("new_name"),
        )
        .values(name=bindparam("new_name")),
        {"new_name": source_name},
    )
    return len(inserted), len(changed)


def _described_by_another_feed(conn: Connection, ids: list[int], feed_id: int) -> set[int]:
    """Of these candidates, those whose first source among the polled feeds is not ``feed_id``."""
    out: set[int] = set()
    for chunk in _chunks(ids):
        first = (
            select(func.min(candidate_sources.c.id).label("first_id"))
            .select_from(candidate_sources.join(feeds, feeds.c.id == candidate_sources.c.feed_id))
            .where(
                candidate_sources.c.candidate_id.in_(chunk),
                candidate_sources.c.kind == "feed",
                feeds.c.enabled.is_(True),
                feeds.c.in_config.is_(True),
            )
            .group_by(candidate_sources.c.candidate_id)
            .subquery()
        )
        rows = conn.execute(
            select(candidate_sources.c.candidate_id, candidate_sources.c.feed_id).join(
                first, candidate_sources.c.id == first.c.first_id
            )
        )
        out.update(row.candidate_id for row in rows if row.feed_id != feed_id)
    return out


def _existing(conn: Connection, urls: list[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for start in range(0, len(urls), _BATCH):
        rows = conn.execute(
            select(
                candidates.c.id,
                candidates.c.url,
                candidates.c.first_seen,
                candidates.c.categories,
                *(candidates.c[field] for field in _UPDATABLE),
            ).where(candidates.c.url.in_(urls[start : start + _BATCH]))
        )
        for row in rows:
            found[row.url] = dict(row._mapping)
    missing = [url for url in urls if url not in found]
    if missing:
        # Another address of an article already stored (a tracker's link that was
        # resolved, a syndicated copy): it is that candidate.
        for url, values in _aliased(conn, missing).items():
            found[url] = values
    return found


def _aliased(conn: Connection, urls: list[str]) -> dict[str, dict[str, object]]:
    """The candidate rows that ``urls`` are aliases of, by alias URL."""
    found: dict[str, dict[str, object]] = {}
    for start in range(0, len(urls), _BATCH):
        rows = conn.execute(
            select(
                candidate_aliases.c.url.label("alias"),
                candidates.c.id,
                candidates.c.url,
                candidates.c.first_seen,
                candidates.c.categories,
                *(candidates.c[field] for field in _UPDATABLE),
            )
            .select_from(
                candidate_aliases.join(
                    candidates, candidates.c.id == candidate_aliases.c.candidate_id
                )
            )
            .where(candidate_aliases.c.url.in_(urls[start : start + _BATCH]))
        )
        for row in rows:
            values = dict(row._mapping)
            found[str(values.pop("alias"))] = values
    return found


def alias_target(conn: Connection, url: str) -> int | None:
    """The candidate that ``url`` is another address of, if any."""
    found = conn.execute(
        select(candidate_aliases.c.candidate_id).where(candidate_aliases.c.url == url)
    ).scalar_one_or_none()
    return int(found) if found is not None else None
