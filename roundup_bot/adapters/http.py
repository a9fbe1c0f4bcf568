"""The one HTTP client roundup-bot uses to fetch from the outside world.

Every request it makes has an overall deadline (connect, redirects and a body
that drips a byte at a time all count against it), a size limit counted after
decompression (so a gzip bomb stops at the limit), a bounded number of
redirects followed one hop at a time, and a User-Agent that names roundup-bot.
Every connection is made to an address this module resolved itself, once
(:class:`_PinnedBackend`). When private addresses are not allowed, the host is
refused if any of its addresses is private, loopback, link-local or otherwise
not globally routable (IPv6 forms that carry such an IPv4 address included),
and the connection goes only to the addresses that were checked: a DNS answer
that changes between check and connect (rebinding) cannot get a request
through, on any redirect hop.

Concurrency is bounded overall by the caller and per host here, so a batch of
feeds never hammers one server. :meth:`HttpFetcher.request` serves API clients
(the WordPress REST API): any method, a JSON body, the same deadline and size
limit, every status returned for the client to read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import zlib
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from roundup_bot.core.clock import utc_now
from roundup_bot.core.errors import (
    BlockedAddress,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from roundup_bot.core.numbers import whole_number
from roundup_bot.core.records import FetchResult, HttpPolicy

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from ``now``: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local-use, site-specific
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291: deprecated "::a.b.c.d"


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses.

    An IPv6 address that carries an IPv4 address inside it reaches that IPv4
    address through a translator or tunnel, so ``2002:7f00:1::`` (6to4) and
    ``64:ff9b::7f00:1`` (NAT64) are as private as 127.0.0.1, though the
    standard library calls them global. The local-use NAT64 prefix and the
    deprecated IPv4-compatible form (``::a.b.c.d``) are never public.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _is_global_unicast(ip.ipv4_mapped)
        if ip in _NAT64_LOCAL or ip in _IPV4_COMPATIBLE:
            return False
        embedded = ip.sixtofour
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if embedded is not None and not _is_global_unicast(embedded):
            return False
    return _is_global_unicast(ip)


def _is_global_unicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return bool(ip.is_global) and not ip.is_multicast


class Resolver(Protocol):
    """Turns a host name into the addresses to connect to (a seam for tests).

    Raises:
        OSError: the name cannot be resolved (``socket.gaierror``).
    """

    async def __call__(self, host: str, port: int) -> list[str]: ...


async def resolve_system(host: str, port: int) -> list[str]:
    """The system resolver (getaddrinfo in a thread), each address once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens every TCP connection to an address it resolved and vetted itself.

    httpcore would hand the host name to the socket layer, which resolves it
    again: a name that answers "public" to a check and "127.0.0.1" a moment
    later (DNS rebinding) would get a request through. Here the name is resolved
    once per connection, every address is vetted (when private addresses are
    refused), and only those addresses are connected to. httpcore still does
    TLS with the host name, so SNI and certificate checks are for the name, and
    the request keeps its Host header; its pool stays keyed by scheme, host and
    port, so keep-alive connections are reused only for the host they were
    vetted for. Every redirect hop to a new host is a new connection.
    """

    def __init__(self, resolver: Resolver, *, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._sockets = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._vetted_addresses(host, port, timeout)

        async def connect(address: str) -> httpcore.AsyncNetworkStream:
            return await self._sockets.connect_tcp(
                address,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )

        return await _connect_first(addresses, connect)

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)

    async def _vetted_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            addresses = [ipaddress.ip_address(host).compressed]
        except ValueError:
            try:
                async with asyncio.timeout(timeout):
                    addresses = await self._resolver(host, port)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
            except OSError as exc:
                raise httpcore.ConnectError(
                    f"cannot resolve {host}: {exc.strerror or exc}"
                ) from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        if not self._allow_private:
            for address in addresses:
                if not is_public_address(address):
                    problem = f"it resolves to non-public address {address}"
                    raise BlockedAddress(host, f"refused to fetch {host}: {problem}")
        return _happy_eyeballs_order(addresses)


HAPPY_EYEBALLS_DELAY = 0.25  # seconds before racing the next address (RFC 8305)


def _happy_eyeballs_order(addresses: list[str]) -> list[str]:
    """The first IPv6 address, then the first IPv4 one, then the rest in order (as anyio)."""
    first_v6 = next((a for a in addresses if ":" in a), None)
    first_v4 = next((a for a in addresses if ":" not in a), None)
    head = [a for a in (first_v6, first_v4) if a is not None]
    return head + [a for a in addresses if a not in head]


async def _connect_first(
    addresses: list[str],
    connect: Callable[[str], Coroutine[Any, Any, httpcore.AsyncNetworkStream]],
) -> httpcore.AsyncNetworkStream:
    """Race connections to ``addresses`` (Happy Eyeballs): the next attempt starts when
    the last one fails or after :data:`HAPPY_EYEBALLS_DELAY`; the first to connect wins
    and every other attempt is cancelled or closed.

    This is what the socket layer would do with the name; it has to be done here
    because only these (vetted) addresses may be tried.
    """
    waiting = list(addresses)
    attempts: list[asyncio.Task[httpcore.AsyncNetworkStream]] = []
    errors: list[Exception] = []
    winner: httpcore.AsyncNetworkStream | None = None
    try:
        while winner is None and (waiting or any(not t.done() for t in attempts)):
            if waiting:
                attempts.append(asyncio.create_task(connect(waiting.pop(0))))
            running = {t for t in attempts if not t.done()}
            done, _ = await asyncio.wait(
                running,
                timeout=HAPPY_EYEBALLS_DELAY if waiting else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                error = task.exception()
                if error is None:
                    winner = winner or task.result()
                elif isinstance(error, Exception):
                    errors.append(error)
                else:
                    raise error
    finally:
        losers = [t for t in attempts if not t.done()]
        for task in losers:
            task.cancel()
        await asyncio.gather(*losers, return_exceptions=True)
        for task in attempts:
            if not task.cancelled() and task.exception() is None and task.result() is not winner:
                await task.result().aclose()
    if winner is not None:
        return winner
    if len(errors) == 1:
        raise errors[0]
    raise httpcore.ConnectError(
        f"all {len(errors)} addresses failed: " + "; ".join(str(e) for e in errors)
    ) from errors[0]


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, over a pool whose connections go through _PinnedBackend.

    httpx 0.28 takes no network backend (encode/httpx#3749 proposes a
    parameter), so the httpcore pool it builds is replaced by one with the same
    settings and the backend; httpx still maps the requests, responses and
    httpcore's errors.
    """

    def __init__(
        self, backend: _PinnedBackend, *, limits: httpx.Limits, verify: ssl.SSLContext | bool
    ) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class HttpFetcher:
    """Fetches URLs under an :class:`HttpPolicy`. One per run; close it with ``aclose``."""

    def __init__(
        self,
        policy: HttpPolicy,
        *,
        resolver: Resolver = resolve_system,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``resolver`` and ``verify`` (the TLS trust) are seams for tests."""
        self.policy = policy
        backend = _PinnedBackend(resolver, allow_private=policy.allow_private)
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(policy.timeout),
            transport=_PinnedTransport(
                backend,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                verify=verify,
            ),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(policy.per_host)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET with conditional headers; raises a FetchError subclass on any failure."""
        try:
            async with asyncio.timeout(self.policy.timeout) as deadline:
                return await self._follow(url, etag, last_modified, accept, deadline)
        except TimeoutError:
            raise FetchTimeout(
                url, f"no complete answer within {self.policy.timeout:g} s"
            ) from None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> FetchResult:
        """One request of any method (a JSON body when given), whole within the deadline
        and the size limit, redirects not followed: an answer of any status comes back
        for the caller to judge (an API client reads its error bodies).

        Raises:
            FetchTimeout: no whole answer within the deadline.
            ResponseTooLarge: the body is over the limit (counted after decompression).
            FetchError: the connection failed, or the URL is not http(s).
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"will not send to a {scheme or 'relative'}: URL ({url})")
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await self._send_once(method, url, headers or {}, json_body)
        except TimeoutError:
            raise FetchTimeout(
                url, f"no complete answer within {self.policy.timeout:g} s"
            ) from None

    async def _send_once(
        self, method: str, url: str, headers: Mapping[str, str], json_body: Any
    ) -> FetchResult:
        try:
            request = self._client.build_request(method, url, headers=headers, json=json_body)
            response = await self._client.send(request, stream=True)
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL {url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeout(url, f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        try:
            body = b"" if method == "HEAD" else await self._read_limited(url, response)
            return FetchResult(
                requested_url=url,
                final_url=url,
                status=response.status_code,
                headers=_lower(response.headers),
                content=body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                permanent_redirect=None,
            )
        finally:
            await response.aclose()

    async def _follow(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        deadline: asyncio.Timeout,
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        seen = {url}
        all_permanent = True
        for _hop in range(self.policy.max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in ("http", "https"):
                raise FetchError(url, f"will not fetch a {scheme or 'relative'}: URL ({current})")
            host = (urlsplit(current).hostname or "").lower()
            slot = self._host_slots[host]
            if slot.locked():
                # Queueing behind other requests to the same host is not this feed's
                # fault: the deadline stands still until a slot is free.
                loop = asyncio.get_running_loop()
                remaining = (deadline.when() or loop.time()) - loop.time()
                deadline.reschedule(None)
                await slot.acquire()
                deadline.reschedule(loop.time() + remaining)
            else:
                await slot.acquire()
            try:
                result = await self._one_request(url, current, headers)
            finally:
                slot.release()
            if isinstance(result, FetchResult):
                permanent = current if current != url and all_permanent else None
                return replace(result, requested_url=url, permanent_redirect=permanent)
            status, location = result
            all_permanent = all_permanent and status in PERMANENT_REDIRECTS
            target = urljoin(current, location)
            if target in seen:
                raise TooManyRedirects(url, f"redirect loop at {target}")
            seen.add(target)
            current = target
        raise TooManyRedirects(url, f"more than {self.policy.max_redirects} redirects")

    async def _one_request(
        self, original: str, url: str, headers: Mapping[str, str]
    ) -> FetchResult | tuple[int, str]:
        try:
            request = self._client.build_request("GET", url, headers=headers)
            response = await self._client.send(request, stream=True)
        except BlockedAddress as exc:
            raise BlockedAddress(original, str(exc)) from None
        except httpx.InvalidURL as exc:
            # httpx also parses a redirect's Location here, even when not following it.
            raise FetchError(original, f"invalid URL or redirect Location at {url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeout(original, f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(
                original, f"{type(exc).__name__}: {exc or 'connection failed'}"
            ) from exc
        try:
            status = response.status_code
            if status in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise HTTPStatusError(original, status, f"HTTP {status} without a Location")
                return status, location
            if status == 304:
                return FetchResult(
                    requested_url=original,
                    final_url=url,
                    status=304,
                    headers=_lower(response.headers),
                    content=None,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    permanent_redirect=None,
                )
            if not 200 <= status < 300:
                retry_after = parse_retry_after(response.headers.get("retry-after"), utc_now())
                reason = response.reason_phrase or ""
                raise HTTPStatusError(
                    original, status, f"HTTP {status} {reason}".strip(), retry_after
                )
            body = await self._read_limited(original, response)
            return FetchResult(
                requested_url=original,
                final_url=url,
                status=status,
                headers=_lower(response.headers),
                content=body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                permanent_redirect=None,
            )
        finally:
            await response.aclose()

    async def _read_limited(self, original: str, response: httpx.Response) -> bytes:
        """Read the body, decompressing ourselves with a bounded output size.

        httpx would inflate each network chunk whole, so one 64 KiB chunk of a
        gzip bomb could become tens of megabytes before we could count it. Here
        zlib never produces more than the bytes still allowed.
        """
        limit = self.policy.max_bytes
        declared = whole_number(response.headers.get("content-length"))
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        if declared is not None and coding == "identity" and declared > limit:
            raise ResponseTooLarge(original, f"body of {declared} bytes is over {limit}")
        decoder = BoundedDecoder(original, coding, limit)
        try:
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
        except httpx.TimeoutException as exc:
            raise FetchTimeout(original, "timed out reading the body") from exc
        except httpx.HTTPError as exc:
            raise FetchError(original, f"reading the body failed: {type(exc).__name__}") from exc
        return decoder.finish()


class BoundedDecoder:
    """Incremental identity/gzip/deflate decoding that stops at ``limit`` output bytes."""

    def __init__(self, url: str, coding: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        codings = [c.strip() for c in coding.split(",") if c.strip() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(url, f"unsupported Content-Encoding {coding!r}")
        self.coding = codings[0] if codings else "identity"
        self._zlib: zlib._Decompress | None = None
        self._raw_deflate = False
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        self._first = True

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise ResponseTooLarge(
                self.url, f"body is over the limit of {self.limit} bytes (decompressed)"
            )
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._zlib is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            room = self.limit - self.size + 1
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error as exc:
                if self.coding == "deflate" and self._first:
                    # Some servers send raw deflate without the zlib header.
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise FetchError(self.url, f"body could not be decompressed: {exc}") from exc
            self._first = False
            self._add(out)
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                break

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._add(self._zlib.flush())
            except zlib.error as exc:
                raise FetchError(self.url, f"body could not be decompressed: {exc}") from exc
        return b"".join(self.parts)


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


@dataclass(frozen=True, slots=True)
class PostAnswer:
    """What a server said to a POST: its status and the start of its body."""

    status: int
    text: str  # at most ``max_bytes`` of the answer, decoded leniently

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def post_json(url: str, payload: object, *, timeout: float, max_bytes: int = 16384) -> PostAnswer:
    """POST ``payload`` as JSON to an address the operator configured (a chat
    webhook): one deadline for the whole exchange (slow headers and bodies
    included), no redirects, bounded decompression, at most ``max_bytes`` of the
    answer. Errors never name the URL, which may itself be a secret.

    Raises:
        ConnectFailed: no connection could be made: nothing was sent.
        FetchTimeout: the post went out (or may have) but no whole answer came
            within ``timeout``: the other side may have it.
        FetchError: it answered at more than ``max_bytes``: it may have it too.
    """
    host = urlsplit(url).hostname or "the server"
    policy = HttpPolicy(timeout=timeout, max_bytes=max_bytes, max_redirects=0, per_host=1)

    async def post() -> FetchResult:
        async with HttpFetcher(policy) as fetcher:
            return await fetcher.request("POST", url, json_body=payload)

    try:
        answer = asyncio.run(post())
    except ResponseTooLarge:
        # It answered, at a length no webhook answers with: whether the post was taken
        # cannot be read from it, so the caller must treat it as possibly delivered.
        raise FetchError(host, f"{host} answered with more than {max_bytes} bytes") from None
    except FetchError as exc:
        if isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout):
            raise ConnectFailed(host, f"could not connect to {host}") from None
        raise FetchTimeout(host, f"no whole answer from {host} within {timeout:g} s") from None
    content = answer.content or b""
    return PostAnswer(answer.status, content[:max_bytes].decode("utf-8", "replace"))
