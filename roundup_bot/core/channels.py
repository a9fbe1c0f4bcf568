"""The seam between suggestion channels and the rest: one Protocol, its records.

A *channel* is a place where followers suggest links to the account: X
mentions, Mastodon mentions, Bluesky mentions and replies, and (once it
exists) comments on the WordPress posts. Each is an adapter in
``roundup_bot.adapters`` that implements :class:`SuggestionChannel`; the
mentions use case (``roundup_bot.services.mentions``) reads every enabled
channel the same way, applies the same ``[suggestions]`` rules and stores
everything in the one ``suggestions`` table (platform, the author's stable id
and handle, the post, the link).

How a run reads one channel, page after page::

    channel.start(state)              restore a session, look up the account; returns state to keep
      -> channel.read_page(place)     newest first; ``place`` says where the sweep stands
      -> judge (pure: the abuse rules)
      -> storage: the page's suggestions AND the next place, in one transaction

A *sweep* reads from the newest post back to the *floor*: the newest post
of the last finished sweep (``floor_id``), or on the first run a time
(``floor_time``). The floor moves up only when a sweep's last page is stored,
and every page is stored together with the cursor of the next one, so a run
stopped anywhere (a limit, a fault, a kill) carries on from the last stored
page, and reading a page again stores nothing twice (the store's unique key is
(platform, post, link)).

Nothing here does I/O; adapters raise the :class:`~roundup_bot.core.errors.ChannelError`
subclasses (see that module's tree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from roundup_bot.core.records import LinkCard
from roundup_bot.core.suggestion_rules import SuggestedLink

#: The channels roundup-bot knows, in the order ``mentions`` reads them.
CHANNEL_NAMES = ("x", "mastodon", "bluesky", "wordpress")


@dataclass(frozen=True, slots=True)
class ReadPlace:
    """Where a sweep stands: which page to ask for, and how far back to read."""

    floor_id: str | None = None  # the newest post of the last finished sweep: read above it
    floor_time: datetime | None = None  # the first sweep: read back to this time
    cursor: str | None = None  # the next page of this sweep; None: its first (newest) page


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """One page of a channel, newest posts first, after extraction."""

    suggestions: tuple[SuggestedLink, ...]
    mentions: int  # posts on the page that mention the account (or reply, or comment)
    posts: int  # posts the platform returned (what X bills); counted per month
    newest_id: str | None  # the page's newest post: the next floor when this sweep began here
    next_cursor: str | None  # None: the sweep has reached its floor or the end
    skipped: tuple[str, ...] = ()  # why some posts gave nothing, one line each


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """A post to answer: the thank-you reply to an accepted suggestion."""

    post_id: str
    post_url: str
    handle: str  # the author's handle, without the leading "@"
    author_id: str | None
    reply_ref: str | None  # what the platform needs beyond the id (JSON), as the adapter stored it


class SuggestionChannel(Protocol):
    """One place followers suggest links: what a mentions run needs from it.

    ``name`` is the config section and the key of the channel's stored state;
    ``platform`` is what the suggestions table and the candidates' sources call
    it (the two are the same for every channel so far).

    Raises (every method):
        ChannelLimited: a rate limit or quota stopped the call; ``resume_at`` says when.
        ChannelAuthError: the credentials were refused.
        ChannelRequestError: the request was refused (e.g. a stale cursor).
        ChannelUnavailable: 5xx answers or timeouts after the retries.
        ChannelBadResponse: the answer is not what the API documents.
    """

    name: str
    platform: str
    #: Posts a month the run may read (X bills each one); 0: no limit.
    max_posts_per_month: int

    def start(self, state: Mapping[str, str | None]) -> dict[str, str | None]:
        """Get ready to read (look up the account, restore a saved session).

        Returns state to store now (a looked-up id, a refreshed session).
        """
        ...

    def read_page(self, place: ReadPlace, limit: int) -> ChannelPage:
        """One page of at most ``limit`` posts, newest first, above the place's floor."""
        ...

    def reply(self, target: ReplyTarget, text: str) -> str:
        """Post ``text`` as a reply to the target post; returns the new post's id.

        Never retried after the request was sent: a retried post could appear twice.
        """
        ...

    def announce(
        self, text: str, *, card: LinkCard | None, key: str, mentions: Mapping[str, str]
    ) -> str:
        """Post the published round-up's announcement as the account; returns its id.

        ``card`` is the link card for platforms that build none (Bluesky);
        ``key`` names this announcement (an idempotency key where the platform
        takes one); ``mentions`` maps handles in ``text`` to account ids, for
        platforms whose mentions need them (Bluesky's DIDs). Never retried.
        """
        ...

    def saved_state(self) -> dict[str, str | None]:
        """State that changed while reading (a refreshed session), to store after the run."""
        ...

    def close(self) -> None: ...


def credit(handle: str) -> str:
    """How a suggester is credited: ``@ann`` on X, ``@ann@council.social`` on Mastodon,
    ``@ann.bsky.social`` on Bluesky. Adapters store each platform's full handle, so
    the credit is the handle with one "@" in front, whatever the platform."""
    return "@" + handle.strip().lstrip("@")
