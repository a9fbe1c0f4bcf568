"""Telling the editors that the week's draft is ready (email and a chat webhook).

When a draft is first made, one message per editor's address (and one for the
webhook) is recorded as owed; then every owed message is claimed in the
database, sent, and marked sent. A second run finds nothing owed; a crash
after the claim leaves the message claimed, never sent twice; a failure
releases it for the next run (the draft job and every poll retry). Nothing
here ever stops or fails the draft itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from roundup_bot.core.errors import MaybeDelivered, NotifyError, RoundupError
from roundup_bot.core.notices import DraftNews, Notice, chat_text, draft_ready, recipients
from roundup_bot.core.records import Draft
from roundup_bot.services.app import App
from roundup_bot.storage.notifications import EMAIL, WEBHOOK, Notification

log = logging.getLogger(__name__)

ENV_SMTP_PASSWORD = "ROUNDUP_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret
ENV_WEBHOOK_URL = "ROUNDUP_NOTIFY_WEBHOOK_URL"


@dataclass(frozen=True, slots=True)
class SendReport:
    """What one round of sending did."""

    sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.failed} failed"


def webhook_url(app: App) -> str:
    """The webhook's URL: the environment's (a secret) when set, else the config's."""
    return app.environ.get(ENV_WEBHOOK_URL, "").strip() or app.settings.notify.webhook_url


def tell_editors(app: App, new_draft: Draft | None, now: datetime) -> SendReport:
    """After a draft run: the news of a newly made draft (``new_draft``), else only
    what an earlier run still owes (a refresh makes no news). Never raises."""
    return announce_new_draft(app, new_draft, now) if new_draft else send_due(app, now)


def announce_new_draft(app: App, draft: Draft, now: datetime) -> SendReport:
    """Owe the news of a newly made draft to every editor with an address and to the
    webhook, then send everything owed. Never raises: the draft is made either way."""
    try:
        owe_news(app, draft, now)
    except RoundupError as exc:
        log.warning("could not tell the editors the draft is ready: %s", exc)
        return SendReport()
    return send_due(app, now)


def owe_news(app: App, draft: Draft, now: datetime) -> None:
    settings = app.settings.notify
    addresses = recipients([editor.email for editor in app.storage.editors.list()])
    if addresses and settings.smtp_url:
        app.storage.notifications.owe(draft.id, EMAIL, addresses, now)
    elif addresses:
        log.info(
            "%d editors have an email address, but [notify] smtp_url is not set: no email sent",
            len(addresses),
        )
    if webhook_url(app):
        app.storage.notifications.owe(draft.id, WEBHOOK, [WEBHOOK], now)


def send_due(app: App, now: datetime) -> SendReport:
    """Send every owed message once. Never raises: a failed message is logged,
    recorded (``status`` shows it) and tried again on the next run; a database
    that fails meanwhile is logged and left for the next run too."""
    try:
        return _send_due(app, now)
    except RoundupError as exc:
        log.warning("could not send the news owed to the editors: %s", exc)
        return SendReport()


def _send_due(app: App, now: datetime) -> SendReport:
    sent = failed = 0
    for notification in app.storage.notifications.due():
        if not app.storage.notifications.claim(notification.id, now):
            continue  # another run took it
        try:
            _send(app, notification, news_of(app, app.storage.drafts.get(notification.draft_id)))
        except MaybeDelivered as exc:
            failed += 1
            app.storage.notifications.unknown(notification.id, str(exc))
            log.warning("may not have told %s: %s", _who(notification), exc)
        except (NotifyError, RoundupError) as exc:
            failed += 1
            app.storage.notifications.failed(notification.id, str(exc))
            log.warning("could not tell %s: %s", _who(notification), exc)
        else:
            sent += 1
            app.storage.notifications.sent(notification.id, now)
            log.info("told %s that draft %d is ready", _who(notification), notification.draft_id)
    return SendReport(sent=sent, failed=failed)


def news_of(app: App, draft: Draft) -> Notice:
    settings = app.settings
    zone = ZoneInfo(settings.roundup.timezone)
    ending = draft.period_end.astimezone(zone)
    base = settings.web.base_url.rstrip("/")
    news = DraftNews(
        draft_id=draft.id,
        week_label=draft.week,
        week_ending=f"{ending:%A} {ending.day} {ending:%B %Y}",
        items=len(draft.shown_items),
        candidates=app.storage.candidates.count(draft.period_start, draft.period_end),
        titles=tuple(item.title or item.url for item in draft.shown_items),
        link=f"{base}/drafts/{draft.id}" if base else None,
    )
    return draft_ready(news, draft.title)


def _send(app: App, notification: Notification, notice: Notice) -> None:
    settings = app.settings.notify
    if notification.channel == EMAIL:
        if not settings.smtp_url:
            raise NotifyError("[notify] smtp_url is no longer set")
        # smtplib and the email package are loaded only when there is mail to send.
        from roundup_bot.adapters.mail import SmtpServer, send_email

        send_email(
            SmtpServer.from_url(settings.smtp_url),
            password=app.environ.get(ENV_SMTP_PASSWORD) or None,
            sender=settings.sender,
            to=notification.recipient,
            subject=notice.subject,
            text=notice.text,
            timeout=settings.timeout,
        )
    else:
        # httpx is loaded only when there is a webhook to post to: `draft` stays light.
        from roundup_bot.adapters.webhook import post_message

        url = webhook_url(app)
        if not url:
            raise NotifyError("no webhook is configured any more")
        post_message(url, chat_text(notice), timeout=settings.timeout)


def _who(notification: Notification) -> str:
    return notification.recipient if notification.channel == EMAIL else "the chat webhook"
