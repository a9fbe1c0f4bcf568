"""Fair picks: at most ``[roundup] max_per_source`` items from one blog. Pure: no I/O.

A round-up that mixes many blogs is worth more than one blog's week, so the
automatic picks take the best candidates in rank order but skip a candidate
once its blog already has ``max_per_source`` items in the draft; the next best
from other blogs fill the places. An editor can still add more by hand (their
items count towards the cap, but are never taken out by it).

A candidate's blog (:func:`blog_key`) is the site of the feed that carried it
(the first such feed; a link blog's post counts against the link blog), or for
a link that was only suggested, the article's own site.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from roundup_bot.core.curation import host_of
from roundup_bot.core.records import Candidate, ScorePart


def blog_key(candidate: Candidate) -> str:
    """Which blog a candidate counts against for the cap."""
    for source in candidate.sources:
        if source.kind == "feed":
            if source.site:
                return host_of(source.site)
            return "feed " + (urlsplit(source.url).netloc.lower() + urlsplit(source.url).path)
    return host_of(candidate.url)


def blog_name(candidate: Candidate) -> str:
    """The blog as people know it, for messages: the feed's name, else its host."""
    for source in candidate.sources:
        if source.kind == "feed" and source.name and "://" not in source.name:
            return source.name
    return candidate.site_name or blog_key(candidate)


@dataclass(frozen=True, slots=True)
class Picks:
    """What :func:`pick_fairly` chose, and whom the cap held back."""

    ids: tuple[int, ...]  # picked, in rank order
    held_back: tuple[int, ...]  # skipped for the cap while places were still being filled


def pick_fairly(
    ranked: Iterable[tuple[int, str]],
    slots: int,
    max_per_source: int,
    already: Iterable[str] = (),
) -> Picks:
    """Pick ``slots`` of ``ranked`` ((id, blog key), best first), at most
    ``max_per_source`` per blog counting ``already`` (blogs of items kept in the
    draft); 0 means no cap."""
    counts: Counter[str] = Counter(already)
    picked: list[int] = []
    held: list[int] = []
    for candidate_id, key in ranked:
        if len(picked) >= slots:
            break
        if max_per_source and counts[key] >= max_per_source:
            held.append(candidate_id)
            continue
        counts[key] += 1
        picked.append(candidate_id)
    return Picks(tuple(picked), tuple(held))


def cap_part(blog: str, max_per_source: int) -> ScorePart:
    """The ``why`` entry of a candidate the cap held back."""
    noun = "item" if max_per_source == 1 else "items"
    return ScorePart(
        "cap",
        0.0,
        f"held back: {blog} already has {max_per_source} {noun} in the draft"
        " ([roundup] max_per_source)",
    )
