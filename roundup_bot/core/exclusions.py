"""What never enters a round-up: adverts, and what the user rules out. Pure: no I/O.

A post marked as sponsored, advertorial, promoted, paid or partner content is an
advert, whoever carried it. Feeds mark them two ways: a category
("Sponsored", "Partner content") or a marker in the title ("[Sponsor] …",
"Sponsored: …", "… (Advertisement)"). ``[ranking] exclude_categories`` and
``exclude_title_markers`` tune both (with the defaults below) and
``exclude_keywords`` adds the user's own words; :func:`exclusion` says which
rule matched, so ``candidates --json`` can tell the editor why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_EXCLUDE_CATEGORIES: tuple[str, ...] = (
    "sponsored",
    "sponsor",
    "sponsors",
    "sponsored post",
    "sponsored content",
    "sponsorship",
    "advertorial",
    "advertisement",
    "advert",
    "ad",
    "ads",
    "promoted",
    "promoted post",
    "paid",
    "paid post",
    "paid content",
    "partner",
    "partner content",
    "paid partnership",
    "branded content",
)
DEFAULT_EXCLUDE_TITLE_MARKERS: tuple[str, ...] = (
    "[Sponsor]",
    "[Sponsored]",
    "Sponsor:",
    "Sponsored:",
    "Sponsored post",
    "Advertisement",
    "Advertorial",
    "Promoted",
    "Paid post",
    "Paid content",
    "Partner content",
)
_SEPARATORS = r"[:|\-–—·•]"


def _normal(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.casefold()).strip()


def _marker_body(marker: str) -> str | None:
    word = marker.strip().strip("[]():").strip()
    if not word:
        return None
    return r"\s+".join(re.escape(part) for part in word.split())


@lru_cache(maxsize=256)
def _marker_pattern(marker: str) -> re.Pattern[str] | None:
    """A title marker as a pattern: bracketed anywhere ("[Sponsor]", "(Advertisement)"),
    or at the start or end of the title set off by a separator ("Sponsor: …", "… — Promoted")."""
    body = _marker_body(marker)
    return None if body is None else re.compile(_placed(body), re.IGNORECASE)


def _placed(body: str) -> str:
    return (
        rf"[\[(]\s*(?:{body})\s*[\])]"
        rf"|^\s*(?:{body})\s*(?:{_SEPARATORS}|$)"
        rf"|{_SEPARATORS}\s*(?:{body})\s*$"
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule set prepared once, so checking thousands of candidates stays cheap."""

    categories: frozenset[str]
    markers: re.Pattern[str] | None  # any marker at all (which one is found after)
    keywords: re.Pattern[str] | None


@lru_cache(maxsize=32)
def _compiled(
    categories: tuple[str, ...], markers: tuple[str, ...], keywords: tuple[str, ...]
) -> _Compiled:
    bodies = [b for b in (_marker_body(m) for m in markers) if b]
    words = [re.escape(w.strip()) for w in keywords if w.strip()]
    return _Compiled(
        categories=frozenset(_normal(c) for c in categories if c.strip()),
        markers=re.compile(_placed("|".join(bodies)), re.IGNORECASE) if bodies else None,
        keywords=re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)
        if words
        else None,
    )


@lru_cache(maxsize=256)
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word.strip()) + r"(?!\w)", re.IGNORECASE)


def exclusion(
    *,
    title: str | None,
    summary: str | None,
    categories: Iterable[str],
    exclude_categories: Sequence[str],
    exclude_title_markers: Sequence[str],
    exclude_keywords: Sequence[str],
) -> str | None:
    """Why a post may not be picked (naming the rule and the setting), or None."""
    rules = exclusion_rules(
        tuple(exclude_categories), tuple(exclude_title_markers), tuple(exclude_keywords)
    )
    return rules.why(title, summary, categories)


@lru_cache(maxsize=32)
def exclusion_rules(
    categories: tuple[str, ...], markers: tuple[str, ...], keywords: tuple[str, ...]
) -> ExclusionRules:
    """The rules prepared once, for checking a whole week's candidates against them."""
    return ExclusionRules(_compiled(categories, markers, keywords), markers, keywords)


@dataclass(frozen=True, slots=True)
class ExclusionRules:
    """:func:`exclusion` for one rule set, prepared."""

    compiled: _Compiled
    markers: tuple[str, ...]
    keywords: tuple[str, ...]

    def why(self, title: str | None, summary: str | None, categories: Iterable[str]) -> str | None:
        """Why a post may not be picked (naming the rule and the setting), or None."""
        rules = self.compiled
        if rules.categories:
            for category in categories:
                if _normal(category) in rules.categories:
                    return (
                        f'sponsored: category "{category.strip()}" ([ranking] exclude_categories)'
                    )
        if title and rules.markers is not None and rules.markers.search(title):
            for marker in self.markers:
                pattern = _marker_pattern(marker)
                if pattern is not None and pattern.search(title):
                    return (
                        f'sponsored: title marker "{marker.strip()}"'
                        " ([ranking] exclude_title_markers)"
                    )
        if rules.keywords is not None:
            text = " ".join(filter(None, (title, summary)))
            if text and rules.keywords.search(text):
                for word in self.keywords:
                    if word.strip() and _word_pattern(word).search(text):
                        return f'keyword "{word.strip()}" ([ranking] exclude_keywords)'
        return None
