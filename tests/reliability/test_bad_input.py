"""Bad input (issue 8, part 1): every broken page ends in a counted outcome, none stops the crawl.

All cases are served by one private copy of the mirror (tests/reliability/bad_site.py) and read by
one crawl (the ``bad_crawl`` fixture, with ``-s DOWNLOAD_TIMEOUT=2`` for the stalled server).
docs/reliability.md has the table of cases, outcomes and tests.
"""

from __future__ import annotations

import re

import pytest

from tests.reliability.bad_site import ACCENTED, MANY_RELATED, UNPARSABLE_HREF
from tests.reliability.builders import EXPECTED_URLS
from tests.reliability.conftest import BAD_CRAWL_TIMEOUT, BadCrawl

pytestmark = pytest.mark.crawl

#: Case -> the outcome it must end in: an item, or a (no item) log line naming its URL.
ITEM_CASES = (
    "truncated-html", "malformed-html", "cp1252-declared-utf8", "utf8-declared-cp1252",
    "utf8-no-charset", "cp1252-no-charset", "large-3mb", "invalid-json-ld", "future-date",
    "epoch-date", "many-baca-juga", "formula-title", "sql-title",
)  # fmt: skip
NO_ITEM_CASES = {
    "huge-10mb": "Download failed",
    "binary-jpeg": "Not an HTML page, no article",
    "binary-as-html": "No article text, no item",
    "empty-200": "No article text, no item",
    "redirect-loop": "no item",
    "redirect-offsite": "Redirect to another site not followed",
    "stall": "Download failed",
    "reset": "Download failed",
    "truncated-transfer": "Download failed",
}


def stat(bad: BadCrawl, key: str) -> int:
    return int(bad.result.stats.get(f"kaltimnews/{key}", 0))


def log_line(bad: BadCrawl, url: str) -> str:
    """The log lines that name ``url`` (its outcome, whatever logged it)."""
    return "\n".join(line for line in bad.result.log.splitlines() if url in line)


# ---------------------------------------------------------------------------------- the crawl


def test_no_bad_input_stops_the_crawl(bad_crawl: BadCrawl) -> None:
    result = bad_crawl.result
    assert result.stats["finish_reason"] == "finished", result.log[-3000:]
    assert result.returncode in (0, 1), result.log[-3000:]  # ended on its own; health judged apart
    assert set(EXPECTED_URLS) <= set(result.urls), "a good article was lost next to the bad ones"
    assert len(result.urls) == len(set(result.urls))


@pytest.mark.parametrize("case", ITEM_CASES)
def test_readable_bad_pages_give_an_item(bad_crawl: BadCrawl, case: str) -> None:
    item = bad_crawl.by_url.get(bad_crawl.urls[case])
    assert item is not None, log_line(bad_crawl, bad_crawl.urls[case])
    assert item["title"] and item["published_at"] and len(item["body"].split()) >= 40


@pytest.mark.parametrize(("case", "outcome"), sorted(NO_ITEM_CASES.items()))
def test_unreadable_bad_pages_are_logged_with_their_url(bad_crawl: BadCrawl, case: str, outcome: str) -> None:
    url = bad_crawl.urls[case]
    assert url not in bad_crawl.by_url
    lines = log_line(bad_crawl, url)
    assert re.search(f"{outcome}.*{re.escape(url)}$", lines, re.MULTILINE), lines or f"nothing logged for {url}"


# ---------------------------------------------------------------------------------- markup


def test_truncated_html_keeps_the_text_before_the_cut(bad_crawl: BadCrawl) -> None:
    item = bad_crawl.by_url[bad_crawl.urls["truncated-html"]]
    assert item["title"] == "Dokumen terpotong di tengah"
    assert "bagian 5:" in item["body"] and "bagian 7:" not in item["body"]


def test_malformed_html_is_read_like_a_browser_would(bad_crawl: BadCrawl) -> None:
    item = bad_crawl.by_url[bad_crawl.urls["malformed-html"]]
    assert item["title"] == "Markup berantakan tetap terbaca"
    assert item["authors"] == ["Hendra Wijaya"]
    assert item["published_at"] == "2024-03-04T11:00:00+07:00"
    for part in range(1, 6):
        assert f"Markup rusak bagian {part}:" in item["body"]
    assert "<" not in item["body"]


