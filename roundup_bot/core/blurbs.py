"""Starter blurbs worth keeping. Pure: no I/O, no clock.

An editor keeps a starter blurb only if it reads like the round-up: one or two
whole sentences about the post, in the round-up's voice. So the starter text is
the first *usable* of, in order (:func:`choose_start`):

    the feed's summary        unless it is junk (:func:`is_junk`)
    the page's description    og:description, else <meta name=description>
    the page's first paragraph of real text (found by the pages adapter)

cut to whole sentences (:func:`whole_sentences`: never inside one, about 300
characters at most), without footnote markers or a trailing "[…]". Text in the
author's first person ("We opened…", "I want…") is marked, so the drafting
service can quote it and name who said it (through a small template the user
can override) instead of passing it off as the round-up's own words.

Sentences are split by a small rule set here rather than a library: the
candidates (pysbd, NLTK's punkt) are either unmaintained or need model data
downloaded at run time, and a blurb needs only the first two boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: A blurb is about this long at most (a first sentence alone may run to _HARD_LIMIT).
BLURB_LIMIT = 300
_HARD_LIMIT = 400
#: A first sentence shorter than this takes the second with it.
_SHORT_SENTENCE = 100

BlurbKind = Literal["summary", "description", "lead"]

_BOILERPLATE = (
    # WordPress: "The post <title> appeared first on <blog>."
    re.compile(r"\s*The post .{1,400}? appeared first on .{1,200}?$", re.IGNORECASE | re.DOTALL),
    re.compile(
        r"\s*(?:[\[(]\s*)?(?:Continue reading|Read more|Read the (?:full|rest of (?:the|this))"
        r" (?:post|article|story)|Keep reading|Read on)\b.*$",
        re.IGNORECASE | re.DOTALL,
    ),
)
#: Footnote and reference markers: [1], [^2], (3) after a word, superscript digits, ↩.
_FOOTNOTES = re.compile(
    r"\[\^?\d{1,3}\]|(?<=[\w.,;:!?”’\"')])[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\s*↩\ufe0e?|(?<=[a-z.,;:])\(\d{1,2}\)(?=\s|$)"
)
#: What marks text as cut short: a trailing ellipsis, "[…]", "(...)".
_CUT_MARK = re.compile(r"\s*(?:[\[(]\s*(?:…|\.\.\.)\s*[\])]|…|\.\.\.)\s*$")
_ONLY_PUNCTUATION = re.compile(r"^[\W_]*$")
_WHITESPACE = re.compile(r"\s+")
#: Where a sentence may end: . ! ? (and closing quotes/brackets) then space and a capital.
_BOUNDARY = re.compile(r"([.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]*[A-Z0-9À-Ý])")
#: Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "cllr",
        "rev",
        "sr",
        "jr",
        "e.g",
        "i.e",
        "etc",
        "vs",
        "no",
        "nos",
        "approx",
        "dept",
        "inc",
        "ltd",
        "co",
        "govt",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
#: First-person words. "I" only as a capital; "US" (the country) is not "us".
_FIRST_PERSON = re.compile(
    r"(?<![\w’'])(?:I|I['’](?:m|ve|d|ll)|(?i:me|my|mine|myself|we|we['’](?:re|ve|d|ll)"
    r"|our|ours|ourselves)|us|Us)(?![\w’'])"
)
#: Quoted passages (someone else's words, already attributed by the text itself).
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


@dataclass(frozen=True, slots=True)
class BlurbSource:
    """One text a blurb may start from, and whose words it is."""

    kind: BlurbKind
    text: str | None
    speaker: str | None = None  # who wrote it (for a quote's attribution)


@dataclass(frozen=True, slots=True)
class BlurbStart:
    """The chosen starter text: whole sentences, and whether they speak as "I"/"we"."""

    text: str
    kind: BlurbKind
    first_person: bool
    speaker: str | None


def _squash(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def clean(text: str | None) -> str:
    """The text without feed boilerplate, footnote markers and a trailing "[…]" mark.

    A trailing ellipsis is kept when it is all that marks the text as cut short,
    so :func:`whole_sentences` can tell a finished sentence from a cut one.
    """
    if not text:
        return ""
    text = _squash(text)
    for pattern in _BOILERPLATE:
        text = pattern.sub("", text)
    text = _FOOTNOTES.sub("", text)
    text = re.sub(r"\s*[\[(]\s*(?:…|\.\.\.)\s*[\])]\s*$", "…", text)
    return _squash(text)


def _comparable(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def is_junk(text: str | None, title: str | None = None) -> bool:
    """Whether a summary says nothing a blurb could use.

    Junk is: nothing once cleaned ("Read more", "Continue reading", WordPress'
    "The post … appeared first on …"), only punctuation or an ellipsis, just the
    title again (or the start of it), or fewer than four words.
    """
    cleaned = _CUT_MARK.sub("", clean(text))
    if not cleaned or _ONLY_PUNCTUATION.match(cleaned):
        return True
    words = _comparable(cleaned)
    if title:
        heading = _comparable(title)
        if words == heading or (heading.startswith(words)) or words == heading + " " + "":
            return True
    return len(words.split()) < 4


def sentences(text: str) -> list[str]:
    """The text split into sentences (abbreviations and initials do not end one)."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group(1) == ".":
            before = text[start : match.start()].rsplit(None, 1)
            word = before[-1].lower().lstrip("(\"'“‘") if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        out.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def whole_sentences(text: str, limit: int = BLURB_LIMIT) -> str:
    """One or two whole sentences from the start of ``text``, about ``limit`` characters
    at most; "" when not even the first sentence is whole (cut short, or too long)."""
    found = [s for s in sentences(clean(text)) if s]
    if not found or not _SENTENCE_END.search(found[0]) or len(found[0]) > _HARD_LIMIT:
        return ""
    blurb = found[0]
    if len(blurb) < _SHORT_SENTENCE and len(found) > 1 and _SENTENCE_END.search(found[1]):
        pair = f"{blurb} {found[1]}"
        if len(pair) <= limit:
            blurb = pair
    return blurb


