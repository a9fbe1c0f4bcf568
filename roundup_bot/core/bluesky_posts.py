"""Pure: the links followers suggest in Bluesky mentions and replies.

A Bluesky post's visible text shortens long links ("example.gov.uk/news/a-lo…"),
so links are never read from the text. They come from the post's *facets*
(``app.bsky.richtext.facet#link``, each with the full ``uri``) and from an
external embed (``app.bsky.embed.external``, the link card, with its title and
description), also when it rides with media (``recordWithMedia``). Mentions
(``#mention``) and hashtags (``#tag``) are facets too, and are not links.

Notifications come as ``app.bsky.notification.listNotifications`` pages, as the
atproto SDK's models dumped to plain data (camelCase keys, ``$type``). Nothing
here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roundup_bot.core.curation import canonical_url, excerpt, plain_excerpt
from roundup_bot.core.errors import InvalidURL, MalformedNotifications
from roundup_bot.core.suggestion_rules import (
    DESCRIPTION_CHARS,
    TEXT_CHARS,
    TITLE_CHARS,
    SuggestedLink,
    parse_time,
)

PLATFORM = "bluesky"
REASONS = ("mention", "reply")
LINK_FACET = "app.bsky.richtext.facet#link"
EXTERNAL_EMBED = "app.bsky.embed.external"
MAX_LINKS_PER_POST = 20
#: Hosts that are Bluesky itself: a link to a post or profile is not an article.
BLUESKY_HOSTS = ("bsky.app", "bsky.social", "go.bsky.app")


@dataclass(frozen=True, slots=True)
class BlueskyReading:
    suggestions: tuple[SuggestedLink, ...]
    mentions: int  # mention and reply notifications above the floor
    notifications: int  # every notification on the page
    newest_at: str | None  # indexedAt of the page's newest notification (the next floor)
    reached_floor: bool  # the page went below the floor: the sweep is complete
    cursor: str | None
    skipped: tuple[str, ...] = ()


def post_url(handle: str, uri: str) -> str:
    """https://bsky.app/profile/<handle>/post/<rkey> for at://<did>/app.bsky.feed.post/<rkey>."""
    rkey = uri.rstrip("/").rsplit("/", 1)[-1]
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def parse_notifications(
    page: Any,
    *,
    own_did: str | None = None,
    floor: datetime | None = None,
) -> BlueskyReading:
    """Every suggested link in one listNotifications page above ``floor``
    (notifications indexed before it were read by an earlier sweep).

    Raises MalformedNotifications when the page has no notifications list.
    """
    if not isinstance(page, Mapping) or not isinstance(page.get("notifications"), list):
        raise MalformedNotifications("no 'notifications' list in the answer")
    cursor = page.get("cursor")
    found: list[SuggestedLink] = []
    skipped: list[str] = []
    newest_at: str | None = None
    reached = False
    mentions = 0
    notes = page["notifications"]
    for index, note in enumerate(notes):
        if not isinstance(note, Mapping):
            raise MalformedNotifications(f"notification {index} is not an object")
        indexed_text = note.get("indexedAt")
        indexed = parse_time(indexed_text)
        if newest_at is None and isinstance(indexed_text, str) and indexed is not None:
            newest_at = indexed.isoformat()
        if floor is not None and indexed is not None and indexed < floor:
            reached = True
            continue
        if note.get("reason") not in REASONS:
            continue
        mentions += 1
        uri, author = note.get("uri"), note.get("author")
        if not isinstance(uri, str) or not isinstance(author, Mapping):
            skipped.append(f"notification {index}: no post or author")
            continue
        did, handle = author.get("did"), author.get("handle")
        if not isinstance(did, str) or not isinstance(handle, str):
            skipped.append(f"notification {index}: the author has no DID or handle")
            continue
        if own_did is not None and did == own_did:
            continue
        record = note.get("record")
        if not isinstance(record, Mapping):
            skipped.append(f"{uri}: no post record")
            continue
        found.extend(_links_of(note, record, uri, did, handle.lower(), indexed))
    return BlueskyReading(
        suggestions=tuple(found),
        mentions=mentions,
        notifications=len(notes),
        newest_at=newest_at,
        reached_floor=reached,
        cursor=str(cursor) if isinstance(cursor, str) and cursor else None,
        skipped=tuple(skipped),
    )


