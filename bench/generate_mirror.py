"""Generate a SuaraKaltim mirror of N articles for the end-to-end and scale benchmarks.

Usage::

    .venv/bin/python bench/generate_mirror.py N OUTDIR [--seed 7] [--per-listing 30]

The mirror has the folder layout of the bundled one (``kaltimnews/mirrors/suarakaltim``, see
:mod:`kaltimnews.mirror`), host ``kaltim.suara.com``:

* article pages of 60-100 KB, built from the bundled fixture pages of template eras A, B, E, F
  and the "unknown" layout: the fixture's markup is kept (head, header, noise blocks, footer)
  and its title, body, date, authors, tags, caption, image and URL are replaced; every page gets
  a larger sidebar, a recommendation grid and an inline JSON state script, as live pages have;
* "Baca Juga" blocks in each era's markup linking other generated articles; one article in
  ``BACA_JUGA_ONLY_EVERY`` is linked from nowhere else, so the crawl must follow them;
* ``/indeks`` and ``/indeks?page=K`` listing pages (``--per-listing`` links each, windowed
  pagination) and a home page with the newest articles;
* news sitemaps of at most 1,000 URLs (``/static/news/kaltim-sitemap.xml``,
  ``kaltim-sitemap-2.xml``, ...), every one named by a ``Sitemap:`` line of robots.txt;
* ``bench-manifest.json``: what was generated and the ``-a listing_pages=...`` a crawl needs.

All text is word salad from a fixed vocabulary (``VOCABULARY``), never real article text. The
output depends only on N, the seed and the fixture pages: the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "kaltimnews" / "mirrors" / "suarakaltim" / "kaltim.suara.com"
HOST = "kaltim.suara.com"
SITE = f"https://{HOST}"
WIB = timezone(timedelta(hours=7))

GENERATOR_VERSION = 1
SITEMAP_MAX_URLS = 1_000
#: One article in this many appears in no listing or sitemap: only "Baca Juga" reaches it.
BACA_JUGA_ONLY_EVERY = 25
PAGE_BYTES = (60_000, 100_000)

# --------------------------------------------------------------------------- vocabulary

#: Lorem-style Indonesian word salad. No "baca": a generated "baca juga" must never occur by chance.
_WORDS = """
    warga pemerintah daerah kota kabupaten provinsi sungai jalan pasar harga petani nelayan
    sekolah rumah sakit kantor dinas bupati wali gubernur kepala desa kelurahan kecamatan
    program bantuan anggaran proyek pembangunan jembatan pelabuhan bandara terminal kapal
    banjir hujan kemarau cuaca angin gelombang air bersih listrik jaringan layanan online
    ekonomi usaha kecil menengah koperasi produk ekspor impor barang jasa wisata budaya
    festival lomba perahu kuliner makanan minuman ikan sayur buah beras gula minyak
    pekerja buruh pegawai guru siswa mahasiswa dokter perawat polisi tentara relawan tim
    rapat sidang laporan data survei hasil target capaian rencana kebijakan aturan izin
    baru lama besar kecil tinggi rendah cepat lambat mahal murah ramai sepi bersih kotor
    utama penting khusus umum lokal nasional internasional terbuka tertutup aman rawan
    mengatakan menjelaskan menyebutkan meminta mengimbau menyiapkan membangun memperbaiki
    mendata menyalurkan menggelar mengikuti menerima memberikan menambah mengurangi
    meningkat menurun bertambah berkurang berjalan berlangsung dimulai selesai ditunda
    pagi siang sore malam pekan bulan tahun hari jam menit kemarin besok sekarang nanti
    sejumlah ratusan ribuan puluhan beberapa banyak sedikit seluruh sebagian hampir sekitar
    dan atau tetapi namun karena sehingga agar supaya ketika setelah sebelum sejak hingga
    di ke dari pada untuk dengan oleh dalam luar antara tentang terhadap menurut bagi
    yang ini itu tersebut tidak belum sudah masih akan sedang telah pernah selalu
    juga pun lagi saja hanya bahkan terutama termasuk antara lain misalnya yakni
    Samarinda Balikpapan Bontang Tenggarong Sangatta Penajam Berau Kutai Mahakam Nusantara
