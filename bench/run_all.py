"""Run every benchmark and write ``bench/results.md`` and ``bench/results.json``.

Usage::

    .venv/bin/python bench/run_all.py                        # what `make bench` runs
    .venv/bin/python bench/run_all.py --sizes 1000,5000,20000
    .venv/bin/python bench/run_all.py --quick                # smoke test, into bench/out/

Steps (``--skip`` leaves some out): dates (``bench_dates.run``), extraction
(``bench_extraction``), storage (``bench_storage.run``), render (``bench_render.run``),
distributed (``bench_distributed.run``), server (stdlib against fast mirror server), crawl (end
to end, incremental and scale, ``bench_crawl``), scrapy_bench, profile (``profile_crawl``). A
step that fails is reported as failed; the others still run. Steps left out, and crawl sizes
measured by an earlier run and not by this one, are carried over from ``results.json``, marked
with the date of their run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
from common import BENCH, OUT

STEPS = ("dates", "extraction", "storage", "render", "distributed", "server", "crawl", "scrapy_bench", "profile")
#: The article count the incremental target is stated for.
INCREMENTAL_N = 5_000
#: The article count the memory target is stated for.
MEMORY_N = 20_000


# --------------------------------------------------------------------------- running


def _module_run(name: str, quick: bool) -> dict[str, Any]:
    """``bench/<name>.py``'s ``run()``, in its quick form when it has one."""
    module = importlib.import_module(name)
    parameters = inspect.signature(module.run).parameters
    kwargs: dict[str, Any] = {}
    if "quick" in parameters:
        kwargs["quick"] = quick
    elif quick:  # modules without a quick mode: the smallest sensible sizes
        kwargs.update({k: v for k, v in (("runs", 1), ("pages", 5), ("articles", 300)) if k in parameters})
    result = module.run(**kwargs)
    formatter = getattr(module, "format_table", None) or getattr(module, "table", None)
    if callable(formatter):
        try:
            result = {**result, "_table": formatter(result)}
        except Exception:  # noqa: BLE001, S110 (a formatter that does not fit its result: keep the figures)
            pass
    return result


def steps(args: argparse.Namespace) -> dict[str, Callable[[], Any]]:
    import bench_crawl
    import profile_crawl

    reference = 300 if args.quick else 1_000
    return {
        "dates": lambda: _module_run("bench_dates", args.quick),
        "extraction": lambda: _module_run("bench_extraction", args.quick),
        "storage": lambda: _module_run("bench_storage", args.quick),
        "render": lambda: _module_run("bench_render", args.quick),
        "distributed": lambda: _module_run("bench_distributed", args.quick),
        "server": lambda: bench_crawl.server_ceiling(reference, 1 if args.quick else args.repeats),
        "crawl": lambda: bench_crawl.run(args.sizes, args.repeats),
        "scrapy_bench": lambda: bench_crawl.scrapy_bench(5 if args.quick else 10),
        "profile": lambda: profile_crawl.run(args.profile_n or reference),
    }


def carry_over(crawl: dict[str, Any], previous: dict[str, Any]) -> None:
    """Add the sizes an earlier run measured and this one did not, marked with that run's date."""
    old = previous.get("crawl") or {}
    if "sizes" not in crawl or "sizes" not in old:
        return
    measured = {row["n"] for row in crawl["sizes"]}
    when = old.get("measured_at") or previous.get("generated_at")
    for row in old["sizes"]:
        if row["n"] not in measured:
            crawl["sizes"].append({**row, "carried_over_from": row.get("carried_over_from") or when})
    for growth in old.get("memory_growth", []):
        if growth["from"] not in measured or growth["to"] not in measured:
            crawl["memory_growth"].append({**growth, "carried_over_from": growth.get("carried_over_from") or when})
    crawl["sizes"].sort(key=lambda row: row["n"])
    crawl["memory_growth"].sort(key=lambda g: (g["from"], g["to"]))


# --------------------------------------------------------------------------- targets


def _row(results: dict[str, Any], n: int | None = None) -> dict[str, Any] | None:
    rows = (results.get("crawl") or {}).get("sizes") or []
    if not rows:
        return None
    if n is None:
        # The reference size (fresh rather than carried over), else the largest measured.
        fresh = [r for r in rows if "carried_over_from" not in r]
        reference = [r for r in rows if r["n"] == INCREMENTAL_N]
        wanted = [r for r in reference if r in fresh] or reference or fresh or rows
        return wanted[-1]
    return next((r for r in rows if r["n"] == n), None)


