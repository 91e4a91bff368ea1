"""End-to-end crawl benchmarks: the full crawl against its ceiling, incremental re-crawls, scale.

Usage::

    .venv/bin/python bench/bench_crawl.py [--sizes 1000,5000] [--repeats 3] [--json out.json]

For each N it generates (or reuses) ``bench/out/mirror-N`` with ``generate_mirror.py``, serves it
with ``static_server.py`` and, ``--repeats`` times, runs in this order:

1. the baseline (``scrapy runspider bench/baseline_spider.py``): the same links, no extraction;
2. the crawl (``scrapy crawl suarakaltim`` with its default pipelines and ``-O`` JSONL feed),
   into a fresh SQLite store;
3. the same crawl again on the same store: the incremental crawl.

Both spiders get the same settings on the command line (``common.CRAWL_SETTINGS`` and
``MIRROR_URL``) and the same server. Pages per second is responses over Scrapy's
``elapsed_time_seconds``; CPU seconds and peak memory (max RSS) are the crawl process's own, from
``os.wait4``; article requests are counted by the server. The crawl/baseline ratio is taken
within each repeat, then the median over the repeats.

``server_ceiling()`` runs the baseline against the project's stdlib server and this fast one,
and times each server alone; ``scrapy_bench()`` runs ``scrapy bench`` for context.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import generate_mirror
from common import (
    OUT,
    PYTHON,
    Measured,
    median,
    mirror_server,
    read_stats,
    run_measured,
    scrapy_command,
    stats_figures,
)

SEED = 7


# --------------------------------------------------------------------------- mirrors


def _source_hash() -> str:
    """What a generated mirror depends on: the generator and the fixture pages it reuses."""
    digest = hashlib.sha256(Path(generate_mirror.__file__).read_bytes())
    for era in generate_mirror.ERAS:
        digest.update((generate_mirror.FIXTURES / era.fixture / "index.html").read_bytes())
    for name in ("index.html", "indeks/index.html", "robots.txt"):
        digest.update((generate_mirror.FIXTURES / name).read_bytes())
    return digest.hexdigest()[:16]


def ensure_mirror(n: int, seed: int = SEED) -> tuple[Path, dict[str, Any]]:
    """``bench/out/mirror-N``, generated unless an identical one is there already."""
    root = OUT / f"mirror-{n}"
    manifest_path = root / "bench-manifest.json"
    source = _source_hash()
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text("utf-8"))
        if manifest.get("seed") == seed and manifest.get("source_hash") == source:
            return root, manifest
    # In a process of its own: generating 20,000 pages in this one would leave it hundreds of MB
    # bigger for the rest of the run.
    start = time.perf_counter()
    subprocess.run(
        [PYTHON, generate_mirror.__file__, str(n), str(root), "--seed", str(seed)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["source_hash"] = source
    manifest["generate_s"] = round(time.perf_counter() - start, 1)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return root, manifest


def generate_command(n: int, seed: int = SEED) -> str:
    return f".venv/bin/python bench/generate_mirror.py {n} bench/out/mirror-{n} --seed {seed}"


# --------------------------------------------------------------------------- one run


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_spider(
    kind: str,
    server: common.Server,
    manifest: dict[str, Any],
    workdir: Path,
    name: str,
    database: Path | None = None,
    runner: tuple[str, ...] = (PYTHON,),
    timeout: float = 3 * 3600,
) -> dict[str, Any]:
    """One crawl or baseline run: process measurements, stats figures and server counters."""
    command, stats_path = scrapy_command(
        kind,
        mirror_url=server.url,
        workdir=workdir,
        name=name,
        listing_pages=manifest["listing_pages_arg"],
        database=database,
        runner=runner,
    )
    stats_path.unlink(missing_ok=True)
    server.counters(reset=True)
    load = os.getloadavg()[0]
    measured: Measured = run_measured(command, log=workdir / f"{name}.out", timeout=timeout)
    figures = stats_figures(read_stats(stats_path))
    counters = server.counters() or {}
    result = {
        **measured.as_dict(),
        **figures,
        "server": counters,
        "article_requests": counters.get("article_requests"),
        "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],  # before, after
    }
    articles = max(figures["articles"], 1)
    result["cpu_s_per_1000_articles"] = round(measured.cpu_s / articles * 1000, 2)
    # The project's `crawl` command exits 1 when its health monitors fail a crawl that ran to
    # the end: that is reported (returncode), not a benchmark failure.
    if figures["finish_reason"] != "finished" or measured.returncode not in (0, 1):
        raise RuntimeError(
            f"{name} failed (exit {measured.returncode}, {figures['finish_reason']}); "
            f"see {measured.log}:\n{common.tail(measured.log)}"
        )
    return result


def _summary(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, float]:
    return {key: round(median([run[key] for run in runs]), 3) for key in keys}


RUN_KEYS = (
    "wall_s", "elapsed_s", "pages_per_s", "cpu_s", "max_rss_mb", "requests", "responses",
    "articles", "cpu_s_per_1000_articles",
)  # fmt: skip


def crawl_size(n: int, repeats: int, server_kind: str = "fast") -> dict[str, Any]:
    """Baseline, crawl and incremental crawl of an N-article mirror, ``repeats`` times."""
    root, manifest = ensure_mirror(n)
    workdir = OUT / f"crawl-{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "store.sqlite3"
    baselines, crawls, incrementals, commands = [], [], [], {}
    with mirror_server(root, server_kind) as server:
        for repeat in range(repeats):
            baseline = run_spider("baseline", server, manifest, workdir, "baseline")
            _remove_database(database)
            crawl = run_spider("crawl", server, manifest, workdir, "crawl", database=database)
            incremental = run_spider("crawl", server, manifest, workdir, "incremental", database=database)
            crawl["ratio_to_baseline"] = round(crawl["pages_per_s"] / baseline["pages_per_s"], 3)
            incremental["speedup_wall"] = round(crawl["wall_s"] / incremental["wall_s"], 1)
            incremental["speedup_elapsed"] = round(crawl["elapsed_s"] / max(incremental["elapsed_s"], 1e-3), 1)
            baselines.append(baseline)
            crawls.append(crawl)
            incrementals.append(incremental)
            print(
                f"  N={n} repeat {repeat + 1}/{repeats}: baseline {baseline['pages_per_s']} p/s, "
                f"crawl {crawl['pages_per_s']} p/s ({crawl['ratio_to_baseline']:.0%}), "
                f"{crawl['max_rss_mb']} MB; incremental {incremental['requests']} requests, "
                f"{incremental['wall_s']} s",
                flush=True,
            )
        commands = {
            "generate": generate_command(n),
            "serve": f".venv/bin/python bench/static_server.py {common.rel(root)} --port 8765",
            "baseline": shlex.join(
                scrapy_command("baseline", mirror_url="http://127.0.0.1:8765", workdir=workdir,
                               name="baseline", listing_pages=manifest["listing_pages_arg"])[0]
            ).replace(PYTHON, ".venv/bin/python"),
            "crawl": shlex.join(
                scrapy_command("crawl", mirror_url="http://127.0.0.1:8765", workdir=workdir,
                               name="crawl", listing_pages=manifest["listing_pages_arg"], database=database)[0]
            ).replace(PYTHON, ".venv/bin/python"),
        }  # fmt: skip
    crawl_summary = _summary(crawls, RUN_KEYS + ("ratio_to_baseline",))
    crawl_summary["articles_per_s"] = round(crawl_summary["articles"] / crawl_summary["elapsed_s"], 1)
    return {
        "n": n,
        "repeats": repeats,
        "server": server_kind,
        "mirror": {k: manifest[k] for k in ("articles", "listing_pages", "listing_pages_arg", "sitemaps",
                                            "baca_juga_only", "eras", "article_bytes", "expected_requests")},
        "baseline": _summary(baselines, RUN_KEYS),
        "crawl": crawl_summary,
        "incremental": {
            **_summary(incrementals, RUN_KEYS + ("speedup_wall", "speedup_elapsed")),
            "article_requests": max(run["article_requests"] or 0 for run in incrementals),
            "skipped_stored": median([run["skipped_stored"] for run in incrementals]),
        },
        "runs": {"baseline": baselines, "crawl": crawls, "incremental": incrementals},
        "commands": commands,
    }  # fmt: skip


def growth_per_doubling(rows: list[dict[str, Any]], key: str = "max_rss_mb") -> list[dict[str, Any]]:
    """Between consecutive sizes: how much ``key`` grows per doubling of N."""
    out = []
    for small, large in itertools.pairwise(rows):
        doublings = math.log2(large["n"] / small["n"])
        factor = (large["crawl"][key] / small["crawl"][key]) ** (1 / doublings)
        out.append({"from": small["n"], "to": large["n"], "growth_per_doubling": round(factor - 1, 3)})
    return out


# --------------------------------------------------------------------------- the server's ceiling


async def _load(url: str, paths: list[str], connections: int) -> tuple[int, int, float]:
    """Fetch every path over ``connections`` keep-alive connections; (responses, bytes, seconds)."""
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    totals = [0, 0]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                try:
                    path = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                await reader.readexactly(length)
                totals[0] += 1
                totals[1] += length
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return totals[0], totals[1], time.perf_counter() - start


def server_alone(server: common.Server, root: Path, connections: int = 16) -> dict[str, Any]:
    """The server with no crawler: every article page once, from a minimal asyncio client."""
    host_dir = next(p for p in root.iterdir() if p.is_dir())
    paths = sorted(f"/{host_dir.name}/{p.parent.relative_to(host_dir).as_posix()}" for p in host_dir.glob("read/**/index.html"))
    responses, size, seconds = asyncio.run(_load(server.url, paths, connections))
    return {"responses": responses, "requests_per_s": round(responses / seconds, 1), "mb_per_s": round(size / seconds / 2**20, 1)}


def server_ceiling(n: int, repeats: int) -> dict[str, Any]:
    """The baseline spider against the project's stdlib server and against the fast one."""
    root, manifest = ensure_mirror(n)
    workdir = OUT / f"server-{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"n": n, "repeats": repeats}
    runs: dict[str, list[dict[str, Any]]] = {"stdlib": [], "fast": []}
    alone: dict[str, list[dict[str, Any]]] = {"stdlib": [], "fast": []}
    for _ in range(repeats):
        for kind in ("stdlib", "fast"):
            with mirror_server(root, kind) as server:
                alone[kind].append(server_alone(server, root))
                runs[kind].append(run_spider("baseline", server, manifest, workdir, f"baseline-{kind}"))
    for kind, kind_runs in runs.items():
        results[kind] = {
            "baseline_pages_per_s": median([r["pages_per_s"] for r in kind_runs]),
            "alone_requests_per_s": median([a["requests_per_s"] for a in alone[kind]]),
            "alone_mb_per_s": median([a["mb_per_s"] for a in alone[kind]]),
        }
    results["fast_over_stdlib_baseline"] = round(
        median([f["pages_per_s"] / s["pages_per_s"] for f, s in zip(runs["fast"], runs["stdlib"])]), 3
    )
    results["fast_over_stdlib_alone"] = round(
        median([f["requests_per_s"] / s["requests_per_s"] for f, s in zip(alone["fast"], alone["stdlib"])]), 3
    )
    return results