# ---------------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("case", ["cp1252-declared-utf8", "utf8-declared-cp1252"])
def test_charset_contradicted_by_the_bytes_is_repaired_and_flagged(bad_crawl: BadCrawl, case: str) -> None:
    item = bad_crawl.by_url[bad_crawl.urls[case]]
    assert ACCENTED in item["body"], item["body"][:200]
    assert item["title"] == f"Kuliner café baru ({case})"
    assert "\ufffd" not in item["body"] and "â€" not in item["body"]
    assert "but its bytes are" in log_line(bad_crawl, bad_crawl.urls[case])
    assert stat(bad_crawl, "flagged/encoding_mismatch") == 2


@pytest.mark.parametrize("case", ["utf8-no-charset", "cp1252-no-charset"])
def test_page_without_any_charset_is_read_right(bad_crawl: BadCrawl, case: str) -> None:
    item = bad_crawl.by_url[bad_crawl.urls[case]]
    assert ACCENTED in item["body"]
    assert item["title"] == f"Kuliner café baru ({case})"
    assert "but its bytes are" not in log_line(bad_crawl, bad_crawl.urls[case])
    # UTF-8 needs no help; legacy bytes are read as windows-1252 rather than a statistical guess
    # (so are the random bytes served as text/html, the other page that declares nothing)
    assert stat(bad_crawl, "flagged/encoding_undeclared") == 2
    assert "declares no charset" in log_line(bad_crawl, bad_crawl.urls["cp1252-no-charset"])


# ---------------------------------------------------------------------------------- size, type


def test_page_over_download_maxsize_is_cancelled(bad_crawl: BadCrawl) -> None:
    lines = log_line(bad_crawl, bad_crawl.urls["huge-10mb"])
    assert "larger than download max size (8388608)" in lines, lines
    assert any(key.startswith("kaltimnews/download_error/") and "Cancel" in key for key in bad_crawl.result.stats)


def test_page_over_download_warnsize_is_read_with_a_warning(bad_crawl: BadCrawl) -> None:
    assert bad_crawl.urls["large-3mb"] in bad_crawl.by_url
    assert "larger than download warn size (2097152)" in bad_crawl.result.log


def test_binary_content_at_an_article_url(bad_crawl: BadCrawl) -> None:
    assert stat(bad_crawl, "skipped/non_html") == 1  # image/jpeg: not even parsed
    # random bytes served as text/html, and an empty 200: parsed, no text (the video page is the 3rd)
    assert stat(bad_crawl, "skipped/no_article_text") == 3


# ---------------------------------------------------------------------------------- redirects, faults


def test_redirect_loop_is_counted_and_logged(bad_crawl: BadCrawl) -> None:
    assert stat(bad_crawl, "download_error/redirect_loop") == 1
    assert re.search(r"Redirect loop \(\S+redirect-loop -> \S+putaran-b -> \S+redirect-loop\)", bad_crawl.result.log)


def test_redirect_to_another_site_is_not_followed(bad_crawl: BadCrawl) -> None:
    assert stat(bad_crawl, "skipped/offsite_redirect") == 1
    assert bad_crawl.result.stats.get("offsite/filtered") == 1
    assert not any("situs-lain" in item["url"] for item in bad_crawl.result.items)


def test_stalled_server_times_out(bad_crawl: BadCrawl) -> None:
    lines = log_line(bad_crawl, "/stall")
    assert f"took longer than {float(BAD_CRAWL_TIMEOUT)} seconds" in lines, lines
    assert any(key.startswith("kaltimnews/download_error/") and "Timeout" in key for key in bad_crawl.result.stats)


def test_reset_and_cut_connections_are_download_errors(bad_crawl: BadCrawl) -> None:
    assert "Connection to the other side was lost" in log_line(bad_crawl, bad_crawl.urls["reset"])
    assert "DataLoss" in log_line(bad_crawl, bad_crawl.urls["truncated-transfer"])
    # the 10 MB page, the stall, the reset and the cut transfer; the redirect loop on top
    assert stat(bad_crawl, "download_error/redirect_loop") == 1
    counted = sum(
        v for k, v in bad_crawl.result.stats.items()
        if k.startswith("kaltimnews/download_error/") and not k.endswith("redirect_loop")
    )  # fmt: skip
    assert counted == 4


