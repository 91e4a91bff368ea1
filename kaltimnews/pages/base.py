"""Article page objects: extraction as a function of the response alone.

Every field is found in layers, most trusted first:

1. machine-readable metadata (JSON-LD NewsArticle, OpenGraph, ``article:*`` meta, canonical);
2. the selectors of the site's known template generations (a :class:`Template` each);
3. generic fallbacks that work on unknown templates (the headline ``h1``, the element holding
   most of the article's paragraphs, a date-looking text near the headline, ``meta[name=author]``);
4. the URL (a site may read the publish time from it).

A site module subclasses :class:`ArticlePage` with its templates, noise selectors and URL rules;
the spider only navigates.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from lxml import etree
from scrapy.http import TextResponse
from scrapy.utils.response import get_base_url

from kaltimnews.dates import parse_date, to_iso
from kaltimnews.items import ArticleItem
from kaltimnews.loaders import load_article
from kaltimnews.pages.document import Document, drop_tree, settable_text, text_content
from kaltimnews.pages.metadata import Metadata, image_url, keywords, person_names
from kaltimnews.text import RELATED_LABEL, normalise_space, word_count
from kaltimnews.urls import DEFAULT_RULES, UrlRules, canonical_url, join_url, page_number, with_query_param

#: The text nodes under an element, each knowing its parent (RELATED_LABEL picks the labels in
#: Python: EXSLT's re:test calls back into Python per node, libxml2's translate() is slower still).
_TEXT_NODES = etree.XPath(".//text()")
_RELATED_LABEL_ANYWHERE = re.compile(r"baca\s+juga", re.IGNORECASE)


@dataclass(frozen=True)
class Template:
    """The CSS selectors of one template generation of a site; empty means "not on this template"."""

    name: str
    title: str = ""
    authors: str = ""
    editor: str = ""
    published: str = ""
    body: str = ""
    tags: str = ""
    section: str = ""
    image_caption: str = ""


#: Never article text, on any site.
GENERIC_NOISE = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "video", "audio",
    "svg", "figure", "figcaption", "form", "button", "input", "select", "nav", "aside", "ins",
    "[id^='div-gpt-ad']", "[id*='div-ad']", "[class~='ads']", "[hidden]",
)  # fmt: skip

_BLOCK_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"})
_SKIP_CONTAINERS = frozenset({"header", "footer", "nav", "aside", "form"})
# A block around a "Baca Juga" label may hold this much text besides its links.
_RELATED_BLOCK_MAX_OWN_TEXT = 60
#: A publish time later than now plus this is a placeholder or a parse error, not a time.
PUBLISHED_FUTURE_TOLERANCE = timedelta(days=2)
#: Nothing here was published online before this (Unix epoch zero and CMS defaults are).
EARLIEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
_EDITOR_LABEL = re.compile(r"(?i)\beditor\s*:")
_DATE_HINT = re.compile(r"(?:19|20)\d\d|\d{1,2}[:.]\d\d|\blalu\b|\bkemarin\b", re.IGNORECASE)


class ArticlePage:
    """One article page. Subclasses set the class attributes; most need no methods."""

    site: ClassVar[str] = ""
    #: Zone for date texts that name none (WIB, WITA, WIT or an IANA name).
    timezone: ClassVar[str] = "WIB"
    url_rules: ClassVar[UrlRules] = DEFAULT_RULES
    #: Matches the URLs of this site's articles.
    article_url: ClassVar[re.Pattern[str]] = re.compile(r"^https?://")
    templates: ClassVar[tuple[Template, ...]] = ()
    #: CSS selectors of blocks inside the body container that are not article text.
    body_noise: ClassVar[tuple[str, ...]] = ()
    #: CSS selectors of "read also" links anywhere on the page (besides the blocks found by text).
    related_links: ClassVar[tuple[str, ...]] = ()
    #: A dateline the site puts before the first paragraph and that is not article text.
    dateline: ClassVar[re.Pattern[str] | None] = None
    #: What the site appends to ``<title>`` (`` - Suarakaltim.id``).
    title_suffix: ClassVar[re.Pattern[str] | None] = None
    language: ClassVar[str] = "id"

    def __init__(self, response: TextResponse):
        self.response = response
        # Parsed here rather than through response.selector: see pages/document.py.
        self.document = Document.from_text(response.text, base_url=response.url)
        self.root = self.document.root
        self._values_by_field: dict[str, list[str]] = {}
        self.metadata = Metadata(self.root)
        self.ld = self.metadata.article

    # ------------------------------------------------------------------ the item

    def to_item(self, crawled_at: datetime | None = None) -> ArticleItem:
        # Single-valued fields take the first candidate with text: lower layers are never asked.
        published = self.published()
        crawled = (crawled_at or datetime.now(UTC)).astimezone(UTC)
        item = load_article({
            "url": self.url,
            "site": self.site,
            "title": _first_text(self.title()),
            "authors": self.authors(),
            "editor": _first_text(self.editor()),
            "published_at_raw": published[0] if published else None,
            "published_at": published[1] if published else None,
            "modified_at": self.modified(),
            "section": _first_text(self.section()),
            "tags": self.tags(),
            "description": _first_text(self.description()),
            "body": self.paragraphs,
            "image_url": self.image_url(),
            "image_caption": _first_text(self.image_caption()),
            "related_urls": self.related_urls,
            "language": self.language,
            "crawled_at": to_iso(crawled),
        })  # fmt: skip
        item["word_count"] = word_count(item.get("body"))
        for list_field in ("authors", "tags", "related_urls"):
            item.setdefault(list_field, [])
        return item

    @property
    def has_article_text(self) -> bool:
        return bool(self.paragraphs)

    # ------------------------------------------------------------------ URL and paging

    @cached_property
    def url(self) -> str:
        """The canonical article URL: the page's own claim if it names an article of this site."""
        claimed = self.metadata.canonical()
        if claimed:
            claimed = canonical_url(self.absolute(claimed), self.url_rules)
            if self.is_article_url(claimed):
                return claimed
        return canonical_url(self.response.url, self.url_rules)

    @classmethod
    def is_article_url(cls, url: str) -> bool:
        return bool(cls.article_url.search(url))

    @property
    def page_number(self) -> int:
        return page_number(self.response.url, self.url_rules) or 1

    def page_count(self) -> int:
        """How many pages the article has: the highest ``?page=N`` link back to this article."""
        param = self.url_rules.paging_param
        if not param:
            return 1
        highest = 1
        marker = f"{param}="
        for link in self.root.iter("a"):
            href = link.get("href")
            if not href or marker not in href:
                continue
            absolute = self.absolute(href)
            number = page_number(absolute, self.url_rules)
            if number and number > highest and canonical_url(absolute, self.url_rules) == self.url:
                highest = number
        return highest

    @classmethod
    def page_url(cls, article_url: str, number: int) -> str:
        return with_query_param(article_url, cls.url_rules.paging_param or "page", str(number))

    # ------------------------------------------------------------------ fields, layer by layer

    @cached_property
    def template(self) -> Template | None:
        """The first known template whose body container is on the page."""
        for template in self.templates:
            if template.body and self.document.select_first(template.body) is not None:
                return template
        return None

    @property
    def template_name(self) -> str:
        return self.template.name if self.template else "unknown"

    def _templates_in_order(self) -> Iterator[Template]:
        if self.template:
            yield self.template
        yield from (t for t in self.templates if t is not self.template)

    def _template_texts(self, field: str) -> Iterator[str]:
        for template in self._templates_in_order():
            css = getattr(template, field)
            if css:
                yield from self.texts(css)

    def _template_values(self, field: str) -> list[str]:
        """The texts of the first template whose selector for ``field`` finds any.

        Kept per field: ``editor()`` reads the author byline too, and selectors scan the whole page.
        """
        if field not in self._values_by_field:
            self._values_by_field[field] = next(
                (found for template in self._templates_in_order()
                 if (css := getattr(template, field)) and (found := self.texts(css))),
                [],
            )  # fmt: skip
        return self._values_by_field[field]

    def title(self) -> Iterator[str]:
        yield from _strings(self.ld.get("headline"))
        yield from self._template_texts("title")
        yield from _strings(self.metadata.meta("og:title", "twitter:title"))
        yield from self.texts("h1")
        page_title = "".join(self.root.xpath("//title/text()"))
        if self.title_suffix is not None:
            page_title = self.title_suffix.sub("", page_title)
        yield page_title

    def authors(self) -> list[str]:
        return _first_nonempty(
            lambda: person_names(self.ld.get("author")),
            lambda: self._template_values("authors"),
            lambda: _strings(self.metadata.meta("author", "article:author", "dable:author")),
            lambda: self.texts("[rel='author'], [itemprop='author'] [itemprop='name']"),
        )

    def editor(self) -> Iterator[str]:
        yield from person_names(self.ld.get("editor"))
        yield from self._template_texts("editor")
        # "Penulis: A | Editor: B" in one byline
        yield from (t for t in self._template_values("authors") if _EDITOR_LABEL.search(t))
        yield from self.site_editor_candidates()

    def site_editor_candidates(self) -> Iterable[str]:
        return ()

    def published(self) -> tuple[str, datetime] | None:
        """(the raw text, the parsed time) of the first source that gives a plausible time.

        A time far in the future or before 1990 (a CMS placeholder, an epoch-zero bug) is not
        trusted: it is flagged (:attr:`flags`) and the next source is asked.
        """
        for raw in self.published_candidates():
            raw = normalise_space(raw).strip("|-–— ")
            parsed = parse_date(raw, tz=self.timezone) if raw else None
            if parsed is not None and self._plausible_publish_time(parsed):
                return raw, parsed
        stamp = self.url_timestamp()
        return stamp if stamp is None or self._plausible_publish_time(stamp[1]) else None

    @cached_property
    def flags(self) -> list[str]:
        """What the page states but was not trusted (``published_in_future``...); the spider counts them."""
        return []

    def _plausible_publish_time(self, value: datetime) -> bool:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value > datetime.now(UTC) + PUBLISHED_FUTURE_TOLERANCE:
            reason = "published_in_future"
        elif value < EARLIEST_PUBLISHED:
            reason = "published_before_1990"
        else:
            return True
        if reason not in self.flags:
            self.flags.append(reason)
        return False

    def published_candidates(self) -> Iterator[str]:
        yield from _strings(self.ld.get("datePublished"))
        yield from _strings(
            self.metadata.meta("article:published_time", "og:published_time", "pubdate",
                               "publishdate", "datepublished")  # fmt: skip
        )
        if "datePublished" in self.response.text:  # a whole-page XPath scan, only where it can find any
            yield from self.root.xpath("//*[@itemprop='datePublished']/@content")
        yield from self._template_texts("published")
        yield from self.site_published_candidates()
        yield from self._date_texts_near_headline()

    def site_published_candidates(self) -> Iterable[str]:
        """Site-specific sources (a script variable, say), after the templates."""
        return ()

    def url_timestamp(self) -> tuple[str, datetime] | None:
        """The publish time some sites write into the URL: the last resort."""
        return None

    def _date_texts_near_headline(self) -> Iterator[str]:
        for text in self.root.xpath("(//h1)[1]/following::text()[normalize-space()][position() <= 40]"):
            text = normalise_space(text)
            if len(text) <= 80 and _DATE_HINT.search(text):
                yield text

    def modified(self) -> datetime | None:
        for raw in (
            *_strings(self.ld.get("dateModified")),
            *_strings(self.metadata.meta("article:modified_time", "og:updated_time")),
        ):
            parsed = parse_date(raw, tz=self.timezone)
            if parsed is not None:
                return parsed
        return None

    def section(self) -> Iterator[str]:
        yield from _strings(self.ld.get("articleSection"))
        yield from _strings(self.metadata.meta("article:section"))
        yield from self._template_texts("section")
        crumbs = self.metadata.breadcrumb()
        if len(crumbs) >= 3:
            yield crumbs[-2]

    def tags(self) -> list[str]:
        # The editor's visible tags first: JSON-LD keywords are often a longer SEO list.
        return _first_nonempty(
            lambda: self._template_values("tags"),
            lambda: self.metadata.meta_all("article:tag"),
            lambda: keywords(self.ld.get("keywords")),
        )

    def description(self) -> Iterator[str]:
        yield from _strings(self.ld.get("description"))
        yield from _strings(self.metadata.meta("og:description", "description", "twitter:description"))

    def image_url(self) -> str | None:
        for source in (
            lambda: image_url(self.ld.get("image")),
            lambda: self.metadata.meta("og:image", "twitter:image"),
            lambda: next(iter(self.root.xpath("//figure//img/@src")), None),
        ):
            if candidate := source():
                return self.absolute(candidate.strip()) or None
        return None

    def image_caption(self) -> Iterator[str]:
        yield from self._template_texts("image_caption")
        yield from self.texts("figure figcaption")[:1]  # the first figure is the lead image

    # ------------------------------------------------------------------ body and related links

    @cached_property
    def _body(self) -> tuple[list[str], list[str]]:
        container = self._body_container()
        if container is None:
            return [], []
        # The noise is found in the page (its index is there), then dropped from a copy:
        # cleaning must not change the tree the other fields are read from.
        noise = self.document.select(_noise_css(type(self).body_noise), within=container, ordered=False)
        original = container
        container = copy.deepcopy(original)
        in_copy = dict(zip(original.iter(), container.iter()))
        related = self._take_related_blocks(container)
        for element in noise:
            drop_tree(in_copy[element])
        paragraphs = _paragraphs(container)
        if paragraphs and self.dateline is not None:
            paragraphs[0] = self.dateline.sub("", paragraphs[0], count=1).strip()
            paragraphs = [p for p in paragraphs if p]
        return paragraphs, related

    @property
    def paragraphs(self) -> list[str]:
        return self._body[0]

    @cached_property
    def related_urls(self) -> list[str]:
        urls = list(self._body[1])
        for css in self.related_links:
            urls.extend(href for el in self.document.select(css) if (href := el.get("href")))
        return _unique(
            canonical_url(self.absolute(u), self.url_rules)
            for u in urls
            if u and not u.startswith(("#", "javascript:", "mailto:"))
        )

    def _body_container(self) -> Any:
        for template in self._templates_in_order():
            if template.body:
                element = self.document.select_first(template.body)
                if element is not None and _has_text(element):
                    return element
        return self._densest_paragraph_parent()

    def _densest_paragraph_parent(self) -> Any:
        """The element whose own ``<p>`` children hold the most text: the body of an unknown template."""
        best, best_score = None, 0
        for parent in self.root.xpath("//p/.."):
            if any(a.tag in _SKIP_CONTAINERS for a in parent.iterancestors()) or (
                parent.tag in _SKIP_CONTAINERS
            ):
                continue
            score = sum(
                length
                for p in parent.iterchildren("p")
                if (length := len(normalise_space(text_content(p)))) >= 25
            )
            if score > best_score:
                best, best_score = parent, score
        return best

    def _take_related_blocks(self, container: Any) -> list[str]:
        """Remove every "Baca Juga" block, recognised by its label whatever its class; return its links."""
        urls: list[str] = []
        if not _RELATED_LABEL_ANYWHERE.search(text_content(container)):
            return urls  # one search of the body's text instead of a look at every text node
        labels = [text for text in _TEXT_NODES(container) if RELATED_LABEL.match(text)]
        for label in labels:
            element = label.getparent()
            if element is None:
                continue
            if label.is_tail:
                # "...</b>Baca juga: <a>": the label is the tail of a sibling, the block is its parent
                element = element.getparent()
            if element is None or element is container:
                continue
            block = element
            while (
                block.getparent() is not None
                and block.getparent() is not container
                and _own_text_length(block.getparent()) <= _RELATED_BLOCK_MAX_OWN_TEXT
            ):
                block = block.getparent()
            if block.getparent() is None:  # removed already with an enclosing block
                continue
            urls.extend(href for link in block.iter("a") if (href := link.get("href")) is not None)
            drop_tree(block)
        return urls

    # ------------------------------------------------------------------ selector helpers

    def absolute(self, href: str) -> str:
        """``href`` made absolute against the page (``response.urljoin``), or ``""`` when it cannot be parsed."""
        try:
            return join_url(self._base_url, href)
        except ValueError:
            return ""

    def _base_url(self) -> str:
        return get_base_url(self.response)  # the page's <base href>, found once per response

    def texts(self, css: str) -> list[str]:
        """The normalised text of every element ``css`` matches (one string per element)."""
        return [
            text
            for text in (normalise_space(" ".join(el.itertext())) for el in self.document.select(css))
            if text
        ]


