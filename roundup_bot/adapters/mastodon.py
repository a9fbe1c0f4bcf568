"""Mastodon as a suggestion channel: the only module that imports Mastodon.py.

Mastodon.py is used for what it does well (endpoints, parameters, pagination,
reading the rate-limit headers) and given our own ``requests`` session, so
every request has one deadline and a size limit
(:mod:`roundup_bot.adapters.bounded_requests`). Its own rate-limit handling is
set to "throw": we decide here, from the headers it parsed
(``X-RateLimit-Remaining``/``-Reset``), whether to wait for a near reset or to
stop and keep the place, and we wait *before* a call when the budget is spent.

Reading (``GET /api/v1/notifications?types[]=mention``, newest first): the
sweep's floor is ``since_id`` and its cursor ``max_id``; on the first run it
reads back to ``[mastodon] first_run_days``. Mastodon 4.3 and later hold back
notifications from accounts the bot does not follow when the notification
policy says "filter"; with ``include_filtered = true`` (the default) the
request asks for those too (``include_filtered=true``, which older servers
ignore). A policy of "drop" loses them for good: ``start`` warns about it.

The access token comes only from ``ROUNDUP_MASTODON_ACCESS_TOKEN`` and never
appears in messages or logs (Mastodon.py's request printing stays off).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from roundup_bot import __version__
from roundup_bot.adapters.bounded_requests import MAX_ANSWER_BYTES, AnswerTooLarge, BoundedSession
from roundup_bot.adapters.retrying import CallPolicy, RateLimited, Transient, call, rate_limit_wait
from roundup_bot.core.channels import ChannelPage, ReadPlace, ReplyTarget
from roundup_bot.core.clock import Clock, utc_now
from roundup_bot.core.errors import (
    ChannelAuthError,
    ChannelBadResponse,
    ChannelError,
    ChannelRequestError,
    ConfigError,
    MalformedNotifications,
)
from roundup_bot.core.mastodon_posts import full_handle, parse_notifications, server_domain
from roundup_bot.core.records import LinkCard

log = logging.getLogger(__name__)

ENV_TOKEN = "ROUNDUP_MASTODON_ACCESS_TOKEN"  # noqa: S105 - the variable's name
PAGE_LIMIT = 40  # Mastodon's default page of notifications (80 at most)
NOTIFICATIONS_PATH = "/api/v1/notifications"
MAX_POST_CHARS = 500  # Mastodon's default limit for one status


@dataclass(frozen=True)
class MastodonCredentials:
    """The access token from the environment. ``repr`` never shows it."""

    access_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MastodonCredentials:
        return cls(environ.get(ENV_TOKEN, "").strip() or None)

    def require(self) -> str:
        if not self.access_token:
            raise ConfigError(
                ENV_TOKEN,
                None,
                "not set: the Mastodon channel needs the bot account's access token (scopes"
                " read:notifications, read:statuses, read:accounts; write:statuses to post)",
            )
        return self.access_token


@dataclass(frozen=True, slots=True)
class MastodonOptions:
    api_base_url: str
    timeout: float = 20.0
    max_rate_limit_wait: float = 60.0
    retries: int = 3
    retry_backoff: float = 1.0
    include_filtered: bool = True
    announce_visibility: str = "public"
    max_answer_bytes: int = MAX_ANSWER_BYTES


class _MastodonSession(BoundedSession):
    """The bounded session, adding ``include_filtered=true`` to notification reads
    (Mastodon.py's ``notifications()`` has no such parameter; Mastodon 4.3 does)."""

    def __init__(self, options: MastodonOptions) -> None:
        super().__init__(options.timeout, options.max_answer_bytes)
        self.include_filtered = options.include_filtered

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if (
            self.include_filtered
            and method == "GET"
            and isinstance(url, str)
            and urlsplit(url).path.endswith(NOTIFICATIONS_PATH)
        ):
            params = dict(kwargs.get("params") or {})
            params["include_filtered"] = "true"
            kwargs["params"] = params
        return super().request(method, url, *args, **kwargs)


class MastodonChannel:
    """Mentions of the bot's Mastodon account (roundup_bot.core.channels.SuggestionChannel)."""

    name = "mastodon"
    platform = "mastodon"
    max_posts_per_month = 0  # Mastodon does not bill reading

    def __init__(
        self,
        credentials: MastodonCredentials,
        options: MastodonOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_now,
    ) -> None:
        self.options = options
        self._sleep = sleep
        self._clock = clock
        self._policy = CallPolicy(
            options.retries, options.retry_backoff, options.max_rate_limit_wait
        )
        self._session = _MastodonSession(options)
        self._api = Mastodon(
            access_token=credentials.require(),
            api_base_url=options.api_base_url,
            session=self._session,
            request_timeout=options.timeout,
            ratelimit_method="throw",
            version_check_mode="none",
            user_agent=f"roundup-bot/{__version__}",
        )
        self.domain = server_domain(options.api_base_url)
        self.account_id: str | None = None

    # -- the channel ----------------------------------------------------------------

    def _epoch(self) -> float:
        """Now in epoch seconds: what retrying.call and the rate-limit headers count in."""
        return self._clock().timestamp()

    def start(self, state: Mapping[str, str | None]) -> dict[str, str | None]:
        """Who the bot is (its id, to skip its own posts; its server, for handles),
        looked up once per server and kept; and a warning if the server drops mentions."""
        if state.get("user_id") and state.get("user_id_for") == self.options.api_base_url:
            self.account_id = state["user_id"]
            self.domain = state.get("domain") or self.domain
            updates: dict[str, str | None] = {}
        else:
            me = self._call("verify credentials", self._api.account_verify_credentials)
            if not isinstance(me, Mapping) or me.get("id") is None:
                raise ChannelBadResponse("Mastodon verify credentials: no account in the answer")
            self.account_id = str(me["id"])
            url = me.get("url")
            if isinstance(url, str) and urlsplit(url).hostname:
                self.domain = (urlsplit(url).hostname or self.domain).lower()
            acct = full_handle(str(me.get("acct") or me.get("username") or "?"), self.domain)
            updates = {
                "user_id": self.account_id,
                "user_id_for": self.options.api_base_url,
                "domain": self.domain,
                "account": "@" + acct,
            }
            log.info("Mastodon account @%s has id %s (stored)", acct, self.account_id)
        self._check_policy()
        return updates

    def read_page(self, place: ReadPlace, limit: int) -> ChannelPage:
        size = max(1, min(PAGE_LIMIT, limit))
        page = self._call(
            "notifications",
            lambda: self._api.notifications(
                types=["mention"],
                since_id=place.floor_id,
                max_id=place.cursor,
                limit=size,
            ),
        )
        try:
            reading = parse_notifications(
                page, local_domain=self.domain, own_account_id=self.account_id
            )
        except MalformedNotifications as exc:
            raise ChannelBadResponse(f"Mastodon notifications: malformed page: {exc}") from exc
        suggestions = reading.suggestions
        done = len(page) < size or reading.oldest_id is None
        if place.floor_id is None and place.floor_time is not None:
            # The first run: read back to floor_time, not further.
            suggestions = tuple(
                s for s in suggestions if s.posted_at is None or s.posted_at >= place.floor_time
            )
            if reading.oldest_at is not None and reading.oldest_at < place.floor_time:
                done = True
        return ChannelPage(
            suggestions=suggestions,
            mentions=reading.mentions,
            posts=len(page),
            newest_id=reading.newest_id,
            next_cursor=None if done else reading.oldest_id,
            skipped=reading.skipped,
        )

    def reply(self, target: ReplyTarget, text: str) -> str:
        """Reply to the status, naming its author (Mastodon notifies only who is
        mentioned), as privately as the mention was: a direct or followers-only
        mention gets a reply of the same visibility, a public one an unlisted reply."""
        ref = _ref(target.reply_ref)
        acct = str(ref.get("acct") or target.handle)
        visibility = str(ref.get("visibility") or "public")
        reply_visibility = visibility if visibility in ("direct", "private") else "unlisted"
        mention = "@" + acct.lstrip("@")
        body = text if mention.lower() in text.lower() else f"{mention} {text}"
        status = self._call(
            "reply",
            lambda: self._api.status_post(
                body[:MAX_POST_CHARS],
                in_reply_to_id=target.post_id,
                visibility=reply_visibility,
                idempotency_key=f"roundup-bot-thanks-{target.post_id}",
            ),
            retry=False,
        )
        return _status_id(status, "reply")

    def announce(
        self, text: str, *, card: LinkCard | None, key: str, mentions: Mapping[str, str]
    ) -> str:
        """Post the round-up's announcement as the bot. Mastodon fetches the link card
        itself; ``key`` is the Idempotency-Key, so a request sent twice posts once."""
        status = self._call(
            "announcement",
            lambda: self._api.status_post(
                text[:MAX_POST_CHARS],
                visibility=self.options.announce_visibility,
                idempotency_key=key,
            ),
            retry=False,
        )
        return _status_id(status, "announcement")

    def saved_state(self) -> dict[str, str | None]:
        return {}

    def close(self) -> None:
        self._session.close()

    # -- calls ----------------------------------------------------------------------

    def _check_policy(self) -> None:
        """Warn when Mastodon 4.3+ drops mentions for good; a server older than 4.3
        has no policy (404), which is fine: it holds nothing back."""
        try:
            policy = self._call("notification policy", self._api.notifications_policy)
        except ChannelRequestError:
            return  # older than 4.3: no notification requests, nothing held back
        if not isinstance(policy, Mapping):
            return
        dropped = [key for key, value in policy.items() if value == "drop"]
        filtered = [key for key, value in policy.items() if value == "filter"]
        if dropped:
            log.warning(
                "Mastodon: the bot's notification policy drops mentions (%s); they can never"
                " be read: set them to 'accept' or 'filter' (see the README)",
                ", ".join(sorted(dropped)),
            )
        elif filtered and not self.options.include_filtered:
            log.warning(
                "Mastodon: the notification policy holds back some mentions (%s) and"
                " [mastodon] include_filtered is false: they are not read",
                ", ".join(sorted(filtered)),
            )

    def _call(self, what: str, request: Callable[[], Any], *, retry: bool = True) -> Any:
        label = f"Mastodon {what}"
        self._wait_for_budget(label)
        return call(
            label,
            request,
            lambda exc: self._translate(label, exc),
            self._policy,
            sleep=self._sleep,
            clock=self._epoch,
            retry=retry,
        )

    def _wait_for_budget(self, label: str) -> None:
        """Honour X-RateLimit-Remaining: with none left, wait for the reset or stop."""
        remaining = getattr(self._api, "ratelimit_remaining", None)
        reset = getattr(self._api, "ratelimit_reset", None)
        if remaining is None or remaining > 0 or reset is None or reset <= self._epoch():
            return
        wait = rate_limit_wait(label, float(reset), 0, self._policy, self._epoch())
        log.warning("%s: no requests left; waiting %.0f s for the reset", label, wait)
        self._sleep(wait)

    def _translate(self, label: str, exc: Exception) -> Exception:
        if isinstance(exc, MastodonRatelimitError):
            if "calculations failed" in str(exc):  # an unreadable X-RateLimit-Reset header
                return ChannelBadResponse(f"{label}: unreadable rate-limit headers")
            reset = getattr(self._api, "ratelimit_reset", None)
            return RateLimited(float(reset) if reset is not None else None)
        if isinstance(exc, MastodonNetworkError):
            cause = exc.__cause__ or exc.__context__  # Mastodon.py wraps what requests raised
            if isinstance(cause, AnswerTooLarge):
                return ChannelBadResponse(f"{label}: the answer is too large ({cause})")
            if isinstance(cause, requests.Timeout):
                return Transient(f"no answer within {self.options.timeout:g} s")
            return Transient(f"connection failed ({type(cause).__name__})")
        if isinstance(exc, MastodonServerError):
            return Transient(f"HTTP {_status(exc)}")
        if isinstance(exc, MastodonUnauthorizedError):
            return ChannelAuthError(
                f"{label}: the access token was refused (HTTP 401): check {ENV_TOKEN}", 401
            )
        if isinstance(exc, MastodonNotFoundError):
            return ChannelRequestError(f"{label}: not found (HTTP 404)", 404)
        if isinstance(exc, MastodonAPIError):
            status = _status(exc)
            if status is None:
                return ChannelBadResponse(f"{label}: the answer is not JSON")
            said = _said(exc)
            if status == 403:
                return ChannelAuthError(
                    f"{label}: refused (HTTP 403): the token may lack a scope"
                    f" (read:notifications, read:statuses, read:accounts, write:statuses){said}",
                    403,
                )
            if status == 422 or 400 <= status < 500:
                return ChannelRequestError(
                    f"{label}: request refused (HTTP {status}){said}", status
                )
            return ChannelError(f"{label}: unexpected HTTP {status}{said}", status)
        if isinstance(exc, (MastodonError, ValueError, TypeError, KeyError, AttributeError)):
            # Mastodon.py casts answers into its types and trips over odd shapes.
            return ChannelBadResponse(f"{label}: unexpected answer ({type(exc).__name__})")
        return exc


def _status(exc: Exception) -> int | None:
    args: tuple[Any, ...] = tuple(exc.args)
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _said(exc: Exception) -> str:
    args: tuple[Any, ...] = tuple(exc.args)
    detail = args[3] if len(args) > 3 and isinstance(args[3], str) else None
    if not detail:
        return ""
    return f": Mastodon says {' '.join(detail.split())[:200]!r}"


def _ref(value: str | None) -> dict[str, Any]:
    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _status_id(status: Any, what: str) -> str:
    if isinstance(status, Mapping) and status.get("id") is not None:
        return str(status["id"])
    raise ChannelBadResponse(f"Mastodon {what}: the server sent no status id back")
