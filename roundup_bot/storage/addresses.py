"""Moving a candidate to its true address, and merging two candidates of one article.

Each change is one transaction: the candidate's address (or the merge of its
sources, suggesters, aliases and draft items into the other candidate) is
applied whole or not at all, and the old address is recorded as an alias, so a
later poll or tweet of the tracker's link finds the same article. How two draft
items of one article combine is decided by ``core.addresses.combine_items``.

A candidate shown in an approved or published round-up is left where it is: a
published round-up is never changed silently.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from roundup_bot.core.addresses import ItemMarks, TrueAddress, combine_items
from roundup_bot.core.errors import StorageError
from roundup_bot.storage._sql import write
from roundup_bot.storage.schema import (
    candidate_aliases,
    candidate_sources,
    candidates,
    draft_items,
    drafts,
    suggestions,
)

log = logging.getLogger(__name__)

_FILLED = ("title", "author", "summary", "site_name", "description", "categories")
_MARKS = tuple(ItemMarks.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Moved:
    """What :meth:`AddressRepository.move` did."""

    candidate_id: int  # the candidate the article is now (the survivor of a merge)
    merged_id: int | None = None  # the candidate merged into it and deleted, if any
    drafts_changed: tuple[int, ...] = ()  # drafts whose items were combined or repointed


class AddressRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def move(
        self, candidate_id: int, address: TrueAddress, *, now: datetime, by: str
    ) -> Moved | None:
        """Give candidate ``candidate_id`` its true address, merging it into the
        candidate already there, if any. None when nothing changed (already there,
        gone, or shown in an approved or published round-up).

        Raises:
            StorageError: the database failed.
        """
        for _attempt in range(3):
            try:
                with write(self.engine) as conn:
                    return _move(conn, candidate_id, address, now, by)
            except StorageError as exc:
                # A poll stored the true address a moment ago: merge into it instead.
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                log.info("candidate %s: its true address appeared meanwhile; merging", candidate_id)
        return None


def _move(
    conn: Connection, candidate_id: int, address: TrueAddress, now: datetime, by: str
) -> Moved | None:
    row = conn.execute(select(candidates).where(candidates.c.id == candidate_id)).first()
    if row is None or row.url == address.url:
        return None
    if _in_final_round_up(conn, candidate_id):
        log.info("candidate %s is in an approved or published round-up: not moved", candidate_id)
        return None
    target_id = conn.execute(
        select(candidates.c.id).where(candidates.c.url == address.url)
    ).scalar_one_or_none()
    if target_id is None:
        target_id = conn.execute(
            select(candidate_aliases.c.candidate_id).where(candidate_aliases.c.url == address.url)
        ).scalar_one_or_none()
    if target_id is None or target_id == candidate_id:
        conn.execute(
            update(candidates)
            .where(candidates.c.id == candidate_id)
            .values(url=address.url, updated_at=now)
        )
        conn.execute(delete(candidate_aliases).where(candidate_aliases.c.url == address.url))
        _alias(conn, row.url, candidate_id, address.reason, now)
        return Moved(candidate_id)
    changed = _merge(conn, row._mapping, int(target_id), address, now, by)
    return Moved(int(target_id), candidate_id, changed)


def _in_final_round_up(conn: Connection, candidate_id: int) -> bool:
    found = conn.execute(
        select(draft_items.c.id)
        .select_from(draft_items.join(drafts, drafts.c.id == draft_items.c.draft_id))
        .where(draft_items.c.candidate_id == candidate_id, drafts.c.status != "draft")
        .limit(1)
    ).first()
    return found is not None


def _alias(conn: Connection, url: str, candidate_id: int, reason: str, now: datetime) -> None:
    conn.execute(delete(candidate_aliases).where(candidate_aliases.c.url == url))
    conn.execute(
        insert(candidate_aliases).values(
            url=url, candidate_id=candidate_id, reason=reason, created_at=now
        )
    )


def _merge(
    conn: Connection,
    gone: Any,
    keep_id: int,
    address: TrueAddress,
    now: datetime,
    by: str,
) -> tuple[int, ...]:
    """Merge candidate ``gone`` into ``keep_id``: nothing lost, nothing twice."""
    gone_id = int(gone.id)
    keep = conn.execute(select(candidates).where(candidates.c.id == keep_id)).one()._mapping
    # Sources: one per (kind, source) on the survivor.
    have = {
        (r.kind, r.source_ref)
        for r in conn.execute(
            select(candidate_sources.c.kind, candidate_sources.c.source_ref).where(
                candidate_sources.c.candidate_id == keep_id
            )
        )
    }
    for source in conn.execute(
        select(candidate_sources).where(candidate_sources.c.candidate_id == gone_id)
    ).all():
        if (source.kind, source.source_ref) in have:
            conn.execute(delete(candidate_sources).where(candidate_sources.c.id == source.id))
        else:
            conn.execute(
                update(candidate_sources)
                .where(candidate_sources.c.id == source.id)
                .values(candidate_id=keep_id)
            )
    # Suggestions: the people are credited on the survivor (counted once each there).
    conn.execute(
        update(suggestions)
        .where(suggestions.c.candidate_id == gone_id)
        .values(candidate_id=keep_id)
    )
    # Other addresses of the merged one are the survivor's now, and so is its own.
    conn.execute(
        update(candidate_aliases)
        .where(candidate_aliases.c.candidate_id == gone_id)
        .values(candidate_id=keep_id)
    )
    changed = _merge_items(conn, gone_id, keep_id, now, by)
    # What the survivor lacked, from the merged one.
    values: dict[str, Any] = {
        field: gone[field] for field in _FILLED if not keep[field] and gone[field]
    }
    if keep["published"] is None and gone["published"] is not None:
        values["published"] = gone["published"]
        values["placed_at"] = gone["published"]
    if gone["first_seen"] < keep["first_seen"]:
        values["first_seen"] = gone["first_seen"]
        if keep["published"] is None and gone["published"] is None:
            values["placed_at"] = gone["first_seen"]
    conn.execute(delete(candidates).where(candidates.c.id == gone_id))
    values["updated_at"] = now
    conn.execute(update(candidates).where(candidates.c.id == keep_id).values(**values))
    _alias(conn, str(gone.url), keep_id, address.reason, now)
    return changed


def _merge_items(
    conn: Connection, gone_id: int, keep_id: int, now: datetime, by: str
) -> tuple[int, ...]:
    """Draft items of the merged candidate become the survivor's; where a draft has
    both, they become one item (core.addresses.combine_items). Each draft changed
    gets a new version, so an editor's page that showed the old items says so."""
    changed: list[int] = []
    for item in conn.execute(
        select(draft_items).where(draft_items.c.candidate_id == gone_id)
    ).all():
        twin = conn.execute(
            select(draft_items).where(
                draft_items.c.draft_id == item.draft_id, draft_items.c.candidate_id == keep_id
            )
        ).first()
        if twin is None:
            conn.execute(
                update(draft_items).where(draft_items.c.id == item.id).values(candidate_id=keep_id)
            )
        else:
            combined = combine_items(_marks(twin._mapping), _marks(item._mapping))
            conn.execute(delete(draft_items).where(draft_items.c.id == item.id))
            conn.execute(
                update(draft_items).where(draft_items.c.id == twin.id).values(**asdict(combined))
            )
        changed.append(int(item.draft_id))
    for draft_id in dict.fromkeys(changed):
        conn.execute(
            update(drafts)
            .where(drafts.c.id == draft_id)
            .values(version=drafts.c.version + 1, updated_at=now, updated_by=by)
        )
    return tuple(dict.fromkeys(changed))


def _marks(row: Any) -> ItemMarks:
    return ItemMarks(**{name: row[name] for name in _MARKS})
