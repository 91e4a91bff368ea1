"""The crawl pattern every news site shares; a site's spider only names its URLs and page class.

Discovery: news sitemaps (also those robots.txt names), the home page and listing pages. Every
article URL is canonicalised before it is requested, so tracking-query, ``?page=1`` and
trailing-slash variants of one article are one request. Article pages follow their "Baca Juga"
links within the site; multi-page articles are fetched page by page and emitted as one item.
Every page that gives no item says why in the stats (``kaltimnews/...``) and in the log.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, ClassVar

from scrapy import Request
from parsel import Selector
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spiders import SitemapSpider
from scrapy.utils.response import get_base_url
from twisted.python.failure import Failure
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from kaltimnews.browser import require_browser
from kaltimnews.items import ArticleItem
from kaltimnews.pages.base import ArticlePage
from kaltimnews.pages.document import link_hrefs
from kaltimnews.text import word_count
from kaltimnews.urls import canonical_url, join_url

STATS = "kaltimnews"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class NewsSpider(SitemapSpider):
    """Base spider for a news site. Subclasses set the class attributes below."""

    page_class: ClassVar[type[ArticlePage]] = ArticlePage
    home_urls: ClassVar[tuple[str, ...]] = ()
    listing_urls: ClassVar[tuple[str, ...]] = ()
    #: RSS or Atom feeds whose items link articles.
    feed_urls: ClassVar[tuple[str, ...]] = ()
    #: Links to follow from home and listing pages besides articles (listing pagination, say).
    listing_url: ClassVar[re.Pattern[str] | None] = None
    #: Listing pages fetched at most per crawl (``-a listing_pages=N``): archives are deep.
    default_listing_pages: ClassVar[int] = 10
    #: The "Load More" control of rendered listing pages; without one, a listing is scrolled.
    load_more_selector: ClassVar[str] = (
        "button:has-text('Load More'), button:has-text('Muat Lebih'), a:has-text('Load More')"
    )
    default_load_more: ClassVar[int] = 3

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.refresh = _truthy(kwargs.get("refresh", False))
        self.follow_related = _truthy(kwargs.get("follow_related", True))
        self.listing_pages = int(kwargs.get("listing_pages", self.default_listing_pages))
        #: ``-a render=1``: listing pages in a browser; articles too when they need scripts.
        self.render = _truthy(kwargs.get("render", False))
        self.load_more = int(kwargs.get("load_more", self.default_load_more))
        self._listing_urls_seen: set[str] = set()
        #: Canonical URLs of the articles requested so far. Listing pages, sitemaps and "Baca
        #: Juga" blocks link each article ~6 times; a repeat is dropped here, before a Request
        #: is built and sent through the spider middlewares and the scheduler's duplicate
        #: filter (~0.15 ms each, a fifth of a mirror crawl's CPU). The duplicate filter still
        #: decides across JOBDIR restarts and distributed workers.
        self._requested_articles: set[str] = set()
        #: Article links found, by source, and the repeats among them: written to the stats when
        #: the spider closes (``discovered/<source>``), not one stats call per link.
        self._links_found: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        if _truthy(kwargs.get("render", False)):
            require_browser()  # a clear message now, not a browser launch failure mid-crawl
            # Settings are still open here (they freeze once the spider exists).
            crawler.settings.set(
                "MIRROR_INNER_HANDLER", crawler.settings.get("RENDER_DOWNLOAD_HANDLER"), priority="spider"
            )
        return super().from_crawler(crawler, *args, **kwargs)

    @property
    def url_rules(self) -> Any:
        """The site's URL rules, for the pipelines and middlewares that canonicalise URLs."""
        return self.page_class.url_rules

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        if settings.get("MIRROR_URL"):
            # The mirror is ours, on loopback: politeness delays only slow the tests down.
            # Command-line values (priority "cmdline") still win over these.
            for name, value in (
                ("AUTOTHROTTLE_ENABLED", False),
                ("DOWNLOAD_DELAY", 0),
                ("CONCURRENT_REQUESTS_PER_DOMAIN", 16),
                ("RETRY_TIMES", 1),
            ):
                settings.set(name, value, priority="spider")

    # ------------------------------------------------------------------ discovery

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():  # the sitemaps
            yield request.replace(errback=self.on_error)
        for url in self.feed_urls:
            yield Request(url, callback=self.parse_feed, errback=self.on_error)
        for url in (*self.home_urls, *self.listing_urls):
            yield self.listing_request(url)

    sitemap_rules = [(r".", "parse_article")]

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        # A sitemap index lists sitemaps, not articles: all of them are followed.
        is_index = getattr(entries, "type", None) == "sitemapindex"
        for entry in entries:
            loc = (entry.get("loc") or "").strip()
            if is_index or self.page_class.is_article_url(loc):
                entry["loc"] = loc
                yield entry
            elif loc:
                self._count("skipped/sitemap_non_article")
                self.logger.debug("Sitemap entry is not an article URL: %s", loc)

    def _parse_sitemap(self, response: Response) -> Iterable[Request]:
        # SitemapSpider builds plain requests; ours are canonical, marked and have an errback.
        for request in super()._parse_sitemap(response):
            if request.callback == self.parse_article:
                article = self._discovered_article(request.url, "sitemap")
                if article is not None:
                    yield article
            else:
                yield request.replace(errback=self.on_error)

    def parse_feed(self, response: Response) -> Iterator[Request]:
        """RSS 2.0 ``<item><link>`` and Atom ``<entry><link href>``: one article request each."""
        self._count("feeds")
        selector = Selector(text=response.text, type="xml")
        selector.remove_namespaces()
        links = selector.xpath("//item/link/text() | //entry/link/@href").getall()
        for link in links:
            request = self._discovered_article(link.strip(), "feed")
            if request is not None:
                yield request

    def parse_listing(self, response: Response) -> Iterator[Request]:
        """Home and listing pages: request every article they link, follow listing pagination."""
        self._count("listing_pages")
        if not isinstance(response, TextResponse):
            self._count("skipped/non_html")
            return
        base_url = functools.partial(get_base_url, response)  # found only if a link is relative
        for href in link_hrefs(response.text):
            try:
                url = join_url(base_url, href.strip())
            except ValueError:  # "http://[broken": one bad link must not end the page's loop
                self._count("skipped/invalid_link")
                self.logger.info("Unparsable link %r on %s", href, response.url)
                continue
            if self.page_class.is_article_url(url):
                request = self._discovered_article(url, "listing")
                if request is not None:
                    yield request
            elif self.listing_url is not None and self.listing_url.search(url):
                # Every page's menu links the listings again: count each listing once.
                if url not in self._listing_urls_seen and len(self._listing_urls_seen) < self.listing_pages:
                    self._listing_urls_seen.add(url)
                    yield self.listing_request(url)

    def listing_request(self, url: str) -> Request:
        if not self.render:
            return Request(url, callback=self.parse_listing, errback=self.on_error)
        return Request(
            url,
            callback=self.parse_rendered_listing,
            errback=self.on_render_error,
            meta={"playwright": True, "playwright_include_page": True, "playwright_context": "listing"},
        )

    async def parse_rendered_listing(self, response: Response) -> AsyncIterator[Request]:
        """A listing page in the browser: click "Load More" (or scroll), then read its links."""
        page = response.meta["playwright_page"]
        try:
            await self._expand_listing(page)
            html = await page.content()
        finally:
            await page.close()
        self._count("render/listing_pages")
        rendered = HtmlResponse(url=response.url, body=html, encoding="utf-8", request=response.request)
        for request in self.parse_listing(rendered):
            yield request

    async def _expand_listing(self, page: Any) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        wait_ms = self.settings.getfloat("RENDER_WAIT_SECONDS", 10) * 1000
        try:
            await page.wait_for_load_state("networkidle", timeout=wait_ms)
        except PlaywrightTimeout:
            pass  # a page that never goes quiet (polling ads) is read as it is
        clicked = False
        for _ in range(self.load_more):
            links_before = await page.locator("a[href]").count()
            button = page.locator(self.load_more_selector).first
            if await button.count() and await button.is_visible():
                await button.click()
                clicked = True
                self._count("render/load_more_clicks")
                grow_ms = wait_ms
            elif clicked:
                break  # the button went away: everything is loaded
            else:
                # No button: maybe infinite scroll. Most listings are not, so wait briefly.
                await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                self._count("render/scrolls")
                grow_ms = min(wait_ms, 1500)
            try:
                await page.wait_for_function(
                    "n => document.querySelectorAll('a[href]').length > n",
                    arg=links_before,
                    timeout=grow_ms,
                )
            except PlaywrightTimeout:
                break  # nothing more came

    def article_request(self, url: str, **meta: Any) -> Request | None:
        """The request for the article at ``url`` (canonicalised); None if it is no article URL."""
        canonical = self._article_url(url)
        return None if canonical is None else self._article_request(canonical, **meta)

    def _article_url(self, url: str) -> str | None:
        """``url``'s canonical spelling, or None when that is no article URL of this site."""
        canonical = canonical_url(url, self.page_class.url_rules)
        return canonical if self.page_class.is_article_url(canonical) else None

    def _discovered_article(self, url: str, source: str) -> Request | None:
        """The request for an article link found in ``source``; None for a non-article or a repeat.

        Every article link is counted (``discovered/<source>``), each repeat also as
        ``discovered/repeat``.
        """
        canonical = self._article_url(url)
        if canonical is None:
            return None
        self._links_found[source] += 1
        if canonical in self._requested_articles:
            self._links_found["repeat"] += 1
            return None
        self._requested_articles.add(canonical)
        return self._article_request(canonical)

    def _article_request(self, canonical: str, **meta: Any) -> Request:
        return Request(
            canonical,
            callback=self.parse_article,
            errback=self.on_error,
            meta={"kaltimnews_article": True, "canonical_url": canonical, **meta},
        )

    # ------------------------------------------------------------------ articles

    def parse_article(self, response: Response) -> Iterator[ArticleItem | Request]:
        page = self._article_page(response)
        if page is None:
            return
        if not page.has_article_text:
            if self.render and not response.meta.get("playwright"):
                # Some pages write their text with scripts: one more try, in the browser.
                self._count("render/article_retry")
                self.logger.info("No article text without scripts, rendering: %s", response.url)
                yield response.request.replace(
                    dont_filter=True,
                    meta={**response.request.meta, "playwright": True,
                          "playwright_page_goto_kwargs": {"wait_until": "networkidle"}},
                )  # fmt: skip
                return
            self._count("skipped/no_article_text")
            self.logger.warning("No article text, no item: %s", response.url)
            return
        item = page.to_item()
        for reason in getattr(page, "flags", ()):
            # A value the page states but that was not trusted (a publish date in 2099, say).
            self._count(f"flagged/{reason}")
            self.logger.warning("Page flagged (%s), used the next source: %s", reason, response.url)
        if self.follow_related:
            yield from self._related_requests(page)
        pages = page.page_count()
        if pages > 1 and page.page_number == 1:
            self._count("articles/multi_page")
            yield self._next_page_request(item, list(range(2, pages + 1)))
        else:
            yield self._emit(item)

    def parse_article_page(
        self, response: Response, article: ArticleItem, remaining: list[int]
    ) -> Iterator[ArticleItem | Request]:
        """Page 2..N of a multi-page article: append its text, then fetch the next or emit."""
        page = self._article_page(response)
        if page is not None and page.has_article_text:
            _append_page(article, page.to_item())
            if self.follow_related:
                yield from self._related_requests(page)
        else:
            self._count("articles/page_without_text")
        if remaining:
            yield self._next_page_request(article, remaining)
        else:
            yield self._emit(article)

    def _next_page_request(self, article: ArticleItem, remaining: list[int]) -> Request:
        number, rest = remaining[0], remaining[1:]
        return Request(
            self.page_class.page_url(article["url"], number),
            callback=self.parse_article_page,
            errback=self.on_page_error,
            cb_kwargs={"article": article, "remaining": rest},
            meta={"kaltimnews_page": number},
        )

    def _article_page(self, response: Response) -> ArticlePage | None:
        """The page object, or None (counted and logged) when the page is no article at all."""
        if not isinstance(response, TextResponse):
            self._count("skipped/non_html")
            self.logger.warning("Not an HTML page, no article: %s", response.url)
            return None
        response = self._repair_encoding(response)
        page = self.page_class(response)
        if page.metadata.json_ld_errors:
            self._count("pages/invalid_json_ld", page.metadata.json_ld_errors)
        if not page.is_article_url(page.url):
            self._count("skipped/non_article_page")
            self.logger.info("Not an article page (%s), no item: %s", page.url, response.url)
            return None
        if page.has_article_text:
            self._count(f"template/{page.template_name}")
        return page

    def _repair_encoding(self, response: TextResponse) -> TextResponse:
        """A page whose bytes contradict its declared charset is read in the charset they are in."""
        found = _actual_encoding(response)
        if found is None:
            return response
        actual, reason = found
        self._count(f"flagged/{reason}")
        if reason == "encoding_mismatch":
            self.logger.warning(
                "Page declares %s but its bytes are %s, read as %s: %s",
                response.encoding, actual, actual, response.url,
            )  # fmt: skip
        else:
            self.logger.info("Page declares no charset, read as %s: %s", actual, response.url)
        return response.replace(encoding=actual)

    def _related_requests(self, page: ArticlePage) -> Iterator[Request]:
        for url in page.related_urls:
            request = self._discovered_article(url, "related")  # None for a non-article or a repeat
            if request is not None:
                yield request

    def _emit(self, item: ArticleItem) -> ArticleItem:
        self._count("articles/emitted")
        return item

    # ------------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # Not a failure: a middleware chose not to fetch it (stored already, robots.txt, ...)
            # and counted why. (HttpError is an IgnoreRequest too, but a real error: below.)
            self._count("skipped/ignored_request")
            self.logger.debug("Not fetched (%s): %s", failure.getErrorMessage(), request.url)
            return
        if failure.check(HttpError):
            status = failure.value.response.status
            self._count(f"http_error/{status}")
            self.logger.warning("HTTP %s, no item: %s", status, request.url)
        else:
            self._count(f"download_error/{failure.type.__name__}")
            # Some failures have no message (a cut transfer): the type still says what happened.
            reason = failure.getErrorMessage() or failure.type.__name__
            self.logger.error("Download failed (%s), no item: %s", reason, request.url)

    async def on_render_error(self, failure: Failure) -> None:
        page = failure.request.meta.get("playwright_page")
        if page is not None:
            await page.close()
        self.on_error(failure)

    def on_page_error(self, failure: Failure) -> Iterator[ArticleItem | Request]:
        """A later page of an article failed: emit the pages we have rather than lose the article."""
        self.on_error(failure)
        self._count("articles/incomplete")
        article: ArticleItem = failure.request.cb_kwargs["article"]
        remaining: list[int] = failure.request.cb_kwargs["remaining"]
        self.logger.warning("Article missing a page, emitting the rest: %s", article.get("url"))
        if remaining:
            yield self._next_page_request(article, remaining)
        else:
            yield self._emit(article)

    def _count(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"{STATS}/{key}", count)

    def closed(self, reason: str) -> None:
        # The spider's spider_closed handler runs before the extensions' (stats file, monitors).
        for source, count in self._links_found.items():
            self._count(f"discovered/{source}", count)