"""
VOCABULARY = tuple(_WORDS.split())
_FIRST = (
    "Adi Bayu Citra Dimas Eka Fitri Gilang Hana Indra Joko Kartika Lestari Maya Nanda "
    "Oki Putra Rahma Sari Teguh Utami Wahyu Yoga Zahra"
)
FIRST_NAMES = tuple(_FIRST.split())
_LAST = (
    "Pratama Saputra Wijaya Hidayat Lestari Kurniawan Permata Santoso Rahmawati Nugraha "
    "Setiawan Handayani Susanto Ramadhan Purnama"
)
LAST_NAMES = tuple(_LAST.split())
DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
    "Oktober", "November", "Desember",
)  # fmt: skip
SECTIONS = ("Kaltim", "News", "Bisnis", "Lifestyle", "Otomotif", "Tekno", "Health")

# --------------------------------------------------------------------------- template eras


@dataclass(frozen=True)
class Era:
    """One template generation: the fixture page it is built from, and that page's own values."""

    name: str
    fixture: str  # path of the fixture's index.html under FIXTURES
    share: float  # fraction of generated articles
    years: tuple[int, int]  # publish dates fall in [first, last]
    values: dict[str, str]  # placeholder -> the fixture's text it replaces
    baca_juga: str  # one "Baca Juga" block, with {url} and {title}
    tag_link: str  # one tag link, with {slug} and {name}
    authors: int = 1


