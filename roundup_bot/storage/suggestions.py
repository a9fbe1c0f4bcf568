"""Suggestions from every channel (X, Mastodon, Bluesky): stored per (post, link), thanked.

One page of mentions is stored in one transaction together with the source's
reading position and its monthly post counter, so a run that is killed keeps
exactly what it committed and the next run carries on from there. Inserts use
ON CONFLICT DO NOTHING on the (platform, post, link) key, so reading the same
mentions again never stores anything twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, select, tuple_, update

from roundup_bot.core.suggestion_rules import JudgedSuggestion, PriorSuggestion, credit
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.candidates import alias_target
from roundup_bot.storage.schema import candidate_sources, candidates, suggestions
from roundup_bot.storage.state import get_state, set_state

_BATCH = 500
MONTH_KEY = "month"
POSTS_KEY = "posts_read_month"


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What storing one page changed."""

    accepted: int = 0  # new accepted suggestions
    rejected: int = 0  # new rejected suggestions
    duplicates: int = 0  # suggestions already stored by an earlier run
    new_candidates: int = 0
    posts_read_month: int = 0  # the month's counter after this page


@dataclass(frozen=True, slots=True)
class ThankTarget:
    """One post whose accepted suggestions have not been thanked yet."""

    platform: str
    post_id: str
    post_url: str
    username: str
    links: tuple[str, ...]
    titles: tuple[str | None, ...]
    author_id: str | None = None
    reply_ref: str | None = None  # what the platform needs to reply (JSON), as stored


@dataclass(frozen=True, slots=True)
class SuggestionCounts:
    accepted: int
    rejected: int
    thanked: int


class SuggestionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def prior(
        self,
        platform: str,
        usernames: Sequence[str],
        since: datetime,
        author_ids: Sequence[str] = (),
    ) -> list[PriorSuggestion]:
        """Accepted suggestions posted since ``since`` by these people, found by
        user id or by name (for the weekly limit, which counts by person_key)."""
        names = sorted({name.lower() for name in usernames})
        ids = sorted({author_id for author_id in author_ids if author_id})
        found: dict[int, PriorSuggestion] = {}
        with read(self.engine) as conn:
            for column, values in (
                (func.lower(suggestions.c.author_username), names),
                (suggestions.c.author_id, ids),
            ):
                for start in range(0, len(values), _BATCH):
                    rows = conn.execute(
                        select(
                            suggestions.c.id,
                            suggestions.c.author_id,
                            suggestions.c.author_username,
                            suggestions.c.canonical_url,
                            suggestions.c.posted_at,
                            suggestions.c.created_at,
                        ).where(
                            suggestions.c.platform == platform,
                            suggestions.c.status == "accepted",
                            column.in_(values[start : start + _BATCH]),
                            func.coalesce(suggestions.c.posted_at, suggestions.c.created_at)
                            >= since,
                        )
                    )
                    for row in rows:
                        found[row.id] = PriorSuggestion(
                            username=row.author_username.lower(),
                            canonical_url=row.canonical_url,
                            posted_at=row.posted_at or row.created_at,
                            author_id=row.author_id,
                        )
        return [found[key] for key in sorted(found)]

    def store_page(
        self,
        platform: str,
        judged: Sequence[JudgedSuggestion],
        *,
        posts_read: int,
        month: str,
        state: Mapping[str, str | None],
        now: datetime,
        state_source: str | None = None,
    ) -> StoredPage:
        """Store one page's suggestions, add ``posts_read`` to ``month``'s counter and
        write ``state`` (the reading position), all in one transaction.

        Accepted suggestions become candidates (or join the existing candidate
        of the same canonical URL) with the post as a source; a title or
        description from the URL entity fills a candidate's empty title or
        summary. Rejected ones are stored with their reason and nothing else.
        ``state`` is kept under ``state_source`` (the channel's name; by default
        the platform).
        """
        with write(self.engine) as conn:
            stored = _store(conn, platform, judged, now)
            counter = _count_posts(conn, platform, month, posts_read)
            for key, value in state.items():
                set_state(conn, state_source or platform, key, value)
        return StoredPage(
            accepted=stored[0],
            rejected=stored[1],
            duplicates=stored[2],
            new_candidates=stored[3],
            posts_read_month=counter,
        )

    def posts_read(self, platform: str, month: str) -> int:
        """How many posts were read in ``month`` ("2026-11")."""
        with read(self.engine) as conn:
            if get_state(conn, platform, MONTH_KEY) != month:
                return 0
            return _int(get_state(conn, platform, POSTS_KEY))

    def to_thank(self, platform: str, since: datetime, limit: int = 50) -> list[ThankTarget]:
        """Posts with accepted suggestions not yet thanked, posted since ``since``, oldest first."""
        query = (
            select(
                suggestions.c.post_id,
                suggestions.c.post_url,
                suggestions.c.author_username,
                suggestions.c.link,
                suggestions.c.link_title,
                suggestions.c.posted_at,
                suggestions.c.author_id,
                suggestions.c.reply_ref,
            )
            .where(
                suggestions.c.platform == platform,
                suggestions.c.status == "accepted",
                suggestions.c.thanked_at.is_(None),
                func.coalesce(suggestions.c.posted_at, suggestions.c.created_at) >= since,
            )
            .order_by(suggestions.c.posted_at, suggestions.c.post_id, suggestions.c.id)
        )
        grouped: dict[str, ThankTarget] = {}
        with read(self.engine) as conn:
            for row in conn.execute(query):
                target = grouped.get(row.post_id)
                if target is None:
                    if len(grouped) >= limit:
                        break
                    grouped[row.post_id] = ThankTarget(
                        platform=platform,
                        post_id=row.post_id,
                        post_url=row.post_url,
                        username=row.author_username,
                        links=(row.link,),
                        titles=(row.link_title,),
                        author_id=row.author_id,
                        reply_ref=row.reply_ref,
                    )
                else:
                    grouped[row.post_id] = replace(
                        target,
                        links=(*target.links, row.link),
                        titles=(*target.titles, row.link_title),
                    )
        return list(grouped.values())

    def claim_thanks(self, platform: str, post_id: str, now: datetime) -> bool:
        """Mark a post's suggestions thanked *before* the reply is sent; False when
        another run got there first. A public reply is better missing (a run killed
        between this and the reply) than posted twice (two runs at once)."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(suggestions)
                .where(
                    suggestions.c.platform == platform,
                    suggestions.c.post_id == post_id,
                    suggestions.c.status == "accepted",
                    suggestions.c.thanked_at.is_(None),
                )
                .values(thanked_at=now)
            )
        return bool(result.rowcount)

    def release_thanks(self, platform: str, post_id: str, claimed_at: datetime) -> None:
        """Undo claim_thanks after the reply failed, so a later run tries again."""
        with write(self.engine) as conn:
            conn.execute(
                update(suggestions)
                .where(
                    suggestions.c.platform == platform,
                    suggestions.c.post_id == post_id,
                    suggestions.c.thanked_at == claimed_at,
                )
                .values(thanked_at=None)
            )

    def suggesters_of(self, candidate_ids: Sequence[int]) -> dict[str, dict[str, str | None]]:
        """Who suggested these candidates, per platform: {platform: {handle: author id}},
        each person once, in the order they suggested (accepted suggestions only)."""
        out: dict[str, dict[str, str | None]] = {}
        ids = sorted(set(candidate_ids))
        with read(self.engine) as conn:
            for start in range(0, len(ids), _BATCH):
                rows = conn.execute(
                    select(
                        suggestions.c.platform,
                        suggestions.c.author_username,
                        suggestions.c.author_id,
                    )
                    .where(
                        suggestions.c.candidate_id.in_(ids[start : start + _BATCH]),
                        suggestions.c.status == "accepted",
                    )
                    .order_by(suggestions.c.created_at, suggestions.c.id)
                )
                for row in rows:
                    people = out.setdefault(row.platform, {})
                    people.setdefault(row.author_username.lstrip("@"), row.author_id)
        return out

    def counts(self, platform: str) -> SuggestionCounts:
        query = select(
            func.count().filter(suggestions.c.status == "accepted"),
            func.count().filter(suggestions.c.status == "rejected"),
            func.count().filter(suggestions.c.thanked_at.is_not(None)),
        ).where(suggestions.c.platform == platform)
        with read(self.engine) as conn:
            accepted, rejected, thanked = conn.execute(query).one()
        return SuggestionCounts(int(accepted or 0), int(rejected or 0), int(thanked or 0))


def store_judged(
    conn: Connection, platform: str, judged: Sequence[JudgedSuggestion], now: datetime
) -> StoredPage:
    """Store judged suggestions inside the caller's transaction (another source's
    reading position goes in the same one): accepted ones as candidates, rejected
    ones with their reason, none twice."""
    accepted, rejected, duplicates, new_candidates = _store(conn, platform, judged, now)
    return StoredPage(accepted, rejected, duplicates, new_candidates)


def _store(
    conn: Connection, platform: str, judged: Sequence[JudgedSuggestion], now: datetime
) -> tuple[int, int, int, int]:
    keys = {(j.suggestion.post_id, j.suggestion.canonical_url) for j in judged}
    known = _known(conn, platform, keys)
    accepted = rejected = duplicates = new_candidates = 0
    seen: set[tuple[str, str]] = set()
    for item in judged:
        s = item.suggestion
        key = (s.post_id, s.canonical_url)
        if key in known or key in seen:
            duplicates += 1
            continue
        seen.add(key)
        candidate_id: int | None = None
        if item.status == "accepted":
            candidate_id, created = _candidate_for(conn, item, now)
            new_candidates += created
            conn.execute(
                upsert(conn, candidate_sources)
                .values(
                    candidate_id=candidate_id,
                    kind=platform,
                    source_ref=s.post_id,
                    name=credit(platform, s.author_username),
                    url=s.post_url,
                    first_seen=now,
                )
                .on_conflict_do_nothing(index_elements=["candidate_id", "kind", "source_ref"])
            )
        inserted = conn.execute(
            upsert(conn, suggestions)
            .values(
                platform=platform,
                post_id=s.post_id,
                post_url=s.post_url,
                author_id=s.author_id,
                author_username=s.author_username.lstrip("@"),
                text=s.text,
                posted_at=s.posted_at,
                link=s.link,
                canonical_url=s.canonical_url,
                link_title=s.link_title,
                link_description=s.link_description,
                reply_ref=s.reply_ref,
                candidate_id=candidate_id,
                status=item.status,
                reason=item.reason,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "post_id", "canonical_url"])
            .returning(suggestions.c.id)
        ).first()
        if inserted is None:
            duplicates += 1  # a concurrent run stored it first
        elif item.status == "accepted":
            accepted += 1
        else:
            rejected += 1
    return accepted, rejected, duplicates, new_candidates


def _known(conn: Connection, platform: str, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), _BATCH):
        chunk = ordered[start : start + _BATCH]
        rows = conn.execute(
            select(suggestions.c.post_id, suggestions.c.canonical_url).where(
                suggestions.c.platform == platform,
                tuple_(suggestions.c.post_id, suggestions.c.canonical_url).in_(chunk),
            )
        )
        found.update((row.post_id, row.canonical_url) for row in rows)
    return found


def _candidate_for(conn: Connection, item: JudgedSuggestion, now: datetime) -> tuple[int, int]:
    """The candidate of the suggestion's canonical URL, created if new: (id, 1 if created)."""
    s = item.suggestion
    aliased = alias_target(conn, s.canonical_url)
    if aliased is not None:
        # A shortener's link already resolved to a stored article: it is that one.
        return aliased, 0
    created = conn.execute(
        upsert(conn, candidates)
        .values(
            url=s.canonical_url,
            link=s.link,
            title=s.link_title,
            summary=s.link_description,
            first_seen=now,
            updated_at=now,
            placed_at=s.posted_at or now,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(candidates.c.id)
    ).scalar_one_or_none()
    if created is not None:
        return int(created), 1
    candidate_id = int(
        conn.execute(
            select(candidates.c.id).where(candidates.c.url == s.canonical_url)
        ).scalar_one()
    )
    for column, value in (("title", s.link_title), ("summary", s.link_description)):
        if value:
            conn.execute(
                update(candidates)
                .where(
                    and_(
                        candidates.c.id == candidate_id,
                        (candidates.c[column].is_(None)) | (candidates.c[column] == ""),
                    )
                )
                .values({column: value, "updated_at": now})
            )
    return candidate_id, 0


def _count_posts(conn: Connection, platform: str, month: str, posts: int) -> int:
    current = 0
    if get_state(conn, platform, MONTH_KEY) == month:
        current = _int(get_state(conn, platform, POSTS_KEY))
    total = current + posts
    set_state(conn, platform, MONTH_KEY, month)
    set_state(conn, platform, POSTS_KEY, str(total))
    return total


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


__all__ = [
    "StoredPage",
    "SuggestionCounts",
    "SuggestionRepository",
    "ThankTarget",
    "store_judged",
]
