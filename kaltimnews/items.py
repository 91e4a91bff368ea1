"""The article record: the contract that feeds, storage and exports share."""

from __future__ import annotations

import scrapy

#: Column order of every export (CSV feeds, ``scrapy exportdb``) and of the storage table.
ARTICLE_FIELDS: tuple[str, ...] = (
    "url",
    "site",
    "title",
    "authors",
    "editor",
    "published_at",
    "published_at_raw",
    "modified_at",
    "section",
    "tags",
    "description",
    "body",
    "image_url",
    "image_caption",
    "related_urls",
    "language",
    "word_count",
    "crawled_at",
)

#: Fields that hold lists of strings.
LIST_FIELDS: frozenset[str] = frozenset({"authors", "tags", "related_urls"})


class ArticleItem(scrapy.Item):
    url = scrapy.Field()  # canonical article URL: no tracking query, no ?page
    site = scrapy.Field()  # spider name, e.g. "suarakaltim"
    title = scrapy.Field()
    authors = scrapy.Field()  # list of the writers' names
    editor = scrapy.Field()  # the editor the page names, if any (not an author)
    published_at = scrapy.Field()  # ISO 8601 with the offset the page states
    published_at_raw = scrapy.Field()  # the text published_at came from
    modified_at = scrapy.Field()  # ISO 8601, or None
    section = scrapy.Field()
    tags = scrapy.Field()  # list, without '#'
    description = scrapy.Field()
    body = scrapy.Field()  # paragraphs separated by blank lines
    image_url = scrapy.Field()
    image_caption = scrapy.Field()
    related_urls = scrapy.Field()  # "Baca Juga" links, absolute
    language = scrapy.Field()  # "id"
    word_count = scrapy.Field()
    crawled_at = scrapy.Field()  # UTC, ISO 8601
