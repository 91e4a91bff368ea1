"""Faults (issue 8, part 3): a crawl killed with SIGKILL, and PostgreSQL stopped under a crawl.

Both are real: the crawl is a ``scrapy crawl`` subprocess killed with SIGKILL, and PostgreSQL is
stopped with ``pg_ctlcluster`` (and always started again in a ``finally``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kaltimnews.mirror import MirrorServer, serve_mirror
from kaltimnews.storage import read_dead_letters, replay_dead_letters
from tests.crawling import CrawlResult, run_crawl
from tests.reliability.builders import (
    EXPECTED_URLS,
    article_html,
    article_url,
    copy_mirror,
    link_from_home,
    write_page,
)
from tests.reliability.crawls import BackgroundCrawl, health_report
from tests.storage_fixtures import POSTGRES_ADMIN_URL, postgres_server, with_password  # noqa: F401

pytestmark = pytest.mark.crawl

#: More links on the home page than Scrapy's seen-requests file buffers (8 KB = ~200
#: fingerprints): by the first stored article it is on disk, as on any real site.
EXTRA_ARTICLES = 240
KILL_AFTER_STORED = 40
ARTICLE_1 = EXPECTED_URLS[0]
#: Article 10, linked only from article 1's Baca Juga, and 11, linked only from 10's.
CHAIN = [url for url in EXPECTED_URLS if "/2021/03/20/" in url or "/2021/03/18/" in url]


# ---------------------------------------------------------------------------------- SIGKILL


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MirrorServer, list[str]]]:
    root = copy_mirror(tmp_path_factory.mktemp("big-site") / "mirror")
    extra = [
        article_url(f"berita-tambahan-{n}", f"2024/04/{1 + n // 60:02d}/10{n % 60:02d}00")
        for n in range(EXTRA_ARTICLES)
    ]
    for n, url in enumerate(extra):
        write_page(root, url, article_html(url, f"Berita tambahan nomor {n}", date_text=""))
    # Every article is on the home page, as on a site whose index lists them all: articles only
    # reachable through a stored article's Baca Juga are a separate gap (test below).
    link_from_home(root, [*extra, *EXPECTED_URLS])
    with serve_mirror(root) as server:
        yield server, EXPECTED_URLS + extra


def _sqlite_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # the table is not there yet
        return 0


@dataclass
class KilledAndResumed:
    stored_at_kill: int
    seen_bytes_at_kill: int
    resumed: CrawlResult
    database: Path
    jobdir: Path


def _kill_and_resume(server: MirrorServer, workdir: Path, *, guard: bool) -> KilledAndResumed:
    database = workdir / "store.sqlite3"
    jobdir = workdir / "job"
    common = {"JOBDIR": str(jobdir), "KALTIMNEWS_JOBDIR_GUARD": str(guard)}
    first = BackgroundCrawl(
        "suarakaltim", server.url, workdir, run_name="killed", database_url=f"sqlite:///{database}",
        # One article per transaction, so what is stored is what the store says; a small delay so
        # that "halfway" is a moment the test can catch.
        settings={**common, "STORAGE_BATCH_SIZE": "1", "DOWNLOAD_DELAY": "0.02"},
    )  # fmt: skip
    try:
        reached = first.wait_until(lambda: _sqlite_count(database) >= KILL_AFTER_STORED)
        assert reached and first.process.poll() is None, "the crawl ended before it could be killed"
    finally:
        first.kill()
    stored_at_kill = _sqlite_count(database)
    seen = jobdir / "requests.seen"
    seen_bytes = seen.stat().st_size if seen.exists() else 0
    resumed = BackgroundCrawl(
        "suarakaltim", server.url, workdir, run_name="resumed", database_url=f"sqlite:///{database}",
        settings=common,
    ).finish()  # fmt: skip
    return KilledAndResumed(stored_at_kill, seen_bytes, resumed, database, jobdir)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory, big_site: Any) -> KilledAndResumed:
    return _kill_and_resume(big_site[0], tmp_path_factory.mktemp("sigkill"), guard=True)


def test_sigkill_halfway_then_restart_stores_every_article_exactly_once(
    killed_and_resumed: KilledAndResumed, big_site: Any
) -> None:
    run = killed_and_resumed
    expected = set(big_site[1])
    assert 0 < run.stored_at_kill < len(expected)
    assert run.resumed.returncode == 0, run.resumed.log[-3000:]
    assert run.resumed.stats["finish_reason"] == "finished"
    with sqlite3.connect(run.database) as conn:
        urls = [url for (url,) in conn.execute("SELECT url FROM articles")]
        revisions = conn.execute("SELECT MAX(revision), COUNT(DISTINCT fingerprint) FROM articles").fetchone()
        archived = conn.execute("SELECT COUNT(*) FROM article_revisions").fetchone()[0]
    assert len(urls) == len(set(urls)) == len(expected)
    assert set(urls) == expected
    assert revisions == (1, len(expected)) and archived == 0  # none stored twice, none rewritten
    # The restart fetched only what was missing: the stored ones were skipped by the store.
    assert run.resumed.stats["kaltimnews/incremental/known_urls"] == run.stored_at_kill
    assert 0 < run.resumed.stats["kaltimnews/incremental/skipped"] <= run.stored_at_kill
    assert run.resumed.stats["item_scraped_count"] == len(expected) - run.stored_at_kill


def test_restart_after_a_crash_sets_the_stale_jobdir_state_aside(killed_and_resumed: KilledAndResumed) -> None:
    run = killed_and_resumed
    # The killed crawl had written fingerprints (the home page's among them) but no queue state.
    assert run.seen_bytes_at_kill > 0
    set_aside = Path(run.resumed.stats["kaltimnews/jobdir/set_aside"])
    assert set_aside.parent == run.jobdir
    assert (set_aside / "requests.seen").stat().st_size == run.seen_bytes_at_kill  # kept, not deleted
    assert run.resumed.stats["kaltimnews/jobdir/unclean_restart"] == 1
    assert "did not close cleanly" in run.resumed.log
    assert not (run.jobdir / "kaltimnews-running.json").exists()  # the resumed crawl closed cleanly


def test_without_the_guard_a_killed_jobdir_crawl_never_finishes_the_site(
    tmp_path_factory: pytest.TempPathFactory, big_site: Any
) -> None:
    """Why JobDirGuard exists: Scrapy's own JOBDIR after SIGKILL keeps the seen-requests file
    (flushed as it went) but loses the queue, so the restart filters the home page and never
    finds the articles that were still queued."""
    run = _kill_and_resume(big_site[0], tmp_path_factory.mktemp("sigkill-unguarded"), guard=False)
    assert run.seen_bytes_at_kill > 0
    assert run.resumed.stats.get("dupefilter/filtered", 0) > 0
    assert _sqlite_count(run.database) < len(big_site[1])


# ---------------------------------------------------------------------------------- Baca Juga of stored articles


def test_incremental_crawl_finds_articles_linked_only_from_stored_articles(
    tmp_path: Path, suarakaltim_mirror: MirrorServer
) -> None:
    """After a crash or a database outage that stored article 1 but not article 10 (linked only
    from 1's Baca Juga), the next crawl still finds 10, and 11 (linked only from 10): the store
    hands back a skipped article's Baca Juga links (a gap these fault tests found, now fixed)."""
    database = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    first = run_crawl("suarakaltim", suarakaltim_mirror.url, tmp_path / "first", database_url=database,
                      args={"follow_related": "0"})  # fmt: skip
    assert CHAIN[0] not in first.urls and ARTICLE_1 in first.urls  # the state a crash can leave
    run_crawl("suarakaltim", suarakaltim_mirror.url, tmp_path / "second", database_url=database)
    stored = set(_pg_or_sqlite_urls(database))
    missing = [url for url in CHAIN if url not in stored]
    assert not missing, f"not found again: {missing}"


# ---------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def linked_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorServer]:
    """The mirror with every article on the home page: the outage test is not about Baca Juga chains."""
    root = copy_mirror(tmp_path_factory.mktemp("linked") / "mirror")
    link_from_home(root, EXPECTED_URLS)
    with serve_mirror(root) as server:
        yield server


def _cluster() -> list[str]:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        pytest.skip("pg_ctlcluster is not installed: cannot stop and start PostgreSQL")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def _pg_ready(url: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _pg_count(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM articles").scalar() or 0)
    except sa.exc.DBAPIError:
        return 0


def _pg_or_sqlite_urls(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [u for (u,) in conn.exec_driver_sql("SELECT url FROM articles")]
    finally:
        engine.dispose()


@dataclass
class Outage:
    first: CrawlResult
    stored_after_first: list[str]
    dead_letters: list[dict[str, Any]]
    dead_letter_files: list[Path]
    second: CrawlResult
    stored_after_second: list[str]
    database_url: str
    password: str


@pytest.fixture(scope="module")
def outage(
    tmp_path_factory: pytest.TempPathFactory, linked_mirror: MirrorServer, postgres_server: sa.Engine
) -> Iterator[Outage]:
    cluster = _cluster()
    name = f"kaltimnews_test_{secrets.token_hex(6)}"
    with postgres_server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    password = f"pw-{secrets.token_hex(8)}"  # trust auth ignores it; it must never be shown
    url = with_password(sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False), password)
    workdir = tmp_path_factory.mktemp("pg-outage")
    watcher = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 2})
    first = BackgroundCrawl(
        "suarakaltim", linked_mirror.url, workdir / "first", run_name="first", database_url=url,
        settings={"STORAGE_BATCH_SIZE": "2", "DOWNLOAD_DELAY": "0.3"},
    )  # fmt: skip
    try:
        reached = first.wait_until(lambda: _pg_count(watcher) >= 2, timeout=60, poll=0.1)
        assert reached and first.process.poll() is None, "the crawl ended before the database stopped"
        subprocess.run([*cluster, "stop"], check=True, capture_output=True, timeout=60)
        try:
            first_result = first.finish(timeout=90)
        finally:
            subprocess.run([*cluster, "start"], check=True, capture_output=True, timeout=60)
    finally:
        first.kill()
        # ALWAYS: the server runs again whatever happened above.
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False).returncode != 0:
            subprocess.run([*cluster, "start"], check=False, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while not _pg_ready(POSTGRES_ADMIN_URL) and time.monotonic() < deadline:
            time.sleep(0.2)
        watcher.dispose()
        postgres_server.dispose()  # its pooled connections died with the server
    try:
        stored_after_first = _pg_or_sqlite_urls(url)
        files = sorted((workdir / "first" / "dead-letter").glob("*.jsonl"))
        letters = [item for path in files for item in read_dead_letters(path)]
        second = BackgroundCrawl(
            "suarakaltim", linked_mirror.url, workdir / "second", run_name="second", database_url=url
        ).finish()
        yield Outage(first_result, stored_after_first, letters, files, second, _pg_or_sqlite_urls(url), url, password)
    finally:
        with postgres_server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_database_stopped_mid_crawl_stops_the_crawl_with_a_clear_error(outage: Outage) -> None:
    first = outage.first
    assert first.stats["finish_reason"] == "database_error", first.log[-3000:]
    assert first.stats["kaltimnews/storage/database_errors"] == 1
    assert "Database error while writing a batch in postgresql+psycopg://postgres:***@" in first.log
    assert "Stopping the crawl (database_error)" in first.log
    assert first.returncode == 1  # the health monitors fail it: finish reason and storage
    report = health_report(first)
    assert {"finish_reason", "storage"} <= set(report["failed"])


@pytest.mark.postgres
def test_unwritten_items_are_in_the_dead_letter_file(outage: Outage) -> None:
    emitted = {item["url"] for item in outage.first.items}
    stored = set(outage.stored_after_first)
    dead = {item["url"] for item in outage.dead_letters}
    assert len(outage.dead_letter_files) == 1 and dead
    assert stored and not stored & dead
    assert stored | dead == emitted  # every item the crawl produced is in one place or the other
    assert outage.first.stats["kaltimnews/storage/dead_letter"] == len(outage.dead_letters)


@pytest.mark.postgres
def test_a_new_crawl_after_the_database_is_back_completes_the_store(outage: Outage) -> None:
    second = outage.second
    assert second.returncode == 0, second.log[-3000:]
    assert sorted(outage.stored_after_second) == sorted(EXPECTED_URLS)
    assert second.stats["kaltimnews/incremental/skipped"] == len(outage.stored_after_first)
    # Replaying the dead letters now changes nothing: they are stored already.
    result = replay_dead_letters(outage.dead_letter_files[0], outage.database_url)
    assert result.inserted == 0 and result.updated == 0


@pytest.mark.postgres
def test_database_password_never_logged(outage: Outage) -> None:
    assert outage.password in outage.database_url
    for run in (outage.first, outage.second):
        assert outage.password not in run.log  # log file, stdout and stderr
        assert outage.password not in repr(run.stats)
        assert outage.password not in Path(run.stats["kaltimnews/health/report"]).read_text("utf-8")
    for path in outage.dead_letter_files:
        assert outage.password not in path.read_text("utf-8")
