"""The editor's rules, pure: junk summaries, whole sentences, first-person text, adverts,
fair picks, credits and true addresses."""

from __future__ import annotations

import pytest

from roundup_bot.core.addresses import ItemMarks, combine_items, is_redirector, true_address
from roundup_bot.core.blurbs import (
    BlurbSource,
    choose_start,
    clean,
    first_real_paragraph,
    is_first_person,
    is_junk,
    sentences,
    whole_sentences,
)
from roundup_bot.core.credits import credit, link_blog_source, tidy, unique_names
from roundup_bot.core.exclusions import (
    DEFAULT_EXCLUDE_CATEGORIES,
    DEFAULT_EXCLUDE_TITLE_MARKERS,
    exclusion,
)
from roundup_bot.core.picking import pick_fairly
from roundup_bot.core.records import CandidateSource

TITLE = "How we rebuilt the bins service"


@pytest.mark.parametrize(
    "summary",
    [
        None,
        "",
        "Read more",
        "Continue reading →",
        "[…]",
        "…",
        "(...)",
        "How we rebuilt the bins service",
        "How we rebuilt the bins service […]",
        "The post How we rebuilt the bins service appeared first on Leeds Digital.",
        "<p>Read more</p>",
    ],
)
def test_junk_summaries_are_recognised(summary: str | None) -> None:
    assert is_junk(summary, TITLE)


def test_a_real_summary_is_not_junk() -> None:
    assert not is_junk("Forty interviews changed how the bins service works.", TITLE)


def test_sentences_are_split_at_real_boundaries_only() -> None:
    text = "Cllr. Smith met Dr. Jones at St. Mary's. J. K. Rowling came too! Did it work? Yes."
    assert sentences(text) == [
        "Cllr. Smith met Dr. Jones at St. Mary's.",
        "J. K. Rowling came too!",
        "Did it work?",
        "Yes.",
    ]


def test_blurbs_are_whole_sentences_never_cut_inside_one() -> None:
    assert whole_sentences("Short one here. Another short one. A third.") == (
        "Short one here. Another short one."
    )
    long_first = "A" + " long" * 40 + " sentence. Then another."
    assert whole_sentences(long_first) == "A" + " long" * 40 + " sentence."
    assert whole_sentences("It was cut short by the feed…") == ""
    assert whole_sentences("Done properly. And then cut…") == "Done properly."
    assert whole_sentences("word " * 200 + "end.") == ""  # one endless sentence: none
    assert len(whole_sentences(("This is a sentence of words. " * 20).strip())) <= 300


def test_footnote_markers_and_trailing_marks_go() -> None:
    assert clean("We dove into hardware[1] and software². It worked.[^2]") == (
        "We dove into hardware and software. It worked."
    )
    assert whole_sentences("It went well.↩ More […]") == "It went well."


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("We opened up social media to every member of staff.", True),
        ("When I wrote the post, nobody read it.", True),
        ("Our team tried it; it helped us.", True),
        ("The council opened up social media to staff.", False),
        ("Ann said “we did it ourselves” at the launch.", False),
        ("Councils in the US share data.", False),
    ],
)
def test_first_person_text_is_recognised(text: str, first: bool) -> None:
    assert is_first_person(text) is first


def test_the_first_usable_source_wins_and_carries_its_speaker() -> None:
    start = choose_start(
        [
            BlurbSource("summary", "Read more", "Helen Reynolds"),
            BlurbSource(
                "description", "We opened up social media to every member of staff.", "Helen"
            ),
            BlurbSource("lead", "Not reached.", None),
        ],
        TITLE,
    )
    assert start is not None
    assert (start.kind, start.first_person, start.speaker) == ("description", True, "Helen")
    assert choose_start([BlurbSource("summary", "Read more")], TITLE) is None


