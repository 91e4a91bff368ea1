"""The SuaraKaltim crawl into real SQLite and PostgreSQL stores: once, again unchanged, and after a change.

Users crawl every half hour: the first crawl stores each article once; the next downloads no
article page and writes nothing; ``-a refresh=1`` after an article changed updates that one row
and keeps its previous version.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from kaltimnews.mirror import bundled_mirror
from tests.crawling import run_crawl
from tests.storage_fixtures import *  # noqa: F403 (sqlite_url, postgres_url, backend_url, ...)

pytestmark = pytest.mark.crawl

EXPECTED_URLS = json.loads((bundled_mirror("suarakaltim") / "expected_articles.json").read_text())["articles"]
CHANGED_URL = "https://kaltim.suara.com/read/2022/09/12/083000/lomba-perahu-naga-tepian-mahakam-kembali-digelar-ribuan-warga-padati-samarinda-seberang"
CHANGED_FILE = "kaltim.suara.com/read/2022/09/12/083000/lomba-perahu-naga-tepian-mahakam-kembali-digelar-ribuan-warga-padati-samarinda-seberang/index.html"
NEW_SENTENCE = "Panitia menambahkan satu kategori lomba baru untuk perahu naga pelajar."


def rows(database_url):
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            articles = conn.execute(sa.text("SELECT url, revision, body FROM articles")).all()
            revisions = conn.execute(sa.text("SELECT url, revision, body FROM article_revisions")).all()
    finally:
        engine.dispose()
    return articles, revisions


def test_crawl_again_and_refresh(backend_url, suarakaltim_mirror_copy, tmp_path):
    mirror_root, server = suarakaltim_mirror_copy

    first = run_crawl("suarakaltim", server.url, tmp_path / "first", database_url=backend_url)
    assert first.returncode == 0, first.log[-3000:]
    articles, revisions = rows(backend_url)
    assert sorted(url for url, _, _ in articles) == sorted(EXPECTED_URLS), "exactly one row per article"
    assert all(revision == 1 for _, revision, _ in articles) and revisions == []
    assert first.stat("kaltimnews/storage/inserted") == len(EXPECTED_URLS)

    second = run_crawl("suarakaltim", server.url, tmp_path / "second", database_url=backend_url)
    assert second.returncode == 0, second.log[-3000:]
    # Every article is recognised as stored, also the two linked only from stored articles'
    # "Baca Juga" blocks: the store hands those links back, and as they are stored too they are
    # walked in memory, without a download or a request.
    assert second.stat("kaltimnews/incremental/skipped") == len(EXPECTED_URLS)
    assert second.stat("kaltimnews/incremental/related_requested") == 0
    assert second.stat("kaltimnews/articles/emitted") == 0, "no article page was downloaded"
    assert not any(second.stat(key) for key in second.stats if key.startswith("kaltimnews/template/"))
    assert second.stat("kaltimnews/storage/inserted") == 0 and second.stat("kaltimnews/storage/updated") == 0
    assert second.stat("downloader/request_count") < first.stat("downloader/request_count") / 2
    assert rows(backend_url) == (articles, revisions), "nothing was written"

    page = mirror_root / CHANGED_FILE
    html = page.read_text("utf-8")
    marker = "</p>"
    page.write_text(html.replace(marker, f"</p>\n<p>{NEW_SENTENCE}</p>", 1), "utf-8")
    assert NEW_SENTENCE in page.read_text("utf-8")

    refreshed = run_crawl(
        "suarakaltim", server.url, tmp_path / "refresh", database_url=backend_url, args={"refresh": "1"}
    )
    assert refreshed.returncode == 0, refreshed.log[-3000:]
    assert refreshed.stat("kaltimnews/storage/updated") == 1
    assert refreshed.stat("kaltimnews/storage/unchanged") == len(EXPECTED_URLS) - 1
    after, revisions_after = rows(backend_url)
    assert len(after) == len(EXPECTED_URLS)
    changed = {url: (revision, body) for url, revision, body in after}[CHANGED_URL]
    assert changed[0] == 2 and NEW_SENTENCE in changed[1]
    assert [(url, revision) for url, revision, _ in revisions_after] == [(CHANGED_URL, 1)]
    assert NEW_SENTENCE not in revisions_after[0][2], "the previous version is kept as it was"
