"""Distributed crawling (kaltimnews/distributed.py, ``scrapy seed``): real Redis, real PostgreSQL,
real ``scrapy crawl`` worker processes against the bundled mirror served over HTTP.

Redis: ``KALTIMNEWS_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Every test uses its
own key prefix (``SCHEDULER_QUEUE_KEY`` / ``SCHEDULER_DUPEFILTER_KEY`` with a random part; every
key of ours starts with the queue key) and deletes its keys at teardown. When no Redis answers,
the tests skip loudly, unless ``KALTIMNEWS_REQUIRE_REDIS`` is set: then they fail. PostgreSQL:
the fixtures of tests/storage_fixtures.py (a fresh database per test; ``KALTIMNEWS_REQUIRE_POSTGRES``).

The add-on is passed on the command line (``-s ADDONS=...``, merged with the project's) when
settings.py does not enable it yet, so these tests do not depend on that line.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from scrapy.utils.project import get_project_settings
from scrapy.crawler import Crawler

from kaltimnews.distributed import (
    ADDON,
    DistributedDownloaderMiddleware,
    DistributedSpiderMiddleware,
    Frontier,
    RedisIdleClose,
    RedisScheduler,
    mask_redis_url,
    redis_url,
)
from kaltimnews.mirror import MirrorServer, bundled_mirror
from kaltimnews.spiders.suarakaltim import SuaraKaltimSpider

try:  # the PostgreSQL fixtures (they may move to conftest.py, which pytest loads by itself)
    from tests.storage_fixtures import *  # noqa: F403
except ImportError:  # pragma: no cover
    pass

pytestmark = pytest.mark.crawl

REPO = Path(__file__).resolve().parent.parent
SPIDER = "suarakaltim"
REDIS_TEST_URL = os.environ.get("KALTIMNEWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXPECTED = json.loads(
    (bundled_mirror(SPIDER) / "expected_articles.json").read_text("utf-8")
)["articles"]
#: The mirror's article that answers HTTP 500: forgotten by the shared duplicate filter.
FAILING_ARTICLE = "https://kaltim.suara.com/read/2024/02/02/090000/server-sedang-gangguan"
WORKER_TIMEOUT = 240.0
_PRIVATE_ENV = {
    "REDIS_URL",
    "MIRROR_URL",
    "DATABASE_URL",
    "SCRAPY_SETTINGS_MODULE",
    "KALTIMNEWS_LOG_LEVEL",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis server answers at {mask_redis_url(REDIS_TEST_URL)}: {exc}"
        if os.environ.get("KALTIMNEWS_REQUIRE_REDIS"):
            pytest.fail(f"{reason} (and KALTIMNEWS_REQUIRE_REDIS is set)", pytrace=False)
        loud = (
            f"!!! SKIPPING THE DISTRIBUTED CRAWL TESTS: {reason}. Start it (redis-server"
            " --daemonize yes --bind 127.0.0.1 --port 6379) or set KALTIMNEWS_REQUIRE_REDIS=1 to"
            " fail instead."
        )
        warnings.warn(loud, stacklevel=1)
        pytest.skip(loud)
    yield client
    client.close()


@dataclass
class Keys:
    prefix: str
    settings: dict[str, str]
    frontier: Frontier


@pytest.fixture
def redis_keys(redis_server: redis.Redis) -> Iterator[Keys]:
    """A private key prefix for one test; every key under it is deleted afterwards."""
    prefix = f"kaltimnews-test-{secrets.token_hex(6)}"
    settings = {
        "REDIS_URL": REDIS_TEST_URL,
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
    }
    scrapy_settings = get_project_settings()
    scrapy_settings.setdict(settings, priority="cmdline")
    frontier = Frontier(redis_server, scrapy_settings, SPIDER)
    try:
        yield Keys(prefix, settings, frontier)
    finally:
        keys = list(redis_server.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            redis_server.delete(*keys)


@contextmanager
def slow_mirror(delay: float) -> Iterator[MirrorServer]:
    """The bundled mirror, every answer ``delay`` seconds late: a crawl long enough to share."""
    server = MirrorServer(bundled_mirror(SPIDER))
    base = server.RequestHandlerClass

    class SlowHandler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:  # noqa: N802
            time.sleep(delay)
            super().do_GET()

    server.RequestHandlerClass = SlowHandler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def database_url(postgres_database_factory: Callable[[], str]) -> str:  # noqa: F405
    """A fresh PostgreSQL database that several processes share."""
    return postgres_database_factory()


# --------------------------------------------------------------------------- processes


def _addon_settings() -> dict[str, str]:
    """``-s ADDONS=...`` when settings.py does not enable the add-on (the project's kept)."""
    addons = get_project_settings().getdict("ADDONS")
    if ADDON in addons:
        return {}
    return {"ADDONS": json.dumps({**addons, ADDON: 0})}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    stats_path: Path
    log_path: Path

    def wait(self, timeout: float = WORKER_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text("utf-8")) if self.stats_path.exists() else {}

    @property
    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""


def _scrapy_settings(
    workdir: Path, name: str, keys: Keys, mirror_url: str, database_url: str, extra: dict[str, Any]
) -> dict[str, str]:
    return {
        **_addon_settings(),
        **keys.settings,
        "MIRROR_URL": mirror_url,
        "DATABASE_URL": database_url,
        "STATS_FILE": str(workdir / f"{name}-stats.json"),
        "LOG_FILE": str(workdir / f"{name}.log"),
        "DEAD_LETTER_DIR": str(workdir / "dead-letter"),
        # The crawl-health monitors judge one crawl; a worker does part of one.
        "SPIDERMON_ENABLED": "False",
        "HEALTH_REPORT": str(workdir / f"health-{name}.json"),
        "REDIS_IDLE_CLOSE_SECONDS": "3",
        **{key: str(value) for key, value in extra.items()},
    }


def start_worker(
    workdir: Path, name: str, keys: Keys, mirror_url: str, database_url: str, **extra: Any
) -> Worker:
    settings = _scrapy_settings(workdir, name, keys, mirror_url, database_url, extra)
    command = [sys.executable, "-m", "scrapy", "crawl", SPIDER]
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    out = (workdir / f"{name}.out").open("wb")
    process = subprocess.Popen(
        command, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    return Worker(name, process, workdir / f"{name}-stats.json", workdir / f"{name}.log")


def seed(workdir: Path, keys: Keys, *options: str) -> str:
    command = [sys.executable, "-m", "scrapy", "seed", SPIDER, *options]
    for key, value in {**_addon_settings(), **keys.settings}.items():
        command += ["-s", f"{key}={value}"]
    done = subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stored_urls(database_url: str) -> list[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("articles"):
                return []
            return [row[0] for row in conn.execute(sa.text("SELECT url FROM articles"))]
    finally:
        engine.dispose()


def assert_clean_finish(worker: Worker, returncode: int) -> dict[str, Any]:
    stats = worker.stats
    assert returncode == 0, f"{worker.name} exited {returncode}:\n{worker.log[-4000:]}"
    assert stats.get("finish_reason") == "finished", worker.log[-4000:]
    assert "Traceback" not in worker.log, worker.log[-4000:]
    # scrapy-redis's calls Scrapy 2.19 deprecates are worked around (distributed.py).
    warned = [line for line in worker.log.splitlines() if "Warning" in line and "scrapy_redis/" in line]
    assert warned == [], warned
    return stats


def assert_frontier_drained(keys: Keys) -> None:
    server, frontier = keys.frontier.server, keys.frontier
    assert server.zcard(frontier.queue_key) == 0
    assert frontier.workers() == [], "a closed worker stays registered"
    assert list(server.scan_iter(match=f"{frontier.queue_key}:inflight:*")) == []
    assert list(server.scan_iter(match=f"{frontier.queue_key}:worker:*")) == []


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------- the shared crawl


@pytest.mark.postgres
def test_two_workers_share_the_crawl(tmp_path: Path, redis_keys: Keys, database_url: str) -> None:
    """Seed, then two workers at once: every expected article stored exactly once, both worked."""
    output = seed(tmp_path, redis_keys)
    assert "5 start request(s) pushed" in output, output
    assert redis_keys.frontier.current_round() == 1

    # Each answer 0.3 s late, one request at a time per worker: the crawl takes a few seconds
    # alone, so two workers started together both get articles.
    with slow_mirror(0.3) as mirror:
        workers = [
            start_worker(
                tmp_path, f"worker{n}", redis_keys, mirror.url, database_url,
                # A long lease: no worker is taken for dead on a loaded machine here.
                CONCURRENT_REQUESTS=1, REDIS_LEASE_SECONDS=30,
            )  # fmt: skip
            for n in (1, 2)
        ]
        returncodes = [worker.wait() for worker in workers]

    stats = [assert_clean_finish(w, rc) for w, rc in zip(workers, returncodes, strict=True)]
    urls = stored_urls(database_url)
    assert sorted(urls) == sorted(EXPECTED), "the union of the workers' articles is not the expected set"
    assert len(urls) == len(set(urls)) == len(EXPECTED), "duplicate rows"
    for worker, worker_stats in zip(workers, stats, strict=True):
        assert worker_stats.get("kaltimnews/distributed/article_responses", 0) > 0, (
            f"{worker.name} downloaded no article page: {worker_stats}"
        )
        assert worker_stats.get("kaltimnews/articles/emitted", 0) > 0, worker.name
        assert "kaltimnews/distributed/seeded_round" not in worker_stats, "the round was seeded already"
    emitted = sum(s.get("kaltimnews/articles/emitted", 0) for s in stats)
    assert emitted == len(EXPECTED), "an article was emitted by both workers"
    inserted = sum(s.get("kaltimnews/storage/inserted", 0) for s in stats)
    assert inserted == len(EXPECTED)
    # Home page, sitemaps and listings once each in the round, across both workers.
    pages = sum(s.get("kaltimnews/distributed/dequeued/page", 0) for s in stats)
    assert pages == 7, stats
    assert_frontier_drained(redis_keys)
    # Every article fingerprint stays for later crawls, but the one that failed with HTTP 500.
    server = redis_keys.frontier.server
    assert server.scard(redis_keys.frontier.dupefilter_key) >= len(EXPECTED)
    assert sum(s.get("kaltimnews/distributed/forgotten", 0) for s in stats) >= 1
    assert not server.sismember(
        redis_keys.frontier.dupefilter_key, _fingerprint(FAILING_ARTICLE)
    ), "the failed article would never be tried again"


@pytest.mark.postgres
def test_killed_worker_loses_nothing(tmp_path: Path, redis_keys: Keys, database_url: str) -> None:
    """A worker killed mid-crawl (SIGKILL, its article batch not committed yet): the next worker
    takes back the requests it had leased, and every article is stored exactly once."""
    seed(tmp_path, redis_keys)
    frontier = redis_keys.frontier
    with slow_mirror(0.3) as mirror:
        doomed = start_worker(
            tmp_path, "doomed", redis_keys, mirror.url, database_url,
            CONCURRENT_REQUESTS=2, REDIS_LEASE_SECONDS=2,
        )  # fmt: skip

        def leased_articles() -> int:
            workers = frontier.workers()
            if not workers or doomed.process.poll() is not None:
                return 0
            return frontier.server.hlen(frontier.journal_key(workers[0])) >= 6

        try:
            wait_for(leased_articles, 120, "the first worker to lease 6 requests")
        finally:
            doomed.kill(signal.SIGKILL)
        # Its articles were waiting in an uncommitted batch: lost with it, unless taken back.
        assert stored_urls(database_url) == [], "the killed worker had committed its batch"

        survivor = start_worker(
            tmp_path, "survivor", redis_keys, mirror.url, database_url,
            CONCURRENT_REQUESTS=4, REDIS_LEASE_SECONDS=2,
        )  # fmt: skip
        stats = assert_clean_finish(survivor, survivor.wait())

    assert stats.get("kaltimnews/distributed/leases/recovered", 0) > 0, stats
    urls = stored_urls(database_url)
    assert sorted(urls) == sorted(EXPECTED)
    assert len(urls) == len(set(urls))
    assert_frontier_drained(redis_keys)


@pytest.mark.postgres
def test_workers_seed_each_round_once(tmp_path: Path, redis_keys: Keys, database_url: str) -> None:
    """Without ``scrapy seed``: of two workers started together exactly one seeds the round.
    A later round (the seed lock expired) reads the home page, sitemaps and listings again but
    fetches no stored article, except the one whose download had failed."""
    with slow_mirror(0.1) as mirror:
        workers = [
            start_worker(
                tmp_path, f"round1-{n}", redis_keys, mirror.url, database_url,
                CONCURRENT_REQUESTS=2, REDIS_SEED_LOCK_SECONDS=1,
            )  # fmt: skip
            for n in (1, 2)
        ]
        stats = [assert_clean_finish(w, w.wait()) for w in workers]
        seeders = [s for s in stats if s.get("kaltimnews/distributed/seeded_round")]
        assert len(seeders) == 1, "not exactly one worker seeded the round"
        assert seeders[0]["kaltimnews/distributed/seeded_round"] == 1
        assert sorted(stored_urls(database_url)) == sorted(EXPECTED)

        later = start_worker(
            tmp_path, "round2", redis_keys, mirror.url, database_url, REDIS_SEED_LOCK_SECONDS=1
        )
        again = assert_clean_finish(later, later.wait())

    assert again.get("kaltimnews/distributed/seeded_round") == 2
    assert again.get("kaltimnews/distributed/dequeued/page") == 7, again
    # Articles of round 1 are filtered before they are queued; only the failed one is tried
    # again (and fails again: the mirror always answers 500).
    assert again.get("kaltimnews/distributed/article_responses", 0) >= 1, again
    assert again.get("kaltimnews/distributed/dequeued/article") == again.get(
        "downloader/response_status_count/500"
    ), again
    assert again.get("kaltimnews/storage/inserted", 0) == 0
    urls = stored_urls(database_url)
    assert len(urls) == len(set(urls)) == len(EXPECTED)
    assert_frontier_drained(redis_keys)


# --------------------------------------------------------------------------- without Redis


def _components(crawler: Any) -> dict[str, Any]:
    settings = crawler.settings
    return {
        "SCHEDULER": settings.get("SCHEDULER"),
        "DUPEFILTER_CLASS": settings.get("DUPEFILTER_CLASS"),
        "SCHEDULER_PERSIST": settings.get("SCHEDULER_PERSIST"),
        "SPIDER_MIDDLEWARES": dict(settings.getdict("SPIDER_MIDDLEWARES")),
        "DOWNLOADER_MIDDLEWARES": dict(settings.getdict("DOWNLOADER_MIDDLEWARES")),
        "EXTENSIONS": dict(settings.getdict("EXTENSIONS")),
    }


def _crawler(monkeypatch: pytest.MonkeyPatch, env_url: str | None, **settings: Any) -> Any:
    if env_url is None:
        monkeypatch.delenv("REDIS_URL", raising=False)
    else:
        monkeypatch.setenv("REDIS_URL", env_url)
    project = get_project_settings()
    project.setdict(settings, priority="cmdline")
    crawler = Crawler(SuaraKaltimSpider, project)
    crawler.addons.load_settings(crawler.settings)  # what Crawler._apply_settings() starts with
    return crawler


def test_without_redis_url_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    addons = get_project_settings().getdict("ADDONS")
    plain = _crawler(monkeypatch, None, ADDONS={k: v for k, v in addons.items() if k != ADDON})
    with_addon = _crawler(monkeypatch, None, ADDONS={**addons, ADDON: 0})
    assert with_addon.settings.get("SCHEDULER") == "scrapy.core.scheduler.Scheduler"
    assert with_addon.settings.get("DUPEFILTER_CLASS") == "scrapy.dupefilters.RFPDupeFilter"
    assert _components(with_addon) == _components(plain)
    assert not any(type(a).__name__ == "RedisAddon" for a in with_addon.addons.addons)


def test_without_redis_url_redis_is_not_even_imported() -> None:
    """The add-on enabled, no REDIS_URL: not even redis or scrapy-redis is imported."""
    code = (
        "import json, sys\n"
        "from scrapy.crawler import Crawler\n"
        "from scrapy.utils.project import get_project_settings\n"
        "from kaltimnews.spiders.suarakaltim import SuaraKaltimSpider\n"
        "settings = get_project_settings()\n"
        "settings.set('ADDONS', json.loads(sys.argv[1]), priority='cmdline')\n"
        "crawler = Crawler(SuaraKaltimSpider, settings)\n"
        "crawler.addons.load_settings(crawler.settings)\n"
        "assert 'kaltimnews.distributed' in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'scrapy_redis')))\n"
    )
    addons = json.dumps({**get_project_settings().getdict("ADDONS"), ADDON: 0})
    done = subprocess.run(
        [sys.executable, "-c", code, addons], cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_redis_url_from_setting_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    addons = {**get_project_settings().getdict("ADDONS"), ADDON: 0}
    for crawler in (
        _crawler(monkeypatch, None, ADDONS=addons, REDIS_URL="redis://127.0.0.1:6379/3"),
        _crawler(monkeypatch, "redis://127.0.0.1:6379/3", ADDONS=addons),
    ):
        settings = crawler.settings
        assert redis_url(settings) == "redis://127.0.0.1:6379/3"
        assert settings.get("REDIS_URL") == "redis://127.0.0.1:6379/3"
        assert issubclass(_load(settings.get("SCHEDULER")), RedisScheduler)
        assert settings.get("DUPEFILTER_CLASS") == "scrapy_redis.dupefilter.RFPDupeFilter"
        assert settings.getbool("SCHEDULER_PERSIST") is True
        assert DistributedSpiderMiddleware in settings.getdict("SPIDER_MIDDLEWARES")
        assert DistributedDownloaderMiddleware in settings.getdict("DOWNLOADER_MIDDLEWARES")
        assert RedisIdleClose in settings.getdict("EXTENSIONS")
    # -s REDIS_URL= (empty) switches it off even with the environment variable.
    off = _crawler(monkeypatch, "redis://127.0.0.1:6379/3", ADDONS=addons, REDIS_URL="")
    assert off.settings.get("SCHEDULER") == "scrapy.core.scheduler.Scheduler"


def _fingerprint(url: str) -> str:
    from scrapy import Request

    from kaltimnews.distributed import page_fingerprint

    return page_fingerprint(Request(url))


def _load(path: Any) -> Any:
    from scrapy.utils.misc import load_object

    return load_object(path)


def test_seed_without_redis_url_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "seed", SPIDER],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "REDIS_URL is not set" in done.stderr


def test_crawl_without_redis_url_uses_scrapys_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add-on enabled, no REDIS_URL: an ordinary crawl, Scrapy's own memory queue."""
    from tests.crawling import run_crawl

    monkeypatch.delenv("REDIS_URL", raising=False)

    with slow_mirror(0) as mirror:
        result = run_crawl(
            SPIDER,
            mirror.url,
            tmp_path,
            settings={**_addon_settings(), "SPIDERMON_ENABLED": "False",
                      "HEALTH_REPORT": str(tmp_path / "health.json")},
        )  # fmt: skip
    assert result.stat("finish_reason") == "finished", result.log[-3000:]
    assert result.stat("scheduler/enqueued/memory") > 0
    assert not [key for key in result.stats if "redis" in key or "distributed" in key]
    assert sorted(result.urls) == sorted(EXPECTED)
