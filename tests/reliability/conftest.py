"""Fixtures of the reliability tests: the bad-input site and its one crawl, shared by modules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaltimnews.mirror import serve_mirror
from tests.crawling import CrawlResult, run_crawl
from tests.reliability.bad_site import build_bad_site
from tests.reliability.builders import copy_mirror

#: The stalled page waits 60 s; the crawl gives up after this (and one retry).
BAD_CRAWL_TIMEOUT = 3


@dataclass
class BadCrawl:
    result: CrawlResult
    urls: dict[str, str]
    root: Path

    @property
    def by_url(self) -> dict[str, dict]:
        return {item["url"]: item for item in self.result.items}


@pytest.fixture(scope="session")
def bad_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadCrawl]:
    """One crawl of a private mirror copy holding every bad input (tests/reliability/bad_site.py)."""
    base = tmp_path_factory.mktemp("bad-input")
    root = copy_mirror(base / "mirror")
    urls = build_bad_site(root)
    with serve_mirror(root) as server:
        result = run_crawl(
            "suarakaltim",
            server.url,
            base / "crawl",
            csv=True,
            settings={"DOWNLOAD_TIMEOUT": str(BAD_CRAWL_TIMEOUT)},
            timeout=240,
        )
    yield BadCrawl(result, urls, root)
