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

from lxml import html as lxml_html
from lxml.cssselect import CSSSelector
from parsel import Selector
from scrapy.http import TextResponse

from kaltimnews.dates import parse_date, to_iso
from kaltimnews.items import ArticleItem
from kaltimnews.loaders import ArticleLoader
from kaltimnews.pages.metadata import Metadata, image_url, keywords, person_names
from kaltimnews.text import RELATED_LABEL, normalise_space, word_count
from kaltimnews.urls import DEFAULT_RULES, UrlRules, canonical_url, page_number, with_query_param

XPATH_NS = {"re": "http://exslt.org/regular-expressions"}


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
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
        self.selector: Selector = response.selector
        #: The lxml tree: hot paths query it directly, without a parsel wrapper per node.
        self.root = self.selector.root
        self._values_by_field: dict[str, list[str]] = {}
        self.metadata = Metadata(self.selector)
        self.ld = self.metadata.article

    # ------------------------------------------------------------------ the item

    def to_item(self, crawled_at: datetime | None = None) -> ArticleItem:
        # Single-valued fields take the first candidate with text: lower layers are never asked.
        loader = ArticleLoader(item=ArticleItem())
        loader.add_value("url", self.url)
        loader.add_value("site", self.site)
        loader.add_value("title", _first_text(self.title()))
        loader.add_value("authors", self.authors())
        loader.add_value("editor", _first_text(self.editor()))
        published = self.published()
        if published:
            loader.add_value("published_at_raw", published[0])
            loader.add_value("published_at", published[1])
        loader.add_value("modified_at", self.modified())
        loader.add_value("section", _first_text(self.section()))
        loader.add_value("tags", self.tags())
        loader.add_value("description", _first_text(self.description()))
        loader.add_value("body", self.paragraphs)
        loader.add_value("image_url", self.image_url())
        loader.add_value("image_caption", _first_text(self.image_caption()))
        loader.add_value("related_urls", self.related_urls)
        loader.add_value("language", self.language)
        crawled = (crawled_at or datetime.now(UTC)).astimezone(UTC)
        loader.add_value("crawled_at", to_iso(crawled))
        item = loader.load_item()
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
        for href in self.root.xpath(f'//a[contains(@href, "{param}=")]/@href'):
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
            if template.body and self._first_element(template.body) is not None:
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
        for candidate in (
            image_url(self.ld.get("image")),
            self.metadata.meta("og:image", "twitter:image"),
            next(iter(self.root.xpath("//figure//img/@src")), None),
        ):
            if candidate:
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
        container = copy.deepcopy(container)  # cleaning must not change the response's tree
        related = self._take_related_blocks(container)
        for element in _noise_selector(type(self).body_noise)(container):
            _drop(element)
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
            urls.extend(href for el in _css(css)(self.root) if (href := el.get("href")))
        return _unique(
            canonical_url(self.absolute(u), self.url_rules)
            for u in urls
            if u and not u.startswith(("#", "javascript:", "mailto:"))
        )

    def _body_container(self) -> Any:
        for template in self._templates_in_order():
            if template.body:
                element = self._first_element(template.body)
                if element is not None and _text_length(element) > 0:
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
                len(normalise_space(p.text_content()))
                for p in parent.iterchildren("p")
                if len(normalise_space(p.text_content())) >= 25
            )
            if score > best_score:
                best, best_score = parent, score
        return best

    def _take_related_blocks(self, container: Any) -> list[str]:
        """Remove every "Baca Juga" block, recognised by its label whatever its class; return its links."""
        urls: list[str] = []
        labels = container.xpath(
            ".//text()[re:test(., '^\\W*baca\\s+juga\\b', 'i')]", namespaces=XPATH_NS
        )
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
            urls.extend(block.xpath(".//a/@href"))
            _drop(block)
        return urls

    # ------------------------------------------------------------------ selector helpers

    def absolute(self, href: str) -> str:
        """``href`` made absolute against the page, or ``""`` when it cannot be parsed."""
        try:
            return self.response.urljoin(href)
        except ValueError:
            return ""

    def texts(self, css: str) -> list[str]:
        """The normalised text of every element ``css`` matches (one string per element)."""
        return [
            text
            for text in (normalise_space(" ".join(el.itertext())) for el in _css(css)(self.root))
            if text
        ]

    def _first_element(self, css: str) -> Any:
        found = _css(css)(self.root)
        return found[0] if found else None


# ---------------------------------------------------------------------- module helpers


@functools.cache
def _css(css: str) -> CSSSelector:
    """A compiled CSS selector (compiling costs more than matching, on an 80 KB page)."""
    return CSSSelector(css, translator="html")


@functools.cache
def _noise_selector(site_noise: tuple[str, ...]) -> CSSSelector:
    return _css(", ".join((*GENERIC_NOISE, *site_noise)))


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


def _drop(element: Any) -> None:
    """Remove an element but keep the text that follows it."""
    if element.getparent() is None:
        return
    if isinstance(element, lxml_html.HtmlElement):
        element.drop_tree()
    else:
        element.getparent().remove(element)


def _text_length(element: Any) -> int:
    return len(normalise_space(element.text_content()))


def _own_text_length(element: Any) -> int:
    """Text length outside links and the "Baca Juga" label: how much of the element is not a link list."""
    text = normalise_space(element.text_content())
    links = sum(len(normalise_space(a.text_content())) for a in element.iter("a"))
    label = RELATED_LABEL.match(text)
    return max(0, len(text) - links - (label.end() if label else 0))


def _paragraphs(container: Any) -> list[str]:
    for br in container.iter("br"):
        # lxml refuses to set text holding control characters, which broken pages do carry.
        br.tail = "\n" + _CONTROL_CHARS.sub("", br.tail or "")
    # The container is a detached copy, so its ancestors are all inside it.
    blocks = [
        el
        for el in container.iter(*_BLOCK_TAGS)
        if el is not container and not any(a.tag in _BLOCK_TAGS for a in el.iterancestors())
    ]
    if not blocks:
        lines = container.text_content().split("\n")
    else:
        lines = [el.text_content() for el in blocks]
    return [text for text in (normalise_space(line) for line in lines) if text]
