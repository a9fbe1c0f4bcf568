"""Pure: the links followers suggest in Mastodon mentions.

Mastodon gives a status's text as HTML (``content``). Its links are the
``<a href>`` elements, except the ones Mastodon makes for mentions
(``class="u-url mention"``) and hashtags (``class="mention hashtag"``): those
point at profiles and tag pages, never at an article. The link card Mastodon
fetched for the status (``card``) adds its URL, title and description.
Links to the server's own profiles, tags and statuses are dropped too.

Notifications come as Mastodon.py returns them (dicts; times may already be
``datetime``), or as plain JSON; odd entries are skipped and named. Nothing
here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from roundup_bot.core.curation import canonical_url, plain_excerpt
from roundup_bot.core.errors import InvalidURL, MalformedNotifications
from roundup_bot.core.suggestion_rules import (
    DESCRIPTION_CHARS,
    TEXT_CHARS,
    TITLE_CHARS,
    SuggestedLink,
    parse_time,
)

PLATFORM = "mastodon"
#: HTML beyond this is not read: Mastodon's own limit is 500 characters of text,
#: and no server's status is near this once marked up.
MAX_CONTENT_CHARS = 100_000
MAX_LINKS_PER_POST = 20


@dataclass(frozen=True, slots=True)
class MastodonReading:
    suggestions: tuple[SuggestedLink, ...]
    mentions: int  # mention notifications on the page
    newest_id: str | None  # the page's newest notification id
    oldest_id: str | None  # its oldest (the next page's max_id)
    oldest_at: datetime | None  # when the oldest was created (the first run's floor)
    skipped: tuple[str, ...] = ()


def full_handle(acct: str, local_domain: str) -> str:
    """Mastodon's ``acct`` is "ann" for the server's own accounts and
    "ann@council.social" for others; the credit always names the server."""
    acct = acct.strip().lstrip("@")
    return acct if "@" in acct else f"{acct}@{local_domain}"


class _Anchors(HTMLParser):
    """The ``href`` of every ``<a>`` that is not a mention or a hashtag, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a" or len(self.links) >= MAX_LINKS_PER_POST:
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if "mention" in classes or "hashtag" in classes:
            return
        href = (values.get("href") or "").strip()
        if href.lower().startswith(("http://", "https://")):
            self.links.append(href)


def status_links(content: str) -> list[str]:
    """The article links in a status's HTML (not mentions, not hashtags)."""
    parser = _Anchors()
    parser.feed(content[:MAX_CONTENT_CHARS])
    parser.close()
    return parser.links


def parse_notifications(
    page: Any, *, local_domain: str, own_account_id: str | None = None
) -> MastodonReading:
    """Every suggested link in one page of ``GET /api/v1/notifications?types[]=mention``.

    Raises MalformedNotifications when the page is not a list of objects (Mastodon.py
    turns a JSON object into the list of its keys); single odd notifications inside
    it are skipped and named in ``skipped``.
    """
    if not isinstance(page, list):
        raise MalformedNotifications(f"expected a JSON list, got {type(page).__name__}")
    found: list[SuggestedLink] = []
    skipped: list[str] = []
    ids: list[str] = []
    oldest_at: datetime | None = None
    mentions = 0
    for index, note in enumerate(page):
        if not isinstance(note, Mapping):
            raise MalformedNotifications(f"entry {index} is {type(note).__name__}, not an object")
        if note.get("id") is None:
            skipped.append("a notification without an id")
            continue
        note_id = str(note["id"])
        ids.append(note_id)
        created = _time(note.get("created_at"))
        if created is not None and (oldest_at is None or created < oldest_at):
            oldest_at = created
        if note.get("type") != "mention":
            continue
        mentions += 1
        status = note.get("status")
        if not isinstance(status, Mapping):
            skipped.append(f"notification {note_id}: its status was deleted")
            continue
        account = status.get("account")
        if not isinstance(account, Mapping) or account.get("id") is None:
            skipped.append(f"notification {note_id}: the status has no account")
            continue
        if own_account_id is not None and str(account["id"]) == own_account_id:
            continue
        acct = account.get("acct")
        if not isinstance(acct, str) or not acct.strip():
            skipped.append(f"notification {note_id}: the account has no handle")
            continue
        found.extend(_links_of(status, account, full_handle(acct, local_domain), created))
    return MastodonReading(
        suggestions=tuple(found),
        mentions=mentions,
        newest_id=ids[0] if ids else None,
        oldest_id=ids[-1] if ids else None,
        oldest_at=oldest_at,
        skipped=tuple(skipped),
    )


