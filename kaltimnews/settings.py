"""Scrapy settings for kaltimnews: polite to the live sites, fast against the local mirror."""

import os

from kaltimnews.browser import launch_options
from kaltimnews.items import ARTICLE_FIELDS

BOT_NAME = "kaltimnews"
SPIDER_MODULES = ["kaltimnews.spiders"]
NEWSPIDER_MODULE = "kaltimnews.spiders"
COMMANDS_MODULE = "kaltimnews.commands"

# --- Politeness (live sites). A crawl against MIRROR_URL lowers these (see spiders/base.py).
CONTACT_URL = os.environ.get("KALTIMNEWS_CONTACT_URL", "https://github.com/kaltimnews/kaltimnews")
USER_AGENT = f"kaltimnews/0.1 (+{CONTACT_URL}; news research crawler)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
COOKIES_ENABLED = False
# No way into a running crawl: Scrapy's telnet console, and its remote-control extension (on by
# default since Scrapy 2.19: an HTTP server in every crawl process that runs the Python code
# POSTed to it, its token written under the user's state directory). docs/operations.md.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# Scrapy re-reads and re-parses a callback's source to look for `return value` in a generator
# whenever its per-callback cache lets go of it (a tenth of all responses, ~1 ms each for an
# article callback). The same check runs once, in the tests, over every spider's callbacks
# (tests/spiders/test_callbacks.py).
WARN_ON_GENERATOR_RETURN_VALUE = False

# --- The local mirror: every request read from MIRROR_URL/<host><path>?<query> when set.
MIRROR_URL = os.environ.get("MIRROR_URL", "")
MIRROR_INNER_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
# With -a render=1 the spider puts scrapy-playwright's handler in MIRROR_INNER_HANDLER's place: it
# renders requests marked meta["playwright"] and hands every other request to the HTTP/1.1
# handler. Plain crawls do not load it at all (its Node.js driver alone is ~120 MB).
RENDER_DOWNLOAD_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
DOWNLOAD_HANDLERS = {
    "http": "kaltimnews.mirror.MirrorDownloadHandler",
    "https": "kaltimnews.mirror.MirrorDownloadHandler",
}

# --- Rendering (-a render=1): a system Chromium (kaltimnews/browser.py), bounded and lean.
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = launch_options()
PLAYWRIGHT_ABORT_REQUEST = "kaltimnews.browser.should_abort_request"
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
#: Seconds a rendered listing waits for new links after a "Load More" click or a scroll.
RENDER_WAIT_SECONDS = 10
#: RSS of the crawl plus its browser processes, in MB, above which the crawl stops (0: no limit).
MEMORY_LIMIT_MB = 2048
MEMORY_CHECK_INTERVAL = 2.0

# --- Items: validate, deduplicate, store.
ITEM_PIPELINES = {
    "kaltimnews.pipelines.ValidationPipeline": 100,
    "kaltimnews.pipelines.DeduplicationPipeline": 200,
    "kaltimnews.pipelines.StoragePipeline": 300,
}
DOWNLOADER_MIDDLEWARES = {
    # Before robots.txt and the download: a stored article is not fetched again.
    "kaltimnews.middlewares.SkipStoredArticlesMiddleware": 50,
}
SPIDER_MIDDLEWARES = {
    # Nearest the spider: a stored article's request is dropped before it is ever scheduled.
    "kaltimnews.middlewares.SkipStoredArticlesMiddleware": 950,
}

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///data/kaltimnews.sqlite3")
STORAGE_BATCH_SIZE = 100
DEAD_LETTER_DIR = os.environ.get("DEAD_LETTER_DIR", "data/dead-letter")
#: Bodies shorter than this many words are not articles (video pages, stubs).
MIN_BODY_WORDS = 40

# --- Feeds: UTF-8, fixed column order, lists joined readably (kaltimnews/exporters.py).
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORT_FIELDS = list(ARTICLE_FIELDS)
FEED_EXPORTERS = {
    "csv": "kaltimnews.exporters.ArticleCsvItemExporter",
    "jsonl": "kaltimnews.exporters.ArticleJsonLinesItemExporter",
    "jsonlines": "kaltimnews.exporters.ArticleJsonLinesItemExporter",
    "jl": "kaltimnews.exporters.ArticleJsonLinesItemExporter",
}

