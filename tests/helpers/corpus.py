"""Reading the shared feed corpus: its manifest, and the HTTP headers a file expects.

feedparser's own test files carry the headers they are meant to be served with
in ``Header:`` lines of their leading XML comment; the corpus keeps them as is.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

_HEADER = re.compile(rb"^\s*Header:\s*([A-Za-z0-9-]+):[ \t]*(.*?)\s*$", re.MULTILINE)


def manifest(corpus: Path) -> list[dict[str, str]]:
    """The rows of corpus/feeds/MANIFEST.tsv (one per feed file)."""
    with (corpus / "feeds" / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def embedded_headers(data: bytes) -> dict[str, str]:
    """The ``Header: Name: value`` lines of a file's leading comment, names lower-cased.

    UTF-16/32 files are read by dropping NUL bytes, enough for their ASCII comment.
    """
    head = data[:4096].replace(b"\x00", b"")
    return {
        name.decode("ascii").lower(): value.decode("latin-1")
        for name, value in _HEADER.findall(head)
    }
