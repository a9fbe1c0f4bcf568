"""Pure: the decisions of publishing a round-up as exactly one WordPress post.

Nothing here does I/O or reads the clock: the WordPress adapter hands in the
parsed JSON of an answer, storage hands in what it holds, and whatever depends
on time takes ``now``.

WordPress has no idempotency key, and when a slug is taken it quietly makes a
new one ("-2"). So one round-up is one post because of three things, decided
here and done by ``services.wordpress``:

* a stable slug per round-up (:func:`post_slug`), looked up before any create;
* the post id stored in the same transaction that records the step's success;
* the publish lock, held around the whole step.

A lost answer, a crash between creating and storing, or a second publisher all
end the same way: the next try finds the post by its slug and updates it.
"""

from __future__ import annotations

import html
import ipaddress
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from roundup_bot.core.errors import MalformedAnswer

#: WordPress keeps post_name in 200 characters; stay well inside it.
SLUG_CHARS = 190
#: WordPress.com's REST root; a site's ``wp/v2`` is under ``wp/v2/sites/<host>/``.
WPCOM_ROOT = "https://public-api.wordpress.com/"
#: Statuses a slug is looked up in: every status a post can hold but trash
#: (WordPress renames a trashed post's slug, so it never takes ours).
LOOKUP_STATUSES = "publish,future,draft,pending,private"
#: WordPress statuses that mean the post is out: an update never takes it back.
LIVE_STATUSES = frozenset({"publish", "private"})
#: Retries of a failed step: the first after this long, doubling, up to the cap.
FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=6)
#: A server's Retry-After is honoured up to this long.
MAX_RETRY_AFTER = timedelta(days=1)
#: The largest id taken from an answer: WordPress keeps ids in unsigned BIGINTs, and
#: the database columns that store them are signed 64-bit (BigInteger), so anything
#: above is a malformed answer, never a value to store.
MAX_ID = 2**63 - 1

StepState = Literal["pending", "failed", "done"]
PostStatus = Literal["draft", "publish", "future"]
AuthStyle = Literal["application-password", "wpcom-token"]


@dataclass(frozen=True, slots=True)
class WordPressPost:
    """The WordPress step of one round-up, as stored (``wordpress_posts``)."""

    draft_id: int
    slug: str
    state: StepState  # pending: to do; failed: tried, to try again; done
    post_id: int | None = None  # WordPress's id, once a post is known to be ours
    link: str | None = None  # the post's address on the blog
    status: str | None = None  # WordPress's own: draft, publish, future, pending, private
    error: str | None = None  # why the last try failed
    attempts: int = 0  # failed tries since the last success
    next_try: datetime | None = None  # the daemon retries a failed step from then
    pushed_at: datetime | None = None  # the last success
    updated_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.state == "done"


@dataclass(frozen=True, slots=True)
class PostFacts:
    """What an answer says about one post."""

    id: int
    slug: str
    status: str
    link: str | None


# --- the slug and the post -------------------------------------------------------------


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens, as WordPress writes slugs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def post_slug(roundup_name: str, week: str) -> str:
    """The one slug of a round-up's post: ``welovelocalgov-2026-w48``.

    Made from the round-up's name and its week only, so it never changes when
    the title, the intro or the config's wording does."""
    base = slugify(roundup_name) or "roundup"
    return f"{base[: SLUG_CHARS - 12]}-{slugify(week)}"


def post_title(title: str, date: str) -> str:
    """The post's title, as the feed entry's: "That was ... – week ending 27 November 2026"."""
    return f"{title} – week ending {date}"


