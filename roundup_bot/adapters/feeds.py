"""Feed documents -> ParsedFeed: the only module that imports feedparser.

feedparser only ever receives bytes that our own HTTP client fetched, with the
real response headers (so an HTTP charset is honoured), never a URL: fetching
is ours to control (deadlines, size limits, redirects). A feed that is
slightly broken but still yields entries is kept, with feedparser's complaint
as a warning; a document with nothing usable (an HTML page, malformed XML with
no entries) raises FeedParseError.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import os
import re
import signal
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser
import feedparser.api

from roundup_bot.adapters import cpu_budget
from roundup_bot.core.curation import (
    absolute_url,
    bounded_markup,
    canonical_url,
    clean_line,
    excerpt,
    plain_excerpt,
    plain_text,
    without_credentials,
)
from roundup_bot.core.errors import FeedParseError, InvalidURL
from roundup_bot.core.records import ParsedEntry, ParsedFeed, ParseLimits

EXPAT_DRIVER = "roundup_bot.adapters.expat_driver"
_EMAIL = re.compile(r"<?[^\s()<>@]+@[^\s()<>@]+\.[^\s()<>@]+>?")
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_WRAPPED = re.compile(r"\((.+)\)")
SUMMARY_CHARS = 400
# Untrusted text is bounded before it is stored: a title is a line, not a page.
TITLE_CHARS = 300
AUTHOR_CHARS = 200
ENTRY_ID_CHARS = 1000
DEFAULT_LIMITS = ParseLimits()
# Dates outside this range are typos or placeholders (year 0001, 2099), not publication times.
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# feedparser's own HTML sanitiser and relative-URL rewriting are off: nothing here
# keeps feed HTML. Titles, summaries and authors become plain text through
# curation.plain_text (nh3, an HTML5 parser), entry links are still resolved
# against xml:base and the feed URL, and the text is escaped again wherever it
# is shown. The sanitiser was about a fifth of parse_feed's CPU. On the 2,623
# corpus documents the results are the same but for three of feedparser's own
# sanitiser fixtures (an unterminated comment, a bogus doctype, script text),
# where the text now matches what a browser shows.
feedparser.SANITIZE_HTML = False
# Well-formed feeds are read by expat with its text buffered (see expat_driver).
if EXPAT_DRIVER not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, EXPAT_DRIVER)
feedparser.RESOLVE_RELATIVE_URIS = False


class _Budgeted:
    """Mixed into feedparser's two parsers: each start tag it reads is a checkpoint
    of the parse's CPU budget (see cpu_budget)."""

    def unknown_starttag(self, tag: str, attrs: Any) -> Any:
        cpu_budget.tick()
        return super().unknown_starttag(tag, attrs)  # type: ignore[misc]


for _name in ("StrictFeedParser", "LooseFeedParser"):
    _parser = getattr(feedparser.api, _name)
    if not issubclass(_parser, _Budgeted):
        setattr(feedparser.api, _name, type(_name, (_Budgeted, _parser), {}))


