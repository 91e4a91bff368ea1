"""Storage throughput: articles per second through the real StoragePipeline, SQLite and PostgreSQL.

Each case stores N generated articles into a fresh database twice: the first run inserts them
all, the second finds them all unchanged (the scheduled-crawl case: nothing is written). Batch
size 1 is one transaction per article; larger batches are what STORAGE_BATCH_SIZE gives.

    .venv/bin/python bench/bench_storage.py [--quick] [--items 5000] [--batch-sizes 1,100,500]
                                            [--backends sqlite,postgresql] [--json out.json]

PostgreSQL: a temporary database is created through ``KALTIMNEWS_BENCH_POSTGRES_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and dropped afterwards; when no
server answers, its rows say so and the SQLite figures still come out.

``run()`` returns the results as a dict; the target is 2,000 articles/s on SQLite with batching.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scrapy
import sqlalchemy as sa
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from kaltimnews.pipelines import StoragePipeline
from kaltimnews.storage import ArticleStore, mask_url

POSTGRES_ADMIN_URL = os.environ.get(
    "KALTIMNEWS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: Articles per second the batched SQLite store must sustain.
SQLITE_TARGET_PER_S = 2_000

_WORDS = (
    "pemerintah provinsi kalimantan timur menggelar rapat koordinasi bersama kota samarinda"
    " balikpapan membahas pembangunan jalan banjir pendidikan kesehatan pariwisata nusantara"
).split()


class BenchSpider(scrapy.Spider):
    """Stands for the site being crawled; the pipeline reads its name only."""

    name = "bench"


def generate_articles(count: int) -> Iterator[dict[str, Any]]:
    """``count`` distinct, realistic articles (about 400 words of body each)."""
    for n in range(count):
        body = " ".join(f"{_WORDS[(n * 7 + i) % len(_WORDS)]}{i % 13 or n}" for i in range(400))
        yield {
            "url": f"https://bench.example.id/berita/{n}/judul-berita-nomor-{n}",
            "site": "bench",
            "title": f"Judul berita nomor {n} dari Samarinda",
            "authors": ["Rina Ayu", f"Penulis {n % 50}"],
            "published_at": f"2024-05-{1 + n % 28:02d}T{n % 24:02d}:00:00+08:00",
            "published_at_raw": f"{1 + n % 28} Mei 2024",
            "modified_at": None,
            "section": "Daerah",
            "tags": ["samarinda", f"tag{n % 100}"],
            "description": f"Ringkasan berita nomor {n}.",
            "body": body,
            "image_url": f"https://bench.example.id/img/{n}.jpg",
            "image_caption": "Foto: dokumentasi.",
            "related_urls": [f"https://bench.example.id/berita/{n + 1}/lain"],
            "language": "id",
            "word_count": 400,
            "crawled_at": "2024-06-01T00:00:00+00:00",
        }


def store_once(
    database_url: str, items: Sequence[dict[str, Any]], batch_size: int, dead_letter_dir: str
) -> dict[str, Any]:
    """One crawl's worth of storing: open, every item, close (the last flush included)."""
    crawler = get_crawler(
        BenchSpider,
        {
            "DATABASE_URL": database_url,
            "STORAGE_BATCH_SIZE": batch_size,
            "DEAD_LETTER_DIR": dead_letter_dir,
        },
    )
    crawler.spider = BenchSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    pipeline = build_from_crawler(StoragePipeline, crawler)
    started = time.perf_counter()
    pipeline.open_spider()
    for item in items:
        pipeline.process_item(item)
    pipeline.close_spider()
    seconds = time.perf_counter() - started
    if pipeline.failed:
        raise RuntimeError(f"storage failed: {crawler.stats.get_value('kaltimnews/storage/error')}")
    stats = crawler.stats.get_stats()
    return {
        "seconds": round(seconds, 4),
        "per_s": round(len(items) / seconds, 1),
        "inserted": stats.get("kaltimnews/storage/inserted", 0),
        "unchanged": stats.get("kaltimnews/storage/unchanged", 0),
    }


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    path = workdir / f"bench-{secrets.token_hex(4)}.sqlite3"
    yield f"sqlite:///{path}"
    for leftover in workdir.glob(path.name + "*"):
        leftover.unlink()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    admin = sa.create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"kaltimnews_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.OperationalError:
            pass
        admin.dispose()