def scheduled_moment(
    week_end: datetime, publish_at: str, zone: str, now: datetime
) -> datetime | None:
    """When a ``future`` post goes out: the first ``publish_at`` moment ("friday 12:00",
    in ``zone``) at or after the round-up's week end; None when that has passed (the
    post is then published at once, which is what WordPress would do with a past date)."""
    day, clock = publish_at.strip().lower().split()
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    hour, minute = (int(part) for part in clock.split(":"))
    tz = ZoneInfo(zone)
    local_end = week_end.astimezone(tz)
    ahead = (days.index(day) - local_end.weekday()) % 7
    date = (local_end + timedelta(days=ahead)).date()
    moment = datetime(date.year, date.month, date.day, hour, minute, tzinfo=tz)
    if moment < local_end:
        moment += timedelta(days=7)
    return moment if moment > now else None


def first_status(configured: PostStatus, scheduled: datetime | None) -> PostStatus:
    """The status a new post is created with: ``future`` without a moment still to
    come is ``publish``."""
    if configured == "future" and scheduled is None:
        return "publish"
    return configured


def status_on_update(
    configured: PostStatus, scheduled: datetime | None, existing: str
) -> str | None:
    """The status an update sends, or None to leave the post's own.

    A post that is already out (published or private, by us or by an editor in
    WordPress) is never taken back to a draft or a schedule by a republish."""
    if existing in LIVE_STATUSES:
        return None
    return first_status(configured, scheduled)


def post_fields(
    *,
    title: str,
    content: str,
    excerpt: str,
    slug: str,
    status: str | None,
    categories: tuple[int, ...],
    tags: tuple[int, ...],
    date_gmt: datetime | None,
) -> dict[str, Any]:
    """The JSON body of a create or an update (``POST wp/v2/posts[/<id>]``)."""
    fields: dict[str, Any] = {
        "title": title,
        "content": content,
        "excerpt": excerpt,
        "slug": slug,
        "categories": list(categories),
        "tags": list(tags),
    }
    if status is not None:
        fields["status"] = status
    if date_gmt is not None and status == "future":
        fields["date_gmt"] = date_gmt.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S")
    return fields


def is_whole_page(content: str) -> bool:
    """True when rendered content is a whole HTML page, which a post must never be."""
    head = content.lstrip()[:2000].lower()
    return head.startswith("<!doctype") or "<html" in head or "<body" in head


