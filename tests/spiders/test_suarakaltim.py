"""End to end: a real ``scrapy crawl suarakaltim`` over HTTP against the bundled mirror."""

from __future__ import annotations

import csv
import json
import re

import pytest
from scrapy.utils.test import get_crawler

from kaltimnews.items import ARTICLE_FIELDS
from kaltimnews.mirror import bundled_mirror
from kaltimnews.spiders.suarakaltim import SuaraKaltimSpider
from tests.crawling import run_crawl

pytestmark = pytest.mark.crawl

EXPECTED_URLS = json.loads((bundled_mirror("suarakaltim") / "expected_articles.json").read_text())["articles"]
SEED_URL = "https://kaltim.suara.com/read/2021/03/25/152700/ekspor-ukm-kaltim-tembus-10-negara-saat-pandemi-nilainya-rp-28-miliar"
MULTI_PAGE_URL = "https://kaltim.suara.com/read/2026/08/03/101500/8-fakta-festival-kuliner-tepian-mahakam-dari-amplang-raksasa-hingga-lomba-masak-ikan-patin"
NO_DATE_URL = "https://kaltim.suara.com/read/2023/01/09/174500/ratusan-relawan-bersihkan-pantai-manggar-balikpapan-terkumpul-2-ton-sampah"
CHAIN_END_URL = "https://kaltim.suara.com/read/2021/03/18/130500/panen-raya-pisang-di-kutai-timur-sebagian-hasilnya-siap-dikirim-ke-malaysia"
CHROME = re.compile(r"scroll untuk membaca|load more|baca juga|div-gpt-ad|dataLayer|<\w+", re.IGNORECASE)
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, suarakaltim_mirror):
    result = run_crawl("suarakaltim", suarakaltim_mirror.url, tmp_path_factory.mktemp("crawl"), csv=True)
    assert result.returncode == 0, result.log[-3000:]
    return result


@pytest.fixture(scope="module")
def by_url(crawl):
    return {item["url"]: item for item in crawl.items}


def test_every_article_exactly_once_and_nothing_else(crawl):
    assert len(crawl.urls) == len(set(crawl.urls)), "an article was emitted twice"
    assert sorted(crawl.urls) == sorted(EXPECTED_URLS)


def test_tracking_and_paging_variants_were_the_same_request(crawl):
    # The home page links the seed article three ways and the multi-page article as ?page=1:
    # each variant is a repeat of one canonical URL, dropped by the spider before a request.
    assert crawl.stat("kaltimnews/discovered/repeat") >= 3
    assert not any("utm_" in url or "?" in url or url.endswith("/") for url in crawl.urls)


def test_key_fields_on_every_article(crawl):
    for item in crawl.items:
        assert item["site"] == "suarakaltim"
        assert item["language"] == "id"
        assert item["title"] and not item["title"].endswith("Suarakaltim.id"), item["url"]
        assert ISO_WITH_OFFSET.match(item["published_at"]), item["url"]
        assert item["published_at_raw"], item["url"]
        assert item["crawled_at"].endswith("+00:00")
        assert item["word_count"] == len(item["body"].split()) >= 100, item["url"]
        assert not CHROME.search(item["body"]), (item["url"], CHROME.search(item["body"]))
        if item["url"] != NO_DATE_URL:
            assert item["authors"], item["url"]


def test_seed_article(by_url):
    seed = by_url[SEED_URL]
    assert seed["published_at"] == "2021-03-25T15:27:00+07:00"
    assert seed["published_at_raw"] == "Kamis, 25 Maret 2021 | 15:27 WIB"
    assert seed["authors"] == ["Sapri Maulana"]
    assert seed["image_caption"].startswith("Gubernur Isran Noor Gubernur saat melepas ekspor")
    assert seed["image_caption"] not in seed["body"]
    paragraphs = seed["body"].split("\n\n")
    assert paragraphs[0].startswith("SuaraKaltim.id - Pandemi Covid-19 justru dijadikan tantangan")
    assert paragraphs[-1].startswith("Ada 9 pelaku UKM di Kaltim")
    assert seed["related_urls"][0].startswith("https://kaltim.suara.com/read/2021/03/20/091000/")
    assert seed["related_urls"][1].startswith("https://www.suara.com/bisnis/")


def test_multi_page_article_is_merged_in_order(by_url):
    article = by_url[MULTI_PAGE_URL]
    paragraphs = article["body"].split("\n\n")
    assert len(paragraphs) == 8
    assert len(set(paragraphs)) == 8


def test_url_timestamp_is_the_last_resort(by_url):
    article = by_url[NO_DATE_URL]
    assert article["published_at"] == "2023-01-09T17:45:00+07:00"
    assert article["published_at_raw"] == NO_DATE_URL


def test_baca_juga_chain_is_followed(crawl, by_url):
    assert CHAIN_END_URL in by_url
    assert crawl.stat("kaltimnews/discovered/related") >= 2


def test_pages_without_items_are_counted_and_logged(crawl):
    assert crawl.stat("kaltimnews/http_error/404") == 1
    assert crawl.stat("kaltimnews/http_error/500") == 1
    assert crawl.stat("kaltimnews/skipped/no_article_text") == 1
    assert "berita-yang-sudah-dihapus" in crawl.log
    assert "server-sedang-gangguan" in crawl.log
    assert "video-suasana-malam-tepian-mahakam" in crawl.log
    assert crawl.stat("kaltimnews/articles/emitted") == len(EXPECTED_URLS)


def test_feeds_are_utf8_with_fixed_columns(crawl):
    raw = (crawl.workdir / "crawl.jsonl").read_text("utf-8")
    assert "\\u" not in raw and "“" in raw
    with crawl.csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(ARTICLE_FIELDS)
    assert len(rows) == len(EXPECTED_URLS) + 1
    seed_row = dict(zip(rows[0], next(r for r in rows if r[0] == SEED_URL), strict=True))
    assert seed_row["authors"] == "Sapri Maulana"
    assert " | " in seed_row["related_urls"]


def test_the_crawl_process_opens_no_way_in(crawl):
    # Scrapy 2.19 enables an HTTP code-execution server in every crawl; the project turns it off.
    assert "Enabled extensions" in crawl.log
    assert "RemoteControl" not in crawl.log and "TelnetConsole" not in crawl.log
    assert "Remote control HTTP server listening" not in crawl.log


def test_the_crawl_freezes_its_start_up_objects(crawl):
    assert "kaltimnews.extensions.FreezeStartupObjects" in crawl.log  # among "Enabled extensions"


def test_an_article_linked_again_is_not_requested_again():
    crawler = get_crawler(SuaraKaltimSpider)
    spider = SuaraKaltimSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    url = EXPECTED_URLS[0]
    first = spider._discovered_article(url, "listing")
    assert first is not None and first.url == url
    # Tracking, paging and trailing-slash spellings of it, from any source, are repeats.
    for variant, source in ((url + "?utm_source=x", "related"), (url + "/", "sitemap"), (url + "?page=1", "feed")):
        assert spider._discovered_article(variant, source) is None
    spider.closed("finished")  # the counts go to the stats when the spider closes
    assert crawler.stats.get_value("kaltimnews/discovered/repeat") == 3
    assert sum(crawler.stats.get_value(f"kaltimnews/discovered/{s}", 0) for s in ("listing", "related", "sitemap", "feed")) == 4
    assert spider._discovered_article("https://kaltim.suara.com/tag/samarinda", "listing") is None  # no article
    # article_request stays a plain factory (the incremental middleware builds requests with it).
    assert spider.article_request(url) is not None
