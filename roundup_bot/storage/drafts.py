"""Drafts of the weekly round-up, their items, and the status rules.

Every change goes through one of three doors, each a single transaction that
checks the draft's status and (where given) its ``version`` and bumps it:

* :meth:`DraftRepository.save_plan` stores what ``roundup-bot draft`` decided;
* :meth:`DraftRepository.apply_edits` stores an editor's changes (the CLI now,
  the web page later), item by item, marking each thing the editor touched so a
  later refresh leaves it alone;
* :meth:`DraftRepository.approve`, :meth:`~DraftRepository.mark_published` and
  :meth:`~DraftRepository.reopen` move the status: draft -> approved -> published,
  and back to draft only on purpose.

A save made against an old ``version`` raises :class:`StaleDraftError`, which
names who saved last, so two editors never silently overwrite each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from roundup_bot.core.credits import Credit, credit, tidy
from roundup_bot.core.errors import DraftError, DraftNotFound, StaleDraftError, StorageError
from roundup_bot.core.records import (
    AddItem,
    CandidateSource,
    Draft,
    DraftEdit,
    DraftItem,
    DraftPlan,
    DraftStatus,
    DraftSummary,
    MoveItem,
    RankingFacts,
    RemoveItem,
    RestoreItem,
    ScorePart,
    SetBlurb,
    SetIntro,
    SetItemDetails,
    SetOrder,
    SetOutro,
)
from roundup_bot.storage._sql import read, write
from roundup_bot.storage.candidates import sources_for, suggesters_for
from roundup_bot.storage.schema import (
    candidate_sources,
    candidates,
    draft_items,
    drafts,
    feeds,
    link_details,
    suggestions,
)

#: Longest text an editor may save, in characters.
MAX_BLURB = 2000
MAX_INTRO = 4000
MAX_DETAIL = 300
_CHUNK = 500


class DraftRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reading -----------------------------------------------------------------------

    def get(self, draft_id: int) -> Draft:
        """The draft with its items. Raises DraftNotFound."""
        with read(self.engine) as conn:
            return _load(conn, draft_id)

    def find(self, roundup: str, week: str) -> Draft | None:
        """The draft of one round-up's week, if it exists."""
        with read(self.engine) as conn:
            draft_id = conn.execute(
                select(drafts.c.id).where(drafts.c.roundup == roundup, drafts.c.week == week)
            ).scalar_one_or_none()
            return _load(conn, draft_id) if draft_id is not None else None

    def summaries(
        self, roundup: str | None = None, *, status: DraftStatus | None = None
    ) -> list[DraftSummary]:
        """Drafts without their items, newest week first."""
        shown = (
            select(draft_items.c.draft_id, func.count().label("n"))
            .where(draft_items.c.removed.is_(False))
            .group_by(draft_items.c.draft_id)
            .subquery()
        )
        query = select(drafts, func.coalesce(shown.c.n, 0).label("shown")).select_from(
            drafts.outerjoin(shown, shown.c.draft_id == drafts.c.id)
        )
        if roundup is not None:
            query = query.where(drafts.c.roundup == roundup)
        if status is not None:
            query = query.where(drafts.c.status == status)
        with read(self.engine) as conn:
            rows = conn.execute(query.order_by(drafts.c.period_end.desc(), drafts.c.id.desc()))
            return [
                DraftSummary(
                    id=row.id,
                    roundup=row.roundup,
                    week=row.week,
                    status=cast(DraftStatus, row.status),
                    items=int(row.shown),
                    version=row.version,
                    updated_at=row.updated_at,
                    updated_by=row.updated_by,
                    approved_by=row.approved_by,
                    approved_at=row.approved_at,
                    published_at=row.published_at,
                )
                for row in rows
            ]

    def published(self, roundup: str) -> list[Draft]:
        """Every published round-up, newest week first (for the Atom feed)."""
        with read(self.engine) as conn:
            ids = conn.execute(
                select(drafts.c.id)
                .where(drafts.c.roundup == roundup, drafts.c.status == "published")
                .order_by(drafts.c.period_end.desc())
            ).scalars()
            return [_load(conn, draft_id) for draft_id in list(ids)]

    def used_elsewhere(
        self, roundup: str, week: str, candidate_ids: Sequence[int]
    ) -> dict[int, str]:
        """Candidates already shown in another week's approved or published round-up,
        mapped to that week's label."""
        found: dict[int, str] = {}
        with read(self.engine) as conn:
            for start in range(0, len(candidate_ids), _CHUNK):
                chunk = candidate_ids[start : start + _CHUNK]
                rows = conn.execute(
                    select(draft_items.c.candidate_id, drafts.c.week)
                    .select_from(draft_items.join(drafts, drafts.c.id == draft_items.c.draft_id))
                    .where(
                        draft_items.c.candidate_id.in_(chunk),
                        draft_items.c.removed.is_(False),
                        drafts.c.roundup == roundup,
                        drafts.c.week != week,
                        drafts.c.status.in_(("approved", "published")),
                    )
                    .order_by(drafts.c.period_end)
                )
                for row in rows:
                    found.setdefault(row.candidate_id, row.week)
        return found

    def ranking_facts(self, since: datetime, until: datetime) -> list[RankingFacts]:
        """Per candidate placed in [since, until): what its score is made of (but its
        text), counted in the database, so a draft can bound every candidate's score
        and load only the few that can reach the top."""
        window = (candidates.c.placed_at >= since, candidates.c.placed_at < until)
        in_window = select(candidates.c.id).where(*window)
        with read(self.engine) as conn:
            # The moment ranking.placed_at uses (a tip's candidate is placed by the
            # post's time, but scored by when it was first seen).
            moment = func.coalesce(candidates.c.published, candidates.c.first_seen)
            placed = conn.execute(select(candidates.c.id, moment).where(*window)).all()
            carried = {
                row[0]: (int(row[1]), row[2])
                for row in conn.execute(
                    select(
                        candidate_sources.c.candidate_id,
                        func.count(),
                        func.max(feeds.c.weight),
                    )
                    .select_from(
                        candidate_sources.outerjoin(
                            feeds, feeds.c.id == candidate_sources.c.feed_id
                        )
                    )
                    .where(
                        candidate_sources.c.candidate_id.in_(in_window),
                        candidate_sources.c.kind == "feed",
                    )
                    .group_by(candidate_sources.c.candidate_id)
                ).all()
            }
            handle = func.ltrim(func.lower(suggestions.c.author_username), "@")
            people = {
                row[0]: int(row[1])
                for row in conn.execute(
                    select(suggestions.c.candidate_id, func.count(func.distinct(handle)))
                    .where(
                        suggestions.c.candidate_id.in_(in_window),
                        suggestions.c.status == "accepted",
                    )
                    .group_by(suggestions.c.candidate_id)
                ).all()
            }
        facts = []
        for cid, moment in placed:
            count, weight = carried.get(cid, (0, None))
            facts.append(
                RankingFacts(
                    id=cid,
                    placed_at=moment,
                    feeds=count,
                    max_weight=float(weight) if weight is not None else None,
                    people=people.get(cid, 0),
                )
            )
        return facts

    # --- what `roundup-bot draft` decided -------------------------------------------------

    def save_plan(self, plan: DraftPlan, *, now: datetime, by: str) -> Draft:
        """Create or refresh a draft as planned, in one transaction.

        Raises:
            StaleDraftError: the draft changed since the plan was made (plan again).
            DraftError: the draft is no longer a draft (approved meanwhile).
        """
        try:
            with write(self.engine) as conn:
                if plan.draft_id is None:
                    draft_id = _create(conn, plan, now, by)
                else:
                    draft_id = plan.draft_id
                    values: dict[str, Any] = {"title": plan.title}
                    if plan.intro is not None:
                        values["intro"] = plan.intro
                    if plan.outro is not None:
                        values["outro"] = plan.outro
                    _bump(conn, draft_id, plan.expected_version, by, now, values)
                if plan.delete_item_ids:
                    conn.execute(
                        delete(draft_items).where(
                            draft_items.c.draft_id == draft_id,
                            draft_items.c.id.in_(plan.delete_item_ids),
                        )
                    )
                for item in plan.items:
                    row: dict[str, Any] = {
                        "position": item.position,
                        "score": item.score,
                        "why": _why_json(item.why),
                    }
                    if item.blurb is not None:
                        row["blurb"] = item.blurb
                    if item.item_id is None:
                        conn.execute(
                            insert(draft_items).values(
                                draft_id=draft_id,
                                candidate_id=item.candidate_id,
                                blurb=item.blurb or "",
                                blurb_edited=False,
                                removed=False,
                                added_by_editor=False,
                                moved_by_editor=False,
                                **{k: v for k, v in row.items() if k != "blurb"},
                            )
                        )
                    else:
                        conn.execute(
                            update(draft_items)
                            .where(
                                draft_items.c.id == item.item_id,
                                draft_items.c.draft_id == draft_id,
                            )
                            .values(**row)
                        )
                return _load(conn, draft_id)
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError) and plan.draft_id is None:
                # Another run created the same week's draft a moment ago.
                raise StaleDraftError(0, 0, 1, by, now) from exc
            raise

    # --- what editors change ---------------------------------------------------------------

    def apply_edits(
        self,
        draft_id: int,
        edits: Sequence[DraftEdit],
        *,
        expected_version: int,
        by: str,
        now: datetime,
    ) -> Draft:
        """Apply an editor's edits together: all of them or none.

        Each thing changed is marked (``blurb_edited``, ``removed``,
        ``moved_by_editor``, ``added_by_editor``, ``intro_edited`` ...), so a
        later ``roundup-bot draft`` refresh keeps it. An edit that changes
        nothing (a blurb saved as it was) marks nothing.

        Raises:
            DraftNotFound: no such draft, or an edit names an item not in it.
            StaleDraftError: ``expected_version`` is not the draft's version.
            DraftError: the draft is approved or published, or an edit is invalid
                (text too long, an unknown candidate, a bad order).
        """
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            _check_editable(head, expected_version)
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    select(draft_items)
                    .where(draft_items.c.draft_id == draft_id)
                    .order_by(draft_items.c.position, draft_items.c.id)
                )
            ]
            original = {row["id"]: dict(row) for row in rows}
            draft_values: dict[str, Any] = {}
            for edit in edits:
                _apply(conn, edit, rows, head, draft_values)
            _renumber(rows)
            _bump(conn, draft_id, expected_version, by, now, draft_values)
            for row in rows:
                if row["id"] is None:
                    values = {k: v for k, v in row.items() if k != "id"}
                    conn.execute(insert(draft_items).values(**values))
                    continue
                changed = {k: v for k, v in row.items() if original[row["id"]].get(k) != v}
                if changed:
                    conn.execute(
                        update(draft_items).where(draft_items.c.id == row["id"]).values(**changed)
                    )
            return _load(conn, draft_id)

    # --- status ----------------------------------------------------------------------------

    def approve(
        self, draft_id: int, *, by: str, now: datetime, expected_version: int | None = None
    ) -> Draft:
        """draft -> approved, recording who and when.

        Raises:
            DraftNotFound, StaleDraftError, DraftError (not a draft, or no items).
        """
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            if head["status"] != "draft":
                raise DraftError(f"draft {draft_id} ({head['week']}) is already {head['status']}")
            shown = conn.execute(
                select(func.count())
                .select_from(draft_items)
                .where(draft_items.c.draft_id == draft_id, draft_items.c.removed.is_(False))
            ).scalar_one()
            if not shown:
                raise DraftError(f"draft {draft_id} ({head['week']}) has no items to approve")
            _bump(
                conn,
                draft_id,
                expected_version,
                by,
                now,
                {"status": "approved", "approved_by": by, "approved_at": now},
                status="draft",
            )
            return _load(conn, draft_id)

    def mark_published(self, draft_id: int, *, path: str, now: datetime) -> Draft:
        """approved -> published, once its files are written.

        Raises:
            DraftNotFound, DraftError (not approved).
        """
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            if head["status"] != "approved":
                raise DraftError(
                    f"draft {draft_id} ({head['week']}) is {head['status']}, not approved"
                )
            _bump(
                conn,
                draft_id,
                None,
                head["updated_by"],
                now,
                {
                    "status": "published",
                    "published_at": now,
                    "first_published_at": head["first_published_at"] or now,
                    "publish_count": drafts.c.publish_count + 1,
                    "published_path": path,
                },
                status="approved",
            )
            return _load(conn, draft_id)

    def reopen(
        self,
        draft_id: int,
        *,
        by: str,
        now: datetime,
        allow_published: bool = False,
        expected_version: int | None = None,
    ) -> Draft:
        """approved (or, with ``allow_published``, published) -> draft.

        The approval is cleared; the reopening is recorded. A published round-up's
        files stay as they are until it is approved again, which republishes it.

        Raises:
            DraftNotFound, StaleDraftError, DraftError (already a draft; published
            without ``allow_published``).
        """
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            status = head["status"]
            if status == "draft":
                raise DraftError(f"draft {draft_id} ({head['week']}) is already a draft")
            if status == "published" and not allow_published:
                raise DraftError(
                    f"draft {draft_id} ({head['week']}) is published: reopening it means "
                    "republishing a changed round-up; confirm with --force"
                )
            _bump(
                conn,
                draft_id,
                expected_version,
                by,
                now,
                {
                    "status": "draft",
                    "approved_by": None,
                    "approved_at": None,
                    "reopened_by": by,
                    "reopened_at": now,
                },
                status=status,
            )
            return _load(conn, draft_id)


