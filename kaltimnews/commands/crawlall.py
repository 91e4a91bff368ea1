"""``scrapy crawlall``: every spider of the project in one process, into one store and one set of feeds.

The spiders run side by side. Scrapy would let each one overwrite the others' feed file, so each
spider writes its own part file next to the target, and the parts are joined into the target,
spider by spider, when all have finished (one CSV header). Feeds with ``%(name)s`` in their URI
are per spider already and are left alone. The exit status is 1 when any crawl failed to start or
failed its health checks.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.commands import BaseRunSpiderCommand
from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES

from kaltimnews.monitors import health_failed

#: Formats whose files can be joined by concatenation (CSV after its header line).
JOINABLE_FORMATS = frozenset({"csv", "jsonl", "jsonlines", "jl"})


class Command(BaseRunSpiderCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[options] [spider ...]"

    def short_desc(self) -> str:
        return "Run every spider (or the ones named) in one process, into the same store and feeds"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        known = sorted(self.crawler_process.spider_loader.list())
        names = args or known
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise UsageError(f"unknown spider(s): {', '.join(unknown)} (known: {', '.join(known)})")

        feeds: dict[str, dict[str, Any]] = self.settings.getdict("FEEDS")
        joined = {uri: options for uri, options in feeds.items() if "%(name)s" not in uri}
        for uri, options in joined.items():
            if (options.get("format") or "").lower() not in JOINABLE_FORMATS:
                raise UsageError(f"crawlall can join csv and json-lines feeds only, not {uri}")
            if urlsplit(uri).scheme not in ("", "file"):
                raise UsageError(f"crawlall joins local files only, not {uri}")

        parts: dict[str, list[Path]] = {uri: [] for uri in joined}
        crawlers = []
        for name in names:
            crawler = self._create_crawler(name)
            crawlers.append(crawler)
            spider_feeds = {}
            for uri, options in feeds.items():
                if uri in joined:
                    part = _part_path(uri, name)
                    parts[uri].append(part)
                    spider_feeds[str(part)] = {**options, "overwrite": True}
                else:
                    spider_feeds[uri] = options
            # Above "cmdline": the process merges its own (-O) FEEDS into each crawler it runs.
            crawler.settings.set("FEEDS", spider_feeds, priority=SETTINGS_PRIORITIES["cmdline"] + 1)
            self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()

        for uri, options in joined.items():
            _join(parts[uri], _local_path(uri), options)
        # As `scrapy crawl` here: a failed health check is a failed run for cron and CI.
        if self.crawler_process.bootstrap_failed or any(health_failed(c) for c in crawlers):
            self.exitcode = 1


def _local_path(uri: str) -> Path:
    return Path(urlsplit(uri).path if uri.startswith("file:") else uri)


def _part_path(uri: str, spider: str) -> Path:
    target = _local_path(uri)
    return target.with_name(f".{target.name}.{spider}.part")


def _join(parts: list[Path], target: Path, options: dict[str, Any]) -> None:
    csv = (options.get("format") or "").lower() == "csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    append = not options.get("overwrite", False) and target.exists() and target.stat().st_size > 0
    header_written = append and csv
    with target.open("ab" if append else "wb") as out:
        for part in parts:
            if not part.exists():
                continue
            with part.open("rb") as source:
                if csv:
                    header = source.readline()
                    if not header_written and header:
                        out.write(header)
                        header_written = True
                shutil.copyfileobj(source, out)
            part.unlink()
