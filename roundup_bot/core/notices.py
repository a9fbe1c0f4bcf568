"""What editors are told when the week's draft is ready: plain words, plain text.

Titles come from strangers' feeds, so the text is built from plain strings only
(no HTML ever goes out), with control characters and line breaks folded away
and each title cut to a readable length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roundup_bot.core.curation import clean_line, excerpt
from roundup_bot.core.wording import plural

#: How many of the draft's titles the news lists (the page has the rest).
TITLES_SHOWN = 5
#: A title longer than this is cut at a word, with an ellipsis.
TITLE_MAX = 120


@dataclass(frozen=True, slots=True)
class DraftNews:
    """The facts of a newly made draft that the news is written from."""

    draft_id: int
    week_label: str  # e.g. 2026-W48
    week_ending: str  # e.g. "Friday 27 November 2026", in the round-up's timezone
    items: int  # items shown in the draft
    candidates: int  # candidates of the week to choose from
    titles: tuple[str, ...]  # the draft's item titles, in order
    link: str | None  # the draft's page, when [web] base_url is set


@dataclass(frozen=True, slots=True)
class Notice:
    """One message, for any channel: a subject line and a plain-text body."""

    subject: str
    text: str


def one_line(text: str, limit: int = TITLE_MAX) -> str:
    """Outside text made safe for a plain-text line: no control characters or line
    breaks (no header or message injection), spaces folded, at most ``limit``
    characters, cut at a word with an ellipsis."""
    line = clean_line(text, limit=len(text) + 1)
    return line if len(line) <= limit else excerpt(line, limit - 1) or ""


def draft_ready(news: DraftNews, round_up: str) -> Notice:
    """'This week's round-up draft is ready': the week, how much there is, the first
    few titles and where to go. ``round_up`` is the round-up's title."""
    lines = [
        f"This week's draft of \u201c{one_line(round_up)}\u201d is ready for you to look at.",
        "",
        f"Week ending {news.week_ending} ({news.week_label}): "
        f"{plural(news.items, 'item')} picked from {plural(news.candidates, 'candidate')}.",
    ]
    titles = [line for line in map(one_line, news.titles[:TITLES_SHOWN]) if line]
    if titles:
        lines += ["", "It starts with:"]
        lines += [f"  {n}. {title}" for n, title in enumerate(titles, 1)]
        more = len(news.titles) - len(titles)
        if more > 0:
            lines.append(f"  … and {more} more.")
    lines.append("")
    if news.link:
        lines.append(f"Open the draft: {news.link}")
    else:
        lines.append(f"Open draft {news.draft_id} on the editors' web page.")
    lines += ["", "You get this email because you are an editor of the round-up."]
    return Notice(subject="This week's round-up draft is ready", text="\n".join(lines))


def chat_text(notice: Notice) -> str:
    """The same news as one chat message (webhooks): the subject in bold, then the text
    without the email's footer."""
    body = notice.text.rsplit("\n\nYou get this email", 1)[0]
    return f"*{notice.subject}*\n\n{body}"


def recipients(addresses: Sequence[str | None]) -> list[str]:
    """Each address once (case-insensitive), in the order given; blanks dropped."""
    seen: set[str] = set()
    found = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    return found


def is_plain_address(value: str) -> bool:
    """One plain email address: no display name, spaces or line breaks, so it can go
    in a header as it is (no header injection)."""
    local, at, domain = value.rpartition("@")
    return bool(
        at
        and local
        and "." in domain.strip(".")
        and len(value) <= 254
        and not any(ch.isspace() or ch in '<>,;:"()[]\\' or ord(ch) < 32 for ch in value)
    )