def _note(row: dict[str, Any] | None) -> str:
    if not row or "carried_over_from" not in row:
        return ""
    return f" (carried over from the run of {row['carried_over_from']})"


def _growth_text(growth: list[dict[str, Any]]) -> str:
    return ", ".join(f"{g['from']:,}->{g['to']:,}: {g['growth_per_doubling']:+.0%}" for g in growth)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, target: str, figure: str, ok: bool | None) -> None:
        out.append({"target": name, "wanted": target, "measured": figure,
                    "verdict": "not measured" if ok is None else ("PASS" if ok else "FAIL")})

    row = _row(results)
    if row:
        ratio = row["crawl"]["ratio_to_baseline"]
        add("End-to-end crawl vs baseline pages/s", ">= 60%",
            f"{ratio:.0%} ({row['crawl']['pages_per_s']} vs {row['baseline']['pages_per_s']} pages/s, "
            f"N={row['n']:,}){_note(row)}", ratio >= 0.60)
    else:
        add("End-to-end crawl vs baseline pages/s", ">= 60%", "-", None)

    extraction = results.get("extraction") or {}
    if "overall" in extraction:
        ms = extraction["overall"]["generated_median_ms"]
        add("Extraction, median ms per article page", "<= 5 ms",
            f"{ms:.2f} ms on generated 60-100 KB pages ({extraction['overall']['fixtures_median_ms']:.2f} ms "
            f"on the bundled fixture pages){_note(extraction)}", ms <= 5)
    else:
        add("Extraction, median ms per article page", "<= 5 ms", "-", None)

    dates = results.get("dates") or {}
    if "common" in dates:
        ratio = dates["common"]["ratio"]
        add("parse_date vs dateparser, common shape", ">= 100x",
            f"{ratio:,.0f}x ({dates['common']['parse_date_us']} vs {dates['common']['dateparser_us']} µs){_note(dates)}",
            ratio >= 100)
    else:
        add("parse_date vs dateparser, common shape", ">= 100x", "-", None)

    big = _row(results, MEMORY_N)
    growth = (results.get("crawl") or {}).get("memory_growth") or []
    if big:
        peak = big["crawl"]["max_rss_mb"]
        worst = max((g["growth_per_doubling"] for g in growth), default=None)
        add(f"Peak memory at {MEMORY_N:,} articles", "<= 250 MB", f"{peak:.0f} MB{_note(big)}", peak <= 250)
        add("Peak memory growth per doubling of N", "<= 20%",
            f"{worst:.0%} at most ({_growth_text(growth)})" if worst is not None else "-",
            None if worst is None else worst <= 0.20)
    else:
        add(f"Peak memory at {MEMORY_N:,} articles", "<= 250 MB", f"N={MEMORY_N:,} not measured", None)
        add("Peak memory growth per doubling of N", "<= 20%", _growth_text(growth) or "-",
            None if not growth else max(g["growth_per_doubling"] for g in growth) <= 0.20)

    row = _row(results, INCREMENTAL_N)
    if row:
        inc = row["incremental"]
        ok = inc["article_requests"] == 0 and inc["speedup_wall"] >= 10
        add(f"Second crawl of the unchanged {INCREMENTAL_N:,}-article mirror",
            "no article request, >= 10x faster",
            f"{inc['article_requests']} article requests ({inc['requests']} requests in all), "
            f"{inc['speedup_wall']}x faster ({inc['wall_s']} s vs {row['crawl']['wall_s']} s wall){_note(row)}", ok)
    else:
        add(f"Second crawl of the unchanged {INCREMENTAL_N:,}-article mirror",
            "no article request, >= 10x faster", f"N={INCREMENTAL_N:,} not measured", None)
    return out


