"""Crawl extensions."""

from __future__ import annotations

import gc
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)


class StatsFile:
    """Writes the crawl's final stats as JSON to ``STATS_FILE`` (for schedulers, tests, dashboards)."""

    def __init__(self, crawler, path: str):
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("STATS_FILE")
        if not path:
            raise NotConfigured
        extension = cls(crawler, path)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason):
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            json.dumps(stats, default=_jsonable, indent=2, sort_keys=True, ensure_ascii=False),
            encoding="utf-8",
        )
        logger.info("Crawl stats written to %s", self.path)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class FreezeStartupObjects:
    """Takes the objects alive when the spider opens out of the garbage collector's walks.

    A full collection walks every tracked object, and most of a crawl's ~130,000 are start-up:
    modules, classes, settings, the crawler. A crawl churns requests and responses that live long
    enough to reach the oldest generation, so full collections come every few hundred pages, at
    ~80 ms each: a sixth of a 5,000-article mirror crawl's CPU. After ``gc.freeze()`` they walk
    only what the crawl made since (docs/performance.md, "Fourth round"). Frozen objects are never
    collected; start-up objects live as long as the process anyway. They are unfrozen when the
    spider closes, so a next crawl in the same process (``scrapy crawlall``) starts clean.
    ``KALTIMNEWS_GC_FREEZE = False`` turns it off.
    """

    @classmethod
    def from_crawler(cls, crawler: Any) -> FreezeStartupObjects:
        if not crawler.settings.getbool("KALTIMNEWS_GC_FREEZE", True):
            raise NotConfigured
        extension = cls()
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Any) -> None:
        gc.collect()  # start-up's garbage is freed, not frozen
        gc.freeze()
        logger.debug("%d start-up objects frozen", gc.get_freeze_count())

    def spider_closed(self, spider: Any, reason: str) -> None:
        gc.unfreeze()


class MemoryWithBrowser:
    """Peak memory of the crawl *and its browser*: Scrapy's MEMUSAGE sees only its own process.

    Every ``MEMORY_CHECK_INTERVAL`` seconds it sums the proportional set size (PSS: shared pages
    split between the processes that share them, so Chromium's many processes are not counted
    many times over) of this process and all its descendants; the peak goes to ``kaltimnews/memory/peak_mb``,
    and above ``MEMORY_LIMIT_MB`` the crawl stops with the reason ``memusage_exceeded``.
    """

    def __init__(self, crawler, limit_mb: float, interval: float):
        import psutil

        self.crawler = crawler
        self.limit_mb = limit_mb
        self.interval = interval
        self.process = psutil.Process()
        self.peak_mb = 0.0
        self.task = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("MEMORY_CHECK_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, crawler.settings.getfloat("MEMORY_LIMIT_MB"), interval)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def total_rss_mb(self) -> float:
        import psutil

        total = 0
        for process in (self.process, *self.process.children(recursive=True)):
            try:
                info = process.memory_full_info()
            except psutil.AccessDenied:
                info = process.memory_info()
            except psutil.Error:  # a child that just exited
                continue
            total += getattr(info, "pss", info.rss)
        return total / 2**20

    def engine_started(self):
        from twisted.internet import task

        self.task = task.LoopingCall(self.check)
        self.task.start(self.interval, now=True)

    def engine_stopped(self):
        if self.task and self.task.running:
            self.task.stop()
        self.check(closing=True)

    def check(self, closing: bool = False):
        current = self.total_rss_mb()
        if current > self.peak_mb:
            self.peak_mb = current
            self.crawler.stats.set_value("kaltimnews/memory/peak_mb", round(current, 1))
        if not closing and self.limit_mb and current > self.limit_mb:
            logger.error(
                "Memory of the crawl and its browser is %.0f MB, over MEMORY_LIMIT_MB=%.0f: stopping",
                current,
                self.limit_mb,
            )
            self.crawler.stats.set_value("memusage/limit_reached", 1)
            if self.crawler.engine and self.crawler.engine.spider:
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="memusage_exceeded"))


# JOBDIR and a crash (SIGKILL, OOM, power loss): Scrapy saves the request queue only on a clean
# close, but appends to ``requests.seen`` as it goes, so after a crash the restart would skip the
# listing pages it had seen and never find the articles that were still queued. A crawl that did
# not close cleanly leaves a marker; the next start moves the stale queue and seen-set aside
# (``<JOBDIR>/unclean-<time>/``) and discovers again, while the store
# (``SkipStoredArticlesMiddleware``) skips the articles already stored.


class JobDirGuard:
    """Sets aside a ``JOBDIR``'s queue and seen-set when the crawl that wrote them crashed.

    ``KALTIMNEWS_JOBDIR_GUARD = False`` turns it off.
    """

    MARKER = "kaltimnews-running.json"

    def __init__(self, crawler: Any, jobdir: Path):
        self.crawler = crawler
        self.jobdir = jobdir
        self.marker = jobdir / self.MARKER
        self.set_aside: Path | None = None
        if self.marker.exists():
            self.set_aside = self._set_aside_stale_state()
        jobdir.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(
            json.dumps({"pid": os.getpid(), "started": datetime.now(UTC).isoformat()}),
            encoding="utf-8",
        )

    @classmethod
    def from_crawler(cls, crawler: Any) -> JobDirGuard:
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir or not crawler.settings.getbool("KALTIMNEWS_JOBDIR_GUARD", True):
            raise NotConfigured
        extension = cls(crawler, Path(jobdir))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def _set_aside_stale_state(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.jobdir / f"unclean-{stamp}"
        target.mkdir(parents=True)
        for name in ("requests.seen", "requests.queue", self.MARKER):
            source = self.jobdir / name
            if source.exists():
                source.rename(target / name)
        logger.warning(
            "The last crawl in %s did not close cleanly (killed or crashed): its request queue is"
            " lost and its seen-requests file would hide the pages still to crawl. Moved them to %s;"
            " discovering again (stored articles are skipped by the store).",
            self.jobdir,
            target,
        )
        return target

    def spider_opened(self, spider: Any) -> None:
        if self.set_aside is not None:
            self.crawler.stats.set_value("kaltimnews/jobdir/unclean_restart", 1)
            self.crawler.stats.set_value("kaltimnews/jobdir/set_aside", str(self.set_aside))

    def spider_closed(self, spider: Any, reason: str) -> None:
        # The scheduler has saved its queue by now (the engine closes it before this signal).
        try:
            self.marker.unlink()
        except FileNotFoundError:
            pass
