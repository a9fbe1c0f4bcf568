"""The one exception tree of roundup-bot.

Errors from the libraries beneath (httpx, feedparser, SQLAlchemy, tweepy) are
translated where they enter and chained with ``from``, so callers only ever
catch these::

    RoundupError
    ├── ConfigError            bad config file / environment; names file and key
    ├── StorageError           the database could not be opened, migrated or written
    ├── LockHeldError          another run holds the same job's lock
    ├── FetchError             one HTTP fetch failed (carries the URL)
    │   ├── FetchTimeout       the overall deadline passed
    │   ├── ResponseTooLarge   the body passed the size limit (after decompression)
    │   ├── TooManyRedirects
    │   ├── HTTPStatusError    a non-success status (carries status, Retry-After)
    │   └── BlockedAddress     the URL resolves to a private/loopback/link-local address
    ├── FeedParseError         the bytes are not a usable feed (carries the URL)
    ├── SourceError            a suggestion source (X, ...) failed as a whole
    │   └── ChannelError       a suggestion channel's call failed (one line for the operator)
    │       ├── ChannelLimited         stopped by a limit; the place is kept (carries resume_at)
    │       ├── ChannelAuthError       credentials refused, or the account may not do this
    │       ├── ChannelRequestError    another refusal (an expired cursor, no such post)
    │       ├── ChannelUnavailable     5xx answers or timeouts, still failing after retries
    │       └── ChannelBadResponse     the answer is not what the API documents
    ├── TemplateError          a round-up template is broken (names file and line)
    ├── PublishError           the round-up could not be written to [publish] output_dir
    └── DraftError             a draft operation is not allowed (status rules, stale version)
        ├── DraftNotFound      no draft has that id (also a LookupError)
        └── StaleDraftError    someone else saved the draft since it was read
"""

from __future__ import annotations

from datetime import datetime


class RoundupError(Exception):
    """Root of every error roundup-bot raises on purpose."""


class ConfigError(RoundupError):
    """The configuration is unusable; the message names the file and the key."""

    def __init__(self, path: str, key: str | None, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class StorageError(RoundupError):
    """The database could not be opened, migrated or written."""


class LockHeldError(RoundupError):
    """Another process holds the lock of the same job."""

    def __init__(self, job: str, holder: str | None = None) -> None:
        self.job = job
        self.holder = holder
        who = f" (held by {holder})" if holder else ""
        super().__init__(f"the {job} job is already running elsewhere{who}")


class FetchError(RoundupError):
    """One HTTP fetch failed; ``url`` is the address that was asked for."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(message)


class FetchTimeout(FetchError):
    """The overall deadline for the fetch passed (slow bodies included)."""


class ResponseTooLarge(FetchError):
    """The body passed the size limit, counted after decompression."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class BlockedAddress(FetchError):
    """The URL points at a private, loopback or link-local address."""


class HTTPStatusError(FetchError):
    """The server answered with a status that carries no usable body."""

    def __init__(
        self, url: str, status: int, message: str, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, message)


class FeedParseError(RoundupError):
    """The fetched bytes are not a usable feed."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(message)


class SourceError(RoundupError):
    """A suggestion source (the X API, later Mastodon or Bluesky) failed as a whole."""


class ChannelError(SourceError):
    """A suggestion channel (X, Mastodon, Bluesky...) could not do what was asked.

    The message is one line for the operator and never holds a credential.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ChannelLimited(ChannelError):
    """Stopped by a limit, not a fault: run again later, the place is kept.

    ``outcome`` names the limit for the run's report ("rate_limited", or
    "usage_capped" for limits that no waiting clears).
    """

    outcome = "rate_limited"

    def __init__(
        self, message: str, status: int | None = None, resume_at: datetime | None = None
    ) -> None:
        self.resume_at = resume_at
        super().__init__(message, status)


class ChannelAuthError(ChannelError):
    """Credentials refused, or the account or plan may not do this."""


class ChannelRequestError(ChannelError):
    """The request itself was refused (an expired cursor, a deleted post)."""


class ChannelUnavailable(ChannelError):
    """5xx answers or timeouts, still failing after the retries."""


class ChannelBadResponse(ChannelError):
    """The answer is not the JSON the API documents (or too large to be one)."""


class TemplateError(RoundupError):
    """A round-up template could not be loaded or rendered; names the file and line."""


class PublishError(RoundupError):
    """A published file could not be written; nothing half-written is left behind."""


class DraftError(RoundupError):
    """A draft operation breaks the status rules or works on a stale version."""


class DraftNotFound(DraftError, LookupError):
    """No draft (or no item of the draft) has the id asked for."""


class StaleDraftError(DraftError):
    """The draft changed since the caller read it: ``version`` no longer matches.

    Carries who saved it last and when, so an editor can be told and keep what
    they typed.
    """

    def __init__(
        self,
        draft_id: int,
        expected: int,
        current: int,
        updated_by: str | None,
        updated_at: datetime | None,
    ) -> None:
        self.draft_id = draft_id
        self.expected = expected
        self.current = current
        self.updated_by = updated_by
        self.updated_at = updated_at
        who = f" by {updated_by}" if updated_by else ""
        when = f" at {updated_at:%Y-%m-%d %H:%M} UTC" if updated_at else ""
        super().__init__(
            f"draft {draft_id} was changed meanwhile{who}{when} "
            f"(version {current}, you had {expected}): reload it and apply your edits again"
        )
