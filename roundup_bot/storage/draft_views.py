"""Who last looked at a draft, and who last changed each part of it.

:class:`DraftViewRepository` records each editor's views of a draft page and
returns the moment their "changed since you last looked" marks count from
(:func:`roundup_bot.core.draft_changes.visit_since` decides it);
:func:`record_changes` is called by ``drafts.apply_edits`` inside its
transaction, so a save and the record of what it changed are one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, insert, select, update

from roundup_bot.core.draft_changes import Arrival, PartChange, PartKey, merged, visit_since
from roundup_bot.core.suggestion_rules import credit
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import candidates, draft_changes, draft_views, suggestions


class DraftViewRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def visit(self, draft_id: int, editor: str, now: datetime) -> datetime | None:
        """Record that ``editor`` has the draft page in front of them at ``now``, and
        return the moment their marks count from (None on their first visit).

        Raises:
            StorageError: the database cannot be written.
        """
        with write(self.engine) as conn:
            row = (
                conn.execute(
                    select(draft_views.c.seen_at, draft_views.c.since).where(
                        draft_views.c.draft_id == draft_id, draft_views.c.editor == editor
                    )
                )
                .mappings()
                .first()
            )
            seen_at = row["seen_at"] if row else None
            since = visit_since(seen_at, row["since"] if row else None, now)
            if seen_at is not None and seen_at > now:
                return since  # a clock that went back: keep the later view
            stmt = upsert(conn, draft_views).values(
                draft_id=draft_id, editor=editor, seen_at=now, since=since
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["draft_id", "editor"],
                    set_={"seen_at": stmt.excluded.seen_at, "since": stmt.excluded.since},
                )
            )
            return since

    def arrivals(self, start: datetime, end: datetime, since: datetime) -> list[Arrival]:
        """The candidates placed in [start, end) first seen after ``since``, or with a
        suggestion accepted after it, the latest first."""
        found: dict[int, Arrival] = {}
        in_week = and_(candidates.c.placed_at >= start, candidates.c.placed_at < end)
        with read(self.engine) as conn:
            for cid, first_seen in conn.execute(
                select(candidates.c.id, candidates.c.first_seen).where(
                    in_week, candidates.c.first_seen > since
                )
            ):
                found[cid] = Arrival(cid, first_seen, new=True)
            for cid, platform, user, at in conn.execute(
                select(
                    suggestions.c.candidate_id,
                    suggestions.c.platform,
                    suggestions.c.author_username,
                    suggestions.c.created_at,
                )
                .join(candidates, candidates.c.id == suggestions.c.candidate_id)
                .where(
                    in_week,
                    suggestions.c.status == "accepted",
                    suggestions.c.created_at > since,
                )
                .order_by(suggestions.c.created_at, suggestions.c.id)
            ):
                name = credit(platform, user)
                was = found.get(cid)
                people = (*was.suggested_by, name) if was else (name,)
                found[cid] = Arrival(
                    cid,
                    max(at, was.at) if was else at,
                    new=was.new if was else False,
                    suggested_by=tuple(dict.fromkeys(people)),
                )
        return sorted(found.values(), key=lambda a: (a.at, a.candidate_id), reverse=True)

    def changes(self, draft_id: int) -> list[PartChange]:
        """The last change to each part of the draft that an editor changed."""
        with read(self.engine) as conn:
            return _changes(conn, draft_id)


def _changes(conn: Connection, draft_id: int) -> list[PartChange]:
    rows = conn.execute(
        select(draft_changes)
        .where(draft_changes.c.draft_id == draft_id)
        .order_by(draft_changes.c.part, draft_changes.c.item_id)
    ).mappings()
    return [
        PartChange(
            part=r["part"],
            item_id=r["item_id"],
            changed_at=r["changed_at"],
            changed_by=r["changed_by"],
            what=tuple(w for w in r["what"].split(",") if w),
        )
        for r in rows
    ]


def record_changes(
    conn: Connection,
    draft_id: int,
    found: Mapping[PartKey, tuple[str, ...]],
    by: str,
    now: datetime,
) -> None:
    """Record, in the caller's transaction, that ``by`` changed these parts at ``now``."""
    if not found:
        return
    earlier = {c.key: c for c in _changes(conn, draft_id)}
    for (part, item_id), what in found.items():
        values = {
            "changed_at": now,
            "changed_by": by,
            "what": ",".join(merged(earlier.get((part, item_id)), what, by, now)),
        }
        where = and_(
            draft_changes.c.draft_id == draft_id,
            draft_changes.c.part == part,
            draft_changes.c.item_id == item_id,
        )
        if (part, item_id) in earlier:
            conn.execute(update(draft_changes).where(where).values(**values))
        else:
            conn.execute(
                insert(draft_changes).values(
                    draft_id=draft_id, part=part, item_id=item_id, **values
                )
            )
