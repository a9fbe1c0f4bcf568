"""The pure core: canonical URLs, plain text from markup, backoff.

Nothing here does I/O or reads the clock; functions that depend on time take
``now``. Feed links, tweeted links and (later) Mastodon and Bluesky links all go
through :func:`canonical_url`, which is what makes the same article from
several places one candidate.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import nh3
from url_normalize import url_normalize

from roundup_bot.core.errors import InvalidURL

#: Query parameters that only track the reader and never select the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "igshid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "rb_clickid",
        "s_cid",
        "_openstat",
        "ref_src",
        "ref_url",
        "cmpid",
        "at_medium",
        "at_campaign",
        "ncid",
        "sr_share",
        "ito",
        "wt_mc",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "__hs", "ga_", "_ga", "_gl")

_WHITESPACE = re.compile(r"\s+")
#: C0/C1 controls and bidirectional overrides: never wanted in stored text (PostgreSQL
#: refuses NUL outright, and bidi overrides can make a title read backwards).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Elements that separate words when rendered; their tags become a space, not nothing.
_BLOCK_TAG = re.compile(
    r"<(/?)(p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|section|article|hr)\b",
    re.IGNORECASE,
)
#: Elements an HTML5 parser reads as raw text up to their closing tag, whose
#: content a browser does not show as text: see _drop_hidden_elements.
_RAW_TEXT_TAG = re.compile(r"<(/?)(iframe|noembed|noframes|noscript)\b[^>]*>", re.IGNORECASE)
_HOST = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.?)+$|^\[[0-9a-f:.]+\]$")
#: Longer links are junk or attacks, and would not fit a PostgreSQL index entry.
MAX_URL_CHARS = 2048
#: Markup is cut to this many characters per character of text kept *before* it is
#: cleaned (a 400-character excerpt reads the first 8,000): an HTML parser's work can
#: grow with the square of the nesting, and 1.1 MB of <div>s nested 100,000 deep in
#: one feed summary took 80 s. No entry of the 2,623 documents of the feed corpus
#: needs more than 4,000 characters of markup for its 400-character excerpt.
MARKUP_PER_CHAR = 20
#: The user name and password of a URL: everything of the authority up to its *last* "@"
#: (as urlsplit, and HTTP clients, read "user:p@ss@host").
_USERINFO = re.compile(r"^(?P<head>\s*[a-z][a-z0-9+.-]*://)[^/?#]*@", re.IGNORECASE)


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _is_tracking_piece(piece: str) -> bool:
    """True for one ``name=value`` of a query whose name only tracks the reader."""
    return is_tracking_param(unquote_plus(piece.partition("=")[0]))


def absolute_url(link: str, base: str | None) -> str:
    """Resolve a possibly relative link against its base (xml:base or the feed URL)."""
    link = link.strip()
    if not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:  # e.g. "http://[bad/": canonical_url will refuse it
        return link


def without_credentials(url: str) -> str:
    """The URL without its user name and password; anything else unchanged.

    A private feed is configured as ``https://user:secret@host/feed``: every link
    resolved against it (a relative entry link, the site's home page, a guid)
    would otherwise carry the secret into the database and onto the pages as an
    ``href``. Text that is not a URL with credentials comes back as it was.
    """
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[": cut by the text's shape instead
        return _USERINFO.sub(r"\g<head>", url, count=1)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def canonical_url(url: str) -> str:
    """The de-duplication key of a link.

    Scheme and host lower-cased (IDN to punycode), default port, fragment,
    user name and password, and tracking parameters dropped, percent-encoding
    normalised (credentials never select the page, and must not be shown); the path and the
    remaining query are kept as they are (they select the page). Raises
    InvalidURL for anything that is not an absolute http(s) URL.
    """
    candidate = url.strip()
    if len(candidate) > MAX_URL_CHARS:
        raise InvalidURL(f"URL longer than {MAX_URL_CHARS} characters: {url[:200]!r}")
    if _CONTROLS.search(candidate):
        raise InvalidURL(f"control characters in URL {url[:200]!r}")
    try:
        parts = urlsplit(candidate)
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {url[:200]!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidURL(f"not an absolute http(s) URL: {url[:200]!r}")
    try:
        normalised = url_normalize(candidate)
        if not normalised:
            raise InvalidURL(f"cannot normalise URL {url[:200]!r}")
        parts = urlsplit(normalised)
        _port = parts.port  # raises ValueError when out of range
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"cannot normalise URL {url[:200]!r}: {exc}") from exc
    host = parts.netloc.rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    if not parts.hostname or not _HOST.match(host.lower()):
        raise InvalidURL(f"no valid host in URL {url[:200]!r}")
    pieces = parts.query.split("&")
    kept = [piece for piece in pieces if piece and not _is_tracking_piece(piece)]
    # The remaining parameters are kept as url_normalize wrote them, byte for byte:
    # re-encoding them (urlencode writes ":" as "%3A", which url_normalize then
    # decodes again) would give the same link two keys, with and without a tracker.
    new_query = "&".join(kept) if len(kept) != len([p for p in pieces if p]) else parts.query
    path = parts.path or "/"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, path, new_query, ""))


def host_of(url: str) -> str:
    """The lower-cased host name of a URL, without 'www.'."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def domain_matches(host: str, domain: str) -> bool:
    """True when ``host`` is ``domain`` or one of its subdomains. A configured
    international domain (``bücher.example``) matches hosts as canonical URLs
    write them (punycode)."""
    domain = ascii_host(domain.lower().strip().lstrip(".").removeprefix("www."))
    host = ascii_host(host.lower().removeprefix("www."))
    return host == domain or host.endswith("." + domain)


def ascii_host(name: str) -> str:
    """A host name as canonical URLs write it: an international name in punycode."""
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def plain_text(markup: str | None) -> str | None:
    """Markup -> plain text: tags (and script, style and iframe content) removed, entities decoded,
    whitespace collapsed. The result is text, not HTML: it must still be escaped
    when it is put into a page, which Jinja's autoescape does."""
    if markup is None:
        return None
    if "<" in markup or "&" in markup:
        spaced = _BLOCK_TAG.sub(r" <\1\2", _drop_hidden_elements(markup))
        cleaned = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})
        # nh3 returns HTML-escaped text: one unescape gives the text itself.
        text_value = html.unescape(cleaned)
    else:
        text_value = markup
    text_value = _CONTROLS.sub("", text_value)
    text_value = _WHITESPACE.sub(" ", text_value).strip()
    return text_value or None


