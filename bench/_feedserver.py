"""A local feed server for bench/poll.py: N distinct feeds built from the corpus.

Run as its own process (``python bench/_feedserver.py ...``) so that it never
shares a GIL with the client being measured. It is a small asyncio HTTP/1.1
server with keep-alive that:

* serves feed ``i`` at ``http://127.0.0.<h>:<port>/feed/<i>.xml``, spread over
  ``--hosts`` loopback addresses (all of 127.0.0.0/8 reaches this machine on
  Linux), so per-host politeness limits in the clients apply as they would to
  many real sites;
* builds feed ``i`` from one of the corpus's real-world captures with every
  http(s) URL given the path prefix ``/f<i>`` (namespace URIs and DOCTYPEs are
  left alone), so each feed yields its own, distinct entry links;
* waits ``--latency`` seconds before answering every request, 304s included;
* answers conditional GETs (If-None-Match / If-Modified-Since) with 304, and
  gzips bodies (compressed once, at start-up) when the client accepts gzip;
* counts requests; ``GET /_stats`` returns the counters as JSON and
  ``POST /_reset`` zeroes them.

It prints ``READY <port>`` on stdout once it listens on every address. Nothing
here is copied into the repository: documents are read from the corpus
folder at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

#: Folders of real-world captures (see the corpus's SOURCES.md).
REAL_CAPTURE_FOLDERS = (
    "blogger",
    "ghost",
    "medium",
    "squarespace",
    "substack",
    "rss-parser-testdata",
    "netnewswire-rsparser",
    "miniflux-testdata/parser",
    "feed-rs-fixtures",
)
#: Names that mark the hand-written, synthetic or spec-example files in those folders.
SYNTHETIC = re.compile(
    r"spec|example|relurl|relative|xml_base|scattered|missing|incomplete|unrecognized"
    r"|invalid|content_src|entry_|_encoding_|feed-rs-fixtures/xml/"
)
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)
CONTENT_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "rdf": "application/rdf+xml",
}

_URL_OR_KEEP = re.compile(
    rb"(<!DOCTYPE[^>]*>|xmlns(?::[\w.-]+)?\s*=\s*(?:\"[^\"]*\"|'[^']*'))"
    rb"|(https?://[A-Za-z0-9.-]+(?::\d+)?)"
)


@dataclass(frozen=True)
class Capture:
    path: str  # relative to the corpus folder
    format: str  # rss / atom / rdf, as MANIFEST.tsv sniffed it
    entries: int  # feedparser's entry count, from MANIFEST.tsv


def default_corpus() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"


def select_captures(corpus: Path) -> list[Capture]:
    """The real-world captures with at least one entry, one per distinct document."""
    manifest = corpus / "MANIFEST.tsv"
    if not manifest.is_file():
        raise SystemExit(f"no corpus at {corpus} (MANIFEST.tsv missing); pass --corpus")
    seen: set[str] = set()
    chosen: list[Capture] = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            name = row["file"]
            if not name.startswith(tuple(f + "/" for f in REAL_CAPTURE_FOLDERS)):
                continue
            if SYNTHETIC.search(name) or int(row["fp6_entries"] or 0) < 1:
                continue
            if row["detected_format"] not in CONTENT_TYPES or row["sha256"] in seen:
                continue
            seen.add(row["sha256"])
            chosen.append(Capture(name, row["detected_format"], int(row["fp6_entries"])))
    return chosen


def rewrite(document: bytes, index: int) -> bytes:
    """Give every http(s) URL in the document the path prefix /f<index>."""
    prefix = b"/f%04d" % index

    def replace(match: re.Match[bytes]) -> bytes:
        if match.group(1) is not None:
            return match.group(1)
        return match.group(2) + prefix

    return _URL_OR_KEEP.sub(replace, document)


def feed_url(index: int, port: int, hosts: int) -> str:
    return f"http://127.0.0.{1 + index % hosts}:{port}/feed/{index:04d}.xml"


@dataclass
class Feed:
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


@dataclass
class Stats:
    requests: int = 0
    not_modified: int = 0
    ok: int = 0
    bytes_sent: int = 0
    by_path: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "not_modified": self.not_modified,
            "ok": self.ok,
            "bytes_sent": self.bytes_sent,
            "distinct_paths": len(self.by_path),
        }


def build_feeds(corpus: Path, count: int) -> list[Feed]:
    captures = select_captures(corpus)
    if not captures:
        raise SystemExit(f"no real-world captures found under {corpus}")
    cache: dict[str, bytes] = {}
    feeds: list[Feed] = []
    for index in range(count):
        capture = captures[index % len(captures)]
        if capture.path not in cache:
            cache[capture.path] = (corpus / capture.path).read_bytes()
        body = rewrite(cache[capture.path], index)
        feeds.append(
            Feed(
                body=body,
                gzipped=gzip.compress(body, compresslevel=5, mtime=0),
                etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
                content_type=CONTENT_TYPES[capture.format],
            )
        )
    return feeds


class FeedServer:
    def __init__(self, feeds: list[Feed], latency: float) -> None:
        self.feeds = feeds
        self.latency = latency
        self.stats = Stats()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = [*lines[0].split(" "), "", ""][:3]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                status, extra, body = await self.respond(method, target, headers)
                keep_alive = headers.get("connection", "").lower() != "close"
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                out = [f"HTTP/1.1 {status} {reason}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                out.append(f"Content-Length: {len(body)}")
                if not keep_alive:
                    out.append("Connection: close")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD":
                    writer.write(body)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def respond(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        path = target.split("?", 1)[0]
        if path == "/_stats":
            stats = json.dumps(self.stats.as_json()).encode()
            return 200, {"Content-Type": "application/json"}, stats
        if path == "/_reset" and method == "POST":
            self.stats = Stats()
            return 200, {"Content-Type": "application/json"}, b"{}"
        await asyncio.sleep(self.latency)
        self.stats.requests += 1
        match = re.fullmatch(r"/feed/(\d+)\.xml", path)
        if method not in ("GET", "HEAD") or match is None or int(match.group(1)) >= len(self.feeds):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        self.stats.by_path[path] = self.stats.by_path.get(path, 0) + 1
        feed = self.feeds[int(match.group(1))]
        validators = {"ETag": feed.etag, "Last-Modified": LAST_MODIFIED}
        if _not_modified(headers, feed.etag):
            self.stats.not_modified += 1
            return 304, validators, b""
        self.stats.ok += 1
        extra = {"Content-Type": feed.content_type, **validators, "Vary": "Accept-Encoding"}
        body = feed.body
        if "gzip" in headers.get("accept-encoding", "").lower():
            extra["Content-Encoding"] = "gzip"
            body = feed.gzipped
        self.stats.bytes_sent += len(body)
        return 200, extra, body


def _not_modified(headers: dict[str, str], etag: str) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(LAST_MODIFIED)
        except (TypeError, ValueError):
            return False
    return False


async def serve(feeds: list[Feed], latency: float, hosts: int, port: int) -> None:
    server_state = FeedServer(feeds, latency)
    addresses = [f"127.0.0.{1 + h}" for h in range(hosts)]
    server = await asyncio.start_server(
        server_state.handle, addresses, port, backlog=1024, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= 254:
        raise SystemExit("--hosts must be between 1 and 254")
    feeds = build_feeds(args.corpus, args.feeds)
    try:
        asyncio.run(serve(feeds, args.latency, args.hosts, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