# --- helpers ----------------------------------------------------------------------------


def _create(conn: Connection, plan: DraftPlan, now: datetime, by: str) -> int:
    result = conn.execute(
        insert(drafts)
        .values(
            roundup=plan.roundup,
            week=plan.week,
            period_start=plan.period_start,
            period_end=plan.period_end,
            status="draft",
            title=plan.title,
            intro=plan.intro or "",
            outro=plan.outro or "",
            intro_edited=False,
            outro_edited=False,
            version=1,
            publish_count=0,
            created_at=now,
            updated_at=now,
            updated_by=by,
        )
        .returning(drafts.c.id)
    )
    return int(result.scalar_one())


def _head(conn: Connection, draft_id: int) -> dict[str, Any]:
    row = conn.execute(select(drafts).where(drafts.c.id == draft_id)).first()
    if row is None:
        raise DraftNotFound(f"no draft with id {draft_id} (see `roundup-bot drafts`)")
    return dict(row._mapping)


def _check_editable(head: dict[str, Any], expected_version: int) -> None:
    if head["status"] != "draft":
        raise DraftError(
            f"draft {head['id']} ({head['week']}) is {head['status']}: reopen it before changing it"
        )
    if head["version"] != expected_version:
        raise StaleDraftError(
            head["id"], expected_version, head["version"], head["updated_by"], head["updated_at"]
        )


