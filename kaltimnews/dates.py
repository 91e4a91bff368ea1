"""Parse the publication dates printed by Indonesian news sites.

``parse_date`` turns text such as ``Kamis, 25 Maret 2021 | 15:27 WIB`` into an
aware ``datetime``. It never raises: anything that is not a valid date gives
``None``.

The work is done in layers, cheapest first:

1. **Normalisation.** Whitespace (NBSP, narrow NBSP, zero-width space ...) is
   collapsed, the text is lower-cased, and leading labels (``Tayang:``,
   ``Diperbarui:``, ``pukul`` ...) and day names (``Senin``, ``Jum'at`` ...) are
   skipped.
2. **Early rejection.** Text with no digit and no relative word (``kemarin``,
   ``lalu``, ``sekarang`` ...) cannot hold a date, so it returns ``None`` at
   once. Page furniture like ``Load More`` never reaches dateparser.
3. **Regex fast path.** Precompiled, anchored patterns cover every shape the
   project's sites print: ``25 Maret 2021 15:27 WIB`` (full, short and English
   month names), ISO 8601, ``dd/mm/yyyy HH:MM``, a time on its own, and the
   relative phrases (``2 jam yang lalu``, ``kemarin 14:30``, ``baru saja``).
   When a shape matches but the date is impossible (``32 Maret 2021``), the
   answer is ``None``. We do not ask dateparser again, because it would guess.
4. **dateparser fallback.** Any other short text goes to
   ``dateparser.parse(..., languages=['id'])``. That call takes about 5 ms
   (and over a second the first time), so it is imported lazily and used only
   when no pattern matched.

Zones: WIB = UTC+7, WITA = UTC+8, WIT = UTC+9. A zone named in the text wins
and is kept as written: ``15:27 WITA`` comes back with a +08:00 offset, not
converted. The ``tz`` argument applies only to text that names no zone.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["ZONE_OFFSETS", "parse_date", "to_iso", "tzinfo_for"]

ZONE_OFFSETS: dict[str, int] = {"WIB": 7, "WITA": 8, "WIT": 9}
"""Indonesian zone abbreviations and their UTC offsets in hours."""

DEFAULT_TZ = "WIB"

MIN_YEAR = 1900
MAX_YEAR = 2100

# Longer text is body copy, not a dateline (site notes: a date inside the story
# is never the publish date), and dateparser's cost grows with every token.
_MAX_FALLBACK_CHARS = 80

_NAMED_ZONES: dict[str, timezone] = {
    name: timezone(timedelta(hours=hours), name) for name, hours in ZONE_OFFSETS.items()
}
_UTC_NAMES = frozenset({"UTC", "GMT", "Z"})

_MONTHS: dict[str, int] = {
    # Indonesian, with the abbreviations and old spellings the sites use
    "januari": 1, "jan": 1,
    "februari": 2, "pebruari": 2, "feb": 2, "peb": 2,
    "maret": 3, "mar": 3, "mrt": 3,
    "april": 4, "apr": 4,
    "mei": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "agustus": 8, "agu": 8, "ags": 8, "agt": 8, "agust": 8, "agus": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nopember": 11, "nov": 11, "nop": 11,
    "desember": 12, "des": 12,
    # English, used by RSS feeds (RFC 2822) and some English-language pages
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7,
    "august": 8, "aug": 8, "october": 10, "oct": 10, "december": 12, "dec": 12,
}

# --- regular expressions ----------------------------------------------------
# Every pattern runs on normalised text: lower case, single spaces.

_SPACES = re.compile(r"[\s\u200b\u2060\ufeff]+")
_DIGIT = re.compile(r"\d")
_RELATIVE_HINT = re.compile(r"kemarin|lalu|baru|sekarang|hari ini")

_LABELS = (
    r"tayang|diperbarui|dipublikasikan|diterbitkan|terbit|diupdate|update|updated"
    r"|published|posted|pukul"
)
_DAY_NAMES = (
    r"senin|selasa|rabu|kamis|jum[’'`ʼ]?at|sabtu|minggu|ahad"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
)
# A day name is skipped only before a comma or a digit so that the
# relative phrase "minggu lalu" ("last week") keeps its "minggu".
_PREFIX = re.compile(
    rf"(?:(?:{_LABELS})\b\s*:?\s*)*"
    rf"(?:(?:{_DAY_NAMES})\.?(?:\s*,\s*|\s+(?=\d)))?"
)

_TIME = (
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
    r"(?:[:.](?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
)
# Bare numeric offsets need two hour digits (``+07``, ``+0700``, ``+07:00``);
# one digit (``GMT+7``) is accepted only after GMT/UTC.
_ZONE = (
    r"(?P<zone>wita|wib|wit|z|(?:gmt|utc)(?:\s*[+-]\d{1,2}(?::?\d{2})?)?"
    r"|[+-]\d{2}(?::?\d{2})?)"
)
_TIME_SEPARATOR = r"\s*(?:[,|\-–—]\s*)?(?:(?:pukul|jam)\s*)?"
_TAIL = rf"(?:{_TIME_SEPARATOR}{_TIME})?(?:\s*{_ZONE})?"

_TEXTUAL = re.compile(
    rf"(?P<day>\d{{1,2}})[\s\-/]*(?P<month>[a-z]+)\.?[\s,\-/]*(?P<year>\d{{4}}){_TAIL}"
)
_ISO = re.compile(
    rf"(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}})(?:(?:t|\s+){_TIME})?(?:\s*{_ZONE})?"
)
_NUMERIC = re.compile(
    rf"(?P<day>\d{{1,2}})(?P<sep>[/.\-])(?P<month>\d{{1,2}})(?P=sep)(?P<year>\d{{4}}){_TAIL}"
)
_TIME_ONLY = re.compile(rf"(?:jam\s*)?{_TIME}(?:\s*{_ZONE})?")
_AGO = re.compile(
    r"(?:(?P<count>\d+)\s*|se|satu\s+)"
    r"(?P<unit>detik|menit|jam|hari|minggu|pekan|bulan|tahun)\s+(?:yang\s+)?lalu"
)
_DAY_WORD = re.compile(rf"(?P<word>kemarin|hari ini){_TAIL}")
_JUST_NOW = re.compile(r"baru saja|barusan|sekarang")
_ZONE_ANYWHERE = re.compile(rf"(?<![a-z0-9]){_ZONE}(?![a-z0-9])")
_OFFSET = re.compile(r"(?:gmt|utc)?\s*(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")

_UNIT_SECONDS: dict[str, int] = {
    "detik": 1,
    "menit": 60,
    "jam": 3600,
    "hari": 86400,
    "minggu": 7 * 86400,
    "pekan": 7 * 86400,
}
_UNIT_MONTHS: dict[str, int] = {"bulan": 1, "tahun": 12}


# --- zones ------------------------------------------------------------------


def tzinfo_for(name: str | tzinfo) -> tzinfo:
    """Return the tzinfo for a zone name.

    ``WIB``/``WITA``/``WIT`` (any case) give fixed offsets named after the
    zone, ``UTC``/``GMT``/``Z`` give ``timezone.utc``, offsets such as
    ``+07:00``, ``+0700`` and ``GMT+7`` give fixed offsets, and anything else is
    looked up as an IANA name (``Asia/Makassar``) with ``zoneinfo``. A tzinfo
    instance is returned unchanged. Raises ``ValueError`` for an unknown name.
    Unlike ``parse_date``, this raises so that a misspelt zone in settings is
    noticed.
    """
    if isinstance(name, tzinfo):
        return name
    if not isinstance(name, str):
        raise ValueError(f"time zone must be a name, not {type(name).__name__}")
    return _tzinfo_for_name(name.strip())


@lru_cache(maxsize=64)
def _tzinfo_for_name(name: str) -> tzinfo:
    upper = name.upper()
    if upper in _NAMED_ZONES:
        return _NAMED_ZONES[upper]
    if upper in _UTC_NAMES:
        return timezone.utc
    offset = _parse_offset(name.lower())
    if offset is not None:
        return offset
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}") from exc


def _fixed_zone(offset: timedelta) -> timezone:
    """A fixed-offset zone, named WIB/WITA/WIT when the offset is one of them."""
    if not offset:
        return timezone.utc
    for zone in _NAMED_ZONES.values():
        if zone.utcoffset(None) == offset:
            return zone
    return timezone(offset)


def _parse_offset(text: str) -> timezone | None:
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if hours > 14 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return _fixed_zone(-offset if match["sign"] == "-" else offset)


@lru_cache(maxsize=64)
def _zone_from_text(zone: str) -> tzinfo | None:
    """The tzinfo for a zone token already matched by ``_ZONE``, or None if invalid."""
    upper = zone.upper()
    if upper in _NAMED_ZONES:
        return _NAMED_ZONES[upper]
    if upper in _UTC_NAMES:
        return timezone.utc
    return _parse_offset(zone)


def _resolve_tz(tz: Any) -> tzinfo:
    try:
        return tzinfo_for(tz)
    except (ValueError, TypeError):
        # parse_date must never raise, and the project's sites default to WIB.
        return _NAMED_ZONES[DEFAULT_TZ]


# --- public API ---------------------------------------------------------------


def to_iso(dt: datetime) -> str:
    """``dt.isoformat()`` to whole seconds: ``2021-03-25T15:27:00+07:00``."""
    return dt.isoformat(timespec="seconds")


def parse_date(
    text: Any, *, tz: str | tzinfo = DEFAULT_TZ, now: datetime | None = None
) -> datetime | None:
    """Parse an Indonesian news date into an aware datetime, or return None.

    ``tz`` (``WIB``, ``WITA``, ``WIT``, ``UTC``, an offset or an IANA name;
    unknown names count as WIB) applies when the text names no zone.
    ``now`` anchors times on their own and relative phrases. It defaults to
    the current time, and a naive ``now`` is read in ``tz``. A zone named in
    the text is kept as written. Never raises.
    """
    if not isinstance(text, str):
        return None
    try:
        return _parse(text, _resolve_tz(tz), now)
    except Exception:  # the contract is "never raises": bad input gives None
        return None


# --- implementation -----------------------------------------------------------


def _parse(text: str, default_tz: tzinfo, now: datetime | None) -> datetime | None:
    normalised = _SPACES.sub(" ", text).strip(" ,|-–—·•").lower()
    if not normalised:
        return None
    has_digit = _DIGIT.search(normalised) is not None
    if not has_digit and _RELATIVE_HINT.search(normalised) is None:
        return None

    start = _PREFIX.match(normalised).end()
    body = normalised[start:]

    if has_digit:
        match = _TEXTUAL.fullmatch(body)
        if match is not None:
            month = _MONTHS.get(match["month"])
            if month is not None:
                return _absolute(match, month, default_tz)
            # An unknown month word may still be a spelling dateparser knows.
        else:
            match = _ISO.fullmatch(body) or _NUMERIC.fullmatch(body)
            if match is not None:
                return _absolute(match, int(match["month"]), default_tz)
            match = _TIME_ONLY.fullmatch(body)
            if match is not None:
                return _time_today(match, default_tz, now)
            match = _AGO.fullmatch(body)
            if match is not None:
                return _ago(match, default_tz, now)

    match = _DAY_WORD.fullmatch(body)
    if match is not None:
        return _day_word(match, default_tz, now)
    if _JUST_NOW.fullmatch(body) is not None:
        return _aware_now(now, default_tz)
    if not has_digit:
        match = _AGO.fullmatch(body)  # "sejam yang lalu", "satu hari lalu"
        if match is not None:
            return _ago(match, default_tz, now)

    if len(body) > _MAX_FALLBACK_CHARS:
        return None
    return _dateparser_fallback(body, default_tz, now)


def _in_range(dt: datetime | None) -> datetime | None:
    if dt is None or not MIN_YEAR <= dt.year <= MAX_YEAR:
        return None
    return dt


def _stated_zone(match: re.Match[str], default_tz: tzinfo) -> tzinfo | None:
    zone = match["zone"]
    return _zone_from_text(zone) if zone else default_tz


def _clock(match: re.Match[str]) -> tuple[int, int, int, int]:
    """Hour, minute, second and microsecond from a ``_TIME`` match (midnight if absent)."""
    if match["hour"] is None:
        return 0, 0, 0, 0
    fraction = match["fraction"]
    microsecond = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return int(match["hour"]), int(match["minute"]), int(match["second"] or 0), microsecond


def _absolute(match: re.Match[str], month: int, default_tz: tzinfo) -> datetime | None:
    zone = _stated_zone(match, default_tz)
    if zone is None:
        return None
    try:
        dt = datetime(int(match["year"]), month, int(match["day"]), *_clock(match), tzinfo=zone)
    except ValueError:  # 32 Maret, 29 Februari 2023, 25:61 ...
        return None
    return _in_range(dt)


def _aware_now(now: datetime | None, zone: tzinfo) -> datetime:
    """``now`` (or the current time) expressed in ``zone``; a naive ``now`` is read in ``zone``."""
    if now is None:
        return datetime.now(zone)
    if now.utcoffset() is None:
        return now.replace(tzinfo=zone)
    return now.astimezone(zone)


def _time_today(match: re.Match[str], default_tz: tzinfo, now: datetime | None) -> datetime | None:
    zone = _stated_zone(match, default_tz)
    if zone is None:
        return None
    # A naive "now" belongs to the site's zone even when the text names another.
    today = _aware_now(now, default_tz).astimezone(zone)
    hour, minute, second, microsecond = _clock(match)
    try:
        return today.replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    except ValueError:
        return None


def _months_before(dt: datetime, months: int) -> datetime:
    index = dt.year * 12 + dt.month - 1 - months
    year, month = divmod(index, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def _ago(match: re.Match[str], default_tz: tzinfo, now: datetime | None) -> datetime | None:
    count = int(match["count"]) if match["count"] else 1
    unit = match["unit"]
    current = _aware_now(now, default_tz)
    if unit in _UNIT_MONTHS:
        return _in_range(_months_before(current, count * _UNIT_MONTHS[unit]))
    # Step back in UTC so that "2 jam yang lalu" is two real hours even across a DST change.
    then = current.astimezone(timezone.utc) - timedelta(seconds=count * _UNIT_SECONDS[unit])
    return _in_range(then.astimezone(default_tz))


def _day_word(match: re.Match[str], default_tz: tzinfo, now: datetime | None) -> datetime | None:
    zone = _stated_zone(match, default_tz)
    if zone is None:
        return None
    current = _aware_now(now, default_tz).astimezone(zone)
    # Bare "kemarin" means "a day ago", as dateparser reads it. With a clock time it means
    # that time yesterday.
    if match["word"] == "kemarin":
        current = (current.astimezone(timezone.utc) - timedelta(days=1)).astimezone(zone)
    if match["hour"] is None:
        return _in_range(current)
    hour, minute, second, microsecond = _clock(match)
    try:
        at_time = current.replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    except ValueError:
        return None
    return _in_range(at_time)


def _dateparser_setting(zone: tzinfo) -> str:
    key = getattr(zone, "key", None)  # ZoneInfo: pass the IANA name so DST is handled
    if key:
        return key
    offset = zone.utcoffset(None) or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def _dateparser_fallback(body: str, default_tz: tzinfo, now: datetime | None) -> datetime | None:
    try:
        import dateparser  # imported here because the import alone takes hundreds of ms
    except ImportError:
        return None
    relative_base = _aware_now(now, default_tz).replace(tzinfo=None)
    settings = {
        "TIMEZONE": _dateparser_setting(default_tz),
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RELATIVE_BASE": relative_base,
        "PREFER_DATES_FROM": "past",
    }
    try:
        parsed = dateparser.parse(body, languages=["id"], settings=settings)
    except Exception:  # dateparser has raised on odd input before; a failed parse is just None
        return None
    if parsed is None:
        return None
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=default_tz)
    # dateparser converts a zone named in the text into TIMEZONE. Convert back,
    # because the project keeps the zone the text states.
    stated = _ZONE_ANYWHERE.search(body)
    target = _zone_from_text(stated["zone"]) if stated else None
    if target is not None:
        parsed = parsed.astimezone(target)
    # Replace pytz/dateparser tzinfo classes with a plain fixed offset.
    return _in_range(parsed.replace(tzinfo=_fixed_zone(parsed.utcoffset())))
