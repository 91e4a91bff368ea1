"""The article store: one row per canonical article URL, in SQLite or PostgreSQL.

Everything that touches the database lives here, so the Scrapy components
(:mod:`kaltimnews.pipelines`, :mod:`kaltimnews.middlewares`, ``scrapy exportdb``) stay thin:

* :func:`resolve_database_url` / :func:`create_store_engine`: which database, and how to talk to it;
* the schema (``articles``, ``article_revisions``, ``schema_version``) and its ordered upgrade
  steps (:data:`MIGRATIONS`), applied by :meth:`ArticleStore.ensure_schema`;
* :func:`prepare_article`: an item of any spider turned into a row (types coerced, URL
  canonical, content fingerprint);
* :meth:`ArticleStore.store_batch`: the transactional upsert (insert / unchanged / update with
  the previous version kept as a revision);
* :class:`DeadLetterWriter`: where items go when the database cannot take them.

Nothing connects at import time: an engine is made when an :class:`ArticleStore` is first used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from kaltimnews.items import ARTICLE_FIELDS, LIST_FIELDS
from kaltimnews.urls import DEFAULT_RULES, UrlRules, canonical_url

logger = logging.getLogger(__name__)

#: Where articles go when neither the DATABASE_URL setting nor the environment names a database.
DEFAULT_DATABASE_URL = "sqlite:///data/kaltimnews.sqlite3"

#: Settings priorities above "project" (a spider's custom_settings, ``-s`` on the command line)
#: are an explicit choice for this run and beat the environment variable.
_PROJECT_PRIORITY = 20

#: Every article column besides ``url`` and ``site`` that is plain text.
TEXT_FIELDS: tuple[str, ...] = tuple(
    name for name in ARTICLE_FIELDS if name not in LIST_FIELDS and name not in {"word_count"}
)

# IN (...) lists are chunked: SQLite allows 32,766 bound parameters, PostgreSQL 65,535.
_IN_CHUNK = 500


def spider_url_rules(spider: Any) -> UrlRules:
    """A spider's URL rules (its ``url_rules`` attribute) if it declares some, else the defaults."""
    rules = getattr(spider, "url_rules", None)
    return rules if isinstance(rules, UrlRules) else DEFAULT_RULES


# --------------------------------------------------------------------------------------------
# Database URL and engine
# --------------------------------------------------------------------------------------------


def resolve_database_url(settings: Any = None, environ: Mapping[str, str] | None = None) -> str:
    """The database this run writes to.

    Order: a ``DATABASE_URL`` setting given explicitly for this run (``-s DATABASE_URL=...`` or a
    spider's ``custom_settings``), then the ``DATABASE_URL`` environment variable, then the
    project/default setting, then :data:`DEFAULT_DATABASE_URL`.
    """
    environ = os.environ if environ is None else environ
    value = ""
    priority: int | None = None
    if settings is not None:
        value = (settings.get("DATABASE_URL") or "").strip()
        getpriority = getattr(settings, "getpriority", None)
        priority = getpriority("DATABASE_URL") if getpriority else None
    if value and priority is not None and priority > _PROJECT_PRIORITY:
        return value
    env_value = (environ.get("DATABASE_URL") or "").strip()
    return env_value or value or DEFAULT_DATABASE_URL


def mask_url(url: str | URL) -> str:
    """``url`` fit for a log line: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say nothing of what it holds after the scheme
        text = str(url)
        return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", text)


def _scrub(message: str, url: str | URL) -> str:
    """``message`` without the password of ``url``, should a driver quote it back."""
    try:
        password = make_url(url).password
    except Exception:
        return message
    if password:
        message = message.replace(str(password), "***")
    return message


def describe_error(exc: BaseException, url: str | URL) -> str:
    """One line about a database error: the driver's own message, not SQLAlchemy's SQL dump."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip() or type(exc).__name__
    first_line = text.splitlines()[0] if text else ""
    name = type(orig).__name__ if orig is not None else type(exc).__name__
    return _scrub(f"{name}: {first_line}", url)


