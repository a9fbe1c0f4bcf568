"""Pages everyone can use: an axe-core WCAG 2.2 AA audit of every editor page and
the published round-up at desktop and phone widths, in Debian's Chromium.

axe-core comes from the npm registry (see tests/helpers/axe.py); the browser is
/usr/bin/chromium with the launch arguments of test_browser_e2e.py, one per module.
No serious or critical violation may remain on any page at either width.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import missing
from helpers.axe import AxeUnavailable, audit, axe_source
from helpers.browser import CHROMIUM, LAUNCH_ARGS, sign_in
from helpers.feeds import record_parsed
from helpers.web import EDITOR, NOW, PASSWORD, WEEK, Site, entry, make_site, serving

from roundup_bot.core.records import ParsedFeed, SetBlurb, SetIntro
from roundup_bot.services.publish import approve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    missing("the playwright package is not installed (pip install -e '.[test]')", module_level=True)

#: The two widths of the issue: a laptop and a phone.
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def axe() -> str:
    try:
        return axe_source()
    except AxeUnavailable as exc:
        missing(str(exc))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _fail_a_feed(site_app: object) -> None:
    """One failing feed, so the sources page shows every colour of badge."""
    from roundup_bot.services.app import App

    assert isinstance(site_app, App)
    feeds = site_app.storage.feeds
    feed = next(f for f in feeds.for_update(NOW, mode="all") if "other" in f.url)
    for _ in range(2):
        feeds.record_failure(
            feed, error="HTTP 500 from the server", gone=False, now=NOW, next_due=NOW
        )


def _news(site: Site) -> None:
    """Something new for the editor: another editor's change since their last visit,
    and an article that arrived after the draft was made."""
    storage = site.app.storage
    storage.draft_views.visit(1, EDITOR, NOW - timedelta(hours=2))
    d = storage.drafts.get(1)
    storage.drafts.apply_edits(
        1,
        [SetBlurb(d.shown_items[1].id, "Bob's words."), SetIntro("Bob's intro.")],
        expected_version=d.version,
        by="Bob",
        now=NOW - timedelta(hours=1),
    )
    feed = next(f for f in storage.feeds.for_update(NOW, mode="all") if "other" in f.url)
    fresh = entry(7, "Fresh from the council", site="other.example.org", hours_ago=-40)
    parsed = ParsedFeed(url=feed.url, title="Other Blog", site_url=None, entries=(fresh,))
    record_parsed(storage, feed, parsed=parsed, now=NOW + timedelta(minutes=1))


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_passes_an_axe_wcag_22_aa_audit(
    browser: Browser, axe: str, tmp_path: Path, width: str
) -> None:
    site = make_site(tmp_path)
    _fail_a_feed(site.app)
    _news(site)
    w, h = WIDTHS[width]
    found: dict[str, list[str]] = {}
    try:
        with serving(site.flask) as base:
            # bypass_csp: axe is injected as a script the page's own policy forbids.
            context = browser.new_context(
                viewport={"width": w, "height": h}, bypass_csp=True, is_mobile=w < 600
            )
            page = context.new_page()
            page.goto(base + "/sign-in")
            found["sign-in"] = audit(page, axe)
            page.get_by_label("Name").fill(EDITOR)
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            found["sign-in, refused"] = audit(page, axe)
            sign_in(page, base)
            editor_pages = {
                "draft": "/drafts/1",
                "draft, searched": "/drafts/1?q=blog",
                "all round-ups": "/drafts",
                "preview": "/drafts/1/preview",
                "candidates": "/candidates",
                "sources": "/sources",
                "published (none yet)": "/published",
                "bookmarklet": "/bookmarklet",
                "add a link": "/add-link?url=https%3A%2F%2Fblog.example.gov.uk%2Fnew&title=New",
                "add a link, refused": "/add-link?url=ftp%3A%2F%2Fexample.org",
                "not found": "/drafts/99",
            }
            for name, path in editor_pages.items():
                page.goto(base + path)
                if name == "draft":  # the states under audit are really there
                    assert page.locator(".changed-mark").count() == 2
                    assert page.locator("#new-candidates").is_visible()
                found[name] = audit(page, axe)
            # A save refused (a blurb over its limit), then one that met another's save.
            page.goto(base + "/drafts/1")
            page.locator(".item").nth(0).get_by_label("Blurb").fill("x" * 2100)
            page.get_by_role("button", name="Save", exact=True).first.click()
            page.wait_for_load_state()
            assert page.locator("#form-error").is_visible()
            found["draft, save refused"] = audit(page, axe)
            page.goto(base + "/drafts/1")
            page.locator(".item").nth(0).get_by_label("Blurb").fill("Mine, typed meanwhile.")
            d = site.app.storage.drafts.get(1)
            site.app.storage.drafts.apply_edits(
                1,
                [SetBlurb(d.shown_items[0].id, "Bob's, saved first.")],
                expected_version=d.version,
                by="Bob",
                now=NOW,
            )
            page.get_by_role("button", name="Save", exact=True).first.click()
            page.wait_for_load_state()
            assert page.locator("#conflict").is_visible()
            found["draft, conflict"] = audit(page, axe)
            # Approved, not yet published: Publish and Reopen.
            site.app.storage.drafts.approve(1, by=EDITOR, now=NOW)
            page.goto(base + "/drafts/1")
            found["draft, approved"] = audit(page, axe)
            # Published: the list, the read-only round-up page, and the round-up itself.
            approve(site.app, 1, by=EDITOR, now=NOW + timedelta(hours=1))
            for name, path in {"published": "/published", "draft, published": "/drafts/1"}.items():
                page.goto(base + path)
                found[name] = audit(page, axe)
            page.goto((site.tmp_path / "public" / f"{WEEK}.html").as_uri())
            found["the published round-up"] = audit(page, axe)
            context.close()
    finally:
        site.close()
    # This week before its draft is made: the page that offers to make it.
    empty = make_site(tmp_path / "empty", with_draft=False)
    try:
        with serving(empty.flask) as base:
            context = browser.new_context(viewport={"width": w, "height": h}, bypass_csp=True)
            page = context.new_page()
            page.goto(base + "/")
            page.get_by_label("Name").fill(EDITOR)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/")
            assert page.get_by_role("button", name=f"Make the draft for {WEEK}").is_visible()
            found["this week, no draft yet"] = audit(page, axe)
            context.close()
    finally:
        empty.close()
    problems = {name: lines for name, lines in found.items() if lines}
    assert problems == {}, f"axe at {width} ({w} px): {problems}"


# --- the newcomer's trips ---------------------------------------------------------------------

_BROKEN_WORDS = """() => {
  const broken = [];
  for (const th of document.querySelectorAll("thead th")) {
    for (const node of th.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) { continue; }
      const words = /\\S+/g;
      let m;
      while ((m = words.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
        if (lines.size > 1) { broken.push(m[0]); }
      }
    }
  }
  return broken;
}"""


def test_table_headings_never_break_inside_a_word(browser: Browser, tmp_path: Path) -> None:
    site = make_site(tmp_path)
    feeds = site.app.storage.feeds
    feed = next(f for f in feeds.for_update(NOW, mode="all") if "other" in f.url)
    # What squeezed the headings: a long unbroken error and address in the same table.
    error = "certificate verify failed for " + "x" * 40 + ".example.org: " + "y" * 120
    feeds.record_failure(feed, error=error, gone=False, now=NOW, next_due=NOW)
    try:
        with serving(site.flask) as base:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            page = context.new_page()
            sign_in(page, base)
            for width in (1366, 1024, 800, 660):
                page.set_viewport_size({"width": width, "height": 900})
                for path in ("/sources", "/published", "/drafts"):
                    page.goto(base + path)
                    assert page.evaluate(_BROKEN_WORDS) == [], (path, width)
            context.close()
    finally:
        site.close()


_IN_VIEW = """(sel) => {
  const box = document.querySelector(sel).getBoundingClientRect();
  const bar = document.querySelector(".toolbar-sticky");
  const top = bar ? bar.getBoundingClientRect().bottom : 0;
  return box.top >= top - 1 && box.bottom <= window.innerHeight;
}"""


@pytest.mark.parametrize("script", [True, False], ids=["js", "no-js"])
def test_after_searching_on_the_draft_page_the_results_are_in_view(
    browser: Browser, tmp_path: Path, script: bool
) -> None:
    site = make_site(tmp_path)
    try:
        with serving(site.flask) as base:
            # Without script, the page cannot be polled: ask for no animation (a real
            # setting, "reduce motion"), so the jump to the results is instant.
            context = browser.new_context(
                viewport={"width": 1366, "height": 700},
                java_script_enabled=script,
                reduced_motion="no-preference" if script else "reduce",
            )
            page = context.new_page()
            sign_in(page, base)
            box = page.get_by_label("Search this week's candidates by title or site")
            box.fill("blog")
            if script:
                box.press("Enter")  # searches, not saves
            else:
                page.get_by_role("button", name="Search", exact=True).click()
            page.wait_for_load_state()
            assert page.url.endswith("#search-results")
            status = page.locator("#search-results")
            assert re.fullmatch(r"\d+ match(es)? for “blog”\.", status.inner_text().strip())
            # In view and clear of the sticky toolbar, once the (smooth) scroll settles.
            if script:
                page.wait_for_function(_IN_VIEW, arg="#search-results", timeout=5000)
            else:
                assert page.evaluate(_IN_VIEW, "#search-results")
            assert page.evaluate("() => window.scrollY") > 0
            if script:  # focus is there too, so a screen reader reads how many matched
                assert page.evaluate("() => document.activeElement.id") == "search-results"
            context.close()
    finally:
        site.close()


# --- the weekly path with the keyboard alone --------------------------------------------------

#: Where focus is, whether it can be seen, and whether the sticky toolbar hides it
#: (WCAG 2.2 2.4.7 Focus Visible and 2.4.11 Focus Not Obscured).
_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  const visible = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
    || style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  const bar = document.querySelector(".toolbar-sticky");
  let hidden = false;
  if (bar && !bar.contains(el)) {
    const b = bar.getBoundingClientRect();
    hidden = box.top >= b.top && box.bottom <= b.bottom;
  }
  const text = (el.getAttribute("aria-label") || el.innerText || el.value || "").trim();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute("name") || "",
    value: el.getAttribute("value") || "", type: el.getAttribute("type") || "",
    text: text.slice(0, 60), visible: visible, hidden: hidden,
    onScreen: box.bottom > 0 && box.top < window.innerHeight,
  };
}"""


