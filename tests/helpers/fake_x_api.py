"""A local fake of the X API v2: a real HTTP server on 127.0.0.1 with scripted answers.

The adapter reaches it through ``[twitter] api_base_url``, exactly as it
would reach X or a proxy, so tweepy, requests and our session all run for
real. Answers are queued per method and path; each request takes the next
answer of the first route that matches (a route marked ``repeat`` answers
forever). Every request is recorded with its query and headers.

Recorded answers can be replayed from tweepy's vcrpy cassettes in the shared
corpus (:func:`load_cassette`): status, headers and the gzip-compressed body
are served byte for byte.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

HOP_BY_HOP = {"transfer-encoding", "connection", "content-length", "keep-alive"}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    hang: float = 0.0  # seconds to stay silent before answering (a hanging server)
    drip: float = 0.0  # seconds between the body's bytes (a server that drips its answer)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        extra = tuple((headers or {}).items())
        return cls(
            status,
            json.dumps(data).encode(),
            (("content-type", "application/json; charset=utf-8"), *extra),
        )

    @classmethod
    def raw(cls, body: bytes, status: int = 200, content_type: str = "application/json") -> Reply:
        return cls(status, body, (("content-type", content_type),))

    @classmethod
    def hanging(cls, seconds: float) -> Reply:
        return cls(200, b"{}", (("content-type", "application/json"),), hang=seconds)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    replies: list[Reply | Callable[[Recorded], Reply]]
    repeat: bool = False


@dataclass
class FakeXApi:
    routes: list[_Route] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add(
        self,
        method: str,
        path: str,
        *replies: Reply | Callable[[Recorded], Reply],
        repeat: bool = False,
    ) -> None:
        """Queue answers for ``method path`` (``path`` is a regular expression, anchored)."""
        with self._lock:
            self.routes.append(
                _Route(method.upper(), re.compile(path + r"\Z"), list(replies), repeat)
            )

    def calls(self, path_pattern: str = ".*") -> list[Recorded]:
        pattern = re.compile(path_pattern + r"\Z")
        return [r for r in self.requests if pattern.match(r.path)]

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            for route in self.routes:
                if route.method != recorded.method or not route.pattern.match(recorded.path):
                    continue
                if not route.replies:
                    continue
                reply = route.replies[0] if route.repeat else route.replies.pop(0)
                return reply(recorded) if callable(reply) else reply
        return Reply.json(
            {"title": "Not Found Error", "detail": f"no scripted answer for {recorded.path}"}, 404
        )

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        recorded = Recorded(
            method=handler.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(recorded)
        reply = self._next(recorded)
        if reply.hang:
            self._release.wait(reply.hang)
            handler.close_connection = True
            return
        handler.send_response_only(reply.status)
        given = {name.lower() for name, _ in reply.headers}
        if "date" not in given:  # a recorded answer keeps its own Date (rate-limit maths use it)
            handler.send_header("Date", handler.date_time_string())
        for name, value in reply.headers:
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(reply.body)))
        handler.end_headers()
        if not reply.drip:
            handler.wfile.write(reply.body)
            return
        for index in range(len(reply.body)):
            handler.wfile.write(reply.body[index : index + 1])
            handler.wfile.flush()
            if self._release.wait(reply.drip):
                return


# -- what the X tests share ------------------------------------------------------------

ACCOUNT = "welovelocalgov"
LOOKUP = f"/2/users/by/username/{ACCOUNT}"
ACCOUNT_FOUND = Reply.json({"data": {"id": "9", "username": ACCOUNT}})


@contextmanager
def running_fake(*, account: bool = False) -> Iterator[FakeXApi]:
    """A fake X API for one test, closed after it; ``account``: it already
    answers the lookup of @welovelocalgov (user 9), as a mentions run needs."""
    server = FakeXApi()
    if account:
        server.add("GET", LOOKUP, ACCOUNT_FOUND)
    try:
        yield server
    finally:
        server.close()


class Sleeps:
    """Records the waits the code under test asks for, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# -- the shared corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    method: str
    uri: str
    reply: Reply

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.uri).query))

    def json(self) -> Any:
        """The response body, decompressed and parsed."""
        body = self.reply.body
        if dict(self.reply.headers).get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return json.loads(body)


def load_cassette(path: Path) -> list[Interaction]:
    """A vcrpy cassette (YAML, or the old JSON serialiser) as served interactions."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    out: list[Interaction] = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        body = response["body"]["string"]
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = tuple(
            (name.lower(), str(value))
            for name, values in response["headers"].items()
            for value in (values if isinstance(values, list) else [values])
        )
        out.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                reply=Reply(int(response["status"]["code"]), body, headers),
            )
        )
    return out


def twarc_pages(path: Path) -> Iterator[dict[str, Any]]:
    """The API v2 response pages of a twarc2 .jsonl file, without twarc's own key."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            page = json.loads(line)
            page.pop("__twarc", None)
            yield page