ERAS: tuple[Era, ...] = (
    Era(
        "F-2026",
        "read/2026/07/24/070859/banjir-rendam-lima-kelurahan-di-samarinda-ratusan-warga-mengungsi",
        share=0.35,
        years=(2026, 2026),
        values={
            "CAPTION": "Warga melintasi genangan banjir di Kelurahan Sempaja Selatan, Samarinda, "
            "Jumat (24/7/2026). [SuaraKaltim.id/Rina Kartika]",
            "DATE_TEXT": "Jumat, 24 Juli 2026 | 07:08 WIB",
            "ISO_MODIFIED": "2026-07-24T09:15:00+07:00",
            "ISO": "2026-07-24T07:08:59+07:00",
            "ISO_LOCAL": "2026-07-24T07:08:59",
            "AUTHOR1": "Rina Kartika",
            "AUTHOR1_SLUG": "rina-kartika",
            "AUTHOR2": "Hendra Wijaya",
            "AUTHOR2_SLUG": "hendra-wijaya",
            "CONTENT_ID": "2241123",
        },
        baca_juga='<div class="article-read"><ul><p>Baca Juga</p><li><a href={url}>{title}</a></li></ul></div>',
        tag_link='<a href="https://kaltim.suara.com/tag/{slug}"># {name}</a>',
        authors=2,
    ),
    Era(
        "E-2024",
        "read/2024/11/18/140500/pasar-tani-mingguan-hadir-di-sepaku-petani-lokal-pasok-sayur-untuk-pekerja-ikn",
        share=0.25,
        years=(2024, 2025),
        values={
            "CAPTION": "Petani menjajakan sayur di pasar tani mingguan Kecamatan Sepaku, Penajam "
            "Paser Utara, Minggu (17/11/2024). [SuaraKaltim.id/Arifin Nasution]",
            "DATE_TEXT": "Senin, 18 November 2024 | 14:05 WIB",
            "AUTHOR1": "Arifin Nasution",
            "AUTHOR1_SLUG": "arifin-nasution",
        },
        baca_juga='<div id="berita-terkait-{n}" class="berita-terkait"><p>Baca juga</p><ul><li>'
        '<a href="{url}">{title}</a></li></ul></div>',
        tag_link='<a href="/tag/{slug}"># {name}</a>',
    ),
    Era(
        "B-2022",
        "read/2022/09/12/083000/lomba-perahu-naga-tepian-mahakam-kembali-digelar-ribuan-warga-padati-samarinda-seberang",
        share=0.15,
        years=(2022, 2023),
        values={
            "CAPTION": "Peserta Lomba Perahu Naga mendayung di Sungai Mahakam, Samarinda Seberang, "
            "Minggu (11/9/2022). [SuaraKaltim.id/Fajar Nugroho]",
            "DATE_TEXT": "Senin, 12 September 2022 | 08:30 WIB",
            "AUTHOR1": "Fajar Nugroho",
        },
        baca_juga='<div class="item--baca-juga"><div class="item--baca-juga-inner"><span>BACA JUGA:'
        '</span><a href="{url}">{title}</a></div></div>',
        tag_link='<a href="https://kaltim.suara.com/tag/{slug}">#{name}</a>',
    ),
    Era(
        "A-2019",
        "read/2021/03/18/130500/panen-raya-pisang-di-kutai-timur-sebagian-hasilnya-siap-dikirim-ke-malaysia",
        share=0.20,
        years=(2019, 2021),
        values={
            "CAPTION": "Petani memanen pisang kepok di kebun warga Kecamatan Kaubun, Kutai Timur, "
            "Rabu (17/3/2021). [SuaraKaltim.id/Yuliani Kartika]",
            "DATE_TEXT": "Kamis, 18 Maret 2021 | 13:05 WIB",
            "AUTHOR1": "Yuliani Kartika",
        },
        baca_juga='<p>Baca Juga:<a href="{url}"><strong>{title}</strong></a></p>',
        tag_link='<a href="https://kaltim.suara.com/tag/{slug}">#{name}</a>',
    ),
    Era(
        "unknown",
        "read/2025/02/14/091500/cuaca-buruk-hasil-tangkapan-nelayan-bontang-anjlok-hingga-60-persen",
        share=0.05,
        years=(2023, 2025),
        values={
            "CAPTION": "Perahu nelayan ditambatkan di Bontang Kuala, Kamis (13/2/2025). "
            "[SuaraKaltim.id/Dewi Lestari]",
            "DATE_TEXT": "Jumat, 14 Februari 2025 | 09:15 WIB",
            "ISO": "2025-02-14T09:15:00+07:00",
            "AUTHOR1": "Dewi Lestari",
        },
        baca_juga='<p class="baca">Baca juga: <a href="{url}">{title}</a></p>',
        tag_link=' <a href="https://kaltim.suara.com/tag/{slug}">{name}</a>',
    ),
)
ERA_BY_NAME = {era.name: era for era in ERAS}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SIDEBAR = re.compile(r'<aside class="sidebar">.*?</aside>', re.DOTALL)
_KEYWORDS = re.compile(r'(<meta name="keywords" content=")[^"]*(")')
_TAGS = re.compile(r'(<div class="(?:tagList|article-tags|post-ftr)">(?:Topik:)?).*?(</div>)')
_BODY_LINE = re.compile(r"^(\s*)<p>.*</p>\s*$")
_BACA_JUGA_LINE = re.compile(r"baca\s+juga", re.IGNORECASE)
#: Values a fixture may lack (the "unknown" layout has no share buttons).
_OPTIONAL = frozenset({"URL_QUOTED", "TITLE_QUOTED"})
_NEXT_ARTICLE = re.compile(r'<div id="next-article">.*?</div>')


def _fixture_meta(html: str) -> dict[str, str]:
    """The fixture page's URL, title, description and image, read from its own head."""

    def meta(prop: str) -> str:
        found = re.search(rf'<meta (?:property|name)="{prop}" content="([^"]*)"', html)
        if not found:
            raise ValueError(f"fixture has no {prop} meta")
        return found.group(1)

    return {
        "URL": meta("og:url"),
        "TITLE": meta("og:title"),
        "DESCRIPTION": meta("og:description"),
        "IMAGE": meta("og:image"),
    }


@dataclass(frozen=True)
class PageTemplate:
    """A fixture page with ``{{NAME}}`` placeholders; ``{{BODY0}}``..``{{BODY<slots-1>}}`` are
    where the fixture's body paragraphs were (its noise blocks stay between them)."""

    text: str
    slots: int