def _bump(
    conn: Connection,
    draft_id: int,
    expected_version: int | None,
    by: str | None,
    now: datetime,
    values: dict[str, Any],
    *,
    status: str = "draft",
) -> None:
    """Bump the version (and set ``values``) only if status and version still match."""
    condition = and_(drafts.c.id == draft_id, drafts.c.status == status)
    if expected_version is not None:
        condition = and_(condition, drafts.c.version == expected_version)
    result = conn.execute(
        update(drafts)
        .where(condition)
        .values(version=drafts.c.version + 1, updated_at=now, updated_by=by, **values)
    )
    if result.rowcount == 1:
        return
    head = _head(conn, draft_id)
    if head["status"] != status:
        raise DraftError(
            f"draft {draft_id} ({head['week']}) is {head['status']}: "
            + ("reopen it before changing it" if head["status"] != "draft" else "not approved")
        )
    raise StaleDraftError(
        draft_id,
        expected_version or 0,
        head["version"],
        head["updated_by"],
        head["updated_at"],
    )


# What no database column or XML page may hold: NUL (PostgreSQL refuses it), other C0
# controls but tab and newline, lone surrogates (not encodable), U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str, limit: int, what: str) -> str:
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _FORBIDDEN.sub("", text).strip()
    if len(text) > limit:
        raise DraftError(f"the {what} is {len(text)} characters long; the limit is {limit}")
    return text


