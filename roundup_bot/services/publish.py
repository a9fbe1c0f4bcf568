"""Approving and publishing a round-up; the same path for the CLI and the web page.

Status goes draft -> approved -> published. :func:`approve` records who
approved it and when, then :func:`publish` writes ``[publish] output_dir``::

    YYYY-Www.html   the round-up page ([roundup] template)
    YYYY-Www.md     the same in Markdown ([roundup] markdown_template)
    feed.xml        Atom feed of every published round-up, newest first

Everything is rendered before anything is written, so a broken template
leaves the old files alone; each file is written to a temporary file beside it
and renamed over the old one, so a reader never sees half a file. If a write
fails the draft stays approved, and approving it again retries.

A published round-up never changes silently: :func:`reopen` takes it back to
a draft only with ``force``, which is recorded, and approving it again
republishes it (the feed entry's ``updated`` time moves; ``published`` stays).

With ``[wordpress] enabled``, the round-up then becomes one post on the blog
(:mod:`roundup_bot.services.wordpress`), under the same lock. That step is
marked to do in the transaction that marks the round-up published, and its
failure is recorded, never raised: the files and the approval stand, and
``roundup-bot publish DRAFT_ID`` or the daemon tries the post again.

Then each channel with ``announce = true`` posts about it once
(:mod:`roundup_bot.services.announce`): claimed before posting, its failure
recorded and tried again by ``roundup-bot publish DRAFT_ID``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from roundup_bot.adapters.render import Renderer, clean_text, renderer_for, roundup_view
from roundup_bot.core.clock import utc_now
from roundup_bot.core.errors import AlreadyApproved, DraftError, PublishError
from roundup_bot.core.records import Draft
from roundup_bot.core.wordpress import WordPressPost
from roundup_bot.services import wordpress
from roundup_bot.services.announce import AnnounceResult, announce_published

if TYPE_CHECKING:
    from roundup_bot.config import Settings
    from roundup_bot.services.app import App
    from roundup_bot.services.wordpress import ApiFactory

FEED_NAME = "feed.xml"
#: The database lock that publishing holds, and how long a second publish waits for it.
PUBLISH_LOCK = "publish"
PUBLISH_LOCK_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Published:
    """Where a round-up was published."""

    draft: Draft
    html_path: Path
    markdown_path: Path
    feed_path: Path
    wordpress: WordPressPost | None = None  # the WordPress step, when [wordpress] enabled
    # The announcements on the channels with announce = true (services.announce).
    announcements: tuple[AnnounceResult, ...] = ()

    @property
    def complete(self) -> bool:
        """Every step succeeded (the files, and the post when WordPress is on)."""
        return self.wordpress is None or self.wordpress.done


def output_dir(settings: Settings) -> Path:
    return settings.resolve_path(settings.publish.output_dir)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    Raises:
        PublishError: the folder or the file could not be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PublishError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # served by a web server: readable by all, like a new file
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise PublishError(f"cannot write {path}: {exc.strerror or exc}") from exc
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort; not every system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _as_published(draft: Draft, now: datetime) -> Draft:
    return replace(
        draft,
        status="published",
        published_at=now,
        first_published_at=draft.first_published_at or now,
        publish_count=draft.publish_count + 1,
    )


def build_feed(drafts: Sequence[Draft], renderer: Renderer, settings: Settings) -> bytes:
    """The Atom feed of these (published) round-ups, newest week first.

    Entry ids are tag: URIs made from the round-up's name and week, so they
    stay the same when ``[publish] base_url`` changes.
    """
    from feedgen.feed import FeedGenerator

    roundup = settings.roundup
    base = settings.publish.base_url.rstrip("/")
    ordered = sorted(drafts, key=lambda d: d.period_end, reverse=True)
    generator = FeedGenerator()
    generator.id(f"{base}/{FEED_NAME}" if base else f"tag:roundup-bot,2026:{roundup.name}")
    generator.title(clean_text(roundup.title))
    generator.author({"name": clean_text(roundup.name)})
    generator.language("en-GB")
    generator.generator("roundup-bot")
    if base:
        generator.link(href=f"{base}/{FEED_NAME}", rel="self", type="application/atom+xml")
        generator.link(href=f"{base}/", rel="alternate", type="text/html")
    latest = max((d.published_at for d in ordered if d.published_at), default=None)
    generator.updated(latest or datetime(2026, 1, 1, tzinfo=UTC))
    for draft in reversed(ordered):  # feedgen prepends: add oldest first
        view = roundup_view(draft, roundup.timezone, base)
        entry = generator.add_entry()
        year = draft.period_end.year
        entry.id(f"tag:roundup-bot,{year}:{roundup.name}/{draft.week}")
        entry.title(f"{view.title} – week ending {view.date}")
        href = f"{base}/{draft.week}.html" if base else f"{draft.week}.html"
        entry.link(href=href, rel="alternate", type="text/html")
        published = draft.first_published_at or draft.published_at
        if published is not None:
            entry.published(published)
        entry.updated(draft.published_at or published or draft.updated_at)
        entry.summary(view.intro)
        content = renderer.render(draft, "html", template=roundup.feed_entry_template)
        entry.content(content, type="html")
    return bytes(generator.atom_str(pretty=True))


def publish(
    app: App,
    draft_id: int,
    *,
    now: datetime | None = None,
    retry: bool = False,
    api_factory: ApiFactory | None = None,
) -> Published:
    """Write an approved round-up's files and the feed, mark it published, then (with
    [wordpress] enabled) make or update its post. With ``retry`` (``roundup-bot
    publish``), a round-up already published gets whichever step has not succeeded:
    its WordPress post.

    A WordPress fault does not raise: it is recorded and returned in
    ``Published.wordpress`` (the files and the approval stand).

    Raises:
        DraftNotFound, DraftError: no such draft, or it is not approved (nor, with
            ``retry``, published).
        ConfigError: WordPress is on but its credentials are not set (checked first).
        TemplateError: a template is broken (nothing was written).
        PublishError: a file could not be written (the draft stays approved).
        LockHeldError: another publish still runs after a minute.
    """
    now = now or utc_now()
    on_wordpress = wordpress.enabled(app.settings)
    if on_wordpress:
        wordpress.credentials(app.environ)  # a config error changes nothing
    # One publish at a time (across processes and machines): two round-ups approved
    # at once would each write a feed.xml without the other, one approved twice at
    # once would be published twice, and two WordPress steps could both create a post.
    with app.storage.locks.hold(PUBLISH_LOCK, wait=PUBLISH_LOCK_WAIT_S):
        draft = app.storage.drafts.get(draft_id)
        if retry and draft.status == "published":
            done = _already_published(app, draft)
        else:
            done = _publish(app, draft_id, now, on_wordpress)
        if on_wordpress:
            step = app.storage.wordpress.get(draft_id)
            if step is None:  # published before WordPress was switched on
                step = app.storage.wordpress.ensure_pending(
                    draft_id, wordpress.slug_of(app.settings, done.draft), now
                )
            if not step.done:
                step = wordpress.push(app, done.draft, now, api_factory=api_factory)
            done = replace(done, wordpress=step)
        # Announced once published (after the WordPress post, which it links to when
        # there is one); failures are recorded and tried again by the next publish.
        return replace(done, announcements=tuple(announce_published(app, done.draft, now)))


def _already_published(app: App, draft: Draft) -> Published:
    folder = output_dir(app.settings)
    return Published(
        draft, folder / f"{draft.week}.html", folder / f"{draft.week}.md", folder / FEED_NAME
    )


def _publish(app: App, draft_id: int, now: datetime, on_wordpress: bool) -> Published:
    settings = app.settings
    draft = app.storage.drafts.get(draft_id)
    if draft.status == "published":  # by whoever held the lock while this call waited
        raise _already_approved(draft)
    if draft.status != "approved":
        raise DraftError(
            f"draft {draft_id} ({draft.week}) is {draft.status}: only an approved one is published"
        )
    renderer = renderer_for(settings)
    shown = _as_published(draft, now)
    html = renderer.render(shown, "html", template=settings.roundup.template)
    markdown = renderer.render(shown, "markdown", template=settings.roundup.markdown_template)
    others = [d for d in app.storage.drafts.published(settings.roundup.name) if d.id != draft.id]
    feed = build_feed([shown, *others], renderer, settings)
    folder = output_dir(settings)
    html_path = folder / f"{draft.week}.html"
    markdown_path = folder / f"{draft.week}.md"
    feed_path = folder / FEED_NAME
    atomic_write(html_path, html.encode("utf-8"))
    atomic_write(markdown_path, markdown.encode("utf-8"))
    atomic_write(feed_path, feed)
    slug = wordpress.slug_of(settings, draft) if on_wordpress else None
    stored = app.storage.drafts.mark_published(
        draft_id, path=str(html_path), now=now, wordpress_slug=slug
    )
    return Published(stored, html_path, markdown_path, feed_path)


def approve(
    app: App,
    draft_id: int,
    *,
    by: str,
    now: datetime | None = None,
    expected_version: int | None = None,
    api_factory: ApiFactory | None = None,
) -> Published:
    """Approve a draft as ``by`` and publish it. An approved draft whose publishing
    failed is published again.

    Raises:
        DraftNotFound: no such draft.
        StaleDraftError: ``expected_version`` is given and the draft changed since.
        AlreadyApproved: it is published already (reopen it with force first), or
            another approval came first and published it (editors pressing Approve
            at once: one publishes, the others learn by whom).
        DraftError: it has no items.
        TemplateError, PublishError: see :func:`publish`.
    """
    now = now or utc_now()
    by = by.strip()
    if not by:
        raise DraftError("say who approves it (--by NAME)")
    if wordpress.enabled(app.settings):
        wordpress.credentials(app.environ)  # before approving: a config error changes nothing
    draft = app.storage.drafts.get(draft_id)
    if draft.status == "published":
        raise _already_approved(draft)
    if draft.status == "draft":
        app.storage.drafts.approve(draft_id, by=by, now=now, expected_version=expected_version)
    return publish(app, draft_id, now=now, api_factory=api_factory)


def _already_approved(draft: Draft) -> AlreadyApproved:
    return AlreadyApproved(
        draft.id,
        draft.week,
        draft.status,
        draft.approved_by,
        draft.approved_at,
        draft.published_path,
    )


@dataclass(frozen=True, slots=True)
class RetryReport:
    """What one retry of the failed WordPress posts did."""

    tried: int
    done: int
    failed: tuple[str, ...]  # "2026-W48: why", one per post still failing

    def summary(self) -> tuple[bool | None, str]:
        """The daemon job's result: (ok, one line); ok is None when there was nothing to do."""
        if not self.tried:
            return None, "no WordPress post to retry"
        text = f"WordPress: {self.done} of {self.tried} posts done"
        if self.failed:
            text += "; failed: " + "; ".join(self.failed)
        return not self.failed, text


