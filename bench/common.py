"""Shared helpers of the benchmarks: paths, the machine, measured subprocesses, mirror servers."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
PYTHON = sys.executable

if str(REPO) not in sys.path:  # bench scripts run as files: make the project importable
    sys.path.insert(0, str(REPO))

#: Environment variables a crawl must not inherit (the bench sets each explicitly).
_PRIVATE_ENV = {"MIRROR_URL", "DATABASE_URL", "REDIS_URL", "SCRAPY_SETTINGS_MODULE", "KALTIMNEWS_LOG_LEVEL"}


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rel(path: Path | str) -> str:
    """``path`` relative to the repository when it is inside it (for commands in the report)."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- the machine


def _first_line_with(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import lxml.etree
    import scrapy
    import twisted

    mem_kb = _first_line_with("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first_line_with("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "twisted": twisted.__version__,
        "lxml": ".".join(map(str, lxml.etree.LXML_VERSION)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def code_version() -> dict[str, Any]:
    """The project code measured: its git commit, whether ``kaltimnews/`` differs from it, and a
    hash of every file under ``kaltimnews/`` (compared at the end of a run: others may commit
    while a long benchmark runs)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "kaltimnews").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
            return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--", "kaltimnews")),
        "source_hash": digest.hexdigest()[:16],
    }


# --------------------------------------------------------------------------- measured processes


@dataclass
class Measured:
    """One finished subprocess: its wall time, CPU time and peak memory (from ``wait4``)."""

    command: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_s"] = round(self.cpu_s, 3)
        data["command"] = shlex.join(self.command)
        return data


def crawl_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    env.update(extra)
    return env


#: Runs a command and writes its ``wait4`` resource usage as JSON. The benchmark starts this small
#: process, which starts the crawl: Linux gives an exec'd child the peak RSS of the process that
#: forked it (``ru_maxrss`` is kept across ``exec``), so a crawl forked straight from the
#: orchestrator (hundreds of MB once it has run the in-process benchmarks) would report the
#: orchestrator's peak instead of its own.
_LAUNCHER = """\
import json, os, subprocess, sys, time
usage_file, command = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
child = subprocess.Popen(command)
_, status, usage = os.wait4(child.pid, 0)
with open(usage_file, "w") as out:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "wall": time.perf_counter() - start,
               "user": usage.ru_utime, "sys": usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, out)
"""


def run_measured(
    command: Sequence[str],
    *,
    log: Path,
    timeout: float = 3600,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> Measured:
    """Run ``command`` (stdout and stderr to ``log``) and measure it with ``os.wait4``.

    ``wait4`` gives the resource usage of that one process: user and system CPU seconds and its
    peak resident set size. It is called by a launcher (``_LAUNCHER``, ``python -S``, about 10 MB)
    so that the peak is the command's own.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    usage_file = log.with_name(log.name + ".usage.json")
    usage_file.unlink(missing_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-S", "-c", _LAUNCHER, str(usage_file), *command], cwd=cwd, env=env or crawl_env(),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        timer = threading.Timer(timeout, _kill_group, args=(proc.pid,))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
    try:
        usage = json.loads(usage_file.read_text())
    except (OSError, ValueError):  # killed (timeout) before it could write
        usage = {"exit": proc.returncode or -1, "wall": float("nan"), "user": 0.0, "sys": 0.0, "maxrss_kb": 0}
    return Measured(
        command=list(command),
        returncode=usage["exit"],
        wall_s=round(usage["wall"], 3),
        user_s=round(usage["user"], 3),
        sys_s=round(usage["sys"], 3),
        max_rss_mb=round(usage["maxrss_kb"] / 1024, 1),  # KiB on Linux
        log=rel(log),
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def tail(path: Path | str, lines: int = 30) -> str:
    path = REPO / path if not Path(path).is_absolute() else Path(path)
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- mirror servers

SERVERS = {
    # The project's server: http.server.ThreadingHTTPServer, a thread per connection.
    "stdlib": [PYTHON, "-m", "kaltimnews.mirror", "{root}", "--port", "0"],
    # bench/static_server.py: asyncio, keep-alive, the folder indexed once.
    "fast": [PYTHON, str(BENCH / "static_server.py"), "{root}", "--port", "0"],
}


@dataclass
class Server:
    kind: str
    url: str
    process: subprocess.Popen

    def counters(self, reset: bool = False) -> dict[str, Any] | None:
        """The fast server's request counters (None for the stdlib server)."""
        if self.kind != "fast":
            return None
        with urllib.request.urlopen(f"{self.url}/_bench/{'reset' if reset else 'stats'}", timeout=10) as r:
            return json.loads(r.read())


@contextmanager
def mirror_server(root: Path, kind: str = "fast") -> Iterator[Server]:
    """Serve ``root`` from a separate process for the duration of the block."""
    command = [part.replace("{root}", str(root)) for part in SERVERS[kind]]
    proc = subprocess.Popen(
        command, cwd=REPO, env=crawl_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = re.search(r"at (http://\S+)", line)
        if not found:
            raise RuntimeError(f"mirror server did not start: {line}{proc.stdout.read() if proc.stdout else ''}")
        yield Server(kind, found.group(1), proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- crawls

#: Settings both the crawl and the baseline get on the command line: the politeness the spider
#: sets itself against a mirror (spiders/base.py), stated so that the baseline has it too.
CRAWL_SETTINGS = {
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "RETRY_TIMES": "1",
    "LOG_LEVEL": "INFO",
    "LOGSTATS_INTERVAL": "10",
}


def scrapy_command(
    kind: str,
    *,
    mirror_url: str,
    workdir: Path,
    name: str,
    listing_pages: int,
    database: Path | None = None,
    feed: bool = True,
    settings: dict[str, str] | None = None,
    runner: Sequence[str] = (PYTHON,),
) -> tuple[list[str], Path]:
    """The command of a ``suarakaltim`` crawl (``kind="crawl"``) or of the baseline, and its stats file.

    ``runner`` runs ``-m scrapy``: the interpreter, or a profiler (``python -m pyinstrument ...``).
    """
    stats = workdir / f"{name}-stats.json"
    if kind == "crawl":
        command = [*runner, "-m", "scrapy", "crawl", "suarakaltim"]
        if feed:
            command += ["-O", rel(workdir / f"{name}.jsonl")]
    elif kind == "baseline":
        command = [*runner, "-m", "scrapy", "runspider", rel(BENCH / "baseline_spider.py")]
    else:
        raise ValueError(kind)
    all_settings = {
        **CRAWL_SETTINGS,
        "MIRROR_URL": mirror_url,
        "STATS_FILE": rel(stats),
        "LOG_FILE": rel(workdir / f"{name}.log"),
        **({"DATABASE_URL": f"sqlite:///{rel(database)}"} if database else {}),
        **({"DEAD_LETTER_DIR": rel(workdir / "dead-letter")} if kind == "crawl" else {}),
        **(settings or {}),
    }
    for key, value in all_settings.items():
        command += ["-s", f"{key}={value}"]
    command += ["-a", f"listing_pages={listing_pages}"]
    return command, stats


def read_stats(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def stats_figures(stats: dict[str, Any]) -> dict[str, Any]:
    """The stats a report needs, from a crawl's STATS_FILE."""
    elapsed = float(stats.get("elapsed_time_seconds") or 0)
    responses = int(stats.get("response_received_count") or 0)
    return {
        "elapsed_s": round(elapsed, 3),
        "requests": int(stats.get("downloader/request_count") or 0),
        "responses": responses,
        "pages_per_s": round(responses / elapsed, 1) if elapsed else 0.0,
        "articles": int(stats.get("kaltimnews/articles/emitted") or 0),
        "stored": int(stats.get("kaltimnews/storage/inserted") or 0),
        "skipped_stored": int(stats.get("kaltimnews/incremental/skipped") or 0),
        "finish_reason": stats.get("finish_reason"),
        "log_errors": int(stats.get("log_count/ERROR") or 0),
    }
