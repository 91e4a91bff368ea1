"""Distributed crawl benchmark: one Redis worker against two, on one generated mirror, same run.

Usage::

    .venv/bin/python bench/bench_distributed.py [--articles 2000] [--workers 1,2] [--no-baseline]
                                                [--repeats 1] [--json out.json]

It generates (or reuses) ``bench/out/distributed/mirror-N`` with ``generate_mirror.py`` (N
articles, its own folder so that other benchmarks regenerating ``bench/out/mirror-N`` do not
interfere), serves it with ``static_server.py`` (a separate process), and runs, in this order:

1. ``baseline``: one ``scrapy crawl suarakaltim`` without ``REDIS_URL`` (Scrapy's own scheduler),
   for context: what Redis costs one process;
2. for each worker count W (``--workers``, default 1 then 2): a fresh PostgreSQL database and a
   fresh Redis key prefix; W workers (``scrapy crawl suarakaltim`` with ``REDIS_URL`` and
   ``REDIS_SEEDED_ONLY=1``) started together; once all W have registered in Redis,
   ``scrapy seed suarakaltim``; the workers close ``REDIS_IDLE_CLOSE_SECONDS`` after the queue
   ran dry.

All crawls store into PostgreSQL (``--postgres-url`` is the maintenance database; each scenario
creates ``kaltimnews_bench_<random>`` and drops it), with ``common.CRAWL_SETTINGS`` (16
concurrent requests per process, no delays) and no feed.

Pages per second of a Redis scenario = responses of all its workers / the crawl's span, from the
first request any worker took from the queue (``kaltimnews/distributed/first_dequeue_at``) to the
last response any worker got (``kaltimnews/distributed/last_response_at``): the wait for the seed
and the idle wait before closing are not counted. The baseline's is responses over Scrapy's
``elapsed_time_seconds`` (its process start-up is not counted either). CPU seconds and peak memory
are each process's own (``os.wait4``); CPU ms per page (all processes of the scenario) is what
Redis costs, whatever else the machine runs. The server counts the article pages actually requested,
so a page fetched twice by two workers would show. The table also checks the store: articles
stored and duplicate rows.

``run(...)`` is importable and returns what ``--json`` writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importable from anywhere

import common  # noqa: E402
import generate_mirror  # noqa: E402
from common import OUT, PYTHON, REPO, Measured, read_stats, run_measured, scrapy_command  # noqa: E402

SEED = 7
SPIDER = "suarakaltim"
ADDON = "kaltimnews.distributed.RedisAddon"
DEFAULT_POSTGRES = os.environ.get(
    "KALTIMNEWS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_REDIS = os.environ.get("KALTIMNEWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# --------------------------------------------------------------------------- mirror


def _source_hash() -> str:
    digest = hashlib.sha256(Path(generate_mirror.__file__).read_bytes())
    for era in generate_mirror.ERAS:
        digest.update((generate_mirror.FIXTURES / era.fixture / "index.html").read_bytes())
    return digest.hexdigest()[:16]


def ensure_mirror(n: int, seed: int = SEED) -> tuple[Path, dict[str, Any]]:
    """``bench/out/distributed/mirror-N``, generated unless an identical one is there."""
    root = OUT / "distributed" / f"mirror-{n}"
    manifest_path = root / "bench-manifest.json"
    source = _source_hash()
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text("utf-8"))
        if manifest.get("articles") == n and manifest.get("seed") == seed and manifest.get("source_hash") == source:
            return root, manifest
    start = time.perf_counter()
    manifest = generate_mirror.generate(n, root, seed=seed)
    manifest["source_hash"] = source
    manifest["generate_s"] = round(time.perf_counter() - start, 1)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return root, manifest


# --------------------------------------------------------------------------- services


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one scenario, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"kaltimnews_bench_{secrets.token_hex(5)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            wait_for_postgres(admin_url)
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # never hide the scenario's own error
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
        admin.dispose()


def wait_for_postgres(admin_url: str, timeout: float = 180.0) -> None:
    """Wait until PostgreSQL answers (on a shared machine, other tests stop and start it)."""
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
    finally:
        engine.dispose()


def with_retries(what: str, attempts: int, admin_url: str, function: Any, *args: Any) -> dict[str, Any]:
    """Run a scenario; when it fails (a database restarted under it, say), wait for PostgreSQL
    and run it again, at most ``attempts`` times in all. The report says how many it took."""
    for attempt in range(1, attempts + 1):
        wait_for_postgres(admin_url)
        try:
            result = function(*args)
        except Exception as exc:
            if attempt == attempts:
                raise
            print(f"{what} failed ({type(exc).__name__}: {str(exc)[:300]}); running it again",
                  file=sys.stderr)  # fmt: skip
            continue
        result["attempts"] = attempt
        return result
    raise AssertionError("unreachable")


def store_figures(database_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            total, distinct = conn.execute(sa.text("SELECT count(*), count(DISTINCT url) FROM articles")).one()
    finally:
        engine.dispose()
    return {"stored": int(total), "duplicate_rows": int(total) - int(distinct)}


@contextmanager
def redis_prefix(redis_url: str) -> Iterator[tuple[Any, str]]:
    """A Redis client and a fresh key prefix, every key under it deleted afterwards."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.ping()
    prefix = f"kaltimnews-bench-{secrets.token_hex(5)}"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _addon_settings() -> dict[str, str]:
    from scrapy.utils.project import get_project_settings

    addons = get_project_settings().getdict("ADDONS")
    return {} if ADDON in addons else {"ADDONS": json.dumps({**addons, ADDON: 0})}


