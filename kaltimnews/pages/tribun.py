"""Tribun network article pages (Tribun Kaltim, ``kaltim.tribunnews.com``).

One template with stable ids (``h1#arttitle``, ``#penulis``, ``#editor``), current URLs
``/<section>/<id>/<slug>`` and old ones ``/YYYY/MM/DD/<slug>`` (see ../shared/site-notes.md §3).
Kaltim pages print WITA; a time without a zone is WITA too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from kaltimnews.dates import tzinfo_for
from kaltimnews.pages.base import ArticlePage, Template

TRIBUN_TEMPLATES = (
    Template(
        "tribun",
        title="h1#arttitle",
        authors="#penulis",
        editor="#editor a",
        published="time",
        body="div.side-article.txt-article",
        tags=".tagcloud3 a",
        image_caption=".imgfull_div div",
    ),
)

#: ``/YYYY/MM/DD/<slug>``: the old URLs carry the publish day (no time).
OLD_URL_DATE = re.compile(r"tribunnews\.com/(20\d\d)/(\d\d)/(\d\d)/")


class TribunArticlePage(ArticlePage):
    timezone = "WITA"
    templates = TRIBUN_TEMPLATES
    body_noise = (
        "blockquote.summary-article",  # "Ringkasan Berita", the editors' summary box
        "p.baca",
        ".ads-placeholder",
        ".ads-label",
        ".tagcloud3",
        ".paging",
        ".gnews",
    )
    related_links = ("p.baca a",)
    dateline = re.compile(r"^TRIBUNKALTIM\.CO(?:\s*,\s*[A-Z][A-Z .'-]*)?\s*[-–—]\s*")
    title_suffix = re.compile(r"\s*-\s*(?:Halaman \w+\s*-\s*)?Tribunkaltim\.co.*$|\s*-\s*Halaman \w+$")

    def url_timestamp(self) -> tuple[str, datetime] | None:
        found = OLD_URL_DATE.search(self.response.url)
        if not found:
            return None
        try:
            day = datetime(*map(int, found.groups()), tzinfo=tzinfo_for(self.timezone))
        except ValueError:
            return None
        return self.url, day

    def site_published_candidates(self) -> Iterable[str]:
        return self.root.xpath("//time/@datetime")


class TribunKaltimArticlePage(TribunArticlePage):
    site = "tribunkaltim"
    article_url = re.compile(
        r"^https?://kaltim\.tribunnews\.com/"
        r"(?:[a-z-]+/\d{5,}/[a-z0-9-]+|20\d\d/\d\d/\d\d/[a-z0-9-]+)/?(?:[?#].*)?$"
    )
