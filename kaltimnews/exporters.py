"""Feed exporters: the same columns and encoding for crawl feeds and ``scrapy exportdb``."""

from __future__ import annotations

from typing import Any

from scrapy.exporters import CsvItemExporter, JsonLinesItemExporter

from kaltimnews.items import ARTICLE_FIELDS

#: Joins list fields (authors, tags, related_urls) in a CSV cell; names may hold commas.
CSV_LIST_SEPARATOR = " | "

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class ArticleCsvItemExporter(CsvItemExporter):
    """UTF-8 CSV in the fixed article column order, lists joined readably, formulas defused."""

    def __init__(self, file, **kwargs: Any):
        kwargs.setdefault("fields_to_export", list(ARTICLE_FIELDS))
        kwargs.setdefault("join_multivalued", CSV_LIST_SEPARATOR)
        kwargs.setdefault("encoding", "utf-8")
        super().__init__(file, **kwargs)

    def serialize_field(self, field, name, value):
        value = super().serialize_field(field, name, value)
        return neutralise_formula(value)


class ArticleJsonLinesItemExporter(JsonLinesItemExporter):
    """UTF-8 JSON lines (no ``\\u`` escapes) in the fixed article field order."""

    def __init__(self, file, **kwargs: Any):
        kwargs.setdefault("fields_to_export", list(ARTICLE_FIELDS))
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("ensure_ascii", False)
        super().__init__(file, **kwargs)