def retry_posts(
    app: App,
    now: datetime,
    *,
    lock_wait: float = 0.0,
    api_factory: ApiFactory | None = None,
) -> RetryReport:
    """The daemon's retry: every failed or pending WordPress post whose next try has
    come (its backoff passed).

    Holds the publish lock, so it never races an editor's approval.

    Raises:
        LockHeldError: another publish holds the lock (the next run retries).
    """
    name = app.settings.roundup.name
    if not app.storage.wordpress.due(name, now):
        return RetryReport(0, 0, ())
    done = 0
    failed: list[str] = []
    with app.storage.locks.hold(PUBLISH_LOCK, wait=lock_wait):
        due = app.storage.wordpress.due(name, now)  # again, now that the lock is ours
        for row in due:
            draft = app.storage.drafts.get(row.draft_id)
            result = wordpress.push(app, draft, now, api_factory=api_factory)
            if result.done:
                done += 1
            else:
                failed.append(f"{draft.week}: {result.error}")
    return RetryReport(len(due), done, tuple(failed))


def reopen(
    app: App,
    draft_id: int,
    *,
    by: str,
    now: datetime | None = None,
    force: bool = False,
    expected_version: int | None = None,
) -> Draft:
    """Take an approved round-up back to draft; a published one only with ``force``.

    A reopened published round-up keeps its published files until it is approved
    again, which republishes it and records that it changed.

    Raises:
        DraftNotFound, StaleDraftError, DraftError (a draft already; published without force).
    """
    return app.storage.drafts.reopen(
        draft_id,
        by=by,
        now=now or utc_now(),
        allow_published=force,
        expected_version=expected_version,
    )
