"""Incremental crawling: stored articles are not downloaded again, unless ``-a refresh=1``."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import build_from_crawler

from kaltimnews.middlewares import SkipStoredArticlesMiddleware, is_refresh
from kaltimnews.storage import ArticleStore
from tests.storage_fixtures import *  # noqa: F403  (the fixtures)
from tests.storage_fixtures import make_article

REPO = Path(__file__).resolve().parent.parent
CrawlerFactory = Callable[..., Crawler]
STORED = [make_article(n) for n in range(3)]


def article_request(url: str, **meta: Any) -> Request:
    return Request(url, meta={"kaltimnews_article": True, **meta})


def opened_middleware(crawler: Crawler) -> SkipStoredArticlesMiddleware:
    middleware = build_from_crawler(SkipStoredArticlesMiddleware, crawler)
    middleware.spider_opened(crawler.spider)
    return middleware


def is_skipped(middleware: SkipStoredArticlesMiddleware, request: Request) -> bool:
    try:
        assert middleware.process_request(request) is None
    except IgnoreRequest:
        return True
    return False


@pytest.fixture
def stored_url(backend_url: str) -> str:
    """A database holding three articles of ``kaltimtest`` and one of another site."""
    with ArticleStore(backend_url) as store:
        store.store_items([*STORED, make_article(9, url="https://lain.example.id/9", site="lain")])
    return backend_url


def test_stored_articles_are_skipped_before_download(
    crawler_factory: CrawlerFactory, stored_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = crawler_factory({"DATABASE_URL": stored_url})
    middleware = opened_middleware(crawler)
    url = STORED[0]["url"]
    with caplog.at_level(logging.DEBUG, logger="kaltimnews.middlewares"):
        assert is_skipped(middleware, article_request(url))
        assert is_skipped(middleware, article_request(url + "?utm_source=fb&utm_campaign=x#c"))
        assert is_skipped(
            middleware,
            article_request("https://m.example/anything", canonical_url=STORED[1]["url"]),
        )
    assert f"Skipping stored article {url}" in caplog.text
    assert crawler.stats.get_value("kaltimnews/incremental/skipped") == 3
    assert crawler.stats.get_value("kaltimnews/incremental/known_urls") == 3


def test_new_articles_listings_and_later_pages_are_fetched(
    crawler_factory: CrawlerFactory, stored_url: str
) -> None:
    middleware = opened_middleware(crawler_factory({"DATABASE_URL": stored_url}))
    url = STORED[0]["url"]
    assert not is_skipped(middleware, article_request(make_article(50)["url"]))  # not stored yet
    assert not is_skipped(
        middleware, Request(url)
    )  # not marked as an article: a listing, a sitemap
    assert not is_skipped(middleware, Request("https://kaltim.example.id/"))
    assert not is_skipped(middleware, Request(url, meta={"kaltimnews_article": False}))
    assert not is_skipped(middleware, article_request(url + "?page=2", kaltimnews_page=2))
    assert not is_skipped(
        middleware, article_request("https://lain.example.id/9")
    )  # another site's


@pytest.mark.parametrize("value", ["1", "true", "YES", True])
def test_refresh_fetches_everything(
    crawler_factory: CrawlerFactory, stored_url: str, value: Any
) -> None:
    crawler = crawler_factory({"DATABASE_URL": stored_url}, refresh=value)
    middleware = opened_middleware(crawler)
    assert not any(is_skipped(middleware, article_request(a["url"])) for a in STORED)
    assert crawler.stats.get_value("kaltimnews/incremental/skipped") is None
    assert crawler.stats.get_value("kaltimnews/incremental/refresh") is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", False), ("false", False), ("", False), (None, False), ("on", True)],
)
def test_refresh_values(value: Any, expected: bool) -> None:
    class Spider:
        refresh = value

    assert is_refresh(Spider()) is expected  # type: ignore[arg-type]


def test_refresh_0_still_skips(crawler_factory: CrawlerFactory, stored_url: str) -> None:
    middleware = opened_middleware(crawler_factory({"DATABASE_URL": stored_url}, refresh="0"))
    assert is_skipped(middleware, article_request(STORED[0]["url"]))


@contextmanager
def counted_article_queries() -> Iterator[list[str]]:
    """SELECTs on the articles table, from any engine, inside the block."""
    queries: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if re.search(r"\bFROM articles\b", statement, re.IGNORECASE):
            queries.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield queries
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


def test_stored_urls_are_read_once_per_crawl(
    crawler_factory: CrawlerFactory, stored_url: str
) -> None:
    crawler = crawler_factory({"DATABASE_URL": stored_url})
    with counted_article_queries() as queries:
        middleware = opened_middleware(crawler)
        for n in range(200):
            is_skipped(middleware, article_request(make_article(n % 10)["url"]))
    assert len(queries) == 1
    assert crawler.stats.get_value("kaltimnews/incremental/skipped") == 3 * 20


def test_an_empty_or_unreachable_store_skips_nothing(
    crawler_factory: CrawlerFactory, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = opened_middleware(crawler_factory({"DATABASE_URL": sqlite_url}))
    assert not is_skipped(fresh, article_request(STORED[0]["url"]))
    with caplog.at_level(logging.ERROR):
        gone = opened_middleware(
            crawler_factory(
                {"DATABASE_URL": "postgresql+psycopg://u:pw@127.0.0.1:1/x?connect_timeout=2"}
            )
        )
    assert not is_skipped(gone, article_request(STORED[0]["url"]))
    assert "Could not read the stored articles" in caplog.text and ":pw@" not in caplog.text


def test_loads_lazily_without_the_signal(crawler_factory: CrawlerFactory, stored_url: str) -> None:
    crawler = crawler_factory({"DATABASE_URL": stored_url})
    middleware = build_from_crawler(SkipStoredArticlesMiddleware, crawler)
    assert is_skipped(middleware, article_request(STORED[0]["url"]))


def test_a_hundred_thousand_stored_urls(crawler_factory: CrawlerFactory, sqlite_url: str) -> None:
    with ArticleStore(sqlite_url) as store:
        store.ensure_schema()
    path = sa.make_url(sqlite_url).database
    assert path
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO articles"
            " (url, site, title, fingerprint, first_seen_at, updated_at, revision)"
            " VALUES (?, 'kaltimtest', 't', ?, '2024-01-01', '2024-01-01', 1)",
            (
                (
                    f"https://kaltim.example.id/berita/{n}/judul-artikel-yang-cukup-panjang-{n}",
                    f"{n:064x}",
                )
                for n in range(100_000)
            ),
        )
    crawler = crawler_factory({"DATABASE_URL": sqlite_url})
    started = time.perf_counter()
    middleware = opened_middleware(crawler)
    loaded = time.perf_counter() - started
    assert crawler.stats.get_value("kaltimnews/incremental/known_urls") == 100_000
    assert loaded < 5, f"loading 100k URLs took {loaded:.1f}s"
    started = time.perf_counter()
    skipped = sum(
        is_skipped(
            middleware,
            article_request(
                f"https://kaltim.example.id/berita/{n}/judul-artikel-yang-cukup-panjang-{n}"
            ),
        )
        for n in range(99_000, 101_000)
    )
    assert skipped == 1_000
    assert time.perf_counter() - started < 5


CRAWL_SCRIPT = """
import json, sys

