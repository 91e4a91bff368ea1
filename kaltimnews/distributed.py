"""Distributed crawling: any number of workers share one Redis frontier and one article store.

Everything here is switched on by ``REDIS_URL`` (a Scrapy setting, or else the environment
variable of the same name) through :class:`RedisAddon`, enabled in ``settings.py`` with
``ADDONS = {"kaltimnews.distributed.RedisAddon": 0}``. Without ``REDIS_URL`` the add-on does
nothing at all: no setting, middleware or extension changes, Scrapy's own scheduler and
duplicate filter run as before. ``-s REDIS_URL=`` (empty) switches it off even when the
environment variable is set.

With ``REDIS_URL``, a crawl is one *worker* of a shared crawl (docs/scaling.md):

* requests go through scrapy-redis: :class:`RedisScheduler` (a subclass of
  ``scrapy_redis.scheduler.Scheduler``) keeps them in a Redis sorted set (the queue,
  ``SCHEDULER_QUEUE_KEY``), and ``scrapy_redis.dupefilter.RFPDupeFilter`` keeps the
  fingerprints of the requests already queued (``SCHEDULER_DUPEFILTER_KEY``); both persist
  between runs (``SCHEDULER_PERSIST = True``), so any worker can finish what another left;
* **articles** (``meta["kaltimnews_article"]`` and pages 2..N, ``meta["kaltimnews_page"]``) go
  through that shared, persistent duplicate filter: one worker fetches each article, once.
  An article whose download failed for a transient reason (HTTP 5xx, 408, 429, a network error,
  after the retries) is taken out of it again (:class:`DistributedDownloaderMiddleware`), so a
  later crawl tries it again, as a crawl without Redis would;
* **the pages that are always fetched** (home page, sitemaps, listing pages: every request
  without those marks) bypass it (``dont_filter``): a later crawl must read them again. Within
  one *round* (one seeding, below) each of them is fetched once across all workers
  (:class:`DistributedSpiderMiddleware`, a sorted set ``<queue key>:pages`` scored by round);
* **seeding**: ``scrapy seed SPIDER`` (kaltimnews/commands/seed.py) pushes the spider's start
  requests and starts a new round. A worker started with ``REDIS_URL`` seeds a round itself
  when nobody did in the last ``REDIS_SEED_LOCK_SECONDS`` (one ``SET NX`` decides, so of N
  workers started together exactly one seeds), unless ``REDIS_SEEDED_ONLY`` is set: then it
  only takes requests from the queue;
* **leases**: a request a worker takes from the queue is moved, atomically, into that worker's
  journal (``<queue key>:inflight:<worker>``), and leaves the journal only when it is done: its
  callback has run and the items it gave are committed to the store (``StoragePipeline``
  writes in batches: an item waiting in a batch is not done). Each worker refreshes a heartbeat
  key (``<queue key>:worker:<worker>``, expiring after ``REDIS_LEASE_SECONDS``); the journal of
  a worker whose heartbeat expired (killed, machine gone) is put back in the queue by the next
  worker that looks (every few seconds, and when a worker starts). So a killed worker loses
  nothing another worker cannot finish: its requests are re-done, the store's unique URL keeps
  one row per article;
* **idle workers close**: :class:`RedisIdleClose` keeps a worker open while the shared queue
  has requests or another worker is busy (and may still queue some), and closes it once that
  has not been so for ``REDIS_IDLE_CLOSE_SECONDS`` (negative: never).

scrapy-redis 0.9.1 with Scrapy 2.19: the scheduler works (Scrapy checks the scheduler interface
by duck typing; ``request.to_dict`` / ``scrapy.utils.request.request_from_dict`` exist; its
``from_crawler`` is used), but it passes ``spider=`` to ``StatsCollector.inc_value()`` and
calls ``Spider.log()``, both deprecated in Scrapy 2.19 (``ScrapyDeprecationWarning``, errors once
removed): :class:`RedisScheduler` overrides ``open``, ``enqueue_request`` and
``next_request``. The duplicate filter is used as it is (its own fingerprint: method, canonical
URL, body). Requests are pickled into Redis (scrapy-redis's default serializer): whoever can
write to that Redis can run code in the workers, so it must be private.

Without ``REDIS_URL`` this module is imported (it holds the add-on) but imports neither redis
nor scrapy-redis: ``RedisScheduler`` is defined on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from scrapy.utils.python import to_unicode
from twisted.internet import task
from w3lib.url import canonicalize_url

logger = logging.getLogger(__name__)

ADDON = "kaltimnews.distributed.RedisAddon"
STATS = "kaltimnews/distributed"
#: Request meta key holding the lease (journal field) of a request taken from the queue.
LEASE_META = "_kaltimnews_lease"
#: Set by ``scrapy seed``: the spider middleware then always seeds a new round.
SEED_COMMAND_SETTING = "_KALTIMNEWS_SEED_COMMAND"

#: What the add-on sets (priority "addon": settings.py, -s and spider settings win).
DISTRIBUTED_SETTINGS: dict[str, Any] = {
    "SCHEDULER": "kaltimnews.distributed.RedisScheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    "SCHEDULER_PERSIST": True,
    "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
    "SCHEDULER_QUEUE_KEY": "kaltimnews:%(spider)s:requests",
    "SCHEDULER_DUPEFILTER_KEY": "kaltimnews:%(spider)s:dupefilter",
}
#: Settings of ours and their defaults (documented in docs/scaling.md).
DEFAULTS: dict[str, Any] = {
    "REDIS_SEEDED_ONLY": False,
    "REDIS_SEED_LOCK_SECONDS": 300,
    "REDIS_IDLE_CLOSE_SECONDS": 30,
    "REDIS_LEASE_SECONDS": 60,
    "REDIS_POLL_SECONDS": 1.0,
}
SPIDER_MIDDLEWARE_PRIORITY = 20  # engine side of StartSpiderMiddleware (25): sees final requests
DOWNLOADER_MIDDLEWARE_PRIORITY = 45  # engine side of retries and SkipStoredArticlesMiddleware (50)
EXTENSION_PRIORITY = 520

#: Fingerprints a worker remembers in front of the shared duplicate filter (about 100 bytes each).
LOCAL_FINGERPRINTS_MAX = 500_000

#: An article download that ended like this may work next time: forget its fingerprint.
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


# --------------------------------------------------------------------------- settings


def redis_url(settings: BaseSettings) -> str:
    """``REDIS_URL``: the setting when it is set at all (``-s REDIS_URL=`` switches distributed
    crawling off), else the environment variable; ``""`` when neither."""
    if settings.getpriority("REDIS_URL") is not None:
        return str(settings.get("REDIS_URL") or "").strip()
    return os.environ.get("REDIS_URL", "").strip()


def mask_redis_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable REDIS_URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def apply_distributed_settings(settings: BaseSettings, url: str) -> None:
    """What :class:`RedisAddon` does when ``REDIS_URL`` is set (also used by ``scrapy seed``)."""
    settings.set("REDIS_URL", url, priority="addon")
    for name, value in DISTRIBUTED_SETTINGS.items():
        settings.set(name, value, priority="addon")
    settings.set_in_component_priority_dict(
        "SPIDER_MIDDLEWARES", DistributedSpiderMiddleware, SPIDER_MIDDLEWARE_PRIORITY
    )
    settings.set_in_component_priority_dict(
        "DOWNLOADER_MIDDLEWARES", DistributedDownloaderMiddleware, DOWNLOADER_MIDDLEWARE_PRIORITY
    )
    settings.set_in_component_priority_dict("EXTENSIONS", RedisIdleClose, EXTENSION_PRIORITY)


def _setting(settings: BaseSettings, name: str) -> Any:
    value = settings.get(name)
    return DEFAULTS[name] if value is None or value == "" else value


def _float_setting(settings: BaseSettings, name: str) -> float:
    return float(_setting(settings, name))


def _bool_setting(settings: BaseSettings, name: str) -> bool:
    value = _setting(settings, name)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class RedisAddon:
    """Scrapy add-on: with ``REDIS_URL``, the crawl becomes a worker of a shared crawl.

    ``ADDONS = {"kaltimnews.distributed.RedisAddon": 0}``. Without ``REDIS_URL`` it raises
    ``NotConfigured`` (silently) and changes nothing.
    """

    def __init__(self, url: str) -> None:
        self.url = url

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedisAddon:
        url = redis_url(crawler.settings)
        if not url:
            raise NotConfigured
        return cls(url)

    def update_settings(self, settings: BaseSettings) -> None:
        apply_distributed_settings(settings, self.url)

    def __repr__(self) -> str:
        return f"<RedisAddon {mask_redis_url(self.url)}>"


# --------------------------------------------------------------------------- Redis keys


def is_article_request(request: Request) -> bool:
    """Article requests (first page and pages 2..N) are deduplicated across workers and runs;
    every other request is a page that is always fetched (home, sitemaps, listings)."""
    meta = request.meta
    return bool(meta.get("kaltimnews_article") or meta.get("kaltimnews_page"))


def page_fingerprint(request: Request) -> str:
    """The fingerprint scrapy-redis's RFPDupeFilter gives a request (method, canonical URL,
    body): the same function for the pages of a round as for the duplicate filter."""
    data = {
        "method": to_unicode(request.method),
        "url": canonicalize_url(request.url),
        "body": (request.body or b"").hex(),
    }
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()


# Atomically: take the first request of the queue and write it into the worker's journal, as
# "<score> <payload>" (the score puts it back at its priority if the worker dies).
_POP_LEASE = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], ARGV[1], r[2] .. ' ' .. r[1])
return r[1]
"""