# --- Optional, off by default: HTTPCACHE_ENABLED=1 keeps pages in .scrapy/httpcache for
# re-runs while developing selectors; JOBDIR=... makes a crawl resumable.
HTTPCACHE_DIR = "httpcache"
HTTPCACHE_IGNORE_HTTP_CODES = [500, 502, 503, 504, 408, 429]

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = os.environ.get("KALTIMNEWS_LOG_LEVEL", "INFO")

# STATS_FILE=path writes the final crawl stats as JSON (used by tests and schedulers).
EXTENSIONS = {
    "kaltimnews.extensions.StatsFile": 500,
    "kaltimnews.extensions.MemoryWithBrowser": 510,
    # Full garbage collections skip the start-up objects (kaltimnews/extensions.py).
    "kaltimnews.extensions.FreezeStartupObjects": 0,
}
STATS_FILE = ""
KALTIMNEWS_GC_FREEZE = True

# --- Reliability (docs/reliability.md): size limits, crawl-health monitors, crash-safe JOBDIR.
# An article page is 0.1-0.5 MB on the live sites. Scrapy's defaults (1 GB max, 32 MB warning)
# would let a broken server or a video at an article URL stream a gigabyte into memory, so a
# response above 8 MB is not an article and is cancelled (counted as a download error, logged
# with its URL); above 2 MB (several times the largest real page) it is logged as a warning, an
# early sign of a bloated template.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ["kaltimnews.monitors.HealthMonitorSuite"]
EXTENSIONS = {
    **EXTENSIONS,
    # Before StatsFile (500): the health verdict is in the stats file too.
    "spidermon.contrib.scrapy.extensions.Spidermon": 450,
    "kaltimnews.monitors.CrawlHealth": 440,
    "kaltimnews.extensions.JobDirGuard": 100,
}
#: Articles a crawl must find (emitted + skipped as stored), per spider; else the spider's
#: ``min_items``, else KALTIMNEWS_MIN_ITEMS_DEFAULT. Each site's home page and index list 20+
#: articles at any time; the bundled mirrors have 11 (SuaraKaltim) and 6 (Tribun Kaltim).
KALTIMNEWS_MIN_ITEMS = {"suarakaltim": 5, "tribunkaltim": 3}
KALTIMNEWS_MIN_ITEMS_DEFAULT = 1
#: Least share of articles with each field (before validation drops incomplete ones).
KALTIMNEWS_FIELD_COVERAGE = {"title": 0.95, "body": 0.95, "published_at": 0.95, "authors": 0.95}
#: Most pages that may fail (HTTP errors, download errors, spider exceptions).
KALTIMNEWS_MAX_ERROR_RATE = 0.2
#: Most articles that validation may drop (duplicates are not counted).
KALTIMNEWS_MAX_DROP_RATE = 0.2
#: Most article pages without article text (video pages have none).
KALTIMNEWS_MAX_NO_TEXT_RATE = 0.25
#: Most article pages read by the generic layer only (no known template): layout drift.
KALTIMNEWS_MAX_UNKNOWN_TEMPLATE_RATE = 0.5
#: A ratio check fails only when more pages than this are bad (small incremental crawls).
KALTIMNEWS_HEALTH_SLACK = 1
KALTIMNEWS_HEALTH_FINISH_REASONS = ["finished"]
#: Where the health report goes; "" = health-<spider>.json beside the first local feed, else
#: data/health-<spider>.json. "%(name)s" is the spider's name.
HEALTH_REPORT = ""
#: Set aside a JOBDIR's stale queue and seen-set after a crash (kaltimnews/extensions.py).
KALTIMNEWS_JOBDIR_GUARD = True

# --- Distributed crawling (docs/scaling.md). With REDIS_URL (a setting, or the environment
# variable), a crawl is one worker of a shared crawl: scrapy-redis queue and duplicate filter in
# Redis, articles in DATABASE_URL. Without REDIS_URL the add-on changes nothing.
ADDONS = {"kaltimnews.distributed.RedisAddon": 0}
