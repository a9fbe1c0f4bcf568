"""The X API adapter: the only module that imports tweepy.

tweepy's ``Client`` is used for what it does well (endpoint paths, parameter
names, OAuth 1.0a signing) and kept away from three habits that do not suit
an unattended, pay-per-use job:

* It sends every request to the fixed host ``https://api.twitter.com``
  (``BaseClient.request`` in tweepy/client.py). We give the client our own
  ``requests.Session`` (``Client.session`` is a documented attribute) that
  sends those requests to ``[twitter] api_base_url`` instead: X's own host by
  default, an API-compatible proxy, or the tests' local fake.
* It sets no timeout; the same session gives every request one.
* With ``wait_on_rate_limit`` it sleeps on every 429, including a monthly
  usage cap that no waiting clears. We leave that off and decide here: wait
  when the reset is near, otherwise stop and say when to come back.

Server errors and timeouts are retried a few times with exponential backoff
(tenacity); everything else becomes one of the :class:`XApiError` subclasses
drawn below (defined with the rest of the tree in roundup_bot.core.errors),
each with a one-line message naming the likely cause. Credentials come only
from the environment and never appear in messages or logs.

Errors::

    ChannelError (each X error is also the matching Channel* error)
    └── XApiError
        ├── XLimitError         stopped by a limit; the place is kept (exit status 4)
        │   ├── XRateLimited    a 429 rate limit with a reset too far away
        │   └── XUsageCapped    a 429 usage cap, or 402 credits depleted
        ├── XAuthError          401/403: bad token, app outside a Project, plan without access
        ├── XRequestError       another 4xx (an expired pagination token, no such user)
        ├── XUnavailable        5xx or timeouts, still failing after the retries
        └── XBadResponse        the body is not the JSON we asked for
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import requests
import tenacity
import tweepy
from tweepy.errors import HTTPException, TooManyRequests, TwitterServerError

from roundup_bot import __version__
from roundup_bot.adapters.bounded_requests import (
    MAX_ANSWER_BYTES,
    AnswerTooLarge,
    BoundedSession,
    may_have_been_sent,
)
from roundup_bot.core.channels import ChannelPage, ReadPlace, ReplyTarget
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.errors import (
    ConfigError,
    MalformedPage,
    XApiError,
    XAuthError,
    XBadResponse,
    XMaybePosted,
    XRateLimited,
    XRequestError,
    XUnavailable,
    XUsageCapped,
)
from roundup_bot.core.records import LinkCard
from roundup_bot.core.suggestion_rules import parse_page

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The host tweepy 4.x writes into every request URL (tweepy/client.py).
TWEEPY_HOST = "https://api.twitter.com"
DEFAULT_BASE_URL = "https://api.x.com"
ENV_BEARER = "ROUNDUP_TWITTER_BEARER_TOKEN"
ENV_OAUTH1 = (
    "ROUNDUP_TWITTER_CONSUMER_KEY",
    "ROUNDUP_TWITTER_CONSUMER_SECRET",
    "ROUNDUP_TWITTER_ACCESS_TOKEN",
    "ROUNDUP_TWITTER_ACCESS_TOKEN_SECRET",
)
MENTION_EXPANSIONS = ("author_id", "referenced_tweets.id", "referenced_tweets.id.author_id")
MENTION_TWEET_FIELDS = (
    "author_id",
    "created_at",
    "entities",
    "note_tweet",
    "referenced_tweets",
    "conversation_id",
)
MENTION_USER_FIELDS = ("username", "name")
MAX_RATE_LIMIT_WAITS = 2  # per request: after that the run stops and keeps its place


@dataclass(frozen=True)
class XCredentials:
    """Secrets from the environment. ``repr`` never shows them."""

    bearer_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_token_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> XCredentials:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(get(ENV_BEARER), *(get(name) for name in ENV_OAUTH1))

    def require_reading(self) -> None:
        """Raises ConfigError unless a bearer token is set."""
        if not self.bearer_token:
            raise ConfigError(
                ENV_BEARER, None, "not set: the X source needs an app bearer token to read"
            )

    def require_posting(self) -> None:
        """Raises ConfigError naming every OAuth 1.0a variable that is missing."""
        values = (
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        )
        missing = [name for name, value in zip(ENV_OAUTH1, values, strict=True) if not value]
        if missing:
            raise ConfigError(
                ", ".join(missing),
                None,
                "not set: [twitter] thank_suggesters posts replies, which needs the"
                " account's OAuth 1.0a keys",
            )


@dataclass(frozen=True, slots=True)
class XApiOptions:
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 20.0  # seconds for a whole request: connecting, waiting, reading the answer
    max_rate_limit_wait: float = 60.0  # seconds we wait for a rate-limit reset at most
    retries: int = 3  # after a 5xx or a timeout
    retry_backoff: float = 1.0  # seconds before the first retry; doubles, 30 s at most
    max_answer_bytes: int = MAX_ANSWER_BYTES  # after decompression


class _XSession(BoundedSession):
    """Sends tweepy's requests to the configured base URL, each under one deadline
    and size limit (see roundup_bot.adapters.bounded_requests)."""

    def __init__(self, base_url: str, timeout: float, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        super().__init__(timeout, max_bytes)
        self.base_url = base_url.rstrip("/")

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if isinstance(url, str) and url.startswith(TWEEPY_HOST + "/"):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        return super().request(method, url, *args, **kwargs)


class _HideCredentials(logging.Filter):
    """tweepy logs every request's headers at DEBUG, the bearer token included;
    requests-oauthlib and oauthlib log the consumer key and access token (as
    ``client_key=…``, in parameter lists and in the percent-encoded base string).
    The patterns catch the usual shapes; every credential an XApi was given is
    also hidden wherever it appears, however it is quoted."""

    _bearer = re.compile(r"(Bearer\s+)[^\s'\",}]+")
    _oauth = re.compile(r"(oauth_(?:consumer_key|token|signature)=)[^\s'\",&]+")
    values: ClassVar[set[str]] = set()  # class-wide: the filter outlives any one XApi

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = self._oauth.sub(r"\1***", self._bearer.sub(r"\1***", message))
        for value in self.values:
            hidden = hidden.replace(value, "***")
        if hidden != message:
            record.msg, record.args = hidden, None
        return True

    @classmethod
    def remember(cls, credentials: XCredentials) -> None:
        for value in (
            credentials.bearer_token,
            credentials.consumer_key,
            credentials.consumer_secret,
            credentials.access_token,
            credentials.access_token_secret,
        ):
            if value and len(value) >= 4:  # never blank out every "a" in a log line
                cls.values.update({value, quote(value, safe=""), quote(quote(value, safe=""))})


def _guard_library_logs() -> None:
    hide = _HideCredentials()
    for name in (
        "tweepy.client",
        "requests_oauthlib.oauth1_auth",
        "oauthlib.oauth1.rfc5849",
        "oauthlib.oauth1.rfc5849.signature",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideCredentials) for f in logger.filters):
            logger.addFilter(hide)


_guard_library_logs()


class _Transient(Exception):
    """A failure worth retrying (5xx, timeout, dropped connection)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class XApi:
    """The few X API v2 calls roundup-bot makes. One per run; not thread-safe."""

    def __init__(
        self,
        credentials: XCredentials,
        options: XApiOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_now,
    ) -> None:
        self.options = options
        self._sleep = sleep
        self._clock = clock
        self._credentials = credentials
        _HideCredentials.remember(credentials)
        self._client = self._make_client(credentials)

    def _make_client(self, credentials: XCredentials) -> tweepy.Client:
        client = tweepy.Client(
            bearer_token=credentials.bearer_token,
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
            return_type=dict,
            wait_on_rate_limit=False,
        )
        client.session = _XSession(
            self.options.base_url, self.options.timeout, self.options.max_answer_bytes
        )
        client.user_agent = f"roundup-bot/{__version__} {client.user_agent}"
        return client

    def close(self) -> None:
        self._client.session.close()

    def lookup_user_id(self, username: str) -> str:
        """The numeric id of @username (GET /2/users/by/username/:username)."""
        name = username.lstrip("@")
        body = self._call(
            "user lookup", lambda: self._client.get_user(username=name), auth="bearer"
        )
        data = body.get("data")
        if isinstance(data, Mapping) and data.get("id") is not None:
            return str(data["id"])
        problem = _problem_text(body) or "no data in the answer"
        raise XRequestError(f"X found no account @{name}: {problem}")

    def mentions(
        self,
        user_id: str,
        *,
        since_id: str | None = None,
        start_time: datetime | None = None,
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        """One page of GET /2/users/:id/mentions, newest first, as parsed JSON."""
        params: dict[str, Any] = {
            "max_results": max(5, min(100, max_results)),
            "expansions": list(MENTION_EXPANSIONS),
            "tweet_fields": list(MENTION_TWEET_FIELDS),
            "user_fields": list(MENTION_USER_FIELDS),
        }
        if since_id:
            params["since_id"] = since_id
        elif start_time is not None:
            params["start_time"] = start_time
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._call(
            "mentions",
            lambda: self._client.get_users_mentions(user_id, user_auth=False, **params),
            auth="bearer",
        )

    def reply(self, in_reply_to: str, text: str) -> str:
        """Post ``text`` as a reply to post ``in_reply_to``; returns the new post's id."""
        body = self._call(
            "reply",
            lambda: self._client.create_tweet(
                text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True
            ),
            auth="oauth1",
            retry=False,  # a retried POST could reply twice
            posting=True,
        )
        data = body.get("data")
        if isinstance(data, Mapping) and data.get("id") is not None:
            return str(data["id"])
        raise XBadResponse("X accepted the reply but sent no post id back")

    def post(self, text: str) -> str:
        """Post ``text`` as the account (the round-up's announcement); returns its id."""
        body = self._call(
            "post",
            lambda: self._client.create_tweet(text=text, user_auth=True),
            auth="oauth1",
            retry=False,  # a retried POST could post twice
            posting=True,
        )
        data = body.get("data")
        if isinstance(data, Mapping) and data.get("id") is not None:
            return str(data["id"])
        raise XBadResponse("X accepted the post but sent no post id back")

    # -- one call, with retries and error translation ---------------------------------

    def _call(
        self,
        what: str,
        request: Callable[[], Any],
        *,
        auth: str,
        retry: bool = True,
        posting: bool = False,
    ) -> dict[str, Any]:
        """One API call. ``posting``: it makes a post, so a failure after the request
        went out is XMaybePosted (the post may be there), never a plain error."""
        attempts = self.options.retries + 1 if retry else 1
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_exponential(multiplier=self.options.retry_backoff, max=30),
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=lambda state: log.info(
                "X API %s: %s; retrying (%d of %d)",
                what,
                state.outcome.exception() if state.outcome else "failed",
                state.attempt_number,
                attempts - 1,
            ),
            reraise=True,
        )
        try:
            body = retrying(self._once, what, request, auth, posting)
        except _Transient as exc:
            tries = f"{attempts} tries" if attempts > 1 else "1 try"
            raise XUnavailable(f"X API {what}: {exc} (gave up after {tries})", exc.status) from exc
        if not isinstance(body, dict):
            raise XBadResponse(f"X API {what}: expected a JSON object, got {type(body).__name__}")
        return body

    def _once(self, what: str, request: Callable[[], Any], auth: str, posting: bool = False) -> Any:
        waits = 0
        while True:
            try:
                return request()
            except TooManyRequests as exc:
                wait = self._rate_limit_wait(what, exc, waits)
                waits += 1
                log.warning("X API %s: rate limited; waiting %.0f s for the reset", what, wait)
                self._sleep(wait)
            except TwitterServerError as exc:
                raise _Transient(_status_line(exc), _status(exc)) from exc
            except HTTPException as exc:
                raise _translate(what, exc, auth) from exc
            except requests.RequestException as exc:
                raise self._request_failed(what, exc, posting) from exc
            except (AttributeError, TypeError, KeyError, ValueError) as exc:
                # tweepy reads error bodies as JSON objects and trips over anything else
                raise XBadResponse(
                    f"X API {what}: unexpected answer ({type(exc).__name__})"
                ) from exc

    def _request_failed(
        self, what: str, exc: requests.RequestException, posting: bool
    ) -> Exception:
        if posting and may_have_been_sent(exc):
            return XMaybePosted(
                f"X API {what}: sent, but no answer came back ({type(exc).__name__});"
                " it may have been posted, so it is not sent again: check the account"
            )
        if isinstance(exc, requests.Timeout):
            return _Transient(f"no answer within {self.options.timeout:g} s")
        if isinstance(exc, AnswerTooLarge):
            return XBadResponse(f"X API {what}: the answer is too large ({exc})")
        if isinstance(exc, requests.ConnectionError):
            return _Transient(f"connection failed ({type(exc).__name__})")
        if isinstance(exc, requests.JSONDecodeError):
            return XBadResponse(f"X API {what}: the answer is not JSON ({exc.msg})")
        return XApiError(f"X API {what}: {type(exc).__name__}")

    def _rate_limit_wait(self, what: str, exc: TooManyRequests, waits: int) -> float:
        """Seconds to wait before trying again, or raise when we should not wait."""
        body = _json_body(exc.response)
        kind = str(body.get("type") or "") if isinstance(body, Mapping) else ""
        if kind.endswith("usage-capped"):
            detail = _problem_text(body) or "usage cap exceeded"
            raise XUsageCapped(
                f"X API {what}: the plan's usage cap is reached ({detail}); waiting cannot"
                " clear it: it resets with the billing period, or raise the cap on X",
                429,
            )
        reset = _reset_time(exc.response)
        now = self._clock().timestamp()
        resume_at = datetime.fromtimestamp(reset, UTC) if reset is not None else None
        if reset is not None and waits < MAX_RATE_LIMIT_WAITS:
            wait = max(reset - now, 0.0) + 1.0
            if wait <= self.options.max_rate_limit_wait + 1.0:
                return min(wait, self.options.max_rate_limit_wait)
        when = (
            f"it may resume after {resume_at:%Y-%m-%d %H:%M:%S} UTC"
            if resume_at is not None
            else "X did not say when it resets (try again in 15 minutes)"
        )
        raise XRateLimited(f"X API {what}: rate limited (HTTP 429); {when}", 429, resume_at)


