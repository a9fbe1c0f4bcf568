"""Telling editors the week's draft is ready: one email per editor per draft, the
chat webhook, never twice, and never a reason for the draft to fail.

Every message goes to a real server on loopback: aiosmtpd for email, a
pytest-httpserver for the webhook, and a socket that never answers for a
hanging mail server.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from helpers.drafts import Article, make_app, seed
from helpers.smtp import silent_server, smtp_server
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from roundup_bot.core.notices import DraftNews, draft_ready, is_plain_address, one_line
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.app import App
from roundup_bot.services.drafting import draft_week
from roundup_bot.services.jobs import StopSignal, draft_job, poll_feeds_job
from roundup_bot.services.notify import announce_new_draft, send_due
from roundup_bot.storage import Storage

WEEK = week_by_label("2026-W48", "Europe/London", "friday 09:00")  # 20 Nov 09:00 - 27 Nov 09:00
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOSTILE = 'Budget\r\nBcc: victim@example.org\r\n\r\n<script>alert("x")</script> & more'


def articles() -> list[Article]:
    return [
        Article(f"post-{n}", NOW - timedelta(days=1, hours=n), title=f"Post number {n}")
        for n in range(1, 8)
    ] + [Article("hostile", NOW - timedelta(hours=2), title=HOSTILE)]


def app_with(storage: Storage, tmp_path: Path, **notify: Any) -> App:
    if "sender" in notify:  # the config's key is `from`, a Python keyword
        notify["from"] = notify.pop("sender")
    return make_app(
        storage,
        tmp_path,
        notify={"timeout": 5.0, **notify},
        web={"base_url": "https://roundup.example.gov.uk/"},
        roundup={"max_items": 10},
    )


def add_editors(storage: Storage, *emails: str | None) -> None:
    for n, email in enumerate(emails):
        storage.editors.add(f"editor{n}", "not a real hash", NOW, email=email)


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def make_draft(app: App) -> Any:
    seed(app.storage, articles(), NOW)
    return draft_week(app, WEEK, now=NOW).draft


# --- the news itself (pure) -----------------------------------------------------------


def test_the_news_says_the_week_the_counts_the_first_titles_and_the_link() -> None:
    news = DraftNews(
        draft_id=7,
        week_label="2026-W48",
        week_ending="Friday 27 November 2026",
        items=1,
        candidates=12,
        titles=tuple(f"Title {n}" for n in range(1, 9)),
        link="https://roundup.example.gov.uk/drafts/7",
    )
    notice = draft_ready(news, "That was the local government week that was")
    assert notice.subject == "This week's round-up draft is ready"
    assert "Week ending Friday 27 November 2026 (2026-W48): 1 item picked from 12 candidates" in (
        notice.text
    )
    assert "  5. Title 5" in notice.text
    assert "Title 6" not in notice.text
    assert "… and 3 more." in notice.text
    assert "Open the draft: https://roundup.example.gov.uk/drafts/7" in notice.text


def test_outside_text_is_one_plain_line() -> None:
    assert one_line(HOSTILE) == 'Budget Bcc: victim@example.org <script>alert("x")</script> & more'
    assert len(one_line("word " * 100)) <= 120
    assert one_line("word " * 100).endswith("…")


@pytest.mark.parametrize(
    ("address", "plain"),
    [
        ("ann@council.gov.uk", True),
        ("Ann <ann@council.gov.uk>", False),
        ("ann@council.gov.uk\r\nBcc: x@y.org", False),
        ("ann@localhost", False),
        ("@council.gov.uk", False),
        ("ann council@gov.uk", False),
    ],
)
def test_only_plain_addresses_are_taken(address: str, plain: bool) -> None:
    assert is_plain_address(address) is plain


# --- email ------------------------------------------------------------------------------


def test_each_editor_with_an_address_gets_one_email_and_never_a_second(
    storage: Storage, tmp_path: Path
) -> None:
    with smtp_server() as (url, mailbox):
        app = app_with(storage, tmp_path, smtp_url=url, sender="roundup@council.gov.uk")
        add_editors(storage, "ann@council.gov.uk", None, "BOB@council.gov.uk")
        draft = make_draft(app)
        report = announce_new_draft(app, draft, NOW)
        assert (report.sent, report.failed) == (2, 0)
        assert sorted(to for _sender, [to] in mailbox.envelopes) == [
            "BOB@council.gov.uk",
            "ann@council.gov.uk",
        ]
        message = mailbox.messages[0]
        assert message["Subject"] == "This week's round-up draft is ready"
        assert message["From"] == "roundup@council.gov.uk"
        assert message.get_content_type() == "text/plain"
        text = body(message)
        assert "Week ending Friday 27 November 2026 (2026-W48): 8 items picked" in text
        assert f"Open the draft: https://roundup.example.gov.uk/drafts/{draft.id}" in text
        # Again (a second run, a refresh, the next poll): nothing more is sent.
        assert announce_new_draft(app, draft, NOW).sent == 0
        assert send_due(app, NOW).sent == 0
        assert len(mailbox.messages) == 2


def test_a_hostile_title_stays_plain_text_on_its_own_line(storage: Storage, tmp_path: Path) -> None:
    with smtp_server() as (url, mailbox):
        app = app_with(storage, tmp_path, smtp_url=url, sender="roundup@council.gov.uk")
        add_editors(storage, "ann@council.gov.uk")
        announce_new_draft(app, make_draft(app), NOW)
        [message] = mailbox.messages
        assert message["Bcc"] is None
        assert [to for _sender, [to] in mailbox.envelopes] == ["ann@council.gov.uk"]
        assert message.get_content_type() == "text/plain"
        assert message.is_multipart() is False
        lines = body(message).splitlines()
        hostile = [line for line in lines if "Budget" in line]
        assert hostile == ['  1. Budget Bcc: victim@example.org <script>alert("x")</script> & more']


def test_a_claimed_message_is_never_sent_again_after_a_crash(
    storage: Storage, tmp_path: Path
) -> None:
    """A run that claimed a message and died before marking it sent leaves it
    claimed: the next run does not send it a second time."""
    with smtp_server() as (url, mailbox):
        app = app_with(storage, tmp_path, smtp_url=url, sender="roundup@council.gov.uk")
        add_editors(storage, "ann@council.gov.uk", "bob@council.gov.uk")
        draft = make_draft(app)
        from roundup_bot.services.notify import owe_news

        owe_news(app, draft, NOW)
        first = storage.notifications.due()[0]
        assert storage.notifications.claim(first.id, NOW)  # ...and then the run is killed
        assert send_due(app, NOW).sent == 1  # only the other one
        assert [to for _sender, [to] in mailbox.envelopes] == [
            "bob@council.gov.uk"
            if first.recipient == "ann@council.gov.uk"
            else "ann@council.gov.uk"
        ]
        assert storage.notifications.summary().counts == {"sending": 1, "sent": 1}


def test_a_refusing_server_fails_the_message_not_the_draft_and_the_next_run_retries(
    storage: Storage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with smtp_server() as (url, mailbox):
        app = app_with(storage, tmp_path, smtp_url=url, sender="roundup@council.gov.uk")
        add_editors(storage, "ann@council.gov.uk")
        seed(storage, articles(), NOW)
        mailbox.refuse = "550 5.1.1 mailbox unavailable"
        with caplog.at_level(logging.WARNING):
            result = draft_job(app, StopSignal(), clock=lambda: NOW)
        assert result.ok is True
        assert "created the 2026-W48 draft" in result.summary
        assert "editors told: 0 sent, 1 failed" in result.summary
        assert "refused the address ann@council.gov.uk: 550 5.1.1 mailbox unavailable" in (
            caplog.text
        )
        summary = storage.notifications.summary()
        assert summary.counts == {"failed": 1}
        assert summary.last_error is not None
        assert "550" in summary.last_error
        mailbox.refuse = None
        poll_feeds_job(app, StopSignal(), clock=lambda: NOW)  # every poll retries
        assert [to for _sender, [to] in mailbox.envelopes] == ["ann@council.gov.uk"]
        assert storage.notifications.summary().counts == {"sent": 1}


def test_a_hanging_server_times_out_and_the_draft_is_made(storage: Storage, tmp_path: Path) -> None:
    with silent_server() as url:
        app = app_with(storage, tmp_path, smtp_url=url, sender="r@council.gov.uk", timeout=0.5)
        add_editors(storage, "ann@council.gov.uk")
        seed(storage, articles(), NOW)
        result = draft_job(app, StopSignal(), clock=lambda: NOW)
    assert result.ok is True
    assert storage.drafts.find("welovelocalgov", "2026-W48") is not None
    last = storage.notifications.summary().last_error
    assert last is not None
    assert "did not answer within 0.5 s" in last


def test_no_mail_server_configured_sends_nothing(storage: Storage, tmp_path: Path) -> None:
    app = app_with(storage, tmp_path)
    add_editors(storage, "ann@council.gov.uk")
    report = announce_new_draft(app, make_draft(app), NOW)
    assert (report.sent, report.failed) == (0, 0)
    assert storage.notifications.summary().counts == {}


# --- the webhook ------------------------------------------------------------------------


def test_the_webhook_gets_the_news_once_from_the_secret_variable(
    storage: Storage,
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    posted: list[dict[str, Any]] = []
    answers = iter([Response("busy", status=503), Response("1", status=200)])

    def handler(request: Request) -> Response:
        posted.append(json.loads(request.get_data()))
        return next(answers)

    secret_path = "/webhookb2/abc123secretpart/IncomingWebhook/xyz"
    httpserver.expect_request(secret_path, method="POST").respond_with_handler(handler)
    monkeypatch.setenv("ROUNDUP_NOTIFY_WEBHOOK_URL", httpserver.url_for(secret_path))
    app = app_with(storage, tmp_path, webhook_url="")
    draft = make_draft(app)
    first = announce_new_draft(app, draft, NOW)
    second = send_due(app, NOW)
    third = send_due(app, NOW)
    assert (first.failed, second.sent, third.sent) == (1, 1, 0)
    assert len(posted) == 2
    text = posted[-1]["text"]
    assert text.startswith("*This week's round-up draft is ready*")
    assert "8 items picked" in text
    summary = storage.notifications.summary()
    assert summary.counts == {"sent": 1}


def test_draft_from_the_command_line_tells_the_editors_and_never_shows_the_secrets(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """`roundup-bot draft` at DEBUG: the emails and the webhook post go out once,
    and neither the webhook's URL nor the SMTP password reaches the output."""
    from conftest import write_config
    from helpers.cli import start_cli

    from roundup_bot.storage import open_storage

    secret_path = "/hooks/T0000/B0000/verysecretwebhooktoken"
    httpserver.expect_request(secret_path, method="POST").respond_with_data("ok")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_storage(db)
    try:
        seed(store, articles(), NOW)
        add_editors(store, "ann@council.gov.uk")
    finally:
        store.close()
    with smtp_server(login=("roundup", "smtp-password-123")) as (url, mailbox):
        config = write_config(
            tmp_path,
            f'[database]\nurl = "{db}"\n[roundup]\nfetch_link_details = false\n'
            f'[notify]\nsmtp_url = "{url.replace("smtp://", "smtp://roundup@")}"\n'
            'from = "roundup@council.gov.uk"\n',
        )
        env = {
            "ROUNDUP_NOTIFY_WEBHOOK_URL": httpserver.url_for(secret_path),
            "ROUNDUP_SMTP_PASSWORD": "smtp-password-123",
        }
        args = ["--config", str(config), "--log-level", "DEBUG", "draft", "--week", "2026-W48"]
        outputs = []
        for _run in range(2):  # a child process: the test servers' own logs stay out
            with start_cli(args, env=env) as child:
                out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            outputs.append(out + err)
    first, second = outputs
    assert "editors told the draft is ready: 2 sent, 0 failed" in first
    assert "editors told" not in second
    assert len(mailbox.messages) == 1
    assert mailbox.logins == ["roundup"]
    assert len(httpserver.log) == 1
    for output in outputs:
        assert "told the chat webhook" in first  # DEBUG logging was on
        for secret in ("verysecretwebhooktoken", "smtp-password-123"):
            assert secret not in output


