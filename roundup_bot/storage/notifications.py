"""The messages owed about drafts, claimed before sending so none goes out twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, select, update

from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import notifications

EMAIL = "email"
WEBHOOK = "webhook"
#: A message that failed this often is not tried again by itself (``status`` says so).
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class Notification:
    """One message owed: to ``recipient`` over ``channel``, about ``draft_id``."""

    id: int
    draft_id: int
    channel: str
    recipient: str
    state: str  # pending | sending | sent | failed | unknown
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class NotifySummary:
    """For ``status``: how many messages are in each state, and the newest failure."""

    counts: dict[str, int]
    last_error: str | None


class NotificationRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def owe(self, draft_id: int, channel: str, recipients: Sequence[str], now: datetime) -> int:
        """Record the messages owed; one already recorded is left as it is (a second
        run or a refresh of the draft owes nothing new). Returns how many are new."""
        added = 0
        with write(self.engine) as conn:
            for recipient in recipients:
                row = {
                    "draft_id": draft_id,
                    "channel": channel,
                    "recipient": recipient,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                statement = (
                    upsert(conn, notifications)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["draft_id", "channel", "recipient"])
                    .returning(notifications.c.id)
                )
                added += len(conn.execute(statement).all())
        return added

    def due(self) -> list[Notification]:
        """Messages not yet sent and not being sent: pending ones, and failed ones
        that have not used up their ``MAX_ATTEMPTS``."""
        with read(self.engine) as conn:
            rows = conn.execute(
                select(notifications)
                .where(
                    notifications.c.state.in_(("pending", "failed")),
                    notifications.c.attempts < MAX_ATTEMPTS,
                )
                .order_by(notifications.c.id)
            ).all()
        return [_record(row) for row in rows]

    def claim(self, notification_id: int, now: datetime) -> bool:
        """Take the message for sending. False when another run took it first (or it
        was sent meanwhile): then this run must not send it."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(notifications)
                .where(
                    notifications.c.id == notification_id,
                    notifications.c.state.in_(("pending", "failed")),
                )
                .values(
                    state="sending",
                    claimed_at=now,
                    attempts=notifications.c.attempts + 1,
                )
            )
        return result.rowcount == 1

    def sent(self, notification_id: int, now: datetime) -> None:
        with write(self.engine) as conn:
            conn.execute(
                update(notifications)
                .where(notifications.c.id == notification_id)
                .values(state="sent", sent_at=now, last_error=None)
            )

    def failed(self, notification_id: int, error: str) -> None:
        """Release the claim, so the next run tries again."""
        with write(self.engine) as conn:
            conn.execute(
                update(notifications)
                .where(notifications.c.id == notification_id)
                .values(state="failed", last_error=error[:500])
            )

    def unknown(self, notification_id: int, error: str) -> None:
        """The message went out but no answer came back: keep it claimed (never sent
        again by itself) and say why, for ``status``."""
        with write(self.engine) as conn:
            conn.execute(
                update(notifications)
                .where(notifications.c.id == notification_id)
                .values(state="unknown", last_error=error[:500])
            )

    def for_draft(self, draft_id: int) -> list[Notification]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(notifications)
                .where(notifications.c.draft_id == draft_id)
                .order_by(notifications.c.id)
            ).all()
        return [_record(row) for row in rows]

    def summary(self) -> NotifySummary:
        with read(self.engine) as conn:
            counts = {
                str(state): int(count)
                for state, count in conn.execute(
                    select(notifications.c.state, func.count()).group_by(notifications.c.state)
                ).all()
            }
            last = conn.execute(
                select(notifications.c.last_error)
                .where(notifications.c.state.in_(("failed", "unknown")))
                .order_by(notifications.c.id.desc())
                .limit(1)
            ).scalar()
        return NotifySummary(counts=counts, last_error=last)


def _record(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id,
        draft_id=row.draft_id,
        channel=row.channel,
        recipient=row.recipient,
        state=row.state,
        attempts=row.attempts,
        last_error=row.last_error,
    )
