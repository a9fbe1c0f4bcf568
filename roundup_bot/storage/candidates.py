"""Candidates: one row per canonical URL, with every place it was seen."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, bindparam, func, select, update

from roundup_bot.core.feed_update import (
    UPDATABLE,
    FeedSuccess,
    NewCandidate,
    StoredEntry,
    decide_entries,
)
from roundup_bot.core.records import Candidate, CandidateAlias, CandidateSource, ParsedEntry
from roundup_bot.core.suggestion_rules import credit
from roundup_bot.storage._sql import read, upsert, write
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
            found: _Ids = [row[0] for row in rows]
            if len(rows) > _BATCH:
                # A big window: one query per related table, not one per batch of ids.
                found = select(query.with_only_columns(candidates.c.id).subquery().c.id)
            sources, weights = _sources_and_weights(conn, found)
            suggested = suggesters_for(conn, found)
            aliases = aliases_for(conn, found)
        # Rows unpacked as tuples (in _LISTED's order): a big week has 20,000 of them,
        # and reading eleven columns by name from each costs more than building them.
        return [
            Candidate(
                id=cid,
                url=url,
                link=link,
                title=title,
                author=author,
                published=published,
                first_seen=first_seen,
                summary=summary,
                site_name=site_name,
                description=description,
                sources=tuple(sources.get(cid, ())),
                suggested_by=tuple(suggested.get(cid, ())),
                feed_weights=tuple(weights.get(cid, ())),
                categories=categories_from_json(categories),
                aliases=tuple(aliases.get(cid, ())),
            )
            for (
                cid,
                url,
                link,
                title,
                author,
                published,
                first_seen,
                summary,
                site_name,
                description,
                categories,
            ) in rows
        ]

    def add_link(
        self,
        *,
        url: str,
        link: str,
        title: str | None,
        summary: str | None,
        source_kind: str,
        source_ref: str,
        source_name: str,
        now: datetime,
    ) -> tuple[int, bool]:
        """Store a link someone added by hand (an editor), with them as its source:
        (the candidate's id, True if the candidate is new). An existing candidate of
        the same canonical URL keeps what it has; an empty title or summary is filled.
        One transaction; adding the same link again changes nothing."""
        with write(self.engine) as conn:
            created = conn.execute(
                upsert(conn, candidates)
                .values(
                    url=url,
                    link=link,
                    title=title,
                    summary=summary,
                    first_seen=now,
                    updated_at=now,
                    placed_at=now,
                )
                .on_conflict_do_nothing(index_elements=["url"])
                .returning(candidates.c.id)
            ).scalar_one_or_none()
            candidate_id = (
                int(created)
                if created is not None
                else int(
                    conn.execute(
                        select(candidates.c.id).where(candidates.c.url == url)
                    ).scalar_one()
                )
            )
            if created is None:
                for column, value in (("title", title), ("summary", summary)):
                    if value:
                        conn.execute(
                            update(candidates)
                            .where(
                                candidates.c.id == candidate_id,
                                candidates.c[column].is_(None) | (candidates.c[column] == ""),
                            )
                            .values({column: value, "updated_at": now})
                        )
            conn.execute(
                upsert(conn, candidate_sources)
                .values(
                    candidate_id=candidate_id,
                    kind=source_kind,
                    source_ref=source_ref,
                    name=source_name,
                    url=url,
                    first_seen=now,
                )
                .on_conflict_do_nothing(index_elements=["candidate_id", "kind", "source_ref"])
            )
        return candidate_id, created is not None

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many candidates there are, placed in [since, until) when given."""
        from sqlalchemy import func

        query = select(func.count()).select_from(candidates)
        if since is not None:
            query = query.where(candidates.c.placed_at >= since)
        if until is not None:
            query = query.where(candidates.c.placed_at < until)
        with read(self.engine) as conn:
            return int(conn.execute(query).scalar_one())


def _chunks(ids: _Ids) -> list[_Ids]:
    if isinstance(ids, Select):
        return [ids]
    return [ids[i : i + _BATCH] for i in range(0, len(ids), _BATCH)]


def sources_for(conn: Connection, ids: _Ids) -> dict[int, list[CandidateSource]]:
    """Where each candidate came from, oldest source first (the draft store uses it too)."""
    return _sources_and_weights(conn, ids)[0]


def _sources_and_weights(
    conn: Connection, ids: _Ids
) -> tuple[dict[int, list[CandidateSource]], dict[int, list[float]]]:
    """Each candidate's sources, oldest first, and the weights of the feeds among
    them: one query for both (a big week has some 20,000 of each)."""
    sources: dict[int, list[CandidateSource]] = defaultdict(list)
    weights: dict[int, list[float]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                candidate_sources.c.candidate_id,
                candidate_sources.c.kind,
                candidate_sources.c.name,
                candidate_sources.c.url,
                feeds.c.site_url,
                feeds.c.weight,
            )
            .select_from(
                candidate_sources.outerjoin(feeds, feeds.c.id == candidate_sources.c.feed_id)
            )
            .where(candidate_sources.c.candidate_id.in_(chunk))
            .order_by(candidate_sources.c.id)
        ).all()  # fetched at once: iterating a result fetches row by row
        for candidate_id, kind, name, url, site, weight in rows:
            sources[candidate_id].append(CandidateSource(kind=kind, name=name, url=url, site=site))
            if kind == "feed" and weight is not None:
                weights[candidate_id].append(float(weight))
    return sources, weights


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
        ).all()  # fetched at once: iterating a result fetches row by row
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