# --------------------------------------------------------------------------- the report


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:,.{digits}f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _failed(section: dict[str, Any] | None) -> str | None:
    if not section:
        return "not run"
    if "error" in section and len(section) <= 2:
        return f"failed: `{section['error'].strip().splitlines()[-1]}` (details in results.json)"
    return None


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [
        "# Benchmarks",
        "",
        (f"Written by `{results['command']}` on {results['generated_at']} in "
        f"{results['duration_min']:.0f} min. Every figure is the median of the runs stated in its section; "
        "a ratio compares runs made in the same run of this script, one after the other. The machine is "
        "shared and noisy: compare ratios rather than absolute figures across machines. "
        "How the benchmarks work, and what the figures mean: [docs/performance.md](../docs/performance.md)."),
        "",
        _code_note(results),
        "",
        table(["machine", ""], [
            ["CPU", m["cpu"]], ["cores", f"{m['cores']} ({m['cores_usable']} usable)"],
            ["memory", f"{m['memory_gb']} GB"], ["OS", m["os"]], ["Python", m["python"]],
            ["Scrapy", m["scrapy"]], ["Twisted", m["twisted"]], ["lxml", m["lxml"]],
            ["load average at start", ", ".join(map(str, m["load_average_at_start"]))],
        ]),
        "",
        "## Targets",
        "",
        table(["target", "wanted", "measured", "verdict"],
              [[t["target"], t["wanted"], t["measured"], f"**{t['verdict']}**"] for t in results["targets"]]),
    ]
    parts += _dates(results.get("dates"))
    parts += _extraction(results.get("extraction"))
    parts += _crawl(results)
    parts += _incremental(results.get("crawl"))
    parts += _scale(results.get("crawl"))
    parts += _profile(results.get("profile"))
    parts += _other("Storage (`bench/bench_storage.py`)", results.get("storage"))
    parts += _other("Rendering (`bench/bench_render.py`)", results.get("render"))
    parts += _other("Distributed crawl (`bench/bench_distributed.py`)", results.get("distributed"))
    parts += _reproduce(results)
    return "\n".join(parts) + "\n"


def _code_note(results: dict[str, Any]) -> str:
    start, end = results["code"], results.get("code_at_end") or results["code"]
    note = f"Code measured: commit `{start['commit']}`" + (
        " with uncommitted changes under `kaltimnews/`" if start["uncommitted_changes"] else ""
    ) + f" (source hash `{start['source_hash']}`)."
    if end["source_hash"] != start["source_hash"]:
        note += (
            f" **The code under `kaltimnews/` changed while this ran** (commit `{end['commit']}`, "
            f"hash `{end['source_hash']}` at the end): figures of different steps may come from "
            "different code."
        )
    return note


def _dates(dates: dict[str, Any] | None) -> list[str]:
    out = ["", "## 1. Dates: `parse_date` against `dateparser.parse(..., languages=['id'])`", ""]
    if (failure := _failed(dates)) is not None:
        return out + [failure]
    if "carried_over_from" in dates:
        out += [f"Carried over from the run of {dates['carried_over_from']} (left out of this one).", ""]
    rows = [[name, row["texts"], row["parse_date_us"], row["dateparser_us"], f"{row['ratio']:,.0f}x"]
            for name, row in dates.items() if isinstance(row, dict) and "ratio" in row]
    return out + [
        ("`bench/bench_dates.py` (median of 5 repeats, µs per parse; \"common\" is "
        "`Kamis, 25 Maret 2021 | 15:27 WIB`, \"corpus\" one text of every supported shape)."),
        "",
        table(["workload", "texts", "parse_date µs", "dateparser µs", "ratio"], rows),
    ]


def _extraction(ext: dict[str, Any] | None) -> list[str]:
    out = ["", "## 2. Extraction: the page module alone", ""]
    if (failure := _failed(ext)) is not None:
        return out + [failure]
    if "carried_over_from" in ext:
        out += [f"Carried over from the run of {ext['carried_over_from']} (left out of this one).", ""]
    rows = []
    for set_name, label in (("fixtures", "bundled fixture"), ("generated", "generated 60-100 KB")):
        for family, row in ext[set_name].items():
            rows.append([label, family, row["pages"], row["kb_per_page"], row["ms_per_page"], row["pages_per_s"]])
    overall = ext["overall"]
    return out + [
        (f"`bench/bench_extraction.py`: {ext['method']} (building the response and parsing it "
        f"included). Median per article page: **{overall['generated_median_ms']:.2f} ms** on the "
        f"generated pages, {overall['fixtures_median_ms']:.2f} ms on the fixture pages."),
        "",
        table(["pages", "template", "pages timed", "KB/page", "ms/page (median)", "pages/s"], rows),
    ]