def _json_serializer(value: Any) -> str:
    # Readable Indonesian text in the JSON columns rather than \u escapes.
    return json.dumps(value, ensure_ascii=False)


def sqlite_path(database_url: str | URL) -> Path | None:
    """The file of an SQLite URL; None for other databases and in-memory SQLite."""
    url = make_url(database_url)
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
    ):
        return None
    return Path(database).expanduser()


def create_store_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; an SQLite file's parent folder is created.

    SQLite gets WAL (a reader, e.g. ``scrapy exportdb``, never blocks the crawl's writer), a busy
    timeout, and real transactions (``BEGIN`` issued by us, so DDL and the read-then-write of a
    batch are atomic; see :meth:`ArticleStore._write`). PostgreSQL gets pre-ping, so a connection
    the server dropped between batches is replaced instead of failing the next batch, and a
    10-second connect timeout unless the URL sets one.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            json_serializer=_json_serializer,
            connect_args={"timeout": 30},
        )
        _configure_sqlite(engine, wal=path is not None)
        return engine
    # A server that vanished must fail the batch in seconds, not after the TCP timeout.
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return sa.create_engine(
        url, json_serializer=_json_serializer, pool_pre_ping=True, connect_args=connect_args
    )


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 opens transactions lazily and commits before DDL; take that over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers ask for BEGIN IMMEDIATE: the write lock is taken before the batch reads what is
        # stored, so two crawls writing one file cannot both decide "new" for the same URL.
        connection.exec_driver_sql(
            connection.get_execution_options().get("kaltimnews_sqlite_begin", "BEGIN")
        )


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------

#: JSON on both backends: TEXT holding JSON on SQLite, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = sa.MetaData()


def _article_columns() -> list[sa.Column[Any]]:
    """The item's fields (besides ``url``) and the fingerprint: shared by both article tables."""
    columns: list[sa.Column[Any]] = [sa.Column("site", sa.Text, nullable=False)]
    for name in ARTICLE_FIELDS:
        if name in ("url", "site"):
            continue
        if name in LIST_FIELDS:
            columns.append(sa.Column(name, JSONType))
        elif name == "word_count":
            columns.append(sa.Column(name, sa.Integer))
        else:
            columns.append(sa.Column(name, sa.Text))
    columns.append(sa.Column("fingerprint", sa.String(64), nullable=False))
    return columns


schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # One row per article: the canonical URL is the key of everything.
    sa.Column("url", sa.Text, nullable=False, unique=True),
    *_article_columns(),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_articles_site_published_at", "site", "published_at"),
    sa.Index("ix_articles_site_fingerprint", "site", "fingerprint"),
)