def _find(rows: list[dict[str, Any]], item_id: int, head: dict[str, Any]) -> dict[str, Any]:
    for row in rows:
        if row["id"] == item_id:
            return row
    raise DraftNotFound(f"draft {head['id']} has no item {item_id}")


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if not row["removed"]]


def _apply(
    conn: Connection,
    edit: DraftEdit,
    rows: list[dict[str, Any]],
    head: dict[str, Any],
    draft_values: dict[str, Any],
) -> None:
    if isinstance(edit, SetBlurb):
        row = _find(rows, edit.item_id, head)
        text = _text(edit.text, MAX_BLURB, "blurb")
        if text != row["blurb"]:
            row["blurb"], row["blurb_edited"] = text, True
    elif isinstance(edit, SetItemDetails):
        row = _find(rows, edit.item_id, head)
        for field in ("title", "author", "site_name"):
            raw = getattr(edit, field)
            row[field] = _text(raw, MAX_DETAIL, field.replace("_", " ")) or None if raw else None
    elif isinstance(edit, RemoveItem):
        _find(rows, edit.item_id, head)["removed"] = True
    elif isinstance(edit, RestoreItem):
        row = _find(rows, edit.item_id, head)
        if row["removed"]:
            rows.remove(row)
            row["removed"] = False
            rows.insert(len(_shown(rows)), row)
    elif isinstance(edit, MoveItem):
        _move(rows, _find(rows, edit.item_id, head), edit.offset)
    elif isinstance(edit, SetOrder):
        _set_order(rows, edit.item_ids, head)
    elif isinstance(edit, AddItem):
        _add(conn, rows, edit, head)
    elif isinstance(edit, SetIntro):
        text = _text(edit.text, MAX_INTRO, "intro")
        if text != head["intro"]:
            draft_values.update(intro=text, intro_edited=True)
            head["intro"] = text
    elif isinstance(edit, SetOutro):
        text = _text(edit.text, MAX_INTRO, "outro")
        if text != head["outro"]:
            draft_values.update(outro=text, outro_edited=True)
            head["outro"] = text
    else:  # pragma: no cover - the union is closed
        raise DraftError(f"unknown edit {edit!r}")