def is_first_person(text: str) -> bool:
    """Whether the text speaks as "I" or "we" (outside any quotation it makes)."""
    return bool(_FIRST_PERSON.search(_QUOTED.sub(" ", text)))


def choose_start(sources: Sequence[BlurbSource], title: str | None = None) -> BlurbStart | None:
    """The first source that gives whole, non-junk sentences, or None."""
    for source in sources:
        if is_junk(source.text, title):
            continue
        text = whole_sentences(source.text or "")
        if not text or is_junk(text, title):
            continue
        return BlurbStart(
            text=text,
            kind=source.kind,
            first_person=is_first_person(text),
            speaker=source.speaker,
        )
    return None


def unquoted(text: str) -> str:
    """The text without quotation marks wrapped round all of it (before quoting it again)."""
    stripped = text.strip()
    pairs = (("“", "”"), ('"', '"'), ("‘", "’"), ("'", "'"))
    for left, right in pairs:
        if len(stripped) > 2 and stripped.startswith(left) and stripped.endswith(right):
            inner = stripped[1:-1]
            if left not in inner and right not in inner:
                return inner.strip()
    return stripped


#: A paragraph shorter than this, or with fewer words, is a heading, byline or date.
_PARAGRAPH_CHARS = 80
_PARAGRAPH_WORDS = 12
_NOT_PROSE = re.compile(
    r"\b(?:cookies?|subscribe|sign up|newsletter|javascript|all rights reserved|copyright"
    r"|share this|posted (?:on|by|in)|filed under|tagged|comments?)\b",
    re.IGNORECASE,
)


def first_real_paragraph(main_text: str, title: str | None = None) -> str | None:
    """The first paragraph of an article's main text (one per line) that is prose:
    long enough, ending a sentence, not the title, a byline, or a cookie notice."""
    for line in main_text.splitlines()[:200]:
        paragraph = _squash(line)
        if len(paragraph) < _PARAGRAPH_CHARS or len(paragraph.split()) < _PARAGRAPH_WORDS:
            continue
        if title and _comparable(paragraph) == _comparable(title):
            continue
        if _NOT_PROSE.search(paragraph[:120]) and len(paragraph) < 200:
            continue
        if not re.search(r"[.!?][\"'”’)]*(?:\s|$)", paragraph):
            continue
        return paragraph
    return None
