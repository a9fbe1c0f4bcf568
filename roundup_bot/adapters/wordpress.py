"""The WordPress REST API (``wp/v2``) over the bounded HTTP client: the code that talks to
the blog.

Two ways in, chosen by which credentials the environment holds (never the config):

* a self-hosted WordPress: ``ROUNDUP_WORDPRESS_USERNAME`` and
  ``ROUNDUP_WORDPRESS_APP_PASSWORD``, an Application Password sent with HTTP
  Basic auth; the REST root is where the site says it is (its ``Link: <…>;
  rel="https://api.w.org/"`` header), else ``<site_url>/wp-json/``;
* WordPress.com: ``ROUNDUP_WORDPRESS_TOKEN``, an OAuth2 bearer token, to
  ``https://public-api.wordpress.com/wp/v2/sites/<site>/``.

Every request has an overall deadline (connect, a slow answer and a body that
drips all count) and a size limit counted after decompression, like every
other fetch (:mod:`roundup_bot.adapters.http`). Requests that carry the
credentials never follow a redirect and never go over plain HTTP except to a
loopback address. Error answers become one line (:class:`WordPressError` and
its subclasses); the credentials never appear in a message or a log line.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from roundup_bot.adapters.http import HttpFetcher, parse_retry_after
from roundup_bot.core.clock import utc_now
from roundup_bot.core.curation import clean_line
from roundup_bot.core.errors import (
    ConfigError,
    FetchError,
    FetchTimeout,
    MalformedAnswer,
    ResponseTooLarge,
    WordPressAuthError,
    WordPressBadAnswer,
    WordPressError,
    WordPressUnavailable,
)
from roundup_bot.core.numbers import whole_number
from roundup_bot.core.records import FetchResult, HttpPolicy, default_user_agent
from roundup_bot.core.wordpress import (
    LOOKUP_STATUSES,
    WPCOM_ROOT,
    AuthStyle,
    PostFacts,
    credentials_allowed,
    default_rest_root,
    error_code,
    is_retryable_status,
    is_wp_id,
    link_with_rel,
    post_facts,
    post_with_slug,
    refusal_cause,
    refused_hop,
    route_url,
    term_with_name,
    trusted_rest_root,
    v2_base,
    wpcom_base,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

USERNAME_ENV = "ROUNDUP_WORDPRESS_USERNAME"
APP_PASSWORD_ENV = "ROUNDUP_WORDPRESS_APP_PASSWORD"  # noqa: S105 - a variable's name
TOKEN_ENV = "ROUNDUP_WORDPRESS_TOKEN"  # noqa: S105 - a variable's name
API_LINK_REL = "https://api.w.org/"
#: Comments pages read in one run at most (100 comments a page, newest first).
MAX_COMMENT_PAGES = 20
_PAST_LAST_PAGE = "rest_post_invalid_page_number"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who publishes. ``secret`` is never shown (not even by ``repr``)."""

    style: AuthStyle
    username: str | None
    secret: str = field(repr=False)

    def header(self) -> str:
        if self.style == "wpcom-token":
            return f"Bearer {self.secret}"
        pair = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


def credentials_from_env(environ: Mapping[str, str]) -> Credentials:
    """The credentials from the environment.

    Raises:
        ConfigError: none are set, only half of a pair, or both kinds at once.
    """
    token = environ.get(TOKEN_ENV, "").strip()
    username = environ.get(USERNAME_ENV, "").strip()
    password = environ.get(APP_PASSWORD_ENV, "").strip()
    if token and (username or password):
        raise ConfigError(
            "environment",
            TOKEN_ENV,
            f"set either {TOKEN_ENV} (WordPress.com) or {USERNAME_ENV} and {APP_PASSWORD_ENV}"
            " (self-hosted), not both",
        )
    if token:
        return Credentials("wpcom-token", None, token)
    if username and password:
        return Credentials("application-password", username, password)
    missing = APP_PASSWORD_ENV if username else USERNAME_ENV
    raise ConfigError(
        "environment",
        missing,
        f"not set: [wordpress] enabled needs {USERNAME_ENV} and {APP_PASSWORD_ENV}"
        f" (self-hosted WordPress) or {TOKEN_ENV} (WordPress.com)",
    )