def _move(rows: list[dict[str, Any]], row: dict[str, Any], offset: int) -> None:
    shown = _shown(rows)
    if row["removed"] or offset == 0:
        return
    index = shown.index(row)
    target = min(max(index + offset, 0), len(shown) - 1)
    if target == index:
        return
    shown.remove(row)
    shown.insert(target, row)
    row["moved_by_editor"] = True
    rows[:] = shown + [r for r in rows if r["removed"]]


def _set_order(rows: list[dict[str, Any]], item_ids: Sequence[int], head: dict[str, Any]) -> None:
    shown = _shown(rows)
    if sorted(item_ids) != sorted(r["id"] for r in shown) or len(set(item_ids)) != len(item_ids):
        raise DraftError(
            f"the new order for draft {head['id']} must list each shown item exactly once"
        )
    by_id = {r["id"]: r for r in shown}
    ordered = [by_id[i] for i in item_ids]
    for before, after in zip(shown, ordered, strict=True):
        if before is not after:
            after["moved_by_editor"] = True
    rows[:] = ordered + [r for r in rows if r["removed"]]


def _add(conn: Connection, rows: list[dict[str, Any]], edit: AddItem, head: dict[str, Any]) -> None:
    existing = next((r for r in rows if r["candidate_id"] == edit.candidate_id), None)
    if existing is not None and not existing["removed"]:
        raise DraftError(f"candidate {edit.candidate_id} is already in draft {head['id']}")
    known = conn.execute(
        select(candidates.c.id).where(candidates.c.id == edit.candidate_id)
    ).scalar_one_or_none()
    if known is None:
        raise DraftError(f"there is no candidate {edit.candidate_id}")
    blurb = _text(edit.blurb, MAX_BLURB, "blurb")
    if existing is not None:
        rows.remove(existing)
        row = existing
        row["removed"] = False
        row["added_by_editor"] = True
        if blurb:
            row["blurb"], row["blurb_edited"] = blurb, True
    else:
        row = {
            "id": None,
            "draft_id": head["id"],
            "candidate_id": edit.candidate_id,
            "position": 0,
            "blurb": blurb,
            "blurb_edited": bool(blurb),
            "removed": False,
            "added_by_editor": True,
            "moved_by_editor": False,
            "score": 0.0,
            "why": None,
            "title": None,
            "author": None,
            "site_name": None,
        }
    if edit.position is not None:
        row["moved_by_editor"] = True  # placed on purpose: a refresh keeps the order
    shown = _shown(rows)
    at = len(shown) if edit.position is None else min(max(edit.position - 1, 0), len(shown))
    shown.insert(at, row)
    rows[:] = shown + [r for r in rows if r["removed"]]


