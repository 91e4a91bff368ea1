"""Building bad pages into a private copy of the SuaraKaltim mirror, at test time.

Nothing here is bundled: every page is written into a temporary copy of the mirror (the
``suarakaltim_mirror_copy`` idea, module-scoped so that one crawl serves many tests), linked from
the copy's home page, or answered by a ``_routes.json`` entry of the copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from kaltimnews.mirror import bundled_mirror

HOST = "kaltim.suara.com"
EXPECTED_URLS: list[str] = json.loads(
    (bundled_mirror("suarakaltim") / "expected_articles.json").read_text("utf-8")
)["articles"]

_WORDS = (
    "pemerintah kota samarinda menggelar rapat bersama warga kelurahan membahas banjir jalan"
    " sekolah pasar pelabuhan nelayan petani sungai mahakam balikpapan bontang kutai tenggarong"
    " anggaran daerah pembangunan jembatan air bersih listrik kesehatan puskesmas pendidikan guru"
).split()


def article_url(slug: str, stamp: str = "2024/03/04/100000") -> str:
    """``https://kaltim.suara.com/read/<stamp>/<slug>``: a URL the spider takes for an article."""
    return f"https://{HOST}/read/{stamp}/{slug}"


def paragraphs(seed: str, count: int = 5) -> list[str]:
    """``count`` paragraphs of plain words (no date-looking text), unique to ``seed``."""
    offset = sum(map(ord, seed))
    out = []
    for i in range(count):
        words = [_WORDS[(offset + i * 7 + j * 3) % len(_WORDS)] for j in range(14)]
        out.append(f"{seed.replace('-', ' ').capitalize()} bagian {i + 1}: " + " ".join(words) + ".")
    return out


def article_html(
    url: str,
    title: str,
    body: list[str] | None = None,
    *,
    author: str = "Rina Kartika",
    date_text: str = "Senin, 04 Maret 2024 | 10:00 WIB",
    head: str = "",
    after_body: str = "",
    charset_meta: bool = True,
) -> str:
    """An article page in SuaraKaltim's 2024 template (``E-2024``), canonical link included."""
    body = paragraphs(url.rsplit("/", 1)[-1]) if body is None else body
    paras = "\n".join(f"<p>{p}</p>" for p in body)
    meta = '<meta charset="utf-8">\n' if charset_meta else ""
    return f"""<!DOCTYPE html>
<html lang="id">
<head>
{meta}<title>{title} - Suarakaltim.id</title>
<link rel="canonical" href="{url}">
{head}
</head>
<body>
<div class="article-image">
<h1>{title}</h1>
<h3><a href="https://{HOST}/author/uji">{author}</a></h3>
<span>{date_text}</span>
</div>
<article class="detail-content">
{paras}
{after_body}
</article>
<footer><p>Copyright Suarakaltim.id</p></footer>
</body>
</html>
"""


def mirror_path(root: Path, url: str) -> Path:
    """The file the mirror serves for ``url`` (a folder's ``index.html``)."""
    path = url.split("://", 1)[1]
    return root / path / "index.html"


def write_page(root: Path, url: str, content: str | bytes) -> Path:
    target = mirror_path(root, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, "utf-8")
    else:
        target.write_bytes(content)
    return target


def add_routes(root: Path, routes: dict[str, dict[str, Any]]) -> None:
    """Add ``_routes.json`` entries (keys are URLs); written atomically, the server re-reads it."""
    routes_file = root / "_routes.json"
    current = json.loads(routes_file.read_text("utf-8")) if routes_file.exists() else {}
    current.update({url.split("://", 1)[1]: route for url, route in routes.items()})
    temporary = routes_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(current, indent=1), "utf-8")
    os.replace(temporary, routes_file)


def write_body_file(root: Path, name: str, content: bytes) -> str:
    """A raw body for a ``body_file`` route (outside every host folder, so never served as is)."""
    target = root / "_bodies" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return f"_bodies/{name}"


def link_from_home(root: Path, urls: list[str], *, first: str = "") -> None:
    """Link ``urls`` from the copy's home page, right after ``<body>`` (``first`` goes before them)."""
    home = root / HOST / "index.html"
    links = first + "".join(f'\n<a href="{url}">tautan uji</a>' for url in urls)
    text = home.read_text("utf-8")
    text, replaced = re.subn(r"(<body[^>]*>)", lambda m: m.group(1) + links, text, count=1)
    assert replaced == 1
    home.write_text(text, "utf-8")


def copy_mirror(target: Path) -> Path:
    """A private copy of the bundled SuaraKaltim mirror."""
    shutil.copytree(bundled_mirror("suarakaltim"), target)
    return target