def build_template(era: Era) -> PageTemplate:
    """The fixture page of ``era`` with placeholders where generated values go."""
    html = (FIXTURES / era.fixture / "index.html").read_text("utf-8")
    if "{{" in html:
        raise ValueError(f"{era.fixture}: '{{{{' in a fixture clashes with the placeholders")
    head = _fixture_meta(html)
    html = _SIDEBAR.sub("{{SIDEBAR}}", html, count=1)
    html = _KEYWORDS.sub(r"\g<1>{{KEYWORDS}}\g<2>", html, count=1)
    html, tags = _TAGS.subn(r"\g<1>{{TAGS}}\g<2>", html, count=1)
    if not tags:
        raise ValueError(f"{era.fixture}: no tag block")

    # Body paragraphs become slots, "Baca Juga" blocks go (generated ones come with the slots).
    lines = html.split("\n")
    start = next(i for i, line in enumerate(lines) if "<h1" in line)
    end = next(i for i, line in enumerate(lines) if "{{SIDEBAR}}" in line)
    out, slots = lines[:start], 0
    for line in lines[start:end]:
        if _BACA_JUGA_LINE.search(line):
            continue
        body_line = _BODY_LINE.match(line)
        if body_line:
            out.append(f"{body_line.group(1)}{{{{BODY{slots}}}}}")
            slots += 1
        else:
            out.append(line)
    html = "\n".join(out + lines[end:])
    if slots < 3:
        raise ValueError(f"{era.fixture}: only {slots} body paragraphs found")

    # Scalar values, longest first (a caption holds an author's name, a URL holds a date).
    values = {
        **head,
        **era.values,
        "URL_QUOTED": quote(head["URL"], safe=""),
        "TITLE_QUOTED": quote(head["TITLE"], safe=""),
    }
    for name, old in sorted(values.items(), key=lambda kv: -len(kv[1])):
        if old not in html and name in _OPTIONAL:
            continue
        if old not in html:
            raise ValueError(f"{era.fixture}: {old!r} ({name}) not found")
        html = html.replace(old, "{{" + name + "}}")
    html = _NEXT_ARTICLE.sub('<div id="next-article">{{NEXT}}</div>', html, count=1)
    return PageTemplate(html, slots)


# --------------------------------------------------------------------------- the articles


@dataclass
class Article:
    index: int  # 0 is the newest
    era: str
    published: datetime
    title: str
    slug: str
    authors: list[str]
    tags: list[str]
    section: str
    description: str
    caption: str
    image: str
    paragraphs: list[str]
    target_bytes: int
    listed: bool = True
    related: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{SITE}/read/{self.published:%Y/%m/%d/%H%M%S}/{self.slug}"

    @property
    def path(self) -> str:
        return f"read/{self.published:%Y/%m/%d/%H%M%S}/{self.slug}"


def _sentence(rng: random.Random, low: int = 8, high: int = 18) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(low, high))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), str(rng.randint(2, 950)))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _title(rng: random.Random) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(6, 12))]
    return " ".join(w[0].upper() + w[1:] for w in words)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def date_text(when: datetime, era: str) -> str:
    day = DAYS[when.weekday()]
    if era == "A-2019" and day == "Jumat":
        day = "Jum'at"  # the 2019 template's spelling
    return f"{day}, {when.day:02d} {MONTHS[when.month - 1]} {when.year} | {when:%H:%M} WIB"


