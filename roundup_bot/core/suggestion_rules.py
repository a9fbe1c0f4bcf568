"""Pure: the links followers suggest in X mentions, and the rules that refuse abuse.

Nothing here does I/O or reads the clock: the X adapter hands in one API v2
response page as parsed JSON, storage hands in what it already holds, and
functions that depend on time take ``now``.

Where a suggested link comes from, for each mention (never from the tweet itself)::

    entities.urls                      the tweet's own links
    note_tweet.entities.urls           the links of a long post ("note tweet")
    includes.tweets[quoted|retweeted]  the links of a quoted or retweeted post

Each URL entity gives ``unwound_url`` (where X followed the redirects to),
else ``expanded_url``; ``url`` alone is a t.co wrapper and is never used.
Photos, videos and any other link to X itself (a quoted post, the
"…/i/web/status/<id>" link of a long post, t.co, pic.twitter.com, twimg.com)
are not suggestions. Links are canonicalised exactly like feed links, so a
suggested article merges with the same article from a feed.

Text from tweets and URL entities is untrusted: it is kept as plain text and
shortened, and the templates escape it when they show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from roundup_bot.core.curation import (
    ascii_host,
    canonical_url,
    domain_matches,
    host_of,
    plain_excerpt,
)
from roundup_bot.core.errors import InvalidURL, MalformedPage

PLATFORM = "x"
#: Hosts that belong to X itself: links to them are never suggestions.
X_DOMAINS = (
    "x.com",
    "twitter.com",
    "t.co",
    "twimg.com",
    "twttr.com",
    "periscope.tv",
    "pscp.tv",
)
#: The referenced posts whose links count as the mention's own suggestion.
FOLLOWED_REFERENCES = frozenset({"quoted", "retweeted"})
TITLE_CHARS = 300
DESCRIPTION_CHARS = 400
TEXT_CHARS = 4000
WEEK = timedelta(days=7)

Status = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class SuggestedLink:
    """One link one person suggested in one post: the unit that is stored."""

    post_id: str  # the mention's id
    post_url: str  # https://x.com/<username>/status/<id>
    author_id: str | None
    author_username: str  # without the "@"
    text: str | None  # the mention's text (a long post's full text), plain
    posted_at: datetime | None  # timezone-aware UTC
    link: str  # the link as X expanded it
    canonical_url: str  # the de-duplication key shared with feed candidates
    link_title: str | None  # the page title X put on the URL entity, if any
    link_description: str | None  # the page description X put on the URL entity, if any
    reply_ref: str | None = None  # what a reply needs beyond post_id (JSON; Bluesky's cids)


@dataclass(frozen=True, slots=True)
class PageReading:
    """What one mentions page holds, after extraction."""

    suggestions: tuple[SuggestedLink, ...]
    mentions: int  # posts in ``data``
    posts: int  # distinct posts returned (data and includes.tweets): what X bills
    newest_id: str | None  # meta.newest_id
    next_token: str | None  # meta.next_token: there is another page
    skipped: tuple[str, ...] = ()  # why some mentions gave nothing (no author, ...)


#: Platforms a ``blocked_users`` entry may name: "mastodon:@spam@example.social".
PLATFORM_PREFIXES = ("x", "twitter", "mastodon", "bluesky", "wordpress")


def blocked_user_key(entry: str) -> str:
    """A ``[suggestions] blocked_users`` entry as "platform:who" ("*:who" for every platform).

    ``who`` is a handle without its leading "@" (lower-case) or an account id
    (an X or Mastodon number, a Bluesky DID). Without a platform prefix an entry
    applies everywhere, which is safe because handles do not collide across
    platforms: X names have no dots, Mastodon handles are stored as "user@server",
    Bluesky handles are domain names.
    """
    text = entry.strip()
    platform = "*"
    head, sep, rest = text.partition(":")
    if sep and head.strip().lower() in PLATFORM_PREFIXES and not rest.startswith("//"):
        platform = "x" if head.strip().lower() == "twitter" else head.strip().lower()
        text = rest.strip()
    return f"{platform}:{text.lstrip('@').lower()}"


@dataclass(frozen=True, slots=True)
class AbuseRules:
    """[suggestions] from the config, normalised for matching."""

    blocked_users: frozenset[str] = frozenset()  # "platform:who" keys, see blocked_user_key
    blocked_domains: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()  # empty: every domain is allowed
    max_per_user_per_week: int = 5  # 0: no limit

    @classmethod
    def build(
        cls,
        blocked_users: Iterable[str] = (),
        blocked_domains: Iterable[str] = (),
        allowed_domains: Iterable[str] = (),
        max_per_user_per_week: int = 5,
    ) -> AbuseRules:
        return cls(
            blocked_users=frozenset(
                blocked_user_key(name) for name in blocked_users if name.strip().lstrip("@")
            ),
            blocked_domains=tuple(_domain(d) for d in blocked_domains if d.strip()),
            allowed_domains=tuple(_domain(d) for d in allowed_domains if d.strip()),
            max_per_user_per_week=max_per_user_per_week,
        )


@dataclass(frozen=True, slots=True)
class PriorSuggestion:
    """An accepted suggestion already stored: what the weekly limit counts."""

    username: str  # lower-case
    canonical_url: str
    posted_at: datetime
    author_id: str | None = None


def person_key(author_id: str | None, username: str) -> str:
    """Who the weekly limit counts: the platform's user id, which stays when the
    account is renamed (a new name must not reset the limit), else the name."""
    return f"id:{author_id}" if author_id else f"@{username.lower()}"


@dataclass(frozen=True, slots=True)
class JudgedSuggestion:
    suggestion: SuggestedLink
    status: Status
    reason: str | None = None  # why it was rejected


#: Platforms whose people are credited by name ("Jo Bloggs"), not by "@handle".
NAMED_PLATFORMS = frozenset({"wordpress"})


def credit(platform: str, username: str) -> str:
    """How a suggester is credited: an account as "@handle"; a blog commenter by the
    name they gave."""
    name = username.lstrip("@")
    return name if platform in NAMED_PLATFORMS else "@" + name


def is_x_link(url: str) -> bool:
    """True for links to X itself (posts, photos, videos, t.co wrappers, media hosts)."""
    host = host_of(url)
    return any(domain_matches(host, domain) for domain in X_DOMAINS)


def post_url(username: str, post_id: str) -> str:
    return f"https://x.com/{username.lstrip('@')}/status/{post_id}"


def parse_page(page: Any, *, own_user_id: str | None = None) -> PageReading:
    """Every suggested link in one GET /2/users/:id/mentions response page.

    Posts written by the account itself (``own_user_id``) suggest nothing.
    Raises MalformedPage when the JSON is not a tweets page at all; single odd
    entries inside a good page are skipped and named in ``skipped``.
    """
    if not isinstance(page, Mapping):
        raise MalformedPage(f"expected a JSON object, got {type(page).__name__}")
    data = page.get("data", [])
    if data is None:
        data = []
    if not isinstance(data, list):
        raise MalformedPage("'data' is not a list of posts")
    includes = page.get("includes")
    includes = {} if includes is None else includes
    if not isinstance(includes, Mapping):
        raise MalformedPage("'includes' is not an object")
    meta = page.get("meta")
    meta = {} if meta is None else meta
    if not isinstance(meta, Mapping):
        raise MalformedPage("'meta' is not an object")
    users = {
        str(user["id"]): str(user["username"])
        for user in _objects(includes.get("users"))
        if user.get("id") is not None and isinstance(user.get("username"), str)
    }
    included = {
        str(tweet["id"]): tweet
        for tweet in _objects(includes.get("tweets"))
        if tweet.get("id") is not None
    }
    suggestions: list[SuggestedLink] = []
    skipped: list[str] = []
    post_ids: set[str] = set(included)
    for tweet in data:
        if not isinstance(tweet, Mapping) or tweet.get("id") is None:
            skipped.append("an entry without an id")
            continue
        post_id = str(tweet["id"])
        post_ids.add(post_id)
        author_id = str(tweet["author_id"]) if tweet.get("author_id") is not None else None
        if own_user_id is not None and author_id == own_user_id:
            continue
        username = users.get(author_id or "")
        if not username:
            skipped.append(f"post {post_id}: its author is not in includes.users")
            continue
        suggestions.extend(_links_of(tweet, post_id, author_id, username, included))
    newest = meta.get("newest_id")
    token = meta.get("next_token")
    return PageReading(
        suggestions=tuple(suggestions),
        mentions=len(data),
        posts=len(post_ids),
        newest_id=str(newest) if newest is not None else None,
        next_token=str(token) if token else None,
        skipped=tuple(skipped),
    )


def _links_of(
    tweet: Mapping[str, Any],
    post_id: str,
    author_id: str | None,
    username: str,
    included: Mapping[str, Mapping[str, Any]],
) -> list[SuggestedLink]:
    entities = list(_url_entities(tweet))
    for ref in _objects(tweet.get("referenced_tweets")):
        if ref.get("type") in FOLLOWED_REFERENCES and str(ref.get("id")) in included:
            entities.extend(_url_entities(included[str(ref.get("id"))]))
    text = _tweet_text(tweet)
    posted = parse_time(tweet.get("created_at"))
    found: dict[str, SuggestedLink] = {}
    for entity in entities:
        link = _target(entity)
        if link is None or is_x_link(link):
            continue
        try:
            canonical = canonical_url(link)
        except InvalidURL:
            continue
        title = _short_text(entity.get("title"), TITLE_CHARS)
        description = _short_text(entity.get("description"), DESCRIPTION_CHARS)
        earlier = found.get(canonical)
        if earlier is not None and (earlier.link_title or not title):
            continue  # the same link twice in one post is one suggestion
        found[canonical] = SuggestedLink(
            post_id=post_id,
            post_url=post_url(username, post_id),
            author_id=author_id,
            author_username=username,
            text=text,
            posted_at=posted,
            link=link,
            canonical_url=canonical,
            link_title=title,
            link_description=description,
        )
    return list(found.values())


def _url_entities(tweet: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    entities = tweet.get("entities")
    if isinstance(entities, Mapping):
        yield from _objects(entities.get("urls"))
    note = tweet.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("entities"), Mapping):
        yield from _objects(note["entities"].get("urls"))


def _target(entity: Mapping[str, Any]) -> str | None:
    """The address a URL entity leads to, or None for a photo, video or bare t.co link."""
    if entity.get("media_key"):
        return None
    for key in ("unwound_url", "expanded_url"):
        value = entity.get(key)
        if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
            return value.strip()
    return None


def _tweet_text(tweet: Mapping[str, Any]) -> str | None:
    note = tweet.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("text"), str):
        return _short_text(note["text"], TEXT_CHARS, collapse=False)
    return _short_text(tweet.get("text"), TEXT_CHARS, collapse=False)


def _short_text(value: Any, limit: int, *, collapse: bool = True) -> str | None:
    if not isinstance(value, str):
        return None
    if not collapse:
        cleaned = value.replace("\x00", "").strip()
        return cleaned[:limit] or None
    return plain_excerpt(value, limit)


def _objects(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def parse_time(value: Any) -> datetime | None:
    """X's "2022-10-03T17:57:11.000Z" -> an aware UTC datetime (None when absent or odd)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _domain(value: str) -> str:
    """A configured domain as links' hosts are written (IDN as punycode, like canonical URLs)."""
    value = value.strip().lower()
    if "://" in value:
        value = host_of(value)
    return ascii_host(value.lstrip(".").removeprefix("www."))


