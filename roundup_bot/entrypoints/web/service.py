"""The web page's one door to the round-up: weeks, ranking, drafting, rendering,
approving. Every view goes through here, and everything here calls the same
functions as the command line (``roundup-bot draft``, ``show``, ``approve``,
``reopen``), so the page and the terminal can never disagree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from roundup_bot.adapters.render import Format, renderer_for
from roundup_bot.core.errors import RoundupError
from roundup_bot.core.ranking import Ranked
from roundup_bot.core.records import Draft, DraftEdit, DraftSummary
from roundup_bot.core.weeks import RoundupWeek, week_by_label, week_containing
from roundup_bot.core.wordpress import WordPressPost
from roundup_bot.services import publish
from roundup_bot.services.app import App
from roundup_bot.services.drafting import DraftOutcome, draft_week, rank_week
from roundup_bot.services.publish import Published

#: How many candidates the draft page offers to add before any search.
OFFERED = 15
#: How many search results it lists at most.
MAX_RESULTS = 50


class RankingCache:
    """Each week's ranking, kept for a few seconds.

    Ranking every candidate of a busy week takes about a second (20,000
    candidates, bench/draft.py's database); an editor pressing Move down five
    times should not pay it five times. A candidate polled meanwhile shows up
    at most ``ttl_s`` later. Approving, reopening and making a draft clear it
    (they change what counts as already used).
    """

    def __init__(
        self, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic, size: int = 8
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.size = size
        self._kept: dict[str, tuple[float, list[Ranked]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], list[Ranked]]) -> list[Ranked]:
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self.ttl_s:
                return kept[1]
        fresh = compute()
        with self._lock:
            self._kept[key] = (now, fresh)
            while len(self._kept) > self.size:
                del self._kept[min(self._kept, key=lambda k: self._kept[k][0])]
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


class RoundupService:
    def __init__(self, app: App, rankings: RankingCache | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self.storage = app.storage
        self.rankings = rankings or RankingCache(ttl_s=0.0)

    @property
    def name(self) -> str:
        return self.settings.roundup.name

    # --- weeks ---------------------------------------------------------------------

    def current_week(self, now: datetime) -> RoundupWeek:
        """The week that ends next: the one editors are working on."""
        r = self.settings.roundup
        return week_containing(now, r.timezone, r.week_ends)

    def week(self, label: str) -> RoundupWeek:
        r = self.settings.roundup
        return week_by_label(label, r.timezone, r.week_ends)

    def week_of(self, draft: Draft | DraftSummary) -> RoundupWeek:
        return self.week(draft.week)

    # --- drafts ----------------------------------------------------------------------

    def get(self, draft_id: int) -> Draft:
        return self.storage.drafts.get(draft_id)

    def find(self, week: RoundupWeek) -> Draft | None:
        return self.storage.drafts.find(self.name, week.label)

    def drafts(self) -> list[DraftSummary]:
        return self.storage.drafts.summaries(self.name)

    def published(self) -> list[DraftSummary]:
        return self.storage.drafts.summaries(self.name, status="published")

    def make_draft(
        self, week: RoundupWeek, now: datetime, *, refresh_details: bool = False
    ) -> DraftOutcome:
        """Create or refresh the week's draft exactly as ``roundup-bot draft`` does
        (``refresh_details``: as ``draft --refresh-details``)."""
        self.rankings.clear()
        if refresh_details:
            return draft_week(self.app, week, now=now, fetch_details=True, refresh_details=True)
        return draft_week(self.app, week, now=now)

    def apply(
        self, draft_id: int, edits: Sequence[DraftEdit], version: int, by: str, now: datetime
    ) -> Draft:
        return self.storage.drafts.apply_edits(
            draft_id, edits, expected_version=version, by=by, now=now
        )

    # --- candidates --------------------------------------------------------------------

    def ranked(self, week: RoundupWeek) -> list[Ranked]:
        """Every candidate of the week with its score, best first (excluded ones last)."""
        return self.rankings.get(week.label, lambda: rank_week(self.app, week))

    # --- rendering and publishing ----------------------------------------------------------

    def render(self, draft: Draft, fmt: Format) -> str:
        """The round-up as it will be published: the renderer and templates that
        :func:`roundup_bot.services.publish.publish` uses (and ``roundup-bot show``).

        Raises:
            TemplateError: the configured template is broken.
        """
        return renderer_for(self.settings).render(draft, fmt)

    def approve(self, draft_id: int, by: str, now: datetime, version: int) -> Published:
        """Approve and publish through :func:`roundup_bot.services.publish.approve`, the very
        function ``roundup-bot approve`` calls. ``version`` is the one the editor
        previewed: a draft changed since is refused (StaleDraftError)."""
        self.rankings.clear()
        return publish.approve(self.app, draft_id, by=by, now=now, expected_version=version)

    def publish_again(self, draft_id: int, now: datetime) -> Published:
        """Every step of publishing that has not succeeded (``roundup-bot publish``):
        the files of an approved round-up, the WordPress post of a published one."""
        self.rankings.clear()
        return publish.publish(self.app, draft_id, now=now, retry=True)

    def wordpress_post(self, draft: Draft) -> WordPressPost | None:
        """The round-up's WordPress post (or why it is not there), while WordPress is on."""
        if not self.settings.wordpress.enabled:
            return None
        return self.storage.wordpress.get(draft.id)

    def wordpress_edit_url(self, post: WordPressPost) -> str | None:
        from roundup_bot.services.wordpress import edit_url

        return edit_url(self.settings, post, self.app.environ)

    def blog_copy(self, draft: Draft) -> tuple[str, str] | None:
        """What an editor pastes into the blog by hand: the HTML fragment (the
        [wordpress] template, the round-up without a page around it) and the
        Markdown. None when a template is broken."""
        renderer = renderer_for(self.settings)
        try:
            fragment = renderer.render(draft, "html", template=self.settings.wordpress.template)
            return fragment, renderer.render(draft, "markdown")
        except RoundupError:
            return None

    def public_url(self, draft: Draft | DraftSummary) -> str | None:
        """Where a published round-up can be read, when [publish] base_url is set."""
        base = self.settings.publish.base_url.strip()
        return f"{base.rstrip('/')}/{draft.week}.html" if base else None

    def reopen(self, draft_id: int, by: str, now: datetime, version: int) -> Draft:
        """approved -> draft through :func:`roundup_bot.services.publish.reopen` (never a
        published one: the page leaves those read-only)."""
        self.rankings.clear()
        return publish.reopen(self.app, draft_id, by=by, now=now, expected_version=version)
