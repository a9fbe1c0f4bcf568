"""The database schema, as SQLAlchemy Core tables.

The Alembic migrations in ``roundup_bot/storage/migrations`` create and change these
tables; a test checks the two never drift apart. Tables are designed for what
is coming as well as what is here: candidates come from several kinds of
source (feeds, X, later Mastodon and Bluesky), drafts belong to a named
round-up (there may be more than one), and editors are rows, not a config key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

#: The largest id a row can have: ``Integer`` columns are 32-bit on PostgreSQL. An id
#: from outside (a URL, a command line) above it names no row; asking the database
#: would fail ("integer out of range", or OverflowError on SQLite past 64 bits).
MAX_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    """Could ``value`` be the id of a row? (1 to :data:`MAX_ID`)"""
    return 1 <= value <= MAX_ID


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware UTC datetimes, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),  # as configured
    Column("fetch_url", Text),  # where a permanent redirect ended, fetched instead of url
    Column("name", Text),  # configured name
    Column("title", Text),  # the feed's own title
    Column("site_url", Text),
    Column("weight", Float, nullable=False, default=1.0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("in_config", Boolean, nullable=False, default=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_polled", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("next_due", UTCDateTime),
    Column("ok", Boolean),
    Column("last_error", Text),
    # What the last good poll left out (entries beyond [polling] max_entries)
    Column("notice", Text),
    Column("consecutive_errors", Integer, nullable=False, default=0),
    Column("gone", Boolean, nullable=False, default=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_feeds_next_due", feeds.c.next_due)

candidates = Table(
    "candidates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),  # canonical URL: the dedupe key
    Column("link", Text, nullable=False),  # original link as first seen
    Column("title", Text),
    Column("author", Text),
    Column("published", UTCDateTime),
    Column("summary", Text),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # published if known, else first_seen: the moment that places it in a week
    Column("placed_at", UTCDateTime, nullable=False),
    Column("site_name", Text),
    Column("description", Text),
    Column("categories", Text),  # JSON list of the feed's categories for it
)
# placed_at for the weeks; id, published and first_seen so that a draft's score
# bounds read only the index (migration 0012)
Index(
    "ix_candidates_placed_at",
    candidates.c.placed_at,
    candidates.c.id,
    candidates.c.published,
    candidates.c.first_seen,
)

# Other addresses of a candidate's article: a redirector's link that leads to it, a
# syndicated copy that names it as canonical, or a candidate merged into it. Storing a
# link looks its address up here first, so the same article never comes back twice.
candidate_aliases = Table(
    "candidate_aliases",
    metadata,
    Column("url", Text, primary_key=True),  # canonical form of the other address
    Column(
        "candidate_id",
        Integer,
        ForeignKey("candidates.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("reason", String(20), nullable=False),  # redirect | canonical
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_candidate_aliases_candidate_id", candidate_aliases.c.candidate_id)

candidate_sources = Table(
    "candidate_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "candidate_id",
        Integer,
        ForeignKey("candidates.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(20), nullable=False),  # feed | x | mastodon | bluesky
    Column("source_ref", Text, nullable=False),  # feed id, or the post's id
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("name", Text, nullable=False),  # feed name, or "@username"
    Column("url", Text, nullable=False),  # feed URL, or the post's URL
    Column("entry_id", Text),  # the feed entry's guid
    Column("first_seen", UTCDateTime, nullable=False),
    UniqueConstraint("candidate_id", "kind", "source_ref", name="uq_candidate_sources_ref"),
)
Index("ix_candidate_sources_candidate_id", candidate_sources.c.candidate_id)
Index("ix_candidate_sources_feed_id", candidate_sources.c.feed_id)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(20), nullable=False),  # x | mastodon | bluesky | wordpress
    # The post's id on its platform: a number on X and Mastodon, an at:// URI on Bluesky.
    Column("post_id", Text, nullable=False),
    Column("post_url", Text, nullable=False),
    # The author's stable id (X/Mastodon account id, Bluesky DID) and handle
    # ("ann", "ann@council.social", "ann.bsky.social"): the handle is the credit.
    Column("author_id", Text),
    Column("author_username", Text, nullable=False),
    Column("text", Text),
    Column("posted_at", UTCDateTime),
    Column("link", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("link_title", Text),
    Column("link_description", Text),
    Column("candidate_id", Integer, ForeignKey("candidates.id", ondelete="SET NULL")),
    Column("status", String(20), nullable=False),  # accepted | rejected
    Column("reason", Text),  # why it was rejected
    Column("created_at", UTCDateTime, nullable=False),
    Column("thanked_at", UTCDateTime),
    # What a reply needs beyond post_id (JSON): Bluesky's record cids and thread
    # root, Mastodon's visibility. NULL for X.
    Column("reply_ref", Text),
    UniqueConstraint("platform", "post_id", "canonical_url", name="uq_suggestions_post_link"),
)
Index("ix_suggestions_candidate_id", suggestions.c.candidate_id)
Index("ix_suggestions_author", suggestions.c.platform, suggestions.c.author_username)
Index("ix_suggestions_author_id", suggestions.c.platform, suggestions.c.author_id)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(40), primary_key=True),  # e.g. "x"
    Column("key", String(80), primary_key=True),  # e.g. "since_id", "user_id"
    Column("value", Text),
    Column("updated_at", UTCDateTime, nullable=False),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("roundup", String(80), nullable=False),  # which round-up (there may be several)
    Column("week", String(10), nullable=False),  # ISO week of its end, "2026-W48"
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),  # draft | approved | published
    Column("title", Text, nullable=False),
    Column("intro", Text, nullable=False),
    Column("outro", Text, nullable=False),
    Column("intro_edited", Boolean, nullable=False, default=False),
    Column("outro_edited", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),  # optimistic locking
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", Text),
    Column("approved_by", Text),
    Column("approved_at", UTCDateTime),
    Column("published_at", UTCDateTime),
    Column("published_path", Text),
    Column("first_published_at", UTCDateTime),
    Column("publish_count", Integer, nullable=False, default=0),  # >1: republished
    Column("reopened_by", Text),
    Column("reopened_at", UTCDateTime),
    UniqueConstraint("roundup", "week", name="uq_drafts_roundup_week"),
)

draft_items = Table(
    "draft_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
    Column("candidate_id", Integer, ForeignKey("candidates.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("blurb", Text, nullable=False, default=""),
    Column("blurb_edited", Boolean, nullable=False, default=False),
    Column("removed", Boolean, nullable=False, default=False),  # taken out by an editor
    Column("added_by_editor", Boolean, nullable=False, default=False),
    Column("moved_by_editor", Boolean, nullable=False, default=False),
    Column("score", Float, nullable=False, default=0.0),
    Column("why", Text),  # JSON: the ranking's named parts
    # The editor's own title, author and site name; NULL shows the automatic one.
    Column("title", Text),
    Column("author", Text),
    Column("site_name", Text),
    UniqueConstraint("draft_id", "candidate_id", name="uq_draft_items_candidate"),
)
Index("ix_draft_items_draft_id", draft_items.c.draft_id)
Index("ix_draft_items_candidate_id", draft_items.c.candidate_id)

link_details = Table(
    "link_details",
    metadata,
    Column("url", Text, primary_key=True),  # canonical URL
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("title", Text),
    Column("author", Text),
    Column("site_name", Text),
    Column("description", Text),
    Column("error", Text),
    Column("resolved_url", Text),  # the true address, when the link led elsewhere
    Column("resolved_reason", String(20)),  # redirect | canonical
    Column("lead", Text),  # the first real paragraph of the article's main text
)

editors = Table(
    "editors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_sign_in", UTCDateTime),
    Column("email", Text),  # told when the week's draft is ready ([notify])
)

# Server-side web sessions: the cookie carries a random token whose SHA-256 is the
# id here, so signing out (or removing the editor) really ends the session.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's token
    Column("editor_id", Integer, ForeignKey("editors.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_web_sessions_editor_id", web_sessions.c.editor_id)

job_locks = Table(
    "job_locks",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("last_started", UTCDateTime),
    Column("last_finished", UTCDateTime),
    Column("last_result", Text),
    Column("last_ok", Boolean),
    Column("next_run", UTCDateTime),
)

app_secrets = Table(
    "app_secrets",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The WordPress step of publishing, one row per round-up: its post's id once known
# (stored in the same transaction that records success), and why the last try failed.
wordpress_posts = Table(
    "wordpress_posts",
    metadata,
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True),
    Column("slug", Text, nullable=False),  # the round-up's one slug
    Column("state", String(20), nullable=False),  # pending | failed | done
    Column("post_id", BigInteger),  # WordPress's id of the post (its ids are 64-bit)
    Column("link", Text),
    Column("status", String(20)),  # WordPress's: draft | publish | future | pending | private
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try", UTCDateTime),
    Column("pushed_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_wordpress_posts_state", wordpress_posts.c.state)

# Comments on the round-up posts already read for suggestions: each is read once.
wordpress_comments = Table(
    "wordpress_comments",
    metadata,
    Column("site", String(200), primary_key=True),  # the blog's host
    Column("comment_id", BigInteger, primary_key=True),
    Column("post_id", BigInteger, nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
)

# One row per message owed about a draft: to each editor's address, and to the
# chat webhook. A row is claimed (state "sending") before the message goes out and
# marked "sent" after, so a second run or a crash never sends it twice; a failure
# marks it "failed" and the next run tries again.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),  # email | webhook
    Column("recipient", Text, nullable=False),  # the address, or "webhook"
    Column("state", String(20), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("draft_id", "channel", "recipient", name="uq_notifications_message"),
)

# What changed since each editor last looked (migration 0010). ``draft_views``: per
# draft and editor, when they last had the page in front of them, and where their
# previous visit ended (the moment their marks count from).
draft_views = Table(
    "draft_views",
    metadata,
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True),
    Column("editor", String(80), primary_key=True),  # the editor's name, as updated_by
    Column("seen_at", UTCDateTime, nullable=False),
    Column("since", UTCDateTime),  # None: their first visit, nothing to mark
)

# Per part of a draft (intro, outro, each item), the last editor's change to it.
draft_changes = Table(
    "draft_changes",
    metadata,
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True),
    Column("part", String(10), primary_key=True),  # intro | outro | item
    Column("item_id", Integer, primary_key=True),  # the draft item's id; 0 for intro/outro
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", Text, nullable=False),
    Column("what", Text, nullable=False),  # comma-separated: blurb, details, moved, added...
)

# One announcement of a published round-up per channel: claimed (state "sending")
# before it is posted, so two publishes at once never post it twice.
announcements = Table(
    "announcements",
    metadata,
    Column("draft_id", Integer, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True),
    Column("channel", String(20), primary_key=True),  # x | mastodon | bluesky
    Column("state", String(20), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("post_id", Text),  # the post made (its id or at:// URI)
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
)
