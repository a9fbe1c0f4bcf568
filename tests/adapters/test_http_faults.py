"""The HTTP client against real misbehaving servers on 127.0.0.1.

Each test scripts a local server (tests/helpers/server.py) to hang, drip,
stream forever, bomb, redirect in circles or refuse, and checks that
:class:`HttpFetcher` ends with the right error from our own exception tree,
within its deadline and its size limit.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from helpers.server import LocalServer, Reply, drip, endless, gzip_bomb, rss

from roundup_bot import __version__
from roundup_bot.adapters.http import HttpFetcher, parse_retry_after
from roundup_bot.core.errors import (
    BlockedAddress,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from roundup_bot.core.records import FetchResult, HttpPolicy

FEED = rss([("https://blog.example.gov.uk/a", "A")]).encode()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def fetch(url: str, etag: str | None = None, last_modified: str | None = None, **policy: object):
    async def go() -> FetchResult:
        async with HttpFetcher(HttpPolicy(**policy)) as fetcher:  # type: ignore[arg-type]
            return await fetcher.get(url, etag=etag, last_modified=last_modified)

    return asyncio.run(go())


def test_user_agent_names_roundup_bot_and_its_version(server: LocalServer) -> None:
    url = server.route("/feed", Reply.feed(FEED))
    result = fetch(url)
    assert result.status == 200
    assert result.content == FEED
    [request] = server.requests
    assert "roundup-bot" in request.headers["user-agent"]
    assert __version__ in request.headers["user-agent"]
    assert "application/rss+xml" in request.headers["accept"]


def test_conditional_headers_are_sent_back_verbatim_and_304_has_no_body(
    server: LocalServer,
) -> None:
    etag = 'W/"abc;123"'
    modified = "Wed, 18 Nov 2026 09:00:00 GMT"
    url = server.route("/feed", Reply(304, {"ETag": etag}))
    result = fetch(url, etag=etag, last_modified=modified)
    assert result.status == 304
    assert result.content is None
    assert result.etag == etag
    [request] = server.requests
    assert request.headers["if-none-match"] == etag
    assert request.headers["if-modified-since"] == modified


def test_real_response_headers_are_returned_lower_cased(server: LocalServer) -> None:
    url = server.route(
        "/feed",
        Reply.feed(FEED, **{"Content-Type": "text/xml; charset=ISO-8859-1", "ETag": '"v1"'}),
    )
    result = fetch(url)
    assert result.headers["content-type"] == "text/xml; charset=ISO-8859-1"
    assert result.etag == '"v1"'


# --- deadlines -------------------------------------------------------------------------


def test_a_server_that_accepts_and_never_answers_times_out(server: LocalServer) -> None:
    url = server.route("/feed", Reply(hang=True))
    with pytest.raises(FetchTimeout) as info:
        fetch(url, timeout=1.0)
    assert info.value.url == url


def test_a_body_dripping_a_byte_a_second_hits_the_overall_deadline(server: LocalServer) -> None:
    # Each byte arrives well inside any per-read timeout; only an overall deadline stops it.
    url = server.route("/feed", Reply(200, {}, drip(FEED), chunk_delay=0.4))
    with pytest.raises(FetchTimeout):
        fetch(url, timeout=1.0)


def test_an_endless_slow_body_times_out(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {}, endless(b"<rss>"), chunk_delay=0.05))
    with pytest.raises(FetchTimeout):
        fetch(url, timeout=1.0)


def test_headers_that_never_finish_time_out() -> None:
    """A raw socket server that sends a status line and then nothing more."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n")
        done.wait(30)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(FetchTimeout):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/feed", timeout=1.0)
    finally:
        done.set()
        thread.join(5)
        listener.close()


def test_waiting_for_a_busy_host_does_not_eat_the_deadline(server: LocalServer) -> None:
    """per_host=1: the second fetch queues behind the first; the queue is not its fault."""
    url = server.route("/feed", Reply(200, {}, FEED, delay=0.8))

    async def go() -> list[FetchResult]:
        # Three answers of 0.8 s each take 2.4 s in all, more than the 2 s deadline.
        async with HttpFetcher(HttpPolicy(timeout=2.0, per_host=1)) as fetcher:
            return list(await asyncio.gather(*(fetcher.get(url) for _ in range(3))))

    results = asyncio.run(go())
    assert [r.status for r in results] == [200, 200, 200]
    assert server.max_in_flight == 1


# --- size limits -----------------------------------------------------------------------