def alias_target(conn: Connection, url: str) -> int | None:
    """The candidate that ``url`` is another address of, if any."""
    found = conn.execute(
        select(candidate_aliases.c.candidate_id).where(candidate_aliases.c.url == url)
    ).scalar_one_or_none()
    return int(found) if found is not None else None


def _aliased_ids(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
    """Of these URLs, those that are another address of a stored candidate (a
    tracker's link that was resolved, a syndicated copy): its id, by URL."""
    found: dict[str, int] = {}
    for start in range(0, len(urls), _BATCH):
        rows = conn.execute(
            select(candidate_aliases.c.url, candidate_aliases.c.candidate_id).where(
                candidate_aliases.c.url.in_(urls[start : start + _BATCH])
            )
        )
        found.update({row.url: row.candidate_id for row in rows})
    return found


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
        ).all()  # fetched at once: iterating a result fetches row by row
        for row in rows:
            handle = credit(row.platform, row.author_username)
            bucket = out[row.candidate_id]
            if handle.lower() not in (h.lower() for h in bucket):
                bucket.append(handle)
    return out


def store_entries(conn: Connection, success: FeedSuccess) -> tuple[int, int]:
    """Apply what :func:`~roundup_bot.core.feed_update.decide_entries` decides for a
    feed's entries: insert the new candidates, update the changed ones, and record
    the feed as a source of each. Returns (new, updated).

    Safe against a concurrent run doing the same: inserts use ON CONFLICT DO
    NOTHING on the unique canonical URL and (candidate, kind, source) keys, so
    neither run can create a duplicate; a URL the other run inserted first is
    decided again against what it stored.
    """
    entries = success.entries
    if not entries:
        return 0, 0
    # Rows are written in URL order (the entries come sorted): two runs storing
    # overlapping entries (two feeds carrying the same articles, or ``poll --worker``
    # processes) then lock them in the same order, so PostgreSQL never has to
    # break a deadlock.
    feed_id = success.feed_id
    intents = decide_entries(feed_id, entries, _stored(conn, entries), success.now)
    ids = _insert(conn, intents.new, success.now)
    lost = [n.entry for n in intents.new if n.entry.canonical_url not in ids]
    changes = list(intents.changes)
    if lost:  # another run inserted these meanwhile: decide them again against its rows
        again = decide_entries(feed_id, lost, _stored(conn, lost), success.now)
        changes.extend(again.changes)
    for change in changes:
        values = {**change.values, "updated_at": success.now}
        if "categories" in values:
            values["categories"] = categories_json(change.values["categories"])  # type: ignore[arg-type]
        conn.execute(
            update(candidates).where(candidates.c.id == change.candidate_id).values(values)
        )
    ids.update(_ids(conn, [e.canonical_url for e in intents.sources if e.canonical_url not in ids]))
    source_rows = [
        {
            "candidate_id": ids[entry.canonical_url],
            "kind": "feed",
            "source_ref": str(feed_id),
            "feed_id": feed_id,
            "name": success.source_name,
            "url": success.source_url,
            "entry_id": entry.entry_id,
            "first_seen": success.now,
        }
        for entry in intents.sources
        if entry.canonical_url in ids
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
        {"new_name": success.source_name},
    )
    return len(intents.new) - len(lost), len(changes)