# --------------------------------------------------------------------------- scenarios


def _common_settings(workdir: Path, name: str, database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "HEALTH_REPORT": common.rel(workdir / f"health-{name}.json"),
    }


def run_baseline(
    server: common.Server, manifest: dict[str, Any], workdir: Path, admin_url: str, tag: str = ""
) -> dict[str, Any]:
    """One process, Scrapy's own scheduler (no REDIS_URL)."""
    name = f"baseline{tag}"
    with postgres_database(admin_url) as database_url:
        command, stats_path = scrapy_command(
            "crawl", mirror_url=server.url, workdir=workdir, name=name,
            listing_pages=manifest["listing_pages_arg"], feed=False,
            settings={**_common_settings(workdir, name, database_url), "REDIS_URL": ""},
        )  # fmt: skip
        stats_path.unlink(missing_ok=True)
        server.counters(reset=True)
        measured = run_measured(command, log=workdir / f"{name}.out")
        counters = server.counters() or {}
        stats = read_stats(stats_path)
        store = store_figures(database_url)
    _check(measured, stats, name)
    elapsed = float(stats.get("elapsed_time_seconds") or 0)
    responses = int(stats.get("response_received_count") or 0)
    return {
        "scenario": "baseline",
        "label": "no Redis (Scrapy's scheduler)",
        "workers": 1,
        "span_s": round(elapsed, 2),
        "responses": responses,
        "pages_per_s": round(responses / elapsed, 1) if elapsed else 0.0,
        "article_requests": counters.get("article_requests"),
        "articles_emitted": int(stats.get("kaltimnews/articles/emitted") or 0),
        **store,
        "per_worker": [_worker_figures(name, measured, stats)],
    }


