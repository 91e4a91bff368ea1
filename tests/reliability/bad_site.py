"""The bad-input site: every broken page of issue 8, built into a copy of the mirror.

:func:`build_bad_site` writes the pages and routes and returns their URLs by case name; one crawl
of that copy (tests/reliability/test_bad_input.py) answers every case.
"""

from __future__ import annotations

from pathlib import Path

from tests.reliability.builders import (
    add_routes,
    article_html,
    article_url,
    link_from_home,
    paragraphs,
    write_body_file,
    write_page,
)

#: Text whose characters differ between windows-1252 and UTF-8 (curly quotes, dash, accents).
ACCENTED = "Kafe “Teras Mahakam” – menu crème brûlée, jalapeño dan café au lait"
FORMULA_TITLE = '=HYPERLINK("http://contoh.invalid/x","klik di sini")'
SQL_TITLE = "Warga protes'); DROP TABLE articles;-- soal banjir"
MANY_RELATED = 250
UNPARSABLE_HREF = "http://[broken"


def _stamped(slug: str, n: int, day: str = "2024/03/04") -> str:
    """The n-th bad page's URL: its URL timestamp (10:00 + n minutes) is a valid time."""
    return article_url(slug, f"{day}/{10 + n // 60:02d}{n % 60:02d}00")


