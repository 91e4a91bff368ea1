"""Validation, deduplication and storage pipelines, with real crawlers, stats and databases."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler

from kaltimnews.items import ArticleItem
from kaltimnews.pipelines import (
    DATABASE_ERROR_REASON,
    DeduplicationPipeline,
    StoragePipeline,
    ValidationPipeline,
)
from kaltimnews.storage import ArticleStore, read_dead_letters
from tests.storage_fixtures import *  # noqa: F403  (the fixtures)
from tests.storage_fixtures import make_article, with_password

REPO = Path(__file__).resolve().parent.parent
CrawlerFactory = Callable[..., Crawler]


def stat(crawler: Crawler, key: str) -> Any:
    return crawler.stats.get_value(key)


def dead_letter_files(crawler: Crawler) -> list[Path]:
    return sorted(Path(crawler.settings["DEAD_LETTER_DIR"]).glob("*.jsonl"))


# -- validation ----------------------------------------------------------------------------

INVALID = [
    ("missing_url", {"url": None}),
    ("missing_url", {"url": "   "}),
    ("invalid_url", {"url": "/berita/1/relatif"}),
    ("missing_title", {"title": None}),
    ("missing_title", {"title": " \n "}),
    ("missing_published_at", {"published_at": ""}),
    ("invalid_published_at", {"published_at": "kemarin sore"}),
    ("missing_body", {"body": None}),
    ("short_body", {"body": "Video: banjir di Samarinda. " * 9}),  # 36 words
]


@pytest.mark.parametrize(
    ("reason", "change"), INVALID, ids=[f"{r}-{i}" for i, (r, _) in enumerate(INVALID)]
)
def test_validation_drops_incomplete_articles_with_a_reason(
    crawler_factory: CrawlerFactory,
    caplog: pytest.LogCaptureFixture,
    reason: str,
    change: dict[str, Any],
) -> None:
    crawler = crawler_factory()
    pipeline = build_from_crawler(ValidationPipeline, crawler)
    item = make_article(1, **change)
    with (
        caplog.at_level(logging.INFO, logger="kaltimnews.pipelines"),
        pytest.raises(DropItem) as dropped,
    ):
        pipeline.process_item(item)
    assert reason in str(dropped.value)
    assert stat(crawler, f"kaltimnews/dropped/{reason}") == 1
    if (item.get("url") or "").strip():
        assert item["url"] in str(dropped.value)
        assert item["url"] in caplog.text and reason in caplog.text


def test_validation_counts_each_reason(crawler_factory: CrawlerFactory) -> None:
    crawler = crawler_factory()
    pipeline = build_from_crawler(ValidationPipeline, crawler)
    items = [make_article(1, title=""), make_article(2, title=None), make_article(3, body="pendek")]
    for item in items:
        with pytest.raises(DropItem):
            pipeline.process_item(item)
    assert stat(crawler, "kaltimnews/dropped/missing_title") == 2
    assert stat(crawler, "kaltimnews/dropped/short_body") == 1


def test_validation_passes_complete_articles(crawler_factory: CrawlerFactory) -> None:
    crawler = crawler_factory({"MIN_BODY_WORDS": 5})
    pipeline = build_from_crawler(ValidationPipeline, crawler)
    exactly_five = make_article(1, body="satu dua tiga empat lima")
    assert pipeline.process_item(exactly_five) is exactly_five
    item = ArticleItem(**make_article(2))
    assert pipeline.process_item(item) is item
    assert pipeline.process_item(make_article(3, published_at="2024-05-01")) is not None
    with pytest.raises(DropItem, match="short_body"):
        pipeline.process_item(make_article(4, body="satu dua tiga empat"))
    assert not any(
        k.startswith("kaltimnews/dropped/") and k != "kaltimnews/dropped/short_body"
        for k in crawler.stats.get_stats()
    )


# -- deduplication -------------------------------------------------------------------------


def test_dedup_drops_the_same_url_in_other_spellings(crawler_factory: CrawlerFactory) -> None:
    crawler = crawler_factory()
    pipeline = build_from_crawler(DeduplicationPipeline, crawler)
    url = make_article(1)["url"]
    first = make_article(1, url=url + "?utm_source=twitter#top")
    assert pipeline.process_item(first)["url"] == url  # made canonical for storage and feeds
    for variant in (url, url + "/", url.replace("https:", "http:"), url + "?page=2&fbclid=x"):
        with pytest.raises(DropItem, match="duplicate_url"):
            pipeline.process_item(make_article(1, url=variant, title=f"other title {variant}"))
    assert stat(crawler, "kaltimnews/dropped/duplicate_url") == 4
    assert pipeline.process_item(make_article(2)) is not None


def test_dedup_drops_the_same_content_under_another_url(crawler_factory: CrawlerFactory) -> None:
    crawler = crawler_factory()
    pipeline = build_from_crawler(DeduplicationPipeline, crawler)
    article = make_article(1)
    pipeline.process_item(article)
    copy = make_article(
        1,
        url="https://kaltim.example.id/amp/berita-1",
        title="  " + article["title"].upper(),
        body=article["body"].replace(" ", "  \n"),
    )
    with pytest.raises(DropItem, match="duplicate_content") as dropped:
        pipeline.process_item(copy)
    assert article["url"] in str(dropped.value)
    assert stat(crawler, "kaltimnews/dropped/duplicate_content") == 1
    # Same title, other body: another article.
    assert pipeline.process_item(
        make_article(1, url="https://kaltim.example.id/2", body="lain " * 50)
    )


def test_dedup_works_with_scrapy_items(crawler_factory: CrawlerFactory) -> None:
    pipeline = build_from_crawler(DeduplicationPipeline, crawler_factory())
    pipeline.process_item(ArticleItem(**make_article(1)))
    with pytest.raises(DropItem):
        pipeline.process_item(
            ArticleItem(**make_article(1, url=make_article(1)["url"] + "?utm_medium=x"))
        )


# -- storage -------------------------------------------------------------------------------


def open_storage(
    crawler_factory: CrawlerFactory, database_url: str, **settings: Any
) -> tuple[Crawler, StoragePipeline]:
    crawler = crawler_factory({"DATABASE_URL": database_url, **settings})
    pipeline = build_from_crawler(StoragePipeline, crawler)
    pipeline.open_spider()
    return crawler, pipeline


def run_storage(
    crawler_factory: CrawlerFactory, database_url: str, items: list[Any], **settings: Any
) -> Crawler:
    crawler, pipeline = open_storage(crawler_factory, database_url, **settings)
    for item in items:
        assert pipeline.process_item(item) is item  # the item goes on to the feeds
    pipeline.close_spider()
    return crawler


def test_storage_writes_in_batches_and_flushes_on_close(
    crawler_factory: CrawlerFactory, backend_url: str
) -> None:
    crawler, pipeline = open_storage(crawler_factory, backend_url, STORAGE_BATCH_SIZE=3)
    store = ArticleStore(backend_url)
    for n in range(2):
        pipeline.process_item(make_article(n))
    assert store.count() == 0  # still pending
    pipeline.process_item(make_article(2))
    assert store.count() == 3  # a full batch is committed at once
    for n in range(3, 5):
        pipeline.process_item(make_article(n))
    assert store.count() == 3
    pipeline.close_spider()
    assert store.count() == 5  # the rest at close
    assert stat(crawler, "kaltimnews/storage/inserted") == 5
    assert stat(crawler, "kaltimnews/storage/batches") == 2
    store.dispose()


def test_storage_over_runs_inserts_then_skips_then_updates(
    crawler_factory: CrawlerFactory, backend_url: str
) -> None:
    items = [make_article(n) for n in range(10)]
    first = run_storage(crawler_factory, backend_url, items, STORAGE_BATCH_SIZE=4)
    assert stat(first, "kaltimnews/storage/inserted") == 10

    second = run_storage(
        crawler_factory, backend_url, [dict(i) for i in items], STORAGE_BATCH_SIZE=4
    )
    assert stat(second, "kaltimnews/storage/unchanged") == 10
    assert stat(second, "kaltimnews/storage/inserted") is None
    assert stat(second, "kaltimnews/storage/updated") is None

    changed = [dict(i) for i in items]
    changed[3] = make_article(3, body=items[3]["body"] + " Pembaruan: jalan sudah dibuka.")
    third = run_storage(
        crawler_factory, backend_url, [*changed, make_article(10)], STORAGE_BATCH_SIZE=4
    )
    assert stat(third, "kaltimnews/storage/updated") == 1
    assert stat(third, "kaltimnews/storage/unchanged") == 9
    assert stat(third, "kaltimnews/storage/inserted") == 1

    with ArticleStore(backend_url) as store:
        assert store.count() == 11
        assert store.get_article(items[3]["url"])["revision"] == 2  # type: ignore[index]
        assert store.revisions(items[3]["url"])[0]["body"] == items[3]["body"]


def test_storage_works_with_any_spider_and_item(
    crawler_factory: CrawlerFactory, sqlite_url: str
) -> None:
    no_site = make_article(1)
    del no_site["site"]
    partial = {"url": "https://lain.example.id/a?utm_source=x", "title": "Hanya judul"}
    no_url = {"title": "tanpa url"}
    crawler = run_storage(
        crawler_factory, sqlite_url, [ArticleItem(**make_article(2)), no_site, partial, no_url]
    )
    with ArticleStore(sqlite_url) as store:
        assert store.get_article(no_site["url"])["site"] == "kaltimtest"  # type: ignore[index]
        assert store.get_article("https://lain.example.id/a")["title"] == "Hanya judul"  # type: ignore[index]
        assert store.count() == 3
    assert stat(crawler, "kaltimnews/storage/skipped_no_url") == 1


def test_storage_does_not_connect_before_the_spider_opens(
    crawler_factory: CrawlerFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/never/created.sqlite3"
    build_from_crawler(StoragePipeline, crawler_factory({"DATABASE_URL": url}))
    assert not (tmp_path / "never").exists()


# -- the database failing ------------------------------------------------------------------


def drop_articles_table(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE article_revisions")
        conn.exec_driver_sql("DROP TABLE articles")
    engine.dispose()


def assert_stopped_with_dead_letters(
    crawler: Crawler,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
    expected: list[dict[str, Any]],
) -> None:
    assert crawler.engine.close_reasons == [DATABASE_ERROR_REASON]  # type: ignore[attr-defined]
    files = dead_letter_files(crawler)
    assert len(files) == 1
    assert re.fullmatch(r"kaltimtest-\d{8}T\d{6}Z\.jsonl", files[0].name)
    # Exactly the uncommitted items, in order, whole.
    assert read_dead_letters(files[0]) == expected
    assert stat(crawler, "kaltimnews/storage/dead_letter") == len(expected)
    errors = [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "kaltimnews.pipelines"
    ]
    assert errors, "the failure must be logged as an ERROR"
    message = errors[0].getMessage()
    password = sa.make_url(database_url).password
    assert sa.make_url(database_url).render_as_string(hide_password=True) in message
    if password:
        assert password not in caplog.text
    assert str(files[0]) in message
    assert DATABASE_ERROR_REASON in message


def test_database_lost_mid_run_stops_the_crawl_and_keeps_every_unwritten_item(
    crawler_factory: CrawlerFactory, backend_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = with_password(backend_url)
    crawler, pipeline = open_storage(crawler_factory, url, STORAGE_BATCH_SIZE=2)
    items = [make_article(n) for n in range(8)]
    with caplog.at_level(logging.INFO):
        for item in items[:3]:
            pipeline.process_item(item)  # items 0 and 1 committed, 2 pending
        drop_articles_table(backend_url)
        for item in items[3:]:
            assert pipeline.process_item(item) is item  # 2+3 fail as a batch; 4..7 follow them
        pipeline.close_spider()
    assert_stopped_with_dead_letters(crawler, caplog, url, items[2:])
    assert stat(crawler, "kaltimnews/storage/inserted") == 2
    assert stat(crawler, "kaltimnews/storage/database_errors") == 1


def test_postgresql_server_gone_mid_run(
    crawler_factory: CrawlerFactory,
    postgres_database_factory: Callable[[], str],
    postgres_server: sa.Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = with_password(postgres_database_factory())
    name = sa.make_url(url).database
    crawler, pipeline = open_storage(crawler_factory, url, STORAGE_BATCH_SIZE=3)
    items = [make_article(n) for n in range(7)]
    with caplog.at_level(logging.INFO):
        for item in items[:4]:
            pipeline.process_item(item)  # 0..2 committed, 3 pending
        # The database goes away: every session killed and no new one let in.
        with postgres_server.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
                ),
                {"name": name},
            )
        for item in items[4:]:
            pipeline.process_item(item)
        pipeline.close_spider()
    assert_stopped_with_dead_letters(crawler, caplog, url, items[3:])
    assert stat(crawler, "kaltimnews/storage/inserted") == 3
    assert stat(crawler, "kaltimnews/storage/error")


def test_postgresql_connection_dropped_between_batches_is_replaced(
    crawler_factory: CrawlerFactory,
    postgres_database_factory: Callable[[], str],
    postgres_server: sa.Engine,
) -> None:
    url = postgres_database_factory()
    crawler, pipeline = open_storage(crawler_factory, url, STORAGE_BATCH_SIZE=2)
    for n in range(2):
        pipeline.process_item(make_article(n))
    with postgres_server.connect() as conn:  # e.g. a server restart or an idle timeout
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": sa.make_url(url).database},
        )
    for n in range(2, 5):
        pipeline.process_item(make_article(n))
    pipeline.close_spider()
    assert crawler.engine.close_reasons == []  # type: ignore[attr-defined]
    assert stat(crawler, "kaltimnews/storage/inserted") == 5


def test_database_unreachable_at_open_sends_everything_to_dead_letters(
    crawler_factory: CrawlerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    url = "postgresql+psycopg://crawler:hunter2@127.0.0.1:1/nowhere?connect_timeout=2"
    with caplog.at_level(logging.INFO):
        crawler, pipeline = open_storage(crawler_factory, url)
        items = [make_article(n) for n in range(3)]
        for item in items:
            assert pipeline.process_item(item) is item
        pipeline.close_spider()
    assert crawler.engine.close_reasons == [DATABASE_ERROR_REASON]  # type: ignore[attr-defined]
    [path] = dead_letter_files(crawler)
    assert [i["url"] for i in read_dead_letters(path)] == [i["url"] for i in items]
    assert "hunter2" not in caplog.text
    assert "127.0.0.1:1/nowhere" in caplog.text


def test_items_that_cannot_be_dead_lettered_are_named_loudly(
    crawler_factory: CrawlerFactory,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")  # the dead-letter folder cannot be made under a file
    crawler, pipeline = open_storage(
        crawler_factory, sqlite_url, STORAGE_BATCH_SIZE=2, DEAD_LETTER_DIR=str(blocker / "dl")
    )
    drop_articles_table(sqlite_url)
    items = [make_article(n) for n in range(3)]
    with caplog.at_level(logging.INFO):
        for item in items:
            pipeline.process_item(item)
        pipeline.close_spider()
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert critical and all(item["url"] in caplog.text for item in items)
    assert stat(crawler, "kaltimnews/storage/lost") == 3
    assert stat(crawler, "kaltimnews/storage/dead_letter") is None


def test_database_failing_at_the_final_flush_sets_the_finish_reason(
    crawler_factory: CrawlerFactory, sqlite_url: str
) -> None:
    crawler, pipeline = open_storage(crawler_factory, sqlite_url, STORAGE_BATCH_SIZE=10)
    items = [make_article(n) for n in range(3)]
    for item in items:
        pipeline.process_item(item)
    drop_articles_table(sqlite_url)
    pipeline.close_spider()
    crawler.signals.send_catch_log(signals.spider_closed, spider=crawler.spider, reason="finished")
    [path] = dead_letter_files(crawler)
    assert [i["url"] for i in read_dead_letters(path)] == [i["url"] for i in items]
    assert stat(crawler, "finish_reason") == DATABASE_ERROR_REASON


CRAWL_SCRIPT = """
import json, sqlite3, sys

