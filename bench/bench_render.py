"""Rendering cost: rendered listing pages per second and the peak memory of Scrapy plus Chromium.

A copy of the bundled SuaraKaltim mirror gets N script-built listing pages (``/indeks?page=K``,
each filled by scripts and grown by one "Load More" click, each linking the next); the real
``suarakaltim`` spider crawls them with ``-a render=1``. Memory is the proportional set size of
the crawl process and all its browser processes (``kaltimnews/memory/peak_mb``), sampled every
0.5 s. Target: peak at most 1 GB over 50 rendered listing pages.

    .venv/bin/python bench/bench_render.py [--pages 50] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kaltimnews.mirror import bundled_mirror, serve_mirror  # noqa: E402
from tests.crawling import run_crawl  # noqa: E402

TARGET_PEAK_MB = 1024


def build_mirror(root: Path, pages: int) -> None:
    shutil.copytree(bundled_mirror("suarakaltim"), root)
    host = root / "kaltim.suara.com"
    scripted = (host / "terkini" / "index.html").read_text("utf-8")
    for number in range(1, pages + 1):
        next_link = (
            f'<a class="next" href="https://kaltim.suara.com/indeks?page={number + 1}">Berikutnya</a>'
            if number < pages
            else ""
        )
        page = scripted.replace("</main>", f"{next_link}\n</main>")
        name = "index.html" if number == 1 else f"index@page={number}.html"
        (host / "indeks" / name).write_text(page, "utf-8")


def run_once(pages: int, workdir: Path) -> dict[str, float]:
    mirror_root = workdir / "mirror"
    build_mirror(mirror_root, pages)
    with serve_mirror(mirror_root) as server:
        started = time.perf_counter()
        result = run_crawl(
            "suarakaltim",
            server.url,
            workdir / "crawl",
            args={"render": "1", "load_more": "1", "listing_pages": str(pages + 5), "follow_related": "0"},
            settings={"MEMORY_CHECK_INTERVAL": "0.5", "LOG_LEVEL": "INFO"},
            timeout=900,
        )
        wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.log[-3000:])
    rendered = result.stat("kaltimnews/render/listing_pages")
    return {
        "rendered_pages": rendered,
        "wall_seconds": round(wall, 2),
        "rendered_pages_per_second": round(rendered / wall, 2),
        "peak_mb": result.stat("kaltimnews/memory/peak_mb"),
        "items": len(result.items),
    }


def run(pages: int = 50, runs: int = 3) -> dict:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="kaltimnews-render-") as tmp:
            samples.append(run_once(pages, Path(tmp)))
    peak = max(s["peak_mb"] for s in samples)
    return {
        "listing_pages": pages,
        "runs": samples,
        "rendered_pages_per_second_median": statistics.median(s["rendered_pages_per_second"] for s in samples),
        "peak_mb_max": peak,
        "target_peak_mb": TARGET_PEAK_MB,
        "pass": peak <= TARGET_PEAK_MB and all(s["rendered_pages"] >= pages for s in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.pages, args.runs)
    for sample in result["runs"]:
        print(
            f"rendered {sample['rendered_pages']} listing pages in {sample['wall_seconds']} s: "
            f"{sample['rendered_pages_per_second']} pages/s, peak {sample['peak_mb']} MB (Scrapy + Chromium, PSS)"
        )
    verdict = "PASS" if result["pass"] else "FAIL"
    print(
        f"median {result['rendered_pages_per_second_median']} rendered pages/s; "
        f"peak {result['peak_mb_max']} MB against a target of {TARGET_PEAK_MB} MB: {verdict}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
