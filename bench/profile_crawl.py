"""A profile of the end-to-end crawl, and where its time goes in our code.

Usage::

    .venv/bin/python bench/profile_crawl.py [N]       # default 1000 articles

Runs the crawl of ``bench_crawl`` (same mirror, server, settings, fresh store, JSONL feed) under
pyinstrument (sampling, so the crawl runs at nearly its normal speed)::

    python -m pyinstrument -r pyisession -o bench/out/profile.pyisession -m scrapy crawl suarakaltim ...

and writes ``bench/out/profile.txt`` (pyinstrument's call tree) and a summary: the share of the
crawl spent under our code, our functions by cumulative time, and the time under each path of
our frames (``parse_article > page_count``: the time ``page_count`` took when called from
``parse_article``, with everything it called).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import common
from bench_crawl import ensure_mirror, run_spider
from common import OUT, PYTHON, REPO, mirror_server

SESSION = OUT / "profile.pyisession"
TEXT = OUT / "profile.txt"
OURS = str(REPO / "kaltimnews") + "/"


def _frame(frame_info: str) -> tuple[str, str, str]:
    """(function, file, line) of one pyinstrument frame record entry."""
    from pyinstrument.frame_info import frame_info_get_identifier

    parts = frame_info_get_identifier(frame_info).split("\x00")
    return (parts + ["", ""])[0], (parts + ["", ""])[1], (parts + ["", ""])[2]


#: Our frames that only pass everything below them through: the ``crawl`` command (around the
#: whole crawl) and spider middlewares' output filters (around every callback).
WRAPPERS = frozenset({"run", "process_spider_output", "process_spider_output_async", "process_start"})


def _ours(frame: tuple[str, str, str]) -> bool:
    function, file, _ = frame
    return file.startswith(OURS) and function not in WRAPPERS and function != "<module>"


def _module(file: str) -> str:
    """``/repo/kaltimnews/pages/base.py`` -> ``pages.base``."""
    return file.removeprefix(OURS).removesuffix(".py").replace("/", ".")


def _label(function: str, file: str, line: str) -> str:
    return f"{function} ({file.removeprefix(str(REPO) + '/')}:{line})"


def summarise(session_path: Path = SESSION, top: int = 15) -> dict[str, Any]:
    from pyinstrument.session import Session

    session = Session.load(session_path)
    total = sum(t for _, t in session.frame_records) or 1.0
    cumulative: dict[str, float] = defaultdict(float)
    paths: dict[str, float] = defaultdict(float)
    self_time: dict[str, float] = defaultdict(float)
    ours_total = 0.0
    for stack, seconds in session.frame_records:
        frames = [_frame(info) for info in stack]
        ours = [f for f in frames if _ours(f)]
        if ours:
            ours_total += seconds
            paths[" > ".join(f"{_module(f[1])}.{f[0]}" for f in ours[:2])] += seconds
        for label in {_label(*f) for f in ours}:
            cumulative[label] += seconds
        function, file, line = frames[-1] if frames else ("?", "", "")
        self_time[_label(function, file.split("site-packages/")[-1], line)] += seconds

    def ranked(table: dict[str, float], limit: int) -> list[dict[str, Any]]:
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:limit]
        return [{"where": k, "seconds": round(v, 2), "share": round(v / total, 3)} for k, v in rows]

    return {
        "sampled_seconds": round(total, 2),
        "cpu_seconds": round(session.cpu_time, 2),
        "ours_share": round(ours_total / total, 3),
        "ours_cumulative": ranked(cumulative, top),
        "ours_paths": ranked(paths, top),
        "self_time": ranked(self_time, top),
    }


def render_text(session_path: Path = SESSION, out: Path = TEXT) -> None:
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    out.write_text(ConsoleRenderer(unicode=True, color=False).render(Session.load(session_path)), "utf-8")


def run(n: int = 1000) -> dict[str, Any]:
    root, manifest = ensure_mirror(n)
    workdir = OUT / f"profile-{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "store.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    runner = (PYTHON, "-m", "pyinstrument", "-r", "pyisession", "-o", common.rel(SESSION))
    with mirror_server(root, "fast") as server:
        crawl = run_spider("crawl", server, manifest, workdir, "crawl", database=database, runner=runner)
    render_text()
    return {
        "n": n,
        "pages_per_s_under_profiler": crawl["pages_per_s"],
        "command": f"{' '.join(runner).replace(PYTHON, '.venv/bin/python')} -m scrapy crawl suarakaltim ... "
        f"(the crawl command of bench_crawl, N={n})",
        "text": common.rel(TEXT),
        **summarise(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.n), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