def _insert(conn: Connection, new: Sequence[NewCandidate], now: datetime) -> dict[str, int]:
    """Insert new candidates (a URL already there is left alone); their ids by URL."""
    rows = [
        {
            "url": n.entry.canonical_url,
            "link": n.entry.link,
            "title": n.entry.title,
            "author": n.entry.author,
            "published": n.entry.published,
            "summary": n.entry.summary,
            "categories": categories_json(n.entry.categories),
            "first_seen": now,
            "updated_at": now,
            "placed_at": n.placed_at,
        }
        for n in new
    ]
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), _BATCH):
        stmt = upsert(conn, candidates).on_conflict_do_nothing(index_elements=["url"])
        result = conn.execute(
            stmt.returning(candidates.c.url, candidates.c.id), rows[start : start + _BATCH]
        )
        inserted.update({row.url: row.id for row in result})
    return inserted


def _stored(conn: Connection, entries: Sequence[ParsedEntry]) -> dict[str, StoredEntry]:
    """What is stored for these entries' URLs, with the feed that describes each."""
    urls = [e.canonical_url for e in entries]
    rows: list[Row[Any]] = []
    for start in range(0, len(urls), _BATCH):
        rows.extend(
            conn.execute(
                select(
                    candidates.c.id,
                    candidates.c.url,
                    candidates.c.categories,
                    *(candidates.c[field] for field in UPDATABLE),
                ).where(candidates.c.url.in_(urls[start : start + _BATCH]))
            )
        )
    by_url: dict[str, Row[Any]] = {row.url: row for row in rows}
    missing = [url for url in urls if url not in by_url]
    if missing:
        # Another address of an article already stored: it is that candidate.
        aliased = _aliased_ids(conn, missing)
        if aliased:
            targets = {
                row.id: row
                for row in conn.execute(
                    select(
                        candidates.c.id,
                        candidates.c.url,
                        candidates.c.categories,
                        *(candidates.c[field] for field in UPDATABLE),
                    ).where(candidates.c.id.in_(sorted(set(aliased.values()))))
                )
            }
            by_url.update({url: targets[cid] for url, cid in aliased.items() if cid in targets})
    ids = sorted({row.id for row in by_url.values()})
    describers = _describers(conn, ids) if ids else {}
    return {
        url: StoredEntry(
            candidate_id=row.id,
            title=row.title,
            author=row.author,
            published=row.published,
            summary=row.summary,
            described_by=describers.get(row.id),
            categories=categories_from_json(row.categories),
        )
        for url, row in by_url.items()
    }


def _describers(conn: Connection, ids: list[int]) -> dict[int, int]:
    """For these candidates, the first source among the polled feeds (its feed id)."""
    out: dict[int, int] = {}
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
        out.update({row.candidate_id: row.feed_id for row in rows})
    return out


def _ids(conn: Connection, urls: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(urls), _BATCH):
        rows = conn.execute(
            select(candidates.c.url, candidates.c.id).where(
                candidates.c.url.in_(urls[start : start + _BATCH])
            )
        )
        found.update({row.url: row.id for row in rows})
    missing = [url for url in urls if url not in found]
    if missing:
        found.update(_aliased_ids(conn, missing))
    return found
