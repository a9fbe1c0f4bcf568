"""Announcements of published round-ups: one row per (round-up, channel), claimed
before the post is made so it is never posted twice.

A row is ``pending`` when owed, ``sending`` once a run claimed it, then ``sent``
(with the post's id) or ``failed`` (with the error; the next ``roundup-bot
publish`` tries again). A run killed between claiming and recording leaves the
row ``sending``: it is not tried again automatically, because the post may well
have gone out; ``status`` shows it for a person to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import announcements


@dataclass(frozen=True, slots=True)
class Announcement:
    draft_id: int
    channel: str
    state: str  # pending | sending | sent | failed
    attempts: int
    post_id: str | None
    last_error: str | None
    sent_at: datetime | None


class AnnouncementRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def owe(self, draft_id: int, channels: Sequence[str], now: datetime) -> None:
        """Record that each channel owes a post about the round-up (once; kept as is
        when already recorded)."""
        with write(self.engine) as conn:
            for channel in channels:
                conn.execute(
                    upsert(conn, announcements)
                    .values(
                        draft_id=draft_id,
                        channel=channel,
                        state="pending",
                        attempts=0,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["draft_id", "channel"])
                )

    def claim(self, draft_id: int, channel: str, now: datetime) -> bool:
        """Take the post for sending; False when another run took it (or it was sent)."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(announcements)
                .where(
                    announcements.c.draft_id == draft_id,
                    announcements.c.channel == channel,
                    announcements.c.state.in_(("pending", "failed")),
                )
                .values(state="sending", claimed_at=now, attempts=announcements.c.attempts + 1)
            )
        return result.rowcount == 1

    def sent(self, draft_id: int, channel: str, post_id: str, now: datetime) -> None:
        with write(self.engine) as conn:
            conn.execute(
                update(announcements)
                .where(announcements.c.draft_id == draft_id, announcements.c.channel == channel)
                .values(state="sent", post_id=post_id, sent_at=now, last_error=None)
            )

    def failed(self, draft_id: int, channel: str, error: str) -> None:
        """Release the claim after a failure, so the next publish tries again."""
        with write(self.engine) as conn:
            conn.execute(
                update(announcements)
                .where(announcements.c.draft_id == draft_id, announcements.c.channel == channel)
                .values(state="failed", last_error=error[:1000])
            )

    def for_draft(self, draft_id: int) -> list[Announcement]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(announcements)
                .where(announcements.c.draft_id == draft_id)
                .order_by(announcements.c.channel)
            ).all()
        return [
            Announcement(
                draft_id=row.draft_id,
                channel=row.channel,
                state=row.state,
                attempts=row.attempts,
                post_id=row.post_id,
                last_error=row.last_error,
                sent_at=row.sent_at,
            )
            for row in rows
        ]
