"""Rendering with a real headless Chromium (scrapy-playwright) against the bundled mirror.

``/terkini`` builds its article list with scripts and grows it with "Load More"; its four
articles are linked from nowhere else, and one of them writes its own text with a script.
"""

from __future__ import annotations

import json

import psutil
import pytest

from kaltimnews.browser import system_chromium
from kaltimnews.mirror import bundled_mirror
from tests.crawling import run_crawl

pytestmark = pytest.mark.crawl

EXPECTED = json.loads((bundled_mirror("suarakaltim") / "expected_articles.json").read_text())
RENDERED_ONLY = EXPECTED["rendered_only"]
SCRIPTED_BODY_URL = next(url for url in RENDERED_ONLY if "festival-layang-layang" in url)


def browser_processes() -> set[int]:
    found = set()
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "chrom" in (process.info["name"] or "").lower() and "--headless" in cmdline:
            found.add(process.pid)
    return found


@pytest.fixture(scope="module", autouse=True)
def chromium_present():
    if system_chromium() is None:
        pytest.fail("No Chromium: `make test` installs it (apt-get install -y chromium); set CHROMIUM_PATH")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, suarakaltim_mirror):
    before = browser_processes()
    result = run_crawl(
        "suarakaltim",
        suarakaltim_mirror.url,
        tmp_path_factory.mktemp("rendered"),
        args={"render": "1", "load_more": "2"},
    )
    result.extra["leftover_browsers"] = browser_processes() - before
    assert result.returncode == 0, result.log[-3000:]
    return result


def test_without_rendering_the_script_built_list_gives_nothing(tmp_path, suarakaltim_mirror):
    plain = run_crawl("suarakaltim", suarakaltim_mirror.url, tmp_path)
    assert plain.returncode == 0, plain.log[-3000:]
    assert not set(RENDERED_ONLY) & set(plain.urls)
    assert plain.stat("playwright/browser_count") == 0, "a plain crawl must not start a browser"


def test_rendering_with_load_more_finds_every_article_once(rendered):
    assert len(rendered.urls) == len(set(rendered.urls))
    assert sorted(rendered.urls) == sorted(EXPECTED["articles"] + RENDERED_ONLY)
    assert rendered.stat("kaltimnews/render/load_more_clicks") == 2
    assert rendered.stat("playwright/browser_count") == 1


def test_article_pages_stay_plain_unless_their_text_needs_scripts(rendered):
    by_url = {item["url"]: item for item in rendered.items}
    scripted = by_url[SCRIPTED_BODY_URL]
    assert scripted["body"].startswith("SuaraKaltim.id - Langit Pantai Kemala")
    assert len(scripted["body"].split("\n\n")) == 5
    # the scripted article and the video page (which has no text even rendered) were retried once
    assert rendered.stat("kaltimnews/render/article_retry") == 2
    # one browser page per rendered listing and per retried article: no other article was rendered
    assert rendered.stat("playwright/page_count") == (
        rendered.stat("kaltimnews/render/listing_pages") + rendered.stat("kaltimnews/render/article_retry")
    )


def test_images_media_and_fonts_are_not_fetched_and_memory_is_watched(rendered):
    assert rendered.stat("playwright/response_count/resource_type/image") == 0
    assert 0 < rendered.stat("kaltimnews/memory/peak_mb") < 1024


def test_no_browser_process_is_left_after_the_crawl(rendered):
    assert rendered.extra["leftover_browsers"] == set()


def test_a_missing_browser_is_a_clear_error(tmp_path, suarakaltim_mirror, monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-chromium"))
    result = run_crawl("suarakaltim", suarakaltim_mirror.url, tmp_path, args={"render": "1"})
    assert result.returncode != 0
    assert "CHROMIUM_PATH" in result.log and "apt-get install -y chromium" in result.log
    assert result.items == []