def judge(
    suggestions: Sequence[SuggestedLink],
    rules: AbuseRules,
    prior: Sequence[PriorSuggestion],
    now: datetime,
    platform: str = PLATFORM,
) -> list[JudgedSuggestion]:
    """Accept or reject each suggestion, oldest first, under the abuse rules.

    ``prior`` and ``suggestions`` are one platform's: the weekly limit counts a
    person per platform, and ``blocked_users`` entries may name a platform.

    Checked in order: blocked user, blocked domain, allowed domains, then the
    weekly limit: a person (an account, see person_key) may suggest at most
    ``max_per_user_per_week`` different links in any seven days (counting accepted ones only, the
    already stored ``prior`` and the ones accepted earlier in this batch).
    Suggesting the same link again never counts twice. A post without a time
    is placed at ``now``. The result is in the order of ``suggestions``.
    """
    accepted: dict[str, list[tuple[datetime, str]]] = {}
    for earlier in prior:
        accepted.setdefault(person_key(earlier.author_id, earlier.username), []).append(
            (earlier.posted_at, earlier.canonical_url)
        )
    order = sorted(
        range(len(suggestions)),
        key=lambda i: (suggestions[i].posted_at or now, suggestions[i].post_id),
    )
    verdicts: dict[int, JudgedSuggestion] = {}
    for index in order:
        item = suggestions[index]
        status, reason = _verdict(item, rules, accepted, now, platform)
        if status == "accepted":
            accepted.setdefault(person_key(item.author_id, item.author_username), []).append(
                (item.posted_at or now, item.canonical_url)
            )
        verdicts[index] = JudgedSuggestion(item, status, reason)
    return [verdicts[i] for i in range(len(suggestions))]