# --------------------------------------------------------------------------- scrapy bench

_LOGSTATS = re.compile(r"Crawled (\d+) pages \(at (\d+) pages/min\)")


def scrapy_bench(seconds: int = 10) -> dict[str, Any]:
    """``scrapy bench`` outside the project (plain Scrapy settings), for context."""
    workdir = Path(tempfile.mkdtemp(prefix="kaltimnews-scrapy-bench-"))
    log = OUT / "scrapy-bench.log"
    command = [PYTHON, "-m", "scrapy", "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds}", "-s", "LOGSTATS_INTERVAL=1"]
    try:
        measured = run_measured(command, log=log, cwd=workdir, timeout=seconds + 120)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = log.read_text("utf-8", "replace")
    rates = [int(rate) for _, rate in _LOGSTATS.findall(text)]
    steady = rates[2:] or rates  # the first seconds are start-up
    crawled = re.search(r"'response_received_count': (\d+)", text)
    elapsed = re.search(r"'elapsed_time_seconds': ([\d.]+)", text)
    return {
        "command": f".venv/bin/scrapy bench -s CLOSESPIDER_TIMEOUT={seconds} -s LOGSTATS_INTERVAL=1 (outside the project folder)",
        "returncode": measured.returncode,
        "pages_per_min_median": median(steady) if steady else None,
        "pages_per_min_overall": round(int(crawled.group(1)) / float(elapsed.group(1)) * 60)
        if crawled and elapsed
        else None,
        "cpu_s": round(measured.cpu_s, 2),
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- command line


def run(sizes: list[int], repeats: int = 3) -> dict[str, Any]:
    rows = []
    for n in sizes:
        print(f"crawl benchmark, N={n}", flush=True)
        rows.append(crawl_size(n, repeats))
    return {"sizes": rows, "memory_growth": growth_per_doubling(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated article counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, metavar="OUT")
    args = parser.parse_args(argv)
    results = run([int(n) for n in args.sizes.split(",")], args.repeats)
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", "utf-8")
    print(json.dumps([{k: row[k] for k in ("n", "baseline", "crawl", "incremental")} for row in results["sizes"]], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