# --- the REST API's addresses -------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback address literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def credentials_allowed(url: str) -> bool:
    """Credentials go over HTTPS only, or plain HTTP to this machine (for tests and a
    WordPress on the same host)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme == "https" or (scheme == "http" and is_loopback_host(parts.hostname))


_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


def link_with_rel(header: str, rel: str, base: str) -> str | None:
    """The target of the first link with relation ``rel`` in an HTTP ``Link`` header
    (``<https://blog/wp-json/>; rel="https://api.w.org/"``), resolved against ``base``."""
    for match in _LINK.finditer(header[:8000]):
        params = _REL.search(match.group(2))
        if params and rel in (params.group(1) or params.group(2) or "").split():
            return str(urljoin(base, match.group(1).strip()))
    return None


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, default ports filled in; None if unusable."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port


def refused_hop(current: str, target: str) -> str | None:
    """Why a redirect met while finding the REST root is not followed (None: follow it):
    never from HTTPS down to plain HTTP, never to anything but http(s)."""
    to = _origin(target)
    if to is None:
        return f"it redirects to {target[:200]!r}, not an http(s) address"
    if urlsplit(current).scheme.lower() == "https" and to[0] == "http":
        return f"it redirects from https:// to plain http:// ({_origin_text(to)})"
    return None


def trusted_rest_root(
    site_url: str, chain: Sequence[str], advertised: str | None
) -> tuple[str, str | None]:
    """The REST root the credentials go to, and why the advertised one was not taken.

    The ``Link`` header is the site's word, and the Application Password follows it,
    so it is believed only where the site itself is: the scheme, host and port of
    ``site_url``, or those of the last address of a redirect chain (``chain``, the
    addresses asked in order) that was HTTPS all the way (``blog.example`` moving to
    ``www.blog.example``). A root anywhere else, a compromised plugin's or a typo's,
    gets ``<site_url>/wp-json/`` instead and the reason, to be logged.
    """
    fallback = default_rest_root(site_url)
    if advertised is None:
        return fallback, None
    where = _origin(advertised)
    trusted = {_origin(site_url)}
    if chain and all(urlsplit(url).scheme.lower() == "https" for url in [site_url, *chain]):
        trusted.add(_origin(chain[-1]))
    if where is not None and where in trusted:
        return advertised, None
    shown = _origin_text(where) if where else repr(advertised[:200])
    return fallback, (
        f"the site advertises its REST API on another host ({shown}), not at [wordpress]"
        " site_url nor at the end of an HTTPS redirect; set [wordpress] api_url if that is"
        " really where it is"
    )


def _origin_text(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def default_rest_root(site_url: str) -> str:
    """Where the REST API usually is when the site does not say: ``<site>/wp-json/``."""
    return site_url.rstrip("/") + "/wp-json/"


def v2_base(rest_root: str) -> str:
    """The ``wp/v2`` namespace under a REST root, for pretty and plain permalinks alike
    (``https://blog/wp-json/`` or ``https://blog/?rest_route=/``)."""
    parts = urlsplit(rest_root)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "rest_route" for key, _ in query):
        query = [(k, (v.rstrip("/") + "/wp/v2/") if k == "rest_route" else v) for k, v in query]
        return urlunsplit(parts._replace(query=urlencode(query, safe="/")))
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit(parts._replace(path=path + "wp/v2/"))


def wpcom_base(site_url: str, root: str = WPCOM_ROOT) -> str:
    """WordPress.com's ``wp/v2`` for a site: ``https://public-api.wordpress.com/wp/v2/sites/<host>/``."""
    host = (urlsplit(site_url).hostname or "").lower()
    return f"{root.rstrip('/')}/wp/v2/sites/{quote(host)}/"


def route_url(base: str, route: str, params: Mapping[str, str] | None = None) -> str:
    """``route`` ("posts", "posts/12") under a ``wp/v2`` base, with query ``params``."""
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "rest_route" for key, _ in query):
        query = [(k, v + route if k == "rest_route" else v) for k, v in query]
        path = parts.path
    else:
        path = parts.path + route
    query.extend((params or {}).items())
    return urlunsplit(parts._replace(path=path, query=urlencode(query, safe="/,")))


def edit_link(site_url: str, post_id: int, style: AuthStyle) -> str:
    """The post's edit screen: wp-admin on a self-hosted site, wordpress.com's editor else."""
    if style == "wpcom-token":
        host = (urlsplit(site_url).hostname or "").lower()
        return f"https://wordpress.com/post/{quote(host)}/{post_id}"
    return f"{site_url.rstrip('/')}/wp-admin/post.php?post={post_id}&action=edit"


# --- reading answers ------------------------------------------------------------------------


def post_facts(obj: Any) -> PostFacts:
    """The facts of one post object. Raises MalformedAnswer."""
    if not isinstance(obj, Mapping):
        raise MalformedAnswer(f"expected a post object, got {type(obj).__name__}")
    post_id = obj.get("id")
    if not is_wp_id(post_id):
        raise MalformedAnswer(f"the post has no numeric id from 1 to {MAX_ID}")
    link = obj.get("link")
    return PostFacts(
        id=post_id,
        slug=str(obj.get("slug") or ""),
        status=str(obj.get("status") or ""),
        link=link if isinstance(link, str) and link.startswith(("http://", "https://")) else None,
    )


