"""Pure: the links readers suggest in approved comments on the published round-ups.

The round-up ends "share it in the comments below". Each link in an approved
comment (``GET wp/v2/comments?status=approve``) becomes a
:class:`~roundup_bot.core.suggestion_rules.SuggestedLink`, the very record an X
mention gives, credited to the commenter's name; it then goes through the same
rules (blocked users and domains, allowed domains, the weekly limit) and the
same storage (rejected ones kept with their reason).

Comment text is untrusted HTML: only ``<a href>`` targets and bare http(s)
addresses in the text are read, each canonicalised like a feed link; anything
else (``javascript:``, ``data:``, links to the blog itself, the commenter's own
website field) is not a suggestion. Text is kept as plain text, shortened.
Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from roundup_bot.core.curation import (
    canonical_url,
    domain_matches,
    excerpt,
    host_of,
    plain_text,
)
from roundup_bot.core.errors import InvalidURL, MalformedAnswer
from roundup_bot.core.suggestion_rules import SuggestedLink, parse_time
from roundup_bot.core.wordpress import is_wp_id

PLATFORM = "wordpress"
#: Comment HTML read at most (a longer comment is cut before parsing).
MAX_COMMENT_CHARS = 20_000
#: Links taken from one comment at most (a link farm gives no more).
MAX_LINKS = 10
NAME_CHARS = 80
TEXT_CHARS = 4000
_BARE_URL = re.compile(r"https?://[^\s<>\"'()]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CommentsReading:
    """What one page of comments holds."""

    suggestions: tuple[SuggestedLink, ...]
    comments: tuple[tuple[int, int], ...]  # (comment id, post id) of every comment, links or not
    skipped: tuple[str, ...] = ()


class _Anchors(HTMLParser):
    """Collects the ``href`` of every ``<a>``; never runs or keeps anything else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value.strip())


def links_in(markup: str) -> list[str]:
    """The http(s) links of a comment's HTML, in order, each once: anchors first, then
    bare addresses in the text."""
    markup = markup[:MAX_COMMENT_CHARS]
    parser = _Anchors()
    parser.feed(markup)
    parser.close()
    text = plain_text(markup) or ""
    found: list[str] = []
    for link in [*parser.hrefs, *_BARE_URL.findall(text)]:
        link = link.rstrip(".,;:!?")
        if link.lower().startswith(("http://", "https://")) and link not in found:
            found.append(link)
    return found


def read_comments(comments: Any, *, own_hosts: Iterable[str]) -> CommentsReading:
    """Every suggested link in one ``GET wp/v2/comments`` answer.

    ``own_hosts`` are the blog's own hosts: a link to the blog (another round-up,
    a reply anchor) is not a suggestion. Raises MalformedAnswer when the JSON is
    not a list of comments; a single odd comment is skipped and named.
    """
    if not isinstance(comments, list):
        raise MalformedAnswer("expected a list of comments")
    hosts = tuple(h for h in own_hosts if h)
    suggestions: list[SuggestedLink] = []
    ids: list[tuple[int, int]] = []
    skipped: list[str] = []
    for comment in comments:
        if not isinstance(comment, Mapping) or not _is_id(comment.get("id")):
            skipped.append("a comment without an id")
            continue
        comment_id = int(comment["id"])
        post = comment.get("post")
        ids.append((comment_id, post if isinstance(post, int) and _is_id(post) else 0))
        content = comment.get("content")
        rendered = content.get("rendered") if isinstance(content, Mapping) else None
        if not isinstance(rendered, str):
            skipped.append(f"comment {comment_id}: no content")
            continue
        suggestions.extend(_suggestions_of(comment, comment_id, rendered, hosts))
    return CommentsReading(tuple(suggestions), tuple(ids), tuple(skipped))


def _suggestions_of(
    comment: Mapping[str, Any], comment_id: int, rendered: str, hosts: tuple[str, ...]
) -> list[SuggestedLink]:
    name = plain_text(str(comment.get("author_name") or "")) or "anonymous"
    name = name[:NAME_CHARS]
    author = comment.get("author")
    author_id = f"user:{author}" if _is_id(author) else None
    link = comment.get("link")
    post_url = link if isinstance(link, str) and link.startswith(("http://", "https://")) else ""
    text = plain_text(rendered[:MAX_COMMENT_CHARS])
    posted = parse_time(comment.get("date_gmt"))
    found: dict[str, SuggestedLink] = {}
    for target in links_in(rendered):
        try:
            canonical = canonical_url(target)
        except InvalidURL:
            continue
        host = host_of(canonical)
        if not host or any(domain_matches(host, own) for own in hosts):
            continue
        if canonical in found:
            continue
        found[canonical] = SuggestedLink(
            post_id=str(comment_id),
            post_url=post_url,
            author_id=author_id,
            author_username=name,
            text=excerpt(text, TEXT_CHARS),
            posted_at=posted,
            link=target,
            canonical_url=canonical,
            link_title=None,
            link_description=None,
        )
        if len(found) >= MAX_LINKS:
            break
    return list(found.values())


def _is_id(value: Any) -> bool:
    """An id the database can hold (1 to 2**63-1): a bigger one is a malformed comment,
    skipped, never a reason to stop the channel."""
    return is_wp_id(value)