def _crawl(results: dict[str, Any]) -> list[str]:
    crawl, server, sb = results.get("crawl"), results.get("server"), results.get("scrapy_bench")
    out = ["", "## 3. End to end: the crawl against Scrapy's ceiling", ""]
    if (failure := _failed(crawl)) is not None:
        return out + [failure]
    rows = []
    for row in crawl["sizes"]:
        b, c = row["baseline"], row["crawl"]
        rows.append([f"{row['n']:,}{' *' if 'carried_over_from' in row else ''}", row["repeats"],
                     b["pages_per_s"], c["pages_per_s"], f"{c['ratio_to_baseline']:.0%}", c["articles_per_s"],
                     c["cpu_s_per_1000_articles"], b["max_rss_mb"], c["max_rss_mb"], c["wall_s"]])
    out += [
        ("The generated mirror (`bench/generate_mirror.py`, seed 7) served by `bench/static_server.py`; "
        "the crawl is `scrapy crawl suarakaltim` with its default pipelines (validation, deduplication, "
        "SQLite store) and a JSONL feed (`-O`), the baseline `scrapy runspider bench/baseline_spider.py` "
        "(same links, no extraction), both with the same command-line settings (16 concurrent requests, "
        "no delay). Pages/s is responses over Scrapy's `elapsed_time_seconds`; the ratio is taken within "
        "each repeat. CPU is user+sys of the crawl process over articles emitted (start-up included); "
        "peak memory is its max RSS (`wait4`)."),
        "",
        table(["N", "repeats", "baseline pages/s", "crawl pages/s", "crawl/baseline", "articles/s",
               "crawl CPU s / 1,000 articles", "baseline peak MB", "crawl peak MB", "crawl wall s"], rows),
    ]
    if any("carried_over_from" in row for row in crawl["sizes"]):
        dates = sorted({row["carried_over_from"] for row in crawl["sizes"] if "carried_over_from" in row})
        out += ["", f"\\* carried over from the run of {', '.join(dates)} (not measured by this run)."]
    mirror = crawl["sizes"][-1]["mirror"]
    out += ["", (f"Mirror of N={mirror['articles']:,}: article pages {mirror['article_bytes']['min'] / 1024:.0f}-"
            f"{mirror['article_bytes']['max'] / 1024:.0f} KB (median {mirror['article_bytes']['median'] / 1024:.0f} KB), "
            f"templates {', '.join(f'{k} {v:,}' for k, v in mirror['eras'].items())}; {mirror['listing_pages']:,} "
            f"listing pages, {mirror['sitemaps']} sitemap(s) named in robots.txt, {mirror['baca_juga_only']:,} "
            f"articles reachable only through \"Baca Juga\" links; {mirror['expected_requests']:,} requests per full crawl.")]
    if server and not _failed(server):
        out += [
            "",
            (f"**Is the server the ceiling?** The baseline (N={server['n']:,}, median of {server['repeats']}) "
            f"makes {server['stdlib']['baseline_pages_per_s']} pages/s against the project's "
            f"`ThreadingHTTPServer` (`python -m kaltimnews.mirror`) and {server['fast']['baseline_pages_per_s']} "
            f"pages/s against `bench/static_server.py` (ratio {server['fast_over_stdlib_baseline']:.2f}). "
            f"Alone (an asyncio client, 16 keep-alive connections, every article page once) the stdlib server "
            f"answers {server['stdlib']['alone_requests_per_s']:,.0f} requests/s "
            f"({server['stdlib']['alone_mb_per_s']} MB/s) and the fast one "
            f"{server['fast']['alone_requests_per_s']:,.0f} requests/s ({server['fast']['alone_mb_per_s']} MB/s). "
            "Both crawl and baseline use the fast server."),
        ]
    if sb and not _failed(sb):
        out += ["", (f"**`scrapy bench`** on this machine: {sb['pages_per_min_median']:,.0f} pages/min "
                f"(median of its per-second log lines; {sb['pages_per_min_overall']:,} pages/min over its "
                f"{sb['seconds']} s): its pages are tiny link pages served by Twisted, so it is an upper bound "
                "for Scrapy's own machinery, not comparable with 80 KB article pages.")]
    return out


