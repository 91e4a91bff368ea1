"""Item pipelines: validate, deduplicate, store.

Item pipelines run before feed export, so an item dropped here (``DropItem``) never reaches
the store nor the feeds. Every pipeline works with any spider and any item type
(through :class:`itemadapter.ItemAdapter`), and none opens a database at import time.

Stats keys:

* ``kaltimnews/dropped/<reason>``: items dropped, per reason (``missing_url``, ``invalid_url``,
  ``missing_title``, ``missing_published_at``, ``invalid_published_at``, ``missing_body``,
  ``short_body``, ``duplicate_url``, ``duplicate_content``);
* ``kaltimnews/storage/<outcome>``: ``inserted``, ``updated``, ``unchanged``,
  ``duplicate_content`` (same content stored under another URL), ``duplicate_url``,
  ``skipped_no_url``, ``batches``, ``dead_letter`` (items written to the dead-letter file),
  ``database_errors``; ``kaltimnews/storage/error`` and ``.../dead_letter_file`` describe a failure.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from kaltimnews.storage import (
    ArticleStore,
    ArticleWithoutUrl,
    DeadLetterWriter,
    content_fingerprint,
    describe_error,
    mask_url,
    prepare_article,
    resolve_database_url,
    spider_url_rules,
)
from kaltimnews.urls import DEFAULT_RULES, UrlRules, canonical_url

logger = logging.getLogger(__name__)

#: Reason given to the engine when the database fails: the crawl's ``finish_reason``.
DATABASE_ERROR_REASON = "database_error"

# Drops are logged once, by us, as one line with the URL; Scrapy's own "Dropped:" line would
# repeat it with the whole item (body included), so it is only shown at DEBUG.
_SCRAPY_DROP_LOG_LEVEL = "DEBUG"


def _text(value: Any) -> str:
    return (
        value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())
    )


class _CrawlerPipeline:
    """Shared plumbing: the crawler, its stats, the running spider."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _CrawlerPipeline:
        return cls(crawler)

    @property
    def spider(self) -> Spider | None:
        return self.crawler.spider

    def _drop(self, reason: str, url: str, detail: str = "") -> DropItem:
        self.stats.inc_value(f"kaltimnews/dropped/{reason}")
        message = f"{reason}: {url or '<no url>'}" + (f" ({detail})" if detail else "")
        logger.info("Dropped article, %s", message)
        return DropItem(message, log_level=_SCRAPY_DROP_LOG_LEVEL)


class ValidationPipeline(_CrawlerPipeline):
    """Drops items that are not complete articles: no URL, title, publication time, or a body
    shorter than ``MIN_BODY_WORDS`` words (video pages, stubs, teasers)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.min_body_words: int = crawler.settings.getint("MIN_BODY_WORDS", 40)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        adapter = ItemAdapter(item)
        url = _text(adapter.get("url"))
        if not url:
            raise self._drop("missing_url", url)
        if not url.startswith(("http://", "https://")):
            raise self._drop("invalid_url", url)
        if not _text(adapter.get("title")):
            raise self._drop("missing_title", url)
        published_at = _text(adapter.get("published_at"))
        if not published_at:
            raise self._drop("missing_published_at", url)
        if not _is_iso_datetime(adapter.get("published_at")):
            raise self._drop("invalid_published_at", url, repr(published_at))
        body = _text(adapter.get("body"))
        if not body:
            raise self._drop("missing_body", url)
        words = len(body.split())
        if words < self.min_body_words:
            raise self._drop("short_body", url, f"{words} words < {self.min_body_words}")
        return item


def _is_iso_datetime(value: Any) -> bool:
    if isinstance(value, (dt.datetime, dt.date)):
        return True
    try:
        dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return False
    return True


class DeduplicationPipeline(_CrawlerPipeline):
    """Drops the second sighting of an article within a run: by canonical URL, and by content
    fingerprint (the same title and body under another URL).

    The item's URL is rewritten to its canonical spelling, so storage and feeds agree on it.
    Across runs the store decides (see :class:`StoragePipeline`).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.seen_urls: set[str] = set()
        self.seen_fingerprints: dict[str, str] = {}

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        adapter = ItemAdapter(item)
        raw_url = _text(adapter.get("url"))
        url = canonical_url(raw_url, spider_url_rules(spider or self.spider)) or raw_url
        if url and url != adapter.get("url"):
            adapter["url"] = url
        if url:
            if url in self.seen_urls:
                raise self._drop("duplicate_url", url)
            self.seen_urls.add(url)
        if _text(adapter.get("title")) or _text(adapter.get("body")):
            fingerprint = content_fingerprint(adapter.get("title"), adapter.get("body"))
            first = self.seen_fingerprints.get(fingerprint)
            if first is not None:
                raise self._drop("duplicate_content", url, f"same content as {first}")
            self.seen_fingerprints[fingerprint] = url
        return item


