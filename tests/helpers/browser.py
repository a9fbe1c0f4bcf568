"""Driving Debian's /usr/bin/chromium with Playwright: where it is, how it is
launched (as root, in CI), and signing in through the real form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.web import EDITOR, PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    assert page.url.startswith(base + "/sign-in")
    page.get_by_label("Name").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/drafts/*")