def _incremental(crawl: dict[str, Any] | None) -> list[str]:
    out = ["", "## 4. Incremental: a second crawl of the unchanged mirror, same store", ""]
    if (failure := _failed(crawl)) is not None:
        return out + [failure]
    rows = []
    for row in crawl["sizes"]:
        c, i = row["crawl"], row["incremental"]
        rows.append([f"{row['n']:,}{' *' if 'carried_over_from' in row else ''}", c["requests"], i["requests"],
                     i["article_requests"], i["skipped_stored"], c["wall_s"], i["wall_s"], f"{i['speedup_wall']}x",
                     c["elapsed_s"], i["elapsed_s"], f"{i['speedup_elapsed']}x"])
    return out + [
        ("Requests are `downloader/request_count` (stats file); article requests are counted by the server. "
        "Wall time is the whole process (Python and Scrapy start-up included); elapsed is Scrapy's own."),
        "",
        table(["N", "first: requests", "second: requests", "second: article requests", "skipped as stored",
               "first wall s", "second wall s", "wall speed-up", "first elapsed s", "second elapsed s",
               "elapsed speed-up"], rows),
    ]


def _scale(crawl: dict[str, Any] | None) -> list[str]:
    out = ["", "## 5. Scale", ""]
    if (failure := _failed(crawl)) is not None:
        return out + [failure]
    growth = {g["to"]: g for g in crawl["memory_growth"]}
    rows = []
    for row in crawl["sizes"]:
        c = row["crawl"]
        g = growth.get(row["n"])
        rows.append([f"{row['n']:,}{' *' if 'carried_over_from' in row else ''}", c["wall_s"], c["elapsed_s"],
                     c["pages_per_s"], c["max_rss_mb"],
                     f"{g['growth_per_doubling']:+.1%} (from {g['from']:,})" if g else "-",
                     c["cpu_s_per_1000_articles"]])
    return out + [
        "The crawl of section 3 at each N. Growth per doubling is (peak(N2)/peak(N1))^(1/log2(N2/N1)) - 1.",
        "",
        table(["N", "wall s", "elapsed s", "pages/s", "peak MB (max RSS)", "peak growth per doubling",
               "CPU s / 1,000 articles"], rows),
    ]


def _profile(profile: dict[str, Any] | None) -> list[str]:
    out = ["", "## 6. Profile of the end-to-end crawl", ""]
    if (failure := _failed(profile)) is not None:
        return out + [failure]
    if "carried_over_from" in profile:
        out += [f"Carried over from the run of {profile['carried_over_from']} (left out of this one).", ""]
    out += [
        (f"pyinstrument (sampling) around the crawl process, N={profile['n']:,}: `{profile['command']}`; "
        f"the call tree is in `{profile['text']}`. Under the profiler the crawl made "
        f"{profile['pages_per_s_under_profiler']} pages/s. **{profile['ours_share']:.0%}** of the sampled "
        f"{profile['sampled_seconds']} s is spent under our code (`kaltimnews/`, imports excluded); the rest is "
        "Scrapy, Twisted, asyncio and start-up."),
        "",
        "Where our time goes (outermost two of our frames on the stack; everything they call included):",
        "",
        table(["our call path", "seconds", "share of crawl"],
              [[r["where"], r["seconds"], f"{r['share']:.1%}"] for r in profile["ours_paths"][:12]]),
        "",
        "Our functions by cumulative time:",
        "",
        table(["function", "seconds", "share of crawl"],
              [[r["where"], r["seconds"], f"{r['share']:.1%}"] for r in profile["ours_cumulative"][:15]]),
        "",
        "Self time, everything (where the CPU actually was):",
        "",
        table(["function", "seconds", "share of crawl"],
              [[r["where"], r["seconds"], f"{r['share']:.1%}"] for r in profile["self_time"][:12]]),
    ]
    return out


def _other(title: str, section: dict[str, Any] | None) -> list[str]:
    out = ["", f"## {title}", ""]
    if (failure := _failed(section)) is not None:
        return out + [failure]
    if "carried_over_from" in section:
        out += [f"Carried over from the run of {section['carried_over_from']} (left out of this one).", ""]
    if "_table" in section:
        return out + ["```", section["_table"], "```"]
    scalars = [[k, v] for k, v in section.items()
               if isinstance(v, (int, float, str, bool)) and not k.startswith("_") and k != "carried_over_from"]
    return out + [table(["figure", "value"], scalars), "", "All figures in results.json."]