# Atomically: if the worker's heartbeat is gone, put its journal back in the queue.
_RECOVER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local entries = redis.call('HVALS', KEYS[2])
for _, v in ipairs(entries) do
  local sp = string.find(v, ' ', 1, true)
  redis.call('ZADD', KEYS[3], string.sub(v, 1, sp - 1), string.sub(v, sp + 1))
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[4], ARGV[1])
return #entries
"""

# A page (not an article) is fetched once per round: first sighting in this round -> 1.
_PAGE_FIRST_IN_ROUND = """
local r = tonumber(redis.call('GET', KEYS[2]) or '0')
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == r then return 0 end
redis.call('ZADD', KEYS[1], r, ARGV[1])
return 1
"""

# Start a round: take the seed lock (unless forced, only if free) and count the round.
_CLAIM_ROUND = """
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
return redis.call('INCR', KEYS[2])
"""


class Frontier:
    """The Redis keys of one spider's shared crawl, and the operations on them.

    Ours all start with the queue key (``SCHEDULER_QUEUE_KEY`` with the spider name), so a
    key prefix there isolates one crawl (tests use a random one).
    """

    def __init__(self, server: Any, settings: BaseSettings, spider_name: str) -> None:
        self.server = server
        names = {"spider": spider_name}
        self.queue_key: str = (
            settings.get("SCHEDULER_QUEUE_KEY") or DISTRIBUTED_SETTINGS["SCHEDULER_QUEUE_KEY"]
        ) % names
        self.dupefilter_key: str = (
            settings.get("SCHEDULER_DUPEFILTER_KEY")
            or DISTRIBUTED_SETTINGS["SCHEDULER_DUPEFILTER_KEY"]
        ) % names
        base = self.queue_key
        self.round_key = f"{base}:round"
        self.pages_key = f"{base}:pages"
        self.seed_key = f"{base}:seeded"
        self.workers_key = f"{base}:workers"
        self.undecodable_key = f"{base}:undecodable"
        self._pop_lease = server.register_script(_POP_LEASE)
        self._recover = server.register_script(_RECOVER)
        self._page_first = server.register_script(_PAGE_FIRST_IN_ROUND)
        self._claim_round = server.register_script(_CLAIM_ROUND)

    @classmethod
    def from_settings(cls, settings: BaseSettings, spider_name: str) -> Frontier:
        from scrapy_redis import connection

        return cls(connection.get_redis_from_settings(settings), settings, spider_name)

    def heartbeat_key(self, worker: str) -> str:
        return f"{self.queue_key}:worker:{worker}"

    def journal_key(self, worker: str) -> str:
        return f"{self.queue_key}:inflight:{worker}"

    def all_keys_pattern(self) -> str:
        return f"{self.queue_key}*"

    # -- rounds and pages ---------------------------------------------------------------

    def claim_round(self, holder: dict[str, Any], lock_seconds: float, force: bool) -> int:
        """A new round number if this caller seeds it (``force``: always), else 0."""
        result = self._claim_round(
            keys=[self.seed_key, self.round_key],
            args=[json.dumps(holder), max(1, int(lock_seconds * 1000)), "1" if force else "0"],
        )
        return int(result or 0)

    def current_round(self) -> int:
        return int(self.server.get(self.round_key) or 0)

    def seed_holder(self) -> dict[str, Any]:
        raw = self.server.get(self.seed_key)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def page_first_in_round(self, request: Request) -> bool:
        return bool(
            self._page_first(keys=[self.pages_key, self.round_key], args=[page_fingerprint(request)])
        )

    # -- leases ----------------------------------------------------------------------

    def pop_lease(self, worker: str, lease: int) -> bytes | None:
        return self._pop_lease(keys=[self.queue_key, self.journal_key(worker)], args=[lease])

    def release(self, worker: str, leases: list[int]) -> None:
        key = self.journal_key(worker)
        for start in range(0, len(leases), 500):
            self.server.hdel(key, *leases[start : start + 500])

    def recover(self, worker: str) -> int:
        """Put the journal of ``worker`` back in the queue if its heartbeat is gone: the number
        of requests put back, -1 when the worker is alive."""
        return int(
            self._recover(
                keys=[
                    self.heartbeat_key(worker),
                    self.journal_key(worker),
                    self.queue_key,
                    self.workers_key,
                ],
                args=[worker],
            )
        )

    def workers(self) -> list[str]:
        return sorted(to_unicode(w) for w in self.server.smembers(self.workers_key))

    def heartbeats(self, workers: list[str]) -> dict[str, dict[str, Any] | None]:
        if not workers:
            return {}
        values = self.server.mget([self.heartbeat_key(w) for w in workers])
        beats: dict[str, dict[str, Any] | None] = {}
        for worker, raw in zip(workers, values, strict=True):
            try:
                beats[worker] = json.loads(raw) if raw else None
            except ValueError:
                beats[worker] = None
        return beats

    def status(self) -> dict[str, Any]:
        """What ``scrapy seed SPIDER --status`` prints."""
        server = self.server
        workers = self.workers()
        beats = self.heartbeats(workers)
        lock_ms = server.pttl(self.seed_key)
        return {
            "queue_key": self.queue_key,
            "queued": int(server.zcard(self.queue_key)),
            "dupefilter_key": self.dupefilter_key,
            "fingerprints": int(server.scard(self.dupefilter_key)),
            "round": self.current_round(),
            "seeded_by": self.seed_holder(),
            "seed_lock_seconds_left": round(lock_ms / 1000, 1) if lock_ms and lock_ms > 0 else 0,
            "undecodable": int(server.llen(self.undecodable_key)),
            "workers": [
                {
                    "worker": worker,
                    "alive": beats.get(worker) is not None,
                    "in_journal": int(server.hlen(self.journal_key(worker))),
                    **(beats.get(worker) or {}),
                }
                for worker in workers
            ],
        }


def new_worker_id() -> str:
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


# --------------------------------------------------------------------------- the scheduler


@dataclass
class _Lease:
    request: Request
    finished: bool = False
    #: Items this request gave that reached the end of the item pipelines.
    items: int = 0
    #: ``kaltimnews/storage/batches`` when the last of them did: committed once it is higher.
    batches_seen: int = 0


def _redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError


class LeasingScheduler:
    """What :class:`RedisScheduler` adds to scrapy-redis's scheduler: leases, heartbeats and
    recovery (module docstring).

    ``RedisScheduler`` is built from this and ``scrapy_redis.scheduler.Scheduler`` when it is
    first used (``kaltimnews.distributed.RedisScheduler``, PEP 562), so that a crawl without
    ``REDIS_URL`` does not even import redis or scrapy-redis.

    Differences from ``scrapy_redis.scheduler.Scheduler``:

    * stats are counted without the ``spider=`` argument, and ``open()`` does not call
      ``Spider.log()``: Scrapy 2.19 deprecates both (``ScrapyDeprecationWarning``);
    * with the (default) priority queue, a request taken from the queue goes, in the same Redis
      script, into this worker's journal, and leaves it when done (:meth:`_checkpoint`);
    * a request that cannot be pickled as it is (a live object in its meta) is pushed without
      the meta keys that cannot, and one that cannot be read back (the spider changed) is kept
      in ``<queue key>:undecodable`` instead of stopping the worker.
    """

    crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        url = crawler.settings.get("REDIS_URL") or ""
        try:
            instance = super().from_crawler(crawler)  # type: ignore[misc]
        except Exception as exc:
            logger.error("Cannot use the Redis server at %s: %s", mask_redis_url(url), exc)
            raise
        instance._setup(crawler)
        return instance

    def _setup(self, crawler: Any) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.worker_id = new_worker_id()
        self.lease_seconds = max(1.0, _float_setting(settings, "REDIS_LEASE_SECONDS"))
        self.poll_seconds = max(0.1, _float_setting(settings, "REDIS_POLL_SECONDS"))
        self.heartbeat_seconds = min(5.0, max(0.25, self.lease_seconds / 4))
        self.frontier: Frontier | None = None
        self.leasing = False
        self.dequeued = 0
        self._held: dict[int, _Lease] = {}
        self._seen_here: set[str] = set()
        self._lease_seq = 0
        self._loop: task.LoopingCall | None = None
        self._next_heartbeat = 0.0
        self._last_redis_error_log = 0.0
        self._started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._tracks_storage = _storage_pipeline_enabled(settings)
        crawler.signals.connect(self._item_scraped, signal=signals.item_scraped)

    # -- Scrapy's scheduler interface ------------------------------------------------------

    def open(self, spider: Any) -> None:
        # scrapy-redis's open(), without its Spider.log() call (deprecated in Scrapy 2.19).
        self.spider = spider
        try:
            self.queue = load_object(self.queue_cls)(
                server=self.server,
                spider=spider,
                key=self.queue_key % {"spider": spider.name},
                serializer=self.serializer,
            )
        except TypeError as exc:
            raise ValueError(f"Failed to instantiate queue class {self.queue_cls!r}: {exc}") from exc
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if self.flush_on_start:
            self.flush()
        self.frontier = Frontier(self.server, spider.settings, spider.name)
        from scrapy_redis.queue import PriorityQueue

        self.leasing = isinstance(self.queue, PriorityQueue)
        if not self.leasing:
            logger.warning(
                "SCHEDULER_QUEUE_CLASS %s is not a priority queue: no leases, so requests taken by"
                " a worker that dies are lost (use scrapy_redis.queue.PriorityQueue)",
                self.queue_cls,
            )
        self.stats.set_value(f"{STATS}/worker", self.worker_id)
        self._heartbeat()
        recovered = self._recover_dead()
        logger.info(
            "Worker %s joined the shared crawl of %s at %s: %d request(s) queued in %s,"
            " %d article fingerprint(s) in %s%s",
            self.worker_id,
            spider.name,
            mask_redis_url(self.crawler.settings.get("REDIS_URL") or ""),
            len(self.queue),
            self.frontier.queue_key,
            self.df.server.scard(self.df.key) if hasattr(self.df, "server") else -1,
            getattr(self.df, "key", type(self.df).__name__),
            f", {recovered} recovered from stopped workers" if recovered else "",
        )
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(self.poll_seconds, now=False)

    def close(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        requeued = 0
        if self.frontier is not None:
            try:
                self._checkpoint(final=True)
                self.server.delete(self.frontier.heartbeat_key(self.worker_id))
                # Whatever is left in the journal is not done: back to the queue, at once.
                requeued = max(0, self.frontier.recover(self.worker_id))
            except Exception:
                logger.exception("Could not hand this worker's unfinished requests back to Redis")
        if requeued:
            self.stats.inc_value(f"{STATS}/leases/requeued_at_close", requeued)
            logger.warning(
                "%d request(s) not done by this worker (reason %s) are back in the shared queue",
                requeued,
                reason,
            )
        super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        try:
            if not request.dont_filter and self._seen(request):
                self.df.log(request, self.spider)
                return False
            if LEASE_META in request.meta:
                # A copy of a leased request (redirect, retry): it gets its own lease when taken.
                request = request.replace(
                    meta={k: v for k, v in request.meta.items() if k != LEASE_META}
                )
            if not self._push(request):
                if not request.dont_filter:
                    self.forget(request)
                return False
        except _redis_error() as exc:
            # Not queued, and (unless Redis died between the two calls) not marked as seen: a
            # later round finds it again.
            self.stats.inc_value(f"{STATS}/redis_errors/enqueue")
            logger.error("Redis error, %s not queued: %s", request, exc)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        try:
            request = self._pop()
        except _redis_error() as exc:
            # The engine sees an empty queue and idles; RedisIdleClose waits for Redis.
            self.stats.inc_value(f"{STATS}/redis_errors/dequeue")
            now = time.monotonic()
            if now - self._last_redis_error_log > 30:
                self._last_redis_error_log = now
                logger.error("Redis error, no request taken from the shared queue: %s", exc)
            return None
        if request is None:
            return None
        self.dequeued += 1
        stats = self.stats
        stats.inc_value("scheduler/dequeued/redis")
        stats.inc_value(f"{STATS}/dequeued/{'article' if is_article_request(request) else 'page'}")
        if stats.get_value(f"{STATS}/first_dequeue_at") is None:
            stats.set_value(f"{STATS}/first_dequeue_at", time.time())
        return request

    def _seen(self, request: Request) -> bool:
        """The shared duplicate filter, with a local memory in front of it: an article page is
        linked from many listings, sitemaps and "Baca Juga" blocks, and a fingerprint this worker
        has met is in Redis already (the filter only grows; :meth:`forget` forgets both), so
        only the first sighting costs a round trip."""
        df = self.df
        if not (hasattr(df, "server") and hasattr(df, "key")):  # another DUPEFILTER_CLASS
            return bool(df.request_seen(request))
        fingerprint = df.request_fingerprint(request)
        if fingerprint in self._seen_here:
            self.stats.inc_value(f"{STATS}/dupefilter/local_hits")
            return True
        if len(self._seen_here) >= LOCAL_FINGERPRINTS_MAX:
            self._seen_here.clear()
        self._seen_here.add(fingerprint)
        return df.server.sadd(df.key, fingerprint) == 0

    def forget(self, request: Request) -> None:
        """Take ``request`` out of the shared duplicate filter (a later sighting queues it)."""
        df = self.df
        if not (hasattr(df, "server") and hasattr(df, "key")):
            return
        fingerprint = df.request_fingerprint(request)
        self._seen_here.discard(fingerprint)
        df.server.srem(df.key, fingerprint)

    def has_pending_requests(self) -> bool:
        try:
            return len(self) > 0  # type: ignore[arg-type]
        except _redis_error():
            return False  # the engine idles; RedisIdleClose keeps the worker open meanwhile

    # -- pushing and popping ---------------------------------------------------------------

    def _push(self, request: Request) -> bool:
        try:
            self.queue.push(request)
            return True
        except ValueError as exc:  # the callback is not a method of the spider
            error: Exception = exc
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            cleaned = _without_unpicklable_meta(request)
            if cleaned is not None:
                try:
                    self.queue.push(cleaned)
                except Exception as exc2:
                    error = exc2
                else:
                    self.stats.inc_value(f"{STATS}/meta_dropped")
                    logger.warning(
                        "Queued %s without the meta keys that cannot be stored in Redis: %s",
                        request,
                        ", ".join(sorted(set(request.meta) - set(cleaned.meta))),
                    )
                    return True
            else:
                error = exc
        self.stats.inc_value(f"{STATS}/unserializable")
        logger.error("Cannot store %s in the shared queue, dropped: %s", request, error)
        return False

    def _pop(self) -> Request | None:
        if not self.leasing:
            return self.queue.pop(self.idle_before_close)
        assert self.frontier is not None
        for _ in range(100):  # skip (and keep aside) requests that cannot be read back
            self._lease_seq += 1
            lease = self._lease_seq
            data = self.frontier.pop_lease(self.worker_id, lease)
            if data is None:
                return None
            try:
                request = self.queue._decode_request(data)
            except Exception as exc:
                self.server.rpush(self.frontier.undecodable_key, data)
                self.frontier.release(self.worker_id, [lease])
                self.stats.inc_value(f"{STATS}/undecodable")
                logger.error(
                    "A queued request cannot be read back (%s: %s); kept in %s",
                    type(exc).__name__,
                    exc,
                    self.frontier.undecodable_key,
                )
                continue
            request.meta[LEASE_META] = lease
            self._held[lease] = _Lease(request)
            return request
        return None

    # -- leases ------------------------------------------------------------------------

    def _item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        request = getattr(response, "request", None)
        if request is None:
            return
        lease = self._held.get(request.meta.get(LEASE_META))  # type: ignore[arg-type]
        if lease is not None:
            lease.items += 1
            lease.batches_seen = self._batches()

    def _batches(self) -> int:
        return int(self.stats.get_value("kaltimnews/storage/batches") or 0)

    def _in_progress(self) -> set[Request] | None:
        """The engine's requests in progress (downloading or in their callback); None when
        this Scrapy does not expose them (then leases are only released at close)."""
        try:
            slot = self.crawler.engine._slot
        except (AttributeError, RuntimeError):
            return None
        inprogress = getattr(slot, "inprogress", None)
        return inprogress if isinstance(inprogress, set) else None

    def busy(self) -> int:
        """Requests this worker has taken and not yet finished."""
        inprogress = self._in_progress()
        if inprogress is not None:
            return len(inprogress)
        try:
            return 0 if self.crawler.engine.spider_is_idle() else 1
        except Exception:
            return 0

    def _checkpoint(self, final: bool = False) -> None:
        """Release the leases of requests that are done: callback finished, and the items they
        gave committed (a storage batch was written after the last of them, or the crawl
        closed with the store intact)."""
        if not self._held or self.frontier is None:
            return
        inprogress = None if final else self._in_progress()
        batches = self._batches()
        storage_failed = bool(self.stats.get_value("kaltimnews/storage/database_errors"))
        done: list[int] = []
        for lease_id, lease in self._held.items():
            if not lease.finished:
                if not final and (inprogress is None or lease.request in inprogress):
                    continue
                lease.finished = True
            if (
                not lease.items
                or not self._tracks_storage
                or (not storage_failed and (final or batches > lease.batches_seen))
            ):
                done.append(lease_id)
        if done:
            self.frontier.release(self.worker_id, done)
            for lease_id in done:
                del self._held[lease_id]
            self.stats.inc_value(f"{STATS}/leases/released", len(done))

    # -- the worker's heartbeat and the others' ------------------------------------------------

    def _tick(self) -> None:
        try:
            self._checkpoint()
            now = time.monotonic()
            if now >= self._next_heartbeat:
                self._heartbeat()
                self._recover_dead()
            if not self.busy():
                self._kick()
        except _redis_error() as exc:
            now = time.monotonic()
            if now - self._last_redis_error_log > 30:
                self._last_redis_error_log = now
                logger.error("Redis error in the worker's housekeeping (will try again): %s", exc)
        except Exception:
            logger.exception("The worker's housekeeping failed (will try again)")

    def _heartbeat(self) -> None:
        assert self.frontier is not None
        self._next_heartbeat = time.monotonic() + self.heartbeat_seconds
        beat = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self._started_at,
            "busy": self.busy(),
            "held": len(self._held),
            "dequeued": self.dequeued,
            "at": time.time(),
        }
        pipe = self.server.pipeline(transaction=False)
        pipe.set(
            self.frontier.heartbeat_key(self.worker_id),
            json.dumps(beat),
            px=int(self.lease_seconds * 1000),
        )
        pipe.sadd(self.frontier.workers_key, self.worker_id)
        pipe.execute()

    def _recover_dead(self) -> int:
        """Put back in the queue the journals of workers whose heartbeat expired."""
        assert self.frontier is not None
        total = 0
        for worker in self.frontier.workers():
            if worker == self.worker_id:
                continue
            count = self.frontier.recover(worker)
            if count > 0:
                total += count
                logger.warning(
                    "Worker %s stopped without finishing: its %d request(s) are back in the queue",
                    worker,
                    count,
                )
        if total:
            self.stats.inc_value(f"{STATS}/leases/recovered", total)
        return total

    def others_busy(self) -> list[str]:
        """Other live workers with requests in progress: they may still queue more."""
        assert self.frontier is not None
        others = [w for w in self.frontier.workers() if w != self.worker_id]
        return [
            worker
            for worker, beat in self.frontier.heartbeats(others).items()
            if beat and beat.get("busy")
        ]

    def _kick(self) -> None:
        """Make an idle engine look at the queue now rather than at its next 5 s heartbeat
        (other workers may have queued requests, or the idle time may be over)."""
        try:
            nextcall = self.crawler.engine._slot.nextcall
        except (AttributeError, RuntimeError):
            return
        if nextcall is not None:
            nextcall.schedule()


def _define_redis_scheduler() -> type:
    from scrapy_redis.scheduler import Scheduler as ScrapyRedisScheduler

    return type(
        "RedisScheduler",
        (LeasingScheduler, ScrapyRedisScheduler),
        {
            "__module__": __name__,
            "__qualname__": "RedisScheduler",
            "__doc__": "``scrapy_redis.scheduler.Scheduler`` with :class:`LeasingScheduler`'s"
            " additions: the SCHEDULER of a distributed crawl.",
        },
    )


def __getattr__(name: str) -> Any:
    """``RedisScheduler``, defined (and scrapy-redis imported) on first use."""
    if name == "RedisScheduler":
        cls = _define_redis_scheduler()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _storage_pipeline_enabled(settings: BaseSettings) -> bool:
    """Whether ``kaltimnews.pipelines.StoragePipeline`` (batched commits) runs in this crawl."""
    from kaltimnews.pipelines import StoragePipeline

    for path in build_component_list(settings.getwithbase("ITEM_PIPELINES")):
        try:
            cls = load_object(path) if isinstance(path, str) else path
        except (ImportError, NameError, ValueError):
            continue
        if isinstance(cls, type) and issubclass(cls, StoragePipeline):
            return True
    return False


def _without_unpicklable_meta(request: Request) -> Request | None:
    meta = {}
    for key, value in request.meta.items():
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            continue
        meta[key] = value
    if len(meta) == len(request.meta):
        return None
    return request.replace(meta=meta)


# --------------------------------------------------------------------------- middlewares


class DistributedSpiderMiddleware(BaseSpiderMiddleware):
    """Seeding and the always-fetched pages.

    * ``process_start``: the spider's start requests are yielded only by the worker that seeds
      the round (``scrapy seed``, or the first worker when nobody seeded in the last
      ``REDIS_SEED_LOCK_SECONDS``; never with ``REDIS_SEEDED_ONLY``); they get ``dont_filter``.
    * requests of callbacks that are not articles (listing pagination, sitemaps named by
      robots.txt or a sitemap index) get ``dont_filter`` too, the first time they are seen in
      the round; later sightings in the same round are dropped
      (``kaltimnews/distributed/pages/seen_this_round``).
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.seeded_only = _bool_setting(settings, "REDIS_SEEDED_ONLY")
        self.seed_lock_seconds = _float_setting(settings, "REDIS_SEED_LOCK_SECONDS")
        self.seed_command = settings.getbool(SEED_COMMAND_SETTING)
        self._frontier: Frontier | None = None
        self.round = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> DistributedSpiderMiddleware:
        if not redis_url(crawler.settings):
            raise NotConfigured
        return cls(crawler)

    @property
    def frontier(self) -> Frontier:
        if self._frontier is None:
            self._frontier = Frontier.from_settings(self.crawler.settings, self.crawler.spider.name)
        return self._frontier

    async def process_start(self, start: Any) -> Any:
        spider = self.crawler.spider
        stats = self.crawler.stats
        if self.seeded_only and not self.seed_command:
            logger.info(
                "REDIS_SEEDED_ONLY: %s takes requests from the shared queue only (seed it with"
                " `scrapy seed %s`)",
                spider.name,
                spider.name,
            )
            return
        holder = {
            "by": "scrapy seed" if self.seed_command else "worker",
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.round = self.frontier.claim_round(holder, self.seed_lock_seconds, self.seed_command)
        if not self.round:
            seeded = self.frontier.seed_holder()
            logger.info(
                "Round %d of %s was seeded at %s (%s on %s): this worker takes requests from the"
                " shared queue",
                self.frontier.current_round(),
                spider.name,
                seeded.get("at", "?"),
                seeded.get("by", "?"),
                seeded.get("host", "?"),
            )
            return
        stats.set_value(f"{STATS}/seeded_round", self.round)
        logger.info("Seeding round %d of %s with its start requests", self.round, spider.name)
        async for item_or_request in start:
            if isinstance(item_or_request, Request):
                request = item_or_request
                if not is_article_request(request):
                    self.frontier.page_first_in_round(request)  # so later links to it are dropped
                stats.inc_value(f"{STATS}/seeded_requests")
                yield request.replace(dont_filter=True)
            else:
                yield item_or_request

    def get_processed_request(self, request: Request, response: Any) -> Request | None:
        if response is None or request.dont_filter or is_article_request(request):
            return request
        try:
            first = self.frontier.page_first_in_round(request)
        except _redis_error():
            first = True  # cannot tell: fetch it (the scheduler reports if it cannot queue it)
        if first:
            return request.replace(dont_filter=True)
        self.crawler.stats.inc_value(f"{STATS}/pages/seen_this_round")
        return None


class DistributedDownloaderMiddleware:
    """Counts this worker's article downloads, and takes an article whose download failed for a
    transient reason out of the shared duplicate filter, so that a later crawl tries it again.

    It sits on the engine side of the retry middleware: it sees the outcome after the retries.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> DistributedDownloaderMiddleware:
        if not redis_url(crawler.settings):
            raise NotConfigured
        return cls(crawler)

    def process_response(self, request: Request, response: Any, spider: Any = None) -> Any:
        stats = self.crawler.stats
        stats.set_value(f"{STATS}/last_response_at", time.time())
        if is_article_request(request):
            stats.inc_value(f"{STATS}/article_responses")
            if response.status in TRANSIENT_HTTP_STATUSES:
                self._forget(request, f"HTTP {response.status}")
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        if is_article_request(request) and not isinstance(exception, IgnoreRequest):
            self._forget(request, type(exception).__name__)
        return None

    def _forget(self, request: Request, why: str) -> None:
        scheduler = _scheduler(self.crawler)
        try:
            if isinstance(scheduler, LeasingScheduler):
                scheduler.forget(request)
            else:  # scrapy-redis's own scheduler (SCHEDULER set by hand)
                dupefilter = getattr(scheduler, "df", None)
                if dupefilter is None or not hasattr(dupefilter, "server"):
                    return
                dupefilter.server.srem(dupefilter.key, dupefilter.request_fingerprint(request))
        except Exception as exc:
            logger.warning("Could not forget %s in the shared duplicate filter: %s", request.url, exc)
            return
        self.crawler.stats.inc_value(f"{STATS}/forgotten")
        logger.info(
            "%s failed (%s): forgotten by the shared duplicate filter, a later crawl tries again",
            request.url,
            why,
        )


def _scheduler(crawler: Any) -> Any:
    try:
        engine = crawler.engine
    except RuntimeError:
        return None
    scheduler = getattr(engine, "scheduler", None)  # Scrapy >= 2.19
    if scheduler is None:
        scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
    return scheduler


# --------------------------------------------------------------------------- idle close


class RedisIdleClose:
    """Keeps a worker open while there may be work, closes it after ``REDIS_IDLE_CLOSE_SECONDS``
    without any.

    On ``spider_idle`` (this worker has nothing in progress and the queue gave nothing), the
    worker stays open (``DontCloseSpider``) while the shared queue has requests, while a stopped
    worker's requests were just put back, or while another live worker is busy (it may queue
    more); once none of that has been so for ``REDIS_IDLE_CLOSE_SECONDS`` it lets the spider
    close (``finish_reason`` ``finished``). A negative value never closes (a standing worker).
    scrapy-redis's own ``MAX_IDLE_TIME_BEFORE_CLOSE`` only applies to its RedisSpider.
    """

    def __init__(self, crawler: Any, idle_seconds: float) -> None:
        self.crawler = crawler
        self.idle_seconds = idle_seconds
        self.quiet_since = time.monotonic()
        self._dequeued_seen = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedisIdleClose:
        if not redis_url(crawler.settings):
            raise NotConfigured
        extension = cls(crawler, _float_setting(crawler.settings, "REDIS_IDLE_CLOSE_SECONDS"))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        return extension

    def spider_opened(self, spider: Any) -> None:
        self.quiet_since = time.monotonic()

    def spider_idle(self, spider: Any) -> None:
        scheduler = _scheduler(self.crawler)
        now = time.monotonic()
        dequeued = getattr(scheduler, "dequeued", 0)
        if dequeued != self._dequeued_seen:  # this worker did something since it last idled
            self._dequeued_seen = dequeued
            self.quiet_since = now
        reason = self._reason_to_stay(scheduler)
        if reason:
            self.quiet_since = now
            raise DontCloseSpider(reason)
        if self.idle_seconds < 0 or now - self.quiet_since < self.idle_seconds:
            raise DontCloseSpider("waiting for work in the shared queue")
        self.crawler.stats.set_value(f"{STATS}/idle_close_seconds", self.idle_seconds)
        logger.info(
            "No request in the shared queue and no busy worker for %.0f s: closing this worker",
            self.idle_seconds,
        )

    @staticmethod
    def _reason_to_stay(scheduler: Any) -> str:
        if scheduler is None:
            return ""
        try:
            if scheduler.has_pending_requests():
                return "requests in the shared queue"
            if isinstance(scheduler, LeasingScheduler):
                if scheduler._recover_dead():
                    return "requests of a stopped worker are back in the queue"
                busy = scheduler.others_busy()
                if busy:
                    return f"worker(s) {', '.join(busy)} busy"
        except Exception as exc:  # Redis unreachable for a moment: wait, do not close
            logger.debug("Could not read the shared crawl's state from Redis: %s", exc)
            return "Redis unreachable"
        return ""
