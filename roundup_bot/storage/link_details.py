"""The cache of what article pages said about themselves (see sources/pages.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from roundup_bot.core.records import LinkDetails
from roundup_bot.storage._sql import read, upsert, write
from roundup_bot.storage.schema import link_details

_CHUNK = 500


class LinkDetailsRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, urls: Sequence[str]) -> dict[str, LinkDetails]:
        """What is cached for these canonical URLs (failures included), by URL."""
        found: dict[str, LinkDetails] = {}
        with read(self.engine) as conn:
            for start in range(0, len(urls), _CHUNK):
                rows = conn.execute(
                    select(link_details).where(link_details.c.url.in_(urls[start : start + _CHUNK]))
                )
                for row in rows:
                    found[row.url] = LinkDetails(
                        url=row.url,
                        fetched_at=row.fetched_at,
                        ok=bool(row.ok),
                        title=row.title,
                        author=row.author,
                        site_name=row.site_name,
                        description=row.description,
                        error=row.error,
                        resolved_url=row.resolved_url,
                        resolved_reason=row.resolved_reason,
                        lead=row.lead,
                    )
        return found

    def save(self, details: LinkDetails) -> None:
        """Store (or replace) what one page said."""
        values = {
            "url": details.url,
            "fetched_at": details.fetched_at,
            "ok": details.ok,
            "title": details.title,
            "author": details.author,
            "site_name": details.site_name,
            "description": details.description,
            "error": (details.error or "")[:1000] or None,
            "resolved_url": details.resolved_url,
            "resolved_reason": details.resolved_reason,
            "lead": details.lead,
        }
        with write(self.engine) as conn:
            stmt = upsert(conn, link_details).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["url"], set_={k: v for k, v in values.items() if k != "url"}
                )
            )
