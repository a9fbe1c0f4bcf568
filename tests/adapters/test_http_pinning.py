"""The HTTP client connects only to the addresses it resolved and checked.

A fake resolver (the ``resolver`` seam of :class:`HttpFetcher`) plays DNS: it
can answer "public" to the first lookup and "loopback" to the next (rebinding),
point several names at one loopback server, or list addresses that refuse
before the one that answers. Servers are real, on 127.0.0.x; where a test needs
a "public" site, 127.0.0.1 stands in for one and nothing else does.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import httpcore
import pytest
import trustme
from helpers.dns import FakeDns, loopback_counts_as_public, public_and_internal
from helpers.server import LocalServer, Reply, rss

from roundup_bot.adapters.http import HttpFetcher, _connect_first, is_public_address
from roundup_bot.core.errors import BlockedAddress, FetchError
from roundup_bot.core.records import FetchResult, HttpPolicy

FEED = rss([("https://blog.example.gov.uk/a", "A")]).encode()


def fetch(url: str, dns: FakeDns, *, verify: ssl.SSLContext | bool = True, **policy: object):
    async def go() -> FetchResult:
        async with HttpFetcher(
            HttpPolicy(**policy),  # type: ignore[arg-type]
            resolver=dns,
            verify=verify,
        ) as fetcher:
            return await fetcher.get(url)

    return asyncio.run(go())


@pytest.fixture(name="loopback_counts_as_public")
def _loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    loopback_counts_as_public(monkeypatch)


# --- which addresses are public ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215), whatever it carries
        "::7f00:1",  # IPv4-compatible ::127.0.0.1
        "::808:808",  # IPv4-compatible, deprecated even for a public address
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "2001::1",  # Teredo
        "127.0.0.1",
        "10.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "224.0.0.1",
        "ff02::1",
    ],
)
def test_private_addresses_and_ipv6_forms_that_carry_one_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_global_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def test_a_name_that_resolves_to_a_6to4_form_of_loopback_is_refused() -> None:
    dns = FakeDns({"sneaky.example": [["93.184.215.14", "2002:7f00:1::"]]})
    with pytest.raises(BlockedAddress) as info:
        fetch("http://sneaky.example/feed", dns, allow_private=False)
    assert "non-public address 2002:7f00:1::" in str(info.value)
    assert info.value.url == "http://sneaky.example/feed"


# --- DNS rebinding -----------------------------------------------------------------------


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_dns_rebinding_gets_no_request_to_the_internal_server() -> None:
    """Public when checked, loopback when connecting: the connection goes to the
    address that was checked, with the name in the Host header, and the name is
    looked up once."""
    dns = FakeDns({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]})
    with public_and_internal() as (public, internal):
        public.route("/feed", Reply.feed(FEED))
        internal.route("/feed", Reply.feed(b"<rss>internal secrets</rss>"))
        result = fetch(f"http://rebind.example:{public.port}/feed", dns, allow_private=False)
        assert result.content == FEED
        assert internal.requests == []
        [request] = public.requests
        assert request.headers["host"] == f"rebind.example:{public.port}"
    assert dns.lookups == ["rebind.example"]


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_a_redirect_to_a_name_that_resolves_to_loopback_is_refused_before_connecting() -> None:
    dns = FakeDns({"outside.example": [["127.0.0.1"]], "inside.example": [["127.0.0.2"]]})
    with public_and_internal() as (public, internal):
        port = public.port
        public.route("/moved", Reply.redirect(302, f"http://inside.example:{port}/admin"))
        internal.route("/admin", Reply(200, {}, b"internal"))
        with pytest.raises(BlockedAddress) as info:
            fetch(f"http://outside.example:{port}/moved", dns, allow_private=False)
        assert internal.requests == []
    assert "refused to fetch inside.example" in str(info.value)
    assert info.value.url == f"http://outside.example:{port}/moved"


# --- pinned connections still speak to the host by name ---------------------------------


def test_the_pinned_request_carries_the_host_name_and_skips_addresses_that_refuse() -> None:
    """127.0.0.4 refuses (nothing listens there); the next address answers."""
    with LocalServer("127.0.0.1") as server:
        server.route("/feed", Reply.feed(FEED))
        dns = FakeDns({"blog.example": [["127.0.0.4", "127.0.0.1"]]})
        result = fetch(f"http://blog.example:{server.port}/feed", dns)  # a configured feed
        assert result.content == FEED
        [request] = server.requests
        assert request.headers["host"] == f"blog.example:{server.port}"


def test_a_name_that_does_not_resolve_is_a_clear_fetch_error() -> None:
    with pytest.raises(FetchError) as info:
        fetch("http://nowhere.example/feed", FakeDns())
    assert "cannot resolve nowhere.example" in str(info.value)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[tuple[LocalServer, list[str | None]]]:
    """An HTTPS server (keep-alive) on 127.0.0.1 whose certificate names only
    feeds.example; it records the server name (SNI) of every TLS handshake."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("feeds.example").configure_cert(context)
    server_names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    with LocalServer("127.0.0.1", tls=context, keep_alive=True) as server:
        server.route("/feed", Reply.feed(FEED))
        yield server, server_names


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_tls_to_a_pinned_address_verifies_the_certificate_for_the_host_name(
    ca: trustme.CA, tls_server: tuple[LocalServer, list[str | None]]
) -> None:
    server, server_names = tls_server
    dns = FakeDns({"feeds.example": [["127.0.0.1"]]})
    result = fetch(f"https://feeds.example:{server.port}/feed", dns, verify=trusting(ca))
    assert result.content == FEED
    assert server_names == ["feeds.example"]
    [request] = server.requests
    assert request.headers["host"] == f"feeds.example:{server.port}"


