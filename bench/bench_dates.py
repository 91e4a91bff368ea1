"""Benchmark kaltimnews.dates.parse_date against plain dateparser.

Usage::

    .venv/bin/python bench/bench_dates.py [--json out.json]

Both parsers are timed in the same process with ``time.perf_counter``. Each
figure is the median of 5 repeats, in microseconds per parse. dateparser is
warmed up first, because its first call costs over a second of one-off setup.
Two workloads are timed: (a) the common Suara/Tribun shape and (b) a corpus
with one text for every shape the fast path supports. ``run()`` returns the
same dict that ``--json`` writes, so other bench code can import this module.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

try:
    from kaltimnews.dates import parse_date
except ImportError:  # run as a script: bench/ is on sys.path, the project root is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from kaltimnews.dates import parse_date

import dateparser

COMMON = "Kamis, 25 Maret 2021 | 15:27 WIB"

# One text for every shape the regex fast path serves.
CORPUS: tuple[str, ...] = (
    COMMON,
    "Jum'at, 24 Mei 2019 | 16:50 WIB",
    "Selasa, 04 Agustus 2020 | 10:07 WIB",
    "Selasa, 3 Agustus 2021 08:15 WIB",
    "Senin, 17 November 2025 07:05 WITA",
    "Tayang: Senin, 17 November 2025 07:05 WITA",
    "Diperbarui: Kamis, 25 Maret 2021 pukul 15.27 WIB",
    "15 Mei 2025, 22:10 WIB",
    "24 Jul 2026, 16:36 WIB",
    "24 Juli 2026 | 11.32 WIB",
    "5 Agt 2025 10:00 WIT",
    "Kamis,\xa025\xa0Maret\xa02021\xa0|\xa015:27\xa0WIB",
    "Thu, 24 Jul 2026 07:08:59 +0700",
    "2026-07-24T07:08:59+07:00",
    "2026-07-24T07:08:59Z",
    "2026-07-24T07:08:59",
    "15/05/2025 22:10",
    "07.08 WIB",
    "2 jam yang lalu",
    "5 menit yang lalu",
    "3 hari lalu",
    "kemarin",
)

REPEATS = 5
NOW = datetime(2025, 5, 15, 12, 0, tzinfo=timezone(timedelta(hours=7)))


def _dateparser_id(text: str) -> Any:
    return dateparser.parse(text, languages=["id"])


def _parse_date_fixed_now(text: str) -> Any:
    return parse_date(text, now=NOW)


def time_per_parse(parse: Callable[[str], Any], texts: Sequence[str], rounds: int) -> float:
    """Median over REPEATS of the mean microseconds per call of ``parse`` over ``texts``."""
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                parse(text)
        elapsed = time.perf_counter() - start
        samples.append(elapsed / (rounds * len(texts)) * 1e6)
    return statistics.median(samples)


def _compare(texts: Sequence[str], fast_rounds: int, slow_rounds: int) -> dict[str, float]:
    fast = time_per_parse(_parse_date_fixed_now, texts, fast_rounds)
    slow = time_per_parse(_dateparser_id, texts, slow_rounds)
    return {
        "parse_date_us": round(fast, 3),
        "dateparser_us": round(slow, 1),
        "ratio": round(slow / fast, 1),
        "texts": len(texts),
    }


def run(quick: bool = False) -> dict[str, dict[str, float]]:
    """Time both workloads and return ``{"common": {...}, "corpus": {...}}``."""
    for text in CORPUS:  # warm-up: dateparser's first calls load language data
        _dateparser_id(text)
        _parse_date_fixed_now(text)
    scale = 10 if quick else 1
    return {
        "common": _compare([COMMON], fast_rounds=20_000 // scale, slow_rounds=100 // scale),
        "corpus": _compare(CORPUS, fast_rounds=1_000 // scale, slow_rounds=5),
    }


def format_table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"{'workload':<10} {'texts':>5} {'parse_date µs':>14} {'dateparser µs':>14} {'ratio':>8}",
    ]
    for name, row in results.items():
        lines.append(
            f"{name:<10} {row['texts']:>5} {row['parse_date_us']:>14.2f} "
            f"{row['dateparser_us']:>14.1f} {row['ratio']:>7.0f}x"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    args = parser.parse_args(argv)

    results = run(quick=args.quick)
    print(format_table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
