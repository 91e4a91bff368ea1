"""Machine-readable metadata of an article page: JSON-LD, OpenGraph and ``<meta>`` tags.

Publishers change their visible templates far more often than their metadata, so these are the
first layer of every extraction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

ARTICLE_TYPES = frozenset(
    {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting"}
)

# Some CMSs leave raw control characters or trailing commas in their JSON-LD.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _loads_lenient(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        cleaned = _TRAILING_COMMA.sub(r"\1", _CONTROL_CHARS.sub(" ", text))
        return json.loads(cleaned)


def _flatten(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for child in node:
            yield from _flatten(child)
    elif isinstance(node, dict):
        yield node
        if "@graph" in node:
            yield from _flatten(node["@graph"])


class Metadata:
    """The metadata layer of one page."""

    def __init__(self, root: Any):
        """``root``: the page's lxml root element."""
        self.root = root
        self.json_ld: list[dict[str, Any]] = []
        #: JSON-LD blocks that did not parse: the page's problem, counted by the spider.
        self.json_ld_errors = 0
        for script in root.iter("script"):
            if "ld+json" not in (script.get("type") or "").lower() or not script.text:
                continue
            try:
                self.json_ld.extend(_flatten(_loads_lenient(script.text)))
            except ValueError:
                self.json_ld_errors += 1
        self.article: dict[str, Any] = next(
            (obj for obj in self.json_ld if _types(obj) & ARTICLE_TYPES), {}
        )
        self._meta: dict[str, str] = {}
        self._metas = [meta for meta in root.iter("meta") if meta.get("content") is not None]
        for meta in self._metas:
            key = (meta.get("property") or meta.get("name") or "").strip().lower()
            if key and key not in self._meta:
                self._meta[key] = meta.get("content")

    def meta(self, *keys: str) -> str | None:
        """The first ``<meta property|name=key content>`` present, in the order asked."""
        for key in keys:
            value = self._meta.get(key.lower())
            if value and value.strip():
                return value.strip()
        return None

    def meta_all(self, key: str) -> list[str]:
        return [m.get("content") for m in self._metas if key in (m.get("property"), m.get("name"))]

    def canonical(self) -> str | None:
        link = next(
            (href for link in self.root.iter("link")
             if link.get("rel") == "canonical" and (href := link.get("href")) is not None),
            None,
        )  # fmt: skip
        return (link or "").strip() or self.meta("og:url") or _entity_id(self.article)

    def breadcrumb(self) -> list[str]:
        for obj in self.json_ld:
            if "BreadcrumbList" in _types(obj):
                elements = obj.get("itemListElement")
                items = sorted(
                    (i for i in elements if isinstance(i, dict)) if isinstance(elements, list) else (),
                    key=lambda i: _position(i.get("position")),
                )
                return [name for name in (_name(i) for i in items) if name]
        return []


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    if isinstance(kind, str):
        return {kind}
    return {k for k in kind if isinstance(k, str)} if isinstance(kind, list) else set()


def _position(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _name(node: Any) -> str | None:
    if isinstance(node, dict):
        name = node.get("name")
        return name if isinstance(name, str) and name else _name(node.get("item"))
    return None


def _entity_id(article: dict[str, Any]) -> str | None:
    entity = article.get("mainEntityOfPage")
    if isinstance(entity, dict):
        entity = entity.get("@id") or entity.get("url")
    return entity if isinstance(entity, str) else None


def person_names(value: Any) -> list[str]:
    """JSON-LD ``author``: a name, a Person, or a list of either."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [name for entry in value for name in person_names(entry)]
    return []


def image_url(value: Any) -> str | None:
    """JSON-LD ``image``: a URL, an ImageObject, or a list of either."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("url") or value.get("contentUrl")
        return found if isinstance(found, str) else None
    if isinstance(value, list) and value:
        return image_url(value[0])
    return None


def keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k for k in (part.strip() for part in value.split(",")) if k]
    if isinstance(value, list):
        return [k for k in value if isinstance(k, str)]
    return []
