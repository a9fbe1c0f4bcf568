"""A scripted HTTP server on 127.0.0.1 for fault tests.

pytest-httpserver answers one request at a time and cannot hang, drip or
stream forever; this one runs each connection in its own thread, so a test can
script servers that accept and never answer, send a byte a second, send an
endless body, and count how many requests are in flight at once.

Routes map a path to a :class:`Reply` or to a function of the request that
returns one. Every request is recorded (method, path, headers) for asserts.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


@dataclass
class Reply:
    """What to send. ``body`` may be bytes or an iterable of chunks (streamed as given)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0  # seconds to wait before answering (interruptible on close)
    chunk_delay: float = 0.0  # seconds between body chunks
    hang: bool = False  # accept the request and never answer

    @classmethod
    def feed(cls, xml: str | bytes, **headers: str) -> Reply:
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        merged = {"Content-Type": "application/rss+xml; charset=utf-8", **headers}
        return cls(200, merged, data)

    @classmethod
    def redirect(cls, status: int, location: str) -> Reply:
        return cls(status, {"Location": location}, b"")


Handler = Callable[[SeenRequest], Reply]


class InFlight:
    """Counts requests being answered across several servers (for concurrency bounds).

    A request is in flight from its arrival until its answer starts: a client that
    waits for each answer before sending the next request is never seen with two.
    """

    def __init__(self) -> None:
        self.now = 0
        self.max = 0
        self._changed = threading.Condition()

    def enter(self) -> None:
        with self._changed:
            self.now += 1
            self.max = max(self.max, self.now)
            self._changed.notify_all()

    def leave(self) -> None:
        with self._changed:
            self.now -= 1
            self._changed.notify_all()

    def wait_for_max(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` requests have been in flight at once (an answer held
        here proves concurrency without timing it); False after ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: self.max >= count, timeout)


class LocalServer:
    """A threaded HTTP/1.0 server on an ephemeral loopback port. Use as a context manager.

    ``host`` may be any 127.x.y.z address: each is a different host to the client,
    which is how tests get several "hosts" on one machine. ``port`` (default: any
    free one) lets two servers share a port on different addresses. ``tls`` serves
    HTTPS with that context; ``keep_alive`` answers in HTTP/1.1 and keeps the
    connection open when the reply has a length.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        shared: InFlight | None = None,
        *,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.host = host
        self.scheme = "https" if tls else "http"
        self.shared = shared
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closing = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:
                outer._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            # The handshake runs in accept(); one that fails drops only that connection.
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def route(self, path: str, reply: Reply | Handler) -> str:
        """Serve ``reply`` at ``path``; returns the full URL."""
        self.routes[path] = reply
        return self.url(path)

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        seen = SeenRequest(
            handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}
        )
        with self._lock:
            self.requests.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.shared is not None:
            self.shared.enter()
        left = threading.Event()

        def answering() -> None:
            """The answer starts (or the request ends): no longer in flight."""
            if left.is_set():
                return
            left.set()
            if self.shared is not None:
                self.shared.leave()
            with self._lock:
                self.in_flight -= 1

        try:
            route = self.routes.get(handler.path) or self.routes.get(handler.path.split("?")[0])
            if route is None:
                reply = Reply(404, {"Content-Type": "text/plain"}, b"not found")
            else:
                reply = route(seen) if callable(route) else route
            self._send(handler, reply, answering)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should when a limit is hit
        finally:
            answering()

    def _send(
        self, handler: BaseHTTPRequestHandler, reply: Reply, answering: Callable[[], None]
    ) -> None:
        if reply.hang:
            self.closing.wait(120)
            return
        if reply.delay and self.closing.wait(reply.delay):
            return
        answering()
        handler.send_response(reply.status)
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, bytes) and not any(k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        chunks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
        for chunk in chunks:
            if self.closing.is_set():
                return
            handler.wfile.write(chunk)
            handler.wfile.flush()
            if reply.chunk_delay and self.closing.wait(reply.chunk_delay):
                return


def endless(chunk: bytes = b"<rss>" + b" " * 65531) -> Iterator[bytes]:
    """A body that never ends."""
    while True:
        yield chunk


def drip(data: bytes) -> Iterator[bytes]:
    """The body one byte at a time (pair with Reply.chunk_delay)."""
    for i in range(len(data)):
        yield data[i : i + 1]


def gzip_bomb(inflated_size: int) -> bytes:
    """Tiny when compressed, ``inflated_size`` bytes of zeros when inflated."""
    return gzip.compress(b"\0" * inflated_size, compresslevel=9)


def rss(items: Iterable[tuple[str, str]], title: str = "Test blog") -> str:
    """An RSS 2.0 document from (link, title) pairs. Titles are inserted as given."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        "<pubDate>Wed, 18 Nov 2026 09:00:00 GMT</pubDate>"
        "<description>Summary text</description></item>"
        for link, t in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://blog.example.gov.uk/</link>{body}</channel></rss>"
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (no wall-clock asserts)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
