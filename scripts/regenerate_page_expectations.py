"""Write tests/pages/expected/<site>/<name>.json for every article page of the bundled mirrors.

Run it after adding a fixture page or changing extraction, then review ``git diff`` line by line:
the JSON is the contract the parametrised page test holds the extractor to.

    .venv/bin/python scripts/regenerate_page_expectations.py [--site suarakaltim]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kaltimnews.mirror import bundled_mirror  # noqa: E402
from tests.pages.fixtures import EXPECTED_DIR, PAGE_CLASSES, extract  # noqa: E402


def page_urls(site: str) -> list[str]:
    """The real URL of every HTML page in the mirror that the site's page class calls an article."""
    root = bundled_mirror(site)
    page_class = PAGE_CLASSES[site]
    urls = []
    for path in sorted(root.glob("*/**/index*.html")):
        relative = path.relative_to(root)
        host, folder = relative.parts[0], "/".join(relative.parts[1:-1])
        url = f"https://{host}/{folder}"
        variant = re.fullmatch(r"index@(.+)\.html", path.name)
        if variant:
            url += "?" + variant.group(1)
        if page_class.is_article_url(url):
            urls.append(url)
    return urls


def fixture_name(url: str) -> str:
    slug = url.split("/read/", 1)[-1] if "/read/" in url else url.split("/", 3)[-1]
    return re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-")[:120]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", choices=sorted(PAGE_CLASSES), action="append")
    args = parser.parse_args()
    for site in args.site or sorted(PAGE_CLASSES):
        out = EXPECTED_DIR / site
        out.mkdir(parents=True, exist_ok=True)
        for url in page_urls(site):
            target = out / f"{fixture_name(url)}.json"
            record = {"site": site, "url": url, "expected": extract(site, url)}
            target.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", "utf-8")
            print(f"wrote {target.relative_to(EXPECTED_DIR.parent.parent.parent)}")


if __name__ == "__main__":
    main()
