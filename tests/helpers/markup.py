"""Checking rendered HTML the way a browser's tokenizer reads it: no active markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Collector(HTMLParser):
    """Every element and attribute the way a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag


def assert_no_active_markup(html: str) -> Collector:
    parser = Collector()
    parser.feed(html)
    parser.close()
    assert not {"script", "iframe", "img", "svg", "object", "embed"} & set(parser.tags)
    for name, value in parser.attributes:
        assert not name.lower().startswith("on"), (name, value)
        if name.lower() in ("href", "src", "action", "formaction"):
            assert (
                re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("https:", "http:", "#"))
            ), value
    return parser
