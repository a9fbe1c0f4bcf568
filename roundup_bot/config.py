"""Reads the TOML config into validated, frozen settings.

Precedence: command line > ``ROUNDUP_<SECTION>_<KEY>`` environment variables >
the config file > defaults. Any problem becomes a :class:`ConfigError` whose
one-line message names the file (or environment variable), the key and the
problem; the CLI prints it and exits with status 2.

Secrets (API tokens, the web session key) are never config keys: they are read
from the environment by the adapter that needs them, so they cannot end up in a
config file that is committed or shown.
"""

from __future__ import annotations

import os
import re
import reprlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from roundup_bot.core.errors import ConfigError
from roundup_bot.core.notices import is_plain_address
from roundup_bot.core.ranking import RankingRules
from roundup_bot.core.redaction import SECRET_ENV

DEFAULT_CONFIG = "config.toml"
ENV_CONFIG = "ROUNDUP_CONFIG"
ENV_PREFIX = "ROUNDUP_"

#: Environment variables under ROUNDUP_ that are secrets or switches, not config keys.
NON_KEY_ENV = frozenset({ENV_CONFIG, *SECRET_ENV, "ROUNDUP_WORDPRESS_USERNAME"})

#: Deepest nesting of arrays and tables a config may have; the real keys need 4.
#: Deeper documents (a hostile or broken file) are refused before anything recurses
#: into them; one that even the TOML parser cannot descend is refused as well.
MAX_DEPTH = 16
#: How much of a wrong value an error message shows.
SHOWN_VALUE = 60

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: str | int | float) -> float:
    """'90s', '15m', '2h', '1d', '1w' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '15m' or '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"{_shown(value)} is not a duration such as '90s', '15m', '2h' or '1d'"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be more than zero")
    return seconds


def parse_duration_or_zero(value: str | int | float) -> float:
    """Like :func:`parse_duration`, but "0" (or "0s") means none at all."""
    if isinstance(value, str) and re.fullmatch(r"\s*0+(?:\.0*)?\s*[smhdw]?\s*", value):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return parse_duration(value)


_DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg", "postgresql+psycopg_async")


class _Section(BaseModel):
    # nan would pass every "must be zero or more" check and reach the database as NULL
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatabaseSettings(_Section):
    url: str = "sqlite:///roundup.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        """Caught here so it is a config error naming the key; never echoes the URL,
        which may hold a password."""
        scheme, sep, _rest = value.strip().partition("://")
        if not sep:
            raise ValueError("not a database URL such as sqlite:///roundup.db")
        if scheme.lower() not in _DATABASE_SCHEMES:
            hint = " (add +psycopg)" if scheme.lower() in ("postgresql", "postgres") else ""
            raise ValueError(
                f"{scheme}:// is not supported: use sqlite:/// or postgresql+psycopg://{hint}"
            )
        return value


class FeedSettings(_Section):
    url: str
    name: str | None = None
    weight: float = 1.0
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from roundup_bot.core.curation import canonical_url
        from roundup_bot.core.errors import InvalidURL

        value = value.strip()
        if not re.match(r"^https?://[^/\s]+", value, re.IGNORECASE):
            raise ValueError(f"{_shown(value)} is not an http:// or https:// URL")
        try:
            canonical_url(value)  # a space in the host, a bad port: only checked here
        except InvalidURL:
            raise ValueError(f"{_shown(value)} is not a valid URL") from None
        return value

    @field_validator("weight")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be zero or more")
        return value


class PollingSettings(_Section):
    """How feeds are fetched."""

    opml: str | None = None  # an OPML file of more feeds, relative to the config file
    # overall deadline per feed in seconds, slow bodies included; also the CPU seconds
    # its document's parse may take
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024  # body limit after decompression
    max_redirects: int = 5
    max_entries: int = 500  # entries kept per feed document, the newest by date
    concurrency: int = 16  # feeds fetched at once
    per_host: int = 2  # of those, at most this many to any one host
    interval: str = "2h"  # a feed is due again this long after a successful poll
    max_backoff: str = "1d"  # longest wait after repeated failures

    @field_validator("timeout")
    @classmethod
    def _positive_float(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than zero")
        return value

    @field_validator("max_bytes", "max_entries", "concurrency", "per_host")
    @classmethod
    def _positive_int(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be 1 or more")
        return value

    @field_validator("max_redirects")
    @classmethod
    def _redirects(cls, value: int) -> int:
        if not 0 <= value <= 20:
            raise ValueError("must be between 0 and 20")
        return value

    @field_validator("interval", "max_backoff")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def max_backoff_seconds(self) -> float:
        return parse_duration(self.max_backoff)


class NetworkSettings(_Section):
    allow_private_addresses: bool = False


class _ChannelSettings(_Section):
    """What every suggestion channel other than X shares: reading, limits, replies, announcing."""

    enabled: bool = False
    first_run_days: int = 7  # the first run reads mentions this many days back
    timeout: float = 20.0  # seconds for a whole request, a slow answer included
    max_rate_limit_wait: float = 60.0  # wait for a rate-limit reset at most this many seconds
    retries: int = 3  # retries after a 5xx answer or a timeout, with backoff
    retry_backoff: float = 1.0  # first retry after this many seconds, doubling each time
    thank_suggesters: bool = False  # reply once to each accepted suggestion
    thank_template: str = "thanks.txt.j2"
    announce: bool = False  # post once about each published round-up
    announce_template: str = "announce.txt.j2"

    @field_validator("first_run_days")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be 1 or more")
        return value

    @field_validator("retries")
    @classmethod
    def _retries(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError("must be between 0 and 10")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than zero")
        return value

    @field_validator("max_rate_limit_wait", "retry_backoff")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be zero or more")
        return value


def _https_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value, re.IGNORECASE):
        raise ValueError(f"{value!r} is not an http:// or https:// base URL")
    return value


#: A Bluesky handle is a domain name: "name.bsky.social", "comms.council.gov.uk".
_HANDLE = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*")


class TwitterSettings(_ChannelSettings):
    """The X source: links that followers suggest by mentioning the account.

    Credentials are never config keys: ROUNDUP_TWITTER_BEARER_TOKEN reads
    mentions; the OAuth 1.0a keys ROUNDUP_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET,
    _ACCESS_TOKEN and _ACCESS_TOKEN_SECRET post the optional thank-you replies.
    """

    # Reading, replies and announcements as every channel ([mastodon], [bluesky]);
    # on X each post read or written costs money (see the README).
    username: str = "welovelocalgov"  # the account whose mentions are read
    user_id: str | None = None  # its numeric id; looked up once from username when unset
    api_base_url: str = "https://api.x.com"  # or an API-compatible proxy
    max_posts_per_month: int = 1000  # cost guard: reading stops when the month's count reaches it

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.strip().lstrip("@")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", value):
            raise ValueError(
                f"{_shown(value)} is not an X username (letters, digits, _; 15 at most)"
            )
        return value

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        """An id written as a TOML number (user_id = 12345) is the same id."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not (value.strip().isascii() and value.strip().isdecimal()):
            raise ValueError(f"{_shown(value)} is not a numeric X user id")
        return value.strip() if value is not None else None

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value, re.IGNORECASE):
            raise ValueError(f"{_shown(value)} is not an http:// or https:// base URL")
        return value

    @field_validator("max_posts_per_month")
    @classmethod
    def _a_post_at_least(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be 1 or more")
        return value


class MastodonSettings(_ChannelSettings):
    """Mastodon: mentions of the bot's account on its own server.

    The access token is never a config key: ROUNDUP_MASTODON_ACCESS_TOKEN (an
    application's token with read:notifications, read:statuses, read:accounts, and
    write:statuses for replies and announcements).
    """

    api_base_url: str = ""  # the bot account's server, e.g. "https://council.social"
    include_filtered: bool = True  # also read mentions Mastodon 4.3+ files as notification requests
    visibility: Literal["public", "unlisted"] = "public"  # of announcements (replies: see README)

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _https_base_url(value) if value.strip() else ""

    @model_validator(mode="after")
    def _needs_server(self) -> MastodonSettings:
        if self.enabled and not self.api_base_url:
            raise ValueError("api_base_url: required when enabled (the bot account's server)")
        return self

    @property
    def account_hint(self) -> str:
        return self.api_base_url


class BlueskySettings(_ChannelSettings):
    """Bluesky: mentions of and replies to the bot's account.

    The app password is never a config key: ROUNDUP_BLUESKY_APP_PASSWORD (made
    under Settings > Privacy and security > App passwords). The session it opens
    is kept in the database and refreshed, so the bot logs in once, not every run.
    """

    handle: str = ""  # the bot account, e.g. "welovelocalgov.bsky.social"
    service: str = "https://bsky.social"  # the account's PDS (or the entryway that finds it)

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        value = value.strip().lstrip("@").lower()
        if value and not re.fullmatch(
            r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*", value
        ):
            raise ValueError(f"{value!r} is not a Bluesky handle such as 'name.bsky.social'")
        return value

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return _https_base_url(value)

    @model_validator(mode="after")
    def _needs_handle(self) -> BlueskySettings:
        if self.enabled and not self.handle:
            raise ValueError("handle: required when enabled (the bot's Bluesky handle)")
        return self

    @property
    def account_hint(self) -> str:
        return "@" + self.handle if self.handle else ""


class SuggestionSettings(_Section):
    """Rules for suggestions from any platform; a rejected one is stored with its reason."""

    # handles (with or without @) or account ids; "mastodon:@a@b.social" limits one to a platform
    blocked_users: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)  # a domain blocks its subdomains too
    allowed_domains: list[str] = Field(default_factory=list)  # when set, only these domains
    max_per_user_per_week: int = 5  # different links one person may suggest in 7 days; 0: no limit

    @field_validator("max_per_user_per_week")
    @classmethod
    def _limit(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be zero (no limit) or more")
        return value


class RoundupSettings(_Section):
    name: str = "welovelocalgov"  # the round-up's short name; more than one may exist later
    title: str = "That was the local government week that was"
    timezone: str = "Europe/London"
    week_ends: str = "friday 09:00"
    max_items: int = 10
    intro: str = "Here's our round-up of some of our favourite blog posts of the week."
    outro: str = (
        "If you've got others you think we've missed, tweet us @welovelocalgov"
        " or share it in the comments below."
    )
    template: str = "roundup.html.j2"  # the published HTML and the HTML preview
    markdown_template: str = "roundup.md.j2"
    text_template: str = "roundup.txt.j2"
    feed_entry_template: str = "roundup_article.html.j2"  # each round-up's content in feed.xml
    templates_dir: str | None = None  # searched before the packaged templates/
    fetch_link_details: bool = True  # read picked articles' pages for missing details
    link_details_max_age: str = "7d"  # how long what a page said is trusted
    max_per_source: int = 2  # drafted items from one blog at most (0: no limit)
    blurb_template: str = "blurb.txt.j2"  # words each starter blurb (quotes first-person text)

    @field_validator("max_per_source")
    @classmethod
    def _max_per_source(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 (no limit) or more")
        return value

    @field_validator("max_items")
    @classmethod
    def _max_items(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError("must be between 1 and 100")
        return value

    @field_validator("link_details_max_age")
    @classmethod
    def _max_age(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def link_details_max_age_seconds(self) -> float:
        return parse_duration(self.link_details_max_age)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a long name
            raise ValueError(f"unknown time zone {_shown(value)}") from exc
        return value

    @field_validator("week_ends")
    @classmethod
    def _week_ends(cls, value: str) -> str:
        if not re.match(
            r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+\d{1,2}:\d{2}$",
            value.strip().lower(),
        ):
            raise ValueError(f"{_shown(value)} is not a day and time such as 'friday 09:00'")
        return value


_RANKING = RankingRules()  # the defaults live with the ranking, in the core


class RankingSettings(_Section):
    keyword_boosts: dict[str, float] = Field(default_factory=dict)
    blocked_domains: list[str] = Field(default_factory=list)
    # Adverts never enter the draft: posts with one of these categories (any case) ...
    exclude_categories: list[str] = Field(default_factory=lambda: list(_RANKING.exclude_categories))
    # ... or one of these markers in the title ("[Sponsor] ...", "Sponsored: ...").
    exclude_title_markers: list[str] = Field(
        default_factory=lambda: list(_RANKING.exclude_title_markers)
    )
    exclude_keywords: list[str] = Field(default_factory=list)  # whole words in title or summary
    suggestion_points: float = _RANKING.suggestion_points
    feed_points: float = _RANKING.feed_points
    weight_points: float = _RANKING.weight_points
    recency_points: float = _RANKING.recency_points

    def rules(self) -> RankingRules:
        """The section as the core's ranking reads it."""
        return RankingRules(
            keyword_boosts=dict(self.keyword_boosts),
            blocked_domains=tuple(self.blocked_domains),
            suggestion_points=self.suggestion_points,
            feed_points=self.feed_points,
            weight_points=self.weight_points,
            recency_points=self.recency_points,
            exclude_categories=tuple(self.exclude_categories),
            exclude_title_markers=tuple(self.exclude_title_markers),
            exclude_keywords=tuple(self.exclude_keywords),
        )


class PublishSettings(_Section):
    output_dir: str = "public"
    base_url: str = ""


_BASE_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", re.IGNORECASE)


class WordPressSettings(_Section):
    """Publishing the approved round-up as one post on a WordPress blog, and reading
    the links readers leave in its comments.

    Credentials are never config keys: ROUNDUP_WORDPRESS_USERNAME and
    ROUNDUP_WORDPRESS_APP_PASSWORD (an Application Password, self-hosted), or
    ROUNDUP_WORDPRESS_TOKEN (a WordPress.com OAuth2 token).
    """

    enabled: bool = False
    site_url: str = ""  # the blog's address, https://blog.example.org
    status: Literal["draft", "publish", "future"] = "draft"  # draft: an editor takes a last look
    publish_at: str | None = None  # for "future": a time of the week, "friday 12:00"
    categories: list[str] = Field(default_factory=list)  # names; created when missing
    tags: list[str] = Field(default_factory=list)
    template: str = "roundup_article.html.j2"  # the post's content: a fragment, never a page
    read_comments: bool | None = None  # links in approved comments become suggestions
    api_url: str | None = None  # the REST root, when the site's own answer is not right
    timeout: float = 20.0  # seconds for a whole request, a slow answer included

    @field_validator("site_url", "api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        value = value.strip()
        if not _BASE_URL.match(value):
            raise ValueError(f"{value!r} is not an http:// or https:// address")
        from roundup_bot.core.wordpress import credentials_allowed

        if not credentials_allowed(value):
            raise ValueError(
                f"{value!r}: credentials are never sent over plain HTTP; use https://"
                " (http:// only for a WordPress on this machine: localhost, 127.0.0.1, ::1)"
            )
        return value.rstrip("/") if "?" not in value else value

    @field_validator("publish_at")
    @classmethod
    def _publish_at(cls, value: str | None) -> str | None:
        if value is not None:
            RoundupSettings._week_ends(value)
        return value

    @field_validator("categories", "tags")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        names = [name.strip() for name in value]
        if any(not name or len(name) > 200 for name in names):
            raise ValueError("each name must be 1 to 200 characters")
        return names

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than zero")
        return value

    @model_validator(mode="after")
    def _needs(self) -> WordPressSettings:
        if self.enabled and not self.site_url:
            raise ValueError("site_url: required when enabled = true")
        if self.status == "future" and not self.publish_at:
            raise ValueError('publish_at: required when status = "future" (e.g. "friday 12:00")')
        return self

    @property
    def comments_on(self) -> bool:
        """Comments are read when WordPress is on, unless read_comments = false."""
        return self.enabled and self.read_comments is not False


class ScheduleSettings(_Section):
    """When ``roundup-bot run`` runs each job, and how one-shots share with it.

    A job set to "off" is not scheduled. ``draft_at`` defaults to the
    [roundup] week_ends moment, in [roundup] timezone.
    """

    poll_feeds_every: str = "2h"
    poll_mentions_every: str = "15m"
    draft_at: str | None = None  # "friday 09:00", or "off"
    jitter: str = "5m"  # poll start times are delayed by up to this much ("0" for none)
    lock_wait: str = "10s"  # how long a one-shot waits for the same job to finish ("0": skip)

    @field_validator("poll_feeds_every", "poll_mentions_every")
    @classmethod
    def _every(cls, value: str) -> str:
        if value.strip().lower() != "off":
            parse_duration(value)
        return value

    @field_validator("jitter", "lock_wait")
    @classmethod
    def _zero_or_duration(cls, value: str) -> str:
        parse_duration_or_zero(value)
        return value

    @field_validator("draft_at")
    @classmethod
    def _draft_at(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() != "off":
            RoundupSettings._week_ends(value)
        return value

    @property
    def jitter_seconds(self) -> float:
        return parse_duration_or_zero(self.jitter)

    @property
    def lock_wait_seconds(self) -> float:
        return parse_duration_or_zero(self.lock_wait)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""
    behind_proxy: bool = False


class NotifySettings(_Section):
    """Telling editors the week's draft is ready: by email, and to a chat webhook.

    The SMTP password comes only from ROUNDUP_SMTP_PASSWORD; a webhook URL is a
    secret in itself, so ROUNDUP_NOTIFY_WEBHOOK_URL, when set, is used instead of
    ``webhook_url`` (and never shown).
    """

    smtp_url: str = ""  # smtp://[user@]host[:port] (STARTTLS when offered) or smtps://...
    sender: str = Field(default="", alias="from")  # the From address of the emails
    webhook_url: str = ""  # a Teams or Slack incoming webhook
    timeout: float = Field(default=20.0, gt=0)  # seconds for each SMTP step or webhook post

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://host:587 or smtps://user@host:465")
        if parts.password is not None:
            raise ValueError("must not hold the password: set ROUNDUP_SMTP_PASSWORD instead")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if value and not is_plain_address(value):
            raise ValueError(f"{_shown(value)} is not an email address")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s):// URL")
        return value

    @model_validator(mode="after")
    def _sender_with_smtp(self) -> NotifySettings:
        if self.smtp_url and not self.sender:
            raise ValueError("from: needed when smtp_url is set (the emails' From address)")
        return self


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    """The whole validated configuration. ``path`` is the file it came from."""

    path: str = "<defaults>"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    feeds: list[FeedSettings] = Field(default_factory=list)
    polling: PollingSettings = Field(default_factory=PollingSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    twitter: TwitterSettings = Field(default_factory=TwitterSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings)
    suggestions: SuggestionSettings = Field(default_factory=SuggestionSettings)
    roundup: RoundupSettings = Field(default_factory=RoundupSettings)
    ranking: RankingSettings = Field(default_factory=RankingSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    wordpress: WordPressSettings = Field(default_factory=WordPressSettings)

    @model_validator(mode="after")
    def _unique_feeds(self) -> Settings:
        seen: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            if feed.url in seen:
                first = seen[feed.url]
                raise ValueError(f"feeds[{index}].url {_shown(feed.url)} repeats feeds[{first}]")
            seen[feed.url] = index
        return self

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the config file's folder."""
        if self.path.startswith("<"):
            return Path.cwd()
        return Path(self.path).resolve().parent

    def resolve_path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


SECTIONS = tuple(
    name for name, field in Settings.model_fields.items() if name not in ("path", "feeds")
)


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $ROUNDUP_CONFIG, else ./config.toml."""
    env = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    return Path(DEFAULT_CONFIG)


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment, validate. Raises ConfigError."""
    env = os.environ if environ is None else environ
    shown = str(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        hint = " (copy config.example.toml to config.toml, or pass --config)"
        raise ConfigError(shown, None, "config file not found" + hint) from None
    except OSError as exc:
        raise ConfigError(shown, None, f"cannot read the file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(shown, None, "the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, None, f"TOML syntax error: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of [ or {
        raise ConfigError(shown, None, _TOO_DEEP) from None
    return settings_from_mapping(data, shown, env)


def settings_from_mapping(
    data: dict[str, Any], shown: str, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate an already-parsed TOML document (plus environment overrides)."""
    env = os.environ if environ is None else environ
    if "path" in data:
        raise ConfigError(shown, "path", "unknown key")
    data = _apply_env_overrides(dict(data), env)
    deep = _too_deep(data)
    if deep is not None:
        origin = _env_name(deep) if _env_name(deep) in env else shown
        raise ConfigError(origin, _dotted(deep), _TOO_DEEP)
    try:
        settings = Settings.model_validate({**data, "path": shown})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _dotted(first["loc"])
        origin = _env_name(first["loc"]) if key and _env_name(first["loc"]) in env else shown
        raise ConfigError(origin, key or None, _problem(first)) from None
    _resolve_sqlite(settings)
    return settings


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in NON_KEY_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not ours (another tool's ROUNDUP_* variable)
        key = rest[len(section) + 1 :]
        model = Settings.model_fields[section].annotation
        fields = getattr(model, "model_fields", {})
        if key not in fields:
            raise ConfigError(name, f"{section}.{key}", "unknown key")
        table = dict(data.get(section) or {})
        try:
            table[key] = _env_value(raw, fields[key].annotation)
        except RecursionError:
            raise ConfigError(name, f"{section}.{key}", _TOO_DEEP) from None
        data[section] = table
    return data


def _env_value(raw: str, annotation: Any) -> Any:
    """An environment value is read as a TOML value when it is one, else as text.

    So ROUNDUP_TWITTER_ENABLED=true is a boolean, ROUNDUP_POLLING_TIMEOUT=5 a
    number and ROUNDUP_DATABASE_URL=sqlite:///x.db plain text. A key that takes
    text keeps the text as written (ROUNDUP_TWITTER_USER_ID=12345,
    ROUNDUP_SCHEDULE_JITTER=0), since a shell has no way to quote it as TOML.
    """
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    if not isinstance(value, str) and (annotation is str or str in get_args(annotation)):
        return raw
    return value


_TOO_DEEP = f"nested too deeply (arrays and tables more than {MAX_DEPTH} levels deep)"


def _too_deep(data: Mapping[str, Any]) -> tuple[int | str, ...] | None:
    """Where ``data`` nests deeper than MAX_DEPTH (the shortest such path), else None.
    Walks without recursion, so no document can exhaust the stack here."""
    level: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    for _ in range(MAX_DEPTH):
        below: list[tuple[tuple[int | str, ...], Any]] = []
        for loc, value in level:
            if isinstance(value, Mapping):
                below.extend(((*loc, k), v) for k, v in value.items())
            elif isinstance(value, list):
                below.extend(((*loc, n), v) for n, v in enumerate(value))
        level = [(loc, v) for loc, v in below if isinstance(v, Mapping | list)]
        if not level:
            return None
    return _key_part(level[0][0])


def _key_part(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The config key the nesting hangs from ("polling.timeout", "feeds[0].name"):
    the path below it ([0][0][0]... or .a.a.a...) says nothing more."""
    loc = loc[: 3 if loc and loc[0] == "feeds" else 2]
    while len(loc) > 1 and isinstance(loc[-1], int):
        loc = loc[:-1]
    return loc


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("path",):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "_".join(str(p) for p in loc).upper()


def _problem(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"wrong type: {message[0].lower() + message[1:]} (got {_shown(error.get('input'))})"
    return message


def _shown(value: Any) -> str:
    """A wrong value as an error shows it: its repr, cut short (a whole table or a
    megabyte of text has no place in a one-line error)."""
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = SHOWN_VALUE
    shorter.maxlevel = 2
    text = shorter.repr(value)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def _resolve_sqlite(settings: Settings) -> None:
    """Make a relative SQLite path relative to the config file's folder."""
    url = settings.database.url
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix is None:
        return
    rest = url[len(prefix) :]
    if not rest or rest.startswith("/") or rest.startswith(":memory:"):
        return
    file_part, sep, query = rest.partition("?")
    absolute = settings.resolve_path(file_part)
    object.__setattr__(settings.database, "url", f"{prefix}{absolute}{sep}{query}")