@dataclass(frozen=True, slots=True)
class WordPressPolicy:
    """Limits applied to every request to the blog."""

    timeout: float = 20.0  # overall deadline per request, seconds
    max_bytes: int = 8 * 1024 * 1024  # the largest answer, after decompression
    max_redirects: int = 5  # for finding the REST root only (no credentials sent)
    user_agent: str = field(default_factory=default_user_agent)

    def http(self) -> HttpPolicy:
        """The bounded client's limits: the blog is the operator's choice, so a
        WordPress on the local network is allowed (like a configured feed)."""
        return HttpPolicy(
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            per_host=2,
            allow_private=True,
            user_agent=self.user_agent,
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    data: Any  # the parsed JSON (None for an empty body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def failure(self, what: str) -> WordPressError:
        code, message = error_code(self.data)
        detail = f"{code}: {clean_line(message or '', 200)}" if code else ""
        return WordPressError(
            f"WordPress {what}: HTTP {self.status}" + (f" ({detail})" if detail else "")
        )


class WordPressApi:
    """The blog's REST API. One per run; close it with :meth:`aclose`.

    Raises (every method): WordPressAuthError (401/403, with the likely cause),
    WordPressUnavailable (down, a timeout, 429 or 5xx, with Retry-After),
    WordPressBadAnswer (an answer that is not the REST API's), WordPressError
    (any other refusal, as one line).
    """

    def __init__(
        self,
        site_url: str,
        credentials: Credentials,
        policy: WordPressPolicy,
        *,
        api_url: str | None = None,
        fetcher: HttpFetcher | None = None,
    ) -> None:
        """``fetcher`` is a seam for tests (the bounded client, already built)."""
        self.site_url = site_url.rstrip("/")
        self.credentials = credentials
        self.policy = policy
        self.api_url = api_url
        self._base: str | None = None
        self._http = fetcher or HttpFetcher(policy.http())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> WordPressApi:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # --- where the API is ---------------------------------------------------------------

    async def base(self) -> str:
        """The ``wp/v2`` base URL, found once per run."""
        if self._base is None:
            if self.credentials.style == "wpcom-token":
                self._base = wpcom_base(self.site_url, self.api_url or WPCOM_ROOT)
            elif self.api_url:
                self._base = v2_base(self.api_url)
            else:
                self._base = v2_base(await self.discover_root())
        return self._base

    async def discover_root(self) -> str:
        """The REST root the site advertises (``Link: <…>; rel="https://api.w.org/"``),
        else ``<site_url>/wp-json/``. Asked without credentials; redirects are followed,
        but never from https:// down to http://.

        The credentials go where this says, so an advertised root is taken only on
        ``site_url``'s own scheme, host and port, or on the host an all-HTTPS redirect
        chain ends at (:func:`~roundup_bot.core.wordpress.trusted_rest_root`); anything
        else is logged and the usual place used. ``[wordpress] api_url`` overrides it all.
        """
        url = self.site_url + "/"
        chain = [url]
        fallback = default_rest_root(self.site_url)
        try:
            for _hop in range(self.policy.max_redirects + 1):
                answer = await self._http.request("HEAD", url)
                location = answer.headers.get("location")
                if answer.status in (301, 302, 303, 307, 308) and location:
                    target = urljoin(url, location)
                    refused = refused_hop(url, target)
                    if refused:
                        log.warning(
                            "WordPress: not following %s while finding its REST root: %s; using %s",
                            _where(url),
                            refused,
                            fallback,
                        )
                        return fallback
                    url = target
                    chain.append(url)
                    continue
                link = link_with_rel(answer.headers.get("link", ""), API_LINK_REL, url)
                root, why = trusted_rest_root(self.site_url, chain, link)
                if why:
                    log.warning("WordPress: %s; using %s", why, root)
                else:
                    log.debug("WordPress: the REST root is %s", root)
                return root
        except FetchError as exc:
            log.info("WordPress: could not ask %s for its REST root (%s)", self.site_url, exc)
        return fallback

    # --- posts ------------------------------------------------------------------------------

    async def me(self) -> Mapping[str, Any]:
        """The user the credentials belong to (``users/me``)."""
        answer = await self._call("GET", "users/me", {"context": "edit"})
        if not answer.ok:
            raise answer.failure("users/me")
        if not isinstance(answer.data, Mapping):
            raise WordPressBadAnswer("WordPress users/me: the answer is not a user object")
        return answer.data

    async def find_post(self, slug: str) -> PostFacts | None:
        """The post with exactly this slug, in any status but trash, as this user sees it."""
        params = {"slug": slug, "status": LOOKUP_STATUSES, "context": "edit", "per_page": "10"}
        answer = await self._call("GET", "posts", params)
        if not answer.ok:
            raise answer.failure(f"looking up the post {slug!r}")
        return self._parsed(lambda: post_with_slug(answer.data, slug), "looking up a post")

    async def get_post(self, post_id: int) -> PostFacts | None:
        """The post with this id; None when it is gone (deleted or in the trash)."""
        answer = await self._call("GET", f"posts/{post_id}", {"context": "edit"})
        if answer.status in (404, 410):
            return None
        if not answer.ok:
            raise answer.failure(f"reading post {post_id}")
        facts = self._parsed(lambda: post_facts(answer.data), f"reading post {post_id}")
        return None if facts.status == "trash" else facts

    async def save_post(self, post_id: int | None, fields: Mapping[str, Any]) -> PostFacts:
        """Create a post (``post_id`` None) or update one; the post as saved."""
        route = "posts" if post_id is None else f"posts/{post_id}"
        what = "creating the post" if post_id is None else f"updating post {post_id}"
        answer = await self._call("POST", route, None, dict(fields))
        if not answer.ok:
            raise answer.failure(what)
        return self._parsed(lambda: post_facts(answer.data), what)

    async def term_id(self, taxonomy: str, name: str) -> int:
        """The id of the category or tag ``name`` (``taxonomy`` is "categories" or
        "tags"), created when the blog has none of that name."""
        answer = await self._call("GET", taxonomy, {"search": name, "per_page": "100"})
        if not answer.ok:
            raise answer.failure(f"looking up {taxonomy} {name!r}")
        found = self._parsed(lambda: term_with_name(answer.data, name), f"reading {taxonomy}")
        if found is not None:
            return found
        made = await self._call("POST", taxonomy, None, {"name": name})
        code, _message = error_code(made.data)
        if code == "term_exists":  # made meanwhile, or a name that differs only in case
            existing = made.data.get("data", {}) if isinstance(made.data, Mapping) else {}
            term = existing.get("term_id") if isinstance(existing, Mapping) else None
            if is_wp_id(term):
                return term
        if not made.ok:
            raise made.failure(f"creating {taxonomy} {name!r}")
        term = made.data.get("id") if isinstance(made.data, Mapping) else None
        if not is_wp_id(term):
            raise WordPressBadAnswer(f"WordPress creating {taxonomy} {name!r}: no id in the answer")
        return term

    # --- comments ------------------------------------------------------------------------

    async def approved_comments(
        self,
        post_ids: Sequence[int],
        read_before: Callable[[list[int]], bool] = lambda _ids: False,
    ) -> list[Any]:
        """The approved comments on these posts not read before, oldest first.

        Pages of 100 are asked newest first and reading stops at the first page
        holding a comment read before (``read_before(the page's ids)``), at the last
        page, or after :data:`MAX_COMMENT_PAGES`: a new comment is always on the
        first pages, however many old ones a round-up has gathered. (A comment
        approved late, after newer ones were read, is reached while it is within the
        page that held the newest comment read.) Each comment comes once, even when
        the pages shift under a comment arriving meanwhile."""
        if not post_ids:
            return []
        found: dict[tuple[str, int], Any] = {}
        for page in range(1, MAX_COMMENT_PAGES + 1):
            params = {
                "post": ",".join(str(p) for p in post_ids),
                "status": "approve",
                "per_page": "100",
                "page": str(page),
                "orderby": "id",
                "order": "desc",
            }
            answer = await self._call("GET", "comments", params)
            if answer.status == 400 and error_code(answer.data)[0] == _PAST_LAST_PAGE:
                break
            if not answer.ok:
                raise answer.failure("reading comments")
            if not isinstance(answer.data, list):
                raise WordPressBadAnswer("WordPress comments: the answer is not a list")
            ids = [_comment_id(c) for c in answer.data]
            for comment_id, comment in zip(ids, answer.data, strict=True):
                key = ("id", comment_id) if comment_id is not None else ("odd", id(comment))
                found.setdefault(key, comment)
            if read_before([i for i in ids if i is not None]):
                break
            pages = whole_number(answer.headers.get("x-wp-totalpages", "1"))
            if len(answer.data) < 100 or pages is None or page >= pages:
                break
        return list(reversed(found.values()))

    # --- one request -------------------------------------------------------------------------

    @staticmethod
    def _parsed(read: Callable[[], T], what: str) -> T:
        try:
            return read()
        except MalformedAnswer as exc:
            raise WordPressBadAnswer(f"WordPress {what}: malformed answer: {exc}") from exc

    async def _call(
        self,
        method: str,
        route: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None = None,
    ) -> _Answer:
        url = route_url(await self.base(), route, params)
        return await self.request(method, url, body)

    async def request(self, method: str, url: str, body: Mapping[str, Any] | None) -> _Answer:
        """One authenticated request, whole within the deadline.

        Raises WordPressAuthError, WordPressUnavailable, WordPressBadAnswer,
        WordPressError; other error statuses come back in the answer."""
        if not credentials_allowed(url):
            raise WordPressError(
                f"refusing to send the WordPress credentials over plain HTTP to {_where(url)}:"
                " use https:// (plain http:// only to this machine)"
            )
        headers = {"Authorization": self.credentials.header(), "Accept": "application/json"}
        try:
            result = await self._http.request(method, url, headers=headers, json_body=body)
        except FetchTimeout:
            raise WordPressUnavailable(
                f"WordPress did not answer {method} {_where(url)} within {self.policy.timeout:g} s"
            ) from None
        except ResponseTooLarge as exc:
            raise WordPressBadAnswer(f"WordPress answer at {_where(url)}: {exc}") from exc
        except FetchError as exc:
            raise WordPressUnavailable(
                f"WordPress unreachable at {_where(url)}: {clean_line(str(exc), 200)}"
            ) from exc
        return self._judge(method, url, result)

    def _judge(self, method: str, url: str, result: FetchResult) -> _Answer:
        """Turn an answer into one, or into the error it means."""
        status = result.status
        log.debug("WordPress %s %s -> %d", method, _where(url), status)
        if 300 <= status < 400:
            target = result.headers.get("location", "?")
            raise WordPressError(
                f"WordPress answered {method} {_where(url)} with a redirect (HTTP {status}) to"
                f" {_where(urljoin(url, target))}: set [wordpress] site_url to the address"
                " WordPress answers at (https://, with or without www. as the site uses)"
            )
        data = _json(result.content or b"")
        if status in (401, 403):
            code, _message = error_code(data)
            raise WordPressAuthError(refusal_cause(status, code, self.credentials.style))
        if is_retryable_status(status):
            retry_after = parse_retry_after(result.headers.get("retry-after"), utc_now())
            wait = f"; it asked to wait {retry_after:g} s" if retry_after else ""
            raise WordPressUnavailable(
                f"WordPress answered HTTP {status} at {_where(url)}{wait}", retry_after
            )
        if 200 <= status < 300 and data is _NOT_JSON:
            raise WordPressBadAnswer(
                f"WordPress answered {_where(url)} with something that is not JSON"
                " (is [wordpress] site_url a WordPress site with its REST API on?)"
            )
        if 200 <= status < 300 and data is None:
            raise WordPressBadAnswer(f"WordPress answered {_where(url)} with an empty body")
        return _Answer(url, status, result.headers, None if data is _NOT_JSON else data)


_NOT_JSON = object()


def _comment_id(comment: Any) -> int | None:
    """A comment's id when it is one the database can hold (the rest are skipped later)."""
    value = comment.get("id") if isinstance(comment, Mapping) else None
    return value if is_wp_id(value) else None


def _json(raw: bytes) -> Any:
    """The parsed body: None when empty, :data:`_NOT_JSON` when it is not JSON."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _where(url: str) -> str:
    """A URL as shown in messages: without its query (slugs and search terms are not
    secret, but the message stays short)."""
    parts = urlsplit(url)
    query = parts.query
    if "rest_route=" in query:
        route = next((p for p in query.split("&") if p.startswith("rest_route=")), "")
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{route}"
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