def plan_articles(n: int, seed: int) -> list[Article]:
    """N articles, newest first, with their eras, dates, text and "Baca Juga" links."""
    rng = random.Random(seed)
    eras = rng.choices([e.name for e in ERAS], weights=[e.share for e in ERAS], k=n)
    articles: list[Article] = []
    seen_urls: set[str] = set()
    for era_name in eras:
        era = ERA_BY_NAME[era_name]
        while True:
            start = datetime(era.years[0], 1, 1, tzinfo=WIB)
            span = datetime(era.years[1], 12, 31, 23, 59, tzinfo=WIB) - start
            if era.years[1] == 2026:  # the newest era stops at the fixtures' "now"
                span = datetime(2026, 7, 31, tzinfo=WIB) - start
            published = start + timedelta(seconds=rng.randrange(int(span.total_seconds())))
            title = _title(rng)
            slug = _slug(title)
            if f"{published:%Y%m%d%H%M%S}/{slug}" not in seen_urls:
                seen_urls.add(f"{published:%Y%m%d%H%M%S}/{slug}")
                break
        paragraphs = [
            " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
            for _ in range(rng.randint(10, 24))
        ]
        paragraphs[0] = "SuaraKaltim.id - " + paragraphs[0]
        authors = [_name(rng) for _ in range(era.authors)]
        tags = list(dict.fromkeys(
            f"{rng.choice(VOCABULARY).title()} {rng.choice(VOCABULARY).title()}" for _ in range(3)
        ))  # fmt: skip
        articles.append(
            Article(
                index=0,
                era=era_name,
                published=published,
                title=title,
                slug=slug,
                authors=authors,
                tags=tags,
                section=rng.choice(SECTIONS),
                description=_sentence(rng, 14, 24),
                caption=f"{_sentence(rng, 8, 14)[:-1]}. [SuaraKaltim.id/{authors[0]}]",
                image=f"https://media.suara.com/pictures/653x366/{published:%Y/%m/%d}/"
                f"{rng.randint(10000, 99999)}-{'-'.join(slug.split('-')[:4])}.jpg",
                paragraphs=paragraphs,
                target_bytes=rng.randint(*PAGE_BYTES),
            )
        )
    articles.sort(key=lambda a: a.published, reverse=True)
    for i, article in enumerate(articles):
        article.index = i
        article.listed = i % BACA_JUGA_ONLY_EVERY != BACA_JUGA_ONLY_EVERY - 1 or i == 0
    for i, article in enumerate(articles):
        related: list[int] = []
        if i + 1 < n and not articles[i + 1].listed:
            related.append(i + 1)  # the only way in to the next article
        for _ in range(rng.randint(1, 2)):
            other = rng.randrange(n)
            if other != i and other not in related and articles[other].listed:
                related.append(other)
        article.related = related
    return articles


# --------------------------------------------------------------------------- rendering

_CHROME_WIDGET_COUNTS = {"popular": 10, "latest": 15, "grid": 9}


def _widget_item(a: Article) -> str:
    return (
        f'<li class="latest-item"><a href="{a.url}" class="latest-thumb"><img src="{a.image}" '
        f'alt="{escape(a.title)}" loading="lazy" width="120" height="80"></a><div class="latest-info">'
        f'<a href="{a.url}" class="latest-link">{escape(a.title)}</a>'
        f'<span class="latest-date">{date_text(a.published, "F-2026")}</span></div></li>'
    )


def render_sidebar(rng: random.Random, articles: list[Article]) -> str:
    picks = rng.sample(articles, min(len(articles), _CHROME_WIDGET_COUNTS["popular"]))
    latest = articles[: _CHROME_WIDGET_COUNTS["latest"]]
    popular = "\n".join(
        f'        <li><span class="popular-rank">{rank}</span><a href="{a.url}" '
        f'class="popular-link">{escape(a.title)}</a></li>'
        for rank, a in enumerate(picks, 1)
    )
    return f"""<aside class="sidebar">
  <div class="ads-rectangle"><div id="div-gpt-ad-rectangle-1"><script>googletag.cmd.push(function() {{ googletag.display('div-gpt-ad-rectangle-1'); }});</script></div></div>
  <div class="widget-popular">
    <div class="widget-title"><span>Terpopuler</span></div>
    <ol class="popular-list">
{popular}
    </ol>
  </div>
  <div class="widget-latest">
    <div class="widget-title"><span>Terkini</span></div>
    <ul class="latest-list">
{chr(10).join("      " + _widget_item(a) for a in latest)}
    </ul>
  </div>
  <div class="ads-rectangle sticky"><div id="div-gpt-ad-rectangle-2"><script>googletag.cmd.push(function() {{ googletag.display('div-gpt-ad-rectangle-2'); }});</script></div></div>
</aside>"""


def render_grid(rng: random.Random, articles: list[Article]) -> str:
    picks = rng.sample(articles, min(len(articles), _CHROME_WIDGET_COUNTS["grid"]))
    items = "\n".join(
        f'    <div class="rekomendasi-item"><a href="{a.url}"><img src="{a.image}" alt="" '
        f'loading="lazy"></a><h3><a href="{a.url}">{escape(a.title)}</a></h3>'
        f'<span>{date_text(a.published, "F-2026")}</span></div>'
        for a in picks
    )
    return f'<section class="rekomendasi">\n  <div class="section-title"><h2>Rekomendasi</h2></div>\n{items}\n</section>'


