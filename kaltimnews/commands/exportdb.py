"""``scrapy exportdb FILE``: the stored articles as CSV or JSON lines, like the crawl feeds."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from kaltimnews.exporters import ArticleCsvItemExporter, ArticleJsonLinesItemExporter
from kaltimnews.storage import (
    ArticleStore,
    describe_error,
    mask_url,
    resolve_database_url,
    sqlite_path,
)

#: Output format by file extension; the same exporters as FEED_EXPORTERS.
EXPORTERS: dict[str, type[Any]] = {
    "csv": ArticleCsvItemExporter,
    "jsonl": ArticleJsonLinesItemExporter,
    "jsonlines": ArticleJsonLinesItemExporter,
    "jl": ArticleJsonLinesItemExporter,
}


def parse_since(value: str | None) -> dt.date | None:
    """``--since`` as a date (``YYYY-MM-DD``)."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"--since expects an ISO date (YYYY-MM-DD), not {value!r}") from None


def export_articles(
    store: ArticleStore,
    output: BinaryIO,
    fmt: str,
    *,
    site: str | None = None,
    since: dt.date | None = None,
) -> int:
    """Write the stored articles to ``output`` through the feed exporter of ``fmt``; the count."""
    exporter = EXPORTERS[fmt](output)
    exporter.start_exporting()
    count = 0
    for article in store.iter_articles(site=site, since=since):
        exporter.export_item(article)
        count += 1
    exporter.finish_exporting()
    return count


class Command(ScrapyCommand):
    """``scrapy exportdb [--since DATE] [--site NAME] [--database-url URL] FILE``."""

    requires_project = False
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] <articles.csv | articles.jsonl | articles.jl | ->"

    def short_desc(self) -> str:
        return "Export the stored articles (same columns and encoding as the crawl feeds)"

    def long_desc(self) -> str:
        return (
            "Write the articles of the store (DATABASE_URL) to FILE, as CSV or JSON lines by its"
            " extension, with the crawl feeds' columns and encoding. '-' writes to standard"
            " output (use --format)."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="only articles published on or after DATE (YYYY-MM-DD, the site's own date)",
        )
        parser.add_argument(
            "--site", metavar="NAME", help="only the articles of this site (spider name)"
        )
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help="the store to read (default: the DATABASE_URL setting or environment variable)",
        )
        parser.add_argument(
            "--format",
            choices=sorted(EXPORTERS),
            help="output format (default: from the file extension)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("exportdb takes one output file", print_help=True)
        target = args[0]
        fmt = opts.format or Path(target).suffix.lstrip(".").lower()
        if fmt not in EXPORTERS:
            raise UsageError(
                f"cannot tell the format of {target!r}:"
                " name it .csv, .jsonl or .jl, or use --format"
            )
        since = parse_since(opts.since)
        database_url = opts.database_url or resolve_database_url(self.settings)

        database_file = sqlite_path(database_url)
        if database_file is not None and not database_file.is_file():
            # Opening it would create an empty database where the user mistyped a path.
            self._fail(f"no database file {database_file} ({mask_url(database_url)})")
            return
        store = ArticleStore(database_url)
        try:
            if not store.has_articles_table():
                self._fail(f"no article store in {mask_url(database_url)} (nothing crawled yet?)")
                return
            if target == "-":
                count = export_articles(store, sys.stdout.buffer, fmt, site=opts.site, since=since)
                sys.stdout.flush()
                report = sys.stderr
            else:
                count = self._export_to_file(store, Path(target), fmt, opts.site, since)
                report = sys.stdout
        except Exception as exc:
            self._fail(f"cannot read {mask_url(database_url)}: {describe_error(exc, database_url)}")
            return
        finally:
            store.dispose()
        print(f"Wrote {count} article(s) to {target}", file=report)

    @staticmethod
    def _export_to_file(
        store: ArticleStore, path: Path, fmt: str, site: str | None, since: dt.date | None
    ) -> int:
        # Written beside the target and renamed at the end: a failed export leaves no half file.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("wb") as output:
                count = export_articles(store, output, fmt, site=site, since=since)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return count

    def _fail(self, message: str) -> None:
        print(f"exportdb: {message}", file=sys.stderr)
        self.exitcode = 1
