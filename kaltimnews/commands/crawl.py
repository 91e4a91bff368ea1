"""``scrapy crawl`` with an exit status that says whether the crawl was healthy.

Scrapy's own ``crawl`` exits 0 whenever the crawl could start, however it went. This one (found
through ``COMMANDS_MODULE``: Scrapy loads project commands after its built-ins, so a project
``crawl`` replaces the built-in) also exits 1 when the crawl's health monitors failed
(:mod:`kaltimnews.monitors`: too few articles, a broken template, an outage, a database error),
so cron, systemd and CI see a failed crawl as a failure.
"""

from __future__ import annotations

import argparse
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from kaltimnews.monitors import health_failed


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider; exit status 1 when it failed to start or its health monitors failed"

    def _create_crawler(self, spidercls: Any) -> Any:
        crawler = super()._create_crawler(spidercls)
        self._crawlers.append(crawler)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self._crawlers: list[Any] = []
        super().run(args, opts)
        if any(health_failed(crawler) for crawler in self._crawlers):
            self.exitcode = 1
