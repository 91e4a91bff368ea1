"""Canonical article URLs: one spelling per article, whatever link it was found through.

w3lib does the generic part (sorted query, percent-encoding, no fragment); each site adds its
rules (its tracking parameters and host aliases) through a :class:`UrlRules`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

#: Query parameters that never select content, on any site.
GENERIC_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "ref", "amp"}
)
GENERIC_TRACKING_PREFIXES = ("utm_",)


@dataclass(frozen=True, eq=False)
class UrlRules:
    """A site's URL rules, beyond the generic ones (compared and hashed by identity)."""

    tracking_params: frozenset[str] = frozenset()
    #: Parameter that selects one page of a multi-page article; the article URL has none.
    paging_param: str | None = "page"
    #: Host spellings of the same page (AMP, mobile, bare domain) to their canonical host.
    host_aliases: dict[str, str] = field(default_factory=dict)
    scheme: str = "https"

    def is_tracking(self, name: str) -> bool:
        name = name.lower()
        return (
            name in GENERIC_TRACKING_PARAMS
            or name in self.tracking_params
            or name.startswith(GENERIC_TRACKING_PREFIXES)
        )


DEFAULT_RULES = UrlRules()


def canonical_url(url: str, rules: UrlRules = DEFAULT_RULES) -> str:
    """The one spelling of an article URL; idempotent: canonical_url(canonical_url(u)) == canonical_url(u).

    A URL that cannot be parsed (``http://[broken``, port 99999) gives ``""``: pages carry such
    links, and one of them must not cost the article.
    """
    url = (url or "").strip()
    if not url:
        return ""
    return _cached_canonical_url(url, rules)


# Menus and sidebars repeat the same links on every page, and a crawl meets each article URL in a
# sitemap, a listing and "Baca Juga" links: canonicalise each once. A least-recently-used cache
# keeps the URLs in use when a crawl's URLs outnumber it (clearing a full dict made a 5,000-article
# crawl canonicalise most URLs again); 32,768 entries are a few MB.
@functools.lru_cache(maxsize=32_768)
def _cached_canonical_url(url: str, rules: UrlRules) -> str:
    try:
        return _canonical_url(url, rules)
    except ValueError:
        return ""


def _canonical_url(url: str, rules: UrlRules) -> str:
    parts = urlsplit(canonicalize_url(url, keep_fragments=False))
    host = (parts.hostname or "").lower().rstrip(".")
    host = rules.host_aliases.get(host, host)
    netloc = host if parts.port in (None, 80, 443) else f"{host}:{parts.port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not rules.is_tracking(k) and k != rules.paging_param
    )
    # Sorted again after decoding: w3lib sorts the raw bytes, and an invalid escape ("%a0") that
    # decodes to U+FFFD would sort elsewhere on the next pass. For valid UTF-8 the order is
    # w3lib's (UTF-8 byte order is code point order), so no stored URL changes.
    path = re.sub(r"/{2,}", "/", parts.path)
    if len(path) > 1:
        # ";" too: w3lib drops an empty ";params" only once it ends the path.
        path = path.rstrip("/;")
    scheme = rules.scheme if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, netloc, path or "/", urlencode(query), ""))


#: An absolute http(s) URL that ``urljoin`` returns unchanged, whatever the base: an ASCII host
#: (no IPv6 brackets, so nothing urllib rejects), no whitespace (urllib strips tabs and newlines),
#: no ";" (an empty ";params" is dropped) and no empty "?" or "#" (dropped too).
_PLAIN_ABSOLUTE_URL = re.compile(r"https?://[\w.\-:@%]+(?:/[^\s;?#]*)?(?:\?[^\s#]+)?(?:#\S+)?", re.ASCII)


def join_url(base: str | Callable[[], str], href: str) -> str:
    """``urllib.parse.urljoin(base, href)``, without parsing either URL when ``href`` is plainly absolute.

    Most links of a news page are absolute; ``urljoin`` parses both URLs and rebuilds the link
    (~30 µs). ``base`` may be a function, called only when ``href`` needs it (the page's base
    URL is found by scanning its ``<head>`` for ``<base href>``). Raises ``ValueError`` where
    ``urljoin`` does (``http://[broken``).
    """
    if _PLAIN_ABSOLUTE_URL.fullmatch(href):
        return href
    return urljoin(base() if callable(base) else base, href)


def page_number(url: str, rules: UrlRules = DEFAULT_RULES) -> int | None:
    """The page a multi-page article URL asks for (``?page=2`` -> 2), None when it asks for none."""
    if not rules.paging_param:
        return None
    for key, value in parse_qsl(urlsplit(url).query):
        if key == rules.paging_param and value.isdigit():
            return int(value)
    return None


def with_query_param(url: str, name: str, value: str) -> str:
    """``url`` with one query parameter set (replacing any previous value)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))