def run(
    items: int = 5_000,
    batch_sizes: Sequence[int] = (1, 100, 500),
    backends: Sequence[str] = ("sqlite", "postgresql"),
    postgres_admin_url: str = POSTGRES_ADMIN_URL,
    quick: bool = False,
) -> dict[str, Any]:
    """Measure every backend and batch size; the results as a JSON-ready dict.

    ``quick`` (a smoke run): 1,000 articles, batch sizes 1 and 100.
    """
    if quick:
        items, batch_sizes = min(items, 1_000), tuple(b for b in batch_sizes if b <= 100) or (100,)
    logging.getLogger("kaltimnews").setLevel(logging.WARNING)
    articles = list(generate_articles(items))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kaltimnews-bench-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            for batch_size in batch_sizes:
                row: dict[str, Any] = {"backend": backend, "batch_size": batch_size, "items": items}
                try:
                    database = (
                        sqlite_database(workdir)
                        if backend == "sqlite"
                        else postgres_database(postgres_admin_url)
                    )
                    with database as url:
                        row["insert"] = store_once(url, articles, batch_size, str(workdir / "dead"))
                        row["unchanged"] = store_once(
                            url, articles, batch_size, str(workdir / "dead")
                        )
                        with ArticleStore(url) as store:
                            started = time.perf_counter()
                            known = store.stored_urls("bench")
                            row["load_urls_seconds"] = round(time.perf_counter() - started, 4)
                            row["rows"] = store.count()
                        assert len(known) == items == row["rows"]
                except sa.exc.OperationalError as exc:
                    row["error"] = (
                        f"{backend} unavailable at {mask_url(postgres_admin_url)}: {exc.orig}"
                    )
                results.append(row)
    batched_sqlite = [
        r["insert"]["per_s"]
        for r in results
        if r["backend"] == "sqlite" and r["batch_size"] > 1 and "insert" in r
    ]
    return {
        "benchmark": "storage",
        "items": items,
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "scrapy": scrapy.__version__,
        "results": results,
        "target": {
            "sqlite_batched_insert_per_s": SQLITE_TARGET_PER_S,
            "best_sqlite_batched_insert_per_s": max(batched_sqlite, default=None),
            "met": bool(batched_sqlite) and max(batched_sqlite) >= SQLITE_TARGET_PER_S,
        },
    }


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['items']} articles, Python {report['python']}, SQLAlchemy {report['sqlalchemy']}",
        f"{'backend':<11}{'batch':>6}{'insert/s':>12}{'unchanged/s':>13}{'load URLs':>11}",
    ]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"{r['backend']:<11}{r['batch_size']:>6}  {r['error']}")
            continue
        lines.append(
            f"{r['backend']:<11}{r['batch_size']:>6}{r['insert']['per_s']:>12,.0f}"
            f"{r['unchanged']['per_s']:>13,.0f}{r['load_urls_seconds']:>10.3f}s"
        )
    target = report["target"]
    verdict = "met" if target["met"] else "NOT met"
    lines.append(
        f"target: >= {target['sqlite_batched_insert_per_s']:,} articles/s on SQLite"
        f" with batching: {verdict}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="1,000 articles, batches 1 and 100")
    parser.add_argument("--batch-sizes", default="1,100,500", help="comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_ADMIN_URL,
        help="a database to create the bench database from",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    report = run(
        items=args.items,
        batch_sizes=[int(size) for size in args.batch_sizes.split(",") if size],
        backends=[name for name in args.backends.split(",") if name],
        postgres_admin_url=args.postgres_url,
        quick=args.quick,
    )
    print(format_table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if report["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
