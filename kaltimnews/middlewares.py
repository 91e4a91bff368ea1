"""Downloader middlewares: incremental crawling.

A scheduled crawl runs every half hour; :class:`SkipStoredArticlesMiddleware` makes it cheap by
not downloading articles the store already holds.
"""

from __future__ import annotations

import logging
from typing import Any

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
    a chain of stored ones is walked without a download.

    Stats: ``kaltimnews/incremental/skipped``, ``kaltimnews/incremental/known_urls``.
    """

    def __init__(self, crawler: Crawler, database_url: str) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.known_urls: frozenset[str] | None = None
        self.related: dict[str, list[str]] = {}
        self.refresh = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipStoredArticlesMiddleware:
        return cls(crawler, resolve_database_url(crawler.settings))

    def spider_opened(self, spider: Spider) -> None:
        self.load(spider)

    def load(self, spider: Spider | None) -> None:
        """Read the stored article URLs of ``spider``'s site (none when refreshing)."""
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
        if self.known_urls is None:  # not opened through the signal (e.g. used on its own)
            self.load(spider or self.crawler.spider)
        if not self.known_urls:
            return None
        meta = request.meta
        if not meta.get("kaltimnews_article") or _page(meta) > 1:
            return None
        rules = spider_url_rules(spider or self.crawler.spider)
        url = meta.get("canonical_url") or canonical_url(request.url, rules)
        if url not in self.known_urls:
            return None
        self.crawler.stats.inc_value("kaltimnews/incremental/skipped")
        logger.debug("Skipping stored article %s", url)
        self._request_related(url, spider or self.crawler.spider)
        raise IgnoreRequest(f"article already stored: {url}")

    def _request_related(self, url: str, spider: Spider | None) -> None:
        make_request = getattr(spider, "article_request", None)
        if make_request is None or not getattr(spider, "follow_related", True):
            return
        for related_url in self.related.get(url, ()):
            request = make_request(related_url)
            if request is not None:  # None: not an article of this site
                self.crawler.stats.inc_value("kaltimnews/incremental/related_requested")
                self.crawler.engine.crawl(request)


def _page(meta: dict[str, Any]) -> int:
    try:
        return int(meta.get("kaltimnews_page") or 1)
    except (TypeError, ValueError):
        return 1
