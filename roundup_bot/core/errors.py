"""The one exception tree of roundup-bot.

Errors from the libraries beneath (httpx, feedparser, SQLAlchemy, tweepy) are
translated where they enter and chained with ``from``, so callers only ever
catch these. Every class roundup-bot raises on purpose is defined here, and
nowhere else; the CLI maps them to its exit statuses in one place
(``roundup_bot.entrypoints.cli._exits``)::

    RoundupError                                                exit status
    ├── ConfigError            bad config file / environment; names file and key   2
    ├── StorageError           the database could not be opened, migrated or written
    │   └── EditorExistsError  an editor of that name already exists
    ├── LockHeldError          another run holds the same job's lock               3
    ├── FetchError             one HTTP fetch failed (carries the URL)
    │   ├── FetchTimeout       the overall deadline passed
│   ├── ConnectFailed      no connection could be made: nothing was sent
    │   ├── ResponseTooLarge   the body passed the size limit (after decompression)
    │   ├── TooManyRedirects
    │   ├── HTTPStatusError    a non-success status (carries status, Retry-After)
    │   └── BlockedAddress     the URL resolves to a private/loopback/link-local address
    ├── FeedParseError         the bytes are not a usable feed (carries the URL)
    ├── SourceError            a suggestion source (X, ...) failed as a whole
    │   └── ChannelError       a suggestion channel's call failed (one line for the operator)
    │       ├── ChannelLimited         stopped by a limit; the place is kept (resume_at)  4 *
    │       ├── ChannelAuthError       credentials refused, or the account may not do this
    │       ├── ChannelRequestError    another refusal (an expired cursor, no such post)
    │       ├── ChannelUnavailable     5xx answers or timeouts, still failing after retries
    │       ├── ChannelBadResponse     the answer is not what the API documents
    │       ├── ChannelMaybePosted     a post went out but its answer was lost: never resent
    │       └── XApiError      the X API's own (each also the matching Channel* error)
    │           ├── XLimitError        (ChannelLimited)
    │           │   ├── XRateLimited   a 429 rate limit further away than we wait
    │           │   └── XUsageCapped   the plan's usage cap or credits are used up
    │           ├── XAuthError         (ChannelAuthError) 401/403
    │           ├── XRequestError      (ChannelRequestError) another 4xx
    │           ├── XUnavailable       (ChannelUnavailable) 5xx or timeouts
    │           ├── XMaybePosted       (ChannelMaybePosted) sent, answer lost: not resent
    │           └── XBadResponse       (ChannelBadResponse)
    ├── RunStopped             the daemon asked a run to stop while it waited
    ├── TemplateError          a round-up template is broken (names file and line)
    ├── PublishError           the round-up could not be written to [publish] output_dir
    ├── WordPressError         the blog's REST API refused or failed (one line)
    │   ├── WordPressAuthError     credentials refused (401/403); names the likely cause
    │   ├── WordPressUnavailable   down, a timeout, 429 or 5xx (carries Retry-After): try later
    │   └── WordPressBadAnswer     an answer that is not the REST API's
    ├── MalformedAnswer        a WordPress answer is not the REST API's shape (a ValueError)
    ├── AccountError           an editor's name or password breaks the rules
    ├── FormProblem            a form post cannot be applied (also a ValueError)
    ├── FormUnreadable         a draft edited as text cannot be read (also a ValueError)
    ├── InvalidURL             not an absolute http(s) URL (also a ValueError)
    ├── EditorLinkError        an editor's own link cannot be added (also a ValueError)
    ├── MalformedPage          an X API page is not a page of posts (also a ValueError)
    ├── MalformedNotifications a Mastodon/Bluesky answer lists no notifications (ValueError)
    ├── WeekLabelError         not an ISO week such as 2026-W48 (also a ValueError)
    │   └── WeekOutOfRange     an ISO week that is not there, or outside the years allowed
    ├── NotifyError            an editor's email or the chat webhook could not be sent
    │   └── MaybeDelivered     the answer was lost after the message went out: not resent
    └── DraftError             a draft operation is not allowed (status rules, stale version)
        ├── DraftNotFound      no draft has that id (also a LookupError)
        ├── StaleDraftError    someone else saved the draft since it was read
        └── AlreadyApproved    someone approved it first (carries who and when)

Any other RoundupError that reaches the command line exits with status 1; a
bad command line (click's usage errors) exits 2. (*) A mentions run turns a
ChannelLimited into a report whose outcome the CLI maps to status 4.
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


class EditorExistsError(StorageError):
    """An editor of that name already exists (names compare without regard to case)."""


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


class ConnectFailed(FetchError):
    """No connection could be made (refused, no such host, no answer to connect):
    nothing was sent, so sending again is safe."""


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


class ChannelMaybePosted(ChannelError):
    """A post (a thank-you, an announcement) was sent but no answer came back (a
    timeout or a dropped connection after sending, an answer unreadable): the
    platform may well have made it, so it must not be sent again by itself. Only
    failures known to come before sending (no connection, an HTTP error answer)
    are other ChannelErrors."""


class XApiError(ChannelError):
    """The X API could not give what was asked; the message is one line for the operator."""


class XLimitError(XApiError, ChannelLimited):
    """Stopped by a limit, not a fault: run again later (the place is kept)."""


class XRateLimited(XLimitError):
    """A 429 rate limit whose reset is further away than we are willing to wait."""


class XUsageCapped(XLimitError):
    """The plan's usage cap is reached, or the pay-per-use credits are used up."""

    outcome = "usage_capped"