def _state_script(rng: random.Random, articles: list[Article], size: int) -> str:
    """An inline JSON state blob (as a site's front-end framework embeds) of about ``size`` bytes."""
    if size <= 200:
        return ""
    entries, used = [], 0
    while used < size - 120:
        a = articles[rng.randrange(len(articles))]
        entry = {
            "id": 2_000_000 + a.index,
            "title": a.title,
            "url": a.url,
            "image": a.image,
            "date": a.published.isoformat(),
            "kanal": a.section.lower(),
            "summary": a.description,
        }
        entries.append(entry)
        used += len(json.dumps(entry, ensure_ascii=False)) + 2
    state = json.dumps({"kanal": "kaltim", "widgets": entries}, ensure_ascii=False)
    return f'<script id="__SUARA_STATE__" type="application/json">{state}</script>'


def render_article(article: Article, articles: list[Article], templates: dict[str, PageTemplate]) -> str:
    era = ERA_BY_NAME[article.era]
    template = templates[article.era]
    rng = random.Random(article.index * 7919 + 17)
    slots = template.slots

    # Paragraphs into the fixture's slots, "Baca Juga" blocks after the 2nd and 5th paragraph.
    blocks = [f"<p>{escape(p, quote=False)}</p>" for p in article.paragraphs]
    for n, target in enumerate(article.related, 1):
        other = articles[target]
        at = min(len(blocks), 2 + 3 * (n - 1) + (n - 1))
        blocks.insert(at, era.baca_juga.format(url=other.url, title=escape(other.title), n=n))
    per_slot = math.ceil(len(blocks) / slots)
    body = {f"BODY{s}": "\n    ".join(blocks[s * per_slot : (s + 1) * per_slot]) for s in range(slots)}

    def author_slug(i: int) -> str:
        return _slug(article.authors[i]) if i < len(article.authors) else ""

    values = {
        **body,
        "URL": article.url,
        "URL_QUOTED": quote(article.url, safe=""),
        "TITLE": escape(article.title),
        "TITLE_QUOTED": quote(article.title, safe=""),
        "DESCRIPTION": escape(article.description),
        "IMAGE": article.image,
        "CAPTION": escape(article.caption, quote=False),
        "DATE_TEXT": date_text(article.published, article.era),
        "ISO": article.published.isoformat(),
        "ISO_LOCAL": article.published.replace(tzinfo=None).isoformat(),
        "ISO_MODIFIED": (article.published + timedelta(hours=2)).isoformat(),
        "AUTHOR1": article.authors[0],
        "AUTHOR1_SLUG": author_slug(0),
        "AUTHOR2": article.authors[-1],
        "AUTHOR2_SLUG": author_slug(len(article.authors) - 1),
        "CONTENT_ID": str(2_000_000 + article.index),
        "KEYWORDS": escape(", ".join(t.lower() for t in article.tags)),
        "TAGS": "".join(era.tag_link.format(slug=_slug(t), name=escape(t)) for t in article.tags),
        # A recommendation grid, then the sidebar (Terpopuler, Terkini), as on the live site.
        "SIDEBAR": render_grid(rng, articles) + "\n" + render_sidebar(rng, articles),
        "NEXT": _next_link(article, articles),
    }
    page = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.text)
    missing = article.target_bytes - len(page.encode("utf-8"))
    return page.replace("</body>", _state_script(rng, articles, missing) + "\n</body>", 1)


def _next_link(article: Article, articles: list[Article]) -> str:
    other = articles[(article.index + 1) % len(articles)]
    return f'<span>Artikel Selanjutnya</span><a href="{other.url}">{escape(other.title)}</a>'


def _listing_template(name: str) -> str:
    html = (FIXTURES / name).read_text("utf-8")
    html = _SIDEBAR.sub("{{SIDEBAR}}", html, count=1)
    return html