def bounded_markup(markup: str | None, limit: int) -> str | None:
    """The part of untrusted markup worth cleaning for ``limit`` characters of text
    (see MARKUP_PER_CHAR)."""
    return markup[: limit * MARKUP_PER_CHAR] if markup is not None else None


def plain_excerpt(markup: str | None, limit: int) -> str | None:
    """Untrusted markup as a plain-text excerpt of at most ``limit`` characters
    (plus an ellipsis), reading only the beginning of the markup: the bounded way
    to call plain_text on outside text."""
    return excerpt(plain_text(bounded_markup(markup, limit)), limit)


def _drop_hidden_elements(markup: str) -> str:
    """Remove <iframe>, <noembed>, <noframes> and <noscript> elements with their content.

    An HTML5 parser (nh3's) reads everything after one of these tags up to its
    closing tag as raw text, so its markup would come out as literal tags; a
    browser shows none of it. An element that is never closed (Blogger's
    self-closed ``<iframe ... />``, or a title that names the tag, such as
    "Lazy-loading <iframe> elements") loses only its tag, not the rest of the
    text. One pass, so hostile markup with many unclosed tags costs linear time.
    """
    if "<" not in markup:
        return markup
    tags = list(_RAW_TEXT_TAG.finditer(markup))
    if not tags:
        return markup
    last_close: dict[str, int] = {}
    for tag in tags:
        if tag.group(1):
            last_close[tag.group(2).lower()] = tag.start()
    out: list[str] = []
    position = 0
    inside: str | None = None  # the element whose content is being skipped
    for tag in tags:
        closing, name = bool(tag.group(1)), tag.group(2).lower()
        if inside is not None:
            if closing and name == inside:
                inside, position = None, tag.end()
            continue
        out.append(markup[position : tag.start()])
        position = tag.end()
        if not closing and tag.start() < last_close.get(name, -1):
            inside = name
    out.append(markup[position:])
    return "".join(out)


def clean_line(text_value: str, limit: int = 500) -> str:
    """Untrusted text (an error message quoting a server) as one short printable line."""
    text_value = _WHITESPACE.sub(" ", _CONTROLS.sub("", text_value)).strip()
    return text_value if len(text_value) <= limit else text_value[: limit - 1] + "…"


def excerpt(text_value: str | None, limit: int = 400) -> str | None:
    """A short excerpt ending at a word boundary, with an ellipsis when cut."""
    if not text_value:
        return None
    if len(text_value) <= limit:
        return text_value
    cut = text_value[:limit].rsplit(" ", 1)[0].rstrip(",;:.-–— ")
    return cut + "…"


def next_due_after_success(now: datetime, interval_s: float) -> datetime:
    return now + timedelta(seconds=interval_s)


def next_due_after_failure(
    now: datetime,
    consecutive_errors: int,
    interval_s: float,
    max_backoff_s: float,
    retry_after_s: float | None = None,
) -> datetime:
    """Exponential backoff for a failing feed: 15 min, 30 min, 1 h, ... up to the cap.

    A server's Retry-After wins when it asks for longer. ``consecutive_errors``
    counts this failure too (1 after the first).
    """
    step = min(interval_s, 900.0) * (2 ** max(consecutive_errors - 1, 0))
    delay = min(step, max_backoff_s)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_backoff_s))
    return now + timedelta(seconds=delay)