class XAuthError(XApiError, ChannelAuthError):
    """401 or 403: the credentials, the app's set-up or the plan does not allow this."""


class XRequestError(XApiError, ChannelRequestError):
    """Another 4xx: the request itself was refused (expired pagination token, no such user)."""


class XUnavailable(XApiError, ChannelUnavailable):
    """5xx answers or timeouts, still failing after the retries."""


class XMaybePosted(XApiError, ChannelMaybePosted):
    """A post or reply was sent but its answer was lost: it may be on X; never resent."""


class XBadResponse(XApiError, ChannelBadResponse):
    """The answer is not the JSON object the endpoint documents."""


class RunStopped(RoundupError):
    """The daemon asked the run to stop while it waited (rate-limit reset, retry backoff)."""


class TemplateError(RoundupError):
    """A round-up template could not be loaded or rendered; names the file and line."""


class PublishError(RoundupError):
    """A published file could not be written; nothing half-written is left behind."""


class WordPressError(RoundupError):
    """Publishing to, or reading comments from, the WordPress blog failed."""


class WordPressAuthError(WordPressError):
    """The blog refused the credentials (401/403); the message names the likely cause."""


class WordPressUnavailable(WordPressError):
    """The blog is down, slow, rate-limiting or failing (5xx): worth trying again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class WordPressBadAnswer(WordPressError):
    """The answer is not what the WordPress REST API sends (not JSON, a wrong shape)."""


class MalformedAnswer(RoundupError, ValueError):
    """The JSON is not the shape the WordPress REST API answers with (the pure readers
    raise it; the adapter turns it into WordPressBadAnswer)."""


class AccountError(RoundupError):
    """An editor's name or password breaks the rules; the message says which and why."""


class FormProblem(RoundupError, ValueError):
    """A form post cannot be applied; ``str()`` is a message for the editor."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field  # the form field at fault, to mark it on the page
        super().__init__(message)


class FormUnreadable(RoundupError, ValueError):
    """The draft edited as text (``roundup-bot edit``) cannot be read; says where and why."""


class InvalidURL(RoundupError, ValueError):
    """Not an absolute http(s) URL that can be put in canonical form."""


class EditorLinkError(RoundupError, ValueError):
    """An editor's own link cannot be added (not a web address, no such draft, an
    approved draft); the message is one line for the editor."""


class MalformedPage(RoundupError, ValueError):
    """The JSON is not a page of posts at all (a single odd post is only skipped)."""


class MalformedNotifications(RoundupError, ValueError):
    """A Mastodon or Bluesky answer is not a list of notifications at all."""


class WeekLabelError(RoundupError, ValueError):
    """The text is not an ISO week such as 2026-W48."""


class WeekOutOfRange(WeekLabelError):
    """The text is an ISO week, but not one there is (2026-W99), or one outside the
    years a week may be named in (``core.weeks.FIRST_YEAR`` to ``LAST_YEAR``)."""


class NotifyError(RoundupError):
    """A notification could not be sent; the message names the server, never a secret."""


class MaybeDelivered(NotifyError):
    """The message went out but no answer came back (a timeout or a dropped
    connection during DATA, or after the webhook post was sent): the other side
    may well have it, so it must not be sent again by itself."""


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


class AlreadyApproved(DraftError):
    """The draft is approved (or published) already: another approval came first,
    for example two editors pressing Approve at once. Not a failure: the round-up
    is approved, once; carries who approved it and when, to tell the others."""

    def __init__(
        self,
        draft_id: int,
        week: str,
        status: str,
        approved_by: str | None,
        approved_at: datetime | None,
        published_path: str | None = None,
    ) -> None:
        self.draft_id = draft_id
        self.week = week
        self.status = status  # approved | published
        self.approved_by = approved_by
        self.approved_at = approved_at
        self.published_path = published_path
        who = f" by {approved_by}" if approved_by else ""
        when = f" at {approved_at:%Y-%m-%d %H:%M} UTC" if approved_at else ""
        if status == "published":
            where = f" ({published_path})" if published_path else ""
            done = f"published{where}, approved{who}{when}; reopen it with --force to change it"
        else:
            done = f"approved{who}{when}"
        super().__init__(f"draft {draft_id} ({week}) is already {done}")
