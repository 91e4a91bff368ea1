"""Security (issue 8, part 5): CSV formulas, SQL parameters, secrets, scrapyd's address.

The CSV and SQL cases go through the real crawl of the bad-input site (``bad_crawl``), whose
mirror has an article titled with a formula and one titled with an SQL injection. The database
password test is in test_faults.py (the PostgreSQL crawl: a real password, through the
environment, and a database failure that could have quoted it).
"""

from __future__ import annotations

import csv
import ipaddress
import re
import sqlite3
from pathlib import Path
from pkgutil import get_data

import pytest
import sqlalchemy as sa
from scrapy.settings import Settings

from kaltimnews.exporters import neutralise_formula
from kaltimnews.storage import ArticleStore, resolve_database_url
from tests.crawling import REPO
from tests.reliability.bad_site import FORMULA_TITLE, SQL_TITLE
from tests.reliability.conftest import BadCrawl
from tests.storage_fixtures import (  # noqa: F401
    make_article,
    postgres_server,
    postgres_session_url,
    postgres_url,
)

FORMULA_START = ("=", "+", "-", "@")


@pytest.mark.crawl
def test_csv_feed_neutralises_formulas(bad_crawl: BadCrawl) -> None:
    url = bad_crawl.urls["formula-title"]
    # The JSON-lines feed keeps the title as the page has it ...
    assert bad_crawl.by_url[url]["title"] == FORMULA_TITLE
    # ... the CSV feed prefixes it, so a spreadsheet shows it instead of running it.
    assert bad_crawl.result.csv_path is not None
    with bad_crawl.result.csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["url"] == url)
    assert row["title"] == "'" + FORMULA_TITLE
    for row in rows:  # no cell of any article starts a formula
        for name, cell in row.items():
            assert not cell.startswith(FORMULA_START), (row["url"], name, cell[:40])


@pytest.mark.parametrize("value", ["=1+1", "+49 123", "-2+3", "@SUM(A1)", "\t=x", "\r=x"])
def test_neutralise_formula_prefixes_every_formula_start(value: str) -> None:
    assert neutralise_formula(value) == "'" + value


@pytest.mark.crawl
def test_sql_metacharacters_in_a_crawled_title_are_stored_verbatim(bad_crawl: BadCrawl) -> None:
    url = bad_crawl.urls["sql-title"]
    database = Path(sa.make_url(bad_crawl.result.database_url).database or "")
    with sqlite3.connect(database) as conn:
        (title,) = conn.execute("SELECT title FROM articles WHERE url = ?", (url,)).fetchone()
        count = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert title == SQL_TITLE
    assert count == len(bad_crawl.result.items)  # the table is still there, with every article


@pytest.mark.postgres
def test_sql_metacharacters_are_stored_verbatim_in_postgresql(postgres_url: str) -> None:
    nasty = make_article(1, title=SQL_TITLE, section="x'; DELETE FROM articles; --", tags=["'", '"', "\\", "%", "_"])
    with ArticleStore(postgres_url) as store:
        store.store_items([make_article(0), nasty])
        stored = store.get_article(nasty["url"])
        assert stored is not None and store.count() == 2
    assert stored["title"] == SQL_TITLE
    assert stored["section"] == "x'; DELETE FROM articles; --"
    assert stored["tags"] == ["'", '"', "\\", "%", "_"]


def test_database_url_comes_from_the_environment() -> None:
    secret = "postgresql+psycopg://crawler:from-env@db.internal/news"
    assert resolve_database_url(Settings(), environ={"DATABASE_URL": secret}) == secret
    settings_py = (REPO / "kaltimnews" / "settings.py").read_text("utf-8")
    assert 'DATABASE_URL = os.environ.get("DATABASE_URL"' in settings_py


@pytest.mark.parametrize("name", ["kaltimnews/settings.py", "scrapy.cfg", "scrapyd.conf", "Makefile"])
def test_no_credential_is_written_in_the_configuration(name: str) -> None:
    text = (REPO / name).read_text("utf-8")
    # user:password@ in a URL, other than ${VARIABLE} placeholders
    assert not re.search(r"://[^/\s:@$]+:(?!\$\{)[^@\s/]+@", text), name
    for line in text.splitlines():
        match = re.match(r"\s*(password|username)\s*[=:]\s*(.*)$", line, re.IGNORECASE)
        if match:
            assert match.group(2).strip() in ("", "${SCRAPYD_PASSWORD}", "${SCRAPYD_USERNAME}"), line


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    return ipaddress.ip_address(address).is_loopback


def test_scrapyd_listens_on_loopback_only_by_default() -> None:
    from scrapyd.config import Config

    ours = Config(extra_sources=[str(REPO / "scrapyd.conf")])
    assert _loopback(ours.get("bind_address")), ours.get("bind_address")
    # scrapyd's own default, should the line ever go: loopback too
    default = get_data("scrapyd", "default_scrapyd.conf").decode()
    assert _loopback(re.search(r"^bind_address\s*=\s*(\S+)", default, re.M).group(1))
    # and nothing in `make scrapyd` binds it elsewhere
    assert "0.0.0.0" not in (REPO / "Makefile").read_text("utf-8")
