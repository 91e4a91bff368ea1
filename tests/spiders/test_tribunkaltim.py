"""End to end: a real ``scrapy crawl tribunkaltim`` over HTTP against the bundled Tribun Kaltim mirror."""

from __future__ import annotations

import json
import re

import pytest

from kaltimnews.mirror import bundled_mirror, serve_mirror
from tests.crawling import run_crawl

pytestmark = pytest.mark.crawl

EXPECTED_URLS = json.loads((bundled_mirror("tribunkaltim") / "expected_articles.json").read_text())["articles"]
MULTI_PAGE = "https://kaltim.tribunnews.com/kaltim/1282764/harga-tandan-buah-segar-sawit-naik-petani-di-kutai-kartanegara-dan-berau-mulai-tambah-pupuk"
TWO_WRITERS = "https://kaltim.tribunnews.com/samarinda/1283902/dermaga-apung-baru-di-tepian-mahakam-mulai-dipakai-perahu-wisata-susur-sungai"
NO_ZONE = "https://kaltim.tribunnews.com/bisnis/1190457/gelombang-tinggi-nelayan-penajam-sulit-melaut-harga-ikan-layang-naik"
OLD_URL = "https://kaltim.tribunnews.com/2021/08/03/ratusan-pelajar-smp-di-bontang-ikuti-vaksinasi-covid-19-massal"
ONLY_VIA_BACA_JUGA = "https://kaltim.tribunnews.com/kaltim/1283377/penyu-hijau-kembali-bertelur-di-pulau-derawan-relawan-jaga-sarang-hingga-menetas"
NOT_BODY = re.compile(r"TRIBUNKALTIM\.CO|Ringkasan Berita|Baca juga|ADVERTISEMENT|Google News|Halaman \d", re.IGNORECASE)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with serve_mirror(bundled_mirror("tribunkaltim")) as server:
        result = run_crawl("tribunkaltim", server.url, tmp_path_factory.mktemp("tribun"))
    assert result.returncode == 0, result.log[-3000:]
    return result


@pytest.fixture(scope="module")
def by_url(crawl):
    return {item["url"]: item for item in crawl.items}


def test_every_article_exactly_once_and_nothing_else(crawl):
    assert len(crawl.urls) == len(set(crawl.urls))
    assert sorted(crawl.urls) == sorted(EXPECTED_URLS)


def test_times_are_wita_as_the_pages_state(crawl, by_url):
    assert all(item["published_at"].endswith("+08:00") for item in crawl.items)
    assert by_url[NO_ZONE]["published_at"] == "2025-01-15T19:40:00+08:00"
    assert by_url[NO_ZONE]["published_at_raw"] == "Rabu, 15 Januari 2025 19:40"
    assert by_url[OLD_URL]["published_at"] == "2021-08-03T08:15:00+08:00"


def test_writers_are_authors_and_the_editor_has_its_own_field(crawl, by_url):
    assert by_url[TWO_WRITERS]["authors"] == ["Ahmad Fauzi", "Rina Marlina"]
    assert by_url[TWO_WRITERS]["editor"] == "Hendra Kusuma"
    for item in crawl.items:
        assert item["authors"] and item["editor"] and item["editor"] not in item["authors"]


def test_body_is_free_of_dateline_summary_and_chrome(crawl):
    for item in crawl.items:
        assert not NOT_BODY.search(item["body"]), (item["url"], NOT_BODY.search(item["body"]))
        assert item["word_count"] >= 100


def test_multi_page_article_is_merged(by_url):
    assert len(by_url[MULTI_PAGE]["body"].split("\n\n")) == 9


def test_discovery_from_every_source(crawl, by_url):
    assert crawl.stat("kaltimnews/discovered/feed") == 3
    assert crawl.stat("kaltimnews/discovered/sitemap") == 3
    assert crawl.stat("kaltimnews/discovered/listing") > 0
    assert ONLY_VIA_BACA_JUGA in by_url
    assert crawl.stat("kaltimnews/http_error/404") == 2
    assert crawl.stat("kaltimnews/skipped/no_article_text") == 1