def _pagination(page: int, pages: int) -> str:
    def link(k: int, label: str | None = None) -> str:
        href = f"{SITE}/indeks" if k == 1 else f"{SITE}/indeks?page={k}"
        active = ' class="active"' if k == page and label is None else ""
        return f'<li{active}><a href="{href}">{label or k}</a></li>'

    window = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    items = [link(page - 1, "&laquo;")] if page > 1 else []
    for prev, k in zip([0, *window], window):
        if k - prev > 1:
            items.append('<li class="disabled"><span>&hellip;</span></li>')
        items.append(link(k))
    if page < pages:
        items.append(link(page + 1, "&raquo;"))
    return '<ul class="pagination">' + "".join(items) + "</ul>"


def render_listing(page: int, pages: int, items: list[Article], articles: list[Article]) -> str:
    html = _listing_template("indeks/index.html")
    rows = "\n".join(
        f"""        <li class="item-outer">
          <article class="item">
            <div class="post-thumb"><a href="{a.url}"><img src="{a.image}" alt="{escape(a.title)}" loading="lazy"></a></div>
            <div class="item-content">
              <h4 class="post-title"><a class="ellipsis2" href="{a.url}">{escape(a.title)}</a></h4>
              <div class="suara-date-box"><span>{date_text(a.published, "F-2026")}</span></div>
            </div>
          </article>
        </li>"""
        for a in items
    )
    html = re.sub(
        r'(<ul class="list-unstyled">\n).*?(\n\s*</ul>)', lambda m: m.group(1) + rows + m.group(2),
        html, count=1, flags=re.DOTALL,
    )  # fmt: skip
    html = re.sub(r'<ul class="pagination">.*?</ul>', lambda m: _pagination(page, pages), html, count=1)
    rng = random.Random(1_000_003 + page)
    return html.replace("{{SIDEBAR}}", render_sidebar(rng, articles))


def render_home(newest: list[Article], articles: list[Article]) -> str:
    """The home page: the newest articles (``newest`` empty: the ``/terkini`` shell, whose list
    the live site fills with scripts)."""
    html = _listing_template("index.html")
    items = "\n".join(
        f"""      <div class="article-kanal-item">
        <div class="article-kanal-thumb"><a href="{a.url}"><img src="{a.image}" alt="{escape(a.title)}" loading="lazy"></a></div>
        <div class="article-kanal-info"><h3><a href="{a.url}">{escape(a.title)}</a></h3><h4><span>{date_text(a.published, "F-2026")}</span></h4></div>
      </div>"""
        for a in newest
    )
    main = f"""<div class="col-main">
<section class="terkini">
  <div class="section-title"><h2>Terkini</h2><a href="{SITE}/indeks" class="more">Indeks Berita</a></div>
  <div class="article-kanal-list">
{items}
  </div>
  <div class="more-wrap"><a class="btn-more" href="/indeks">Lihat Semua Berita</a></div>
</section>
</div>
{{{{SIDEBAR}}}}"""
    html = re.sub(r'<div class="col-main">.*\{\{SIDEBAR\}\}', lambda m: main, html, count=1, flags=re.DOTALL)
    return html.replace("{{SIDEBAR}}", render_sidebar(random.Random(999_983), articles))


def render_sitemap(items: list[Article]) -> str:
    entries = "".join(
        f"""  <url>
    <loc><![CDATA[ {a.url} ]]></loc>
    <news:news>
      <news:publication>
        <news:name>Suarakaltim.id</news:name>
        <news:language>id</news:language>
      </news:publication>
      <news:publication_date>{a.published.isoformat()}</news:publication_date>
      <news:title>{escape(a.title)}</news:title>
      <news:keywords>{escape(", ".join(t.lower() for t in a.tags))}</news:keywords>
    </news:news>
  </url>
"""
        for a in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + entries + "</urlset>\n"
    )


def sitemap_paths(count: int) -> list[str]:
    return ["static/news/kaltim-sitemap.xml"] + [f"static/news/kaltim-sitemap-{k}.xml" for k in range(2, count + 1)]


def render_robots(sitemaps: list[str]) -> str:
    rules = (FIXTURES / "robots.txt").read_text("utf-8")
    rules = "\n".join(line for line in rules.splitlines() if not line.startswith("Sitemap:")).rstrip()
    return rules + "\n\n" + "".join(f"Sitemap: {SITE}/{path}\n" for path in sitemaps)


# --------------------------------------------------------------------------- writing