def is_wp_id(value: Any) -> TypeGuard[int]:
    """True for an id WordPress could have given and the database can hold:
    an int (not a bool) from 1 to :data:`MAX_ID`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def post_with_slug(posts: Any, slug: str) -> PostFacts | None:
    """The post whose slug is exactly ``slug`` in a ``GET posts?slug=`` answer.
    Raises MalformedAnswer."""
    if not isinstance(posts, list):
        raise MalformedAnswer("expected a list of posts")
    found = [post_facts(p) for p in posts]
    return next((p for p in sorted(found, key=lambda p: p.id) if p.slug == slug), None)


def term_with_name(terms: Any, name: str) -> int | None:
    """The id of the category or tag named ``name`` (case and entities aside) in a
    ``GET categories?search=`` answer. Raises MalformedAnswer."""
    if not isinstance(terms, list):
        raise MalformedAnswer("expected a list of terms")
    wanted = name.strip().casefold()
    for term in terms:
        if not isinstance(term, Mapping) or not is_wp_id(term.get("id")):
            raise MalformedAnswer(f"a term without a numeric id from 1 to {MAX_ID}")
        if html.unescape(str(term.get("name") or "")).strip().casefold() == wanted:
            return int(term["id"])
    return None


def error_code(body: Any) -> tuple[str | None, str | None]:
    """WordPress's ``{"code": ..., "message": ...}`` of an error answer, if it is one."""
    if isinstance(body, Mapping):
        code, message = body.get("code"), body.get("message")
        return (
            code if isinstance(code, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, None


# --- faults ---------------------------------------------------------------------------------

_CAUSES = {
    "invalid_username": (
        "WordPress does not know that user: ROUNDUP_WORDPRESS_USERNAME must be the login"
        " name (not the display name)"
    ),
    "invalid_email": (
        "WordPress does not know that user: ROUNDUP_WORDPRESS_USERNAME must be the login name"
    ),
    "incorrect_password": (
        "the password was refused: ROUNDUP_WORDPRESS_APP_PASSWORD must be an Application"
        " Password (Users > Profile > Application Passwords), not the account's password"
    ),
    "application_passwords_disabled": "Application Passwords are switched off on the site",
    "application_passwords_disabled_for_user": (
        "Application Passwords are switched off for that user"
    ),
    "rest_not_logged_in": (
        "WordPress did not see the credentials: Application Passwords work only over HTTPS,"
        " and some hosts or proxies strip the Authorization header"
    ),
    "invalid_token": (
        "the WordPress.com token was refused: ROUNDUP_WORDPRESS_TOKEN has expired or is not"
        " for this site"
    ),
    "unauthorized": "the WordPress.com token was refused (expired, or not for this site)",
}


def refusal_cause(status: int, code: str | None, style: AuthStyle) -> str:
    """One line naming the likely cause of a 401 or 403, from WordPress's error code."""
    if code in _CAUSES:
        return f"credentials refused (HTTP {status}): {_CAUSES[code]}"
    if status == 403:
        return (
            f"refused (HTTP {status}{f', {code}' if code else ''}): the user may not do this;"
            " publishing needs an Author, Editor or Administrator account"
        )
    if style == "wpcom-token":
        return f"credentials refused (HTTP {status}): {_CAUSES['unauthorized']}"
    return (
        f"credentials refused (HTTP {status}{f', {code}' if code else ''}): check that"
        " ROUNDUP_WORDPRESS_USERNAME is the login name, that ROUNDUP_WORDPRESS_APP_PASSWORD is"
        " an Application Password (not the account's password), and that the site is HTTPS"
    )


def is_retryable_status(status: int) -> bool:
    """Statuses worth trying again later: a timeout, too early, a rate limit, a server fault."""
    return status in (408, 425, 429) or 500 <= status <= 599


def next_try(attempts: int, now: datetime, retry_after_s: float | None = None) -> datetime:
    """When the daemon tries a failed step again: 5 min after the first failure,
    doubling up to 6 h; a server's Retry-After wins when it asks for longer (up to a
    day). ``attempts`` counts this failure too."""
    delay = min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), MAX_RETRY)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(timedelta(seconds=retry_after_s), MAX_RETRY_AFTER))
    return now + delay