# --- faults after the message went out, and the password on the wire -----------------


def test_an_email_whose_answer_is_lost_after_data_is_never_sent_twice(
    storage: Storage, tmp_path: Path
) -> None:
    """The server keeps the message, but its 250 comes after the client's deadline:
    the editor may have it, so it is marked unknown, not failed, and never resent."""
    import asyncio
    import threading

    with smtp_server() as (url, mailbox):
        original = mailbox.handle_DATA
        release = threading.Event()
        answered = threading.Event()

        async def slow_answer(server: Any, session: Any, envelope: Any) -> str:
            answer = await original(server, session, envelope)  # the message is kept...
            if len(mailbox.messages) == 1:
                try:
                    for _ in range(600):  # ...and the 250 is held back until the test is done
                        if release.is_set():
                            break
                        await asyncio.sleep(0.05)
                finally:  # answered, or cancelled when the client hung up
                    answered.set()
            return answer

        mailbox.handle_DATA = slow_answer  # type: ignore[method-assign]
        app = app_with(
            storage, tmp_path, smtp_url=url, sender="roundup@council.gov.uk", timeout=1.0
        )
        add_editors(storage, "ann@council.gov.uk")
        try:
            first = announce_new_draft(app, make_draft(app), NOW)
            second = send_due(app, NOW)
            third = send_due(app, NOW)
        finally:  # let the held answer finish before the server stops: no task left over
            release.set()
            answered.wait(30)
    assert (first.failed, second.sent, third.sent) == (1, 0, 0)
    assert len(mailbox.messages) == 1
    summary = storage.notifications.summary()
    assert summary.counts == {"unknown": 1}
    assert summary.last_error is not None
    assert "may have it, so it is not sent again" in summary.last_error


