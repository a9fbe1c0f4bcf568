"""Bluesky as a suggestion channel: the only module that imports the atproto SDK.

The SDK's ``Client`` does the XRPC calls, the session and its refresh; it is
given our own httpx transport (:class:`BoundedTransport`), so every request has
one deadline for the whole exchange and a size limit counted after
decompression.

**The session is kept, not recreated.** Bluesky allows 30 logins per 5 minutes
and 300 a day, so the bot logs in with the app password once and keeps the
session (its access and refresh tokens) in the database (``source_state``,
key ``session``). Each run imports it; the SDK refreshes the access token
before it expires (``refreshSession``) and the refreshed session is stored with
the next page. Only when the server refuses the saved session (expired or
revoked refresh token) does the bot log in again, once per run.

Reading (``app.bsky.notification.listNotifications``, reasons ``mention`` and
``reply``, newest first, paged by cursor): the floor is the ``indexedAt`` of
the newest notification of the last finished sweep, or on the first run the
time ``first_run_days`` back. Rate limits (``RateLimit-Remaining``/``-Reset``)
are honoured: with no requests left, the next call waits for a near reset or
stops the run, keeping its place.

The app password comes only from ``ROUNDUP_BLUESKY_APP_PASSWORD``; neither it
nor the session's tokens ever appear in messages or logs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from atproto_client import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    InvokeTimeoutError,
    ModelError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.utils import get_model_as_dict
from atproto_client.request import Request
from atproto_client.utils import facet_detection

from roundup_bot import __version__
from roundup_bot.adapters.bounded_requests import MAX_ANSWER_BYTES
from roundup_bot.adapters.retrying import CallPolicy, RateLimited, Transient, call, rate_limit_wait
from roundup_bot.core.bluesky_posts import REASONS, mention_spans, parse_notifications
from roundup_bot.core.channels import ChannelPage, ReadPlace, ReplyTarget
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.errors import (
    ChannelAuthError,
    ChannelBadResponse,
    ChannelError,
    ChannelMaybePosted,
    ChannelRequestError,
    ConfigError,
    MalformedNotifications,
)
from roundup_bot.core.records import LinkCard
from roundup_bot.core.suggestion_rules import parse_time

log = logging.getLogger(__name__)

ENV_PASSWORD = "ROUNDUP_BLUESKY_APP_PASSWORD"  # noqa: S105 - the variable's name
PAGE_LIMIT = 50
MAX_POST_CHARS = 300  # Bluesky counts graphemes; characters are never fewer
SESSION = "session"  # the state key of the saved session (tokens: never shown)
SESSION_FOR = "session_for"
#: XRPC errors that mean "this session is no good any more: log in again".
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})


@dataclass(frozen=True)
class BlueskyCredentials:
    """The app password from the environment. ``repr`` never shows it."""

    app_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BlueskyCredentials:
        return cls(environ.get(ENV_PASSWORD, "").strip() or None)

    def require(self) -> str:
        if not self.app_password:
            raise ConfigError(
                ENV_PASSWORD,
                None,
                "not set: the Bluesky channel needs an app password for the bot's account"
                " (Settings > Privacy and security > App passwords)",
            )
        return self.app_password


@dataclass(frozen=True, slots=True)
class BlueskyOptions:
    handle: str
    service: str = "https://bsky.social"
    timeout: float = 20.0
    max_rate_limit_wait: float = 60.0
    retries: int = 3
    retry_backoff: float = 1.0
    max_answer_bytes: int = MAX_ANSWER_BYTES


class AnswerTooLarge(httpx.TransportError):
    """The answer went past the size limit (after decompression)."""


class _Deadline(threading.local):
    at: float | None = None  # time.monotonic() by which this thread's exchange must end

    def within(self, timeout: float | None, error: type[Exception]) -> float | None:
        """The socket timeout for the next wait: ``timeout`` shortened to the time left."""
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise error("the deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait (TLS handshake, write, read) ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.within(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.within(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = self._deadline.within(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, wait), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sockets, each wait shortened to the time left before the deadline.

    httpx's timeouts bound each wait for bytes, so a server that drips its status
    line and headers a byte at a time, each inside the timeout, would never be cut
    off; measuring every wait against the one deadline ends the whole exchange
    (connect, headers, body) on time, with httpx's own timeout errors."""

    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        wait = self._deadline.within(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, wait, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class BoundedTransport(httpx.BaseTransport):
    """httpx's transport, ending each exchange by one deadline (connect, headers and
    body alike), reading the answer under a size limit (decompressed here, so a gzip
    bomb stops at the limit), and remembering the rate-limit headers of the last answer.

    httpx 0.28 takes no network backend (encode/httpx#3749), so, as in
    adapters/http.py, the httpcore pool it builds is replaced by one with the
    deadline backend; httpx still maps the requests, responses and errors."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self._deadline = _Deadline()
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's
        self._inner = httpx.HTTPTransport(limits=limits)
        self._inner._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(self._deadline),
        )
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.timeout
        self._deadline.at = deadline
        try:
            return self._exchange(request, deadline)
        finally:
            self._deadline.at = None

    def _exchange(self, request: httpx.Request, deadline: float) -> httpx.Response:
        response = self._inner.handle_request(request)
        streamed = httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=response.stream,
            request=request,
        )
        body = bytearray()
        try:
            for chunk in streamed.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise AnswerTooLarge(f"more than {self.max_bytes // 1024 // 1024} MiB")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"the answer took more than {self.timeout:g} s", request=request
                    )
        finally:
            streamed.close()
        self._remember(response.headers)
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=request
        )

    def _remember(self, headers: httpx.Headers) -> None:
        with self._lock:
            remaining, reset = headers.get("ratelimit-remaining"), headers.get("ratelimit-reset")
            self.remaining = int(remaining) if remaining and remaining.isdigit() else None
            self.reset_at = float(reset) if reset and reset.isdigit() else None

    def close(self) -> None:
        self._inner.close()


class BlueskyChannel:
    """Mentions of and replies to the bot's Bluesky account (a SuggestionChannel)."""

    name = "bluesky"
    platform = "bluesky"
    max_posts_per_month = 0  # Bluesky does not bill reading

    def __init__(
        self,
        credentials: BlueskyCredentials,
        options: BlueskyOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_now,
    ) -> None:
        self.options = options
        self._password = credentials.require()
        self._sleep = sleep
        self._clock = clock
        self._policy = CallPolicy(
            options.retries, options.retry_backoff, options.max_rate_limit_wait
        )
        self._transport = BoundedTransport(options.timeout, options.max_answer_bytes)
        request = Request(transport=self._transport, timeout=httpx.Timeout(options.timeout))
        request.add_additional_header("User-Agent", f"roundup-bot/{__version__}")
        self._client = Client(options.service, request=request)
        self._client.on_session_change(self._session_changed)
        self._session: str | None = None
        self._dirty = False
        self._logged_in_this_run = False
        self.did: str | None = None

    def _epoch(self) -> float:
        """Now in epoch seconds: what retrying.call and the rate-limit headers count in."""
        return self._clock().timestamp()

    @property
    def _session_for(self) -> str:
        return f"{self.options.handle} {self.options.service}"

    # -- the channel ----------------------------------------------------------------

    def start(self, state: Mapping[str, str | None]) -> dict[str, str | None]:
        saved = state.get(SESSION)
        if saved and state.get(SESSION_FOR) == self._session_for:
            try:
                self._client.login(session_string=saved, fetch_bsky_profile=False)
            except (AtProtocolError, ValueError):
                log.warning("Bluesky: the saved session is unreadable; logging in again")
                self._login()
        else:
            self._login()
        session = self._client._session
        self.did = session.did if session is not None else None
        return {
            **self.saved_state(),
            "user_id": self.did,
            "account": "@" + self.options.handle,
        }

    def read_page(self, place: ReadPlace, limit: int) -> ChannelPage:
        floor = parse_time(place.floor_id) if place.floor_id else place.floor_time
        params: dict[str, Any] = {"limit": max(1, min(PAGE_LIMIT, limit)), "reasons": list(REASONS)}
        if place.cursor:
            params["cursor"] = place.cursor
        answer = self._call(
            "notifications",
            lambda: self._client.app.bsky.notification.list_notifications(params=params),
        )
        try:
            reading = parse_notifications(get_model_as_dict(answer), own_did=self.did, floor=floor)
        except (MalformedNotifications, ModelError, TypeError, ValueError) as exc:
            raise ChannelBadResponse(f"Bluesky notifications: malformed page: {exc}") from exc
        done = reading.reached_floor or reading.cursor is None or reading.notifications == 0
        return ChannelPage(
            suggestions=reading.suggestions,
            mentions=reading.mentions,
            posts=reading.notifications,
            newest_id=reading.newest_at,
            next_cursor=None if done else reading.cursor,
            skipped=reading.skipped,
        )

    def reply(self, target: ReplyTarget, text: str) -> str:
        """Reply in the suggester's thread (Bluesky notifies the parent's author)."""
        ref = _ref(target.reply_ref)
        cid = ref.get("cid")
        if not isinstance(cid, str):
            raise ChannelRequestError(f"Bluesky reply to {target.post_url}: no record cid stored")
        parent = models.ComAtprotoRepoStrongRef.Main(uri=target.post_id, cid=cid)
        root_uri, root_cid = ref.get("root_uri"), ref.get("root_cid")
        root = (
            models.ComAtprotoRepoStrongRef.Main(uri=root_uri, cid=root_cid)
            if isinstance(root_uri, str) and isinstance(root_cid, str)
            else parent
        )
        body = text[:MAX_POST_CHARS]
        made = self._call(
            "reply",
            lambda: self._client.send_post(
                body,
                profile_identify=self.did,
                reply_to=models.AppBskyFeedPost.ReplyRef(parent=parent, root=root),
                facets=facet_detection.detect_facets(body) or None,
            ),
            retry=False,
            posting=True,
        )
        return str(getattr(made, "uri", ""))

    def announce(
        self, text: str, *, card: LinkCard | None, key: str, mentions: Mapping[str, str]
    ) -> str:
        """Post the round-up's announcement with a link card built from ``card``
        (Bluesky makes none itself); ``mentions`` (handle -> DID) become mention
        facets, so the people thanked are notified."""
        body = text[:MAX_POST_CHARS]
        embed = None
        if card is not None:
            thumb = None
            if card.image:
                data = card.image
                uploaded = self._call(
                    "image upload", lambda: self._client.upload_blob(data), retry=False
                )
                thumb = getattr(uploaded, "blob", None)
            embed = models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=card.url,
                    title=card.title or card.url,
                    description=card.description or "",
                    thumb=thumb,
                )
            )
        facets = list(facet_detection.detect_facets(body) or [])
        for start, end, did in mention_spans(body, mentions):
            facets.append(
                models.AppBskyRichtextFacet.Main(
                    features=[models.AppBskyRichtextFacet.Mention(did=did)],
                    index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
                )
            )
        made = self._call(
            "announcement",
            lambda: self._client.send_post(
                body, profile_identify=self.did, embed=embed, facets=facets or None
            ),
            retry=False,
            posting=True,
        )
        return str(getattr(made, "uri", ""))

    def saved_state(self) -> dict[str, str | None]:
        if not self._dirty or self._session is None:
            return {}
        self._dirty = False
        return {SESSION: self._session, SESSION_FOR: self._session_for}

    def close(self) -> None:
        self._client.request.close()

    # -- the session ----------------------------------------------------------------

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self._session = session.export()
        self._dirty = True
        if event == SessionEvent.REFRESH:
            log.info("Bluesky: the session was refreshed (stored)")

    def _login(self) -> None:
        if self._logged_in_this_run:
            raise ChannelAuthError(
                "Bluesky: the server refused a fresh session too: check the handle and"
                f" {ENV_PASSWORD}"
            )
        self._logged_in_this_run = True
        log.info("Bluesky: logging in as @%s (the session is then kept)", self.options.handle)
        self._call(
            "login",
            lambda: self._client.login(
                self.options.handle, self._password, fetch_bsky_profile=False
            ),
            relogin=False,
        )

    # -- calls ----------------------------------------------------------------------

    def _call(
        self,
        what: str,
        request: Callable[[], Any],
        *,
        retry: bool = True,
        relogin: bool = True,
        posting: bool = False,
    ) -> Any:
        """One SDK call. ``posting``: it makes a post, so a failure after the request
        went out is ChannelMaybePosted (the post may be there), never a plain error."""
        label = f"Bluesky {what}"
        self._wait_for_budget(label)
        try:
            return call(
                label,
                request,
                lambda exc: self._translate(label, exc, posting),
                self._policy,
                sleep=self._sleep,
                clock=self._epoch,
                retry=retry,
            )
        except _SessionRefused:
            if not relogin:
                raise ChannelAuthError(
                    f"{label}: the app password was refused: check the handle and {ENV_PASSWORD}",
                    401,
                ) from None
            log.warning("Bluesky: the saved session was refused; logging in again")
            self._login()
            return call(
                label,
                request,
                lambda exc: self._translate(label, exc, posting),
                self._policy,
                sleep=self._sleep,
                clock=self._epoch,
                retry=retry,
            )

    def _wait_for_budget(self, label: str) -> None:
        remaining, reset = self._transport.remaining, self._transport.reset_at
        if remaining is None or remaining > 0 or reset is None or reset <= self._epoch():
            return
        wait = rate_limit_wait(label, reset, 0, self._policy, self._epoch())
        log.warning("%s: no requests left; waiting %.0f s for the reset", label, wait)
        self._sleep(wait)

    def _translate(self, label: str, exc: Exception, posting: bool = False) -> Exception:
        if posting and _may_have_posted(exc):
            return ChannelMaybePosted(
                f"{label}: sent, but no answer came back ({_lost_why(exc)}); it may have"
                " been posted, so it is not sent again: check the account"
            )
        if isinstance(exc, RateLimitExceededError):
            reset = exc.reset_at
            return RateLimited(reset.timestamp() if reset is not None else None)
        if isinstance(exc, InvokeTimeoutError):
            return Transient(f"no answer within {self.options.timeout:g} s")
        if isinstance(exc, NetworkError):
            status = _status(exc)
            if status in (409, 413):
                return ChannelRequestError(f"{label}: refused (HTTP {status})", status)
            return Transient(f"HTTP {status}" if status else "connection failed")
        if isinstance(exc, AnswerTooLarge):
            return ChannelBadResponse(f"{label}: the answer is too large ({exc})")
        if isinstance(exc, (UnauthorizedError, BadRequestError)):
            if _error_name(exc) in SESSION_ERRORS or isinstance(exc, UnauthorizedError):
                return _SessionRefused(str(exc))
            return ChannelRequestError(f"{label}: request refused ({_said(exc)})", 400)
        if isinstance(exc, RequestErrorBase):
            status = _status(exc)
            if status is not None and status >= 500:
                return Transient(f"HTTP {status}")
            return ChannelError(f"{label}: unexpected answer ({_said(exc)})", status)
        if isinstance(exc, (ModelError, AtProtocolError, ValueError, TypeError, KeyError)):
            # The SDK validates answers against the lexicon and trips over odd shapes.
            return ChannelBadResponse(f"{label}: unexpected answer ({type(exc).__name__})")
        if isinstance(exc, httpx.HTTPError):
            return Transient(f"connection failed ({type(exc).__name__})")
        return exc


def _may_have_posted(exc: BaseException) -> bool:
    """False only for failures known to come before the post was made: no connection
    (refused, or no connection within the deadline) or an HTTP error answer."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        return not 400 <= exc.response.status_code < 600
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return False
        seen = seen.__cause__ or seen.__context__
    return True


def _lost_why(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TimeoutException):
            return "timed out"
        if isinstance(seen, httpx.HTTPError):
            return f"connection lost ({type(seen).__name__})"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


class _SessionRefused(ChannelAuthError):
    """The server refused the session's tokens (expired, revoked): log in again."""


def _status(exc: RequestErrorBase) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def _error_name(exc: RequestErrorBase) -> str | None:
    content = exc.response.content if exc.response is not None else None
    return str(getattr(content, "error", "") or "") or None


def _said(exc: RequestErrorBase) -> str:
    status = _status(exc)
    content = exc.response.content if exc.response is not None else None
    error, message = getattr(content, "error", None), getattr(content, "message", None)
    words = ": ".join(str(p) for p in (error, message) if p) or "no details"
    return f"HTTP {status}: {' '.join(words.split())[:200]}"


def _ref(value: str | None) -> dict[str, Any]:
    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
