"""Fuzzing the parse path (issue 10, point 11): random and mutated feed documents.

Whatever bytes a feed server sends, parse_feed returns a ParsedFeed or raises
the project's own FeedParseError, never another exception; the work is bounded
(each parse stays within its CPU budget, counted as CPU time of this thread,
never wall-clock time); and what it returns obeys the limits: at most
``max_entries`` entries, bounded texts, canonical links without the private
feed URL's password.

Three kinds of document: corpus documents (the shared feed corpus) with a few
random mutations (bytes flipped, hostile snippets inserted, ranges deleted or
repeated, the end cut off), documents built from feed elements with random
text and attributes, and random bytes. Hypothesis runs a fixed number of
examples, derandomized, with no example database, so every run tries the same
cases.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import pytest
from helpers.corpus import embedded_headers, manifest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roundup_bot.adapters.feeds import AUTHOR_CHARS, SUMMARY_CHARS, TITLE_CHARS, parse_feed
from roundup_bot.core.curation import canonical_url
from roundup_bot.core.errors import FeedParseError
from roundup_bot.core.records import ParseLimits

PRIVATE_FEED = "https://reader:s3cret@blog.example.gov.uk/feed/"
LIMITS = ParseLimits(max_entries=20, cpu_seconds=2.0)
#: Beyond the budget, the parse may run on to its next checkpoint.
CPU_SLACK = 1.0
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: Corpus documents up to this size are mutated, so that a run stays a few seconds.
MAX_CORPUS_BYTES = 32 * 1024

HOSTILE = [
    b"<",
    b"&",
    b"]]>",
    b"<![CDATA[",
    b"&lt;div&gt;" * 300,
    b"<div>" * 300,
    b"<item>",
    b"</item>",
    b"<entry>",
    b"</channel>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;'>]>",
    b"&a;&b;&nbsp;&#0;&#x110000;",
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<link href="javascript:alert(1)"/>',
    b"<link>/relative/path</link>",
    b'<guid isPermaLink="true">/guid</guid>',
    b'xml:base="//other.example/"',
    b"<pubDate>Mon, 31 Feb 99999 25:61:61 +9999</pubDate>",
    b"<title>" + "\u202e\u0000".encode() + b"</title>",
    b"<script>alert(1)</script>",
]


@cache
def corpus_documents(corpus: Path) -> tuple[str, ...]:
    """The corpus documents that are mutated: small ones feedparser found entries in."""
    return tuple(
        row["file"]
        for row in manifest(corpus)
        if int(row["bytes"]) <= MAX_CORPUS_BYTES and int(row["fp6_entries"] or 0) > 0
    )


@st.composite
def mutated(draw: st.DrawFn, document: bytes) -> bytes:
    """``document`` with one to three random changes."""
    data = bytearray(document)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "insert", "delete", "repeat", "cut"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.one_of(st.sampled_from(HOSTILE), st.binary(max_size=16)))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif kind == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 512))])
            data[at:at] = piece * draw(st.integers(1, 20))
        else:
            del data[at:]
    return bytes(data)


TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "&lt;p&gt;Hello &lt;b&gt;council&lt;/b&gt;&lt;/p&gt;",
            "&lt;div&gt;" * 200,
            "<![CDATA[<p>raw</p>]]>",
            "Jo Bloggs (jo@example.org)",
            "/posts/1",
            "https://jo:pw@example.org/p?utm_source=x#top",
            "Wed, 18 Nov 2026 10:00:00 GMT",
            "2026-11-18T10:00:00Z",
            "javascript:alert(1)",
        ]
    ),
)
NAMES = st.sampled_from(
    [
        *("title", "link", "description", "guid", "pubDate", "author", "dc:creator", "item"),
        *("entry", "id", "summary", "content", "updated", "published", "name", "category"),
    ]
)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["href", "rel", "type", "xml:base", "isPermaLink", "mode"]),
    st.sampled_from(["alternate", "html", "xhtml", "/rel", "true", "false", "escaped", "x\"'"]),
    max_size=3,
)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


ELEMENTS = st.recursive(
    TEXT.map(escape),
    lambda children: st.builds(
        lambda name, attributes, inner: (
            f"<{name}"
            + "".join(f' {key}="{escape(value)}"' for key, value in attributes.items())
            + f">{''.join(inner)}</{name}>"
        ),
        NAMES,
        ATTRIBUTES,
        st.lists(children, max_size=4),
    ),
    max_leaves=30,
)
BUILT = st.builds(
    lambda root, inner: (
        '<?xml version="1.0" encoding="utf-8"?>'
        + (
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"{''.join(inner)}</channel></rss>"
            if root == "rss"
            else f'<feed xmlns="http://www.w3.org/2005/Atom">{"".join(inner)}</feed>'
        )
    ).encode("utf-8", "surrogatepass"),
    st.sampled_from(["rss", "atom"]),
    st.lists(ELEMENTS, max_size=6),
)


def parse_and_check(document: bytes, headers: dict[str, str]) -> None:
    """The fuzzed property: our own error or a ParsedFeed within the limits, within
    the CPU budget."""
    started = time.thread_time()
    try:
        parsed = parse_feed(document, PRIVATE_FEED, headers, LIMITS)
    except FeedParseError as exc:
        event(f"refused: {str(exc).split(':')[0]}")
        return
    finally:
        assert time.thread_time() - started < LIMITS.cpu_seconds + CPU_SLACK
    event("parsed, with entries" if parsed.entries else "parsed, no entries")
    assert len(parsed.entries) <= LIMITS.max_entries
    for text_value, limit in [(parsed.title, TITLE_CHARS), (parsed.site_url, 2048)]:
        assert text_value is None or len(text_value) <= limit + 1
    for entry in parsed.entries:
        assert canonical_url(entry.link) == entry.canonical_url
        for text_value, limit in [
            (entry.title, TITLE_CHARS),
            (entry.summary, SUMMARY_CHARS),
            (entry.author, AUTHOR_CHARS),
            (entry.entry_id, 1000),
        ]:
            assert text_value is None or len(text_value) <= limit + 1
        for stored in (entry.link, entry.canonical_url, entry.entry_id or ""):
            assert "s3cret" not in stored
    assert "s3cret" not in (parsed.site_url or "")


@pytest.mark.corpus
@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_mutated_corpus_documents_parse_or_fail_cleanly(corpus: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(corpus_documents(corpus)), label="corpus document")
    original = (corpus / "feeds" / name).read_bytes()
    document = data.draw(mutated(original), label="mutated")
    headers = embedded_headers(original) or {"content-type": "application/xml"}
    parse_and_check(document, headers)


@FUZZ
@given(
    document=st.one_of(BUILT, st.binary(max_size=2048)),
    content_type=st.sampled_from(
        [
            *("application/rss+xml", "application/atom+xml; charset=utf-8", "text/html"),
            *(
                "text/plain",
                "application/xml; charset=iso-8859-1",
                "application/xml; charset=utf-16",
            ),
            "",
        ]
    ),
)
def test_built_and_random_documents_parse_or_fail_cleanly(
    document: bytes, content_type: str
) -> None:
    parse_and_check(document, {"content-type": content_type} if content_type else {})


@pytest.mark.corpus
def test_the_corpus_is_there_to_mutate(corpus: Path) -> None:
    assert len(corpus_documents(corpus)) > 1000