article_revisions = sa.Table(
    "article_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "article_id",
        sa.Integer,
        sa.ForeignKey("articles.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    *_article_columns(),
    # When this version was stored, and when a newer one replaced it.
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("article_id", "revision", name="uq_article_revisions_article_revision"),
)


@dataclass(frozen=True)
class Migration:
    """One schema upgrade step; steps run in ``version`` order, each once, in one transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_create_tables(conn: Connection) -> None:
    # The tables as this module defines them. A later step that alters a table must freeze the
    # version-1 definition here first, or a fresh database would get the new shape twice.
    metadata.create_all(conn, tables=[articles, article_revisions])


#: Every schema version, oldest first. Append; never edit a released step.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "articles (unique canonical url) and article_revisions", _v1_create_tables),
)


class SchemaVersionError(RuntimeError):
    """The database was written by a newer kaltimnews than this one: refuse to touch it."""


# PostgreSQL advisory lock that serialises schema upgrades of concurrent crawls.
_MIGRATION_LOCK_KEY = 0x6B616C74  # "kalt"


# --------------------------------------------------------------------------------------------
# Items to rows
# --------------------------------------------------------------------------------------------

def normalise_for_fingerprint(text: Any) -> str:
    """Text as the fingerprint sees it: NFC, lowercase, every run of whitespace one space.

    Deliberately local and frozen: changing it changes every fingerprint, and the next crawl
    would then record every stored article as updated.
    """
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", str(text)).replace("\u200b", " ").replace("\ufeff", " ")
    # str.split() and the regex \s+ split on the same characters (str.isspace); split() is
    # several times faster on an article body than re.sub.
    return " ".join(text.split()).lower()


def content_fingerprint(title: Any, body: Any) -> str:
    """SHA-256 (hex) of the normalised title and body: the same article under two URLs."""
    if (title is None or isinstance(title, str)) and (body is None or isinstance(body, str)):
        return _text_fingerprint(title, body)
    return _fingerprint(title, body)


@functools.lru_cache(maxsize=256)
def _text_fingerprint(title: str | None, body: str | None) -> str:
    # Deduplication and storage ask for the same item's fingerprint in turn: computed once.
    return _fingerprint(title, body)


def _fingerprint(title: Any, body: Any) -> str:
    payload = normalise_for_fingerprint(title) + "\n" + normalise_for_fingerprint(body)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ArticleWithoutUrl(ValueError):
    """An item that names no URL cannot be stored: the URL is the key."""


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.isoformat()
    elif isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value if v is not None)
    text = str(value)
    # PostgreSQL text cannot hold NUL; a stray one would fail the whole batch.
    return text.replace("\x00", "") if "\x00" in text else text


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    items = (_as_text(v) for v in value)
    return [v for v in items if v]


def _as_int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def prepare_article(
    item: Mapping[str, Any], *, default_site: str = "", rules: UrlRules = DEFAULT_RULES
) -> dict[str, Any]:
    """An item (any mapping, e.g. an ``ItemAdapter``) as an ``articles`` row without timestamps.

    Values are coerced to the column types (lists to lists of strings, ``word_count`` to int,
    datetimes to ISO text), the URL is made canonical, ``site`` defaults to ``default_site`` and
    ``fingerprint`` is computed. Fields outside :data:`ARTICLE_FIELDS` are not stored.

    :raises ArticleWithoutUrl: when the item has no URL.
    """
    url = canonical_url(_as_text(item.get("url")) or "", rules)
    if not url:
        raise ArticleWithoutUrl("item has no url")
    row: dict[str, Any] = {"url": url}
    for name in ARTICLE_FIELDS:
        if name == "url":
            continue
        value = item.get(name)
        if name in LIST_FIELDS:
            row[name] = _as_list(value)
        elif name == "word_count":
            row[name] = _as_int(value)
        else:
            row[name] = _as_text(value)
    row["site"] = row.get("site") or default_site or "unknown"
    row["fingerprint"] = content_fingerprint(row.get("title"), row.get("body"))
    return row


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What one :meth:`ArticleStore.store_batch` call did, per article."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: New URL whose content is already stored under another URL of the same site.
    duplicate_content: int = 0
    #: The same URL more than once in the batch: the last one was stored.
    duplicate_url: int = 0
    inserted_urls: list[str] = field(default_factory=list)
    updated_urls: list[str] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicate_content += other.duplicate_content
        self.duplicate_url += other.duplicate_url
        self.inserted_urls.extend(other.inserted_urls)
        self.updated_urls.extend(other.updated_urls)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _is_changed(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` is a new version of ``stored``: other content, or a newer modified_at.

    A page that no longer states modified_at says nothing about a change.
    """
    if stored["fingerprint"] != new["fingerprint"]:
        return True
    return new.get("modified_at") is not None and new.get("modified_at") != stored["modified_at"]


_ARTICLE_DATA_COLUMNS: tuple[str, ...] = (*ARTICLE_FIELDS, "fingerprint")


class ArticleStore:
    """The articles of every crawl in one database (SQLite or PostgreSQL, by URL).

    Connects lazily; :meth:`dispose` closes the connection pool.
    """

    def __init__(self, database_url: str, *, rules: UrlRules = DEFAULT_RULES) -> None:
        self.database_url = database_url
        self.rules = rules
        self._engine: Engine | None = None
        self._schema_ready = False

    # -- plumbing ------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_store_engine(self.database_url)
        return self._engine

    @property
    def masked_url(self) -> str:
        return mask_url(self.database_url)

    @property
    def dialect(self) -> str:
        return make_url(self.database_url).get_backend_name()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> ArticleStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"ArticleStore({self.masked_url!r})"

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(kaltimnews_sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    # -- schema --------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        """The version the database is at; None when it holds no kaltimnews schema."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(schema_version.name):
                return None
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()

    def has_articles_table(self) -> bool:
        with self.engine.connect() as conn:
            return sa.inspect(conn).has_table(articles.name)

    def ensure_schema(self, migrations: Sequence[Migration] | None = None) -> int:
        """Create the schema, or upgrade it to the latest version; returns that version.

        Each missing step runs in order, in the same transaction as its ``schema_version`` row.

        :raises SchemaVersionError: when the database is newer than this code.
        """
        migrations = MIGRATIONS if migrations is None else tuple(migrations)
        latest = max((m.version for m in migrations), default=0)
        if self._schema_ready:
            return latest
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            if current > latest:
                raise SchemaVersionError(
                    f"database {self.masked_url} is at schema version {current}, newer than this"
                    f" kaltimnews (version {latest}); upgrade kaltimnews"
                )
            for migration in sorted(migrations, key=lambda m: m.version):
                if migration.version <= current:
                    continue
                logger.info(
                    "Upgrading %s to schema version %d: %s",
                    self.masked_url,
                    migration.version,
                    migration.description,
                )
                migration.apply(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=migration.version,
                        description=migration.description,
                        applied_at=_utcnow(),
                    )
                )
        self._schema_ready = True
        return latest

    # -- writing -------------------------------------------------------------------------

    def store_items(
        self, items: Iterable[Mapping[str, Any]], *, default_site: str = ""
    ) -> BatchResult:
        """Prepare and store items in one transaction (see :meth:`store_batch`)."""
        rows = [
            prepare_article(item, default_site=default_site, rules=self.rules) for item in items
        ]
        return self.store_batch(rows)

    def store_batch(self, rows: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Upsert prepared rows (:func:`prepare_article`) in one transaction.

        A new URL is inserted, unless its content is already stored under another URL of the same
        site; a stored URL whose content or ``modified_at`` changed is updated, its revision
        raised and its previous version copied to ``article_revisions``; an unchanged one is not
        written at all. Either the whole batch is committed or none of it.
        """
        result = BatchResult()
        if not rows:
            return result
        # The same URL twice in one batch: the last spelling of it is the one kept.
        latest: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            latest.pop(row["url"], None)
            latest[row["url"]] = row
        result.duplicate_url = len(rows) - len(latest)
        batch = list(latest.values())
        now = _utcnow()

        self.ensure_schema()
        with self._write() as conn:
            stored = self._load_stored(conn, [row["url"] for row in batch])
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            archived: list[dict[str, Any]] = []
            new_rows = [row for row in batch if row["url"] not in stored]
            taken = self._stored_fingerprints(conn, new_rows)
            for row in batch:
                old = stored.get(row["url"])
                if old is None:
                    key = (row["site"], row["fingerprint"])
                    if key in taken:
                        result.duplicate_content += 1
                        logger.debug(
                            "Not storing %s: same content as stored %s", row["url"], taken[key]
                        )
                        continue
                    taken[key] = row["url"]
                    inserts.append(
                        {**_data(row), "first_seen_at": now, "updated_at": now, "revision": 1}
                    )
                    result.inserted_urls.append(row["url"])
                elif _is_changed(old, row):
                    archived.append(
                        {
                            **_data(old),
                            "article_id": old["id"],
                            "revision": old["revision"],
                            "stored_at": old["updated_at"],
                            "archived_at": now,
                        }
                    )
                    updates.append(
                        {
                            **{k: v for k, v in _data(row).items() if k != "url"},
                            "b_id": old["id"],
                            "updated_at": now,
                        }
                    )
                    result.updated_urls.append(row["url"])
                else:
                    result.unchanged += 1
            if inserts:
                conn.execute(self._insert_ignoring_conflicts(), inserts)
            if archived:
                conn.execute(article_revisions.insert(), archived)
            if updates:
                # SET takes the data columns from the parameters; the revision is counted here.
                statement = (
                    articles.update()
                    .where(articles.c.id == sa.bindparam("b_id"))
                    .values(revision=articles.c.revision + 1)
                )
                conn.execute(statement, updates)
        result.inserted = len(result.inserted_urls)
        result.updated = len(result.updated_urls)
        return result

    def _insert_ignoring_conflicts(self) -> Any:
        # Another crawl may have inserted the URL since this batch read the table: the unique
        # URL keeps one row, and the other writer's row is as good as ours.
        if self.dialect == "postgresql":
            return postgresql.insert(articles).on_conflict_do_nothing(index_elements=["url"])
        if self.dialect == "sqlite":
            return sqlite.insert(articles).on_conflict_do_nothing(index_elements=["url"])
        return articles.insert()

    def _load_stored(self, conn: Connection, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        stored: dict[str, dict[str, Any]] = {}
        columns = [
            articles.c.id,
            articles.c.revision,
            articles.c.updated_at,
            *(articles.c[name] for name in _ARTICLE_DATA_COLUMNS),
        ]
        for chunk in _chunks(urls):
            query = sa.select(*columns).where(articles.c.url.in_(chunk))
            if self.dialect == "postgresql":
                query = query.with_for_update()
            for row in conn.execute(query).mappings():
                stored[row["url"]] = dict(row)
        return stored

    def _stored_fingerprints(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[str, str], str]:
        """Stored (site, fingerprint) pairs among ``rows``' -> the URL that holds that content."""
        taken: dict[tuple[str, str], str] = {}
        by_site: dict[str, set[str]] = {}
        for row in rows:
            by_site.setdefault(row["site"], set()).add(row["fingerprint"])
        for site, fingerprints in by_site.items():
            for chunk in _chunks(sorted(fingerprints)):
                # site = ... AND fingerprint IN (...): served by ix_articles_site_fingerprint.
                query = sa.select(articles.c.fingerprint, articles.c.url).where(
                    articles.c.site == site, articles.c.fingerprint.in_(chunk)
                )
                for fingerprint, url in conn.execute(query):
                    taken.setdefault((site, fingerprint), url)
        return taken

    # -- reading -------------------------------------------------------------------------

    def stored_urls(self, site: str | None = None) -> set[str]:
        """Every stored canonical URL (of ``site``), in one streamed query; none without schema."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(articles.name):
                return set()
            query = sa.select(articles.c.url)
            if site:
                query = query.where(articles.c.site == site)
            # Streamed, so 100k URLs never sit in the driver's buffer and ours at once.
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
            return set(result.scalars())

    def stored_related_urls(self, site: str | None = None) -> dict[str, list[str]]:
        """Each stored article's "Baca Juga" links (``related_urls``), by canonical URL."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(articles.name):
                return {}
            query = sa.select(articles.c.url, articles.c.related_urls)
            if site:
                query = query.where(articles.c.site == site)
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
            return {url: list(related or []) for url, related in result}

    def iter_articles(
        self, *, site: str | None = None, since: dt.date | None = None, yield_per: int = 1_000
    ) -> Iterator[dict[str, Any]]:
        """Stored articles as item dicts (:data:`ARTICLE_FIELDS`), by publication time then URL.

        ``since`` keeps articles published on or after that date as the page states it
        (``published_at`` is ISO 8601 in the site's own offset, so its text sorts by date).
        """
        query = sa.select(*(articles.c[name] for name in ARTICLE_FIELDS))
        if site:
            query = query.where(articles.c.site == site)
        if since is not None:
            query = query.where(articles.c.published_at >= since.isoformat())
        query = query.order_by(articles.c.published_at, articles.c.url)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=yield_per).execute(query)
            for row in result.mappings():
                yield dict(row)

    def get_article(self, url: str) -> dict[str, Any] | None:
        """The stored row of an article (every column), by any spelling of its URL."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(articles).where(articles.c.url == canonical_url(url, self.rules))
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None

    def revisions(self, url: str) -> list[dict[str, Any]]:
        """The previous versions of an article, oldest first."""
        query = (
            sa.select(article_revisions)
            .join(articles, articles.c.id == article_revisions.c.article_id)
            .where(articles.c.url == canonical_url(url, self.rules))
            .order_by(article_revisions.c.revision)
        )
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def count(self, site: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(articles)
        if site:
            query = query.where(articles.c.site == site)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


def _data(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in _ARTICLE_DATA_COLUMNS}


# --------------------------------------------------------------------------------------------
# Dead letters
# --------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class DeadLetterWriter:
    """Items the database could not take, one JSON object a line, in
    ``<directory>/<spider>-<UTC timestamp>.jsonl``; the file is created on the first item.

    Every line is flushed as written: the file is the only copy of those items.
    """

    def __init__(self, directory: str | os.PathLike[str], spider_name: str) -> None:
        self.directory = Path(directory)
        self.spider_name = re.sub(r"[^\w.-]+", "_", spider_name or "spider")
        self.path: Path | None = None
        self.count = 0
        self._file: Any = None

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = _utcnow().strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"{self.spider_name}-{stamp}.jsonl"
        suffix = 1
        while path.exists():  # two failures within one second: never append to another run's file
            path = self.directory / f"{self.spider_name}-{stamp}-{suffix}.jsonl"
            suffix += 1
        self._file = path.open("x", encoding="utf-8")
        self.path = path

    def write(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            self._open()
        self._file.write(json.dumps(dict(record), ensure_ascii=False, default=_json_default) + "\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def read_dead_letters(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The items of a dead-letter file."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def replay_dead_letters(
    path: str | os.PathLike[str], database_url: str, *, batch_size: int = 500
) -> BatchResult:
    """Store the items of a dead-letter file (once the database is back); safe to run twice."""
    items = read_dead_letters(path)
    total = BatchResult()
    with ArticleStore(database_url) as store:
        store.ensure_schema()
        for chunk in _chunks(items, batch_size):
            total.add(store.store_items(chunk))
    return total


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kaltimnews.storage {upgrade | replay FILE...}``: upgrade, dead-letter replay."""
    parser = argparse.ArgumentParser(prog="python -m kaltimnews.storage", description=main.__doc__)
    parser.add_argument("--database-url", help="default: $DATABASE_URL or " + DEFAULT_DATABASE_URL)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade", help="create or upgrade the schema, print its version")
    replay = sub.add_parser("replay", help="store the items of dead-letter files")
    replay.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    database_url = args.database_url or resolve_database_url()
    if args.command == "upgrade":
        with ArticleStore(database_url) as store:
            print(f"{mask_url(database_url)}: schema version {store.ensure_schema()}")
        return 0
    for name in args.files:
        result = replay_dead_letters(name, database_url)
        print(
            f"{name}: {result.inserted} inserted, {result.updated} updated,"
            f" {result.unchanged} unchanged, {result.duplicate_content} duplicate content"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
