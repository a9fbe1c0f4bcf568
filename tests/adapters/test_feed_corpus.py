"""Every document of the shared feed corpus through the bot's own parse path.

About 2,600 real feed files (well-formed, ill-formed, every encoding trick,
real blog captures) go through :func:`roundup_bot.adapters.feeds.parse_feed`,
served with the headers their comments ask for. The only acceptable outcomes
are a ParsedFeed or our own FeedParseError: anything else would stop a feed
(or, before the fix, a whole poll) on a real-world document.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from helpers.corpus import embedded_headers, manifest

from roundup_bot.adapters.feeds import parse_feed
from roundup_bot.core.curation import canonical_url
from roundup_bot.core.errors import FeedParseError
from roundup_bot.core.records import ParsedFeed

pytestmark = pytest.mark.corpus

BASE = "http://example.com/feeds/"
#: Folders of real blog captures: each well-formed file there must give entries.
REAL_WORLD = ("wordpress", "blogger", "medium", "ghost", "substack", "squarespace")


def _parse(corpus: Path, name: str) -> ParsedFeed | FeedParseError:
    data = (corpus / "feeds" / name).read_bytes()
    headers = embedded_headers(data)
    try:
        return parse_feed(data, BASE + name, headers)
    except FeedParseError as exc:
        return exc


def test_every_corpus_file_parses_or_fails_cleanly(corpus: Path) -> None:
    rows = manifest(corpus)
    assert len(rows) > 2500
    crashes: list[str] = []
    parsed = failed = entries = 0
    for row in rows:
        try:
            result = _parse(corpus, row["file"])
        except Exception:
            crashes.append(f"{row['file']}: {traceback.format_exc().splitlines()[-1]}")
            continue
        if isinstance(result, ParsedFeed):
            parsed += 1
            entries += len(result.entries)
            for entry in result.entries:
                assert entry.canonical_url.startswith(("http://", "https://")), row["file"]
                assert entry.published is None or entry.published.utcoffset() is not None
        else:
            failed += 1
            assert str(result), row["file"]
    assert crashes == []
    assert parsed > 2000  # the corpus is mostly feeds; a regression would show here
    assert entries > 1000
    print(f"corpus: {parsed} parsed ({entries} entries), {failed} refused as not usable")


def test_well_formed_real_world_feeds_give_canonical_entries(corpus: Path) -> None:
    rows = [
        r
        for r in manifest(corpus)
        if r["file"].split("/")[0] in REAL_WORLD and r["fp6_bozo"] == "0"
    ]
    assert len(rows) >= 10
    for row in rows:
        result = _parse(corpus, row["file"])
        assert isinstance(result, ParsedFeed), f"{row['file']}: {result}"
        if int(row["fp6_entries"] or 0) == 0:
            continue
        assert result.entries, row["file"]
        for entry in result.entries:
            assert canonical_url(entry.canonical_url) == entry.canonical_url
            assert canonical_url(entry.link) == entry.canonical_url
            assert entry.title is None or "<" not in entry.title or ">" not in entry.title


def test_documents_feedparser_reads_cleanly_are_never_refused(corpus: Path) -> None:
    """A file feedparser parses without complaint and with entries is a feed to us too."""
    rows = [
        r
        for r in manifest(corpus)
        if r["fp6_bozo"] == "0" and int(r["fp6_entries"] or 0) > 0 and r["fp6_version"]
    ]
    refused = [r["file"] for r in rows if isinstance(_parse(corpus, r["file"]), FeedParseError)]
    assert refused == []


def test_buffered_expat_driver_gives_the_same_results_as_plain_expat(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """expat_driver only merges the pieces of text feedparser joins anyway: every
    corpus document must come out exactly as with the standard expat reader."""
    import feedparser.api

    from roundup_bot.adapters.feeds import EXPAT_DRIVER

    assert feedparser.api.PREFERRED_XML_PARSERS[0] == EXPAT_DRIVER
    names = [row["file"] for row in manifest(corpus)]
    buffered = [_parse(corpus, name) for name in names]
    monkeypatch.setattr(
        feedparser.api,
        "PREFERRED_XML_PARSERS",
        [p for p in feedparser.api.PREFERRED_XML_PARSERS if p != EXPAT_DRIVER],
    )
    plain = [_parse(corpus, name) for name in names]
    differ = [
        name
        for name, one, other in zip(names, buffered, plain, strict=True)
        if _outcome(one) != _outcome(other)
    ]
    assert differ == []


def _outcome(result: ParsedFeed | FeedParseError) -> ParsedFeed | str:
    return result if isinstance(result, ParsedFeed) else f"refused: {result}"


def test_feedparser_reads_well_formed_feeds_with_the_buffered_expat_driver() -> None:
    import xml.sax

    import feedparser.api

    from roundup_bot.adapters.expat_driver import BufferedExpatParser

    parser = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)
    assert isinstance(parser, BufferedExpatParser)
    parser.reset()
    assert parser._parser.buffer_text  # type: ignore[attr-defined]