import scrapy
from scrapy.crawler import CrawlerProcess

from tests.storage_fixtures import make_article

database, dead_letter_dir, fail_at = sys.argv[1], sys.argv[2], int(sys.argv[3])


class ArticlesSpider(scrapy.Spider):
    # Each article comes from a downloaded page (data: URLs), as in a real crawl.

    name = "kaltimtest"

    async def start(self):
        for n in range(60):
            yield scrapy.Request(f"data:text/plain,{n}", cb_kwargs={"n": n}, dont_filter=True)

    def parse(self, response, n):
        if n == fail_at:
            with sqlite3.connect(database, timeout=30) as db:
                db.execute("DROP TABLE article_revisions")
                db.execute("DROP TABLE articles")
        yield make_article(n)


process = CrawlerProcess(
    settings={
        "SPIDER_MODULES": [],
        "ITEM_PIPELINES": {
            "kaltimnews.pipelines.ValidationPipeline": 100,
            "kaltimnews.pipelines.DeduplicationPipeline": 200,
            "kaltimnews.pipelines.StoragePipeline": 300,
        },
        "DATABASE_URL": "sqlite:///" + database,
        "STORAGE_BATCH_SIZE": 4,
        "DEAD_LETTER_DIR": dead_letter_dir,
        "CONCURRENT_REQUESTS": 2,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
    }
)
crawler = process.create_crawler(ArticlesSpider)
process.crawl(crawler)
process.start()
print("STATS=" + json.dumps(crawler.stats.get_stats(), default=str))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fail_at", [10, 1000], ids=["fails-mid-run", "never-fails"])
def test_real_crawl_whose_database_goes_away(tmp_path: Path, fail_at: int) -> None:
    """A real Scrapy crawl (engine, scraper, signals): the finish reason says database_error and
    every item that went through the pipelines is in the database or in the dead-letter file."""
    script = tmp_path / "crawl.py"
    script.write_text(textwrap.dedent(CRAWL_SCRIPT), encoding="utf-8")
    database = tmp_path / "store.sqlite3"
    dead = tmp_path / "dead-letter"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, str(script), str(database), str(dead), str(fail_at)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads(run.stdout.split("STATS=", 1)[1])
    with ArticleStore(f"sqlite:///{database}") as store:
        stored = store.stored_urls() if store.has_articles_table() else set()
    letters = [
        item["url"] for path in sorted(dead.glob("*.jsonl")) for item in read_dead_letters(path)
    ]
    if fail_at >= 60:
        assert stats["finish_reason"] == "finished"
        assert len(stored) == 60 and letters == []
        return
    assert stats["finish_reason"] == DATABASE_ERROR_REASON, run.stderr[-3000:]
    assert "Database error" in run.stderr and str(dead) in run.stderr
    assert letters, "the uncommitted items must be in the dead-letter file"
    assert not stored & set(letters)
    # Every item the pipelines passed on is accounted for; none was lost on the way.
    assert len(letters) == stats["item_scraped_count"] - stats.get("kaltimnews/storage/inserted", 0)
    assert stats["kaltimnews/storage/dead_letter"] == len(letters)
    assert stats["item_scraped_count"] < 60  # the crawl stopped early
