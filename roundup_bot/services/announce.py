"""Announcing a published round-up on each channel that asks for it.

Once a round-up is published (its files written and, with WordPress on, its
post made), every channel with ``announce = true`` posts about it once, from
``announce.txt.j2``: the title, the link (the WordPress post when there is
one, else the published page under ``[publish] base_url``) and thanks to that
platform's suggesters whose links made it in. On Bluesky the post carries a
link card built from the page's OpenGraph data (title, description, image),
since Bluesky builds none itself::

    storage.announcements.owe(draft, channels)          once per (round-up, channel)
      -> claim (state "sending") BEFORE posting           never posted twice
      -> render, card, channel.announce(...)              never retried within a run
      -> sent (post id) | failed (error; `roundup-bot publish DRAFT_ID` tries again)
         | still sending (sent but the answer was lost: the post may be there, never resent)

A failure never undoes the publication: it is recorded, reported and retried
by the next ``roundup-bot publish``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from roundup_bot.adapters.render import PostText, and_list, post_template
from roundup_bot.config import Settings
from roundup_bot.core.channels import credit
from roundup_bot.core.errors import ChannelMaybePosted, RoundupError, TemplateError
from roundup_bot.core.records import Draft, LinkCard
from roundup_bot.services.app import App

log = logging.getLogger(__name__)

#: One post's length on each platform (Bluesky counts graphemes: never fewer).
MAX_CHARS = {"x": 280, "mastodon": 500, "bluesky": 300}
SECTIONS = {"x": "twitter", "mastodon": "mastodon", "bluesky": "bluesky"}

#: (channel name) -> a channel ready to post (services.channels.open_channel's).
CardFetcher = Callable[[str], LinkCard]


@dataclass(frozen=True, slots=True)
class AnnounceResult:
    channel: str
    ok: bool
    post_id: str | None = None
    error: str | None = None
    skipped: bool = False  # already sent, or being sent by another run


def announcing_channels(settings: Settings) -> list[str]:
    """The channels whose section says ``announce = true`` (and that are on)."""
    out = []
    for name, section in SECTIONS.items():
        config = getattr(settings, section)
        if getattr(config, "enabled", False) and getattr(config, "announce", False):
            out.append(name)
    return out


def announce_url(app: App, draft: Draft) -> str | None:
    """Where the announcement points: the WordPress post if there is one, else the
    published page under [publish] base_url; None when neither is known."""
    step = app.storage.wordpress.get(draft.id)
    link = getattr(step, "link", None) if step is not None and step.done else None
    if link:
        return str(link)
    base = app.settings.publish.base_url.rstrip("/")
    return f"{base}/{draft.week}.html" if base else None


def announce_published(
    app: App,
    draft: Draft,
    now: datetime,
    *,
    card_fetcher: CardFetcher | None = None,
) -> list[AnnounceResult]:
    """Post the round-up's announcement on every announcing channel not done yet.

    Never raises for a channel's failure (it is recorded); raises StorageError.
    """
    channels = announcing_channels(app.settings)
    if not channels or draft.status != "published":
        return []
    app.storage.announcements.owe(draft.id, channels, now)
    done = {a.channel: a for a in app.storage.announcements.for_draft(draft.id)}
    url = announce_url(app, draft)
    people = app.storage.suggestions.suggesters_of([i.candidate_id for i in draft.shown_items])
    results: list[AnnounceResult] = []
    card: LinkCard | None = None
    for name in channels:
        row = done.get(name)
        if row is not None and row.state in ("sent", "sending"):
            results.append(AnnounceResult(name, True, row.post_id, skipped=True))
            continue
        if url is None:
            error = "no address to announce: set [publish] base_url (or publish to WordPress)"
            app.storage.announcements.failed(draft.id, name, error)
            results.append(AnnounceResult(name, False, error=error))
            continue
        try:
            text = render_announcement(app.settings, name, draft, url, people.get(name, {}))
        except TemplateError as exc:
            app.storage.announcements.failed(draft.id, name, str(exc))
            results.append(AnnounceResult(name, False, error=str(exc)))
            continue
        if name == "bluesky" and card is None:
            card = _card(app, url, now, card_fetcher)
        if not app.storage.announcements.claim(draft.id, name, now):
            results.append(AnnounceResult(name, True, skipped=True))
            continue
        results.append(_post(app, draft, name, text, card if name == "bluesky" else None,
                             people.get(name, {}), now))  # fmt: skip
    return results


def _post(
    app: App,
    draft: Draft,
    name: str,
    text: str,
    card: LinkCard | None,
    people: Mapping[str, str | None],
    now: datetime,
) -> AnnounceResult:
    posted: str | None = None
    try:
        opened = app.open_channel(name)
        try:
            for key, value in opened.channel.start(app.storage.state.all(name)).items():
                app.storage.state.set(name, key, value)
            posted = opened.channel.announce(
                text,
                card=card,
                key=f"roundup-bot-announce-{draft.roundup}-{draft.week}",
                mentions={h: i for h, i in people.items() if i},
            )
            for key, value in opened.channel.saved_state().items():
                app.storage.state.set(name, key, value)
        finally:
            opened.channel.close()
    except ChannelMaybePosted as exc:
        # The post may be there: the row stays "sending" (as for a run killed while
        # posting), never tried again by itself; `status` shows it for a person to check.
        error = f"{name}: {exc}"
        log.warning("announcing the %s round-up may have failed: %s", draft.week, error)
        return AnnounceResult(name, False, error=error)
    except RoundupError as exc:
        error = f"{name}: {exc}"
        log.warning("announcing the %s round-up failed: %s", draft.week, error)
        app.storage.announcements.failed(draft.id, name, error)
        return AnnounceResult(name, False, error=error)
    app.storage.announcements.sent(draft.id, name, posted, now)
    log.info("announced the %s round-up on %s (%s)", draft.week, name, posted)
    return AnnounceResult(name, True, posted)


def _card(app: App, url: str, now: datetime, fetcher: CardFetcher | None) -> LinkCard:
    if fetcher is not None:
        return fetcher(url)
    from roundup_bot.adapters.pages import fetch_card

    return fetch_card(url, app.link_policy(), now)


def render_announcement(
    settings: Settings,
    channel: str,
    draft: Draft,
    url: str,
    people: Mapping[str, str | None],
) -> str:
    """The announcement's text for one channel, within its length: suggesters are
    dropped from the end of the thanks until it fits.

    Raises:
        TemplateError: the template is missing or broken, or too long even without thanks.
    """
    section = getattr(settings, SECTIONS[channel])
    name = str(getattr(section, "announce_template", "announce.txt.j2"))
    template = _template(settings, name)
    limit = MAX_CHARS.get(channel, 280)
    credits = [credit(handle) for handle in people]
    zone = ZoneInfo(settings.roundup.timezone)
    values = {
        "title": draft.title,
        "week": draft.week,
        "date": f"{draft.period_end.astimezone(zone):%-d %B %Y}",
        "url": url,
        "platform": channel,
    }
    for shown in range(len(credits), -1, -1):
        text = template(
            **values, suggesters=credits[:shown], more=len(credits) - shown, and_list=and_list
        ).strip()
        if len(text) <= limit:
            if not text:
                raise TemplateError(f"{name}: renders to an empty post")
            return text
    raise TemplateError(f"{name}: renders to more than {limit} characters for {channel}")


def _template(settings: Settings, name: str) -> PostText:
    folder = settings.roundup.templates_dir
    return post_template(name, settings.resolve_path(folder) if folder else None)


def summary(results: Sequence[AnnounceResult]) -> list[str]:
    """One line per channel, for `approve` and `publish`."""
    lines = []
    for r in results:
        if r.skipped:
            lines.append(f"announcement on {r.channel}: already posted ({r.post_id or 'claimed'})")
        elif r.ok:
            lines.append(f"announced on {r.channel}: {r.post_id}")
        else:
            lines.append(f"announcement on {r.channel} FAILED: {r.error}")
    return lines
