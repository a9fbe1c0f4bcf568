"""Link details: what an article's own page says about it.

For the items picked for a draft, the page is fetched with the project's
:class:`HttpFetcher` under ``App.link_policy()`` (the feeds' deadline and size
limit; private, loopback and link-local addresses refused, redirects to them
too, unless ``[network] allow_private_addresses``), and its metadata read with
extruct (OpenGraph, JSON-LD) and lxml (``<title>``, ``<meta name=...>``).
Results are cached in the ``link_details`` table, failures too, so a page that
cannot be read is not asked for again on every refresh. A page that cannot be
read leaves the item as it was.

    urls -> cached and fresh? -> fetch (bounded, concurrent) -> parse_page -> store
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from roundup_bot.adapters.http import HttpFetcher
from roundup_bot.core.addresses import true_address
from roundup_bot.core.blurbs import first_real_paragraph
from roundup_bot.core.curation import (
    MAX_URL_CHARS,
    absolute_url,
    clean_line,
    excerpt,
    plain_excerpt,
)
from roundup_bot.core.errors import FetchError
from roundup_bot.core.records import HttpPolicy, LinkCard, LinkDetails

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
_HTML_TYPES = ("text/html", "application/xhtml+xml")
#: A failed page is tried again after this long.
FAILURE_RETRY = timedelta(days=1)
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "blogposting",
        "newsarticle",
        "report",
        "scholarlyarticle",
        "techarticle",
        "webpage",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "posting",
        "socialmediaposting",
    }
)


@dataclass(frozen=True, slots=True)
class PageDetails:
    """What one page said about itself; every field plain text, or None."""

    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    description: str | None = None
    image: str | None = None  # og:image (or twitter:image), an absolute http(s) URL
    canonical: str | None = None  # <link rel="canonical">, absolute
    lead: str | None = None  # the first real paragraph of the main text


#: Only this much of a page goes to the main-text extraction (which is slower per byte).
_EXTRACT_CHARS = 1_000_000
_LEAD_CHARS = 2000


def main_text(html: str) -> str | None:
    """The article's main text, paragraphs on their own lines, found by trafilatura
    (never navigation, cookie notices or footers); None when it finds none."""
    import trafilatura

    try:
        return trafilatura.extract(
            html[:_EXTRACT_CHARS],
            output_format="txt",
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            deduplicate=True,
        )
    except Exception as exc:  # trafilatura lets lxml errors through on odd pages
        log.debug("main text could not be extracted: %s", exc)
        return None


def _clean(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return plain_excerpt(value, limit) or None


def _first(*values: Any, limit: int = 300) -> str | None:
    for value in values:
        cleaned = _clean(value, limit)
        if cleaned and "://" not in cleaned[:12]:
            return cleaned
    return None


def _decode(content: bytes, headers: Mapping[str, str]) -> str:
    """Bytes -> text: the header's charset, a BOM or <meta charset>, else UTF-8."""
    from w3lib.encoding import html_to_unicode

    _encoding, text = html_to_unicode(headers.get("content-type"), content)
    return str(text)


def parse_page(
    content: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    with_lead: bool = True,
) -> PageDetails:
    """Read a page's own metadata, its canonical address and (``with_lead``) the first
    real paragraph of its main text. Never raises on bad markup: returns what it could."""
    import extruct
    import lxml.html
    from lxml.etree import ParserError

    text = _decode(content, headers or {})
    if not text.strip():
        return PageDetails()
    try:
        data = extruct.extract(
            text,
            base_url=url,
            syntaxes=["opengraph", "json-ld"],
            uniform=True,
            errors="ignore",
        )
    except Exception as exc:  # extruct lets lxml and json errors through on odd pages
        log.debug("metadata of %s could not be extracted: %s", url, exc)
        data = {}
    og: dict[str, Any] = {}
    for block in data.get("opengraph") or []:
        for key, value in block.items():
            og.setdefault(key, value[0] if isinstance(value, list) and value else value)
    article = _json_ld_article(data.get("json-ld") or [])
    meta: dict[str, str] = {}
    title_tag: str | None = None
    canonical: str | None = None
    try:
        document = lxml.html.document_fromstring(text)
        for element in document.iter("meta"):
            name = (element.get("name") or element.get("property") or "").strip().lower()
            content_value = element.get("content")
            if name and content_value and name not in meta:
                meta[name] = content_value
        found = document.find(".//title")
        title_tag = found.text_content() if found is not None else None
        for element in document.iter("link"):
            rels = (element.get("rel") or "").lower().split()
            href = (element.get("href") or "").strip()
            if "canonical" in rels and href:
                canonical = absolute_url(href, url)[:MAX_URL_CHARS]
                break
    except (ParserError, ValueError) as exc:
        log.debug("page %s could not be parsed: %s", url, exc)
    title = _first(
        og.get("og:title"),
        article.get("headline"),
        article.get("name"),
        meta.get("twitter:title"),
        title_tag,
    )
    lead = first_real_paragraph(main_text(text) or "", title) if with_lead else None
    return PageDetails(
        canonical=canonical,
        lead=excerpt(lead, _LEAD_CHARS) if lead else None,
        title=_first(
            og.get("og:title"),
            article.get("headline"),
            article.get("name"),
            meta.get("twitter:title"),
            title_tag,
        ),
        author=_first(
            _person(article.get("author")),
            meta.get("author"),
            meta.get("article:author"),
            meta.get("dc.creator"),
            limit=200,
        ),
        site_name=_first(
            og.get("og:site_name"),
            _person(article.get("publisher")),
            meta.get("application-name"),
            limit=200,
        ),
        description=_first(
            og.get("og:description"),
            meta.get("description"),
            article.get("description"),
            meta.get("twitter:description"),
            limit=1000,
        ),
        image=_image_url(url, og.get("og:image"), meta.get("og:image"), meta.get("twitter:image")),
    )


