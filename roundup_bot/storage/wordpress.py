"""The WordPress step of publishing, and the comments already read.

A round-up's row is written ``pending`` in the transaction that marks it
published (:func:`mark_pending`), so a step is never forgotten, even when the
process dies right after writing the files. Success stores the post's id,
link and status in one transaction with the state ``done``: there is no moment
at which the post exists, is recorded as ours, and the step still looks
unfinished, other than before that one commit (which the slug lookup covers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, select, update

from roundup_bot.core.suggestion_rules import JudgedSuggestion
from roundup_bot.core.wordpress import PostFacts, StepState, WordPressPost
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import drafts, wordpress_comments, wordpress_posts
from roundup_bot.storage.suggestions import StoredPage, store_judged

_BATCH = 500
_WITH_DRAFT = wordpress_posts.join(drafts, drafts.c.id == wordpress_posts.c.draft_id)


class WordPressRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reading ---------------------------------------------------------------------------

    def get(self, draft_id: int) -> WordPressPost | None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(wordpress_posts).where(wordpress_posts.c.draft_id == draft_id)
            ).first()
            return _post(row._mapping) if row is not None else None

    def for_drafts(self, draft_ids: Sequence[int]) -> dict[int, WordPressPost]:
        found: dict[int, WordPressPost] = {}
        with read(self.engine) as conn:
            for start in range(0, len(draft_ids), _BATCH):
                rows = conn.execute(
                    select(wordpress_posts).where(
                        wordpress_posts.c.draft_id.in_(draft_ids[start : start + _BATCH])
                    )
                )
                for row in rows:
                    found[row.draft_id] = _post(row._mapping)
        return found

    def latest(self, roundup: str) -> tuple[str, WordPressPost] | None:
        """The round-up whose WordPress step ran last (its week and row), for ``status``."""
        with read(self.engine) as conn:
            row = conn.execute(
                select(wordpress_posts, drafts.c.week)
                .select_from(
                    wordpress_posts.join(drafts, drafts.c.id == wordpress_posts.c.draft_id)
                )
                .where(drafts.c.roundup == roundup)
                .order_by(wordpress_posts.c.updated_at.desc(), wordpress_posts.c.draft_id.desc())
                .limit(1)
            ).first()
            return (row.week, _post(row._mapping)) if row is not None else None

    def due(self, roundup: str, now: datetime) -> list[WordPressPost]:
        """Steps still to do whose time has come, of published round-ups, oldest first."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(wordpress_posts)
                .select_from(
                    wordpress_posts.join(drafts, drafts.c.id == wordpress_posts.c.draft_id)
                )
                .where(
                    drafts.c.roundup == roundup,
                    drafts.c.status == "published",
                    wordpress_posts.c.state != "done",
                    (wordpress_posts.c.next_try.is_(None)) | (wordpress_posts.c.next_try <= now),
                )
                .order_by(wordpress_posts.c.draft_id)
            )
            return [_post(row._mapping) for row in rows]

    def posts_since(self, roundup: str, since: datetime) -> list[int]:
        """WordPress ids of the round-up posts made or updated since ``since`` (whose
        comments are read)."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(wordpress_posts.c.post_id)
                .select_from(
                    wordpress_posts.join(drafts, drafts.c.id == wordpress_posts.c.draft_id)
                )
                .where(
                    drafts.c.roundup == roundup,
                    wordpress_posts.c.post_id.is_not(None),
                    wordpress_posts.c.pushed_at >= since,
                )
                .order_by(wordpress_posts.c.post_id)
            )
            return [int(row.post_id) for row in rows]

    def read_comment_ids(self, site: str, comment_ids: Iterable[int]) -> set[int]:
        """Which of these comments were already read."""
        wanted = sorted(set(comment_ids))
        found: set[int] = set()
        with read(self.engine) as conn:
            for start in range(0, len(wanted), _BATCH):
                rows = conn.execute(
                    select(wordpress_comments.c.comment_id).where(
                        wordpress_comments.c.site == site,
                        wordpress_comments.c.comment_id.in_(wanted[start : start + _BATCH]),
                    )
                )
                found.update(int(row.comment_id) for row in rows)
        return found

    # --- writing ---------------------------------------------------------------------------

    def ensure_pending(self, draft_id: int, slug: str, now: datetime) -> WordPressPost:
        """A WordPress step to do for a round-up published before WordPress was on."""
        with write(self.engine) as conn:
            mark_pending(conn, draft_id, slug, now)
            return _load(conn, draft_id)

    def record_success(self, draft_id: int, facts: PostFacts, now: datetime) -> WordPressPost:
        """The step succeeded: the post's id, link and status, stored together with ``done``."""
        with write(self.engine) as conn:
            conn.execute(
                update(wordpress_posts)
                .where(wordpress_posts.c.draft_id == draft_id)
                .values(
                    state="done",
                    post_id=facts.id,
                    link=facts.link,
                    status=facts.status,
                    error=None,
                    attempts=0,
                    next_try=None,
                    pushed_at=now,
                    updated_at=now,
                )
            )
            return _load(conn, draft_id)

    def record_failure(
        self, draft_id: int, error: str, *, next_try: datetime, now: datetime
    ) -> WordPressPost:
        """The step failed: why, and when the daemon tries again. The post id, link
        and status of an earlier success stay."""
        with write(self.engine) as conn:
            conn.execute(
                update(wordpress_posts)
                .where(wordpress_posts.c.draft_id == draft_id)
                .values(
                    state="failed",
                    error=error,
                    attempts=wordpress_posts.c.attempts + 1,
                    next_try=next_try,
                    updated_at=now,
                )
            )
            return _load(conn, draft_id)

    def store_comments(
        self,
        site: str,
        judged: Sequence[JudgedSuggestion],
        comments: Sequence[tuple[int, int]],
        now: datetime,
    ) -> StoredPage:
        """Store the suggestions of a batch of comments and mark every comment of it
        (``(comment id, post id)``) read, in one transaction: a comment is read once."""
        from roundup_bot.core.wordpress_comments import PLATFORM

        with write(self.engine) as conn:
            stored = store_judged(conn, PLATFORM, judged, now)
            for comment_id, post_id in comments:
                conn.execute(
                    upsert(conn, wordpress_comments)
                    .values(site=site, comment_id=comment_id, post_id=post_id, read_at=now)
                    .on_conflict_do_nothing(index_elements=["site", "comment_id"])
                )
        return stored


def mark_pending(conn: Connection, draft_id: int, slug: str, now: datetime) -> None:
    """Inside the transaction that publishes a round-up: its WordPress step is to do
    (again). A post id already known is kept, so a republish updates the same post."""
    stmt = upsert(conn, wordpress_posts).values(
        draft_id=draft_id,
        slug=slug,
        state="pending",
        attempts=0,
        next_try=None,
        error=None,
        updated_at=now,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["draft_id"],
            set_={"state": "pending", "attempts": 0, "next_try": None, "updated_at": now},
        )
    )


def _load(conn: Connection, draft_id: int) -> WordPressPost:
    row = conn.execute(select(wordpress_posts).where(wordpress_posts.c.draft_id == draft_id)).one()
    return _post(row._mapping)


def _post(row: Any) -> WordPressPost:
    return WordPressPost(
        draft_id=row["draft_id"],
        slug=row["slug"],
        state=cast(StepState, row["state"]),
        post_id=row["post_id"],
        link=row["link"],
        status=row["status"],
        error=row["error"],
        attempts=int(row["attempts"] or 0),
        next_try=row["next_try"],
        pushed_at=row["pushed_at"],
        updated_at=row["updated_at"],
    )


__all__ = ["WordPressRepository", "mark_pending"]
