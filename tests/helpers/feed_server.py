"""A local server of many small feeds that counts what is fetched and can hold requests.

The daemon and worker tests point dozens of configured feeds at it: every path
is a feed with one item named after the path (``/fast/2.xml`` carries "Post
from fast-2"), so a test can tell which feeds were fetched and how often, and
keep some requests in flight (at ``gate``) to stop a run part-way.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def one_item_rss(name: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Blog {name}</title><link>http://{name}.example/</link>"
        f"<item><title>Post from {name}</title>"
        f"<link>http://{name}.example/post</link>"
        "<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


class FeedServer:
    """Use as a context manager. ``held(path)``: that request waits until ``gate``
    opens (each one releases ``arrived`` first); ``delay``: every answer waits this long."""

    def __init__(
        self, *, held: Callable[[str], bool] = lambda _path: False, delay: float = 0.0
    ) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.arrived = threading.Semaphore(0)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer.lock:
                    outer.counts[self.path] += 1
                if held(self.path):
                    outer.arrived.release()
                    outer.gate.wait(60)
                if delay:
                    time.sleep(delay)
                body = one_item_rss(self.path.strip("/").replace("/", "-").removesuffix(".xml"))
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (it was stopped)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, kind: str, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{n}.xml"

    def wait_for_held(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` held requests are in flight (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        for n in range(count):
            assert self.arrived.acquire(timeout=max(deadline - time.monotonic(), 0.01)), (
                f"only {n} of {count} held requests arrived"
            )

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
