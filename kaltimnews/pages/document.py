"""The parsed article page, and CSS selection over it that does not rescan the page per selector.

A template's selectors are mostly class selectors (``.author-trigger a``). lxml evaluates one by
testing an XPath predicate on every element of the page, about 0.25 ms a selector on an 80 KB
page; a page object asks a dozen of them. :class:`Document` instead indexes the page's elements
by class token and by id once (one pass), and evaluates a class- or id-anchored selector only
from the elements that carry that class or an id: the same XPath that lxml's ``CSSSelector``
runs, anchored at each candidate (``self::`` instead of ``descendant-or-self::``). Selectors with
no class or id to anchor on (``h1``, ``figure figcaption``) run as lxml runs them; libxml2 walks
the tree fast when it only tests tag names. The result is the element list ``CSSSelector`` gives,
in document order (``tests/pages/test_document.py`` checks this on every fixture page).

The tree is parsed without ``lxml.html``'s element classes: they cost a Python call per element
every time a node is touched, and nothing here needs their methods.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cssselect
from cssselect.parser import Attrib, Class, CombinedSelector, Element, Hash, Selector
from lxml import etree
from lxml.cssselect import CSSSelector

_TRANSLATOR = cssselect.HTMLTranslator()
_EMPTY_PAGE = b"<html/>"


def parse_html(text: str, base_url: str | None = None) -> Any:
    """The page's root element, parsed as parsel does for ``response.selector`` (``<html/>`` if empty)."""
    # Same input handling as parsel.selector.create_root_node: NULs break libxml2's parser.
    body = text.strip().replace("\x00", "").encode("utf-8") or _EMPTY_PAGE
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    root = etree.fromstring(body, parser=parser, base_url=base_url)
    if root is None:
        root = etree.fromstring(_EMPTY_PAGE, parser=parser, base_url=base_url)
    return root


_LINK_HREFS = etree.XPath("//a/@href", smart_strings=False)


def link_hrefs(text: str) -> list[str]:
    """The ``href`` of every ``<a>`` of a page, in document order: ``response.css("a::attr(href)").getall()``.

    Twice as fast on a listing page: no ``lxml.html`` element classes, no ``Selector`` per link.
    """
    return _LINK_HREFS(parse_html(text))


def text_content(element: Any) -> str:
    """All the text inside ``element`` (its XPath string value), as ``lxml.html``'s ``text_content()``.

    libxml2's text serialisation gives the same string as XPath's ``string()`` several times
    faster on a paragraph: no XPath context to set up.
    """
    return etree.tostring(element, method="text", encoding="unicode", with_tail=False)


#: Control characters: libxml2 keeps them when it parses a broken page, lxml refuses to set text
#: that holds them, and they are never article text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def settable_text(text: str) -> str:
    """``text`` without the control characters lxml refuses in ``.text`` and ``.tail``."""
    return _CONTROL_CHARS.sub("", text)