import scrapy
from scrapy.crawler import CrawlerProcess

database, refresh = sys.argv[1], sys.argv[2]
STORED = "https://kaltim.example.id/berita/0/artikel-nomor-0"


class IncrementalSpider(scrapy.Spider):
    # Every URL answers (data: URLs), so a download that happens is counted by the downloader.
    name = "kaltimtest"

    async def start(self):
        page = "data:text/plain,listing"
        yield scrapy.Request(page, callback=self.parse_listing)

    def parse_listing(self, response):
        for n in range(3):
            yield scrapy.Request(
                f"data:text/plain,article-{n}",
                callback=self.parse_article,
                meta={
                    "kaltimnews_article": True,
                    "canonical_url": f"https://kaltim.example.id/berita/{n}/artikel-nomor-{n}",
                },
            )

    def parse_article(self, response):
        self.crawler.stats.inc_value("test/articles_parsed")


process = CrawlerProcess(
    settings={
        "SPIDER_MODULES": [],
        "DOWNLOADER_MIDDLEWARES": {"kaltimnews.middlewares.SkipStoredArticlesMiddleware": 50},
        "DATABASE_URL": "sqlite:///" + database,
        "LOG_LEVEL": "DEBUG",
        "TELNETCONSOLE_ENABLED": False,
    }
)
crawler = process.create_crawler(IncrementalSpider)
process.crawl(crawler, refresh=refresh)
process.start()
print("STATS=" + json.dumps(crawler.stats.get_stats(), default=str))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("refresh", "parsed", "skipped"), [("0", 1, 2), ("1", 3, None)])
def test_real_crawl_skips_stored_articles(
    tmp_path: Path, refresh: str, parsed: int, skipped: int | None
) -> None:
    """A real crawl through the downloader: stored articles are never downloaded nor parsed."""
    database = tmp_path / "store.sqlite3"
    with ArticleStore(f"sqlite:///{database}") as store:
        store.store_items([make_article(0), make_article(1)])
    script = tmp_path / "crawl.py"
    script.write_text(textwrap.dedent(CRAWL_SCRIPT), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(database), refresh],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads(run.stdout.split("STATS=", 1)[1])
    assert stats["finish_reason"] == "finished"
    assert stats.get("test/articles_parsed") == parsed
    assert stats.get("kaltimnews/incremental/skipped") == skipped
    assert stats["downloader/request_count"] == 1 + parsed  # the listing is always fetched
