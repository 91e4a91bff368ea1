"""Crawl health: spidermon monitors, the health report, and the crawl's own failure counters.

At the end of every crawl (``SPIDERMON_SPIDER_CLOSE_MONITORS``) :class:`HealthMonitorSuite`
checks the crawl's stats against the thresholds below, logs each check (a failing one as an
error), and :class:`HealthReportAction` writes the report as JSON (``HEALTH_REPORT``, by default
``health-<spider>.json`` beside the first local feed, else ``data/health-<spider>.json``) and
sets ``kaltimnews/health/status`` to ``passed`` or ``failed``. The project's ``scrapy crawl``
(:mod:`kaltimnews.commands.crawl`) exits with status 1 when it is ``failed``.

The checks (settings, defaults in ``kaltimnews/settings.py``; docs/reliability.md says why):

* ``finish_reason``: the crawl finished (``KALTIMNEWS_HEALTH_FINISH_REASONS``);
* ``storage``: no database error, no item lost (``kaltimnews/storage/...``);
* ``item_count``: articles found >= the site's minimum (``KALTIMNEWS_MIN_ITEMS[spider]``, else the
  spider's ``min_items``, else ``KALTIMNEWS_MIN_ITEMS_DEFAULT``). "Found" is emitted items plus
  articles skipped because they are stored already, so an incremental crawl with nothing new
  still passes; a worker of a distributed crawl (``REDIS_URL``) does part of a round and has no
  minimum of its own;
* ``field_coverage``: share of the articles the spider produced (emitted, and dropped for any
  reason but being a duplicate) that have each field of ``KALTIMNEWS_FIELD_COVERAGE``. Counted
  here, before validation drops the incomplete ones: coverage of stored items alone would always
  read 100% for the fields validation requires, blind to the template change it must reveal;
* ``drop_rate``, ``error_rate``, ``no_article_text_rate``, ``unknown_template_rate``: at most
  ``KALTIMNEWS_MAX_DROP_RATE`` ... of their pages.

A ratio check fails only when more than ``KALTIMNEWS_HEALTH_SLACK`` pages (default 1) are bad:
one unsigned article in an incremental crawl of three is not a broken template.

An extension lives here too: :class:`CrawlHealth` counts field coverage and what the spider
cannot see (a redirect loop ends in Scrapy's duplicate filter silently, so it is counted as
``kaltimnews/download_error/redirect_loop`` and logged with its URL).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.utils.url import url_is_from_any_domain
from spidermon import Monitor, MonitorSuite
from spidermon.core.actions import Action

logger = logging.getLogger(__name__)

# spidermon 1.27 logs its results through Spider.log(), which Scrapy 2.13+ deprecates: one
# warning per crawl that says nothing about the crawl.
warnings.filterwarnings("ignore", message=r"Spider\.log\(\) is deprecated", module=r"spidermon\.")

STATS = "kaltimnews"
HEALTH = f"{STATS}/health"
COVERAGE = f"{STATS}/coverage"

DEFAULT_FIELD_COVERAGE = {"title": 0.95, "body": 0.95, "published_at": 0.95, "authors": 0.95}


# --------------------------------------------------------------------------- the assessment


def _sum(stats: dict[str, Any], prefix: str, *, exclude: tuple[str, ...] = ()) -> int:
    """The sum of the numeric stats under ``prefix``, but those whose rest starts with ``exclude``."""
    return sum(
        int(value)
        for key, value in stats.items()
        if key.startswith(prefix)
        and not (exclude and key[len(prefix) :].startswith(exclude))
        and isinstance(value, (int, float))
    )


def _by_suffix(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {
        key[len(prefix) :]: int(value)
        for key, value in sorted(stats.items())
        if key.startswith(prefix) and isinstance(value, (int, float))
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def min_items_for(settings: Any, spider: Any) -> int:
    """The site's minimum: ``KALTIMNEWS_MIN_ITEMS[name]``, the spider's ``min_items``, the default."""
    name = getattr(spider, "name", "") or ""
    per_site = settings.getdict("KALTIMNEWS_MIN_ITEMS") if settings is not None else {}
    if name in per_site:
        return int(per_site[name])
    attribute = getattr(spider, "min_items", None)
    if attribute not in (None, ""):
        return int(attribute)
    return settings.getint("KALTIMNEWS_MIN_ITEMS_DEFAULT", 1) if settings is not None else 1


def assess(stats: dict[str, Any], settings: Any, spider: Any) -> dict[str, Any]:
    """The health of a finished crawl, from its stats: every check with its numbers and verdict."""
    stats = dict(stats)
    get_float = settings.getfloat
    slack = settings.getint("KALTIMNEWS_HEALTH_SLACK", 1)
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, message: str, **numbers: Any) -> None:
        checks.append({"name": name, "ok": bool(ok), "message": message, **numbers})

    def rate_check(name: str, bad: int, whole: int, maximum: float, what: str) -> dict[str, Any]:
        ratio = _ratio(bad, whole)
        ok = ratio is None or ratio <= maximum or bad <= slack
        check(
            name,
            ok,
            f"{what}: {bad} of {whole} ({_percent(ratio)}), at most {_percent(maximum)} allowed"
            + ("" if ok else " -- FAILED"),
            count=bad,
            of=whole,
            rate=ratio,
            maximum=maximum,
        )
        return {"count": bad, "of": whole, "rate": ratio, "maximum": maximum}

    # finish reason and storage
    finish_reason = str(stats.get("finish_reason") or "")
    allowed_reasons = settings.getlist("KALTIMNEWS_HEALTH_FINISH_REASONS") or ["finished"]
    check(
        "finish_reason",
        finish_reason in allowed_reasons,
        f"finish reason {finish_reason or '<none>'!r}, expected one of {allowed_reasons}",
        value=finish_reason,
    )
    database_errors = int(stats.get(f"{STATS}/storage/database_errors", 0) or 0)
    lost = int(stats.get(f"{STATS}/storage/lost", 0) or 0)
    dead_letter = int(stats.get(f"{STATS}/storage/dead_letter", 0) or 0)
    storage_message = f"{database_errors} database error(s), {lost} item(s) lost"
    if dead_letter:
        storage_message += (
            f", {dead_letter} item(s) in the dead-letter file"
            f" {stats.get(f'{STATS}/storage/dead_letter_file', '')}"
        )
    if stats.get(f"{STATS}/storage/error"):
        storage_message += f" ({stats[f'{STATS}/storage/error']})"
    check("storage", database_errors == 0 and lost == 0, storage_message,
          database_errors=database_errors, lost=lost, dead_letter=dead_letter)  # fmt: skip

    # item count
    scraped = int(stats.get("item_scraped_count", 0) or 0)
    skipped_stored = int(stats.get(f"{STATS}/incremental/skipped", 0) or 0)
    minimum = min_items_for(settings, spider)
    found = scraped + skipped_stored
    worker = stats.get(f"{STATS}/distributed/worker")
    if worker:
        # One worker of a shared crawl does part of the round: the minimum is the round's.
        minimum = 0
    check(
        "item_count",
        found >= minimum,
        f"{found} article(s) found ({scraped} emitted, {skipped_stored} already stored),"
        + (f" by worker {worker} of a shared crawl" if worker else f" at least {minimum} expected"),
        value=found,
        minimum=minimum,
    )

    # field coverage over every article produced (validation drops the incomplete ones later)
    produced = int(stats.get(f"{COVERAGE}/items", 0) or 0)
    required: dict[str, float] = {
        k: float(v) for k, v in (settings.getdict("KALTIMNEWS_FIELD_COVERAGE") or DEFAULT_FIELD_COVERAGE).items()
    }
    coverage: dict[str, Any] = {}
    failing_fields = []
    for field, least in required.items():
        covered = int(stats.get(f"{COVERAGE}/{field}", 0) or 0)
        ratio = _ratio(covered, produced)
        ok = ratio is None or ratio >= least or produced - covered <= slack
        coverage[field] = {"covered": covered, "of": produced, "rate": ratio, "minimum": least, "ok": ok}
        if not ok:
            failing_fields.append(f"{field} {covered}/{produced} ({_percent(ratio)} < {_percent(least)})")
    check(
        "field_coverage",
        not failing_fields,
        ("fields below their coverage: " + ", ".join(failing_fields))
        if failing_fields
        else f"every required field on at least its share of {produced} article(s)"
        if produced
        else "no article to measure",
        fields=coverage,
    )

    # drops, errors, pages without text, unknown templates
    drops = _sum(stats, f"{STATS}/dropped/", exclude=("duplicate",))
    drop = rate_check(
        "drop_rate", drops, scraped + drops, get_float("KALTIMNEWS_MAX_DROP_RATE", 0.2),
        "articles dropped by validation",
    )  # fmt: skip
    download_errors = _sum(stats, f"{STATS}/download_error/")
    http_errors = _sum(stats, f"{STATS}/http_error/")
    spider_errors = _sum(stats, "spider_exceptions/", exclude=("count",))  # Scrapy adds a total
    pages = int(stats.get("response_received_count", 0) or 0) + download_errors
    errors = rate_check(
        "error_rate", http_errors + download_errors + spider_errors, pages,
        get_float("KALTIMNEWS_MAX_ERROR_RATE", 0.2), "pages that failed (HTTP, download, spider errors)",
    )  # fmt: skip
    templates = _by_suffix(stats, f"{STATS}/template/")
    with_text = sum(templates.values())
    no_text = int(stats.get(f"{STATS}/skipped/no_article_text", 0) or 0)
    no_text_rate = rate_check(
        "no_article_text_rate", no_text, with_text + no_text,
        get_float("KALTIMNEWS_MAX_NO_TEXT_RATE", 0.25), "article pages without article text",
    )  # fmt: skip
    unknown = templates.get("unknown", 0)
    template_rate = rate_check(
        "unknown_template_rate", unknown, with_text,
        get_float("KALTIMNEWS_MAX_UNKNOWN_TEMPLATE_RATE", 0.5),
        "article pages read with no known template (layout drift)",
    )  # fmt: skip

    failed = [c["name"] for c in checks if not c["ok"]]
    return {
        "spider": getattr(spider, "name", None),
        "status": "failed" if failed else "passed",
        "failed": failed,
        "finish_reason": finish_reason,
        "start_time": _iso(stats.get("start_time")),
        "finish_time": _iso(stats.get("finish_time")),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
        "items": {"emitted": scraped, "already_stored": skipped_stored, "found": found, "minimum": minimum},
        "field_coverage": coverage,
        "drops": {**drop, "by_reason": _by_suffix(stats, f"{STATS}/dropped/")},
        "errors": {
            **errors,
            "http": _by_suffix(stats, f"{STATS}/http_error/"),
            "download": _by_suffix(stats, f"{STATS}/download_error/"),
            "spider": {k: v for k, v in _by_suffix(stats, "spider_exceptions/").items() if k != "count"},
            "log_errors": int(stats.get("log_count/ERROR", 0) or 0),
        },
        "no_article_text": no_text_rate,
        "templates": {**template_rate, "by_template": templates},
        "flagged": _by_suffix(stats, f"{STATS}/flagged/"),
        "storage": _by_suffix(stats, f"{STATS}/storage/"),
        "checks": checks,
    }


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.1f}%"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def health_report_path(settings: Any, spider_name: str) -> Path:
    """``HEALTH_REPORT`` (``%(name)s`` is the spider), else beside the first local feed, else data/."""
    configured = (settings.get("HEALTH_REPORT") or "").strip()
    if configured:
        return Path(configured.replace("%(name)s", spider_name))
    for uri in settings.getdict("FEEDS") or {}:
        folder = _local_folder(str(uri), spider_name)
        if folder is not None:
            return folder / f"health-{spider_name}.json"
    return Path("data") / f"health-{spider_name}.json"


def _local_folder(uri: str, spider_name: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = unquote(parts.path)
    elif len(parts.scheme) <= 1:  # a plain path (or a Windows drive letter)
        path = uri
    else:
        return None  # s3://, ftp://...: the report stays local
    folder = str(Path(path.replace("%(name)s", spider_name)).parent)
    return None if "%(" in folder else Path(folder)


# --------------------------------------------------------------------------- spidermon


class HealthMonitor(Monitor):
    """Crawl health: finish reason, storage, item count, field coverage, drop and error rates."""

    def _check(self, name: str) -> None:
        report = assess(dict(self.data.stats), self.data.crawler.settings, self.data.spider)
        found = next(c for c in report["checks"] if c["name"] == name)
        if not found["ok"]:
            self.fail(found["message"])

    def test_finish_reason(self) -> None:
        """The crawl finished"""
        self._check("finish_reason")

    def test_storage(self) -> None:
        """No database error, no item lost"""
        self._check("storage")

    def test_item_count(self) -> None:
        """At least the site's minimum of articles"""
        self._check("item_count")

    def test_field_coverage(self) -> None:
        """Title, body, publish time and authors on (almost) every article"""
        self._check("field_coverage")

    def test_drop_rate(self) -> None:
        """Few articles dropped by validation"""
        self._check("drop_rate")

    def test_error_rate(self) -> None:
        """Few pages failed"""
        self._check("error_rate")

    def test_no_article_text_rate(self) -> None:
        """Few article pages without text"""
        self._check("no_article_text_rate")

    def test_unknown_template_rate(self) -> None:
        """Most article pages read with a known template"""
        self._check("unknown_template_rate")


