"""Links in approved comments on the published round-up posts become suggestions.

One run, a suggestion channel like X mentions (and plugged in beside them)::

    the round-up posts made or updated in the last COMMENT_WINDOW
      -> GET comments?post=<ids>&status=approve     (adapters.wordpress), newest
         first, down to the first page holding a comment read before
      -> read_comments (pure: links, credited to the commenter's name)
      -> the comments not read before
      -> judge (pure: the same [suggestions] rules as X)
      -> suggestions, candidates and every comment of the batch marked read, in ONE transaction

A comment is read once: it is marked read in the transaction that stores its
suggestions, whether it held a link or not, so neither a second run nor a run
killed half-way counts it twice. A failure (WordPress down, refused
credentials, a malformed answer) ends this run with a report and leaves the
rest of the job (other channels) alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from roundup_bot.core.curation import host_of
from roundup_bot.core.errors import MalformedAnswer, WordPressError
from roundup_bot.core.suggestion_rules import WEEK, judge
from roundup_bot.core.wordpress_comments import PLATFORM, read_comments

if TYPE_CHECKING:
    from roundup_bot.services.app import App
    from roundup_bot.services.wordpress import ApiFactory

log = logging.getLogger(__name__)

#: Comments are read on the round-up posts made or updated this recently.
COMMENT_WINDOW = timedelta(days=28)


@dataclass(frozen=True, slots=True)
class CommentsReport:
    """What one run did; ``ok`` is None when it had nothing to do (switched off)."""

    ok: bool | None
    comments: int = 0  # comments read for the first time
    accepted: int = 0
    rejected: int = 0
    new_candidates: int = 0
    error: str | None = None

    @property
    def line(self) -> str:
        if self.ok is None:
            return self.error or "skipped"
        text = (
            f"WordPress comments: {self.comments} new, {self.accepted} suggestions accepted,"
            f" {self.rejected} rejected, {self.new_candidates} new candidates"
        )
        return text if self.ok else f"WordPress comments FAILED: {self.error}"


def read_new_comments(
    app: App,
    now: datetime,
    *,
    api_factory: ApiFactory | None = None,
) -> CommentsReport:
    """Read the approved comments not read before and store their suggestions.

    Raises StorageError and ConfigError (credentials); WordPress faults end the
    run with a report instead.
    """
    from roundup_bot.services import wordpress
    from roundup_bot.services.mentions import abuse_rules

    settings = app.settings
    if not settings.wordpress.comments_on:
        return CommentsReport(None, error="skipped: [wordpress] comments are not read")
    storage = app.storage
    posts = storage.wordpress.posts_since(settings.roundup.name, now - COMMENT_WINDOW)
    if not posts:
        return CommentsReport(True)
    creds = wordpress.credentials(app.environ)
    site = host_of(settings.wordpress.site_url)

    def read_before(ids: list[int]) -> bool:
        return bool(storage.wordpress.read_comment_ids(site, ids))

    async def fetch() -> list[object]:
        api = (api_factory or wordpress.open_api)(settings, creds)
        async with api:
            return await api.approved_comments(posts, read_before)

    try:
        raw = asyncio.run(fetch())
        reading = read_comments(raw, own_hosts=[site])
    except WordPressError as exc:
        log.warning("WordPress comments: %s", exc)
        return CommentsReport(False, error=str(exc))
    except MalformedAnswer as exc:
        return CommentsReport(False, error=f"WordPress comments: malformed answer: {exc}")
    for problem in reading.skipped:
        log.info("WordPress comments: skipped %s", problem)
    seen = storage.wordpress.read_comment_ids(site, [cid for cid, _post in reading.comments])
    fresh = [(cid, post) for cid, post in reading.comments if cid not in seen]
    if not fresh:
        return CommentsReport(True)
    fresh_ids = {str(cid) for cid, _post in fresh}
    suggestions = [s for s in reading.suggestions if s.post_id in fresh_ids]
    earliest = min((s.posted_at or now for s in suggestions), default=now)
    prior = storage.suggestions.prior(
        PLATFORM,
        [s.author_username for s in suggestions],
        earliest - WEEK,
        author_ids=[s.author_id for s in suggestions if s.author_id],
    )
    judged = judge(suggestions, abuse_rules(settings), prior, now, PLATFORM)
    stored = storage.wordpress.store_comments(site, judged, fresh, now)
    for item in judged:
        if item.status == "rejected":
            log.info(
                "WordPress comments: rejected %s from %s: %s",
                item.suggestion.canonical_url,
                item.suggestion.author_username,
                item.reason,
            )
    return CommentsReport(
        True,
        comments=len(fresh),
        accepted=stored.accepted,
        rejected=stored.rejected,
        new_candidates=stored.new_candidates,
    )
