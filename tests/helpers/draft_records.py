"""Builders for draft records in memory, for the tests of the pure draft rules
(no database): an item or a draft with plain defaults, any field overridden."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from roundup_bot.core.records import Draft, DraftItem, ItemDetails

WHEN = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def draft_item(item_id: int, **values: Any) -> DraftItem:
    """Item ``item_id`` of candidate 100 + id, at place ``item_id``, titled
    "Title <id>" by "Author <id>" of "Blog A" (its automatic details)."""
    auto = ItemDetails(f"Title {item_id}", f"Author {item_id}", "Blog A")
    fields: dict[str, Any] = {
        "id": item_id,
        "candidate_id": 100 + item_id,
        "position": item_id,
        "url": f"https://blog.example/{item_id}",
        "title": auto.title,
        "author": auto.author,
        "site_name": auto.site_name,
        "blurb": f"Blurb {item_id}.",
        "suggested_by": (),
        "score": 10.0 - item_id,
        "why": (),
        "automatic": auto,
        **values,
    }
    return DraftItem(**fields)


def draft_record(*items: DraftItem, **values: Any) -> Draft:
    """Draft 7 of the week 2026-W48 at version 5, with ``items``."""
    fields: dict[str, Any] = {
        "id": 7,
        "roundup": "welovelocalgov",
        "week": "2026-W48",
        "period_start": datetime(2026, 11, 20, 9, tzinfo=UTC),
        "period_end": datetime(2026, 11, 27, 9, tzinfo=UTC),
        "status": "draft",
        "title": "That was the week",
        "intro": "Hello.",
        "outro": "Bye.",
        "version": 5,
        "created_at": WHEN,
        "updated_at": WHEN,
        "items": items,
        **values,
    }
    return Draft(**fields)
