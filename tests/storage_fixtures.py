"""Fixtures for the storage tests: real SQLite and PostgreSQL stores, sample articles, crawlers.

Test modules use them with ``from tests.storage_fixtures import *`` (pytest only auto-loads
``conftest.py``; these may move there).

PostgreSQL: ``KALTIMNEWS_TEST_POSTGRES_URL`` (default: ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
is the maintenance database; each test session creates its own ``kaltimnews_test_<random>``
database there, each test its own schema in it, and both are dropped at the end. When no server
answers, the PostgreSQL tests skip loudly, unless ``KALTIMNEWS_REQUIRE_POSTGRES`` is set: then
they fail.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import scrapy
import sqlalchemy as sa
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from kaltimnews.items import ARTICLE_FIELDS
from kaltimnews.storage import mask_url

__all__ = [
    "POSTGRES_ADMIN_URL",
    "FakeEngine",
    "StorageTestSpider",
    "article_factory",
    "backend_url",
    "crawler_factory",
    "make_article",
    "postgres_database_factory",
    "postgres_server",
    "postgres_session_url",
    "postgres_url",
    "sqlite_url",
    "with_password",
]

POSTGRES_ADMIN_URL = os.environ.get(
    "KALTIMNEWS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

_WORDS = (
    "Pemerintah Provinsi Kalimantan Timur menggelar rapat koordinasi bersama pemerintah kota"
    " Samarinda dan Balikpapan membahas pembangunan jalan, banjir, pendidikan, kesehatan,"
    " pariwisata, ibu kota nusantara, investasi daerah, pelayanan publik dan pertanian warga"
).split()


def make_article(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A complete, valid article dict (every ARTICLE_FIELDS key), distinct for each ``n``."""
    words = [f"{_WORDS[(n + i) % len(_WORDS)]}{'' if i % 7 else n}" for i in range(60)]
    body = " ".join(words[:30]) + ".\n\n" + " ".join(words[30:]) + "."
    article: dict[str, Any] = {
        "url": f"https://kaltim.example.id/berita/{n}/artikel-nomor-{n}",
        "site": "kaltimtest",
        "title": f"Berita nomor {n}: Samarinda bersiap",
        "authors": ["Rina Ayu", f"Penulis {n}"],
        "editor": "Redaksi Kaltim" if n % 2 else None,
        "published_at": f"2024-05-{1 + n % 28:02d}T{8 + n % 10:02d}:30:00+08:00",
        "published_at_raw": f"{1 + n % 28} Mei 2024, 08:30 WITA",
        "modified_at": None,
        "section": "Daerah",
        "tags": ["samarinda", "ikn", "=SUM(A1)"] if n % 5 == 0 else ["samarinda"],
        "description": f"Ringkasan berita {n}, dengan koma dan “kutip”",
        "body": body,
        "image_url": f"https://kaltim.example.id/img/{n}.jpg",
        "image_caption": "Suasana rapat di Samarinda.",
        "related_urls": [f"https://kaltim.example.id/berita/{n + 1000}/lain"],
        "language": "id",
        "word_count": len(body.split()),
        "crawled_at": "2024-06-01T00:00:00+00:00",
    }
    assert set(article) == set(ARTICLE_FIELDS)
    article.update(overrides)
    return article


@pytest.fixture
def article_factory() -> Callable[..., dict[str, Any]]:
    """:func:`make_article` as a fixture."""
    return make_article


# -- SQLite ------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file (not yet created) under ``tmp_path``."""
    return f"sqlite:///{tmp_path / 'db' / 'kaltimnews.sqlite3'}"


# -- PostgreSQL --------------------------------------------------------------------------------


def _admin_engine() -> sa.Engine:
    # pool_pre_ping: tests/reliability/test_faults.py restarts the server mid-session; a pooled
    # connection from before the restart is replaced instead of failing the next test's setup.
    return sa.create_engine(
        POSTGRES_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
        pool_pre_ping=True,
    )


def _with_database(url: str, database: str) -> str:
    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


def _drop_database(engine: sa.Engine, name: str) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the maintenance database; skips (or fails) when none answers."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = f"no PostgreSQL server answers at {mask_url(POSTGRES_ADMIN_URL)}: {exc.orig}"
        if os.environ.get("KALTIMNEWS_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason} (and KALTIMNEWS_REQUIRE_POSTGRES is set)", pytrace=False)
        loud = (
            f"!!! SKIPPING THE POSTGRESQL STORAGE TESTS: {reason}. Start it"
            " (pg_ctlcluster ... main start) or set KALTIMNEWS_REQUIRE_POSTGRES=1 to fail instead."
        )
        warnings.warn(loud, stacklevel=1)
        pytest.skip(loud)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_session_url(postgres_server: sa.Engine) -> Iterator[str]:
    """A database of this test session (``kaltimnews_test_<random>``), dropped at the end."""
    name = f"kaltimnews_test_{secrets.token_hex(6)}"
    with postgres_server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_ADMIN_URL, name)
    finally:
        _drop_database(postgres_server, name)


@pytest.fixture
def postgres_url(postgres_session_url: str) -> Iterator[str]:
    """A fresh, empty schema of the session database, as the URL's search_path; dropped after."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(postgres_session_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(postgres_session_url)
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # A connection a test left open must not hold the schema's locks forever.
            conn.exec_driver_sql("SET lock_timeout = '10s'")
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_database_factory(postgres_server: sa.Engine) -> Iterator[Callable[[], str]]:
    """Makes whole databases of their own (for tests that take one away); dropped after."""
    made: list[str] = []

    def make() -> str:
        name = f"kaltimnews_test_{secrets.token_hex(6)}"
        with postgres_server.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _with_database(POSTGRES_ADMIN_URL, name)

    yield make
    for name in made:
        _drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest) -> str:
    """The test once on SQLite and once on PostgreSQL: a fresh database URL of each."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


def with_password(url: str, password: str = "s3cret-Pa55") -> str:
    """``url`` with a password (PostgreSQL's trust auth ignores it): to test it never shows."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.password:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)


# -- Crawlers ----------------------------------------------------------------------------------


class StorageTestSpider(scrapy.Spider):
    """A spider that crawls nothing: the pipelines and middleware only read its name and args."""

    name = "kaltimtest"


class FakeEngine:
    """Stands in for the engine of a running crawl: records the closes asked for."""

    def __init__(self, spider: scrapy.Spider) -> None:
        self.spider: scrapy.Spider | None = spider
        self.close_reasons: list[str] = []

    def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.close_reasons.append(reason)


@pytest.fixture
def crawler_factory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Crawler]:
    """``make(settings=None, spidercls=StorageTestSpider, **spider_args)``: a crawler with real
    stats, its spider created and a :class:`FakeEngine`; DEAD_LETTER_DIR under ``tmp_path``."""
    # The tests name their database in settings; an inherited DATABASE_URL must not win.
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def make(
        settings: dict[str, Any] | None = None,
        spidercls: type[scrapy.Spider] = StorageTestSpider,
        **spider_args: Any,
    ) -> Crawler:
        crawler = get_crawler(
            spidercls,
            {
                "DEAD_LETTER_DIR": str(tmp_path / "dead-letter"),
                "STORAGE_BATCH_SIZE": 100,
                "MIN_BODY_WORDS": 40,
                **(settings or {}),
            },
        )
        crawler.spider = spidercls.from_crawler(crawler, **spider_args)
        crawler.stats.open_spider()
        crawler.engine = FakeEngine(crawler.spider)  # type: ignore[assignment]
        return crawler

    return make
