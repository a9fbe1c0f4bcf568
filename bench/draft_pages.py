"""Benchmark: a draft of 10 items with link details and redirects on, against slow pages.

Ten blogs, each a local HTTP server on its own loopback address (127.0.0.2 ...
127.0.0.11) that waits 100 ms before every answer. Each blog's two posts in
the week are stored as candidates whose links go through a click tracker (a
302 to the article), so every pick costs a redirect and a page, each 100 ms
away. Each run copies a fresh database (nothing cached, nothing resolved yet)
and times, as a real subprocess of the installed command:

    roundup-bot draft --week 2026-W48          (link details on)     target < 5 s

    .venv/bin/python bench/draft_pages.py [--runs 5] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEEK_LABEL = "2026-W48"
BLOGS = 10
POSTS = 2


class _Blog:
    """A blog's server: /r/N redirects to /posts/N; /posts/N is an article page."""

    def __init__(self, number: int, delay: float) -> None:
        blog = self
        self.number = number
        self.delay = delay
        self.requests = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with blog.lock:
                    blog.requests += 1
                time.sleep(blog.delay)
                if self.path.startswith("/r/"):
                    self.send_response(302)
                    self.send_header("Location", "/posts/" + self.path[3:])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = blog.page(self.path.rsplit("/", 1)[-1]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((f"127.0.0.{number + 1}", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def page(self, slug: str) -> str:
        paragraph = (
            f"Blog {self.number} spent the week on post {slug}, talking to residents about"
            " what they need from the council, and here is what the team learnt. "
        ) * 3
        return (
            "<!doctype html><html><head><meta charset=utf-8>"
            f"<title>Post {slug} of blog {self.number}</title>"
            f'<meta property="og:site_name" content="Blog {self.number}">'
            f'<meta name="author" content="Author {self.number}">'
            f'<link rel="canonical" href="{self.base}/posts/{slug}">'
            "</head><body><nav>Home About</nav><article><h1>Post</h1>"
            f"<p>{paragraph}</p><p>{paragraph}</p></article><footer>Copyright</footer>"
            "</body></html>"
        )


def build(path: Path, blogs: list[_Blog]) -> Path:
    """The database (made by the app's migrations) with each blog's posts stored
    through the real storage, their links through each blog's tracker."""
    sys.path.insert(0, str(ROOT))
    from roundup_bot.core.feed_update import decide_success
    from roundup_bot.core.records import ConfiguredFeed, FetchResult, ParsedEntry, ParsedFeed
    from roundup_bot.core.weeks import week_by_label
    from roundup_bot.storage import open_storage

    week = week_by_label(WEEK_LABEL, "Europe/London", "friday 09:00")
    store = open_storage(f"sqlite:///{path}")
    try:
        now = week.end - timedelta(hours=1)
        store.feeds.sync(
            [ConfiguredFeed(f"{b.base}/feed.xml", f"Blog {b.number}", 1.0, True) for b in blogs],
            now,
        )
        for feed in store.feeds.for_update(now, mode="all"):
            blog = next(b for b in blogs if feed.url.startswith(b.base))
            entries = tuple(
                ParsedEntry(
                    link=f"{blog.base}/r/{n}",
                    canonical_url=f"{blog.base}/r/{n}",
                    title=f"Post {n} of blog {blog.number}",
                    author=None,
                    published=week.end - timedelta(hours=2 + n + blog.number),
                    summary="Read more",
                    entry_id=f"{blog.number}-{n}",
                )
                for n in range(POSTS)
            )
            parsed = ParsedFeed(feed.url, f"Blog {blog.number}", f"{blog.base}/", entries)
            fetched = FetchResult(feed.url, feed.url, 200, {}, b"<rss/>", None, None, None)
            store.feeds.record_success(
                decide_success(feed, fetched, parsed, now=now, interval_s=3600)
            )
    finally:
        store.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    args = parser.parse_args()
    blogs = [_Blog(n, args.delay) for n in range(1, BLOGS + 1)]
    command = shutil.which("roundup-bot", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("roundup-bot is not installed in this environment")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        template = build(work / "template.db", blogs)
        walls: list[float] = []
        cpus: list[float] = []
        requests: list[int] = []
        for run in range(args.runs):
            db = work / f"run{run}.db"
            shutil.copy(template, db)
            config = work / f"run{run}.toml"
            config.write_text(
                f'[database]\nurl = "sqlite:///{db}"\n'
                "[roundup]\nfetch_link_details = true\n"
                # The blogs are on loopback addresses: allowed for this measurement only.
                "[network]\nallow_private_addresses = true\n"
                f'[publish]\noutput_dir = "{work / "public"}"\n'
            )
            before_requests = sum(b.requests for b in blogs)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            result = subprocess.run(
                [command, "--config", str(config), "draft", "--week", WEEK_LABEL, "--json"],
                capture_output=True,
                text=True,
                check=True,
            )
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            requests.append(sum(b.requests for b in blogs) - before_requests)
            if run == 0:
                import json

                items = json.loads(result.stdout)["items"]
                assert len(items) == 10, len(items)
                assert all("/posts/" in item["url"] for item in items), "unresolved links"
                print(
                    f"first run: {len(items)} items, e.g. {items[0]['url']} by {items[0]['author']}"
                )
    load = os.getloadavg()[0]
    print(
        f"draft of 10 items, link details and redirects on, {args.delay * 1000:.0f} ms per answer"
        f" (load average {load:.1f}, {args.runs} runs):"
    )
    print(
        f"  wall median {statistics.median(walls):.2f} s [{', '.join(f'{w:.2f}' for w in walls)}]"
        f"  target 5 s {'ok' if statistics.median(walls) < 5 else 'OVER TARGET'}"
    )
    print(f"  CPU median {statistics.median(cpus):.2f} s; requests per run {requests}")


if __name__ == "__main__":
    main()
