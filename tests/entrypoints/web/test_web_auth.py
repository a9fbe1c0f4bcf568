"""Signing in and out: the form, every page behind it, slowing guessers, real session ends."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from flask import Response, g
from helpers.web import (
    EDITOR,
    NOW,
    PASSWORD,
    SIGNED_IN_PAGES,
    Site,
    csrf_of,
    make_site,
    serving,
    sign_in,
)

from roundup_bot.entrypoints.web import create_app
from roundup_bot.entrypoints.web.auth import DEVICE_COOKIE
from roundup_bot.entrypoints.web.ratelimit import SignInLimiter

PAGES = [*SIGNED_IN_PAGES, "/no-such-page"]


def test_the_sign_in_form_has_labelled_name_and_password_and_a_sign_in_button(site: Site) -> None:
    html = site.client().get("/sign-in").get_data(as_text=True)
    assert '<label for="name">Name</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'id="password" name="password" type="password"' in html
    assert ">Sign in</button>" in html


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_every_page_redirects_to_sign_in(site: Site, path: str) -> None:
    response = site.client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_signed_out_a_changing_request_is_sent_to_sign_in_and_changes_nothing(site: Site) -> None:
    client = site.client()
    page = client.get("/sign-in").get_data(as_text=True)
    before = site.app.storage.drafts.get(1)
    response = client.post("/drafts/1/approve", data={"csrf_token": csrf_of(page), "version": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert site.app.storage.drafts.get(1) == before


def test_a_save_after_the_session_expired_shows_the_typed_text_back(site: Site) -> None:
    """Signed out while typing (the session ran out overnight): nothing is saved, and
    nothing typed is dropped either; only what was typed is shown, not the draft."""
    client = site.client()
    page = client.get("/sign-in").get_data(as_text=True)
    before = site.app.storage.drafts.get(1)
    items = [str(i.id) for i in before.shown_items]
    response = client.post(
        "/drafts/1",
        data={
            "csrf_token": csrf_of(page),
            "version": str(before.version),
            "item": items,
            "intro": "My <careful> intro",
            f"blurb-{items[1]}": "A blurb written all evening",
            "action": "save",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "You were signed out (the session had expired), so nothing was saved." in html
    assert "My &lt;careful&gt; intro</textarea>" in html
    assert ">Blurb of item 2</label>" in html
    assert "A blurb written all evening</textarea>" in html
    assert 'href="/sign-in?next=/drafts/1" target="_blank"' in html
    assert before.shown_items[0].title not in html  # the draft is not shown signed out
    assert site.app.storage.drafts.get(1) == before
    # With its token gone as well (the cookie expired), the refusal shows it too.
    fresh = site.client()
    refused = fresh.post("/drafts/1", data={"item": items, "intro": "Typed, tokenless"})
    assert refused.status_code == 400
    assert "Typed, tokenless</textarea>" in refused.get_data(as_text=True)


def test_signing_in_leads_back_to_the_page_asked_for(site: Site) -> None:
    client = site.client()
    assert client.get("/sources").headers["Location"] == "/sign-in?next=/sources"
    page = client.get("/sign-in?next=/sources").get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={
            "name": EDITOR,
            "password": PASSWORD,
            "next": "/sources",
            "csrf_token": csrf_of(page),
        },
    )
    assert response.headers["Location"] == "/sources"
    assert client.get("/sources").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_off_site(site: Site, target: str) -> None:
    client = site.client()
    page = client.get("/sign-in").get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={"name": EDITOR, "password": PASSWORD, "next": target, "csrf_token": csrf_of(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_names_are_matched_without_regard_to_case(site: Site) -> None:
    client = site.client()
    assert sign_in(client, name=EDITOR.upper()).status_code == 302
    assert "Signed in as <strong>Ann Editor</strong>" in client.get("/sources").get_data(
        as_text=True
    )


def test_a_wrong_password_is_refused_and_logged_without_the_password(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = site.client()
    response = sign_in(client, password="wrong-password-123")
    assert response.status_code == 200
    assert "do not match an editor" in response.get_data(as_text=True)
    assert client.get("/sources").status_code == 302
    assert "failed sign-in" in caplog.text
    assert "Ann Editor" in caplog.text
    assert "wrong-password-123" not in caplog.text
    assert PASSWORD not in caplog.text


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(site: Site) -> None:
    client = site.client()
    unknown = sign_in(client, name="Nobody", password=PASSWORD).get_data(as_text=True)
    assert "That name and password do not match an editor." in unknown


def test_six_failures_a_minute_for_one_name_are_refused_even_with_the_right_password(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    site.flask.extensions["roundup_bot"].monotonic = lambda: clock[0]
    for n in range(5):
        client = site.flask.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"  # a new address each time
        assert sign_in(client, password="bad password").status_code == 200
    client = site.flask.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    refused = sign_in(client)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= 60
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert "too many failures" in caplog.text
    clock[0] += 61
    assert sign_in(client).status_code == 302


def test_a_stranger_cannot_lock_an_editor_out_of_the_browser_they_signed_in_from(
    site: Site,
) -> None:
    """Failures under an editor's name lock the name for other browsers, but not
    for one that has signed in as that editor before (its device cookie)."""
    clock = [3000.0]
    site.flask.extensions["roundup_bot"].monotonic = lambda: clock[0]
    own = site.flask.test_client()
    own.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(own).status_code == 302
    cookie = own.get_cookie(DEVICE_COOKIE, path="/sign-in")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.max_age is not None
    page = own.get("/sources").get_data(as_text=True)
    own.post("/sign-out", data={"csrf_token": csrf_of(page)})
    for n in range(6):  # a stranger, from many addresses, with the editor's name
        stranger = site.flask.test_client()
        stranger.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        sign_in(stranger, password="guessing")
    assert sign_in(stranger).status_code == 429
    # The editor's own browser still gets in, and its own failures count on their own.
    assert sign_in(own).status_code == 302
    page = own.get("/sources").get_data(as_text=True)
    own.post("/sign-out", data={"csrf_token": csrf_of(page)})
    for _ in range(5):
        assert sign_in(own, password="typo typo").status_code == 200
    assert sign_in(own).status_code == 429
    # A new password ends the exemption (the cookie was made under the old one).
    clock[0] += 61
    site.flask.extensions["roundup_bot"].accounts.set_password(EDITOR, "a brand new password 1")
    for n in range(5):
        stranger = site.flask.test_client()
        stranger.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 50}"
        sign_in(stranger, password="guessing")
    fresh = site.flask.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    fresh.set_cookie(DEVICE_COOKIE, cookie.value, path="/sign-in")
    assert sign_in(fresh, password="a brand new password 1").status_code == 429
    # A cookie for another name, or a forged one, is no exemption.
    other = site.flask.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.8"
    other.set_cookie(DEVICE_COOKIE, cookie.value[:-2] + "xx", path="/sign-in")
    assert sign_in(other).status_code == 429


def test_the_limiter_counts_a_known_device_apart_from_the_name() -> None:
    limiter = SignInLimiter(limit=2, window_s=60)
    limiter.failed("ann", "10.0.0.1", 1.0)
    limiter.failed("ann", "10.0.0.2", 1.0)
    assert limiter.retry_after("ann", "10.0.0.3", 2.0) is not None
    assert limiter.retry_after("ann", "10.0.0.3", 2.0, device="d1") is None
    limiter.failed("ann", "10.0.0.3", 2.0, device="d1")
    limiter.failed("ann", "10.0.0.4", 2.0, device="d1")
    assert limiter.retry_after("ann", "10.0.0.5", 3.0, device="d1") is not None
    assert limiter.retry_after("ann", "10.0.0.5", 3.0, device="d2") is None


def test_five_failures_from_one_address_slow_every_name_from_it(site: Site) -> None:
    site.flask.extensions["roundup_bot"].monotonic = lambda: 5000.0
    client = site.client()
    for n in range(5):
        sign_in(client, name=f"guess{n}", password="bad password")
    assert sign_in(client).status_code == 429


def test_the_limiter_counts_only_the_last_minute() -> None:
    limiter = SignInLimiter(limit=5, window_s=60)
    for second in range(5):
        assert limiter.retry_after("ann", "10.0.0.1", float(second)) is None
        limiter.failed("ann", "10.0.0.1", float(second))
    assert limiter.retry_after("ANN ", "10.0.0.2", 10.0) == pytest.approx(50.0)
    assert limiter.retry_after("bob", "10.0.0.1", 10.0) == pytest.approx(50.0)
    assert limiter.retry_after("bob", "10.0.0.2", 10.0) is None
    assert limiter.retry_after("ann", "10.0.0.1", 60.5) is None


def test_one_name_written_decomposed_or_in_capitals_shares_one_count() -> None:
    limiter = SignInLimiter(limit=5, window_s=60)
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    for n, name in enumerate([composed, decomposed, "JOS\u00c9", " " + decomposed, composed]):
        limiter.failed(name, f"10.0.0.{n + 1}", 1.0)
    assert limiter.retry_after(decomposed, "10.0.1.1", 2.0) is not None


def test_an_ipv6_address_counts_as_its_64() -> None:
    limiter = SignInLimiter(limit=5, window_s=60)
    for n in range(5):
        limiter.failed(f"name{n}", f"2001:db8:1:2::{n + 1}", 1.0)
    assert limiter.retry_after("other", "2001:db8:1:2:ffff::9", 2.0) is not None
    assert limiter.retry_after("other", "2001:db8:1:3::1", 2.0) is None
    assert limiter.retry_after("other", "::ffff:192.0.2.1", 2.0) is None


def test_the_limiter_keeps_a_bounded_number_of_names() -> None:
    limiter = SignInLimiter(limit=5, window_s=60, max_keys=100)
    for n in range(1000):
        limiter.failed(f"name{n}", "10.0.0.1", 1.0)
    assert len(limiter._failures) <= 101


def test_signing_out_ends_the_session_even_for_a_copied_cookie(site: Site) -> None:
    client = site.client()
    sign_in(client)
    cookie = client.get_cookie("roundup_session")
    assert cookie is not None
    page = client.get("/sources").get_data(as_text=True)
    out = client.post("/sign-out", data={"csrf_token": csrf_of(page)})
    assert out.headers["Location"] == "/sign-in"
    assert client.get("/sources").status_code == 302
    replay = site.flask.test_client()
    replay.set_cookie("roundup_session", cookie.value)
    assert replay.get("/sources").status_code == 302


def test_removing_an_editor_ends_their_sessions(site: Site) -> None:
    client = site.client()
    sign_in(client)
    assert client.get("/sources").status_code == 200
    assert site.app.storage.editors.remove(EDITOR)
    assert client.get("/sources").status_code == 302


def test_sessions_expire(site: Site) -> None:
    client = site.client()
    sign_in(client)
    later = site.flask.extensions["roundup_bot"]
    later.clock = lambda: NOW.replace(hour=23)  # 13 hours later: past the 12-hour lifetime
    assert client.get("/sources").status_code == 302


def test_an_active_editor_stays_signed_in_for_up_to_a_week(site: Site) -> None:
    from datetime import timedelta

    ctx = site.flask.extensions["roundup_bot"]
    client = site.client()
    sign_in(client)
    for hours in range(10, 24 * 7, 10):  # a page every 10 hours
        ctx.clock = lambda h=hours: NOW + timedelta(hours=h)
        assert client.get("/sources").status_code == 200, hours
    ctx.clock = lambda: NOW + timedelta(days=7, minutes=1)
    assert client.get("/sources").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(
    site: Site,
) -> None:
    response = sign_in(site.client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_secure_over_https_behind_a_proxy(tmp_path: Path) -> None:
    site = make_site(tmp_path, web={"behind_proxy": True})
    try:
        client = site.client()
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "editors.example.org"}
        page = client.get("/sign-in", headers=headers)
        assert "Secure" in page.headers["Set-Cookie"]
        response = client.post(
            "/sign-in",
            headers=headers,
            data={
                "name": EDITOR,
                "password": PASSWORD,
                "csrf_token": csrf_of(page.get_data(as_text=True)),
            },
            environ_overrides={"HTTP_REFERER": "https://editors.example.org/sign-in"},
        )
        assert response.status_code == 302
        cookies = response.headers.getlist("Set-Cookie")
        assert {c.split("=", 1)[0] for c in cookies} == {"roundup_session", DEVICE_COOKIE}
        assert all("Secure" in c for c in cookies)
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        site.close()


def test_without_a_proxy_forwarded_headers_are_not_trusted(site: Site) -> None:
    response = site.client().get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_without_the_environment_key_a_random_key_is_made_once_and_kept(site: Site) -> None:
    first = create_app(site.settings, roundup=site.app, environ={})
    second = create_app(site.settings, roundup=site.app, environ={})
    key = first.config["SECRET_KEY"]
    assert len(key) >= 64
    assert second.config["SECRET_KEY"] == key
    given = create_app(
        site.settings, roundup=site.app, environ={"ROUNDUP_WEB_SECRET_KEY": "from-env-123456"}
    )
    assert given.config["SECRET_KEY"] == "from-env-123456"


def test_passwords_are_stored_only_as_argon2_hashes(site: Site) -> None:
    found = site.app.storage.editors.credentials(EDITOR)
    assert found is not None
    assert found.password_hash.startswith("$argon2id$")
    assert PASSWORD not in found.password_hash


def test_a_head_request_never_signs_in_nor_counts_as_a_failure(site: Site) -> None:
    """HEAD skips the Origin check and the CSRF token, so it must not be a sign-in:
    a tokenless HEAD with the right password signs nobody in, and cross-site HEADs
    with wrong ones lock no address out."""
    site.flask.extensions["roundup_bot"].monotonic = lambda: 7000.0
    client = site.client()
    right = client.open("/sign-in", method="HEAD", data={"name": EDITOR, "password": PASSWORD})
    assert right.status_code == 200
    assert client.get("/sources").status_code == 302  # still signed out
    for _ in range(6):
        wrong = client.open(
            "/sign-in",
            method="HEAD",
            data={"name": EDITOR, "password": "bad password"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert wrong.status_code == 200
    assert site.flask.extensions["roundup_bot"].limiter._failures == {}
    assert sign_in(client).status_code == 302


class HeldHasher(PasswordHasher):
    """Counts password checks and holds each one until every request of the test
    has either reached a check or been refused: so every request is in flight
    together, whatever the machine's speed, and none is decided by timing."""

    def __init__(self, expected: int) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.expected = expected
        self.checks = 0
        self.refused = 0
        self.all_in = threading.Event()
        self._lock = threading.Lock()

    def arrived(self, *, checking: bool) -> None:
        with self._lock:
            if checking:
                self.checks += 1
            else:
                self.refused += 1
            if self.checks + self.refused >= self.expected:
                self.all_in.set()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.arrived(checking=True)
        g.checked_password = True
        assert self.all_in.wait(timeout=60), "the parallel sign-ins never all arrived"
        return super().verify(hash, password)