# ---------------------------------------------------------------------- module helpers


@functools.cache
def _noise_css(site_noise: tuple[str, ...]) -> str:
    return ", ".join((*GENERIC_NOISE, *site_noise))


def _first_text(candidates: Iterable[str]) -> str | None:
    return next((c for c in candidates if isinstance(c, str) and normalise_space(c)), None)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _first_nonempty(*sources: Callable[[], list[str]]) -> list[str]:
    for source in sources:
        values = [v for v in source() if v and normalise_space(v)]
        if values:
            return values
    return []


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _has_text(element: Any) -> bool:
    return any(normalise_space(text) for text in element.itertext())


def _own_text_length(element: Any) -> int:
    """Text length outside links and the "Baca Juga" label: how much of the element is not a link list."""
    text = normalise_space(text_content(element))
    links = sum(len(normalise_space(text_content(a))) for a in element.iter("a"))
    label = RELATED_LABEL.match(text)
    return max(0, len(text) - links - (label.end() if label else 0))


def _paragraphs(container: Any) -> list[str]:
    for br in container.iter("br"):
        br.tail = "\n" + settable_text(br.tail or "")
    blocks = [] if container.tag in _BLOCK_TAGS else _outermost_blocks(container)
    if not blocks:
        lines = text_content(container).split("\n")
    else:
        lines = [text_content(el) for el in blocks]
    return [text for text in (normalise_space(line) for line in lines) if text]


def _outermost_blocks(container: Any) -> list[Any]:
    """The block elements (``_BLOCK_TAGS``) inside ``container`` that are inside no other block."""
    blocks = []
    # Depth first with a stack of child iterators: no recursion limit on a deeply nested page.
    stack = [iter(container)]
    while stack:
        for child in stack[-1]:
            if child.tag in _BLOCK_TAGS:
                blocks.append(child)
            elif len(child) and isinstance(child.tag, str):
                stack.append(iter(child))
                break
        else:
            stack.pop()
    return blocks