def _reproduce(results: dict[str, Any]) -> list[str]:
    out = ["", "## Reproduce", "", "```sh", "make bench                                   # all of this, written here",
           f".venv/bin/python bench/run_all.py {results['options_cli']}",
           ".venv/bin/python bench/bench_dates.py", ".venv/bin/python bench/bench_extraction.py",
           ".venv/bin/python bench/bench_storage.py", ".venv/bin/python bench/bench_render.py",
           ".venv/bin/python bench/bench_distributed.py       # needs Redis and PostgreSQL (make services)",
           ".venv/bin/python bench/bench_crawl.py --sizes 1000,5000 --repeats 3",
           f".venv/bin/python bench/profile_crawl.py {(results.get('profile') or {}).get('n', 1000)}", "```"]
    row = _row(results)
    if row and "commands" in row:
        commands = row["commands"]
        out += ["", (f"One crawl by hand (N={row['n']:,}; the crawl runs with a fresh store, the incremental "
                "crawl is the same command again):"), "", "```sh", commands["generate"],
                commands["serve"] + " &", commands["baseline"], commands["crawl"], "```"]
    return out


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: small sizes, one repeat, into bench/out/")
    parser.add_argument("--sizes", help="crawl sizes, comma-separated (default 1000,5000; --quick: 300)")
    parser.add_argument("--repeats", type=int, help="runs per crawl figure (default 3; --quick: 1)")
    parser.add_argument("--profile-n", type=int, help="articles in the profiled crawl (default 1000)")
    parser.add_argument("--skip", default="", help=f"steps to leave out (their last figures are kept), comma-separated: {','.join(STEPS)}")
    parser.add_argument("--out", type=Path, help="report path (default bench/results.md; --quick: bench/out/results-quick.md)")
    args = parser.parse_args(argv)
    cli = [a for a in (argv if argv is not None else sys.argv[1:])]
    args.sizes = [int(n) for n in (args.sizes or ("300" if args.quick else "1000,5000")).split(",")]
    args.repeats = args.repeats or (1 if args.quick else 3)
    report = args.out or (OUT / "results-quick.md" if args.quick else BENCH / "results.md")
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(STEPS):
        parser.error(f"unknown steps: {', '.join(sorted(skip - set(STEPS)))}")

    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "make bench" if not cli else f"bench/run_all.py {shlex.join(cli)}",
        "options_cli": shlex.join(cli) or "",
        "options": {"quick": args.quick, "sizes": args.sizes, "repeats": args.repeats, "skip": sorted(skip)},
        "machine": common.machine(),
        "code": common.code_version(),
    }
    for name, step in steps(args).items():
        if name in skip:
            continue
        print(f"== {name}", flush=True)
        step_start = time.perf_counter()
        try:
            results[name] = step()
        except Exception as exc:  # noqa: BLE001 (one broken benchmark must not hide the others)
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(f"   {name}: {time.perf_counter() - step_start:.0f} s", flush=True)
    previous_path = report.with_suffix(".json")
    previous = json.loads(previous_path.read_text("utf-8")) if previous_path.exists() else {}
    if isinstance(results.get("crawl"), dict) and "sizes" in results["crawl"]:
        results["crawl"]["measured_at"] = results["generated_at"]
        carry_over(results["crawl"], previous)
    for name in sorted(skip):  # a step left out keeps its last figures, marked with their date
        old = previous.get(name)
        if isinstance(old, dict) and not _failed(old):
            when = old.get("carried_over_from") or old.get("measured_at") or previous.get("generated_at")
            results[name] = {**old, "carried_over_from": when}
            for row in old.get("sizes", []) + old.get("memory_growth", []) if name == "crawl" else []:
                row.setdefault("carried_over_from", when)
    results["code_at_end"] = common.code_version()
    results["targets"] = targets(results)
    results["duration_min"] = round((time.perf_counter() - started) / 60, 1)

    report.parent.mkdir(parents=True, exist_ok=True)
    report.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n", "utf-8")
    report.write_text(render(results), "utf-8")
    print(f"wrote {common.rel(report)} and {common.rel(report.with_suffix('.json'))}")
    for t in results["targets"]:
        print(f"  {t['verdict']:<12} {t['target']}: {t['measured']} (wanted {t['wanted']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