def test_a_webhook_whose_answer_is_lost_is_never_posted_twice(
    storage: Storage, tmp_path: Path, httpserver: HTTPServer
) -> None:
    import threading

    posted: list[str] = []
    release = threading.Event()

    def handler(request: Request) -> Response:
        posted.append(json.loads(request.get_data())["text"])
        if len(posted) == 1:
            release.wait(30)  # the channel has the post; the answer is late
        return Response("1", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    app = app_with(storage, tmp_path, webhook_url=httpserver.url_for("/hook"), timeout=1.0)
    try:
        first = announce_new_draft(app, make_draft(app), NOW)
        second = send_due(app, NOW)
    finally:
        release.set()
    assert (first.failed, second.sent) == (1, 0)
    assert len(posted) == 1
    assert storage.notifications.summary().counts == {"unknown": 1}


def test_a_webhook_that_cannot_be_reached_is_tried_again(storage: Storage, tmp_path: Path) -> None:
    from helpers.smtp import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: nothing was posted
    app = app_with(storage, tmp_path, webhook_url=url)
    announce_new_draft(app, make_draft(app), NOW)
    summary = storage.notifications.summary()
    assert summary.counts == {"failed": 1}
    assert summary.last_error == "could not connect to the webhook at 127.0.0.1"
    assert [n.attempts for n in storage.notifications.due()] == [1]


def test_a_failing_message_is_given_up_after_ten_tries(storage: Storage, tmp_path: Path) -> None:
    from helpers.smtp import free_port

    app = app_with(storage, tmp_path, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    draft = make_draft(app)
    announce_new_draft(app, draft, NOW)
    for _ in range(12):
        send_due(app, NOW)
    assert storage.notifications.due() == []
    [message] = storage.notifications.for_draft(draft.id)
    assert (message.state, message.attempts) == ("failed", 10)


def test_the_password_never_goes_unencrypted_to_a_server_without_starttls(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server on another host that offers no STARTTLS (or whose offer was stripped
    on the way) gets no AUTH at all. The name resolves to the local test server."""
    import socket

    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "mail.council.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with smtp_server(login=("roundup", "smtp-password-123")) as (url, mailbox):
        port = url.rsplit(":", 1)[1]
        app = app_with(
            storage,
            tmp_path,
            smtp_url=f"smtp://roundup@mail.council.example:{port}",
            sender="roundup@council.gov.uk",
        )
        app.environ = {"ROUNDUP_SMTP_PASSWORD": "smtp-password-123"}
        add_editors(storage, "ann@council.gov.uk")
        report = announce_new_draft(app, make_draft(app), NOW)
    assert (report.sent, report.failed) == (0, 1)
    assert mailbox.logins == []
    assert mailbox.messages == []
    last = storage.notifications.summary().last_error
    assert last is not None
    assert "does not offer STARTTLS: the password is never sent unencrypted" in last


def test_a_webhook_answer_too_long_to_read_counts_as_maybe_delivered(
    storage: Storage, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """An answer over the read limit says nothing readable about the post: never
    taken for a success (it might be an error page), never posted again either."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("x" * 20000, status=500)
    app = app_with(storage, tmp_path, webhook_url=httpserver.url_for("/hook"))
    first = announce_new_draft(app, make_draft(app), NOW)
    assert (first.sent, first.failed) == (0, 1)
    assert storage.notifications.summary().counts == {"unknown": 1}
    assert send_due(app, NOW).sent == 0
    assert len(httpserver.log) == 1
