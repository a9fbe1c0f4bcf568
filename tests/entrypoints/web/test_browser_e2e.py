"""End to end in a real headless Chromium: Debian's /usr/bin/chromium driven by
Playwright for Python (never a browser download), against the app served by
waitress on 127.0.0.1.

Skips, saying why, only where /usr/bin/chromium or the playwright package
cannot be had; ``.ci/run`` installs Chromium with apt-get when it is missing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import missing
from helpers.browser import CHROMIUM, LAUNCH_ARGS, sign_in
from helpers.web import (
    EDITOR,
    HOSTILE,
    SIGNED_IN_PAGES,
    WEEK,
    Site,
    make_site,
    serving,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not os.access(CHROMIUM, os.X_OK):
    missing(
        f"{CHROMIUM} is missing: install Debian's chromium and chromium-driver"
        " (.ci/run does so when run as root)",
        module_level=True,
    )
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    missing("the playwright package is not installed (pip install -e '.[test]')", module_level=True)


@dataclass
class Served:
    site: Site
    base: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    site = make_site(tmp_path)
    try:
        with serving(site.flask) as base:
            yield Served(site, base)
    finally:
        site.close()


def watch(page: Page) -> list[str]:
    """Collects console errors and uncaught page errors (a CSP violation is one)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def item_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#draft-form .item-title").all_inner_texts()]


def test_sign_in_reorder_rewrite_save_preview_approve_and_find_it_published(
    browser: Browser, served: Served
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page)
    sign_in(page, served.base)
    before = item_titles(page)
    assert len(before) == 3

    # Reorder two items: the first moves down (a real form post, no script needed).
    page.locator(".item").nth(0).get_by_role("button", name="Move down").click()
    page.wait_for_load_state()
    assert item_titles(page) == [before[1], before[0], before[2]]

    # Rewrite a blurb (the moved item's, now second) and save. Its character count is
    # the box's description (read on focus), not a live region read after every key.
    blurb = page.locator(".item").nth(1).get_by_label("Blurb")
    counter = page.locator("#" + (blurb.get_attribute("aria-describedby") or "none"))
    assert re.fullmatch(r"\d+ of \d+ characters", counter.inner_text())
    assert counter.get_attribute("aria-live") is None
    blurb.fill("Rewritten in the browser: why this post matters.")
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.wait_for_load_state()
    assert page.get_by_text("Saved.", exact=True).is_visible()
    assert page.locator(".item").nth(1).get_by_label("Blurb").input_value() == (
        "Rewritten in the browser: why this post matters."
    )

    # Preview: the framed round-up shows the new order and blurb.
    page.get_by_role("link", name="Preview the saved version").click()
    page.wait_for_url(served.base + "/drafts/1/preview")
    frame = page.frame_locator("iframe.preview-frame")
    assert frame.get_by_text("Rewritten in the browser").is_visible()
    framed_titles = frame.locator("h2").all_inner_texts()
    assert framed_titles[:2] == [before[1], before[0]]

    # Approve: the box must be ticked first (the browser refuses the form without it).
    page.get_by_role("button", name="Approve").click()
    assert page.url == served.base + "/drafts/1/preview"
    assert served.site.app.storage.drafts.get(1).status == "draft"
    # Ticked: it is published, by this editor, and the page says where.
    page.get_by_label("I have checked this preview: publish it now").check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(served.base + "/drafts/1")
    published = served.site.tmp_path / "public" / f"{WEEK}.html"
    assert page.get_by_text(f"Approved and published to {published}").is_visible()
    html = published.read_text(encoding="utf-8")
    assert "Rewritten in the browser: why this post matters." in html
    assert html.index(before[1]) < html.index(before[0])
    draft = served.site.app.storage.drafts.get(1)
    assert draft.status == "published"
    assert draft.approved_by == EDITOR
    assert page.get_by_text("A published round-up is read-only here.").is_visible()
    assert problems == []
    context.close()


def test_a_hostile_feed_title_shows_as_text_and_runs_nothing(
    browser: Browser, served: Served
) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    sign_in(page, served.base)
    for path in ("/drafts/1", "/candidates", "/candidates?q=hostile", "/drafts/1/preview"):
        page.goto(served.base + path)
        assert page.evaluate("() => window.__pwned") is None, path
        assert page.locator("img[src='x']").count() == 0, path
        if path != "/drafts/1/preview":
            assert page.get_by_text(HOSTILE).first.is_visible(), path
    frame = page.frame_locator("iframe.preview-frame")
    assert frame.get_by_text(HOSTILE).is_visible()
    assert frame.locator("img").count() == 0
    page.goto(served.base + "/drafts/1/preview.html")
    assert page.evaluate("() => window.__pwned") is None
    assert problems == []
    context.close()


