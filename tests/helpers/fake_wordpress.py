"""A fake WordPress REST API on 127.0.0.1: real HTTP, both ways of signing in.

It keeps posts, categories, tags and comments in memory and behaves as
WordPress does where it matters to roundup-bot:

* ``HEAD /`` advertises the REST root (``Link: <…/wp-json/>; rel="https://api.w.org/"``);
* ``/wp-json/wp/v2/…`` takes an Application Password (HTTP Basic: the login
  name and the application password), ``/wp/v2/sites/<site>/…`` a bearer token
  (WordPress.com); refusals carry WordPress's error codes;
* a taken slug is made unique with "-2", "-3"... (no idempotency key);
* ``posts?slug=&status=`` finds posts in those statuses only;
* ``comments`` pages in id order, oldest or newest first (``orderby=id&order=``).

``tls`` serves HTTPS with that context under ``name`` (a name the test's
resolver maps to ``host``); ``redirect_to`` makes ``/`` a 301 to another site,
as a blog moving to its www. host does.

Faults are scripted per request with :meth:`FakeWordPress.fail_next`: an
answer lost after the post was made, a connection dropped, a status with
Retry-After, a malformed body, an answer held until the test lets it go.
Every request is recorded (:attr:`FakeWordPress.seen`) for asserts.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOGIN = "editor"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
ACCOUNT_PASSWORD = "the-account-password"
TOKEN = "wpcom-token-0123456789abcdef"
SITE = "roundup.blog.example"


@dataclass(frozen=True)
class Seen:
    method: str
    route: str  # after the API prefix: "posts", "posts/3", "users/me"
    query: dict[str, str]
    authorization: str | None
    body: Any


@dataclass
class Fault:
    """What to do with the next request that matches ``method`` and ``route``."""

    method: str
    route: str  # a regular expression matched against the whole route
    kind: str  # "status" | "drop" | "lost_after" | "hold_after" | "malformed" | "hang"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class FakeWordPress:
    """Use as a context manager; ``url`` is the site's address."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | None = None,
        name: str | None = None,
    ) -> None:
        self.host = host
        self.name = name or host
        self.scheme = "https" if tls else "http"
        self.posts: dict[int, dict[str, Any]] = {}
        self.terms: dict[str, dict[int, str]] = {"categories": {1: "Uncategorised"}, "tags": {}}
        self.comments: list[dict[str, Any]] = []
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.advertise = True  # send the Link header on /
        self.advertised_root: str | None = None  # another REST root to advertise
        self.redirect_to: str | None = None  # "/" answers 301 to this address
        self.released = threading.Event()  # lets a "hold_after" answer go
        self.holding = threading.Event()  # set while an answer is held
        self.closing = threading.Event()
        self._ids = itertools.count(101)
        self._term_ids = itertools.count(11)
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._handle(self)

            def do_HEAD(self) -> None:
                outer._handle(self)

            def do_POST(self) -> None:
                outer._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # --- the test's side ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.name}:{self._httpd.server_address[1]}"

    @property
    def wpcom_root(self) -> str:
        """Stands in for https://public-api.wordpress.com/ ([wordpress] api_url)."""
        return self.url + "/"

    def __enter__(self) -> FakeWordPress:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.closing.set()
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def fail_next(self, method: str, route: str, kind: str, **options: Any) -> None:
        with self._lock:
            self.faults.append(Fault(method, route, kind, **options))

    def requests(self, method: str | None = None, route: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method)
                and (route is None or re.fullmatch(route, s.route))
            ]

    def add_comment(
        self,
        post: int,
        html: str,
        *,
        name: str = "Reader",
        author: int = 0,
        status: str = "approved",
        date_gmt: str = "2026-11-28T10:00:00",
    ) -> int:
        with self._lock:
            comment_id = len(self.comments) + 1
            self.comments.append(
                {
                    "id": comment_id,
                    "post": post,
                    "author": author,
                    "author_name": name,
                    "author_url": "https://commenter.example/",
                    "date_gmt": date_gmt,
                    "link": f"{self.url}/?p={post}#comment-{comment_id}",
                    "status": status,
                    "content": {"rendered": html},
                }
            )
            return comment_id

    # --- the server's side -----------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = handler.headers.get("Authorization")
        if parts.path == "/" and handler.command in ("HEAD", "GET"):
            headers = {"Content-Type": "text/html"}
            if self.redirect_to is not None:
                self._answer(handler, 301, b"", {**headers, "Location": self.redirect_to})
                return
            if self.advertise:
                root = self.advertised_root or f"{self.url}/wp-json/"
                headers["Link"] = f'<{root}>; rel="https://api.w.org/"'
            self._answer(handler, 200, b"<html>a blog</html>", headers)
            return
        style, route = self._route(parts.path)
        seen = Seen(handler.command, route, query, auth, body)
        with self._lock:
            self.seen.append(seen)
            fault = self._fault(seen)
        if style is None:
            self._json(handler, 404, {"code": "rest_no_route", "message": "No route"})
            return
        if fault is not None and fault.kind in ("drop", "hang", "status", "malformed"):
            self._faulty(handler, fault)
            return
        refusal = self._refusal(style, auth)
        if refusal is not None:
            self._json(handler, refusal[0], refusal[1])
            return
        with self._lock:
            status, answer, headers = self._serve(seen)
        if fault is not None and fault.kind == "lost_after":
            handler.close_connection = True
            return  # done, but the answer never leaves
        if fault is not None and fault.kind == "hold_after":
            self.holding.set()
            self.released.wait(60)
            if self.closing.is_set():
                return
        self._json(handler, status, answer, headers)

    def _route(self, path: str) -> tuple[str | None, str]:
        if path.startswith("/wp-json/wp/v2/"):
            return "basic", path[len("/wp-json/wp/v2/") :]
        prefix = f"/wp/v2/sites/{SITE}/"
        if path.startswith(prefix):
            return "bearer", path[len(prefix) :]
        return None, path

    def _fault(self, seen: Seen) -> Fault | None:
        for fault in self.faults:
            if fault.method == seen.method and re.fullmatch(fault.route, seen.route):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _faulty(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "drop":
            handler.close_connection = True
            return
        if fault.kind == "hang":
            self.closing.wait(60)
            return
        if fault.kind == "malformed":
            self._answer(handler, 200, b"<html><body>Oops</body></html>", {})
            return
        payload = {"code": "fault", "message": f"scripted {fault.status}"}
        self._json(handler, fault.status, payload, fault.headers)

    def _refusal(self, style: str, auth: str | None) -> tuple[int, dict[str, Any]] | None:
        if style == "bearer":
            if auth == f"Bearer {TOKEN}":
                return None
            return 401, {"code": "invalid_token", "message": "The OAuth2 token is invalid."}
        if not auth or not auth.startswith("Basic "):
            return 401, {"code": "rest_not_logged_in", "message": "You are not logged in."}
        login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if login != LOGIN:
            return 401, {"code": "invalid_username", "message": "Unknown username."}
        if password.replace(" ", "") != APP_PASSWORD.replace(" ", ""):
            return 401, {"code": "incorrect_password", "message": "The password is incorrect."}
        return None

    def _serve(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        route, method, query = seen.route, seen.method, seen.query
        if route == "users/me":
            return 200, {"id": 7, "name": "Ed Itor", "slug": LOGIN}, {}
        if route == "posts" and method == "GET":
            statuses = query.get("status", "publish").split(",")
            found = [
                p
                for p in self.posts.values()
                if p["slug"] == query.get("slug") and p["status"] in statuses
            ]
            return 200, found, {}
        if route == "posts" and method == "POST":
            post_id = next(self._ids)
            post = {"id": post_id, "status": "draft", **self._post_values(seen.body, post_id)}
            self.posts[post_id] = post
            return 201, post, {}
        match = re.fullmatch(r"posts/(\d+)", route)
        if match:
            post = self.posts.get(int(match.group(1)))
            if post is None:
                return 404, {"code": "rest_post_invalid_id", "message": "Invalid post ID."}, {}
            if method == "POST":
                post.update(self._post_values(seen.body, post["id"]))
            return 200, post, {}
        if route in self.terms:
            return self._terms(route, method, query, seen.body)
        if route == "comments":
            posts = {int(p) for p in query.get("post", "").split(",") if p}
            wanted = [
                c
                for c in self.comments
                if c["post"] in posts
                and c["status"] == "approved"
                and query.get("status") == "approve"
            ]
            if query.get("order") == "desc":
                wanted.sort(key=lambda c: -int(c["id"]))
            size = int(query.get("per_page", "10"))
            page = int(query.get("page", "1"))
            pages = max((len(wanted) + size - 1) // size, 1)
            if page > pages:
                return 400, {"code": "rest_post_invalid_page_number", "message": "page"}, {}
            chunk = wanted[(page - 1) * size : page * size]
            return 200, chunk, {"X-WP-Total": str(len(wanted)), "X-WP-TotalPages": str(pages)}
        return 404, {"code": "rest_no_route", "message": "No route"}, {}

    def _post_values(self, body: dict[str, Any], post_id: int) -> dict[str, Any]:
        values = dict(body)
        wanted = values.get("slug") or f"post-{post_id}"
        taken = {p["slug"] for i, p in self.posts.items() if i != post_id}
        slug, n = wanted, 2
        while slug in taken:
            slug, n = f"{wanted}-{n}", n + 1
        values["slug"] = slug
        values["link"] = f"{self.url}/{slug}/"
        return values

    def _terms(
        self, taxonomy: str, method: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        known = self.terms[taxonomy]
        if method == "GET":
            search = query.get("search", "").lower()
            found = [
                {"id": i, "name": n.replace("&", "&amp;")}
                for i, n in known.items()
                if search in n.lower()
            ]
            return 200, found, {}
        name = str(body.get("name"))
        for term_id, existing in known.items():
            if existing.lower() == name.lower():
                return 400, {"code": "term_exists", "data": {"term_id": term_id}}, {}
        term_id = next(self._term_ids)
        known[term_id] = name
        return 201, {"id": term_id, "name": name}, {}

    def _json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        self._answer(handler, status, data, {"Content-Type": "application/json", **(headers or {})})

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                handler.send_header(name, value)
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def basic_env(password: str = APP_PASSWORD, login: str = LOGIN) -> dict[str, str]:
    return {"ROUNDUP_WORDPRESS_USERNAME": login, "ROUNDUP_WORDPRESS_APP_PASSWORD": password}


def token_env(token: str = TOKEN) -> dict[str, str]:
    return {"ROUNDUP_WORDPRESS_TOKEN": token}


Check = Callable[[FakeWordPress], None]
