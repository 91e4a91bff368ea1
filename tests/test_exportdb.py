"""``scrapy exportdb``: the store exported with the feeds' columns, order and encoding."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.cmdline import execute
from scrapy.settings import Settings

from kaltimnews.exporters import ArticleCsvItemExporter, ArticleJsonLinesItemExporter
from kaltimnews.items import ARTICLE_FIELDS, ArticleItem
from kaltimnews.storage import ArticleStore
from tests.storage_fixtures import *  # noqa: F403  (the fixtures)
from tests.storage_fixtures import make_article

REPO = Path(__file__).resolve().parent.parent
ARTICLES = [make_article(n) for n in (3, 1, 2)]  # stored out of order; exported by date
OTHER_SITE = make_article(9, url="https://lain.example.id/9", site="lain")


def feed_bytes(exporter_class: type[Any], items: list[dict[str, Any]]) -> bytes:
    """What a crawl feed with ``exporter_class`` writes for ``items`` (as ArticleItems)."""
    buffer = io.BytesIO()
    exporter = exporter_class(buffer)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(ArticleItem(**item))
    exporter.finish_exporting()
    return buffer.getvalue()


def exportdb(*args: str, database_url: str | None = None) -> int:
    """Run ``scrapy exportdb`` in this process; its exit code."""
    argv = ["scrapy", "exportdb", *args]
    if database_url:
        argv += ["--database-url", database_url]
    settings = Settings({"COMMANDS_MODULE": "kaltimnews.commands"}, priority="project")
    with pytest.raises(SystemExit) as exited:
        execute(argv, settings)
    return int(exited.value.code or 0)


@pytest.fixture
def filled_url(backend_url: str) -> str:
    with ArticleStore(backend_url) as store:
        store.store_items([*ARTICLES, OTHER_SITE])
    return backend_url


def by_date(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (item["published_at"], item["url"]))


def test_csv_is_byte_identical_to_the_feed(
    filled_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "articles.csv"
    assert exportdb(str(out), database_url=filled_url) == 0
    assert capsys.readouterr().out.strip() == f"Wrote 4 article(s) to {out}"
    expected = feed_bytes(ArticleCsvItemExporter, by_date([*ARTICLES, OTHER_SITE]))
    assert out.read_bytes() == expected
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(ARTICLE_FIELDS)
    assert not list(out.parent.glob(".*partial"))


@pytest.mark.parametrize("suffix", ["jsonl", "jl"])
def test_json_lines_are_identical_to_the_feed(filled_url: str, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"articles.{suffix}"
    assert exportdb(str(out), "--site", "kaltimtest", database_url=filled_url) == 0
    assert out.read_bytes() == feed_bytes(ArticleJsonLinesItemExporter, by_date(ARTICLES))
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert list(first) == list(ARTICLE_FIELDS)
    assert "“kutip”" in out.read_text(encoding="utf-8")


def test_since_and_site_filter(
    filled_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "since.jsonl"
    # Articles 2 and 3 are published on 3 and 4 May, article 9 of the other site on 10 May.
    assert (
        exportdb(str(out), "--since", "2024-05-03", "--site", "kaltimtest", database_url=filled_url)
        == 0
    )
    urls = [json.loads(line)["url"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert urls == [make_article(2)["url"], make_article(3)["url"]]
    assert "Wrote 2 article(s)" in capsys.readouterr().out


def test_standard_output(filled_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert exportdb("-", "--format", "csv", "--site", "lain", database_url=filled_url) == 0
    captured = capfd.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert rows[0] == list(ARTICLE_FIELDS)
    assert [row[0] for row in rows[1:]] == [OTHER_SITE["url"]]
    assert "Wrote 1 article(s) to -" in captured.err


def test_the_database_url_setting_and_environment(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArticleStore(sqlite_url) as store:
        store.store_items(ARTICLES)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    out = tmp_path / "env.csv"
    assert exportdb(str(out)) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(ARTICLES)


@pytest.mark.parametrize(
    "args",
    [["a.csv", "--since", "kemarin"], ["articles.xlsx"], [], ["a.csv", "b.csv"]],
    ids=["bad-date", "bad-format", "no-file", "two-files"],
)
def test_usage_errors(
    sqlite_url: str, tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert exportdb(*args, database_url=sqlite_url) == 2


def test_a_missing_store_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope" / "kaltimnews.sqlite3"
    assert exportdb(str(tmp_path / "a.csv"), database_url=f"sqlite:///{missing}") == 1
    assert "no database file" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "a.csv").exists()
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert exportdb(str(tmp_path / "a.csv"), database_url=f"sqlite:///{empty}") == 1
    assert "no article store" in capsys.readouterr().err


def test_an_unreachable_database_is_an_error_with_the_password_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://crawler:hunter2@127.0.0.1:1/news?connect_timeout=2"
    assert exportdb(str(tmp_path / "a.csv"), database_url=url) == 1
    err = capsys.readouterr().err
    assert "crawler:***@127.0.0.1:1/news" in err and "hunter2" not in err


@pytest.mark.timeout(120)
def test_the_scrapy_command_line_in_the_project(sqlite_url: str, tmp_path: Path) -> None:
    """``scrapy exportdb`` as users run it: found through COMMANDS_MODULE, in the project."""
    with ArticleStore(sqlite_url) as store:
        store.store_items(ARTICLES)
    out = tmp_path / "articles.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DATABASE_URL", None)
    scrapy = Path(sys.executable).with_name("scrapy")
    run = subprocess.run(
        [str(scrapy), "exportdb", str(out), "--database-url", sqlite_url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr
    assert f"Wrote 3 article(s) to {out}" in run.stdout
    assert out.read_bytes() == feed_bytes(ArticleCsvItemExporter, by_date(ARTICLES))
    listing = subprocess.run(
        [str(scrapy)], cwd=REPO, env=env, capture_output=True, text=True, timeout=110
    )
    assert "exportdb" in listing.stdout
