"""The article store against real SQLite and PostgreSQL: schema versions, upsert, revisions."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scrapy.settings import Settings

from kaltimnews.items import ARTICLE_FIELDS
from kaltimnews.storage import (
    DEFAULT_DATABASE_URL,
    MIGRATIONS,
    ArticleStore,
    ArticleWithoutUrl,
    DeadLetterWriter,
    Migration,
    SchemaVersionError,
    content_fingerprint,
    mask_url,
    prepare_article,
    read_dead_letters,
    replay_dead_letters,
    resolve_database_url,
)
from tests.storage_fixtures import *  # noqa: F403  (the fixtures)
from tests.storage_fixtures import make_article


@pytest.fixture
def store(backend_url: str) -> Iterator[ArticleStore]:
    with ArticleStore(backend_url) as store:
        yield store


@contextmanager
def recorded_writes(store: ArticleStore) -> Iterator[list[str]]:
    """The INSERT/UPDATE/DELETE statements ``store`` sends inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if re.match(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", statement, re.IGNORECASE):
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def table_count(store: ArticleStore, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def drop_table(url: str, table: str) -> None:
    """Drop a table from outside the store, the way a careless admin would."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()


# -- schema --------------------------------------------------------------------------------


def test_schema_is_created_on_first_use_and_versioned(store: ArticleStore) -> None:
    assert store.schema_version() is None
    assert store.ensure_schema() == MIGRATIONS[-1].version
    assert store.schema_version() == MIGRATIONS[-1].version
    assert store.has_articles_table()
    # Another process opening the same database applies nothing again.
    with ArticleStore(store.database_url) as again:
        assert again.ensure_schema() == MIGRATIONS[-1].version
    assert table_count(store, "schema_version") == len(MIGRATIONS)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("articles")}
    assert (
        set(ARTICLE_FIELDS) | {"fingerprint", "first_seen_at", "updated_at", "revision"} <= columns
    )


def test_storing_creates_the_schema_by_itself(store: ArticleStore) -> None:
    store.store_items([make_article(1)])
    assert store.schema_version() == MIGRATIONS[-1].version
    assert store.count() == 1


def test_upgrade_steps_run_in_order_once(store: ArticleStore) -> None:
    store.ensure_schema()
    store.store_items([make_article(1)])
    applied: list[int] = []

    def add_column(conn: sa.Connection) -> None:
        applied.append(2)
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN summary TEXT")

    def fill_column(conn: sa.Connection) -> None:
        applied.append(3)
        conn.exec_driver_sql("UPDATE articles SET summary = title")

    upgrades = (
        *MIGRATIONS,
        Migration(3, "fill summary", fill_column),
        Migration(2, "add summary", add_column),
    )
    with ArticleStore(store.database_url) as newer:
        assert newer.ensure_schema(upgrades) == 3
    assert applied == [2, 3]
    with ArticleStore(store.database_url) as newer:
        assert newer.ensure_schema(upgrades) == 3
    assert applied == [2, 3]
    with store.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT summary FROM articles")).scalar_one().startswith("Berita")
        )
        versions = conn.execute(
            sa.text("SELECT version FROM schema_version ORDER BY version")
        ).scalars()
        assert list(versions) == [1, 2, 3]
    # This code only knows version 1: it must not write into a version-3 database.
    with (
        ArticleStore(store.database_url) as older,
        pytest.raises(SchemaVersionError, match="version 3"),
    ):
        older.ensure_schema()


def test_a_failed_upgrade_step_leaves_the_previous_version(store: ArticleStore) -> None:
    store.ensure_schema()

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN half_done TEXT")
        raise RuntimeError("step failed")

    with ArticleStore(store.database_url) as newer, pytest.raises(RuntimeError):
        newer.ensure_schema((*MIGRATIONS, Migration(2, "broken", broken)))
    assert store.schema_version() == 1
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("articles")}
    assert "half_done" not in columns  # the step's DDL was rolled back with it


# -- insert / unchanged / updated ----------------------------------------------------------


def test_insert_then_unchanged_writes_nothing(store: ArticleStore) -> None:
    first = store.store_items([make_article(1), make_article(2)])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    before = store.get_article(make_article(1)["url"])
    assert before is not None and before["revision"] == 1

    # Seen again, crawled later: nothing to write.
    again = [make_article(1, crawled_at="2024-07-01T00:00:00+00:00"), make_article(2)]
    with recorded_writes(store) as writes:
        result = store.store_items(again)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 2)
    assert writes == []
    after = store.get_article(make_article(1)["url"])
    assert after == before
    assert store.count() == 2


def test_changed_article_updates_its_row_and_keeps_the_previous_version(
    store: ArticleStore,
) -> None:
    original = make_article(1)
    store.store_items([original])
    stored = store.get_article(original["url"])
    assert stored is not None

    changed = make_article(
        1, title="Berita nomor 1: judul diperbaiki", body=original["body"] + " Ralat."
    )
    result = store.store_items([changed])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    assert store.count() == 1
    now = store.get_article(original["url"])
    assert now is not None
    assert now["id"] == stored["id"]
    assert now["revision"] == 2
    assert now["title"] == changed["title"]
    assert now["fingerprint"] == content_fingerprint(changed["title"], changed["body"])
    assert now["first_seen_at"] == stored["first_seen_at"]
    assert now["updated_at"] >= stored["updated_at"]

    revisions = store.revisions(original["url"])
    assert len(revisions) == 1
    assert revisions[0]["revision"] == 1
    assert revisions[0]["title"] == original["title"]
    assert revisions[0]["body"] == original["body"]
    assert revisions[0]["authors"] == original["authors"]
    assert revisions[0]["stored_at"] == stored["updated_at"]

    store.store_items([make_article(1, title="Ketiga kali")])
    assert store.get_article(original["url"])["revision"] == 3  # type: ignore[index]
    assert [r["revision"] for r in store.revisions(original["url"])] == [1, 2]
    assert store.count() == 1


def test_a_new_modified_at_is_a_new_revision(store: ArticleStore) -> None:
    store.store_items([make_article(1)])
    result = store.store_items([make_article(1, modified_at="2024-05-03T10:00:00+08:00")])
    assert result.updated == 1
    # A page that no longer states modified_at has not changed.
    assert store.store_items([make_article(1)]).unchanged == 1
    assert store.get_article(make_article(1)["url"])["revision"] == 2  # type: ignore[index]


def test_whitespace_and_case_do_not_make_a_change(store: ArticleStore) -> None:
    article = make_article(1)
    store.store_items([article])
    reflowed = make_article(
        1, title=article["title"].upper(), body="  " + article["body"].replace(" ", "\n\t ") + "\n"
    )
    assert store.store_items([reflowed]).unchanged == 1


# -- one row per article -------------------------------------------------------------------


def test_exactly_one_row_per_article_whatever_the_url_spelling(store: ArticleStore) -> None:
    url = make_article(1)["url"]
    variants = [
        url,
        url + "?utm_source=facebook&utm_medium=social",
        url + "/",
        url + "#komentar",
        url.replace("https://", "http://"),
        url.replace("kaltim.example.id", "KALTIM.EXAMPLE.ID") + "?fbclid=abc",
        url + "?page=1",
    ]
    first = store.store_items([make_article(1, url=variants[0])])
    assert first.inserted == 1
    batch = store.store_items([make_article(1, url=v) for v in variants[1:4]])
    assert batch.duplicate_url == 2 and batch.unchanged == 1
    for variant in variants[4:]:
        assert store.store_items([make_article(1, url=variant)]).unchanged == 1
    assert store.count() == 1
    assert store.stored_urls() == {url}


def test_same_content_under_a_new_url_is_not_stored_twice(store: ArticleStore) -> None:
    article = make_article(1)
    store.store_items([article])
    copy = make_article(
        1, url="https://kaltim.example.id/amp/berita/1", title=article["title"].lower()
    )
    result = store.store_items([copy])
    assert (result.inserted, result.duplicate_content) == (0, 1)
    # Within one batch too.
    twins = [make_article(2), make_article(2, url="https://kaltim.example.id/x/2")]
    assert store.store_items(twins).duplicate_content == 1
    # Another site publishing the same text is another publication.
    assert (
        store.store_items([make_article(1, url="https://lain.example.id/1", site="lain")]).inserted
        == 1
    )
    assert store.count() == 3


def test_one_row_after_many_runs(store: ArticleStore) -> None:
    articles = [make_article(n) for n in range(30)]
    for _run in range(3):
        store.store_items(articles)
    assert store.count() == 30
    with store.engine.connect() as conn:
        duplicates = conn.execute(
            sa.text("SELECT url FROM articles GROUP BY url HAVING count(*) > 1")
        ).all()
    assert duplicates == []


def test_a_batch_is_all_or_nothing(store: ArticleStore) -> None:
    store.store_items([make_article(1)])
    drop_table(store.database_url, "article_revisions")
    # A new article and a changed one: the revision copy fails, so the insert is undone too.
    with pytest.raises(sa.exc.SQLAlchemyError):
        store.store_items([make_article(2), make_article(1, title="Diubah")])
    assert store.count() == 1
    assert store.get_article(make_article(1)["url"])["title"] == make_article(1)["title"]  # type: ignore[index]


# -- values --------------------------------------------------------------------------------


def test_values_round_trip_with_their_types(store: ArticleStore) -> None:
    article = make_article(
        7,
        authors=["Ñoman Ä", "Dewi, S.Sos"],
        tags="tunggal",
        word_count="61",
        published_at=dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        description="Nol\x00byte dan “kutip” ✓",
    )
    del article["site"]
    row = prepare_article(article, default_site="kaltimtest")
    store.store_batch([row])
    stored = next(store.iter_articles())
    assert stored["authors"] == ["Ñoman Ä", "Dewi, S.Sos"]
    assert stored["tags"] == ["tunggal"]
    assert stored["related_urls"] == make_article(7)["related_urls"]
    assert stored["word_count"] == 61
    assert stored["published_at"] == "2024-05-01T08:30:00+08:00"
    assert stored["description"] == "Nolbyte dan “kutip” ✓"
    assert stored["site"] == "kaltimtest"
    assert stored["modified_at"] is None
    assert list(stored) == list(ARTICLE_FIELDS)


def test_an_item_without_url_cannot_be_prepared() -> None:
    with pytest.raises(ArticleWithoutUrl):
        prepare_article(make_article(1, url="  "))


def test_fingerprint_ignores_case_and_whitespace_only() -> None:
    a = content_fingerprint("Judul  Berita", "Satu dua.\n\nTiga\u00a0empat.")
    assert a == content_fingerprint("judul berita", " satu DUA. tiga empat. ")
    assert a != content_fingerprint("judul berita", "satu dua. tiga lima.")
    assert re.fullmatch(r"[0-9a-f]{64}", a)


# -- reading -------------------------------------------------------------------------------


def test_stored_urls_of_one_site(store: ArticleStore) -> None:
    assert store.stored_urls("kaltimtest") == set()  # no schema yet: nothing, no error
    store.store_items(
        [make_article(1), make_article(2), make_article(3, url="https://b.example.id/3", site="b")]
    )
    assert store.stored_urls("kaltimtest") == {make_article(1)["url"], make_article(2)["url"]}
    assert store.stored_urls("b") == {"https://b.example.id/3"}
    assert len(store.stored_urls()) == 3


def test_iter_articles_filters_by_site_and_date(store: ArticleStore) -> None:
    store.store_items([make_article(n) for n in range(1, 6)])
    store.store_items([make_article(9, url="https://b.example.id/9", site="b")])
    since = [a["url"] for a in store.iter_articles(since=dt.date(2024, 5, 5))]
    assert since == [make_article(4)["url"], make_article(5)["url"], "https://b.example.id/9"]
    assert [a["site"] for a in store.iter_articles(site="b")] == ["b"]
    published = [a["published_at"] for a in store.iter_articles(site="kaltimtest")]
    assert published == sorted(published)


# -- configuration -------------------------------------------------------------------------


def test_database_url_resolution_order() -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://env/db"}
    project = Settings({"DATABASE_URL": "sqlite:///project.sqlite3"}, priority="project")
    assert resolve_database_url(project, env) == "postgresql+psycopg://env/db"
    assert resolve_database_url(project, {}) == "sqlite:///project.sqlite3"
    cmdline = Settings({"DATABASE_URL": "sqlite:///project.sqlite3"}, priority="project")
    cmdline.set("DATABASE_URL", "sqlite:///cmdline.sqlite3", priority="cmdline")
    assert resolve_database_url(cmdline, env) == "sqlite:///cmdline.sqlite3"
    assert resolve_database_url(Settings(), {}) == DEFAULT_DATABASE_URL
    assert resolve_database_url(None, {"DATABASE_URL": " "}) == DEFAULT_DATABASE_URL


def test_mask_url_hides_the_password() -> None:
    masked = mask_url("postgresql+psycopg://crawler:s3cret@db.internal:5432/news")
    assert "s3cret" not in masked
    assert masked == "postgresql+psycopg://crawler:***@db.internal:5432/news"
    assert mask_url("sqlite:///data/kaltimnews.sqlite3") == "sqlite:///data/kaltimnews.sqlite3"


def test_sqlite_parent_folder_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a/b/c/store.sqlite3"
    with ArticleStore(url) as store:
        store.store_items([make_article(1)])
    assert (tmp_path / "a/b/c/store.sqlite3").is_file()


def test_the_default_database_is_a_relative_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with ArticleStore(resolve_database_url(Settings())) as store:
        store.store_items([make_article(1)])
    assert (tmp_path / "data" / "kaltimnews.sqlite3").is_file()


# -- dead letters --------------------------------------------------------------------------


def test_dead_letter_file_is_named_by_spider_and_utc_time(tmp_path: Path) -> None:
    writer = DeadLetterWriter(tmp_path / "dl", "kaltimtest")
    assert writer.path is None  # nothing written, no file
    writer.write(make_article(1))
    writer.write(make_article(2, published_at=dt.date(2024, 5, 2), tags={"a"}))
    writer.close()
    assert writer.path is not None
    assert re.fullmatch(r"kaltimtest-\d{8}T\d{6}Z\.jsonl", writer.path.name)
    lines = writer.path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == make_article(1)
    assert "“kutip”" in lines[0]  # readable UTF-8, no \u escapes
    assert json.loads(lines[1])["published_at"] == "2024-05-02"
    # A second failure in the same second gets its own file.
    other = DeadLetterWriter(tmp_path / "dl", "kaltimtest")
    other.write(make_article(3))
    other.close()
    assert other.path != writer.path


def test_dead_letters_can_be_replayed(backend_url: str, tmp_path: Path) -> None:
    writer = DeadLetterWriter(tmp_path, "kaltimtest")
    for n in range(5):
        writer.write(make_article(n))
    writer.close()
    assert writer.path is not None
    assert len(read_dead_letters(writer.path)) == 5
    assert replay_dead_letters(writer.path, backend_url).inserted == 5
    assert replay_dead_letters(writer.path, backend_url).unchanged == 5
    with ArticleStore(backend_url) as store:
        assert store.count() == 5
