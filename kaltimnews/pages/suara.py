"""Suara.com network article pages (SuaraKaltim.id and its sister regional sites).

Suara changed its article template at least five times; each generation is one row of
``SUARA_TEMPLATES`` (see ../shared/site-notes.md §1). Pages in a template none of them knows
still extract through the metadata and generic layers of :class:`ArticlePage`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cached_property

from kaltimnews.dates import tzinfo_for
from kaltimnews.pages.base import ArticlePage, Template
from kaltimnews.urls import UrlRules

SUARA_TEMPLATES = (
    Template(
        "F-2026",
        title=".article-image h1",
        authors=".author-trigger a",
        published=".date-article span, span.mt-10",
        body="div.article-content",
        tags=".article-tags a",
    ),
    Template(
        "E-2024",
        title=".article-image h1",
        authors=".article-image h3 a",
        published=".article-image > span",
        body="article.detail-content",
        tags=".article-tags a",
    ),
    Template(
        "B-2022",
        title=".detail h1",
        authors=".detail--info span:first-child",
        published=".detail--info span:last-child",
        body="div.detail--content",
        tags=".tagList a",
    ),
    Template(
        "A-2019",
        title=".title h1",
        authors=".dateDetail .author, .dateDetail .fl",
        published=".dateDetail .fr time, .dateDetail time",
        body="article.content-article, .content-article",
        tags=".tagList a",
    ),
)

SUARA_URL_RULES = UrlRules(
    # robots.txt disallows these: they are tracking, never content.
    tracking_params=frozenset({"source", "jxrecoid"}),
    paging_param="page",
    host_aliases={
        "suara.com": "www.suara.com",
        "m.suara.com": "www.suara.com",
        "amp.suara.com": "www.suara.com",
    },
)

# The slug ends the path: ``.../<slug>/komentar`` is the comments page, not the article.
_ARTICLE_URL_END = r"/?(?:[?#].*)?$"

#: ``/YYYY/MM/DD/HHMMSS/`` in every Suara article URL: the publish time in WIB, to the second.
URL_TIMESTAMP = re.compile(r"/(20\d\d)/(\d\d)/(\d\d)/(\d\d)(\d\d)(\d\d)/")
NETWORK_ARTICLE_URL = re.compile(
    r"^https?://(?:[\w-]+\.)?suara\.com/.+/20\d{2}/\d{2}/\d{2}/\d{6}/[a-z0-9-]+" + _ARTICLE_URL_END
)


@functools.cache
def _data_layer_key(key: str) -> re.Pattern[str]:
    # GTM's dataLayer is single-quoted JavaScript, not JSON: read it key by key.
    return re.compile(rf"""['"]{re.escape(key)}['"]\s*:\s*['"]?([^'",}}\]]*)""")


class SuaraArticlePage(ArticlePage):
    timezone = "WIB"  # Suara prints WIB even on its Kalimantan sites
    url_rules = SUARA_URL_RULES
    article_url = NETWORK_ARTICLE_URL
    templates = SUARA_TEMPLATES
    body_noise = (
        ".ten-second", ".article-read", "#next-article", ".placeholder_belt",
        ".placeholder_read_body", ".parallax_swipe", "[id^='desktop-native-']",
        ".wrap-pagination", ".article-tags", ".tagList", ".google-pref", ".ads-content",
        ".load-more",
    )  # fmt: skip
    related_links = (
        ".item--baca-juga-inner a",
        "[id^='berita-terkait-'] a",
        ".article-read li a",
    )
    title_suffix = re.compile(r"\s*[-|]\s*Suara[\w.]*\.(?:id|com)\s*$", re.IGNORECASE)

    @cached_property
    def _data_layer_scripts(self) -> list[str]:
        # GTM's dataLayer is in a JavaScript block; the JSON blocks (JSON-LD, the app's state,
        # tens of KB) are not read into strings for it.
        return [
            text
            for script in self.root.iter("script")
            if "json" not in (script.get("type") or "") and (text := script.text) and "dataLayer" in text
        ]

    def data_layer(self, key: str) -> str | None:
        for script in self._data_layer_scripts:
            found = _data_layer_key(key).search(script)
            if found and found.group(1).strip():
                return found.group(1).strip()
        return None

    def site_editor_candidates(self) -> Iterable[str]:
        editor = self.data_layer("articleEditor")
        return [editor] if editor else []

    def site_published_candidates(self) -> Iterable[str]:
        article_date = self.data_layer("articleDate")
        return [article_date] if article_date else []

    def url_timestamp(self) -> tuple[str, datetime] | None:
        found = URL_TIMESTAMP.search(self.response.url)
        if not found:
            return None
        try:
            stamp = datetime(*map(int, found.groups()), tzinfo=tzinfo_for(self.timezone))
        except ValueError:
            return None
        return self.url, stamp

    def page_count(self) -> int:
        declared = self.data_layer("articleTotalPages")
        return max(int(declared) if declared and declared.isdigit() else 1, super().page_count())

    def section(self) -> Iterator[str]:
        yield from super().section()
        category = self.data_layer("articleCategory")
        if category:
            yield category


class SuaraKaltimArticlePage(SuaraArticlePage):
    site = "suarakaltim"
    article_url = re.compile(
        r"^https?://kaltim\.suara\.com/read/20\d{2}/\d{2}/\d{2}/\d{6}/[a-z0-9-]+" + _ARTICLE_URL_END
    )