def _translate(what: str, exc: HTTPException, auth: str) -> XApiError:
    status = _status(exc)
    body = _json_body(exc.response)
    detail = _problem_text(body)
    said = f": X says {detail!r}" if detail else ""
    kind = str(body.get("type") or "") if isinstance(body, Mapping) else ""
    reason = str(body.get("reason") or "") if isinstance(body, Mapping) else ""
    codes = _error_codes(body)
    if status == 401:
        where = (
            ENV_BEARER
            if auth == "bearer"
            else "the ROUNDUP_TWITTER_CONSUMER_* and _ACCESS_TOKEN* keys"
        )
        return XAuthError(
            f"X API {what}: credentials rejected (HTTP 401): check {where}{said}", status
        )
    if status == 402 or kind.endswith("credits-depleted"):
        return XUsageCapped(
            f"X API {what}: the account has no API credits left (HTTP {status}); buy credits"
            f" in the X developer console{said}",
            status,
        )
    if status == 403:
        if reason == "client-not-enrolled" or kind.endswith("client-forbidden"):
            cause = "the app is not attached to a Project in the X developer portal"
        elif kind.endswith("unsupported-authentication"):
            cause = "this endpoint does not accept this kind of credentials"
        elif 453 in codes:
            cause = "the plan's access level does not include this endpoint"
        elif auth == "oauth1":
            cause = "the app may lack write permission, or X refused this post"
        else:
            cause = "the plan may not include this endpoint (the free tier cannot read mentions)"
        label = f" {reason}" if reason else ""
        return XAuthError(f"X API {what}: refused (HTTP 403{label}): {cause}{said}", status)
    if status is not None and 400 <= status < 500:
        return XRequestError(f"X API {what}: request refused (HTTP {status}){said}", status)
    return XApiError(f"X API {what}: unexpected HTTP {status}{said}", status)