def test_the_first_real_paragraph_skips_headings_bylines_and_notices() -> None:
    body = "\n".join(
        [
            TITLE,
            "By Ann Smith, 3 June 2026",
            "We use cookies to make this site work. Accept all cookies.",
            "The bins service was rebuilt around what forty residents told the team in the"
            " summer. It now collects on the day people expect.",
            "A second paragraph.",
        ]
    )
    assert (first_real_paragraph(body, TITLE) or "").startswith("The bins service was rebuilt")
    assert first_real_paragraph("Home\nAbout\nContact", TITLE) is None


def rules(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "exclude_categories": DEFAULT_EXCLUDE_CATEGORIES,
        "exclude_title_markers": DEFAULT_EXCLUDE_TITLE_MARKERS,
        "exclude_keywords": (),
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("title", "categories", "why"),
    [
        ("[Sponsor] Timing — Automatic Time Tracking for Mac", (), '"[Sponsor]"'),
        ("Sponsored: a better CRM", (), "title marker"),
        ("A better CRM (Advertisement)", (), '"Advertisement"'),
        ("Paid post: our partner's view", (), '"Paid post"'),
        ("Why councils need timesheets", ("Productivity", "Sponsored"), 'category "Sponsored"'),
        ("Why councils need timesheets", ("Partner Content",), 'category "Partner Content"'),
    ],
)
def test_adverts_are_excluded_naming_the_rule(
    title: str, categories: tuple[str, ...], why: str
) -> None:
    found = exclusion(title=title, summary=None, categories=categories, **rules())  # type: ignore[arg-type]
    assert found is not None
    assert why in found
    assert found.startswith("sponsored")


@pytest.mark.parametrize(
    "title",
    [
        "Why our advertisement rules changed",
        "Promoted to head of digital",
        "Partners in care: a year on",
    ],
)
def test_ordinary_titles_mentioning_the_words_stay(title: str) -> None:
    assert exclusion(title=title, summary=None, categories=("Partners",), **rules()) is None  # type: ignore[arg-type]


def test_the_users_own_keywords_and_an_empty_default() -> None:
    found = exclusion(
        title="Crypto for councils",
        summary=None,
        categories=("Sponsored",),
        **rules(exclude_categories=(), exclude_keywords=("crypto",)),  # type: ignore[arg-type]
    )
    assert found == 'keyword "crypto" ([ranking] exclude_keywords)'


def test_fair_picks_take_at_most_n_from_one_blog_and_fill_from_others() -> None:
    ranked = [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "a"), (6, "c"), (7, "b"), (8, "b")]
    picks = pick_fairly(ranked, slots=5, max_per_source=2)
    assert picks.ids == (1, 2, 4, 6, 7)
    assert picks.held_back == (3, 5)
    assert pick_fairly(ranked, slots=5, max_per_source=2, already=["b"]).ids == (1, 2, 4, 6)
    kept = pick_fairly(ranked, slots=3, max_per_source=2, already=["a", "a"])
    assert kept.ids == (4, 6, 7)
    assert pick_fairly(ranked, slots=3, max_per_source=0).ids == (1, 2, 3)


FEED = CandidateSource(
    "feed",
    "Daring Fireball",
    "https://daringfireball.net/feeds/main",
    "https://daringfireball.net/",
)


def test_a_link_blog_credits_the_linked_article_and_keeps_via() -> None:
    url = "https://birchtree.me/blog/a-post"
    assert link_blog_source(url, [FEED]) == FEED
    shown = credit(
        url=url,
        sources=[FEED],
        author="John Gruber",
        site_name=None,
        page_author="Matt Birchler",
        page_site_name="Birchtree",
    )
    assert (shown.author, shown.site_name, shown.via) == (
        "Matt Birchler",
        "Birchtree",
        "Daring Fireball",
    )
    unknown = credit(
        url=url,
        sources=[FEED],
        author="John Gruber",
        site_name=None,
        page_author=None,
        page_site_name=None,
    )
    assert (unknown.author, unknown.site_name, unknown.via) == (
        None,
        "birchtree.me",
        "Daring Fireball",
    )


