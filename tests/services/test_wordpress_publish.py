"""Publishing the approved round-up as exactly one WordPress post, against a fake
WordPress on 127.0.0.1 (real HTTP), signed in both ways: an Application Password
(self-hosted) and a WordPress.com bearer token."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.drafts import Article, make_app, seed
from helpers.fake_wordpress import (
    ACCOUNT_PASSWORD,
    APP_PASSWORD,
    SITE,
    TOKEN,
    FakeWordPress,
    basic_env,
    token_env,
)

from roundup_bot.core.errors import ConfigError, DraftError, StorageError
from roundup_bot.core.records import SetBlurb
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.app import App
from roundup_bot.services.drafting import draft_week
from roundup_bot.services.publish import approve, publish, reopen, retry_posts
from roundup_bot.storage import Storage

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SLUG = "welovelocalgov-2026-w48"


@pytest.fixture
def wp() -> Any:
    with FakeWordPress() as fake:
        yield fake


def articles() -> list[Article]:
    return [
        Article(slug="a", published=W48.end - timedelta(days=1), summary="First.", tips=("ann",)),
        Article(slug="b", published=W48.end - timedelta(days=2), summary="Second."),
    ]


def wp_app(storage: Storage, tmp_path: Path, wp: FakeWordPress, **options: Any) -> App:
    seed(storage, articles(), NOW)
    settings = {"enabled": True, "site_url": wp.url, **options}
    app = make_app(
        storage,
        tmp_path,
        wordpress=settings,
        publish={"base_url": "https://roundup.example"},
    )
    app.environ = basic_env()  # the credentials the wiring hands the use cases
    return app


def drafted(app: App) -> int:
    return draft_week(app, W48, now=NOW).draft.id


def test_approval_makes_one_post_with_an_application_password(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp, categories=["Round-ups"], tags=["local gov", "weekly"])
    draft_id = drafted(app)
    done = approve(app, draft_id, by="ann", now=NOW)

    assert (tmp_path / "public" / "2026-W48.html").exists()  # the files first
    step = done.wordpress
    assert step is not None
    assert step.done
    assert step.error is None
    assert list(wp.posts) == [step.post_id]
    post = wp.posts[step.post_id]
    assert post["slug"] == SLUG
    assert post["status"] == "draft"  # the default: an editor takes a last look
    assert (
        post["title"]
        == "That was the local government week that was – week ending 27 November 2026"
    )
    assert post["excerpt"] == "Here's our round-up of some of our favourite blog posts of the week."
    assert "<h1>" in post["content"]
    assert "<html" not in post["content"]
    assert "thanks to @ann for the tip" in post["content"]
    assert [wp.terms["categories"][i] for i in post["categories"]] == ["Round-ups"]
    assert [wp.terms["tags"][i] for i in post["tags"]] == ["local gov", "weekly"]
    assert step.link == f"{wp.url}/{SLUG}/"
    assert step.status == "draft"
    assert storage.wordpress.get(draft_id) == step
    # The slug was looked up, in every status, before the one create.
    lookups = wp.requests("GET", "posts")
    assert lookups
    assert lookups[0].query["slug"] == SLUG
    assert set(lookups[0].query["status"].split(",")) >= {"publish", "draft", "future", "private"}
    assert len(wp.requests("POST", "posts")) == 1


def test_a_wordpress_com_token_reaches_the_sites_api(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    seed(storage, articles(), NOW)
    app = make_app(
        storage,
        tmp_path,
        wordpress={
            "enabled": True,
            "site_url": f"https://{SITE}",
            "api_url": wp.wpcom_root,
            "status": "publish",
        },
    )
    app.environ = token_env()
    done = approve(app, drafted(app), by="ann", now=NOW)
    assert done.wordpress is not None
    assert done.wordpress.done
    assert [p["status"] for p in wp.posts.values()] == ["publish"]
    assert {s.authorization for s in wp.requests()} == {f"Bearer {TOKEN}"}
    app.environ = token_env("nope-nope-nope")
    wrong = approve(app, drafted_again(app, storage), by="ann", now=NOW)
    assert wrong.wordpress is not None
    assert not wrong.wordpress.done
    assert "WordPress.com token was refused" in (wrong.wordpress.error or "")


def drafted_again(app: App, storage: Storage) -> int:
    """Reopen the week's published round-up and return its id (to approve it again)."""
    draft = storage.drafts.find("welovelocalgov", "2026-W48")
    assert draft is not None
    reopen(app, draft.id, by="bob", now=NOW, force=True)
    return draft.id