def test_an_endless_fast_body_stops_at_the_size_limit(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {}, endless()))
    with pytest.raises(ResponseTooLarge):
        fetch(url, max_bytes=256 * 1024, timeout=10.0)


def test_a_declared_oversize_body_is_refused_before_reading(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {}, b"x" * 5000))
    with pytest.raises(ResponseTooLarge):
        fetch(url, max_bytes=4096)


def test_an_undeclared_oversize_body_is_refused(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {}, iter([b"x" * 3000, b"y" * 3000])))
    with pytest.raises(ResponseTooLarge):
        fetch(url, max_bytes=4096)


def test_a_body_exactly_at_the_limit_is_accepted(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {}, b"x" * 4096))
    assert fetch(url, max_bytes=4096).content == b"x" * 4096


def test_a_gzip_bomb_stops_at_the_limit_counted_after_decompression(server: LocalServer) -> None:
    bomb = gzip_bomb(20 * 1024 * 1024)
    assert len(bomb) < 64 * 1024  # tiny on the wire
    url = server.route("/feed", Reply(200, {"Content-Encoding": "gzip"}, bomb))
    with pytest.raises(ResponseTooLarge):
        fetch(url, max_bytes=1024 * 1024)


def test_a_gzip_bomb_at_the_default_ten_mib_limit(server: LocalServer) -> None:
    url = server.route(
        "/feed", Reply(200, {"Content-Encoding": "gzip"}, gzip_bomb(10 * 1024 * 1024 + 1))
    )
    with pytest.raises(ResponseTooLarge):
        fetch(url)


def test_a_deflate_bomb_stops_at_the_limit_too(server: LocalServer) -> None:
    bomb = zlib.compress(b"\0" * (20 * 1024 * 1024), 9)
    url = server.route("/feed", Reply(200, {"Content-Encoding": "deflate"}, bomb))
    with pytest.raises(ResponseTooLarge):
        fetch(url, max_bytes=1024 * 1024)


def test_gzip_and_deflate_bodies_are_decoded(server: LocalServer) -> None:
    import gzip

    server.route("/gz", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(FEED)))
    server.route("/zlib", Reply(200, {"Content-Encoding": "deflate"}, zlib.compress(FEED)))
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    server.route(
        "/raw", Reply(200, {"Content-Encoding": "deflate"}, raw.compress(FEED) + raw.flush())
    )
    for path in ("/gz", "/zlib", "/raw"):
        assert fetch(server.url(path)).content == FEED, path


def test_a_corrupt_gzip_body_is_a_fetch_error(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {"Content-Encoding": "gzip"}, b"\x1f\x8bnot gzip"))
    with pytest.raises(FetchError, match="decompress"):
        fetch(url)


def test_an_unsupported_content_encoding_is_a_fetch_error(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {"Content-Encoding": "br"}, b"\x00\x01"))
    with pytest.raises(FetchError, match="Content-Encoding"):
        fetch(url)


# --- redirects -------------------------------------------------------------------------


def chain(server: LocalServer, statuses: list[int], final: Reply) -> str:
    for i, status in enumerate(statuses):
        server.route(f"/r{i}", Reply.redirect(status, f"/r{i + 1}"))
    server.route(f"/r{len(statuses)}", final)
    return server.url("/r0")


def test_five_redirects_are_followed(server: LocalServer) -> None:
    url = chain(server, [302] * 5, Reply.feed(FEED))
    result = fetch(url)
    assert result.content == FEED
    assert result.final_url == server.url("/r5")
    assert result.permanent_redirect is None


def test_a_sixth_redirect_is_too_many(server: LocalServer) -> None:
    url = chain(server, [302] * 6, Reply.feed(FEED))
    with pytest.raises(TooManyRedirects):
        fetch(url)
    assert not server.requests_to("/r6")


def test_max_redirects_is_configurable(server: LocalServer) -> None:
    url = chain(server, [301], Reply.feed(FEED))
    with pytest.raises(TooManyRedirects):
        fetch(url, max_redirects=0)


def test_a_redirect_loop_is_detected(server: LocalServer) -> None:
    server.route("/a", Reply.redirect(302, "/b"))
    server.route("/b", Reply.redirect(302, "/a"))
    with pytest.raises(TooManyRedirects, match="loop"):
        fetch(server.url("/a"))
    assert len(server.requests) == 2


def test_a_chain_of_permanent_redirects_reports_where_it_ended(server: LocalServer) -> None:
    url = chain(server, [301, 308], Reply.feed(FEED))
    assert fetch(url).permanent_redirect == server.url("/r2")