def _links_of(
    note: Mapping[str, Any],
    record: Mapping[str, Any],
    uri: str,
    did: str,
    handle: str,
    indexed: datetime | None,
) -> list[SuggestedLink]:
    cards = {link: (title, description) for link, title, description in _external(record)}
    links = [*_facet_links(record), *cards]
    posted = parse_time(record.get("createdAt")) or indexed
    text = record.get("text")
    cid = note.get("cid")
    root = _root(record) or {"uri": uri, "cid": cid}
    reply_ref = json.dumps(
        {"cid": cid, "root_uri": root.get("uri"), "root_cid": root.get("cid")}, sort_keys=True
    )
    out: dict[str, SuggestedLink] = {}
    for link in links[:MAX_LINKS_PER_POST]:
        try:
            canonical = canonical_url(link)
        except InvalidURL:
            continue
        if _is_bluesky(canonical):
            continue
        title, description = cards.get(link, (None, None))
        earlier = out.get(canonical)
        if earlier is not None and (earlier.link_title or not title):
            continue
        out[canonical] = SuggestedLink(
            post_id=uri,
            post_url=post_url(handle, uri),
            author_id=did,
            author_username=handle,
            text=excerpt(text, TEXT_CHARS) if isinstance(text, str) else None,
            posted_at=posted,
            link=link,
            canonical_url=canonical,
            link_title=_short(title, TITLE_CHARS),
            link_description=_short(description, DESCRIPTION_CHARS),
            reply_ref=reply_ref,
        )
    return list(out.values())


def _facet_links(record: Mapping[str, Any]) -> Iterator[str]:
    for facet in _objects(record.get("facets")):
        for feature in _objects(facet.get("features")):
            uri = feature.get("uri")
            if (
                feature.get("$type", LINK_FACET) == LINK_FACET
                and isinstance(uri, str)
                and uri.strip().lower().startswith(("http://", "https://"))
            ):
                yield uri.strip()


def _external(record: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(uri, title, description) of the link card, also inside recordWithMedia."""
    embed = record.get("embed")
    for candidate in (embed, embed.get("media") if isinstance(embed, Mapping) else None):
        if not isinstance(candidate, Mapping):
            continue
        external = candidate.get("external")
        kind = str(candidate.get("$type") or EXTERNAL_EMBED)
        if kind.startswith(EXTERNAL_EMBED) and isinstance(external, Mapping):
            uri = external.get("uri")
            if isinstance(uri, str) and uri.strip().lower().startswith(("http://", "https://")):
                yield uri.strip(), external.get("title"), external.get("description")


def _root(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reply = record.get("reply")
    if isinstance(reply, Mapping) and isinstance(reply.get("root"), Mapping):
        root: Mapping[str, Any] = reply["root"]
        return root
    return None


def _is_bluesky(url: str) -> bool:
    host = (url.split("//", 1)[-1].split("/", 1)[0]).lower()
    return any(host == h or host.endswith("." + h) for h in BLUESKY_HOSTS)


def _objects(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    # plain_excerpt cleans only the beginning: the poster chooses the card's words,
    # and cleaning deeply nested markup whole costs the square of its depth.
    return plain_excerpt(value, limit)


def mention_spans(text: str, dids: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """(byteStart, byteEnd, did) of each "@handle" in ``text`` whose DID is known:
    a mention facet, by UTF-8 byte offsets as the lexicon wants them."""
    spans: list[tuple[int, int, str]] = []
    data = text.encode("utf-8")
    for handle, did in dids.items():
        needle = ("@" + handle.lstrip("@")).encode("utf-8")
        start = data.find(needle)
        while start != -1:
            end = start + len(needle)
            after = data[end : end + 1]
            if not after or not (after.isalnum() or after in (b".", b"-", b"_")):
                spans.append((start, end, did))
            start = data.find(needle, end)
    return sorted(spans)