class HealthReportAction(Action):
    """Writes the health report as JSON, logs it, and records the verdict in the stats."""

    def run_action(self) -> None:
        crawler = self.data.crawler
        spider = self.data.spider
        report = assess(dict(self.data.stats), crawler.settings, spider)
        monitors = {
            result.item.method_name: result.status for result in self.result.monitor_results
        }
        monitor_failed = [name for name, status in monitors.items() if status in ("FAIL", "ERROR")]
        report["monitors"] = monitors
        if monitor_failed and report["status"] == "passed":  # a monitor that crashed
            report["status"] = "failed"
            report["failed"] = monitor_failed
        report["written_at"] = datetime.now(UTC).isoformat()
        path = health_report_path(crawler.settings, getattr(spider, "name", "spider"))
        report["report"] = str(path)
        stats = crawler.stats
        stats.set_value(f"{HEALTH}/status", report["status"])
        stats.set_value(f"{HEALTH}/failed", ",".join(report["failed"]))
        stats.set_value(f"{HEALTH}/report", str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
        except OSError as exc:
            logger.error("Could not write the health report %s: %s", path, exc)
        summary = "; ".join(c["message"] for c in report["checks"] if not c["ok"]) or "all checks passed"
        if report["status"] == "failed":
            logger.error(
                "Crawl health of %s: FAILED (%s): %s. Report: %s",
                report["spider"], ", ".join(report["failed"]), summary, path,
            )  # fmt: skip
        else:
            logger.info(
                "Crawl health of %s: passed (%d article(s), %s errors, %s dropped). Report: %s",
                report["spider"], report["items"]["found"], _percent(report["errors"]["rate"]),
                _percent(report["drops"]["rate"]), path,
            )  # fmt: skip


class HealthMonitorSuite(MonitorSuite):
    """Run at spider close (``SPIDERMON_SPIDER_CLOSE_MONITORS``)."""

    monitors = [HealthMonitor]
    monitors_finished_actions = [HealthReportAction]


def health_failed(crawler: Any) -> bool:
    """Did the crawl's health monitors fail? (Read by the project's ``crawl`` command.)"""
    stats = getattr(crawler, "stats", None)
    return stats is not None and stats.get_value(f"{HEALTH}/status") == "failed"


# --------------------------------------------------------------------------- extensions


class CrawlHealth:
    """Counts field coverage of every article the spider produced, and redirect loops."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.stats = crawler.stats
        #: Articles with each field, written to the stats at close: a stats call per field of
        #: every item cost more than the rest of this extension.
        self.coverage: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlHealth:
        extension = cls(crawler)
        # Connected before Spidermon's (a lower EXTENSIONS number): the counts are in the stats
        # when its monitors read them.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(extension.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        return extension

    def _count_fields(self, item: Any) -> None:
        coverage = self.coverage
        coverage["items"] += 1
        for name, value in ItemAdapter(item).items():
            if value not in (None, "", [], {}, ()) and not (isinstance(value, str) and not value.strip()):
                coverage[name] += 1

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        for name, count in self.coverage.items():
            self.stats.inc_value(f"{COVERAGE}/{name}", count)
        self.coverage.clear()

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        self._count_fields(item)

    def item_dropped(self, item: Any, response: Any = None, exception: Any = None, spider: Any = None) -> None:
        # A duplicate was counted when it was first seen; everything else is an article we lost.
        if not str(exception or "").startswith("duplicate"):
            self._count_fields(item)

    def request_scheduled(self, request: Any, spider: Any = None) -> None:
        # Scrapy's OffsiteMiddleware drops a redirect to another site here, logging it at DEBUG
        # only: say which article it was.
        chain = list(request.meta.get("redirect_urls") or [])
        domains = getattr(spider or self.crawler.spider, "allowed_domains", None)
        if not chain or not domains or request.dont_filter or request.meta.get("allow_offsite"):
            return
        if not url_is_from_any_domain(request.url, domains):
            self.stats.inc_value(f"{STATS}/skipped/offsite_redirect")
            logger.warning(
                "Redirect to another site not followed (%s), no item: %s",
                " -> ".join([*chain, request.url]), chain[0],
            )  # fmt: skip

    def request_dropped(self, request: Any, spider: Any = None) -> None:
        chain = list(request.meta.get("redirect_urls") or [])
        if chain and request.url in chain:
            self.stats.inc_value(f"{STATS}/download_error/redirect_loop")
            logger.error(
                "Redirect loop (%s), no item: %s", " -> ".join([*chain, request.url]), chain[0]
            )