def _status(exc: HTTPException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None


def _status_line(exc: HTTPException) -> str:
    response = exc.response
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def _json_body(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except (ValueError, TypeError, AttributeError):
        return None


def _problem_text(body: Any) -> str | None:
    """The most useful line X put in an error body (RFC 7807 problem or v1.1 errors)."""
    if not isinstance(body, Mapping):
        return None
    parts = [body.get("title"), body.get("detail")]
    text = ": ".join(str(p) for p in parts if isinstance(p, str) and p)
    if not text:
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            text = str(first.get("detail") or first.get("message") or first.get("title") or "")
    text = " ".join(text.split())
    return text[:240] or None


def _error_codes(body: Any) -> set[int]:
    if not isinstance(body, Mapping) or not isinstance(body.get("errors"), list):
        return set()
    return {
        e["code"]
        for e in body["errors"]
        if isinstance(e, Mapping) and isinstance(e.get("code"), int)
    }


def _reset_time(response: Any) -> float | None:
    value = getattr(response, "headers", {}).get("x-rate-limit-reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class XChannel:
    """X mentions as a suggestion channel (roundup_bot.core.channels.SuggestionChannel).

    The sweep's floor is X's own ``since_id`` (or ``start_time`` on the first
    run) and its cursor X's ``pagination_token``; the account's numeric id is
    looked up once from the username and kept in the channel's state.
    """

    name = "x"
    platform = "x"

    def __init__(
        self,
        api: XApi,
        *,
        username: str = "welovelocalgov",
        user_id: str | None = None,
        max_posts_per_month: int = 1000,
    ) -> None:
        self.api = api
        self.username = username
        self.user_id = user_id
        self.max_posts_per_month = max_posts_per_month

    def start(self, state: Mapping[str, str | None]) -> dict[str, str | None]:
        if self.user_id:
            return {}
        wanted = self.username.lower()
        if state.get("user_id") and state.get("user_id_for") == wanted:
            self.user_id = str(state["user_id"])
            return {}
        self.user_id = self.api.lookup_user_id(self.username)
        log.info("X account @%s has id %s (stored)", self.username, self.user_id)
        return {"user_id": self.user_id, "user_id_for": wanted}

    def read_page(self, place: ReadPlace, limit: int) -> ChannelPage:
        if self.user_id is None:
            raise XRequestError("X mentions: the account's id is not known (start() first)")
        page = self.api.mentions(
            self.user_id,
            since_id=place.floor_id,
            start_time=place.floor_time if not place.floor_id else None,
            pagination_token=place.cursor,
            max_results=limit,
        )
        try:
            reading = parse_page(page, own_user_id=self.user_id)
        except MalformedPage as exc:
            raise XBadResponse(f"X API mentions: malformed page: {exc}") from exc
        return ChannelPage(
            suggestions=reading.suggestions,
            mentions=reading.mentions,
            posts=reading.posts,
            newest_id=reading.newest_id,
            next_cursor=reading.next_token,
            skipped=reading.skipped,
        )

    def reply(self, target: ReplyTarget, text: str) -> str:
        return self.api.reply(target.post_id, text)

    def announce(
        self, text: str, *, card: LinkCard | None, key: str, mentions: Mapping[str, str]
    ) -> str:
        """X makes its own link card from the page; mentions are plain "@name" text."""
        return self.api.post(text)

    def saved_state(self) -> dict[str, str | None]:
        return {}

    def close(self) -> None:
        self.api.close()