def parse_feed(
    content: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParsedFeed:
    """Parse one fetched feed document. ``url`` is where it was fetched from (after
    redirects): relative links resolve against it unless xml:base says otherwise.

    A private feed's URL carries its password (``https://user:secret@host/feed``):
    links are resolved against the URL without it, and no stored link keeps one.

    ``limits``: at most ``max_entries`` entries are kept, the newest by date
    (``dropped_entries`` counts the others), and a parse that takes more than
    ``cpu_seconds`` of CPU stops with a FeedParseError.
    """
    try:
        with cpu_budget.cpu_budget(limits.cpu_seconds):
            return _parse(content, url, headers, limits.max_entries)
    except cpu_budget.OverBudget as exc:
        raise FeedParseError(url, over_budget_message(exc)) from None


def over_budget_message(exc: cpu_budget.OverBudget) -> str:
    return (
        f"too costly to parse: stopped after {exc.seconds:g} s of CPU "
        "(markup nested too deep, or far too many elements)"
    )


def _parse(
    content: bytes, url: str, headers: Mapping[str, str] | None, max_entries: int
) -> ParsedFeed:
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    base_url = without_credentials(url)
    response_headers["content-location"] = without_credentials(
        response_headers.get("content-location", base_url)
    )
    content = _repair(content, response_headers)
    # feedparser would otherwise look at the (remote) URL's own encoding guesses only.
    try:
        # A stream, never bare bytes: given bytes, feedparser first tries open() on
        # them as a file name, so a body of b"/etc/passwd" or b"/dev/zero" would read
        # a local file.
        parsed: Any = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    except Exception as exc:  # feedparser raises many kinds on hostile input
        raise FeedParseError(url, f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc
    version = parsed.get("version") or ""
    entries_raw = parsed.get("entries") or []
    feed_meta = parsed.get("feed") or {}
    problem = _bozo_message(parsed)
    if not version and not entries_raw:
        if _looks_like_html(content):
            found = _advertised_feed(content, url)
            hint = f" (the page names a feed at {found}: use that URL)" if found else ""
            raise FeedParseError(url, f"not a feed: the server sent an HTML page{hint}")
        if content.lstrip()[:1] == b"{" and b"jsonfeed.org" in content[:4096]:
            raise FeedParseError(
                url, "JSON Feed is not supported: use the blog's RSS or Atom feed URL"
            )
        raise FeedParseError(url, f"not a feed: {problem or 'no feed elements found'}")
    base = _site_url(feed_meta.get("link"), base_url)
    entries, dropped = _newest_entries(entries_raw, base_url, feed_meta, max_entries)
    if not entries and _malformed(parsed):
        # Broken XML that still yields entries is kept (with a warning); broken XML
        # that yields nothing is not an empty feed but an error the owner should see.
        raise FeedParseError(url, f"not a usable feed: {problem}")
    return ParsedFeed(
        url=url,
        title=_plain(feed_meta.get("title"), TITLE_CHARS),
        site_url=base,
        entries=tuple(entries),
        # Only real syntax problems: notices (a guessed charset) are not worth a warning.
        warning=problem if _malformed(parsed) else None,
        dropped_entries=dropped,
    )


def _newest_entries(
    entries_raw: list[Any], base_url: str, feed_meta: Any, max_entries: int
) -> tuple[list[ParsedEntry], int]:
    """The document's usable entries, one per canonical URL (the first wins), in
    document order; of more than ``max_entries``, only the newest by date (undated
    ones after all dated, in document order). Returns them and how many raw entries
    were left unread. Entries are cleaned newest first and only until enough are
    kept: cleaning is the costly part, and a hostile feed may have 100,000."""
    order = list(range(len(entries_raw)))
    if len(entries_raw) > max_entries:
        stamps = [_when(raw) for raw in entries_raw]
        order.sort(key=lambda i: (stamps[i] is None, -(stamps[i] or _EARLIEST).timestamp()))
    kept: dict[str, tuple[int, ParsedEntry]] = {}
    examined = 0
    for index in order:
        if len(kept) >= max_entries:
            break
        examined += 1
        cpu_budget.check()
        entry = _entry(entries_raw[index], base_url, feed_meta)
        if entry is not None and entry.canonical_url not in kept:
            kept[entry.canonical_url] = (index, entry)
    entries = [entry for _index, entry in sorted(kept.values(), key=lambda pair: pair[0])]
    return entries, len(entries_raw) - examined


def _plain(markup: Any, limit: int) -> str | None:
    """A title or summary: only the beginning of a long one is read (plain_excerpt)."""
    return plain_excerpt(_text(markup), limit)


def exit_with_parent(parent_pid: int) -> None:
    """Initializer of a parse worker process: exit when the poll that started it is gone.

    A poll killed with SIGKILL (a systemd timeout, the OOM killer) cannot shut
    its pool down, and idle workers would wait for work forever: each holds the
    shared queue open for the others, so none of them ever sees end-of-file.

    Stop signals are for the parent: the worker leaves the parent's process
    group, so Ctrl-C's SIGINT (sent to the terminal's foreground group) and a
    ``kill`` of the whole group reach only the parent, which stops its poll and
    shuts the pool down. SIGTERM sent to the worker itself keeps its default
    action: when one worker dies, the pool stops the others with SIGTERM and
    waits for them, so a worker that ignored it would hang the poll.
    """
    with contextlib.suppress(OSError):  # already a group leader, or not permitted
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="roundup-parent-watch", daemon=True).start()


def parse_feed_in_worker(
    content: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParsedFeed | str:
    """parse_feed for a worker process (see roundup_bot.services.polling), which imports
    only this module. A FeedParseError comes back as its message, for the parent
    to raise again: its constructor takes the URL, which unpickling would not pass.

    Here the CPU budget is also enforced by a timer on the process (see
    cpu_budget): a parse over it is stopped wherever it is, and the worker
    goes on to its next document."""
    try:
        with cpu_budget.process_cpu_limit(limits.cpu_seconds):
            return parse_feed(content, url, headers, limits)
    except FeedParseError as exc:
        return str(exc)
    except cpu_budget.OverBudget as exc:
        return str(FeedParseError(url, over_budget_message(exc)))


def _entry(raw: Any, feed_url: str, feed_meta: Any) -> ParsedEntry | None:
    link = _entry_link(raw)
    if not link:
        return None
    link = without_credentials(absolute_url(link, feed_url))
    try:
        canonical = canonical_url(link)
    except InvalidURL:
        return None
    title = _plain(raw.get("title"), TITLE_CHARS)
    summary_html = _text(raw.get("summary"))
    if not summary_html:
        content = raw.get("content") or []
        if content and isinstance(content[0], Mapping):
            summary_html = _text(content[0].get("value"))
    author = excerpt(_author(raw) or _author(feed_meta), AUTHOR_CHARS)
    return ParsedEntry(
        link=link,
        canonical_url=canonical,
        title=title,
        author=author,
        published=_when(raw),
        summary=_plain(summary_html, SUMMARY_CHARS),
        entry_id=clean_line(
            without_credentials((_text(raw.get("id")) or "")[: 4 * ENTRY_ID_CHARS]),
            ENTRY_ID_CHARS,
        )
        or None,
        categories=_categories(raw),
    )


#: A feed's categories are read for adverts ("Sponsored"); a few short ones are plenty.
_MAX_CATEGORIES = 20
_CATEGORY_CHARS = 100


def _categories(raw: Any) -> tuple[str, ...]:
    """The entry's categories (RSS <category>, Atom term or label), each once."""
    found: dict[str, str] = {}
    for tag in (raw.get("tags") or [])[: _MAX_CATEGORIES * 2]:
        if not isinstance(tag, Mapping):
            continue
        for key in ("term", "label"):
            name = plain_text(_text(tag.get(key)))
            if name:
                found.setdefault(name.casefold(), name[:_CATEGORY_CHARS])
    return tuple(found.values())[:_MAX_CATEGORIES]


def _author(node: Any) -> str | None:
    """The author's name. RSS writes "jo@example.org (Jo Bloggs)": the round-up
    credits people by name and never publishes an address, so the email goes.
    (feedparser's own author_detail splits hostile values badly, so it is not used.)"""
    text_value = plain_text(bounded_markup(_text(node.get("author")), AUTHOR_CHARS))
    if not text_value:
        return None
    cleaned = _EMPTY_PARENS.sub("", _EMAIL.sub("", text_value)).strip(" ,;:-")
    wrapped = _WRAPPED.fullmatch(cleaned)
    if wrapped:
        cleaned = wrapped.group(1).strip()
    return cleaned or None


def _entry_link(raw: Any) -> str | None:
    link = raw.get("link")
    if isinstance(link, str) and link.strip():
        return link.strip()
    for candidate in raw.get("links") or []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            href = candidate.get("href")
            if isinstance(href, str) and href.strip():
                return href.strip()
    guid = raw.get("id")
    if (
        isinstance(guid, str)
        and guid.startswith(("http://", "https://"))
        and raw.get("guidislink", True)
    ):
        return guid
    return None


def _when(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError, OSError):
                continue
            if _EARLIEST <= when < _LATEST:
                return when
    return None


def _site_url(link: Any, feed_url: str) -> str | None:
    """The feed's home page, only when it is an http(s) URL (it may be shown as a link)."""
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = without_credentials(absolute_url(link, feed_url))
    try:
        canonical_url(absolute)
    except InvalidURL:
        return None
    return absolute


def _malformed(parsed: Any) -> bool:
    """True when feedparser hit a real syntax error, not just a notice such as a
    charset that had to be guessed (feedparser's ThingsNobodyCaresAboutButMe)."""
    if not parsed.get("bozo"):
        return False
    exc = parsed.get("bozo_exception")
    return not isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bozo_message(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    message = str(exc).strip() if exc is not None else "ill-formed feed"
    first_line = message.splitlines()[0] if message else type(exc).__name__
    return first_line[:300]


def _repair(content: bytes, headers: dict[str, str]) -> bytes:
    """Undo two real-world mistakes that make a whole feed unreadable to an XML parser.

    * Whitespace before the XML declaration (a WordPress plugin printing blank
      lines): the declaration must come first, so the whitespace is dropped.
    * UTF-16 without a byte-order mark or declaration: recognised by its NUL
      bytes around '<', and handed on as UTF-8 (the content type says so).
    """
    stripped = content.lstrip(b" \t\r\n")
    if stripped is not content and stripped.startswith(b"<?xml"):
        content = stripped
    if len(content) >= 4 and b"\x00" in content[:4]:
        if content[0] == 0 and content[1] == 0x3C and content[2] == 0 and content[3] != 0:
            codec = "utf-16-be"
        elif content[0] == 0x3C and content[1] == 0 and content[2] != 0 and content[3] == 0:
            codec = "utf-16-le"
        else:
            return content
        try:
            text_value = content.decode(codec)
        except UnicodeDecodeError:
            return content
        media_type = headers.get("content-type", "application/xml").split(";")[0].strip()
        headers["content-type"] = f"{media_type or 'application/xml'}; charset=utf-8"
        return text_value.encode("utf-8")
    return content


def _looks_like_html(content: bytes) -> bool:
    head = content[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


class _FeedLinkFinder(HTMLParser):
    """Finds the first <link rel="alternate" type="application/rss+xml|atom+xml" href>."""

    TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link" or self.href is not None:
            return
        values = {name: (value or "") for name, value in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower().strip() in self.TYPES:
            self.href = values.get("href", "").strip() or None


def _advertised_feed(content: bytes, url: str) -> str | None:
    """The feed a blog's HTML page advertises, so the error can say which URL to use."""
    finder = _FeedLinkFinder()
    try:
        finder.feed(content[:262144].decode("utf-8", "replace"))
    except Exception:  # html.parser is lenient; a hint is never worth failing for
        return None
    if finder.href is None:
        return None
    try:
        return canonical_url(absolute_url(finder.href, url))
    except InvalidURL:
        return None