@pytest.mark.parametrize("statuses", [[302], [307], [303], [301, 302], [302, 301]])
def test_a_temporary_hop_anywhere_means_no_permanent_move(
    server: LocalServer, statuses: list[int]
) -> None:
    url = chain(server, statuses, Reply.feed(FEED))
    result = fetch(url)
    assert result.content == FEED
    assert result.permanent_redirect is None


def test_conditional_headers_follow_redirects(server: LocalServer) -> None:
    url = chain(server, [301], Reply(304, {}))
    result = fetch(url, etag='"e"')
    assert result.status == 304
    assert server.requests_to("/r1")[0].headers["if-none-match"] == '"e"'


@pytest.mark.parametrize(
    "location", ["javascript:alert(1)", "file:///etc/passwd", "ftp://127.0.0.1/feed"]
)
def test_a_redirect_to_another_scheme_is_refused(server: LocalServer, location: str) -> None:
    url = server.route("/feed", Reply.redirect(302, location))
    with pytest.raises(FetchError, match=r"will not fetch|Location"):
        fetch(url)
    assert len(server.requests) == 1


def test_a_redirect_without_location_is_an_error(server: LocalServer) -> None:
    url = server.route("/feed", Reply(302, {}, b""))
    with pytest.raises(HTTPStatusError):
        fetch(url)


# --- status codes ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500, 502, 503, 401, 403])
def test_error_statuses_raise_with_the_status(server: LocalServer, status: int) -> None:
    url = server.route("/feed", Reply(status, {"Content-Type": "text/html"}, b"<html>no</html>"))
    with pytest.raises(HTTPStatusError) as info:
        fetch(url)
    assert info.value.status == status
    assert str(status) in str(info.value)


def test_retry_after_seconds_is_reported(server: LocalServer) -> None:
    url = server.route("/feed", Reply(429, {"Retry-After": "3600"}))
    with pytest.raises(HTTPStatusError) as info:
        fetch(url)
    assert info.value.status == 429
    assert info.value.retry_after == 3600


def test_retry_after_as_an_http_date_is_reported(server: LocalServer) -> None:
    when = datetime.now(UTC) + timedelta(hours=2)
    url = server.route("/feed", Reply(503, {"Retry-After": format_datetime(when, usegmt=True)}))
    with pytest.raises(HTTPStatusError) as info:
        fetch(url)
    assert info.value.retry_after is not None
    assert 7000 < info.value.retry_after <= 7200


def test_parse_retry_after_handles_junk() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Thu, 19 Nov 2026 00:00:00 GMT", now) == 0.0


# --- broken connections ----------------------------------------------------------------


def test_connection_refused_is_a_fetch_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(FetchError):
        fetch(f"http://127.0.0.1:{port}/feed")


def test_a_body_shorter_than_declared_is_a_fetch_error(server: LocalServer) -> None:
    url = server.route("/feed", Reply(200, {"Content-Length": "5000"}, FEED))
    with pytest.raises(FetchError):
        fetch(url)


def test_a_non_http_answer_is_a_fetch_error() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01garbage")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(FetchError):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/feed")
    finally:
        thread.join(5)
        listener.close()


def test_private_addresses_are_refused_when_not_allowed(server: LocalServer) -> None:
    url = server.route("/feed", Reply.feed(FEED))
    with pytest.raises(BlockedAddress):
        fetch(url, allow_private=False)
    assert server.requests == []  # refused before connecting


def test_a_post_to_a_server_that_drips_its_headers_ends_at_the_deadline() -> None:
    """post_json (the chat webhook) has one deadline for the whole exchange: a
    server that sends its answer a byte every half second never trips a
    per-read timeout of 1 s, and would be done in 20 s with a 200; only a
    deadline for the whole exchange ends it (as FetchTimeout, never a 200)."""
    import socket
    import threading

    from roundup_bot.adapters.http import post_json
    from roundup_bot.core.errors import FetchTimeout

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1":
                if stop.wait(0.5):
                    return
                conn.sendall(bytes([byte]))

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        with pytest.raises(FetchTimeout, match=r"no whole answer from 127\.0\.0\.1 within 1 s"):
            post_json(
                f"http://127.0.0.1:{listener.getsockname()[1]}/hook", {"text": "x"}, timeout=1
            )
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000])
def test_a_retry_after_that_only_looks_like_a_number_is_ignored(value: str) -> None:
    from datetime import UTC, datetime

    assert parse_retry_after(value, datetime(2026, 12, 1, tzinfo=UTC)) is None