def run_workers(
    count: int,
    server: common.Server,
    manifest: dict[str, Any],
    workdir: Path,
    admin_url: str,
    redis_url: str,
    idle_seconds: float,
    timeout: float,
    tag: str = "",
) -> dict[str, Any]:
    """``count`` Redis workers started together, then the seed; figures of the shared crawl."""
    label = f"redis-{count}"
    with postgres_database(admin_url) as database_url, redis_prefix(redis_url) as (client, prefix):
        keys = {
            "REDIS_URL": redis_url,
            "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
        }
        commands = []
        for n in range(1, count + 1):
            name = f"{label}{tag}-w{n}"
            command, stats_path = scrapy_command(
                "crawl", mirror_url=server.url, workdir=workdir, name=name,
                listing_pages=manifest["listing_pages_arg"], feed=False,
                settings={
                    **_common_settings(workdir, name, database_url), **_addon_settings(), **keys,
                    "REDIS_SEEDED_ONLY": "1", "REDIS_IDLE_CLOSE_SECONDS": str(idle_seconds),
                },
            )  # fmt: skip
            stats_path.unlink(missing_ok=True)
            commands.append((name, command, stats_path))
        server.counters(reset=True)
        results: dict[str, Measured] = {}

        def work(name: str, command: list[str]) -> None:
            results[name] = run_measured(command, log=workdir / f"{name}.out", timeout=timeout)

        threads = [threading.Thread(target=work, args=(name, command)) for name, command, _ in commands]
        for thread in threads:
            thread.start()
        workers_key = f"{prefix}:{SPIDER}:requests:workers"
        deadline = time.monotonic() + 180
        while client.scard(workers_key) < count:
            if time.monotonic() > deadline or not any(t.is_alive() for t in threads):
                raise RuntimeError(f"{label}: the workers did not all start; see {workdir}")
            time.sleep(0.1)
        seed = subprocess.run(
            [PYTHON, "-m", "scrapy", "seed", SPIDER, *sum((["-s", f"{k}={v}"] for k, v in {**_addon_settings(), **keys}.items()), [])],
            cwd=REPO, env=common.crawl_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if seed.returncode != 0:
            raise RuntimeError(f"seed failed: {seed.stdout}{seed.stderr}")
        for thread in threads:
            thread.join()
        counters = server.counters() or {}
        store = store_figures(database_url)
    per_worker = []
    firsts, lasts, responses, emitted = [], [], 0, 0
    for name, _command, stats_path in commands:
        stats = read_stats(stats_path)
        _check(results[name], stats, name)
        per_worker.append(_worker_figures(name, results[name], stats))
        firsts.append(float(stats.get("kaltimnews/distributed/first_dequeue_at") or 0))
        lasts.append(float(stats.get("kaltimnews/distributed/last_response_at") or 0))
        responses += int(stats.get("response_received_count") or 0)
        emitted += int(stats.get("kaltimnews/articles/emitted") or 0)
    firsts = [f for f in firsts if f]
    span = max(lasts) - min(firsts) if firsts and lasts else 0.0
    return {
        "scenario": label,
        "label": f"Redis, {count} worker{'s' if count > 1 else ''}",
        "workers": count,
        "span_s": round(span, 2),
        "responses": responses,
        "pages_per_s": round(responses / span, 1) if span else 0.0,
        "article_requests": counters.get("article_requests"),
        "articles_emitted": emitted,
        **store,
        "per_worker": per_worker,
    }


def _worker_figures(name: str, measured: Measured, stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "responses": int(stats.get("response_received_count") or 0),
        "articles_emitted": int(stats.get("kaltimnews/articles/emitted") or 0),
        "wall_s": measured.wall_s,
        "cpu_s": round(measured.cpu_s, 1),
        "max_rss_mb": measured.max_rss_mb,
        "recovered": int(stats.get("kaltimnews/distributed/leases/recovered") or 0),
        "log": measured.log,
    }


def _check(measured: Measured, stats: dict[str, Any], name: str) -> None:
    # Exit status 1 may only mean a failed health monitor; the finish reason says if it crawled.
    if stats.get("finish_reason") != "finished":
        raise RuntimeError(
            f"{name} failed (exit {measured.returncode}, {stats.get('finish_reason')}); see"
            f" {measured.log}:\n{common.tail(measured.log)}"
        )


# --------------------------------------------------------------------------- run, report


def run(
    articles: int = 2000,
    workers: Sequence[int] = (1, 2),
    baseline: bool = True,
    postgres_url: str = DEFAULT_POSTGRES,
    redis_url: str = DEFAULT_REDIS,
    idle_seconds: float = 3.0,
    timeout: float = 3600.0,
    attempts: int = 3,
    repeats: int = 1,
) -> dict[str, Any]:
    """Every scenario on one mirror and one server, in one run (``repeats`` times, the scenarios
    interleaved; each scenario's row is its median run); the figures as a dict."""
    root, manifest = ensure_mirror(articles)
    workdir = OUT / "distributed" / time.strftime("run-%Y%m%dT%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "benchmark": "distributed",
        "machine": common.machine(),
        "articles": articles,
        "mirror": common.rel(root),
        "expected_requests": manifest.get("expected_requests"),
        "settings": {**common.CRAWL_SETTINGS, "REDIS_IDLE_CLOSE_SECONDS": idle_seconds},
        "workdir": common.rel(workdir),
        "repeats": repeats,
        "results": [],
    }
    runs: dict[str, list[dict[str, Any]]] = {}
    with common.mirror_server(root, "fast") as server:
        for repeat in range(1, repeats + 1):
            tag = f"-r{repeat}" if repeats > 1 else ""
            if baseline:
                runs.setdefault("baseline", []).append(
                    with_retries(
                        "baseline", attempts, postgres_url, run_baseline,
                        server, manifest, workdir, postgres_url, tag,
                    )  # fmt: skip
                )
            for count in workers:
                runs.setdefault(f"redis-{count}", []).append(
                    with_retries(
                        f"{count} worker(s)", attempts, postgres_url, run_workers,
                        count, server, manifest, workdir, postgres_url, redis_url, idle_seconds,
                        timeout, tag,
                    )  # fmt: skip
                )
    for scenario_runs in runs.values():
        ordered = sorted(scenario_runs, key=lambda r: r["pages_per_s"])
        median_run = dict(ordered[(len(ordered) - 1) // 2])
        median_run["pages_per_s_all"] = [r["pages_per_s"] for r in scenario_runs]
        report["results"].append(median_run)
    for result in report["results"]:
        cpu = sum(w["cpu_s"] for w in result["per_worker"])
        result["cpu_s"] = round(cpu, 1)
        result["cpu_ms_per_page"] = round(cpu / result["responses"] * 1000, 1) if result["responses"] else None
    one = next((r for r in report["results"] if r["scenario"] == "redis-1"), None)
    for result in report["results"]:
        result["speedup_vs_1_worker"] = (
            round(result["pages_per_s"] / one["pages_per_s"], 2) if one and one["pages_per_s"] else None
        )
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def table(report: dict[str, Any]) -> str:
    header = (
        f"{'scenario':<30} {'workers':>7} {'pages':>6} {'span s':>7} {'pages/s':>8} {'x 1 wkr':>7}"
        f" {'CPU s':>6} {'CPU ms/page':>11} {'article reqs':>12} {'stored':>6} {'dup rows':>8}"
        "  per worker: pages / articles / CPU s / RSS MB"
    )
    repeated = report.get("repeats", 1) > 1
    if repeated:
        header += "  (pages/s of every repeat)"
    lines = [
        f"Distributed crawl, {report['articles']} articles ({report['mirror']}),"
        f" {report['machine']['cores']} cores, load {report['machine']['load_average_at_start']}"
        f" at start, {report['load_average_at_end']} at end",
        header,
        "-" * len(header),
    ]
    for r in report["results"]:
        workers = ", ".join(
            f"{w['responses']} / {w['articles_emitted']} / {w['cpu_s']:.0f} / {w['max_rss_mb']:.0f}"
            for w in r["per_worker"]
        )
        speedup = f"{r['speedup_vs_1_worker']:.2f}" if r.get("speedup_vs_1_worker") else "-"
        lines.append(
            f"{r['label']:<30} {r['workers']:>7} {r['responses']:>6} {r['span_s']:>7.1f}"
            f" {r['pages_per_s']:>8.1f} {speedup:>7} {r['cpu_s']:>6.1f} {r['cpu_ms_per_page'] or 0:>11.1f}"
            f" {r['article_requests'] or 0:>12}"
            f" {r['stored']:>6} {r['duplicate_rows']:>8}  {workers}"
            + (f"  ({', '.join(str(v) for v in r['pages_per_s_all'])})" if repeated else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000, help="articles in the generated mirror")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--no-baseline", action="store_true", help="skip the crawl without Redis")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="maintenance database URL")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="REDIS_IDLE_CLOSE_SECONDS")
    parser.add_argument("--repeats", type=int, default=1, help="run every scenario this many times")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.articles < 2000:
        print("note: the acceptance figure is for at least 2,000 articles", file=sys.stderr)
    report = run(
        articles=args.articles,
        workers=[int(w) for w in args.workers.split(",") if w.strip()],
        baseline=not args.no_baseline,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
        idle_seconds=args.idle_seconds,
        repeats=args.repeats,
    )
    print(table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
