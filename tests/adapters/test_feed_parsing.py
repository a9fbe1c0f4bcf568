"""The pure core (canonical URLs, plain text, excerpts, backoff) and parse_feed.

Feed and link text is untrusted: hostile inputs (javascript: links, script tags,
control characters, absurd URLs, a body naming a local file) must come out as
harmless data or be dropped, and never as an exception other than our own.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.corpus import embedded_headers

from roundup_bot.adapters.feeds import parse_feed
from roundup_bot.core.curation import (
    MAX_URL_CHARS,
    absolute_url,
    canonical_url,
    clean_line,
    excerpt,
    next_due_after_failure,
    next_due_after_success,
    plain_text,
)
from roundup_bot.core.errors import FeedParseError, InvalidURL
from roundup_bot.core.records import ParsedFeed

FEED_URL = "https://blog.example.gov.uk/feed/"

# --- canonical_url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("HTTPS://Blog.Example.GOV.UK/Post", "https://blog.example.gov.uk/Post"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/a/../b/./c", "https://example.org/b/c"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"),
        ("https://example.org/a?UTM_Campaign=x&id=3", "https://example.org/a?id=3"),
        (
            "https://example.org/a?fbclid=1&gclid=2&msclkid=3&mc_cid=4&mc_eid=5&_hsenc=6&p=7",
            "https://example.org/a?p=7",
        ),
        ("https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),  # order selects
        # Dropping a tracker leaves the rest as it was: the same key as without it.
        ("https://example.org/a?utm_source=x&q=a:b&t=c/d", "https://example.org/a?q=a:b&t=c/d"),
        ("https://example.org/a?q=a:b&t=c/d", "https://example.org/a?q=a:b&t=c/d"),
        ("https://example.org/?p=123", "https://example.org/?p=123"),
        ("https://example.org/a?flag", "https://example.org/a?flag"),
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("  https://example.org/padded  ", "https://example.org/padded"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://jo:s3cret@Example.org/a", "https://example.org/a"),
        ("https://jo@example.org:443/a", "https://example.org/a"),
    ],
)
def test_canonical_url(link: str, expected: str) -> None:
    assert canonical_url(link) == expected
    assert canonical_url(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "mailto:editor@example.org",
        "ftp://example.org/file",
        "file:///etc/passwd",
        "/relative/path",
        "//example.org/scheme-relative",
        "",
        "http://",
        "https:///no-host",
        "http://exa mple.org/",
        "http://example.org:99999/",
        "http://[bad/",
        "http://example.org\x00/",
        "\x00http://example.org/",
        "http://example.org/\x1b[31mred",
        "https://example.org/" + "a" * MAX_URL_CHARS,
        "http://<script>/",
    ],
)
def test_canonical_url_refuses_what_is_not_an_http_link(link: str) -> None:
    with pytest.raises(InvalidURL):
        canonical_url(link)


def test_absolute_url_resolves_against_the_base_and_survives_junk() -> None:
    assert absolute_url("../b", "https://example.org/x/y/feed") == "https://example.org/x/b"
    assert absolute_url("post/1", None) == "post/1"
    assert absolute_url("http://[bad/", FEED_URL) == "http://[bad/"  # canonical_url refuses


# --- plain_text / excerpt / clean_line -------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("Plain title", "Plain title"),
        ("<b>Bold</b> move", "Bold move"),
        ("AT&amp;T &mdash; &#8220;quoted&#8221;", "AT&T — “quoted”"),
        ("<script>alert(1)</script>Hello", "Hello"),
        ("<style>p { color: red }</style>Styled", "Styled"),
        ("<img src=x onerror=alert(1)>Caption", "Caption"),
        ("<p>One</p><p>Two</p>", "One Two"),
        ("Line<br>break", "Line break"),
        ("  lots \n\t of   space ", "lots of space"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("<!-- hidden -->Shown", "Shown"),
        ("<iframe src='https://x.example/'>fallback</iframe>After", "After"),
        ("<noembed>no</noembed>Yes", "Yes"),
        ("<noscript><img src=x onerror=alert(1)></noscript>Hi", "Hi"),
        # Never closed (Blogger's self-closed iframe, a title naming the tag): only the
        # tag goes, not the text after it.
        ("<p>Intro</p><iframe src='https://x.example/' /><p>The post</p>", "Intro The post"),
        (
            "Lazy-loading <iframe> elements without layout shift",
            "Lazy-loading elements without layout shift",
        ),
        ("Null\x00byte", "Nullbyte"),
        ("bidi\u202eoverride", "bidioverride"),
        ("", None),
        ("   ", None),
        ("<p></p>", None),
    ],
)
def test_plain_text(markup: str, expected: str | None) -> None:
    assert plain_text(markup) == expected


def test_plain_text_of_escaped_markup_is_text_not_markup() -> None:
    """Entity-escaped tags decode to text; the renderer's autoescape keeps them text."""
    text = plain_text("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert text == "<script>alert(1)</script>"
    assert plain_text(None) is None


def test_excerpt_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    assert excerpt("short", 400) == "short"
    assert excerpt(None) is None
    long_text = "word " * 200
    cut = excerpt(long_text, 50)
    assert cut is not None
    assert cut.endswith("…")
    assert len(cut) <= 51
    assert "wor…" not in cut
    unbroken = excerpt("x" * 500, 10)  # no space to cut at: still bounded
    assert unbroken is not None
    assert len(unbroken) <= 11


def test_clean_line_makes_one_printable_line() -> None:
    assert clean_line("HTTP 500\r\nX-Evil: \x1b[2Jyes") == "HTTP 500 X-Evil: [2Jyes"
    assert len(clean_line("a" * 1000, 100)) == 100


# --- backoff ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR = 3600.0
DAY = 86400.0


def test_next_due_after_success_is_one_interval_later() -> None:
    assert next_due_after_success(NOW, 2 * HOUR) == NOW + timedelta(hours=2)


def test_backoff_doubles_from_fifteen_minutes_and_is_capped() -> None:
    delays = [
        (next_due_after_failure(NOW, n, 2 * HOUR, DAY) - NOW).total_seconds() for n in range(1, 12)
    ]
    assert delays[:4] == [900, 1800, 3600, 7200]
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == DAY
    assert delays[-1] == DAY


def test_backoff_never_starts_longer_than_the_interval() -> None:
    assert next_due_after_failure(NOW, 1, 300, DAY) == NOW + timedelta(seconds=300)


def test_retry_after_wins_when_longer_but_is_capped() -> None:
    assert next_due_after_failure(NOW, 1, 2 * HOUR, DAY, 5 * HOUR) == NOW + timedelta(hours=5)
    assert next_due_after_failure(NOW, 1, 2 * HOUR, DAY, 10) == NOW + timedelta(minutes=15)
    assert next_due_after_failure(NOW, 1, 2 * HOUR, DAY, 30 * DAY) == NOW + timedelta(days=1)


# --- parse_feed ------------------------------------------------------------------------


def rss_doc(items: str, extra: str = "", encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"{extra}><channel>'
        f"<title>Council blog</title><link>https://blog.example.gov.uk/</link>{items}"
        "</channel></rss>"
    ).encode(encoding)


def item(link: str, title: str = "Title", more: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{more}</item>"


def parse(data: bytes, headers: dict[str, str] | None = None) -> ParsedFeed:
    return parse_feed(data, FEED_URL, headers or {"content-type": "application/rss+xml"})


def test_a_plain_feed_gives_clean_entries() -> None:
    feed = parse(
        rss_doc(
            item(
                "https://Blog.Example.gov.uk/2026/11/post?utm_source=rss#more",
                "Budget &amp; plans",
                "<pubDate>Wed, 18 Nov 2026 10:30:00 +0200</pubDate>"
                "<dc:creator>Jo Bloggs</dc:creator>"
                "<description>&lt;p&gt;The &lt;b&gt;new&lt;/b&gt; budget.&lt;/p&gt;</description>",
            ),
            extra=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
        )
    )
    assert feed.title == "Council blog"
    assert feed.site_url == "https://blog.example.gov.uk/"
    [entry] = feed.entries
    assert entry.link == "https://Blog.Example.gov.uk/2026/11/post?utm_source=rss#more"
    assert entry.canonical_url == "https://blog.example.gov.uk/2026/11/post"
    assert entry.title == "Budget & plans"
    assert entry.author == "Jo Bloggs"
    assert entry.summary == "The new budget."
    assert entry.published == datetime(2026, 11, 18, 8, 30, tzinfo=UTC)
    assert entry.published.tzinfo == UTC


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse(rss_doc(item("/2026/11/relative") + item("sibling")))
    assert [e.canonical_url for e in feed.entries] == [
        "https://blog.example.gov.uk/2026/11/relative",
        "https://blog.example.gov.uk/feed/sibling",
    ]


def test_a_private_feeds_password_never_reaches_a_link() -> None:
    """Relative links, a relative permalink guid, a relative xml:base and the
    site's home page resolve against the feed URL without its user name and
    password; a link that names credentials itself loses them too."""
    private = "https://reader:s3cret@blog.example.gov.uk/feed/"
    rss = parse_feed(
        rss_doc(
            item("/posts/1", more='<guid isPermaLink="true">/posts/1</guid>')
            + "<item><title>Guid only</title><guid>guid-only</guid></item>"
            + item("https://jo:pw@other.example.org/p")
        ).replace(b"<link>https://blog.example.gov.uk/</link>", b"<link>/</link>"),
        private,
        {"content-type": "application/rss+xml"},
    )
    atom = parse_feed(
        b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
  <title>Atom</title><id>/blog/</id><link href="./"/><updated>2026-11-18T09:00:00Z</updated>
  <entry><title>One</title><id>one</id><link href="one"/><updated>2026-11-18T09:00:00Z</updated>
  </entry></feed>""",
        private,
        {"content-type": "application/atom+xml"},
    )
    assert rss.site_url == "https://blog.example.gov.uk/"
    assert [(e.link, e.entry_id) for e in rss.entries] == [
        ("https://blog.example.gov.uk/posts/1", "https://blog.example.gov.uk/posts/1"),
        (
            "https://blog.example.gov.uk/feed/guid-only",
            "https://blog.example.gov.uk/feed/guid-only",
        ),
        ("https://other.example.org/p", None),
    ]
    assert atom.site_url == "https://blog.example.gov.uk/blog/"
    assert [(e.link, e.entry_id) for e in atom.entries] == [
        ("https://blog.example.gov.uk/blog/one", "https://blog.example.gov.uk/blog/one")
    ]


def test_xml_base_wins_over_the_feed_url() -> None:
    atom = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example.org/blog/">
  <title>Atom blog</title><id>urn:x</id><updated>2026-11-18T09:00:00Z</updated>
  <entry><title>One</title><id>urn:1</id><link href="posts/one"/>
    <updated>2026-11-18T09:00:00+01:00</updated></entry>
  <entry xml:base="https://third.example.org/"><title>Two</title><id>urn:2</id>
    <link href="two"/><updated>2026-11-18T09:00:00Z</updated></entry>
</feed>"""
    feed = parse_feed(atom, FEED_URL, {"content-type": "application/atom+xml"})
    assert [e.canonical_url for e in feed.entries] == [
        "https://other.example.org/blog/posts/one",
        "https://third.example.org/two",
    ]
    assert feed.entries[0].published == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)


def test_hostile_links_never_become_entries() -> None:
    feed = parse(
        rss_doc(
            item("javascript:alert(1)")
            + item(" JAVASCRIPT:alert(1)")
            + item("java&#x09;script:alert(1)")
            + item("data:text/html,hi")
            + item("vbscript:x")
            + item("mailto:a@example.org")
            + item("http://[bad/")
            + item("https://example.org/" + "a" * 5000)
            + item("https://example.org/fine")
        )
    )
    assert [e.canonical_url for e in feed.entries] == ["https://example.org/fine"]


def test_script_in_titles_and_summaries_becomes_harmless_text() -> None:
    feed = parse(
        rss_doc(
            item(
                "https://example.org/1",
                "<![CDATA[<script>alert('x')</script><b>Real</b> title"
                "<img src=x onerror=alert(1)>]]>",
                "<description><![CDATA[<p onclick='x()'>Para</p><script>steal()</script>"
                "<iframe src='https://evil.example/'></iframe>after]]></description>",
            )
        )
    )
    [entry] = feed.entries
    assert entry.title == "Real title"
    assert entry.summary is not None
    assert "steal" not in entry.summary
    assert "<" not in entry.summary
    assert "Para" in entry.summary
    assert "after" in entry.summary


def test_entity_escaped_markup_in_a_description_is_read_as_html_not_shown_as_tags() -> None:
    """feedparser's own sanitiser is off: the markup reaches plain_text unsanitised,
    which must still leave only the words (Blogger escapes its whole post body)."""
    feed = parse(
        rss_doc(
            item(
                "https://example.org/1",
                "Council &lt;em&gt;budget&lt;/em&gt; &amp;amp; plans",
                "<description>&lt;p&gt;Intro &lt;a href=&quot;/x&quot; onclick=&quot;x()&quot;&gt;"
                "link&lt;/a&gt;&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;"
                "&lt;iframe src=&quot;https://v.example/&quot; /&gt;</description>",
            )
        )
    )
    [entry] = feed.entries
    assert entry.title == "Council budget & plans"
    assert entry.summary == "Intro link"


def test_control_characters_are_removed_from_stored_text() -> None:
    feed = parse(
        rss_doc(
            item(
                "https://example.org/1",
                "Tab&#x9;and&#x1b;escape",
                "<guid isPermaLink='false'>id-\u202e1</guid>",
            )
        )
    )
    [entry] = feed.entries
    assert entry.title is not None
    assert "\x1b" not in entry.title
    assert entry.entry_id == "id-1"


def test_long_titles_and_summaries_are_bounded() -> None:
    feed = parse(
        rss_doc(
            item(
                "https://example.org/1",
                "word " * 1000,
                "<description>" + "sentence " * 1000 + "</description>",
            )
        )
    )
    [entry] = feed.entries
    assert entry.title is not None
    assert entry.summary is not None
    assert len(entry.title) <= 301
    assert len(entry.summary) <= 401
    assert entry.summary.endswith("…")


def test_the_same_link_twice_in_one_feed_is_one_entry() -> None:
    feed = parse(
        rss_doc(
            item("https://example.org/a?utm_source=x", "First")
            + item("https://example.org/a#frag", "Second")
        )
    )
    assert [e.title for e in feed.entries] == ["First"]


def test_dates_out_of_range_are_dropped_not_fatal() -> None:
    feed = parse(
        rss_doc(
            item("https://example.org/1", "Old", "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>")
            + item("https://example.org/2", "Junk", "<pubDate>yesterday-ish</pubDate>")
        )
    )
    assert [e.published for e in feed.entries] == [None, None]


def test_an_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Blog</title></head><body>Hi</body></html>"
    with pytest.raises(FeedParseError, match="HTML"):
        parse_feed(page, FEED_URL, {"content-type": "text/html; charset=utf-8"})


def test_an_html_page_that_advertises_its_feed_says_where_it_is() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>Blog</title>"
        b'<link rel="stylesheet" href="/s.css">'
        b'<link rel="alternate" type="application/rss+xml" title="Feed" href="/feed/?utm_source=x">'
        b"</head><body>Hi</body></html>"
    )
    with pytest.raises(
        FeedParseError, match=r"names a feed at https://blog\.example\.gov\.uk/feed/"
    ):
        parse_feed(page, "https://blog.example.gov.uk/", {"content-type": "text/html"})
    hostile = page.replace(b"/feed/?utm_source=x", b"javascript:alert(1)")
    with pytest.raises(FeedParseError) as info:
        parse_feed(hostile, "https://blog.example.gov.uk/", {"content-type": "text/html"})
    assert "javascript" not in str(info.value)


@pytest.mark.parametrize("body", [b"", b"just some text", b"\x00\x01\x02\xff", b"{}", b"<a/>"])
def test_nothing_usable_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse(body)


def test_broken_xml_with_entries_is_kept_with_a_warning() -> None:
    broken = rss_doc(item("https://example.org/1", "One") + item("https://example.org/2", "A & B"))
    broken = broken.replace(b"</channel></rss>", b"")  # truncated, and a bare '&'
    feed = parse(broken)
    assert [e.canonical_url for e in feed.entries] == [
        "https://example.org/1",
        "https://example.org/2",
    ]
    assert feed.warning


def test_broken_xml_with_nothing_usable_is_an_error() -> None:
    with pytest.raises(FeedParseError):
        parse(b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>')


def test_a_well_formed_empty_feed_is_fine() -> None:
    feed = parse(rss_doc(""))
    assert feed.entries == ()
    assert feed.title == "Council blog"


def test_a_body_naming_a_local_file_is_never_opened(tmp_path: Path) -> None:
    """feedparser opens bytes as a file name when it can; our parser must not let it."""
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss_doc(item("https://secret.example.org/x", "SECRET")))
    try:
        feed = parse(str(secret).encode())
    except FeedParseError:
        return
    assert all("secret" not in e.canonical_url for e in feed.entries)
    assert feed.title != "Council blog"


# --- character sets --------------------------------------------------------------------

LATIN1_ITEM = item("https://example.org/cafe", "Caf\u00e9 cr\u00e8me")


def test_iso_8859_1_bytes_served_as_utf8_are_still_read() -> None:
    data = rss_doc(LATIN1_ITEM, encoding="iso-8859-1").replace(
        b'encoding="iso-8859-1"', b'encoding="utf-8"'
    )
    feed = parse_feed(data, FEED_URL, {"content-type": "application/rss+xml; charset=utf-8"})
    assert feed.entries[0].title == "Caf\u00e9 cr\u00e8me"


def test_charset_only_in_the_http_header() -> None:
    data = rss_doc(LATIN1_ITEM, encoding="iso-8859-1").replace(b' encoding="iso-8859-1"', b"")
    feed = parse_feed(data, FEED_URL, {"content-type": "text/xml; charset=ISO-8859-1"})
    assert feed.entries[0].title == "Caf\u00e9 cr\u00e8me"


def test_charset_only_in_the_xml_declaration() -> None:
    data = rss_doc(LATIN1_ITEM, encoding="iso-8859-1")
    feed = parse_feed(data, FEED_URL, {"content-type": "application/rss+xml"})
    assert feed.entries[0].title == "Caf\u00e9 cr\u00e8me"


def test_no_charset_anywhere_and_not_utf8() -> None:
    data = rss_doc(LATIN1_ITEM, encoding="iso-8859-1").replace(b' encoding="iso-8859-1"', b"")
    feed = parse_feed(data, FEED_URL, {})
    [entry] = feed.entries
    assert entry.title is not None
    assert entry.title.startswith("Caf")


def test_corpus_declaration_only_iso_8859_1(corpus: Path) -> None:
    data = (corpus / "feeds/miniflux-testdata/parser/encoding_ISO-8859-1.xml").read_bytes()
    feed = parse_feed(data, "https://www.golem.de/rss", {"content-type": "application/rss+xml"})
    assert feed.title == "Golem.de"
    assert len(feed.entries) > 10
    assert not any("\ufffd" in (e.title or "") for e in feed.entries)


def test_corpus_undeclared_iso_8859_1_with_the_charset_in_the_header(corpus: Path) -> None:
    data = (corpus / "feeds/miniflux-testdata/parser/no_encoding_ISO-8859-1.xml").read_bytes()
    with_header = parse_feed(data, FEED_URL, {"content-type": "text/xml; charset=ISO-8859-1"})
    assert with_header.entries
    assert not any("\ufffd" in (e.title or "") for e in with_header.entries)
    assert any(ch in (with_header.title or "") for ch in "éèà") or with_header.title


def test_corpus_windows_1251(corpus: Path) -> None:
    data = (corpus / "feeds/miniflux-testdata/parser/encoding_WINDOWS-1251.xml").read_bytes()
    feed = parse_feed(data, FEED_URL, {"content-type": "application/rss+xml"})
    assert feed.entries
    text = " ".join(e.title or "" for e in feed.entries)
    assert any("\u0400" <= ch <= "\u04ff" for ch in text)  # Cyrillic survived


@pytest.mark.parametrize(
    "name",
    [
        # feedparser's "Expect: not bozo": the HTTP charset overrides the declaration
        "http_text_xml_charset_overrides_encoding.xml",
        "http_application_atom_xml_charset_overrides_encoding.xml",
        # "Expect: not bozo": UTF-16 with a BOM, UTF-32 detected without one
        "utf-16le-bom.xml",
        "utf-32be-autodetect.xml",
        # "Expect: bozo" for feedparser; for us a feed served as text/plain is still a
        # feed, read without a warning (a notice, not a problem of the feed's)
        "bozo_http_text_plain.xml",
    ],
)
def test_corpus_encoding_files_with_their_headers(corpus: Path, name: str) -> None:
    """Each file is read with the headers it is meant to be served with, and its
    encoding is worked out without a warning (the files hold no entries)."""
    data = (corpus / "feeds/feedparser-encoding" / name).read_bytes()
    headers = embedded_headers(data)
    assert headers or name.startswith("utf-")  # the header lines were found
    feed = parse_feed(data, "http://example.com/feed", headers)
    assert feed.warning is None
    assert feed.entries == ()


def test_corpus_windows_1252_points_are_read_as_unicode(corpus: Path) -> None:
    """demoronize-1.xml: a byte 0x92 in an undeclared document is the apostrophe
    Windows-1252 means, not a control character (the item gains a link, without
    which it would not be a candidate)."""
    data = (corpus / "feeds/feedparser-encoding/demoronize-1.xml").read_bytes()
    data = data.replace(b"<item>", b"<item><link>http://example.com/1</link>")
    [entry] = parse_feed(data, "http://example.com/feed", embedded_headers(data)).entries
    assert entry.summary == "don\u2019t"


def test_embedded_headers_are_read_from_the_comment() -> None:
    doc = (
        b'<?xml version="1.0"?>\n<!--\nHeader:      Content-type: text/xml;charset="us-ascii"\n'
        b"Header: ETag: foo\n-->\n<rss/>"
    )
    assert embedded_headers(doc) == {"content-type": 'text/xml;charset="us-ascii"', "etag": "foo"}


def test_notices_are_not_warnings() -> None:
    """No Content-Type, or a charset feedparser had to override: fine, nothing to report."""
    assert parse_feed(rss_doc(item("https://example.org/1")), FEED_URL, {}).warning is None
    mislabelled = rss_doc(item("https://example.org/1", "Caf\u00e9"), encoding="iso-8859-1")
    headers = {"content-type": "application/rss+xml; charset=us-ascii"}
    assert parse_feed(mislabelled, FEED_URL, headers).warning is None


def test_whitespace_before_the_xml_declaration_is_forgiven() -> None:
    feed = parse(b"\n\n   " + rss_doc(item("https://example.org/1", "One")))
    assert [e.title for e in feed.entries] == ["One"]


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le"])
def test_utf16_without_bom_or_declaration_is_recognised(codec: str) -> None:
    doc = rss_doc(item("https://example.org/1", "Caf\u00e9")).decode("utf-8")
    doc = doc.replace('<?xml version="1.0" encoding="utf-8"?>', "")
    feed = parse(doc.encode(codec))
    assert [e.title for e in feed.entries] == ["Caf\u00e9"]


@pytest.mark.parametrize(
    ("name", "title", "entries"),
    [
        (
            "simplepie-testdata/feed-utf16be.xml",
            "Test feed",
            [("Test feed title 1", "http://example.net/tests/#1.1")],
        ),
        (
            "simplepie-testdata/feed-utf16le.xml",
            "Test feed",
            [("Test feed title 1", "http://example.net/tests/#1.1")],
        ),
        (
            "simplepie-testdata/feed-with-whitespace-before-xml-declaration.xml",
            "Whitespace before XML declaration",
            [],
        ),
    ],
)
def test_corpus_files_other_readers_accept(
    corpus: Path, name: str, title: str, entries: list[tuple[str, str]]
) -> None:
    """SimplePie reads these (UTF-16 either way round, whitespace before the
    declaration); so do we, to the same title and entries, without a warning."""
    data = (corpus / "feeds" / name).read_bytes()
    feed = parse_feed(data, FEED_URL, {"content-type": "application/rss+xml"})
    assert feed.title == title
    assert [(e.title, e.link) for e in feed.entries] == entries
    assert feed.warning is None


def test_a_json_feed_is_refused_with_a_useful_message(corpus: Path) -> None:
    data = (corpus / "feeds/reader-testdata/full.json").read_bytes()
    with pytest.raises(FeedParseError, match="RSS or Atom"):
        parse_feed(data, FEED_URL, {"content-type": "application/feed+json"})


def test_xml_base_in_rss_too() -> None:
    doc = (
        b'<rss version="2.0" xml:base="https://other.example.org/blog/"><channel><title>t</title>'
        b"<item><title>a</title><link>post/1</link></item>"
        b'<item xml:base="https://third.example.org/"><title>b</title><link>x</link></item>'
        b"</channel></rss>"
    )
    assert [e.canonical_url for e in parse(doc).entries] == [
        "https://other.example.org/blog/post/1",
        "https://third.example.org/x",
    ]


def test_rss_author_email_is_never_published_only_the_name() -> None:
    document = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><link>http://a.example/1</link><author>jo@example.org (Jo Bloggs)</author></item>"
        b"<item><link>http://a.example/2</link><author>jo@example.org</author></item>"
        b"<item><link>http://a.example/3</link><author>Jo Plain</author></item>"
        b"<item><link>http://a.example/4</link>"
        b"<author>x@y.example (&lt;img src=x&gt;)</author></item>"
        b"<item><link>http://a.example/5</link><author>Jo &lt;jo@y.example&gt;</author></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(document, "http://a.example/feed", {})
    authors = [entry.author for entry in parsed.entries]
    assert authors == ["Jo Bloggs", None, "Jo Plain", None, "Jo"]
