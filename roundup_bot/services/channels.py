"""Builds the suggestion channels that are switched on, from the config and environment.

The one place that knows which adapter serves which channel. Each adapter is
imported only when its channel is on, so a daemon with Bluesky off never loads
atproto (nor tweepy with X off). A channel that cannot be built (a missing
credential, a broken thank-you template) raises here, and the mentions run
reports that channel as failed and reads the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from roundup_bot.config import Settings
from roundup_bot.core.channels import CHANNEL_NAMES, SuggestionChannel
from roundup_bot.core.errors import ConfigError
from roundup_bot.services.thanks import ThanksText, thanks_renderer

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class OpenChannel:
    """A channel ready to read, with what the run needs to know about it."""

    channel: SuggestionChannel
    first_run_days: int
    thanks_text: ThanksText | None  # None: thank-you replies are off


def enabled_channel_names(settings: Settings) -> list[str]:
    """The channels switched on in the config, in reading order."""
    return [name for name in CHANNEL_NAMES if _enabled(settings, name)]


def _enabled(settings: Settings, name: str) -> bool:
    if name == "wordpress":
        # [wordpress] enabled is about publishing; its comments are read by
        # services.wordpress_comments (each comment once, whenever it is approved),
        # not as a newest-first sweep, so they are not a channel of this run.
        return False
    section = {"x": "twitter"}.get(name, name)
    config = getattr(settings, section, None)
    return bool(getattr(config, "enabled", False))


def check_channel(name: str, settings: Settings, environ: Mapping[str, str]) -> None:
    """Raises ConfigError when the channel lacks a credential it needs, or
    TemplateError when its thank-you template is broken; reads nothing."""
    open_channel(name, settings, environ, lambda _s: None).channel.close()


def open_channel(
    name: str, settings: Settings, environ: Mapping[str, str], sleep: Sleep
) -> OpenChannel:
    """Build one channel's adapter.

    Raises:
        ConfigError: a credential it needs is not set.
        TemplateError: its thank-you template is missing or broken.
    """
    if name == "x":
        return _open_x(settings, environ, sleep)
    if name == "mastodon":
        return _open_mastodon(settings, environ, sleep)
    if name == "bluesky":
        return _open_bluesky(settings, environ, sleep)
    if name == "wordpress":
        raise ConfigError(
            settings.path,
            "wordpress.read_comments",
            "WordPress comments are read by `roundup-bot wordpress comments` (and the daemon's"
            " mentions job), not as a mentions channel",
        )
    raise ConfigError(
        settings.path, f"{name}.enabled", f"this version of roundup-bot cannot read {name} yet"
    )


def _open_x(settings: Settings, environ: Mapping[str, str], sleep: Sleep) -> OpenChannel:
    from roundup_bot.adapters.twitter import XApi, XApiOptions, XChannel, XCredentials

    twitter = settings.twitter
    credentials = XCredentials.from_env(environ)
    credentials.require_reading()
    thanks_text = None
    if twitter.thank_suggesters or twitter.announce:
        credentials.require_posting()  # replies and announcements post as the account
    if twitter.thank_suggesters:
        thanks_text = thanks_renderer(settings, twitter.thank_template, 280)
    api = XApi(
        credentials,
        XApiOptions(
            base_url=twitter.api_base_url,
            timeout=twitter.timeout,
            max_rate_limit_wait=twitter.max_rate_limit_wait,
            retries=twitter.retries,
            retry_backoff=twitter.retry_backoff,
        ),
        sleep=sleep,
    )
    channel = XChannel(
        api,
        username=twitter.username,
        user_id=twitter.user_id,
        max_posts_per_month=twitter.max_posts_per_month,
    )
    return OpenChannel(channel, twitter.first_run_days, thanks_text)


def _open_mastodon(settings: Settings, environ: Mapping[str, str], sleep: Sleep) -> OpenChannel:
    from roundup_bot.adapters.mastodon import (
        MAX_POST_CHARS,
        MastodonChannel,
        MastodonCredentials,
        MastodonOptions,
    )

    mastodon = settings.mastodon
    credentials = MastodonCredentials.from_env(environ)
    credentials.require()
    thanks_text = None
    if mastodon.thank_suggesters:
        thanks_text = thanks_renderer(settings, mastodon.thank_template, MAX_POST_CHARS)
    channel = MastodonChannel(
        credentials,
        MastodonOptions(
            api_base_url=mastodon.api_base_url,
            timeout=mastodon.timeout,
            max_rate_limit_wait=mastodon.max_rate_limit_wait,
            retries=mastodon.retries,
            retry_backoff=mastodon.retry_backoff,
            include_filtered=mastodon.include_filtered,
            announce_visibility=mastodon.visibility,
        ),
        sleep=sleep,
    )
    return OpenChannel(channel, mastodon.first_run_days, thanks_text)


def _open_bluesky(settings: Settings, environ: Mapping[str, str], sleep: Sleep) -> OpenChannel:
    from roundup_bot.adapters.bluesky import (
        MAX_POST_CHARS,
        BlueskyChannel,
        BlueskyCredentials,
        BlueskyOptions,
    )

    bluesky = settings.bluesky
    credentials = BlueskyCredentials.from_env(environ)
    credentials.require()
    thanks_text = None
    if bluesky.thank_suggesters:
        thanks_text = thanks_renderer(settings, bluesky.thank_template, MAX_POST_CHARS)
    channel = BlueskyChannel(
        credentials,
        BlueskyOptions(
            handle=bluesky.handle,
            service=bluesky.service,
            timeout=bluesky.timeout,
            max_rate_limit_wait=bluesky.max_rate_limit_wait,
            retries=bluesky.retries,
            retry_backoff=bluesky.retry_backoff,
        ),
        sleep=sleep,
    )
    return OpenChannel(channel, bluesky.first_run_days, thanks_text)
