"""The ceiling: a spider that follows the links the ``suarakaltim`` spider follows and extracts nothing.

Run it like the real crawl, from the project folder, with the same settings::

    .venv/bin/scrapy runspider bench/baseline_spider.py -s MIRROR_URL=http://127.0.0.1:PORT \\
        -s CONCURRENT_REQUESTS=16 -a listing_pages=N

It requests what the real spider requests (its sitemap URLs and the sitemaps robots.txt names,
its home and listing pages, listing pagination up to ``listing_pages`` pages, every article
linked from those, and each article's "Baca Juga" links; start URLs and URL patterns are read
from ``SuaraKaltimSpider`` itself) through the same download handler (``MIRROR_URL``),
robots.txt middleware and scheduler, but finds links with byte regexes instead of parsing HTML,
builds no items and writes nothing. Its pages per second is what Scrapy and the
server can do on this machine: the real crawl's figure is measured against it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy import Request, Spider
from scrapy.http import Response

from kaltimnews.spiders.suarakaltim import SuaraKaltimSpider

#: The real spider: its start URLs, listing pattern and article pattern are the baseline's too.
REAL = SuaraKaltimSpider
HREF = re.compile(rb'<a\s[^>]*?href="?([^"\s>]+)')
#: The first link after a "Baca Juga" label, whatever the era's markup around it.
BACA_JUGA_HREF = re.compile(rb'(?is)baca\s+juga.{0,300}?href="?([^"\s>]+)')
SITEMAP_LINE = re.compile(rb"(?im)^\s*sitemap:\s*(\S+)")
SITEMAP_LOC = re.compile(rb"<loc>(?:<!\[CDATA\[)?\s*(.*?)\s*(?:\]\]>)?</loc>")


class BaselineSpider(Spider):
    name = "baseline"
    allowed_domains = REAL.allowed_domains
    custom_settings: ClassVar[dict[str, Any]] = {
        # Nothing of ours but the download handler (MIRROR_URL) and the stats file: no item
        # pipelines, no store to read stored URLs from.
        "ITEM_PIPELINES": {},
        "DOWNLOADER_MIDDLEWARES": {"kaltimnews.middlewares.SkipStoredArticlesMiddleware": None},
    }

    def __init__(self, *args: Any, listing_pages: int | str = REAL.default_listing_pages, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.listing_pages = int(listing_pages)
        self._listing_urls_seen: set[str] = set()
        self._articles_requested: set[str] = set()

    async def start(self) -> Any:
        for url in REAL.sitemap_urls:
            yield Request(url, callback=self.parse_sitemap)
        for url in (*REAL.home_urls, *REAL.listing_urls):
            yield Request(url, callback=self.parse_listing)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if response.url.endswith("/robots.txt"):
            for url in SITEMAP_LINE.findall(response.body):
                yield Request(url.decode(), callback=self.parse_sitemap)
            return
        for url in SITEMAP_LOC.findall(response.body):
            yield from self._article(url.decode())

    def parse_listing(self, response: Response) -> Iterator[Request]:
        for href in HREF.findall(response.body):
            url = response.urljoin(href.decode())
            if REAL.page_class.is_article_url(url):
                yield from self._article(url)
            elif self._new_listing_page(url):
                yield Request(url, callback=self.parse_listing)

    def _new_listing_page(self, url: str) -> bool:
        """As the real spider: each listing page counts once against ``listing_pages``."""
        if REAL.listing_url is None or not REAL.listing_url.search(url):
            return False
        if url in self._listing_urls_seen or len(self._listing_urls_seen) >= self.listing_pages:
            return False
        self._listing_urls_seen.add(url)
        return True

    def parse_article(self, response: Response) -> Iterator[Request]:
        for href in BACA_JUGA_HREF.findall(response.body):
            yield from self._article(response.urljoin(href.decode()))

    def _article(self, url: str) -> Iterator[Request]:
        # As the real spider: an article linked again is not requested again (the real spider
        # compares canonical URLs; the mirror's links are canonical already).
        if url not in self._articles_requested and REAL.page_class.is_article_url(url):
            self._articles_requested.add(url)
            yield Request(url, callback=self.parse_article)