def test_signed_out_every_page_redirects_to_sign_in(browser: Browser, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in SIGNED_IN_PAGES:
        page.goto(served.base + path)
        assert page.url.startswith(served.base + "/sign-in"), path
        assert page.get_by_role("heading", name="Sign in").is_visible(), path
    # And signing out from a signed-in page ends it.
    sign_in(page, served.base)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(served.base + "/sign-in")
    page.goto(served.base + "/sources")
    assert page.url.startswith(served.base + "/sign-in")
    context.close()


def test_everything_works_with_javascript_off_on_a_phone(browser: Browser, served: Served) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    sign_in(page, served.base)
    before = item_titles(page)
    page.locator(".item").nth(2).get_by_role("button", name="Move up").click()
    page.wait_for_load_state()
    assert item_titles(page) == [before[0], before[2], before[1]]
    page.locator(".item").nth(0).get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    assert item_titles(page) == [before[2], before[1]]
    page.get_by_label("Search this week's candidates by title or site").fill("parks")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    page.get_by_role("button", name=re.compile(r"^Add\s+“Parks in winter”$")).click()
    page.wait_for_load_state()
    assert item_titles(page)[-1] == "Parks in winter"
    # Nothing is wider than the phone's screen.
    width: Any = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    context.close()


def test_dragging_an_item_by_its_number_reorders_it_once_saved(
    browser: Browser, served: Served
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    page = context.new_page()
    problems = watch(page)
    sign_in(page, served.base)
    before = item_titles(page)
    items = page.locator("#draft-form .item")
    handle = items.nth(0).locator(".item-number").bounding_box()
    target = items.nth(2).bounding_box()
    assert handle is not None
    assert target is not None
    # A person's drag: press on the number, move a little, then to the last item's lower half.
    page.mouse.move(handle["x"] + 5, handle["y"] + 5)
    page.mouse.down()
    page.mouse.move(handle["x"] + 10, handle["y"] + 40, steps=5)
    page.mouse.move(target["x"] + 40, target["y"] + target["height"] - 10, steps=20)
    page.mouse.up()
    assert item_titles(page) == [before[1], before[2], before[0]]
    assert page.get_by_text("Order changed. Press Save to keep it.").is_visible()
    assert items.nth(0).locator(".item-number").inner_text().startswith("1")
    assert items.nth(0).get_by_role("button", name="Move up").is_disabled()
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.wait_for_load_state()
    stored = served.site.app.storage.drafts.get(1)
    assert [i.title for i in stored.shown_items] == [before[1], before[2], before[0]]
    assert problems == []
    context.close()


def test_a_form_refused_after_signing_in_again_elsewhere_keeps_the_typed_text(
    browser: Browser, served: Served
) -> None:
    """The refusal page says to go Back, where the text still is, and press Save again."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, served.base)
    page.locator(".item").nth(0).get_by_label("Blurb").fill("Typed before signing in again")
    other = context.new_page()  # another tab: sign out and in, which renews the form token
    other.goto(served.base + "/drafts/1")
    other.get_by_role("button", name="Sign out").click()
    other.wait_for_url(served.base + "/sign-in")
    sign_in(other, served.base)
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Form refused").is_visible()
    assert page.get_by_text("Use your browser's Back button").is_visible()
    page.go_back()
    page.wait_for_load_state()
    blurb = page.locator(".item").nth(0).get_by_label("Blurb")
    assert blurb.input_value() == "Typed before signing in again"
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.wait_for_load_state()
    stored = served.site.app.storage.drafts.get(1).shown_items[0]
    assert stored.blurb == "Typed before signing in again"
    context.close()


def test_copy_for_the_blog_puts_the_round_up_on_the_clipboard_in_one_click(
    browser: Browser, served: Served
) -> None:
    from roundup_bot.services.publish import approve

    approve(served.site.app, 1, by=EDITOR)
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems = watch(page)
    sign_in(page, served.base)
    page.goto(served.base + "/drafts/1")
    fragment = page.locator("#blog-html").input_value()
    assert fragment.lstrip().startswith("<h1>")
    assert "<html" not in fragment
    page.get_by_role("button", name="Copy for the blog").click()
    # The clipboard answers asynchronously: wait for the page to say so.
    page.get_by_text("Copied. Paste it into the blog.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == fragment
    page.get_by_role("button", name="Copy the Markdown").click()
    markdown = page.evaluate("navigator.clipboard.readText()")
    assert markdown == page.locator("#blog-markdown").input_value()
    assert markdown.startswith("# ")
    assert problems == []
    context.close()
