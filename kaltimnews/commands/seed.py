"""``scrapy seed SPIDER``: start a round of a shared (Redis) crawl, or show its state.

It pushes the requests the spider's ``start()`` yields (sitemaps, home page, listings), as the
spider middlewares hand them on, into the shared queue of ``REDIS_URL``, marked as always
fetched (``dont_filter``), and starts a new round: workers then fetch each of those pages once in
this round, and workers that start within ``REDIS_SEED_LOCK_SECONDS`` do not seed again. See
docs/scaling.md and :mod:`kaltimnews.distributed`.

``--status`` prints the state of the shared crawl instead (queue, fingerprints, round, workers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from typing import Any, ClassVar

from scrapy import Request
from scrapy.commands import ScrapyCommand
from scrapy.core.spidermw import SpiderMiddlewareManager
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.conf import arglist_to_dict
from scrapy.utils.misc import load_object

from kaltimnews.distributed import (
    SEED_COMMAND_SETTING,
    Frontier,
    apply_distributed_settings,
    mask_redis_url,
    redis_url,
)


class Command(ScrapyCommand):
    """``scrapy seed [-a NAME=VALUE]... [--reset-dupefilter] [--clear-queue] [--status] SPIDER``."""

    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_LEVEL": "WARNING"}

    def syntax(self) -> str:
        return "[options] <spider>"

    def short_desc(self) -> str:
        return "Push a spider's start requests into the shared Redis queue (REDIS_URL)"

    def long_desc(self) -> str:
        return (
            "Start a round of a distributed crawl: push the requests the spider's start() yields"
            " (sitemaps, home page, listings) into the Redis queue of REDIS_URL (setting or"
            " environment variable), so that any number of workers (scrapy crawl SPIDER with the"
            " same REDIS_URL) share them. --status prints the shared crawl's state instead."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-a",
            dest="spargs",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="spider argument (give workers the same ones), may be repeated",
        )
        parser.add_argument(
            "--reset-dupefilter",
            action="store_true",
            help="forget every article fingerprint first (before a crawl with -a refresh=1)",
        )
        parser.add_argument(
            "--clear-queue",
            action="store_true",
            help="drop the requests still queued first (abandon the previous round)",
        )
        parser.add_argument(
            "--status", action="store_true", help="print the shared crawl's state, push nothing"
        )
        parser.add_argument("--json", action="store_true", help="with --status: as JSON")

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        try:
            opts.spargs = arglist_to_dict(opts.spargs)
        except ValueError:
            raise UsageError("Invalid -a value, use -a NAME=VALUE", print_help=False) from None

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("seed takes one spider name", print_help=True)
        assert self.settings is not None
        url = redis_url(self.settings)
        if not url:
            raise UsageError(
                "REDIS_URL is not set: give it as -s REDIS_URL=redis://host:6379/0 or in the"
                " environment",
                print_help=False,
            )
        try:
            crawler = _seed_crawler(self.settings, args[0], url, opts.spargs)
        except KeyError:
            raise UsageError(f"Spider not found: {args[0]}", print_help=False) from None
        spider = crawler.spider
        try:
            frontier = Frontier.from_settings(crawler.settings, spider.name)
            frontier.server.ping()
        except Exception as exc:
            self._fail(f"cannot reach Redis at {mask_redis_url(url)}: {exc}")
            return
        if opts.status:
            _print_status(frontier.status(), spider.name, url, as_json=opts.json)
            return
        if opts.clear_queue:
            dropped = frontier.server.zcard(frontier.queue_key)
            frontier.server.delete(frontier.queue_key)
            print(f"dropped {dropped} queued request(s) from {frontier.queue_key}")
        if opts.reset_dupefilter:
            forgotten = frontier.server.scard(frontier.dupefilter_key)
            frontier.server.delete(frontier.dupefilter_key)
            print(f"forgot {forgotten} article fingerprint(s) in {frontier.dupefilter_key}")
        requests = asyncio.run(_start_requests(crawler))
        queue = load_object(crawler.settings["SCHEDULER_QUEUE_CLASS"])(
            server=frontier.server,
            spider=spider,
            key=frontier.queue_key,
            serializer=_serializer(crawler.settings),
        )
        for request in requests:
            queue.push(request)
        print(
            f"seeded round {frontier.current_round()} of {spider.name}: {len(requests)} start"
            f" request(s) pushed to {frontier.queue_key} at {mask_redis_url(url)};"
            f" {len(queue)} request(s) queued"
        )
        for request in requests:
            print(f"  {request.method} {request.url}")

    def _fail(self, message: str) -> None:
        print(f"seed: {message}", file=sys.stderr)
        self.exitcode = 1


def _seed_crawler(settings: Any, name: str, url: str, spargs: dict[str, str]) -> Crawler:
    """A crawler that is never started: its settings as a worker's (add-ons applied), its
    spider, and the stats the spider middlewares need."""
    settings = settings.copy()
    settings.set(SEED_COMMAND_SETTING, True, priority="cmdline")
    spidercls = get_spider_loader(settings).load(name)
    crawler = Crawler(spidercls, settings)
    crawler.addons.load_settings(crawler.settings)
    if not any(addon.__class__.__name__ == "RedisAddon" for addon in crawler.addons.addons):
        # settings.py does not enable the add-on (yet): the same settings as a worker that does.
        apply_distributed_settings(crawler.settings, url)
    crawler.stats = load_object(crawler.settings["STATS_CLASS"])(crawler)
    crawler.spider = spidercls.from_crawler(crawler, **spargs)
    return crawler


async def _start_requests(crawler: Crawler) -> list[Request]:
    """The spider's start requests as the spider middlewares (``process_start``) hand them on;
    ours (:class:`kaltimnews.distributed.DistributedSpiderMiddleware`) starts the round."""
    manager = SpiderMiddlewareManager.from_crawler(crawler)
    start = await manager.process_start()
    requests: list[Request] = []
    if start is None:
        return requests
    async for item_or_request in start:
        if isinstance(item_or_request, Request):
            requests.append(item_or_request)
        else:
            print(f"seed: start() gave an item, not a request; skipped: {item_or_request!r}")
    return requests


def _serializer(settings: Any) -> Any:
    serializer = settings.get("SCHEDULER_SERIALIZER")
    if isinstance(serializer, str):
        import importlib

        return importlib.import_module(serializer)
    return serializer


def _print_status(status: dict[str, Any], spider: str, url: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"spider": spider, "redis": mask_redis_url(url), **status}, indent=2))
        return
    now = datetime.now(timezone.utc).timestamp()
    seeded = status["seeded_by"]
    print(f"{spider} at {mask_redis_url(url)}")
    print(f"  queue       {status['queue_key']}: {status['queued']} request(s)")
    print(f"  dupefilter  {status['dupefilter_key']}: {status['fingerprints']} fingerprint(s)")
    line = f"  round       {status['round']}"
    if seeded:
        line += f", seeded {seeded.get('at', '?')} by {seeded.get('by', '?')} on {seeded.get('host', '?')}"
    if status["seed_lock_seconds_left"]:
        line += f" (a worker may seed a new round in {status['seed_lock_seconds_left']:.0f} s)"
    print(line)
    if status["undecodable"]:
        print(f"  undecodable {status['undecodable']} request(s) kept aside")
    if not status["workers"]:
        print("  workers     none")
    for worker in status["workers"]:
        if worker["alive"]:
            age = now - float(worker.get("at") or now)
            print(
                f"  worker      {worker['worker']}: {worker.get('busy', 0)} in progress,"
                f" {worker['in_journal']} leased, {worker.get('dequeued', 0)} taken since"
                f" {worker.get('started', '?')}, heartbeat {age:.1f} s ago"
            )
        else:
            print(
                f"  worker      {worker['worker']}: STOPPED, {worker['in_journal']} leased"
                " request(s) go back to the queue when a worker looks"
            )
