"""OPML in and out: a feed list can come from an OPML file, and be exported as one.

Reading uses listparser (a well-kept OPML/subscription-list parser); writing
uses the standard library's ElementTree, which escapes everything it writes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.parsers import expat

from roundup_bot.core.clock import utc_now
from roundup_bot.core.curation import canonical_url
from roundup_bot.core.errors import ConfigError, InvalidURL
from roundup_bot.core.records import ConfiguredFeed
from roundup_bot.core.redaction import redact_url

MAX_OPML_BYTES = 5 * 1024 * 1024


def read_opml(path: Path, config_path: str) -> list[ConfiguredFeed]:
    """Feeds listed in an OPML file. Raises ConfigError naming the file on any problem."""
    shown = str(path)
    try:
        with path.open("rb") as handle:  # at most one byte over: /dev/zero ends here too
            data = handle.read(MAX_OPML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            config_path, "polling.opml", f"cannot read {shown}: {exc.strerror}"
        ) from None
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(config_path, "polling.opml", f"{shown} is larger than 5 MiB")
    # listparser is lenient: truncated XML or plain text come back as an empty,
    # problem-free list. A broken file must not silently mean "no extra feeds".
    try:
        expat.ParserCreate().Parse(data, True)
    except expat.ExpatError as exc:
        raise ConfigError(
            config_path, "polling.opml", f"{shown} is not well-formed XML: {exc}"
        ) from None
    import listparser  # imports requests: only loaded when an OPML file is configured

    result: Any = listparser.parse(data)
    if (result.get("bozo") and not result.get("feeds")) or not result.get("version"):
        problem = result.get("bozo_exception") or "not an OPML file"
        raise ConfigError(config_path, "polling.opml", f"{shown}: {problem}")
    feeds: list[ConfiguredFeed] = []
    for item in result.get("feeds", []):
        url = (item.get("url") or "").strip()
        if not url.lower().startswith(("http://", "https://")):
            continue
        try:
            canonical_url(url)  # only to check it: the feed is fetched as written
        except InvalidURL:
            title = item.get("title") or "an outline"
            raise ConfigError(
                config_path, "polling.opml", f"{shown}: {title!r} has a broken xmlUrl {url[:200]!r}"
            ) from None
        feeds.append(
            ConfiguredFeed(url=url, name=item.get("title") or None, weight=1.0, enabled=True)
        )
    return feeds


def write_opml(
    feeds: Sequence[ConfiguredFeed],
    titles: dict[str, str | None],
    title: str,
    *,
    with_passwords: bool = False,
) -> str:
    """The feed list as an OPML 2.0 document.

    An OPML file is made to be shared (with another reader, a colleague, a
    ticket), so a password in a feed URL is written as ``***`` unless asked for."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(utc_now(), usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        url = feed.url if with_passwords else redact_url(feed.url)
        text = feed.name or titles.get(feed.url) or url
        attributes = {"type": "rss", "text": text, "title": text, "xmlUrl": url}
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