def _verdict(
    item: SuggestedLink,
    rules: AbuseRules,
    accepted: Mapping[str, list[tuple[datetime, str]]],
    now: datetime,
    platform: str,
) -> tuple[Status, str | None]:
    who = {item.author_username.lstrip("@").lower()}
    if item.author_id:
        who.add(item.author_id.lower())
    if any(f"{scope}:{key}" in rules.blocked_users for scope in ("*", platform) for key in who):
        return "rejected", f"@{item.author_username} is in [suggestions] blocked_users"
    host = host_of(item.canonical_url)
    for domain in rules.blocked_domains:
        if domain_matches(host, domain):
            return "rejected", f"{host} is in [suggestions] blocked_domains ({domain})"
    if rules.allowed_domains and not any(domain_matches(host, d) for d in rules.allowed_domains):
        return "rejected", f"{host} is not in [suggestions] allowed_domains"
    limit = rules.max_per_user_per_week
    if limit > 0:
        when = item.posted_at or now
        theirs = accepted.get(person_key(item.author_id, item.author_username), [])
        recent = {
            url
            for posted, url in theirs
            if when - WEEK < posted <= when and url != item.canonical_url
        }
        already = any(url == item.canonical_url for _posted, url in theirs)
        if not already and len(recent) >= limit:
            return (
                "rejected",
                f"@{item.author_username} passed the limit of {limit} suggestions a week",
            )
    return "accepted", None