def test_approving_again_after_reopen_updates_the_same_post(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    first = approve(app, draft_id, by="ann", now=NOW).wordpress
    assert first is not None
    assert first.post_id is not None
    wp.posts[first.post_id]["status"] = "publish"  # an editor published it in WordPress
    reopened = reopen(app, draft_id, by="bob", now=NOW, force=True)
    item = reopened.shown_items[0]
    storage.drafts.apply_edits(
        draft_id,
        [SetBlurb(item.id, "Corrected.")],
        expected_version=reopened.version,
        by="bob",
        now=NOW,
    )
    again = approve(app, draft_id, by="bob", now=NOW + timedelta(hours=1))
    assert again.wordpress is not None
    assert again.wordpress.post_id == first.post_id
    assert list(wp.posts) == [first.post_id]
    assert "Corrected." in wp.posts[first.post_id]["content"]
    assert wp.posts[first.post_id]["status"] == "publish"  # never taken back to a draft
    assert len(wp.requests("POST", "posts")) == 1
    assert len(wp.requests("POST", r"posts/\d+")) == 1


def test_an_answer_lost_after_the_create_never_makes_a_second_post(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("POST", "posts", "lost_after")  # WordPress makes the post; the answer is lost
    done = approve(app, draft_id, by="ann", now=NOW)
    assert done.draft.status == "published"  # the approval and the files stand
    step = done.wordpress
    assert step is not None
    assert step.state == "failed"
    assert step.post_id is None
    assert "WordPress" in (step.error or "")
    assert step.next_try == NOW + timedelta(minutes=5)
    assert len(wp.posts) == 1  # made, but the answer never arrived

    retried = publish(app, draft_id, now=NOW + timedelta(minutes=1), retry=True)
    assert retried.wordpress is not None
    assert retried.wordpress.done
    assert list(wp.posts) == [retried.wordpress.post_id]  # found by its slug, not made again
    assert len(wp.requests("POST", "posts")) == 1
    assert wp.posts[retried.wordpress.post_id]["slug"] == SLUG


class _Waiting(logging.Handler):
    """Sets ``seen`` when a run says it waits for the publish lock."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "for the publish lock" in record.getMessage():
            self.seen.set()


def test_two_approvals_at_once_make_one_post(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    """A second approval while the first is making the post (held open in WordPress)
    is refused, as approved first by the other editor."""
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("POST", "posts", "hold_after")
    outcomes: list[Any] = []

    def approving() -> None:
        try:
            outcomes.append(approve(app, draft_id, by="ann", now=NOW))
        except DraftError as exc:
            outcomes.append(exc)

    first = threading.Thread(target=approving)
    first.start()
    assert wp.holding.wait(30)  # the first approval is making the post
    second = threading.Thread(target=approving)
    second.start()
    second.join(60)
    wp.released.set()
    first.join(60)
    assert len(outcomes) == 2
    assert isinstance(outcomes[0], DraftError)  # the second, refused while the first posted
    assert len(wp.posts) == 1
    assert len(wp.requests("POST", "posts")) == 1
    step = storage.wordpress.get(draft_id)
    assert step is not None
    assert step.post_id == next(iter(wp.posts))


def test_two_publishers_at_once_make_one_post(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    """Two retries of a failed post (``roundup-bot publish`` and the daemon): the second
    is let go only once it says it waits for the publish lock, and then finds the
    step done."""
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("POST", "posts", "status", status=503)
    assert not approve(app, draft_id, by="ann", now=NOW).complete
    wp.fail_next("POST", "posts", "hold_after")
    results: list[Any] = []
    waiting = _Waiting()
    locks_log = logging.getLogger("roundup_bot.storage.locks")
    locks_log.addHandler(waiting)
    previous = locks_log.level
    locks_log.setLevel(logging.INFO)
    later = NOW + timedelta(hours=1)
    try:
        first = threading.Thread(
            target=lambda: results.append(publish(app, draft_id, now=later, retry=True))
        )
        first.start()
        assert wp.holding.wait(30)  # the first retry is making the post, lock held
        second = threading.Thread(
            target=lambda: results.append(retry_posts(app, later, lock_wait=60))
        )
        second.start()
        assert waiting.seen.wait(30)  # the second waits for the lock
        wp.released.set()
        first.join(60)
        second.join(90)
    finally:
        locks_log.removeHandler(waiting)
        locks_log.setLevel(previous)
    assert len(results) == 2
    assert len(wp.posts) == 1
    assert len(wp.requests("POST", "posts")) == 2  # the 503, then the one made
    assert not wp.requests("POST", r"posts/\d+")  # the second found nothing left to do


def test_wordpress_down_then_back_is_retried_by_the_daemon_with_backoff(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("GET", "posts", "drop", times=2)  # the connection drops: down
    down = approve(app, draft_id, by="ann", now=NOW).wordpress
    assert down is not None
    assert down.state == "failed"
    assert down.attempts == 1
    assert not wp.posts
    # Not due yet: the daemon leaves it alone.
    assert retry_posts(app, NOW + timedelta(minutes=4)).tried == 0
    still = retry_posts(app, NOW + timedelta(minutes=5))
    assert (still.tried, still.done) == (1, 0)
    again = storage.wordpress.get(draft_id)
    assert again is not None
    assert again.attempts == 2
    assert again.next_try == NOW + timedelta(minutes=15)  # 10 minutes after the second try
    back = retry_posts(app, NOW + timedelta(minutes=15))
    assert (back.tried, back.done) == (1, 1)
    assert len(wp.posts) == 1
    assert retry_posts(app, NOW + timedelta(days=1)).tried == 0


@pytest.mark.parametrize(
    ("fault", "options", "expected", "wait"),
    [
        ("status", {"status": 503}, "HTTP 503", timedelta(minutes=5)),
        ("status", {"status": 500}, "HTTP 500", timedelta(minutes=5)),
        (
            "status",
            {"status": 429, "headers": {"Retry-After": "3600"}},
            "asked to wait 3600 s",
            timedelta(hours=1),
        ),
        ("malformed", {}, "not JSON", timedelta(minutes=5)),
    ],
)
def test_faults_are_recorded_with_their_reason_and_next_try(
    storage: Storage,
    tmp_path: Path,
    wp: FakeWordPress,
    fault: str,
    options: dict[str, Any],
    expected: str,
    wait: timedelta,
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("POST", "posts", fault, **options)
    step = approve(app, draft_id, by="ann", now=NOW).wordpress
    assert step is not None
    assert step.state == "failed"
    assert expected in (step.error or "")
    assert step.next_try == NOW + wait
    assert storage.drafts.get(draft_id).status == "published"
    fixed = publish(app, draft_id, now=NOW, retry=True).wordpress
    assert fixed is not None
    assert fixed.done
    assert len(wp.posts) == 1


def test_a_request_that_never_answers_stops_at_the_deadline(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp, timeout=0.5)
    draft_id = drafted(app)
    wp.fail_next("GET", "posts", "hang")
    step = approve(app, draft_id, by="ann", now=NOW).wordpress
    assert step is not None
    assert step.state == "failed"
    assert "did not answer" in (step.error or "")
    assert "0.5 s" in (step.error or "")


@pytest.mark.parametrize(
    ("environ", "cause"),
    [
        (basic_env(password=ACCOUNT_PASSWORD), "must be an Application Password"),
        (basic_env(login="Ed Itor"), "must be the login name"),
    ],
)
def test_a_wrong_password_is_one_line_naming_the_cause_and_no_post(
    storage: Storage,
    tmp_path: Path,
    wp: FakeWordPress,
    environ: dict[str, str],
    cause: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = wp_app(storage, tmp_path, wp)
    app.environ = environ
    step = approve(app, drafted(app), by="ann", now=NOW).wordpress
    assert step is not None
    assert step.state == "failed"
    assert "credentials refused (HTTP 401)" in (step.error or "")
    assert cause in (step.error or "")
    assert "\n" not in (step.error or "")
    assert not wp.posts
    assert not wp.requests("POST")
    for secret in (ACCOUNT_PASSWORD, APP_PASSWORD):
        assert secret not in caplog.text


def test_missing_credentials_are_a_config_error_before_anything_changes(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    app.environ = {"ROUNDUP_WORDPRESS_USERNAME": "ed"}
    with pytest.raises(ConfigError, match="ROUNDUP_WORDPRESS_APP_PASSWORD: not set"):
        approve(app, draft_id, by="ann", now=NOW)
    assert storage.drafts.get(draft_id).status == "draft"
    assert not (tmp_path / "public").exists()
    assert not wp.seen


def test_a_scheduled_post_goes_out_at_publish_at_after_the_week_end(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp, status="future", publish_at="friday 12:00")
    step = approve(app, drafted(app), by="ann", now=NOW).wordpress
    assert step is not None
    assert step.done
    post = wp.posts[step.post_id or 0]
    assert post["status"] == "future"
    assert post["date_gmt"] == "2026-11-27T12:00:00"  # Friday noon in London is noon UTC


def test_secrets_never_reach_the_logs_at_debug(
    storage: Storage, tmp_path: Path, wp: FakeWordPress, caplog: pytest.LogCaptureFixture
) -> None:
    import base64

    caplog.set_level(logging.DEBUG)
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)
    wp.fail_next("POST", "posts", "status", status=500)
    approve(app, draft_id, by="ann", now=NOW)
    publish(app, draft_id, now=NOW, retry=True)
    encoded = base64.b64encode(f"editor:{APP_PASSWORD}".encode()).decode()
    assert caplog.records  # httpx and roundup-bot did log
    for secret in (APP_PASSWORD, encoded, APP_PASSWORD.replace(" ", "")):
        assert secret not in caplog.text


def test_a_template_that_renders_a_whole_page_is_refused_and_recorded(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app = wp_app(storage, tmp_path, wp, template="roundup.html.j2")
    step = approve(app, drafted(app), by="ann", now=NOW).wordpress
    assert step is not None
    assert step.state == "failed"
    assert "renders a whole HTML page" in (step.error or "")
    assert not wp.posts


class HugeIds(FakeWordPress):
    """Answers a create with an id no database column holds (a malformed answer)."""

    def _serve(self, seen: Any) -> Any:
        status, answer, headers = super()._serve(seen)
        if seen.route == "posts" and seen.method == "POST":
            answer = {**answer, "id": 2**64}
        return status, answer, headers


def test_an_oversized_post_id_is_a_failed_step_with_a_next_try(
    storage: Storage, tmp_path: Path
) -> None:
    with HugeIds() as wp:
        app = wp_app(storage, tmp_path, wp)
        draft_id = drafted(app)
        step = approve(app, draft_id, by="ann", now=NOW).wordpress
        assert step is not None
        assert (step.state, step.post_id) == ("failed", None)
        assert "malformed answer" in (step.error or "")
        assert step.next_try == NOW + timedelta(minutes=5)
        assert storage.drafts.get(draft_id).status == "published"


def test_a_storage_failure_after_the_post_was_saved_is_a_failure_with_a_next_try(
    storage: Storage, tmp_path: Path, wp: FakeWordPress, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = wp_app(storage, tmp_path, wp)
    draft_id = drafted(app)

    def lost(*_args: object, **_kwargs: object) -> object:
        raise StorageError("database write failed: disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(storage.wordpress, "record_success", lost)
        step = approve(app, draft_id, by="ann", now=NOW).wordpress
    assert step is not None
    assert step.state == "failed"
    assert "could not be stored" in (step.error or "")
    assert step.next_try == NOW + timedelta(minutes=5)
    assert len(wp.posts) == 1
    fixed = publish(app, draft_id, now=NOW, retry=True).wordpress
    assert fixed is not None
    assert fixed.done
    assert len(wp.posts) == 1  # found by its slug, not made twice