# ---------------------------------------------------------------------------------- metadata, dates


def test_invalid_json_ld_is_counted_and_the_other_layers_read_the_page(bad_crawl: BadCrawl) -> None:
    item = bad_crawl.by_url[bad_crawl.urls["invalid-json-ld"]]
    assert stat(bad_crawl, "pages/invalid_json_ld") == 1
    assert item["title"] == "JSON-LD rusak, halaman tetap terbaca"
    assert item["published_at"] == "2024-03-04T10:00:00+07:00"  # the visible date


def test_publish_date_in_the_future_falls_back_to_the_url_timestamp(bad_crawl: BadCrawl) -> None:
    url = bad_crawl.urls["future-date"]
    item = bad_crawl.by_url[url]
    stamp = re.search(r"/read/(\d{4})/(\d\d)/(\d\d)/(\d\d)(\d\d)(\d\d)/", url).groups()
    assert item["published_at"] == "{}-{}-{}T{}:{}:{}+07:00".format(*stamp)
    assert item["published_at_raw"] == url
    assert stat(bad_crawl, "flagged/published_in_future") == 1
    assert "Page flagged (published_in_future)" in log_line(bad_crawl, url)


def test_publish_date_before_1990_falls_back_to_the_next_source(bad_crawl: BadCrawl) -> None:
    item = bad_crawl.by_url[bad_crawl.urls["epoch-date"]]
    assert item["published_at"] == "2024-03-04T13:30:00+07:00"  # the visible date, not 1970
    assert stat(bad_crawl, "flagged/published_before_1990") == 1


# ---------------------------------------------------------------------------------- links


def test_hundreds_of_baca_juga_links(bad_crawl: BadCrawl) -> None:
    item = bad_crawl.by_url[bad_crawl.urls["many-baca-juga"]]
    assert len(item["related_urls"]) == MANY_RELATED
    assert "Baca Juga" not in item["body"] and "Berita terkait" not in item["body"]
    assert len(item["body"].split("\n\n")) == 4
    assert stat(bad_crawl, "discovered/related") >= MANY_RELATED
    # Every one was requested; none is in the mirror: each is a counted 404 with its URL logged.
    assert stat(bad_crawl, "http_error/404") >= MANY_RELATED
    assert "terkait-249" in bad_crawl.result.log


def test_unparsable_link_on_a_listing_page_skips_only_that_link(bad_crawl: BadCrawl) -> None:
    assert stat(bad_crawl, "skipped/invalid_link") == 1
    assert f"Unparsable link {UNPARSABLE_HREF!r}" in bad_crawl.result.log
    # It came first on the home page: every link after it was still followed.
    assert bad_crawl.urls["sql-title"] in bad_crawl.by_url


def test_unparsable_link_in_an_article_costs_only_that_link(bad_crawl: BadCrawl) -> None:
    url = bad_crawl.urls["unparsable-related-link"]
    item = bad_crawl.by_url[url]
    assert item["body"] and not any("[broken" in related for related in item["related_urls"])
    assert "spider_exceptions/ValueError" not in bad_crawl.result.stats


# ---------------------------------------------------------------------------------- the mirror's faults


def test_routes_added_to_a_served_mirror_copy_are_answered(suarakaltim_mirror_copy: tuple) -> None:
    import http.client
    import threading
    import time as _time

    from tests.reliability.builders import add_routes, article_url

    root, server = suarakaltim_mirror_copy
    url = article_url("ditambahkan-saat-jalan")
    host, port = server.server_address[:2]

    def get(path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    mirrored = "/" + url.split("://", 1)[1]
    assert get(mirrored)[0] == 404
    add_routes(root, {url: {"status": 503, "body": "sibuk"}})
    assert get(mirrored) == (503, b"sibuk")
    add_routes(root, {url: {"stall": 30}})
    answers: list[tuple[int, bytes]] = []
    client = threading.Thread(target=lambda: answers.append(get(mirrored)))
    client.start()
    _time.sleep(0.5)
    assert not answers  # stalled
    started = _time.monotonic()
    server.shutdown()  # a stalled answer does not hold the server (or a test's teardown) up
    client.join(timeout=10)
    assert answers and _time.monotonic() - started < 5