def _renumber(rows: list[dict[str, Any]]) -> None:
    for position, row in enumerate(rows, start=1):
        row["position"] = position


def _why_json(parts: Sequence[ScorePart]) -> str:
    return json.dumps(
        [{"name": p.name, "points": p.points, "detail": p.detail} for p in parts],
        ensure_ascii=False,
    )


def _why_parts(raw: str | None) -> tuple[ScorePart, ...]:
    if not raw:
        return ()
    try:
        data = json.loads(raw)
        return tuple(ScorePart(str(p["name"]), float(p["points"]), str(p["detail"])) for p in data)
    except (ValueError, KeyError, TypeError):
        return ()


def _credit(row: Any, sources: Sequence[CandidateSource]) -> Credit:
    """The item's byline: the editor's own author and blog where they set them, else
    the automatic credit (core.credits: a link blog credits the linked article)."""
    auto = credit(
        url=row.c_url,
        sources=sources,
        author=row.c_author,
        site_name=row.c_site_name,
        page_author=row.d_author,
        page_site_name=row.d_site_name,
    )
    return tidy(row.author or auto.author, row.site_name or auto.site_name, auto.via)


def _load(conn: Connection, draft_id: int) -> Draft:
    head = _head(conn, draft_id)
    item_rows = conn.execute(
        select(
            draft_items,
            candidates.c.url.label("c_url"),
            candidates.c.title.label("c_title"),
            candidates.c.author.label("c_author"),
            candidates.c.site_name.label("c_site_name"),
            candidates.c.published.label("c_published"),
            link_details.c.title.label("d_title"),
            link_details.c.author.label("d_author"),
            link_details.c.site_name.label("d_site_name"),
        )
        .select_from(
            draft_items.join(candidates, candidates.c.id == draft_items.c.candidate_id).outerjoin(
                link_details,
                and_(link_details.c.url == candidates.c.url, link_details.c.ok.is_(True)),
            )
        )
        .where(draft_items.c.draft_id == draft_id)
        .order_by(draft_items.c.removed, draft_items.c.position, draft_items.c.id)
    ).all()
    ids = [row.candidate_id for row in item_rows]
    sources = sources_for(conn, ids)
    people = suggesters_for(conn, ids)
    items = tuple(
        DraftItem(
            id=row.id,
            candidate_id=row.candidate_id,
            position=row.position,
            url=row.c_url,
            title=row.title or row.c_title or row.d_title,
            author=shown.author,
            site_name=shown.site_name,
            via=shown.via,
            blurb=row.blurb,
            suggested_by=tuple(people.get(row.candidate_id, ())),
            score=float(row.score),
            why=_why_parts(row.why),
            published=row.c_published,
            blurb_edited=bool(row.blurb_edited),
            removed=bool(row.removed),
            added_by_editor=bool(row.added_by_editor),
            moved_by_editor=bool(row.moved_by_editor),
            details_edited=bool(row.title or row.author or row.site_name),
        )
        for row in item_rows
        for shown in [_credit(row, sources.get(row.candidate_id, ()))]
    )
    return Draft(
        id=head["id"],
        roundup=head["roundup"],
        week=head["week"],
        period_start=head["period_start"],
        period_end=head["period_end"],
        status=cast(DraftStatus, head["status"]),
        title=head["title"],
        intro=head["intro"],
        outro=head["outro"],
        version=head["version"],
        created_at=head["created_at"],
        updated_at=head["updated_at"],
        items=items,
        intro_edited=bool(head["intro_edited"]),
        outro_edited=bool(head["outro_edited"]),
        updated_by=head["updated_by"],
        approved_by=head["approved_by"],
        approved_at=head["approved_at"],
        published_at=head["published_at"],
        first_published_at=head["first_published_at"],
        publish_count=int(head["publish_count"] or 0),
        published_path=head["published_path"],
        reopened_by=head["reopened_by"],
        reopened_at=head["reopened_at"],
    )
