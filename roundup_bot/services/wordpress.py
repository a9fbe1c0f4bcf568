"""The WordPress step of publishing: one round-up becomes exactly one post.

:func:`roundup_bot.services.publish.publish` writes the files, then marks the
round-up published and its WordPress step ``pending`` in one transaction, then
(still holding the publish lock) calls :func:`push`::

    the post's id is stored?   GET posts/<id>        (gone or trashed: as if not)
    else                       GET posts?slug=<the round-up's slug>&status=<every status>
    categories and tags        looked up by name, created when missing
    a post was found           POST posts/<id>       update it (a live post stays live)
    else                       POST posts            create it
    then, in ONE transaction   its id, link and status, and the step "done"

An answer lost after WordPress created the post, or a crash before the id was
stored, leaves a post with the round-up's slug: the next try finds it and
updates it. Two publishers never run at once (the publish lock). A failure
(WordPress down, a timeout, 429, 5xx, a malformed answer, refused
credentials) is stored with its reason and the time of the next try
(:func:`roundup_bot.core.wordpress.next_try`, honouring Retry-After); the
files and the approval stand. ``roundup-bot publish DRAFT_ID`` and the
daemon's ``wordpress`` job (``services.publish.retry_posts``) try again.
Credentials come from the environment the app was wired with (``App.environ``).

The adapter is async (one deadline per request, like every fetch); each use
case here runs it on its own event loop, so callers stay synchronous.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from roundup_bot.core.errors import RoundupError, StorageError, WordPressError
from roundup_bot.core.wordpress import (
    AuthStyle,
    PostFacts,
    WordPressPost,
    edit_link,
    first_status,
    is_whole_page,
    next_try,
    post_fields,
    post_slug,
    post_title,
    scheduled_moment,
    status_on_update,
)

if TYPE_CHECKING:
    from roundup_bot.adapters.wordpress import Credentials, WordPressApi
    from roundup_bot.config import Settings
    from roundup_bot.core.records import Draft
    from roundup_bot.services.app import App

log = logging.getLogger(__name__)

#: Makes the API for a run (tests hand in one bound to a fake server's client).
ApiFactory = Callable[["Settings", "Credentials"], "WordPressApi"]


def enabled(settings: Settings) -> bool:
    return settings.wordpress.enabled


def credentials(environ: Mapping[str, str]) -> Credentials:
    """The credentials from the environment the app was wired with (``App.environ``);
    checked before anything is approved.

    Raises:
        ConfigError: none set, half a pair, or both kinds.
    """
    from roundup_bot.adapters.wordpress import credentials_from_env

    return credentials_from_env(environ)


def open_api(settings: Settings, creds: Credentials) -> WordPressApi:
    from roundup_bot.adapters.wordpress import WordPressApi, WordPressPolicy

    wp = settings.wordpress
    return WordPressApi(
        wp.site_url,
        creds,
        WordPressPolicy(timeout=wp.timeout),
        api_url=wp.api_url,
    )


def slug_of(settings: Settings, draft: Draft) -> str:
    return post_slug(settings.roundup.name, draft.week)


def edit_url(settings: Settings, post: WordPressPost, environ: Mapping[str, str]) -> str | None:
    """The post's edit screen in WordPress (wp-admin, or wordpress.com's editor when
    a WordPress.com token is set), once its id is known."""
    from roundup_bot.adapters.wordpress import TOKEN_ENV

    if post.post_id is None or not settings.wordpress.site_url:
        return None
    style: AuthStyle = (
        "wpcom-token" if environ.get(TOKEN_ENV, "").strip() else "application-password"
    )
    return edit_link(settings.wordpress.site_url, post.post_id, style)


@dataclass(frozen=True, slots=True)
class PostContent:
    """What the post says, rendered from the round-up (the same for a create and an update)."""

    title: str
    content: str
    excerpt: str
    scheduled: datetime | None


def post_content(settings: Settings, draft: Draft, now: datetime) -> PostContent:
    """The post's title, content ([wordpress] template), excerpt (the intro) and, for
    ``future``, when it goes out.

    Raises:
        TemplateError: the template is broken.
        WordPressError: the template renders a whole page, not a fragment.
    """
    from roundup_bot.adapters.render import renderer_for, roundup_view

    wp = settings.wordpress
    roundup = settings.roundup
    view = roundup_view(draft, roundup.timezone, settings.publish.base_url)
    content = renderer_for(settings).render(draft, "html", template=wp.template)
    if is_whole_page(content):
        raise WordPressError(
            f"[wordpress] template {wp.template!r} renders a whole HTML page; a post needs"
            " the round-up alone (like roundup_article.html.j2)"
        )
    scheduled = None
    if wp.status == "future" and wp.publish_at:
        scheduled = scheduled_moment(draft.period_end, wp.publish_at, roundup.timezone, now)
    return PostContent(
        title=post_title(view.title, view.date),
        content=content,
        excerpt=view.intro,
        scheduled=scheduled,
    )


def push(
    app: App,
    draft: Draft,
    now: datetime,
    *,
    api_factory: ApiFactory | None = None,
) -> WordPressPost:
    """Make or update the round-up's one post and record the outcome. The caller
    holds the publish lock and has marked the step pending.

    WordPress faults never raise: they are recorded (``state`` "failed", ``error``)
    and returned, and so is a post saved on WordPress whose id could not be stored.
    Raises StorageError when not even the failure can be recorded, and ConfigError
    (credentials missing).
    """
    storage = app.storage
    row = storage.wordpress.get(draft.id)
    if row is None:
        raise RoundupError(f"draft {draft.id} ({draft.week}) has no WordPress step to do")
    creds = credentials(app.environ)
    try:
        content = post_content(app.settings, draft, now)
        facts = asyncio.run(_push(app.settings, creds, row, content, api_factory))
    except WordPressError as exc:
        retry_after = getattr(exc, "retry_after", None)
        when = next_try(row.attempts + 1, now, retry_after)
        log.warning("WordPress: draft %d (%s) not posted: %s", draft.id, draft.week, exc)
        return storage.wordpress.record_failure(draft.id, str(exc), next_try=when, now=now)
    except RoundupError as exc:  # a broken template
        when = next_try(row.attempts + 1, now)
        return storage.wordpress.record_failure(draft.id, str(exc), next_try=when, now=now)
    try:
        stored = storage.wordpress.record_success(draft.id, facts, now)
    except StorageError as exc:
        # The post is on the blog but not recorded as ours: a failure with a next try
        # (which finds it by its slug), never a step left pending with none.
        reason = f"post {facts.id} was saved on WordPress but could not be stored: {exc}"
        log.warning("WordPress: draft %d (%s): %s", draft.id, draft.week, reason)
        when = next_try(row.attempts + 1, now)
        return storage.wordpress.record_failure(draft.id, reason, next_try=when, now=now)
    log.info(
        "WordPress: draft %d (%s) is post %d (%s) %s",
        draft.id,
        draft.week,
        facts.id,
        facts.status,
        facts.link or "",
    )
    return stored


async def _push(
    settings: Settings,
    creds: Credentials,
    row: WordPressPost,
    content: PostContent,
    api_factory: ApiFactory | None,
) -> PostFacts:
    wp = settings.wordpress
    api = (api_factory or open_api)(settings, creds)
    async with api:
        existing = await api.get_post(row.post_id) if row.post_id is not None else None
        if existing is None:
            existing = await api.find_post(row.slug)
        categories = tuple([await api.term_id("categories", name) for name in wp.categories])
        tags = tuple([await api.term_id("tags", name) for name in wp.tags])
        if existing is None:
            status: str | None = first_status(wp.status, content.scheduled)
        else:
            status = status_on_update(wp.status, content.scheduled, existing.status)
        fields = post_fields(
            title=content.title,
            content=content.content,
            excerpt=content.excerpt,
            slug=row.slug,
            status=status,
            categories=categories,
            tags=tags,
            date_gmt=content.scheduled,
        )
        saved = await api.save_post(existing.id if existing else None, fields)
        if saved.slug and saved.slug != row.slug:
            log.warning(
                "WordPress gave post %d the slug %r, not %r: another post (perhaps in the"
                " trash) holds it",
                saved.id,
                saved.slug,
                row.slug,
            )
        return saved


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``roundup-bot wordpress check`` found."""

    api: str  # the wp/v2 base the requests go to
    style: str  # "an Application Password" or "a WordPress.com token"
    user: str  # the user the credentials belong to


def check(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    api_factory: ApiFactory | None = None,
) -> CheckReport:
    """Try the credentials (``users/me``).

    Raises:
        ConfigError: no site_url, or no credentials.
        WordPressError: refused (naming the likely cause) or unreachable.
    """
    from roundup_bot.core.errors import ConfigError

    if not settings.wordpress.site_url:
        raise ConfigError(settings.path, "wordpress.site_url", "required key is missing")
    creds = credentials(environ)

    async def run() -> CheckReport:
        api = (api_factory or open_api)(settings, creds)
        async with api:
            me = await api.me()
            base = await api.base()
        name = str(me.get("name") or "?")
        login = me.get("slug")
        style = (
            "a WordPress.com token" if creds.style == "wpcom-token" else "an Application Password"
        )
        return CheckReport(base, style, f"{name} ({login})" if login else name)

    return asyncio.run(run())


__all__ = [
    "CheckReport",
    "PostContent",
    "check",
    "credentials",
    "edit_url",
    "enabled",
    "post_content",
    "push",
    "slug_of",
]