def _image_url(base: str, *values: Any) -> str | None:
    """The first usable image address, resolved against the page's own."""
    from urllib.parse import urljoin

    for value in values:
        if isinstance(value, str) and value.strip() and len(value) < 2000:
            absolute = urljoin(base, value.strip())
            if absolute.lower().startswith(("http://", "https://")):
                return absolute
    return None


def _json_ld_article(blocks: Sequence[Any]) -> dict[str, Any]:
    """The first JSON-LD object that is an article (looking inside @graph too)."""
    queue: list[Any] = list(blocks)
    fallback: dict[str, Any] = {}
    while queue:
        node = queue.pop(0)
        if isinstance(node, list):
            queue.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "@graph" in node:
            queue.extend(node["@graph"] if isinstance(node["@graph"], list) else [node["@graph"]])
        kinds = node.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        names = {str(k).lower() for k in kinds if k}
        if names & _ARTICLE_TYPES:
            if names & {"webpage"}:
                fallback = fallback or node
                continue
            return node
    return fallback


def _person(value: Any) -> str | None:
    """A schema.org author/publisher: a name, a Person/Organization, or a list of them."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        name = value.get("name")
        return name if isinstance(name, str) else None
    if isinstance(value, list):
        names = [n for n in (_person(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def is_fresh(details: LinkDetails, now: datetime, max_age: timedelta) -> bool:
    """Whether a cached result is still good: a success for ``max_age``, a failure a day."""
    limit = max_age if details.ok else min(max_age, FAILURE_RETRY)
    return now - details.fetched_at < limit


async def fetch_details(url: str, fetcher: HttpFetcher, now: datetime) -> LinkDetails:
    """Fetch and read one page; any failure becomes ``ok=False`` with the reason."""
    try:
        result = await fetcher.get(url, accept=HTML_ACCEPT)
    except FetchError as exc:
        return LinkDetails(url=url, fetched_at=now, ok=False, error=clean_line(str(exc)))
    content_type = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in _HTML_TYPES:
        return LinkDetails(
            url=url, fetched_at=now, ok=False, error=f"not an HTML page ({content_type})"
        )
    page = await asyncio.to_thread(
        parse_page, result.content or b"", result.final_url, result.headers
    )
    moved = true_address(url, result.final_url, page.canonical)
    return LinkDetails(
        url=url,
        fetched_at=now,
        ok=True,
        title=page.title,
        author=page.author,
        site_name=page.site_name,
        description=page.description,
        resolved_url=moved.url if moved else None,
        resolved_reason=moved.reason if moved else None,
        lead=page.lead,
    )


async def fetch_many(
    urls: Iterable[str], policy: HttpPolicy, now: datetime, *, concurrency: int = 8
) -> list[LinkDetails]:
    """Fetch several pages at once (bounded overall and, in the fetcher, per host)."""
    slots = asyncio.Semaphore(concurrency)
    async with HttpFetcher(policy) as fetcher:

        async def one(url: str) -> LinkDetails:
            async with slots:
                return await fetch_details(url, fetcher, now)

        return list(await asyncio.gather(*(one(url) for url in dict.fromkeys(urls))))


def refresh_link_details(
    urls: Sequence[str],
    cached: Mapping[str, LinkDetails],
    policy: HttpPolicy,
    now: datetime,
    *,
    max_age: timedelta,
) -> list[LinkDetails]:
    """Fetch the pages among ``urls`` whose cached details are missing or stale.

    Returns only what was fetched now; the caller stores it.
    """
    wanted = [url for url in urls if url not in cached or not is_fresh(cached[url], now, max_age)]
    if not wanted:
        return []
    return asyncio.run(fetch_many(wanted, policy, now))


#: The largest image a Bluesky link card's thumbnail may be (the PDS refuses more).
MAX_CARD_IMAGE_BYTES = 1_000_000
_CARD_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def fetch_card(url: str, policy: HttpPolicy, now: datetime) -> LinkCard:
    """The link card of a page (OpenGraph title, description and image), for a
    platform that builds none itself (Bluesky). Fetched under ``policy`` (the
    SSRF rules apply to the page and to its image alike); a page or image that
    cannot be read leaves its part out instead of failing."""
    from dataclasses import replace as with_changes

    async def run() -> LinkCard:
        async with HttpFetcher(policy) as fetcher:
            try:
                result = await fetcher.get(url, accept=HTML_ACCEPT)
            except FetchError as exc:
                log.info("link card of %s: %s", url, exc)
                return LinkCard(url=url)
            page = await asyncio.to_thread(
                partial(parse_page, with_lead=False),  # a card needs no main text
                result.content or b"",
                result.final_url,
                result.headers,
            )
            card = LinkCard(url=url, title=page.title, description=page.description)
            if page.image is None:
                return card
        small = with_changes(policy, max_bytes=min(policy.max_bytes, MAX_CARD_IMAGE_BYTES))
        async with HttpFetcher(small) as fetcher:
            try:
                image = await fetcher.get(page.image, accept="image/*")
            except FetchError as exc:
                log.info("link card image of %s: %s", url, exc)
                return card
        kind = image.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in _CARD_IMAGE_TYPES or not image.content:
            return card
        return with_changes(card, image=bytes(image.content), image_type=kind)

    return asyncio.run(run())