def tab_to(page: Any, wanted: Callable[[dict[str, Any]], bool], *, limit: int = 250) -> None:
    """Press Tab until the focused element is ``wanted``; every element passed on
    the way must show its focus, on screen and clear of the sticky toolbar."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        at = page.evaluate(_FOCUS)
        if at is None:
            continue
        assert at["visible"], f"no visible focus on {at}"
        assert at["onScreen"], f"focus off screen on {at}"
        assert not at["hidden"], f"focus hidden under the sticky toolbar on {at}"
        if wanted(at):
            return
    raise AssertionError(f"not reached with {limit} presses of Tab")


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_weekly_path_works_with_the_keyboard_alone(
    browser: Browser, tmp_path: Path, width: str
) -> None:
    site = make_site(tmp_path)
    w, h = WIDTHS[width]
    try:
        with serving(site.flask) as base:
            # Reduced motion: where focus lands is measured at once, not after a smooth scroll.
            context = browser.new_context(
                viewport={"width": w, "height": h}, reduced_motion="reduce"
            )
            page = context.new_page()
            keys = page.keyboard
            # Sign in: the name box has focus; Tab to the password; Enter signs in.
            page.goto(base + "/")
            # autofocus lands a moment after "load": wait for it, so no key is lost
            page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
            keys.type(EDITOR)
            keys.press("Tab")
            keys.type(PASSWORD)
            keys.press("Enter")
            page.wait_for_url(base + "/drafts/1")
            before = site.app.storage.drafts.get(1).shown_items
            first, second = before[0], before[1]
            # The first Tab offers the skip link; it leads past the header.
            tab_to(page, lambda at: at["text"] == "Skip to the content", limit=1)
            keys.press("Enter")
            # Edit the first blurb.
            tab_to(page, lambda at: at["id"] == f"blurb-{first.id}")
            keys.press("ControlOrMeta+a")
            keys.type("Typed with the keyboard alone.")
            # Move it down with its own button: the typed text is saved with the move.
            tab_to(page, lambda at: at["value"] == f"down-{first.id}")
            keys.press("Enter")
            page.wait_for_url(f"{base}/drafts/1?focus=down-{first.id}#item-{first.id}")
            stored = site.app.storage.drafts.get(1).shown_items
            assert [i.id for i in stored[:2]] == [second.id, first.id]
            assert stored[1].blurb == "Typed with the keyboard alone."
            # Focus is back on that Move down: Enter again moves it to the end, where
            # Move down is disabled and focus lands on its Move up instead.
            focused_on = "(v) => document.activeElement && document.activeElement.value === v"
            page.wait_for_function(focused_on, arg=f"down-{first.id}", timeout=5000)
            at = page.evaluate(_FOCUS)
            assert (at["visible"], at["onScreen"], at["hidden"]) == (True, True, False)
            with page.expect_navigation():  # to the same address: wait for the new page
                keys.press("Enter")
            stored = site.app.storage.drafts.get(1).shown_items
            assert [i.id for i in stored] == [second.id, before[2].id, first.id]
            page.wait_for_function(focused_on, arg=f"up-{first.id}", timeout=5000)
            # Save and preview.
            tab_to(page, lambda at: at["value"] == "preview")
            keys.press("Enter")
            page.wait_for_url(base + "/drafts/1/preview")
            # Tick the box with Space, then Approve with Enter.
            tab_to(page, lambda at: at["name"] == "confirm")
            keys.press("Space")
            tab_to(page, lambda at: at["text"] == "Approve")
            keys.press("Enter")
            page.wait_for_url(base + "/drafts/1")
            assert page.get_by_text("Approved and published to").is_visible()
            done = site.app.storage.drafts.get(1)
            assert done.status == "published"
            assert done.approved_by == EDITOR
            context.close()
    finally:
        site.close()