def _links_of(
    status: Mapping[str, Any],
    account: Mapping[str, Any],
    handle: str,
    created: datetime | None,
) -> list[SuggestedLink]:
    content = status.get("content") if isinstance(status.get("content"), str) else ""
    not_articles = _own_links(status)
    card = status.get("card") if isinstance(status.get("card"), Mapping) else None
    candidates = status_links(str(content))
    card_url = card.get("url") if card is not None else None
    if isinstance(card_url, str) and card_url.lower().startswith(("http://", "https://")):
        candidates.append(card_url.strip())
    posted = _time(status.get("created_at")) or created
    post_id = str(status.get("id"))
    post_url = _text(status.get("url")) or _text(status.get("uri")) or ""
    visibility = _text(status.get("visibility")) or "public"
    text = plain_excerpt(str(content), TEXT_CHARS)
    reply_ref = json.dumps({"acct": handle, "visibility": visibility}, sort_keys=True)
    out: dict[str, SuggestedLink] = {}
    for link in candidates:
        if link in not_articles:
            continue
        try:
            canonical = canonical_url(link)
        except InvalidURL:
            continue
        if canonical in out:
            continue
        is_card = card is not None and _same(card_url, link)
        out[canonical] = SuggestedLink(
            post_id=post_id,
            post_url=post_url,
            author_id=str(account.get("id")),
            author_username=handle,
            text=text,
            posted_at=posted,
            link=link,
            canonical_url=canonical,
            link_title=_short(card.get("title"), TITLE_CHARS) if is_card and card else None,
            link_description=(
                _short(card.get("description"), DESCRIPTION_CHARS) if is_card and card else None
            ),
            reply_ref=reply_ref,
        )
    if card is not None and isinstance(card_url, str):
        # The card describes a link already found in the text: give it the card's words.
        for canonical, item in list(out.items()):
            if _same(card_url, item.link) and item.link_title is None:
                out[canonical] = SuggestedLink(
                    **{
                        **_fields(item),
                        "link_title": _short(card.get("title"), TITLE_CHARS),
                        "link_description": _short(card.get("description"), DESCRIPTION_CHARS),
                    }
                )
    return list(out.values())


def _own_links(status: Mapping[str, Any]) -> set[str]:
    """Links that point at Mastodon itself: the status, its mentions and tags."""
    own: set[str] = set()
    for key in ("url", "uri"):
        value = _text(status.get(key))
        if value:
            own.add(value)
    for key in ("mentions", "tags"):
        for item in _objects(status.get(key)):
            value = _text(item.get("url"))
            if value:
                own.add(value)
    return own


def _same(a: Any, b: str) -> bool:
    if not isinstance(a, str):
        return False
    try:
        return canonical_url(a) == canonical_url(b)
    except InvalidURL:
        return False


def _fields(item: SuggestedLink) -> dict[str, Any]:
    return {name: getattr(item, name) for name in SuggestedLink.__slots__}


def _objects(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    # plain_excerpt cleans only the beginning: the poster chooses the card's words,
    # and cleaning deeply nested markup whole costs the square of its depth.
    return plain_excerpt(value, limit)


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_time(value)


def server_domain(url: str) -> str:
    """The host of a server's URL: where local accounts' handles live."""
    return (urlsplit(url).hostname or "").lower()