def drop_tree(element: Any) -> None:
    """Remove ``element`` and everything in it, but keep the text that follows it (``lxml.html``'s ``drop_tree``)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = settable_text((previous.tail or "") + element.tail)
        else:
            parent.text = settable_text((parent.text or "") + element.tail)
    parent.remove(element)


# ---------------------------------------------------------------------- selector plans


@dataclass(frozen=True)
class _Anchored:
    """One selector of a group, evaluated from the elements that have ``key``."""

    kind: str  # "class": elements with the class token ``key``; "id": elements whose id ``operator`` ``key``
    key: str
    xpath: etree.XPath  # the selector, anchored at the candidate (``self::...``)
    operator: str = "="


@dataclass(frozen=True)
class _Plan:
    anchored: tuple[_Anchored, ...]
    #: The selectors of the group with nothing to anchor on, as one lxml selector (or None).
    rest: CSSSelector | None


def _leftmost_compound(tree: Any) -> Any:
    while isinstance(tree, CombinedSelector):
        tree = tree.selector
    return tree


#: How an id anchor's candidates are picked from the elements that have an id.
_ID_TESTS = {
    "=": lambda value, key: value == key,
    "^=": str.startswith,
    "$=": str.endswith,
    "*=": lambda value, key: key in value,
}


def _anchor(selector: Selector) -> tuple[str, str, str] | None:
    """(kind, key, operator): what every element the leftmost compound selector matches carries.

    A class token is preferred (the index holds it); an id test picks from the few elements
    with an id. What ``:not()`` names is never an anchor: it is not on the element.
    """
    node = _leftmost_compound(selector.parsed_tree)
    found: tuple[str, str, str] | None = None
    while node is not None and not isinstance(node, Element):
        if isinstance(node, Class):
            return "class", node.class_name, "~="
        if isinstance(node, Hash):
            found = found or ("id", node.id, "=")
        elif isinstance(node, Attrib) and node.namespace is None and node.value is not None:
            if node.attrib == "class" and node.operator == "~=" and node.value.value:
                return "class", node.value.value, "~="
            if node.attrib == "id" and node.operator in _ID_TESTS and node.value.value:
                found = found or ("id", node.value.value, node.operator)
        # Every pseudo-class, :not() included, wraps the rest of its compound in ``selector``.
        node = getattr(node, "selector", None)
    return found


@functools.cache
def _plan(css: str) -> _Plan:
    anchored: list[_Anchored] = []
    rest: list[str] = []
    for selector in cssselect.parse(css):
        anchor = _anchor(selector) if selector.pseudo_element is None else None
        if anchor is None:
            rest.append(selector.canonical())
            continue
        path = _TRANSLATOR.selector_to_xpath(selector, prefix="self::")
        kind, key, operator = anchor
        anchored.append(_Anchored(kind, key, etree.XPath(path), operator))
    # One lxml selector for the rest keeps libxml2's single walk for a list of plain tags.
    rest_selector = CSSSelector(", ".join(rest), translator="html") if rest else None
    return _Plan(tuple(anchored), rest_selector)


# ---------------------------------------------------------------------- the document


class Document:
    """A parsed page: its root element and fast CSS selection (see the module docstring)."""

    def __init__(self, root: Any):
        self.root = root
        self._by_class: dict[str, list[Any]] | None = None
        self._with_id: list[Any] = []
        self._order: dict[Any, int] | None = None

    @classmethod
    def from_text(cls, text: str, base_url: str | None = None) -> Document:
        return cls(parse_html(text, base_url))

    def _index(self) -> dict[str, list[Any]]:
        if self._by_class is None:
            by_class: dict[str, list[Any]] = {}
            with_id = self._with_id
            for element in self.root.iter(etree.Element):
                classes = element.get("class")
                if classes:
                    for token in classes.split():
                        found = by_class.get(token)
                        if found is None:
                            by_class[token] = [element]
                        else:
                            found.append(element)
                if element.get("id") is not None:
                    with_id.append(element)
            self._by_class = by_class
        return self._by_class

    def _candidates(self, anchored: _Anchored) -> list[Any]:
        by_class = self._index()
        if anchored.kind == "class":
            return by_class.get(anchored.key, [])
        test, key = _ID_TESTS[anchored.operator], anchored.key
        return [element for element in self._with_id if test(element.get("id"), key)]

    def select(self, css: str, within: Any = None, *, ordered: bool = True) -> list[Any]:
        """The elements ``CSSSelector(css, translator="html")(within or root)`` finds, in document order.

        ``within`` must be an element of this document's tree: only it and its descendants
        are searched, as when the selector is run on ``within``. ``ordered=False`` returns the
        same elements in any order (sorting a merged list costs an index of the whole page).
        """
        plan = _plan(css)
        found: list[list[Any]] = []
        scope: set[Any] | None = None
        for anchored in plan.anchored:
            candidates = self._candidates(anchored)
            if not candidates:
                continue
            if within is not None and within is not self.root:
                if scope is None:
                    scope = set(within.iter(etree.Element))
                candidates = [c for c in candidates if c in scope]
            for candidate in candidates:
                matched = anchored.xpath(candidate)
                if matched:
                    found.append(matched)
        if plan.rest is not None:
            matched = plan.rest(self.root if within is None else within)
            if matched:
                found.append(matched)
        if not found:
            return []
        if len(found) == 1:
            return found[0]
        merged = (element for matched in found for element in matched)
        return self._in_document_order(merged) if ordered else list(dict.fromkeys(merged))

    def select_first(self, css: str) -> Any:
        found = self.select(css)
        return found[0] if found else None

    def _in_document_order(self, elements: Iterable[Any]) -> list[Any]:
        unique = list(dict.fromkeys(elements))
        if self._order is None and len(unique) <= _FEW:
            # A few elements are placed by their ancestors' positions: cheaper than numbering
            # the whole page, which a selector merging many matches still does (once a page).
            return sorted(unique, key=_position_path)
        if self._order is None:
            self._order = {element: n for n, element in enumerate(self.root.iter())}
        return sorted(unique, key=self._order.__getitem__)


#: At most this many elements are ordered by :func:`_position_path`.
_FEW = 8


def _position_path(element: Any) -> list[int]:
    """The element's child index at each level from the root: lists compare in document order."""
    path = []
    parent = element.getparent()
    while parent is not None:
        path.append(parent.index(element))
        element, parent = parent, parent.getparent()
    path.reverse()
    return path

