"""Drafts of the weekly round-up, their items, and the status rules.

Every change goes through one of three doors, each a single transaction that
checks the draft's status and (where given) its ``version`` and bumps it:

* :meth:`DraftRepository.save_plan` stores what ``roundup-bot draft`` decided;
* :meth:`DraftRepository.apply_edits` stores an editor's changes (the web page and
  ``roundup-bot edit``): the rules are :func:`roundup_bot.core.draft_edits.edit_draft`'s,
  run here on the draft as the transaction sees it; this module only saves what
  changed, so a later refresh knows what the editor touched;
* :meth:`DraftRepository.approve`, :meth:`~DraftRepository.mark_published` and
  :meth:`~DraftRepository.reopen` move the status: draft -> approved -> published,
  and back to draft only on purpose.

A save made against an old ``version`` raises :class:`StaleDraftError`, which
names who saved last, so two editors never silently overwrite each other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    and_,
    delete,
    extract,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from roundup_bot.core.credits import credit, tidy
from roundup_bot.core.draft_changes import parts_changed
from roundup_bot.core.draft_edits import edit_draft
from roundup_bot.core.errors import (
    AlreadyApproved,
    DraftError,
    DraftNotFound,
    StaleDraftError,
    StorageError,
)
from roundup_bot.core.records import (
    AddItem,
    Candidate,
    CandidateSource,
    Draft,
    DraftEdit,
    DraftItem,
    DraftPlan,
    DraftStatus,
    DraftSummary,
    EditProblem,
    ItemDetails,
    RankingFacts,
    ScorePart,
)
from roundup_bot.storage._sql import read, write
from roundup_bot.storage.candidates import CandidateRepository, sources_for, suggesters_for
from roundup_bot.storage.draft_views import record_changes
from roundup_bot.storage.schema import (
    candidate_sources,
    candidates,
    draft_items,
    drafts,
    feeds,
    is_row_id,
    link_details,
    suggestions,
)
from roundup_bot.storage.wordpress import mark_pending

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
        mapped to that week's label (the earliest, if several).

        A few ids are looked up; for many (a whole week's listing, 20,000 ids) every
        item ever used is read instead, which is one small query (a round-up has a
        dozen items a week) rather than one per 500 ids."""
        used = (
            select(draft_items.c.candidate_id, drafts.c.week)
            .select_from(draft_items.join(drafts, drafts.c.id == draft_items.c.draft_id))
            .where(
                draft_items.c.removed.is_(False),
                drafts.c.roundup == roundup,
                drafts.c.week != week,
                drafts.c.status.in_(("approved", "published")),
            )
            .order_by(drafts.c.period_end)
        )
        found: dict[int, str] = {}
        with read(self.engine) as conn:
            if len(candidate_ids) > _CHUNK:
                wanted = set(candidate_ids)
                for cid, label in conn.execute(used).all():
                    if cid in wanted:
                        found.setdefault(cid, label)
                return found
            if candidate_ids:
                query = used.where(draft_items.c.candidate_id.in_(candidate_ids))
                for cid, label in conn.execute(query).all():
                    found.setdefault(cid, label)
        return found

    def ranking_facts(self, since: datetime, until: datetime) -> list[RankingFacts]:
        """Per candidate placed in [since, until): what its score is made of (but its
        text), counted in the database, so a draft can bound every candidate's score
        and load only the few that can reach the top."""
        window = (candidates.c.placed_at >= since, candidates.c.placed_at < until)
        in_window = select(candidates.c.id).where(*window)
        with read(self.engine) as conn:
            # The moment ranking.placed_at uses (a tip's candidate is placed by the
            # post's time, but scored by when it was first seen), as the database's
            # number of seconds: turning 20,000 stored times into datetimes only to
            # subtract them cost more than the query.
            moment = _epoch_seconds(
                conn, func.coalesce(candidates.c.published, candidates.c.first_seen)
            )
            placed = conn.execute(select(candidates.c.id, moment).where(*window)).all()
            carried = {
                cid: (int(count), weight)
                for cid, count, weight in conn.execute(
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
                cid: int(count)
                for cid, count in conn.execute(
                    select(suggestions.c.candidate_id, func.count(func.distinct(handle)))
                    .where(
                        suggestions.c.candidate_id.in_(in_window),
                        suggestions.c.status == "accepted",
                    )
                    .group_by(suggestions.c.candidate_id)
                ).all()
            }
        no_feed = (0, None)
        facts = []
        for cid, moment in placed:
            count, weight = carried.get(cid, no_feed)
            facts.append(
                RankingFacts(
                    cid,
                    float(moment),
                    count,
                    float(weight) if weight is not None else None,
                    people.get(cid, 0),
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
        addable: Sequence[Candidate] | None = None,
    ) -> Draft:
        """Apply an editor's edits together: all of them or none.

        The rules are :func:`~roundup_bot.core.draft_edits.edit_draft`'s; this
        checks the status and version, saves what changed and bumps the version.
        ``addable`` are the candidates an AddItem may name; by default, those of
        the draft's week that the edits name (as the web page offers them).

        Raises:
            DraftNotFound: no such draft, or an edit names an item not in it.
            StaleDraftError: ``expected_version`` is not the draft's version.
            DraftError: the draft is approved or published, or an edit is invalid
                (text too long, a candidate not of the week, a bad order).
        """
        if addable is None:
            addable = self._addable(draft_id, edits)
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            _check_editable(head, expected_version)
            current = _load(conn, draft_id)
            outcome = edit_draft(current, edits, addable={c.id: c for c in addable})
            if outcome.problems:
                raise _refusal(outcome.problems[0])
            new = outcome.draft
            draft_values = {
                name: getattr(new, name)
                for name in ("intro", "outro", "intro_edited", "outro_edited")
                if getattr(new, name) != getattr(current, name)
            }
            _bump(conn, draft_id, expected_version, by, now, draft_values)
            before = {item.id: _item_columns(item) for item in current.items}
            for item in new.items:
                columns = _item_columns(item)
                if item.id < 0:
                    conn.execute(
                        insert(draft_items).values(
                            draft_id=draft_id,
                            candidate_id=item.candidate_id,
                            score=item.score,
                            why=None,
                            **columns,
                        )
                    )
                    continue
                changed = {k: v for k, v in columns.items() if before[item.id][k] != v}
                if changed:
                    conn.execute(
                        update(draft_items).where(draft_items.c.id == item.id).values(**changed)
                    )
            saved = _load(conn, draft_id)
            record_changes(conn, draft_id, parts_changed(current, saved, edits), by, now)
            return saved

    def _addable(self, draft_id: int, edits: Sequence[DraftEdit]) -> list[Candidate]:
        """The candidates the AddItem edits name that belong to the draft's week."""
        wanted = [
            edit.candidate_id
            for edit in edits
            if isinstance(edit, AddItem) and is_row_id(edit.candidate_id)
        ]
        if not wanted:
            return []
        with read(self.engine) as conn:
            head = _head(conn, draft_id)
        return CandidateRepository(self.engine).list(
            head["period_start"], head["period_end"], ids=wanted
        )

    # --- status ----------------------------------------------------------------------------

    def approve(
        self, draft_id: int, *, by: str, now: datetime, expected_version: int | None = None
    ) -> Draft:
        """draft -> approved, recording who and when.

        Raises:
            DraftNotFound, StaleDraftError, DraftError (no items),
            AlreadyApproved: it is approved or published already (another approval
            came first, perhaps at the same moment).
        """
        with write(self.engine) as conn:
            head = _head(conn, draft_id)
            if head["status"] != "draft":
                raise _already_approved(head)
            shown = conn.execute(
                select(func.count())
                .select_from(draft_items)
                .where(draft_items.c.draft_id == draft_id, draft_items.c.removed.is_(False))
            ).scalar_one()
            if not shown:
                raise DraftError(f"draft {draft_id} ({head['week']}) has no items to approve")
            try:
                _bump(
                    conn,
                    draft_id,
                    expected_version,
                    by,
                    now,
                    {"status": "approved", "approved_by": by, "approved_at": now},
                    status="draft",
                )
            except DraftError:
                # On PostgreSQL a rival approval can commit between the read above and
                # the update, which then finds the status changed.
                head = _head(conn, draft_id)
                if head["status"] != "draft":
                    raise _already_approved(head) from None
                raise
            return _load(conn, draft_id)

    def mark_published(
        self, draft_id: int, *, path: str, now: datetime, wordpress_slug: str | None = None
    ) -> Draft:
        """approved -> published, once its files are written. With ``wordpress_slug``
        its WordPress step is marked to do in the same transaction, so it is never lost.

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
            if wordpress_slug is not None:
                mark_pending(conn, draft_id, wordpress_slug, now)
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


def _already_approved(head: dict[str, Any]) -> AlreadyApproved:
    return AlreadyApproved(
        head["id"],
        head["week"],
        head["status"],
        head["approved_by"],
        head["approved_at"],
        head["published_path"],
    )


def _head(conn: Connection, draft_id: int) -> dict[str, Any]:
    # An id no row can have is not asked for: the database would refuse the number itself.
    row = (
        conn.execute(select(drafts).where(drafts.c.id == draft_id)).first()
        if is_row_id(draft_id)
        else None
    )
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


def _refusal(problem: EditProblem) -> DraftError:
    if problem.kind == "no_item":
        return DraftNotFound(problem.message)
    return DraftError(problem.message)


def _item_columns(item: DraftItem) -> dict[str, Any]:
    """The draft_items columns an edit may change, as ``item`` has them."""
    return {
        "position": item.position,
        "blurb": item.blurb,
        "blurb_edited": item.blurb_edited,
        "removed": item.removed,
        "added_by_editor": item.added_by_editor,
        "moved_by_editor": item.moved_by_editor,
        "title": item.overrides.title,
        "author": item.overrides.author,
        "site_name": item.overrides.site_name,
    }


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


def _item(row: Any, sources: Sequence[CandidateSource], people: Sequence[str]) -> DraftItem:
    """An item as the round-up shows it: the editor's own title, author and blog where
    they set them, else the automatic ones (core.credits: a link blog credits the
    linked article's author and blog, and is kept as ``via``)."""
    auto = credit(
        url=row.c_url,
        sources=sources,
        author=row.c_author,
        site_name=row.c_site_name,
        page_author=row.d_author,
        page_site_name=row.d_site_name,
    )
    automatic = ItemDetails(
        title=row.c_title or row.d_title, author=auto.author, site_name=auto.site_name
    )
    own = ItemDetails(title=row.title, author=row.author, site_name=row.site_name)
    shown = tidy(own.author or automatic.author, own.site_name or automatic.site_name, auto.via)
    return DraftItem(
        id=row.id,
        candidate_id=row.candidate_id,
        position=row.position,
        url=row.c_url,
        title=own.title or automatic.title,
        author=shown.author,
        site_name=shown.site_name,
        via=shown.via,
        blurb=row.blurb,
        suggested_by=tuple(people),
        score=float(row.score),
        why=_why_parts(row.why),
        published=row.c_published,
        blurb_edited=bool(row.blurb_edited),
        removed=bool(row.removed),
        added_by_editor=bool(row.added_by_editor),
        moved_by_editor=bool(row.moved_by_editor),
        overrides=own,
        automatic=automatic,
    )


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
        _item(row, sources.get(row.candidate_id, ()), people.get(row.candidate_id, ()))
        for row in item_rows
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


def _epoch_seconds(conn: Connection, moment: ColumnElement[Any]) -> ColumnElement[float]:
    """A stored time as seconds since 1970, worked out by the database. SQLite keeps
    UTC times as text, which julianday() reads (to the millisecond: plenty for a
    score bound); PostgreSQL's are timestamps with a zone."""
    if conn.dialect.name == "postgresql":
        return extract("epoch", moment).cast(Float)
    return (func.julianday(moment) - _UNIX_EPOCH_JULIAN_DAY) * 86400.0


_UNIX_EPOCH_JULIAN_DAY = 2440587.5  # 1970-01-01T00:00:00Z as a Julian day
