"""Extraction speed: the page module alone, no crawl.

Usage::

    .venv/bin/python bench/bench_extraction.py [--quick] [--json out.json]

Times ``SuaraKaltimArticlePage(HtmlResponse(url, body)).to_item()`` (response, parse, every
field) for

* every article page of the bundled mirror (``kaltimnews/mirrors/suarakaltim``), grouped by the
  template family the page is read with (A-2019, B-2022, E-2024, F-2026, unknown); pages with no
  article text (the video page) are left out;
* generated 60-100 KB pages of each family (``generate_mirror.sample_pages``): the fixture
  markup with long bodies, a full sidebar and an inline state script, as live pages are.

Each page is extracted ``ROUNDS`` times in a row, ``REPEATS`` times; its figure is the median of
the repeats, in CPU time of this process (``time.process_time``). A family's ms/page is the median over its pages; its pages/s is 1000 over the mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401  (first: puts the project on sys.path)
import generate_mirror
from scrapy.http import HtmlResponse

from kaltimnews.mirror import bundled_mirror
from kaltimnews.pages.suara import SuaraKaltimArticlePage

REPEATS = 5
ROUNDS = 5
FAMILIES = ("A-2019", "B-2022", "E-2024", "F-2026", "unknown")


def fixture_pages() -> dict[str, list[tuple[str, bytes]]]:
    """The bundled mirror's article pages by template family, as (url, body)."""
    root = bundled_mirror("suarakaltim")
    families: dict[str, list[tuple[str, bytes]]] = {name: [] for name in FAMILIES}
    for path in sorted(root.glob("*/read/**/index*.html")):
        folder = path.parent.relative_to(root).as_posix()
        query = path.stem.removeprefix("index@") if path.stem.startswith("index@") else ""
        url = f"https://{folder}" + (f"?{query}" if query else "")
        body = path.read_bytes()
        page = SuaraKaltimArticlePage(HtmlResponse(url=url, body=body, encoding="utf-8"))
        if page.has_article_text:
            families.setdefault(page.template_name, []).append((url, body))
    return families


def generated_pages(per_family: int) -> dict[str, list[tuple[str, bytes]]]:
    """Generated pages by family, each checked first: what is timed must extract right."""
    families = {}
    for name in FAMILIES:
        pages = generate_mirror.samples(name, per_family)
        for url, body, expected in pages:
            check(url, body, expected)
        families[name] = [(url, body) for url, body, _ in pages]
    return families


def check(url: str, body: bytes, expected: dict[str, Any]) -> None:
    """Raise if the extraction of a generated page differs from what was generated."""
    item = extract(url, body)
    found = {key: item.get(key) for key in expected if key != "published_date"}
    found["published_date"] = (item.get("published_at") or "")[:10]
    wrong = {key: (found[key], value) for key, value in expected.items() if found[key] != value}
    if wrong:
        raise AssertionError(f"generated page {url} extracts wrong: {wrong}")


def extract(url: str, body: bytes) -> Any:
    return SuaraKaltimArticlePage(HtmlResponse(url=url, body=body, encoding="utf-8")).to_item()


def page_ms(url: str, body: bytes, rounds: int = ROUNDS, repeats: int = REPEATS) -> float:
    """Median over ``repeats`` of the mean CPU milliseconds of one extraction of this page.

    CPU time of this process (``time.process_time``), not wall time: extraction is pure CPU
    work, and on a shared machine wall time also counts the neighbours' turns on the core.
    """
    extract(url, body)  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(rounds):
            extract(url, body)
        samples.append((time.process_time() - start) / rounds * 1000)
    return statistics.median(samples)


def time_family(pages: list[tuple[str, bytes]], rounds: int, repeats: int) -> dict[str, Any]:
    per_page = [page_ms(url, body, rounds, repeats) for url, body in pages]
    mean = statistics.fmean(per_page)
    return {
        "pages": len(pages),
        "kb_per_page": round(statistics.fmean(len(body) for _, body in pages) / 1024, 1),
        "ms_per_page": round(statistics.median(per_page), 2),
        "pages_per_s": round(1000 / mean, 1),
        "per_page_ms": [round(ms, 2) for ms in per_page],
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Time every family of both sets; ``{"fixtures": {...}, "generated": {...}, "overall": {...}}``."""
    rounds, repeats = (2, 3) if quick else (ROUNDS, REPEATS)
    sets = {"fixtures": fixture_pages(), "generated": generated_pages(5 if quick else 20)}
    results: dict[str, Any] = {}
    for set_name, families in sets.items():
        results[set_name] = {
            name: time_family(pages, rounds, repeats) for name, pages in families.items() if pages
        }
    results["overall"] = {
        f"{set_name}_median_ms": round(
            statistics.median(ms for fam in results[set_name].values() for ms in fam["per_page_ms"]), 2
        )
        for set_name in sets
    }
    results["method"] = (
        "`SuaraKaltimArticlePage(HtmlResponse(url, body)).to_item()`, "
        f"CPU time, median of {repeats} repeats of {rounds} extractions per page"
    )
    return results


def format_table(results: dict[str, Any]) -> str:
    lines = [f"{'set':<10} {'family':<8} {'pages':>5} {'KB':>6} {'ms/page':>8} {'pages/s':>8}"]
    for set_name in ("fixtures", "generated"):
        for name, row in results[set_name].items():
            lines.append(
                f"{set_name:<10} {name:<8} {row['pages']:>5} {row['kb_per_page']:>6} "
                f"{row['ms_per_page']:>8.2f} {row['pages_per_s']:>8.1f}"
            )
    lines.append(json.dumps(results["overall"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages and repeats (smoke test)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print(format_table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
