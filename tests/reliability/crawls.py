"""Crawls that a test must interrupt (SIGKILL, a database stopped under them): started with
:class:`Popen`, read like :func:`tests.crawling.run_crawl` once they have ended."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.crawling import REPO, CrawlResult


class BackgroundCrawl:
    """``scrapy crawl <spider>`` in a subprocess, with its feed, stats and log in ``workdir``.

    ``database_url`` goes through the environment (as a deployment passes secrets), not ``-s``.
    """

    def __init__(
        self,
        spider: str,
        mirror_url: str,
        workdir: Path,
        *,
        run_name: str,
        database_url: str,
        settings: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.database_url = database_url
        self.jsonl = workdir / f"{run_name}.jsonl"
        self.stats_path = workdir / f"{run_name}-stats.json"
        self.log_path = workdir / f"{run_name}.log"
        command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(self.jsonl)]
        all_settings = {
            "MIRROR_URL": mirror_url,
            "STATS_FILE": str(self.stats_path),
            "LOG_FILE": str(self.log_path),
            "DEAD_LETTER_DIR": str(workdir / "dead-letter"),
            "HEALTH_REPORT": str(workdir / f"{run_name}-health.json"),
            **(settings or {}),
        }
        for name, value in all_settings.items():
            command += ["-s", f"{name}={value}"]
        environment = {
            k: v for k, v in os.environ.items() if k not in {"MIRROR_URL", "DATABASE_URL", "REDIS_URL", "SCRAPY_SETTINGS_MODULE"}
        }
        environment["DATABASE_URL"] = database_url
        environment.update(env or {})
        self.process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60, poll: float = 0.05) -> bool:
        """Poll ``condition`` until it holds (True) or the crawl ends first (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.process.poll() is not None:
                return condition()
            time.sleep(poll)
        raise AssertionError(f"condition not met after {timeout} s")

    def finish(self, timeout: float = 120) -> CrawlResult:
        stdout, stderr = self.process.communicate(timeout=timeout)
        items = [json.loads(line) for line in self.jsonl.read_text("utf-8").splitlines() if line.strip()] if self.jsonl.exists() else []
        stats = json.loads(self.stats_path.read_text("utf-8")) if self.stats_path.exists() else {}
        log = self.log_path.read_text("utf-8") if self.log_path.exists() else ""
        return CrawlResult(
            returncode=self.process.returncode,
            items=items,
            stats=stats,
            log=log + stdout + stderr,
            workdir=self.workdir,
            database_url=self.database_url,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL: no shutdown handler runs
        self.process.communicate(timeout=30)


def health_report(result: CrawlResult) -> dict[str, Any]:
    """The crawl's health report, from where its stats say it was written."""
    return json.loads(Path(result.stats["kaltimnews/health/report"]).read_text("utf-8"))
