"""Downloader middlewares: incremental crawling.

A scheduled crawl runs every half hour; :class:`SkipStoredArticlesMiddleware` makes it cheap by
not downloading articles the store already holds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from weakref import WeakKeyDictionary

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from kaltimnews.storage import (
    ArticleStore,
    describe_error,
    mask_url,
    resolve_database_url,
    spider_url_rules,
)
from kaltimnews.urls import canonical_url

logger = logging.getLogger(__name__)

_TRUE_STRINGS = frozenset({"1", "true", "yes", "y", "on"})


def is_refresh(spider: Spider | None) -> bool:
    """Whether the spider was asked to fetch everything again (``-a refresh=1|true|yes``)."""
    value = getattr(spider, "refresh", None)
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


class SkipStoredArticlesMiddleware:
    """Skips, before download, article requests whose canonical URL is already stored.

    Only requests marked ``meta["kaltimnews_article"]`` (first page of an article) are
    considered; listing pages, sitemaps, the home page and pages 2..N of an article
    (``meta["kaltimnews_page"] > 1``) are always fetched. The canonical URL is
    ``meta["canonical_url"]`` when the spider set it, else derived from the request URL.

    The stored URLs of the spider's site are read once, when the spider opens, in one streamed
    query, and kept as a set: a lookup per request costs nothing and 100k URLs take a few MB.
    ``-a refresh=1`` skips nothing. If the store cannot be read, nothing is skipped (the
    storage pipeline reports the database failure).

    A skipped article's stored "Baca Juga" links are requested in its place (when the spider
    can build article requests): an article linked only from stored ones is still found, and
    a chain of stored ones is walked in memory, without a download or even a request.

    The same class is also a spider middleware (``SPIDER_MIDDLEWARES``): there it drops stored
    article requests as the spider yields them, so they are never scheduled at all (a scheduled
    request costs a trip through the engine even when it is then ignored); the downloader side
    catches what reaches the scheduler some other way. Both share one load of the store per crawl.

    Stats: ``kaltimnews/incremental/skipped``, ``kaltimnews/incremental/known_urls``,
    ``kaltimnews/incremental/related_requested``.
    """

    def __init__(self, crawler: Crawler, database_url: str) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.known_urls: frozenset[str] | None = None
        self.related: dict[str, list[str]] = {}
        self._expanded: set[str] = set()
        self.refresh = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipStoredArticlesMiddleware:
        return cls(crawler, resolve_database_url(crawler.settings))

    def spider_opened(self, spider: Spider) -> None:
        self.load(spider)

    def load(self, spider: Spider | None) -> None:
        """Read the stored article URLs of ``spider``'s site (none when refreshing)."""
        shared = _LOADED.get(self.crawler)
        if shared is not None:  # the other registration of this class loaded it already
            self.known_urls, self.related, self.refresh = shared
            return
        self._load(spider)
        _LOADED[self.crawler] = (self.known_urls, self.related, self.refresh)

    def _load(self, spider: Spider | None) -> None:
        stats = self.crawler.stats
        self.refresh = is_refresh(spider)
        if self.refresh:
            self.known_urls = frozenset()
            stats.set_value("kaltimnews/incremental/refresh", True)
            logger.info("refresh: fetching every article again, stored or not")
            return
        site = getattr(spider, "name", None)
        store = ArticleStore(self.database_url)
        try:
            self.related = store.stored_related_urls(site=site)
            urls = set(self.related)
        except Exception as exc:
            logger.error(
                "Could not read the stored articles from %s (%s): fetching every article",
                mask_url(self.database_url),
                describe_error(exc, self.database_url),
            )
            urls = set()
        finally:
            store.dispose()
        self.known_urls = frozenset(urls)
        stats.set_value("kaltimnews/incremental/known_urls", len(self.known_urls))
        logger.info(
            "Incremental crawl: %d stored article(s) of %s will not be fetched again"
            " (-a refresh=1 fetches them)",
            len(self.known_urls),
            site,
        )

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        if self.known_urls is None:  # not opened through the signal (e.g. used on its own)
            self.load(spider)
        if not self._is_first_article_page(request):
            return None
        url = self._stored_url(request, spider)
        if url is None:
            return None
        self.crawler.stats.inc_value("kaltimnews/incremental/skipped")
        logger.debug("Skipping stored article %s", url)
        self._request_related(url, spider)
        raise IgnoreRequest(f"article already stored: {url}")

    # -- spider middleware side ----------------------------------------------------------

    def process_spider_output(
        self, response: Any, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        for output in result:
            yield from self._unless_stored(output, spider or self.crawler.spider)

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        async for output in result:
            for kept in self._unless_stored(output, spider or self.crawler.spider):
                yield kept

    def _unless_stored(self, output: Any, spider: Spider) -> Iterator[Any]:
        """``output``, or nothing when it asks for a stored article: then its Baca Juga links."""
        if not isinstance(output, Request) or not self._is_first_article_page(output):
            yield output
            return
        if self.known_urls is None:
            self.load(spider)
        url = self._stored_url(output, spider)
        if url is None:
            yield output
            return
        if self._first_skip(url):
            yield from self._related_requests(url, spider)

    def _first_skip(self, url: str) -> bool:
        """Count a stored article as skipped; False if it was already (linked again, or a cycle)."""
        if url in self._expanded:
            return False
        self._expanded.add(url)
        self.crawler.stats.inc_value("kaltimnews/incremental/skipped")
        return True

    def _related_requests(self, url: str, spider: Spider | None) -> Iterator[Request]:
        """Requests for the unstored articles that stored ``url`` reaches through stored "Baca Juga" links.

        The stored links are canonical: a stored target is recognised by its URL and walked here,
        its own links in turn; only an article not in the store gets a request.
        """
        make_request = getattr(spider, "article_request", None)
        if make_request is None or not getattr(spider, "follow_related", True):
            return
        known = self.known_urls or frozenset()
        pending = list(self.related.get(url, ()))
        while pending:
            related_url = pending.pop()
            if related_url in known:
                stored, request = related_url, None
            else:
                request = make_request(related_url)
                if request is None:  # not an article of this site
                    continue
                stored = self._stored_url(request, spider)  # stored under its canonical spelling
            if stored is None:
                self.crawler.stats.inc_value("kaltimnews/incremental/related_requested")
                yield request
            elif self._first_skip(stored):
                pending.extend(self.related.get(stored, ()))

    def _is_first_article_page(self, request: Request) -> bool:
        return bool(request.meta.get("kaltimnews_article")) and _page(request.meta) <= 1

    def _stored_url(self, request: Request, spider: Spider | None) -> str | None:
        if not self.known_urls:
            return None
        rules = spider_url_rules(spider or self.crawler.spider)
        url = request.meta.get("canonical_url") or canonical_url(request.url, rules)
        return url if url in self.known_urls else None

    # -- downloader middleware side -------------------------------------------------------

    def _request_related(self, url: str, spider: Spider | None) -> None:
        self._expanded.add(url)
        for request in self._related_requests(url, spider):
            self.crawler.engine.crawl(request)


#: What a crawl loaded from the store, shared by the downloader and spider registrations.
_LOADED: WeakKeyDictionary[Crawler, tuple[frozenset[str] | None, dict[str, list[str]], bool]] = (
    WeakKeyDictionary()
)


def _page(meta: dict[str, Any]) -> int:
    try:
        return int(meta.get("kaltimnews_page") or 1)
    except (TypeError, ValueError):
        return 1
