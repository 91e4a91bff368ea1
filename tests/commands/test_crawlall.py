"""``scrapy crawlall``: both sites in one process, into one store and one set of feeds."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from kaltimnews.items import ARTICLE_FIELDS
from kaltimnews.mirror import bundled_mirror, serve_mirror
from tests.crawling import REPO

pytestmark = pytest.mark.crawl

SITES = ("suarakaltim", "tribunkaltim")


def expected(site):
    return json.loads((bundled_mirror(site) / "expected_articles.json").read_text())["articles"]


def test_crawlall_stores_and_feeds_both_sites(tmp_path):
    database = tmp_path / "store.sqlite3"
    jsonl, csv_path = tmp_path / "all.jsonl", tmp_path / "all.csv"
    env = {k: v for k, v in os.environ.items() if k not in {"MIRROR_URL", "DATABASE_URL", "REDIS_URL"}}
    with serve_mirror([bundled_mirror(site) for site in SITES]) as server:
        completed = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawlall", "-O", str(jsonl), "-O", str(csv_path),
             "-s", f"MIRROR_URL={server.url}", "-s", f"DATABASE_URL=sqlite:///{database}",
             "-s", f"DEAD_LETTER_DIR={tmp_path / 'dead'}"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]

    with sqlite3.connect(database) as db:
        stored = {site: sorted(url for (url,) in db.execute("SELECT url FROM articles WHERE site = ?", (site,)))
                  for site in SITES}  # fmt: skip
    for site in SITES:
        assert stored[site] == sorted(expected(site))

    items = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert sorted(item["url"] for item in items) == sorted(expected(SITES[0]) + expected(SITES[1]))
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(ARTICLE_FIELDS)
    assert len(rows) == 1 + len(items), "one header, then one row per article"
    assert not list(tmp_path.glob(".*.part")), "part files are joined and removed"


def test_crawlall_refuses_an_unknown_spider(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawlall", "nosuchsite"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "unknown spider" in completed.stderr
