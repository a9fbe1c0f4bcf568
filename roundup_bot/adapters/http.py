"""The one HTTP client roundup-bot uses to fetch from the outside world.

Every request it makes has an overall deadline (connect, redirects and a body
that drips a byte at a time all count against it), a size limit counted after
decompression (so a gzip bomb stops at the limit), a bounded number of
redirects followed one hop at a time, and a User-Agent that names roundup-bot.
When private addresses are not allowed, every hop's host is resolved and
refused if any address is private, loopback, link-local or otherwise not
globally routable; that check runs before each connection is made.

Concurrency is bounded overall by the caller and per host here, so a batch of
feeds never hammers one server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from roundup_bot.core.errors import (
    BlockedAddress,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
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
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


async def check_public_host(url: str) -> None:
    """Raise BlockedAddress unless every address of the URL's host is public."""
    host = urlsplit(url).hostname
    if not host:
        raise BlockedAddress(url, f"no host in {url}")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(url, f"cannot resolve {host}: {exc.strerror}") from exc
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            raise BlockedAddress(
                url, f"refused to fetch {host}: it resolves to non-public address {address}"
            )


def _check_peer(original: str, url: str, response: httpx.Response) -> None:
    """Refuse the answer if the connection actually went to a non-public address.

    The host was checked before connecting, but DNS may answer differently the
    second time (rebinding); this checks the address really connected to, before
    any of the body is read or any redirect is followed.
    """
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        host = urlsplit(url).hostname
        raise BlockedAddress(
            original, f"refused to fetch {host}: it connected to non-public address {peer[0]}"
        )


class HttpFetcher:
    """Fetches URLs under an :class:`HttpPolicy`. One per run; close it with ``aclose``."""

    def __init__(self, policy: HttpPolicy, client: httpx.AsyncClient | None = None) -> None:
        self.policy = policy
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(policy.timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
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
            if not self.policy.allow_private:
                await check_public_host(current)
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
            if not self.policy.allow_private:
                _check_peer(original, url, response)
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
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), datetime.now(UTC)
                )
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
        declared = response.headers.get("content-length")
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        if declared and declared.isdigit() and coding == "identity" and int(declared) > limit:
            raise ResponseTooLarge(original, f"body of {int(declared)} bytes is over {limit}")
        decoder = _BoundedDecoder(original, coding, limit)
        try:
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
        except httpx.TimeoutException as exc:
            raise FetchTimeout(original, "timed out reading the body") from exc
        except httpx.HTTPError as exc:
            raise FetchError(original, f"reading the body failed: {type(exc).__name__}") from exc
        return decoder.finish()


class _BoundedDecoder:
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
