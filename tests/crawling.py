"""Running a real ``scrapy crawl`` in a subprocess against a mirror, and reading what it left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CrawlResult:
    returncode: int
    items: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str
    workdir: Path
    csv_path: Path | None = None
    database_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def stat(self, key: str, default: int = 0) -> Any:
        return self.stats.get(key, default)

    @property
    def urls(self) -> list[str]:
        return [item["url"] for item in self.items]


def run_crawl(
    spider: str,
    mirror_url: str,
    workdir: Path,
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    database_url: str | None = None,
    csv: bool = False,
    timeout: float = 300,
    run_name: str = "crawl",
) -> CrawlResult:
    """``scrapy crawl <spider>`` with the mirror, a private database and feeds in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    jsonl = workdir / f"{run_name}.jsonl"
    csv_path = workdir / f"{run_name}.csv" if csv else None
    stats_path = workdir / f"{run_name}-stats.json"
    log_path = workdir / f"{run_name}.log"
    database_url = database_url or f"sqlite:///{workdir / 'kaltimnews.sqlite3'}"
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(jsonl)]
    if csv_path:
        command += ["-O", str(csv_path)]
    all_settings = {
        "MIRROR_URL": mirror_url,
        "DATABASE_URL": database_url,
        "STATS_FILE": str(stats_path),
        "LOG_FILE": str(log_path),
        "DEAD_LETTER_DIR": str(workdir / "dead-letter"),
        **(settings or {}),
    }
    for name, value in all_settings.items():
        command += ["-s", f"{name}={value}"]
    for name, value in (args or {}).items():
        command += ["-a", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if k not in {"MIRROR_URL", "DATABASE_URL", "REDIS_URL", "SCRAPY_SETTINGS_MODULE"}}
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    items = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()] if jsonl.exists() else []
    stats = json.loads(stats_path.read_text("utf-8")) if stats_path.exists() else {}
    log = log_path.read_text("utf-8") if log_path.exists() else ""
    return CrawlResult(
        returncode=completed.returncode,
        items=items,
        stats=stats,
        log=log + completed.stdout + completed.stderr,
        workdir=workdir,
        csv_path=csv_path,
        database_url=database_url,
    )