class StoragePipeline(_CrawlerPipeline):
    """Writes articles to the store (``DATABASE_URL``) in transactions of ``STORAGE_BATCH_SIZE``.

    The item goes on to the feeds at once; its batch is written when full and at close. When the
    database fails, the crawl is stopped (finish reason ``database_error``) and every item not
    committed, the failed batch and all that arrive after, is written to a dead-letter file in
    ``DEAD_LETTER_DIR``.

    Batches are written synchronously, in the reactor thread: one takes a few milliseconds
    (see ``bench/bench_storage.py``), and a thread would have to hand SQLite connections across
    threads and keep the order of batches, for little gain.
    """

    def __init__(
        self,
        crawler: Crawler,
        database_url: str,
        batch_size: int = 100,
        dead_letter_dir: str = "data/dead-letter",
    ) -> None:
        super().__init__(crawler)
        self.database_url = database_url
        self.batch_size = max(1, batch_size)
        self.dead_letter_dir = dead_letter_dir
        self.store: ArticleStore | None = None
        self.dead_letters: DeadLetterWriter | None = None
        self.failed = False
        self._pending: list[tuple[dict[str, Any], Any]] = []
        self._site = ""
        self._rules: UrlRules = DEFAULT_RULES
        self._closing: Any = None  # the engine's close, kept so its errors are not lost
        crawler.signals.connect(self._on_spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            database_url=resolve_database_url(settings),
            batch_size=settings.getint("STORAGE_BATCH_SIZE", 100),
            dead_letter_dir=settings.get("DEAD_LETTER_DIR") or "data/dead-letter",
        )

    @property
    def masked_url(self) -> str:
        return mask_url(self.database_url)

    # -- Scrapy hooks ----------------------------------------------------------------------

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.spider
        self._site = getattr(spider, "name", "") or ""
        self._rules = spider_url_rules(spider)
        self.dead_letters = DeadLetterWriter(self.dead_letter_dir, self._site)
        self.store = ArticleStore(self.database_url, rules=self._rules)
        try:
            version = self.store.ensure_schema()
        except Exception as exc:
            self._fail(exc, [], when="opening the store")
            return
        logger.info(
            "Storing articles in %s (schema version %d, batches of %d)",
            self.masked_url,
            version,
            self.batch_size,
        )

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        adapter = ItemAdapter(item)
        if self.failed:
            self._dead_letter([item])
            return item
        try:
            row = prepare_article(adapter, default_site=self._site, rules=self._rules)
        except ArticleWithoutUrl:
            self.stats.inc_value("kaltimnews/storage/skipped_no_url")
            logger.warning("Not storing an item without url (site %s)", self._site)
            return item
        self._pending.append((row, item))
        if len(self._pending) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        try:
            if not self.failed:
                self.flush()
        finally:
            if self.store is not None:
                self.store.dispose()
            if self.dead_letters is not None:
                self.dead_letters.close()
        if self.dead_letters is not None and self.dead_letters.count:
            logger.error(
                "%d article(s) were not stored in %s; they are in %s",
                self.dead_letters.count,
                self.masked_url,
                self.dead_letters.path,
            )

    # -- batches ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the pending batch in one transaction; on failure hand it to :meth:`_fail`."""
        if not self._pending or self.failed:
            return
        batch, self._pending = self._pending, []
        assert self.store is not None
        try:
            result = self.store.store_batch([row for row, _item in batch])
        except Exception as exc:  # any failure: the batch is not committed, keep its items
            self._fail(exc, [item for _row, item in batch], when="writing a batch")
            return
        stats = self.stats
        stats.inc_value("kaltimnews/storage/batches")
        for key in ("inserted", "updated", "unchanged", "duplicate_content", "duplicate_url"):
            count = getattr(result, key)
            if count:
                stats.inc_value(f"kaltimnews/storage/{key}", count)
        logger.debug(
            "Stored a batch of %d: %d inserted, %d updated, %d unchanged",
            len(batch),
            result.inserted,
            result.updated,
            result.unchanged,
        )

    # -- failure ---------------------------------------------------------------------------

    def _fail(self, exc: BaseException, items: list[Any], *, when: str) -> None:
        """The database failed: keep the items, say so, stop the crawl."""
        self.failed = True
        error = describe_error(exc, self.database_url)
        self.stats.inc_value("kaltimnews/storage/database_errors")
        self.stats.set_value("kaltimnews/storage/error", error)
        # Items queued behind the failed batch were not committed either.
        items = items + [item for _row, item in self._pending]
        self._pending = []
        self._dead_letter(items)
        path = self.dead_letters.path if self.dead_letters is not None else None
        logger.error(
            "Database error while %s in %s: %s. Stopping the crawl (%s); %d uncommitted item(s)"
            " written to %s, and every later item goes there too.",
            when,
            self.masked_url,
            error,
            DATABASE_ERROR_REASON,
            len(items),
            path or "the dead-letter file (opened on the first item)",
        )
        logger.debug("Database error details", exc_info=exc)
        self._stop_crawl(DATABASE_ERROR_REASON)

    def _dead_letter(self, items: list[Any]) -> None:
        if not items:
            return
        if self.dead_letters is None:
            self.dead_letters = DeadLetterWriter(self.dead_letter_dir, self._site)
        written = 0
        try:
            for item in items:
                self.dead_letters.write(ItemAdapter(item).asdict())
                written += 1
        except Exception:
            # Disk full or unwritable: these items are lost, so say which ones, loudly.
            lost = [str(ItemAdapter(item).get("url")) for item in items[written:]]
            logger.critical(
                "Could not write %d item(s) to the dead-letter file in %s; LOST: %s",
                len(lost),
                self.dead_letter_dir,
                ", ".join(lost),
                exc_info=True,
            )
            self.stats.inc_value("kaltimnews/storage/lost", len(lost))
        if written:
            self.stats.inc_value("kaltimnews/storage/dead_letter", written)
            self.stats.set_value("kaltimnews/storage/dead_letter_file", str(self.dead_letters.path))

    def _stop_crawl(self, reason: str) -> None:
        """Ask the engine to close the spider with ``reason``, without waiting for it here: the
        engine waits for the items in progress, this one included, before it closes."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # no crawl running (the pipeline used on its own)
            return
        spider = self.spider
        if getattr(engine, "spider", spider) is None:  # already closed
            return
        close_async = getattr(engine, "close_spider_async", None)
        if close_async is not None:
            outcome = close_async(reason=reason)
        else:  # Scrapy < 2.14
            outcome = engine.close_spider(spider, reason)
        if inspect.isawaitable(outcome):
            self._closing = deferred_from_coro(outcome)
            self._closing.addErrback(
                lambda failure: logger.error(
                    "Could not stop the crawl: %s", failure.getErrorMessage()
                )
            )

    def _on_spider_closed(self, spider: Spider, reason: str) -> None:
        # A failure in the last flush (at close) comes after the engine chose its reason.
        if self.failed and reason != DATABASE_ERROR_REASON:
            self.stats.set_value("finish_reason", DATABASE_ERROR_REASON)