@pytest.mark.parametrize("name", ["other.example", "127.0.0.1"])
def test_tls_refuses_a_certificate_that_does_not_name_the_host(
    ca: trustme.CA, tls_server: tuple[LocalServer, list[str | None]], name: str
) -> None:
    """Same server, same address, asked for under another name (or by address):
    its feeds.example certificate does not do."""
    server, _names = tls_server
    dns = FakeDns({"other.example": [["127.0.0.1"]]})
    with pytest.raises(FetchError) as info:
        fetch(f"https://{name}:{server.port}/feed", dns, verify=trusting(ca))
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert server.requests == []


def test_tls_verification_is_on_by_default(
    tls_server: tuple[LocalServer, list[str | None]],
) -> None:
    """Without the test's CA the certificate is not trusted."""
    server, _names = tls_server
    dns = FakeDns({"feeds.example": [["127.0.0.1"]]})
    with pytest.raises(FetchError) as info:
        fetch(f"https://feeds.example:{server.port}/feed", dns)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert server.requests == []


def test_keep_alive_connections_are_reused_for_their_host(
    ca: trustme.CA, tls_server: tuple[LocalServer, list[str | None]]
) -> None:
    """Two fetches from one host: one lookup, one TLS handshake, two requests."""
    server, server_names = tls_server
    dns = FakeDns({"feeds.example": [["127.0.0.1"]]})
    url = f"https://feeds.example:{server.port}/feed"

    async def go() -> list[FetchResult]:
        async with HttpFetcher(HttpPolicy(), resolver=dns, verify=trusting(ca)) as fetcher:
            return [await fetcher.get(url), await fetcher.get(url)]

    assert [r.content for r in asyncio.run(go())] == [FEED, FEED]
    assert dns.lookups == ["feeds.example"]
    assert server_names == ["feeds.example"]
    assert len(server.requests) == 2


# --- racing the addresses (Happy Eyeballs) ----------------------------------------------


class FakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_a_silent_address_does_not_hold_up_the_next_one() -> None:
    """The first address never answers, the second refuses, the third connects:
    the third wins and the silent attempt is cancelled."""
    tried: list[str] = []
    cancelled: list[str] = []

    async def connect(address: str) -> httpcore.AsyncNetworkStream:
        tried.append(address)
        if address == "silent":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(address)
                raise
        if address == "refuses":
            raise httpcore.ConnectError("connection refused")
        return FakeStream(address)

    stream = asyncio.run(_connect_first(["silent", "refuses", "answers"], connect))
    assert isinstance(stream, FakeStream)
    assert stream.address == "answers"
    assert tried == ["silent", "refuses", "answers"]
    assert cancelled == ["silent"]


def test_when_two_addresses_connect_only_the_winner_stays_open() -> None:
    made: list[FakeStream] = []
    first_may_finish = asyncio.Event

    async def go() -> httpcore.AsyncNetworkStream:
        release = first_may_finish()

        async def connect(address: str) -> httpcore.AsyncNetworkStream:
            if address == "slow":
                await release.wait()
            else:
                release.set()
            stream = FakeStream(address)
            made.append(stream)
            return stream

        return await _connect_first(["slow", "fast"], connect)

    winner = asyncio.run(go())
    assert all(stream.closed for stream in made if stream is not winner)
    assert not winner.closed  # type: ignore[attr-defined]


def test_when_every_address_fails_each_reason_is_given() -> None:
    async def connect(address: str) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"{address} refused")

    with pytest.raises(httpcore.ConnectError) as info:
        asyncio.run(_connect_first(["a", "b"], connect))
    assert "a refused" in str(info.value)
    assert "b refused" in str(info.value)