def build_bad_site(root: Path) -> dict[str, str]:
    """Write every bad page into the mirror copy at ``root``; return ``{case: url}``."""
    urls: dict[str, str] = {}

    def url(case: str) -> str:
        urls[case] = _stamped(case, len(urls))
        return urls[case]

    # -- markup ------------------------------------------------------------------------------
    full = article_html(url("truncated-html"), "Dokumen terpotong di tengah", paragraphs("dokumen-terpotong", 8))
    cut_at = full.index("bagian 6")  # mid-paragraph, inside <p>, before </article></body></html>
    write_page(root, urls["truncated-html"], full[:cut_at])

    malformed = f"""<html><head><title>Halaman rusak - Suarakaltim.id</title>
<link rel=canonical href={url("malformed-html")}>
<body><div class=article-image><h1>Markup berantakan tetap terbaca</h1>
<h3><a href=/author/uji>Hendra Wijaya</a><span>Senin, 04 Maret 2024 | 11:00 WIB</span></div></div></div>
<article class="detail-content"><p>{paragraphs("markup-rusak")[0]} <b>tebal <i>miring</b> tutup</i>
<p>{paragraphs("markup-rusak")[1]}<div><p>{paragraphs("markup-rusak")[2]}</div></span></td></table>
<p>{paragraphs("markup-rusak")[3]} &nbsp &amp &#xZZ; &bogus; <p>{paragraphs("markup-rusak")[4]}
<p attr="unclosed>{paragraphs("markup-rusak")[0]}</p></article></article></body></html></html>"""
    write_page(root, urls["malformed-html"], malformed)

    # -- encodings ---------------------------------------------------------------------------
    def accented_page(case: str, title: str) -> str:
        return article_html(
            url(case), title, [f"{ACCENTED} ({case})", *paragraphs(case, 4)], charset_meta=False
        )

    encodings = {
        # case: (bytes encoding, Content-Type)
        "cp1252-declared-utf8": ("cp1252", "text/html; charset=utf-8"),
        "utf8-declared-cp1252": ("utf-8", "text/html; charset=windows-1252"),
        "utf8-no-charset": ("utf-8", "text/html"),
        "cp1252-no-charset": ("cp1252", "text/html"),
    }
    routes: dict[str, dict] = {}
    for case, (encoding, content_type) in encodings.items():
        html = accented_page(case, f"Kuliner café baru ({case})")
        body_file = write_body_file(root, f"{case}.html", html.encode(encoding))
        routes[urls[case]] = {"body_file": body_file, "content_type": content_type}

    # -- sizes and non-HTML ------------------------------------------------------------------
    huge = article_html(url("huge-10mb"), "Halaman sepuluh megabita", paragraphs("sepuluh-megabita"))
    write_page(root, urls["huge-10mb"], huge.replace("</body>", "<!--" + "x" * (10 * 2**20) + "--></body>"))
    large = article_html(url("large-3mb"), "Halaman tiga megabita", paragraphs("tiga-megabita"))
    write_page(root, urls["large-3mb"], large.replace("</body>", "<!--" + "y" * (3 * 2**20) + "--></body>"))
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 64 + b"\xff\xd9"
    routes[url("binary-jpeg")] = {"body_file": write_body_file(root, "photo.jpg", jpeg), "content_type": "image/jpeg"}
    noise = bytes((i * 7919 + 13) % 256 for i in range(40_000))
    routes[url("binary-as-html")] = {"body_file": write_body_file(root, "noise.bin", noise), "content_type": "text/html"}
    routes[url("empty-200")] = {"status": 200, "body": ""}

    # -- redirects and faults ----------------------------------------------------------------
    loop_b = _stamped("putaran-b", 90)
    routes[url("redirect-loop")] = {"status": 301, "location": loop_b}
    routes[loop_b] = {"status": 302, "location": urls["redirect-loop"]}
    routes[url("redirect-offsite")] = {"status": 302, "location": "https://situs-lain.example.net/read/berita"}
    routes[url("stall")] = {"stall": 60}
    routes[url("reset")] = {"reset": True}
    cut = article_html(url("truncated-transfer"), "Transfer terputus", paragraphs("transfer-terputus"))
    routes[urls["truncated-transfer"]] = {
        "body_file": write_body_file(root, "truncated.html", cut.encode()),
        "truncate": 600,
    }

    # -- metadata and dates ------------------------------------------------------------------
    broken_ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
        ' "headline": "JSON rusak" "datePublished": "2024-03-04T12:00:00+07:00",</script>'
    )
    write_page(root, url("invalid-json-ld"), article_html(urls["invalid-json-ld"], "JSON-LD rusak, halaman tetap terbaca", head=broken_ld))

    future_ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2099-01-01T00:00:00+07:00"}</script>'
        '<meta property="article:published_time" content="2099-01-01T00:00:00+07:00">'
    )
    write_page(
        root, url("future-date"),
        article_html(urls["future-date"], "Tanggal terbit di masa depan", head=future_ld, date_text=""),
    )  # fmt: skip
    epoch_ld = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "1970-01-01T00:00:00Z"}</script>'
    write_page(
        root, url("epoch-date"),
        article_html(urls["epoch-date"], "Tanggal terbit nol Unix", head=epoch_ld, date_text="Senin, 04 Maret 2024 | 13:30 WIB"),
    )  # fmt: skip

    # -- links -------------------------------------------------------------------------------
    related = "\n".join(
        f'<p>Baca Juga: <a href="{_stamped(f"terkait-{i}", i, "2024/03/05")}">Berita terkait {i}</a></p>'
        for i in range(MANY_RELATED)
    )
    body = paragraphs("banyak-baca-juga", 4)
    write_page(
        root, url("many-baca-juga"),
        article_html(urls["many-baca-juga"], "Ratusan tautan Baca Juga", body[:2], after_body=related + "".join(f"<p>{p}</p>" for p in body[2:])),
    )  # fmt: skip

    # -- hostile titles ----------------------------------------------------------------------
    write_page(root, url("formula-title"), article_html(urls["formula-title"], FORMULA_TITLE.replace('"', "&quot;")))
    write_page(root, url("sql-title"), article_html(urls["sql-title"], SQL_TITLE))

    # -- a link nothing can parse, in a Baca Juga block (a known gap: see docs/reliability.md)
    write_page(
        root, url("unparsable-related-link"),
        article_html(urls["unparsable-related-link"], "Tautan rusak di Baca Juga",
                     after_body=f'<p>Baca Juga: <a href="{UNPARSABLE_HREF}">rusak</a></p>'),
    )  # fmt: skip

    add_routes(root, routes)
    # The unparsable link goes first on the home page: every link after it must still be followed.
    link_from_home(root, list(urls.values()), first=f'<a href="{UNPARSABLE_HREF}">rusak</a>')
    return urls