def test_a_blogs_own_post_is_credited_to_its_author_and_blog() -> None:
    own = CandidateSource(
        "feed", "Leeds Digital", "https://blog.leeds.gov.uk/feed", "https://www.leeds.gov.uk/"
    )
    assert link_blog_source("https://blog.leeds.gov.uk/p", [own]) is None
    shown = credit(
        url="https://blog.leeds.gov.uk/p",
        sources=[own],
        author="Priya",
        site_name=None,
        page_author="Someone",
        page_site_name="Leeds",
    )
    assert (shown.author, shown.site_name, shown.via) == ("Priya", "Leeds Digital", None)


def test_a_byline_never_repeats_a_name() -> None:
    assert unique_names("Katie Floyd, Katie Floyd") == "Katie Floyd"
    assert unique_names("Ann, Bob and ann") == "Ann, Bob"
    assert tidy("Katie Floyd", "Katie Floyd", "Katie Floyd") == tidy("Katie Floyd", None, None)


@pytest.mark.parametrize(
    "url",
    [
        "https://feedproxy.google.com/~r/Blog/~3/abc/post/",
        "https://feeds.feedburner.com/~r/Blog/~3/abc/post/",
        "https://tracking.feedpress.it/link/1234/5678",
        "https://t.co/abc",
        "https://bit.ly/3x",
        "https://ow.ly/x",
        "https://buff.ly/x",
        "https://lnkd.in/x",
        "https://dlvr.it/x",
    ],
)
def test_known_redirectors(url: str) -> None:
    assert is_redirector(url)


def test_the_true_address_is_where_it_led_or_the_canonical_it_names() -> None:
    tracker = "https://tracking.feedpress.it/link/1/2"
    landed = "https://blog.example.org/post?utm_source=feed"
    moved = true_address(tracker, landed, None)
    assert moved is not None
    assert (moved.url, moved.reason) == ("https://blog.example.org/post", "redirect")
    copy = true_address(
        "https://medium.com/@ann/post-1",
        "https://medium.com/@ann/post-1",
        "https://ann.example/post",
    )
    assert copy is not None
    assert (copy.url, copy.reason) == ("https://ann.example/post", "canonical")
    # A canonical naming the home page (a common misconfiguration) or a redirector is ignored.
    assert true_address("https://a.example/p", "https://a.example/p", "https://a.example/") is None
    assert true_address("https://a.example/p", "https://a.example/p", "https://bit.ly/x") is None
    assert true_address("https://a.example/p", "https://a.example/p", "https://a.example/p") is None
    assert true_address("https://a.example/p", None, "javascript:alert(1)") is None


def marks(**changes: object) -> ItemMarks:
    values: dict[str, object] = {
        "position": 3,
        "blurb": "auto",
        "blurb_edited": False,
        "removed": False,
        "added_by_editor": False,
        "moved_by_editor": False,
        "title": None,
        "author": None,
        "site_name": None,
        "score": 1.0,
    }
    values.update(changes)
    return ItemMarks(**values)  # type: ignore[arg-type]


def test_two_items_of_one_article_combine_without_losing_an_edit() -> None:
    keep = marks(position=5, title="Editor's title")
    gone = marks(
        position=2, blurb="Editor's blurb", blurb_edited=True, author="Ann", moved_by_editor=True
    )
    both = combine_items(keep, gone)
    assert (both.position, both.blurb, both.blurb_edited) == (2, "Editor's blurb", True)
    assert (both.title, both.author, both.moved_by_editor, both.removed) == (
        "Editor's title",
        "Ann",
        True,
        False,
    )
    assert combine_items(marks(removed=True), marks(removed=False, position=7)).removed is False
    assert combine_items(marks(removed=True), marks(removed=True)).removed is True
