"""Page fixtures: a page of a bundled mirror, and the JSON of what must be extracted from it.

Each ``tests/pages/expected/<site>/<name>.json`` names the real URL of one page; the HTML is the
mirror's file for that URL. ``python scripts/regenerate_page_expectations.py`` rewrites the JSON
from the current extraction: review the diff before you commit it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse

from kaltimnews.mirror import MirrorFolder, bundled_mirror
from kaltimnews.pages.base import ArticlePage
from kaltimnews.pages.suara import SuaraKaltimArticlePage
from kaltimnews.pages.tribun import TribunKaltimArticlePage

EXPECTED_DIR = Path(__file__).parent / "expected"

#: The page class of each site's mirror.
PAGE_CLASSES: dict[str, type[ArticlePage]] = {
    "suarakaltim": SuaraKaltimArticlePage,
    "tribunkaltim": TribunKaltimArticlePage,
}

#: Fields that depend on when the page was read, not on the page.
VOLATILE_FIELDS = frozenset({"crawled_at"})


def mirror_response(site: str, url: str) -> HtmlResponse:
    parts = urlsplit(url)
    found = MirrorFolder(bundled_mirror(site)).file_for(parts.netloc, parts.path, parts.query)
    if found is None:
        raise FileNotFoundError(f"{url} is not in the {site} mirror")
    return HtmlResponse(url=url, body=found.read_bytes(), encoding="utf-8")


def extract(site: str, url: str) -> dict[str, Any]:
    item = PAGE_CLASSES[site](mirror_response(site, url)).to_item()
    return {key: item.get(key) for key in sorted(item.fields) if key not in VOLATILE_FIELDS}


def expectation_files() -> list[Path]:
    return sorted(EXPECTED_DIR.glob("*/*.json"))


def load_expectation(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))
