"""The article item loader: every value normalised the same way, whichever layer found it.

Page objects add candidate values in order of trust (metadata, template selectors, generic
fallbacks); single-valued fields keep the first non-empty one.

:class:`ArticleLoader` declares the processors. :func:`load_article` applies the same
processors to one value list per field, which is all a page object needs: it gives the item
``ArticleLoader`` gives (``tests/reliability/test_properties.py`` checks it), without
ItemLoader's per-value bookkeeping, which profiled at half the cost of building an item.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from itemloaders.common import wrap_loader_context
from itemloaders.processors import Join, MapCompose, TakeFirst
from itemloaders.utils import arg_to_iter
from scrapy.loader import ItemLoader

from kaltimnews.dates import to_iso
from kaltimnews.items import ArticleItem
from kaltimnews.text import CHROME_LINE, editor_name, normalise_space, split_authors, strip_tag_marker


def unique_list(values: list[Any]) -> list[Any]:
    """Keep order, drop repeats (case-insensitively for text)."""
    seen: set[Any] = set()
    kept = []
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def drop_chrome(line: str) -> str | None:
    """``line`` unless it is page chrome; ``line`` is normalised already (``body_in`` does that first)."""
    return line if line and not CHROME_LINE.match(line) else None


def non_empty(value: Any) -> Any:
    return value if value not in ("", None) else None


def iso_datetime(value: datetime | str) -> str:
    return to_iso(value) if isinstance(value, datetime) else normalise_space(value)


class ArticleLoader(ItemLoader):
    default_item_class = ArticleItem
    default_input_processor = MapCompose(normalise_space)
    default_output_processor = TakeFirst()

    authors_in = MapCompose(split_authors)
    authors_out = unique_list
    editor_in = MapCompose(editor_name)
    tags_in = MapCompose(strip_tag_marker, non_empty)
    tags_out = unique_list
    related_urls_in = MapCompose(normalise_space, non_empty)
    related_urls_out = unique_list
    published_at_in = MapCompose(iso_datetime)
    modified_at_in = MapCompose(iso_datetime)
    body_in = MapCompose(normalise_space, drop_chrome)
    body_out = Join("\n\n")
    word_count_in = MapCompose(int)


@functools.cache
def _processors() -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    """(input, output) processor of every item field, as ``ArticleLoader`` resolves them."""
    loader = ArticleLoader()
    return {
        field: (_direct(loader.get_input_processor(field)), loader.get_output_processor(field))
        for field in ArticleItem.fields
    }


def _direct(processor: Callable[..., Any]) -> Callable[..., Any]:
    """``processor`` itself, or for a ``MapCompose`` the same composition without its per-value overhead.

    ``MapCompose`` wraps every function for the loader context and passes every result through
    ``arg_to_iter`` on each call: most of an item's cost. Here the functions are wrapped once, a
    string result is taken as it is, and on any error the ``MapCompose`` itself runs again, so
    the error raised is the one it raises.
    """
    if type(processor) is not MapCompose:
        return processor
    functions = tuple(wrap_loader_context(f, processor.default_loader_context) for f in processor.functions)

    def compose(values: Any) -> list[Any]:
        current = values
        try:
            for function in functions:
                following: list[Any] = []
                for value in current:
                    result = function(value)
                    if type(result) is str:
                        following.append(result)
                    elif result is not None:
                        following.extend(arg_to_iter(result))
                current = following
        except Exception:
            return processor(values)
        return current

    return compose


def load_article(values: Mapping[str, Any]) -> ArticleItem:
    """The item of ``ArticleLoader(item=ArticleItem())``, one ``add_value(field, value)`` a field, ``load_item()``.

    None and values the input processor empties leave the field unset, as with the loader.
    """
    processors = _processors()
    item = ArticleItem()
    for field, value in values.items():
        if value is None:
            continue
        process_input, process_output = processors[field]
        processed = process_input(arg_to_iter(value))
        if not processed:
            continue
        output = process_output(arg_to_iter(processed))
        if output is not None:
            item[field] = output
    return item