def generate(n: int, outdir: Path, seed: int = 7, per_listing: int = 30) -> dict:
    """Write the mirror of ``n`` articles into ``outdir`` (emptied first); return its manifest."""
    if n < 1:
        raise ValueError("N must be at least 1")
    if outdir.exists():
        shutil.rmtree(outdir)
    host_dir = outdir / HOST
    host_dir.mkdir(parents=True)
    templates = {era.name: build_template(era) for era in ERAS}
    articles = plan_articles(n, seed)

    sizes: list[int] = []
    for article in articles:
        page = render_article(article, articles, templates).encode("utf-8")
        sizes.append(len(page))
        target = host_dir / article.path
        target.mkdir(parents=True)
        (target / "index.html").write_bytes(page)

    listed = [a for a in articles if a.listed]
    pages = max(1, math.ceil(len(listed) / per_listing))
    listing_dir = host_dir / "indeks"
    listing_dir.mkdir()
    for page in range(1, pages + 1):
        items = listed[(page - 1) * per_listing : page * per_listing]
        name = "index.html" if page == 1 else f"index@page={page}.html"
        (listing_dir / name).write_text(render_listing(page, pages, items, articles), "utf-8")
    (host_dir / "index.html").write_text(render_home(listed[:20], articles), "utf-8")
    (host_dir / "terkini").mkdir()
    (host_dir / "terkini" / "index.html").write_text(render_home([], articles), "utf-8")

    chunks = [listed[k : k + SITEMAP_MAX_URLS] for k in range(0, len(listed), SITEMAP_MAX_URLS)]
    paths = sitemap_paths(len(chunks))
    for path, chunk in zip(paths, chunks):
        (host_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (host_dir / path).write_text(render_sitemap(chunk), "utf-8")
    (host_dir / "robots.txt").write_text(render_robots(paths), "utf-8")

    eras: dict[str, int] = {}
    for article in articles:
        eras[article.era] = eras.get(article.era, 0) + 1
    sizes.sort()
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "articles": n,
        "seed": seed,
        "per_listing": per_listing,
        "listing_pages": pages,
        # -a listing_pages for a crawl that reads every listing page: generous on purpose (older
        # spiders counted every listing link met, 6-8 per page, rather than distinct pages).
        "listing_pages_arg": pages * 12 + 20,
        "sitemaps": len(paths),
        "baca_juga_only": sum(1 for a in articles if not a.listed),
        "eras": dict(sorted(eras.items())),
        "article_bytes": {
            "min": sizes[0],
            "median": sizes[len(sizes) // 2],
            "max": sizes[-1],
            "total": sum(sizes),
        },
        # Requests of a full crawl: robots.txt (robots middleware) + robots.txt (as a sitemap
        # source) + the sitemaps + home + /terkini + listing pages + articles.
        "expected_requests": 2 + len(paths) + 2 + pages + n,
    }
    (outdir / "bench-manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest


def samples(era: str, count: int, seed: int = 11) -> list[tuple[str, bytes, dict]]:
    """``count`` generated pages of one era, rendered in memory: (url, body, what extraction must
    find in it). For the extraction benchmark, which times them and checks them."""
    everything = plan_articles(max(400, count * 30), seed)
    templates = {e.name: build_template(e) for e in ERAS}
    chosen = [a for a in everything if a.era == era][:count]
    return [
        (
            a.url,
            render_article(a, everything, templates).encode("utf-8"),
            {
                "url": a.url,
                "title": a.title,
                "authors": a.authors,
                "body": "\n\n".join(a.paragraphs),
                "related_urls": [everything[i].url for i in a.related],
                "image_url": a.image,
                "published_date": a.published.date().isoformat(),
            },
        )
        for a in chosen
    ]


def sample_pages(era: str, count: int, seed: int = 11) -> list[tuple[str, bytes]]:
    """``count`` generated pages of one era as (url, body), rendered in memory."""
    return [(url, body) for url, body, _ in samples(era, count, seed)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of articles")
    parser.add_argument("outdir", type=Path, help="mirror folder to write (emptied first)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-listing", type=int, default=30, help="article links per listing page")
    args = parser.parse_args(argv)
    manifest = generate(args.n, args.outdir, seed=args.seed, per_listing=args.per_listing)
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