_SINGLE_BYTE_CHARSETS = frozenset({"ascii", "cp1252", "latin-1", "iso8859-1", "iso8859-15"})


def _actual_encoding(response: TextResponse) -> tuple[str, str] | None:
    """(the charset a page's bytes are really in, why) when it is not the one used; else None.

    UTF-8 declared but the bytes are not UTF-8: windows-1252 (the usual culprit, a superset of
    Latin-1). A single-byte charset declared but the bytes are valid UTF-8 with non-ASCII
    characters: UTF-8 (legacy text almost never forms valid multi-byte UTF-8 sequences). No
    charset declared anywhere and the bytes are not UTF-8: windows-1252, the WHATWG default for
    Indonesian and most Latin-script locales, not Scrapy's statistical guess (which reads short
    Indonesian text with a few accents as cp1250: "crème" becomes "crčme").
    """
    body = response.body
    if body.isascii():
        return None
    try:
        used = codecs.lookup(response.encoding).name
    except LookupError:
        return None
    try:
        body.decode("utf-8")
        is_utf8 = True
    except UnicodeDecodeError:
        is_utf8 = False
    declared = (
        http_content_type_encoding((response.headers.get(b"Content-Type") or b"").decode("latin-1"))
        or html_body_declared_encoding(body)
        or read_bom(body)[0]
    )
    if not declared:
        return None if is_utf8 or used == "cp1252" else ("cp1252", "encoding_undeclared")
    if used == "utf-8" and not is_utf8:
        return "cp1252", "encoding_mismatch"
    if used in _SINGLE_BYTE_CHARSETS and is_utf8:
        return "utf-8", "encoding_mismatch"
    return None


def _append_page(article: ArticleItem, page_item: ArticleItem) -> None:
    if page_item.get("body"):
        article["body"] = "\n\n".join(b for b in (article.get("body"), page_item["body"]) if b)
        article["word_count"] = word_count(article["body"])
    related = list(article.get("related_urls") or [])
    related += [u for u in page_item.get("related_urls") or [] if u not in related]
    article["related_urls"] = related