@pytest.mark.parametrize("attempts", [24])
def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(
    tmp_path: Path, db_url: str, attempts: int
) -> None:
    """The limit holds when the attempts arrive together at a real server: each
    attempt is reserved before its password is checked, so at most 5 checks run."""
    site = make_site(tmp_path, database={"url": db_url})
    try:
        hasher = HeldHasher(expected=attempts)
        site.flask.extensions["roundup_bot"].accounts.hasher = hasher

        @site.flask.after_request
        def count_refusals(response: Response) -> Response:
            if response.status_code == 429 and not g.get("checked_password"):
                hasher.arrived(checking=False)
            return response

        with serving(site.flask, threads=attempts) as base:
            with httpx.Client(base_url=base) as browser:
                token = csrf_of(browser.get("/sign-in").text)
                cookies = dict(browser.cookies)

            def attempt(n: int) -> int:
                with httpx.Client(base_url=base, cookies=cookies, timeout=90) as one:
                    form: dict[str, Any] = {
                        "name": EDITOR,
                        "password": f"wrong password {n}",
                        "csrf_token": token,
                    }
                    return one.post("/sign-in", data=form).status_code

            with ThreadPoolExecutor(max_workers=attempts) as pool:
                statuses = list(pool.map(attempt, range(attempts)))
        assert hasher.checks == 5
        assert sorted(statuses) == [200] * 5 + [429] * (attempts - 5)
    finally:
        site.close()


def test_a_reserved_attempt_counts_until_it_succeeds() -> None:
    limiter = SignInLimiter(limit=2, window_s=60)
    first = limiter.reserve("ann", "10.0.0.1", 1.0)
    second = limiter.reserve("ann", "10.0.0.1", 1.0)
    assert first.wait is None
    assert second.wait is None
    refused = limiter.reserve("ann", "10.0.0.1", 2.0)
    assert refused.wait == pytest.approx(59.0)
    limiter.succeeded(refused)  # withdraws nothing: it was never counted
    limiter.succeeded(second)  # the right password: only its own reservation goes
    assert limiter.reserve("ann", "10.0.0.1", 3.0).wait is None
    assert limiter.reserve("ann", "10.0.0.1", 3.0).wait is not None
