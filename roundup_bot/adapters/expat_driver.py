"""The SAX driver feedparser parses well-formed feeds with: the standard expat
reader, with expat's text buffering turned on.

By default expat reports the text of an element in many small pieces (a call
per line, and per entity), and each piece runs through feedparser's Python
handlers. Buffered, it reports each run of text once. feedparser joins the
pieces anyway, so the result is the same; on the benchmark's real-world feeds,
parsing takes about a tenth less CPU (and the same on all 2,623 corpus
documents: tests/test_feed_corpus.py).

``xml.sax.make_parser`` imports a driver by module name and calls its
``create_parser``; roundup_bot.adapters.feeds puts this module first in
feedparser's list of preferred drivers.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser

#: expat's buffer: text runs up to this long arrive in one call.
BUFFER_SIZE = 64 * 1024


class BufferedExpatParser(ExpatParser):
    def reset(self) -> None:
        super().reset()
        # ``_parser`` is the reader's pyexpat parser, made anew by every reset().
        parser = getattr(self, "_parser", None)
        if parser is not None:
            parser.buffer_text = True
            parser.buffer_size = BUFFER_SIZE


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    return BufferedExpatParser(*args, **kwargs)
