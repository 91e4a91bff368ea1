"""Tests for kaltimnews.dates: fast-path shapes, relative phrases, zones, dateparser fallback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dateparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaltimnews import dates
from kaltimnews.dates import ZONE_OFFSETS, parse_date, to_iso, tzinfo_for

WIB = timezone(timedelta(hours=7))
WITA = timezone(timedelta(hours=8))
# A fixed "now" for time-only and relative texts: Thursday 15 May 2025, 12:00 WIB.
NOW = datetime(2025, 5, 15, 12, 0, tzinfo=WIB)


def iso(text: object, **kwargs: object) -> str | None:
    result = parse_date(text, **kwargs)  # type: ignore[arg-type]
    return None if result is None else result.isoformat()


@pytest.fixture
def no_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything reaches dateparser."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dateparser called with {args!r}")

    monkeypatch.setattr(dateparser, "parse", forbidden)


@pytest.fixture
def dateparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the texts passed to dateparser, which still runs."""
    calls: list[str] = []
    real_parse = dateparser.parse

    def spy(text: str, *args: object, **kwargs: object) -> object:
        calls.append(text)
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(dateparser, "parse", spy)
    return calls


# --- absolute dates on the fast path -------------------------------------------------

ABSOLUTE_CASES = [
    # site shapes from docs/site notes
    ("Kamis, 25 Maret 2021 | 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("Jum'at, 24 Mei 2019 | 16:50 WIB", "2019-05-24T16:50:00+07:00"),
    ("Jum’at, 24 Mei 2019 | 16:50 WIB", "2019-05-24T16:50:00+07:00"),
    ("Jumat, 24 Mei 2019 | 16:50 WIB", "2019-05-24T16:50:00+07:00"),
    ("Selasa, 04 Agustus 2020 | 10:07 WIB", "2020-08-04T10:07:00+07:00"),
    ("Selasa, 3 Agustus 2021 08:15 WIB", "2021-08-03T08:15:00+07:00"),
    ("Senin, 17 November 2025 07:05 WITA", "2025-11-17T07:05:00+08:00"),
    ("Senin, 17 November 2025 07:05 WIT", "2025-11-17T07:05:00+09:00"),
    ("15 Mei 2025, 22:10 WIB", "2025-05-15T22:10:00+07:00"),
    ("24 Jul 2026, 16:36 WIB", "2026-07-24T16:36:00+07:00"),
    ("24 Juli 2026 | 11.32 WIB", "2026-07-24T11:32:00+07:00"),
    ("24 Juli 2026 - 11:32 WIB", "2026-07-24T11:32:00+07:00"),
    ("24 Juli 2026 11:32:45 WIB", "2026-07-24T11:32:45+07:00"),
    # every day name
    ("Rabu, 1 Januari 2025 09:00 WIB", "2025-01-01T09:00:00+07:00"),
    ("Sabtu, 1 Februari 2025 09:00 WIB", "2025-02-01T09:00:00+07:00"),
    ("Minggu, 2 Maret 2025 09:00 WIB", "2025-03-02T09:00:00+07:00"),
    ("Minggu 2 Maret 2025 09:00 WIB", "2025-03-02T09:00:00+07:00"),
    # labels
    ("Tayang: Senin, 17 November 2025 07:05 WITA", "2025-11-17T07:05:00+08:00"),
    ("Diperbarui: Senin, 17 November 2025 07:05 WITA", "2025-11-17T07:05:00+08:00"),
    ("Dipublikasikan: Kamis, 25 Maret 2021 | 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("Terbit: 25 Maret 2021 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("Update: 25 Maret 2021, 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("update : 25 maret 2021 15:27 wib", "2021-03-25T15:27:00+07:00"),
    # "pukul" between date and time, and as a leading label
    ("Kamis, 25 Maret 2021 pukul 15.27 WIB", "2021-03-25T15:27:00+07:00"),
    ("Kamis, 25 Maret 2021, Pukul 15:27 WITA", "2021-03-25T15:27:00+08:00"),
    ("25 Maret 2021 | pukul 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    # case and whitespace
    ("KAMIS, 25 MARET 2021 | 15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("kamis, 25 maret 2021 | 15:27 wib", "2021-03-25T15:27:00+07:00"),
    ("TAYANG: SENIN, 17 NOVEMBER 2025 07:05 WITA", "2025-11-17T07:05:00+08:00"),
    ("Kamis,\xa025\xa0Maret\xa02021\xa0|\xa015:27\xa0WIB", "2021-03-25T15:27:00+07:00"),
    ("Kamis,\u202f25 Maret 2021\u202f15:27 WIB", "2021-03-25T15:27:00+07:00"),
    ("  Kamis,   25  Maret   2021  |  15:27   WIB \n", "2021-03-25T15:27:00+07:00"),
    ("\n\t25 Maret 2021\n15:27 WIB\t", "2021-03-25T15:27:00+07:00"),
    # every Indonesian month abbreviation
    ("5 Jan 2025 10:00 WIB", "2025-01-05T10:00:00+07:00"),
    ("5 Feb 2025 10:00 WIB", "2025-02-05T10:00:00+07:00"),
    ("5 Mar 2025 10:00 WIB", "2025-03-05T10:00:00+07:00"),
    ("5 Apr 2025 10:00 WIB", "2025-04-05T10:00:00+07:00"),
    ("5 Mei 2025 10:00 WIB", "2025-05-05T10:00:00+07:00"),
    ("5 Jun 2025 10:00 WIB", "2025-06-05T10:00:00+07:00"),
    ("5 Jul 2025 10:00 WIB", "2025-07-05T10:00:00+07:00"),
    ("5 Agu 2025 10:00 WIB", "2025-08-05T10:00:00+07:00"),
    ("5 Ags 2025 10:00 WIB", "2025-08-05T10:00:00+07:00"),
    ("5 Agt 2025 10:00 WIB", "2025-08-05T10:00:00+07:00"),
    ("5 Agust 2025 10:00 WIB", "2025-08-05T10:00:00+07:00"),
    ("5 Sep 2025 10:00 WIB", "2025-09-05T10:00:00+07:00"),
    ("5 Sept 2025 10:00 WIB", "2025-09-05T10:00:00+07:00"),
    ("5 Okt 2025 10:00 WIB", "2025-10-05T10:00:00+07:00"),
    ("5 Nov 2025 10:00 WIB", "2025-11-05T10:00:00+07:00"),
    ("5 Nop 2025 10:00 WIB", "2025-11-05T10:00:00+07:00"),
    ("5 Des 2025 10:00 WIB", "2025-12-05T10:00:00+07:00"),
    ("5 Sep. 2025 10:00 WIB", "2025-09-05T10:00:00+07:00"),
    # every full Indonesian month name not used above
    ("5 Januari 2025", "2025-01-05T00:00:00+07:00"),
    ("5 Februari 2025", "2025-02-05T00:00:00+07:00"),
    ("5 April 2025", "2025-04-05T00:00:00+07:00"),
    ("5 Juni 2025", "2025-06-05T00:00:00+07:00"),
    ("5 September 2025", "2025-09-05T00:00:00+07:00"),
    ("5 Oktober 2025", "2025-10-05T00:00:00+07:00"),
    ("5 Desember 2025", "2025-12-05T00:00:00+07:00"),
    # English month names and an RSS (RFC 2822) date
    ("5 May 2025 10:00 WIB", "2025-05-05T10:00:00+07:00"),
    ("5 Aug 2025 10:00 WIB", "2025-08-05T10:00:00+07:00"),
    ("5 Oct 2025 10:00 WIB", "2025-10-05T10:00:00+07:00"),
    ("5 Dec 2025 10:00 WIB", "2025-12-05T10:00:00+07:00"),
    ("5 August 2025", "2025-08-05T00:00:00+07:00"),
    ("Thu, 24 Jul 2026 07:08:59 +0700", "2026-07-24T07:08:59+07:00"),
    # date without time -> midnight
    ("Kamis, 25 Maret 2021", "2021-03-25T00:00:00+07:00"),
    ("25 Maret 2021 WITA", "2021-03-25T00:00:00+08:00"),
    # offset forms of zones
    ("25 Maret 2021 15:27 GMT+7", "2021-03-25T15:27:00+07:00"),
    ("25 Maret 2021 15:27 GMT+8", "2021-03-25T15:27:00+08:00"),
    ("25 Maret 2021 15:27 +0700", "2021-03-25T15:27:00+07:00"),
    ("25 Maret 2021 15:27 +09:00", "2021-03-25T15:27:00+09:00"),
    ("25 Maret 2021 15:27 UTC", "2021-03-25T15:27:00+00:00"),
    # ISO 8601
    ("2026-07-24T07:08:59+07:00", "2026-07-24T07:08:59+07:00"),
    ("2026-07-24T07:08:59+08:00", "2026-07-24T07:08:59+08:00"),
    ("2026-07-24T07:08:59-03:00", "2026-07-24T07:08:59-03:00"),
    ("2026-07-24T07:08:59+0700", "2026-07-24T07:08:59+07:00"),
    ("2026-07-24T07:08:59Z", "2026-07-24T07:08:59+00:00"),
    ("2026-07-24T07:08:59.123456Z", "2026-07-24T07:08:59.123456+00:00"),
    ("2026-07-24T07:08:59.5+07:00", "2026-07-24T07:08:59.500000+07:00"),
    ("2026-07-24T07:08:59", "2026-07-24T07:08:59+07:00"),
    ("2026-07-24 07:08:59", "2026-07-24T07:08:59+07:00"),
    ("2026-07-24T07:08", "2026-07-24T07:08:00+07:00"),
    ("2026-07-24", "2026-07-24T00:00:00+07:00"),
    # dd/mm/yyyy and dd-mm-yyyy
    ("15/05/2025 22:10", "2025-05-15T22:10:00+07:00"),
    ("15-05-2025 22:10", "2025-05-15T22:10:00+07:00"),
    ("5/5/2025 22:10 WITA", "2025-05-05T22:10:00+08:00"),
    ("15/05/2025", "2025-05-15T00:00:00+07:00"),
    ("15/05/2025, 22.10 WIB", "2025-05-15T22:10:00+07:00"),
    # leap day in a leap year
    ("29 Februari 2024", "2024-02-29T00:00:00+07:00"),
    ("29/02/2024 10:00", "2024-02-29T10:00:00+07:00"),
    # year bounds are inclusive
    ("1 Januari 1900", "1900-01-01T00:00:00+07:00"),
    ("31 Desember 2100 23:59 WIB", "2100-12-31T23:59:00+07:00"),
]


@pytest.mark.parametrize(("text", "expected"), ABSOLUTE_CASES)
def test_absolute_dates(text: str, expected: str, no_dateparser: None) -> None:
    assert iso(text) == expected


def test_result_tzinfo_is_fixed_offset_of_stated_zone() -> None:
    result = parse_date("Kamis, 25 Maret 2021 | 15:27 WIB")
    assert result == datetime(2021, 3, 25, 15, 27, tzinfo=WIB)
    assert result is not None
    assert result.utcoffset() == timedelta(hours=7)
    assert result.tzname() == "WIB"
    assert result.isoformat() == "2021-03-25T15:27:00+07:00"


# --- the tz argument ----------------------------------------------------------------

TZ_CASES = [
    # tz applies to text without a zone
    ("15/05/2025 22:10", "WITA", "2025-05-15T22:10:00+08:00"),
    ("15/05/2025 22:10", "wita", "2025-05-15T22:10:00+08:00"),
    ("15/05/2025 22:10", "WIT", "2025-05-15T22:10:00+09:00"),
    ("15/05/2025 22:10", "UTC", "2025-05-15T22:10:00+00:00"),
    ("15/05/2025 22:10", "Asia/Makassar", "2025-05-15T22:10:00+08:00"),
    ("15/05/2025 22:10", "Asia/Jayapura", "2025-05-15T22:10:00+09:00"),
    ("15/05/2025 22:10", "+08:00", "2025-05-15T22:10:00+08:00"),
    ("2026-07-24T07:08:59", "WITA", "2026-07-24T07:08:59+08:00"),
    ("2026-07-24T07:08:59", "Asia/Makassar", "2026-07-24T07:08:59+08:00"),
    ("2026-07-24", "WIT", "2026-07-24T00:00:00+09:00"),
    ("25 Maret 2021 15:27", "WITA", "2021-03-25T15:27:00+08:00"),
    # tz is ignored when the text names a zone
    ("Kamis, 25 Maret 2021 | 15:27 WIB", "WITA", "2021-03-25T15:27:00+07:00"),
    ("Senin, 17 November 2025 07:05 WITA", "WIB", "2025-11-17T07:05:00+08:00"),
    ("Senin, 17 November 2025 07:05 WITA", "Asia/Jakarta", "2025-11-17T07:05:00+08:00"),
    ("2026-07-24T07:08:59+07:00", "WIT", "2026-07-24T07:08:59+07:00"),
    ("2026-07-24T07:08:59Z", "WITA", "2026-07-24T07:08:59+00:00"),
    # an unknown zone name counts as WIB
    ("15/05/2025 22:10", "Mars/Olympus", "2025-05-15T22:10:00+07:00"),
    ("15/05/2025 22:10", "", "2025-05-15T22:10:00+07:00"),
    ("15/05/2025 22:10", "../etc/passwd", "2025-05-15T22:10:00+07:00"),
]


@pytest.mark.parametrize(("text", "tz", "expected"), TZ_CASES)
def test_tz_argument(text: str, tz: str, expected: str, no_dateparser: None) -> None:
    assert iso(text, tz=tz) == expected


def test_tz_accepts_tzinfo_instance() -> None:
    assert iso("15/05/2025 22:10", tz=ZoneInfo("Asia/Makassar")) == "2025-05-15T22:10:00+08:00"


def test_non_string_tz_is_treated_as_wib() -> None:
    assert iso("15/05/2025 22:10", tz=42) == "2025-05-15T22:10:00+07:00"


# --- time only ----------------------------------------------------------------------

TIME_ONLY_CASES = [
    ("07:08", {}, "2025-05-15T07:08:00+07:00"),
    ("07.08 WIB", {}, "2025-05-15T07:08:00+07:00"),
    ("07:08:09", {}, "2025-05-15T07:08:09+07:00"),
    ("pukul 07.08 WIB", {}, "2025-05-15T07:08:00+07:00"),
    ("Pukul 07:08", {}, "2025-05-15T07:08:00+07:00"),
    ("07:08 WITA", {}, "2025-05-15T07:08:00+08:00"),
    ("07:08", {"tz": "WITA"}, "2025-05-15T07:08:00+08:00"),
    # 23:30 WIB on 15 May is already 16 May in WITA: the day is taken in the target zone
    ("07:00 WITA", {"now": datetime(2025, 5, 15, 23, 30, tzinfo=WIB)}, "2025-05-16T07:00:00+08:00"),
    ("07:00", {"tz": "WITA", "now": datetime(2025, 5, 15, 23, 30, tzinfo=WIB)}, "2025-05-16T07:00:00+08:00"),
    # a naive now is read in tz
    ("07:08", {"now": datetime(2025, 5, 15, 23, 30)}, "2025-05-15T07:08:00+07:00"),
    ("07:08", {"tz": "WIT", "now": datetime(2025, 5, 15, 23, 30)}, "2025-05-15T07:08:00+09:00"),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), TIME_ONLY_CASES)
def test_time_only(
    text: str, kwargs: dict[str, object], expected: str, no_dateparser: None
) -> None:
    kwargs = {"now": NOW, **kwargs}
    assert iso(text, **kwargs) == expected


# --- relative phrases ----------------------------------------------------------------

RELATIVE_CASES = [
    ("2 jam yang lalu", "2025-05-15T10:00:00+07:00"),
    ("1 jam lalu", "2025-05-15T11:00:00+07:00"),
    ("5 menit yang lalu", "2025-05-15T11:55:00+07:00"),
    ("30 detik lalu", "2025-05-15T11:59:30+07:00"),
    ("3 hari lalu", "2025-05-12T12:00:00+07:00"),
    ("2 minggu lalu", "2025-05-01T12:00:00+07:00"),
    ("2 bulan lalu", "2025-03-15T12:00:00+07:00"),
    ("1 tahun yang lalu", "2024-05-15T12:00:00+07:00"),
    ("sejam yang lalu", "2025-05-15T11:00:00+07:00"),
    ("satu hari lalu", "2025-05-14T12:00:00+07:00"),
    ("2 Jam Yang Lalu", "2025-05-15T10:00:00+07:00"),
    ("2\xa0jam\xa0yang\xa0lalu", "2025-05-15T10:00:00+07:00"),
    ("Diperbarui: 2 jam yang lalu", "2025-05-15T10:00:00+07:00"),
    ("kemarin", "2025-05-14T12:00:00+07:00"),
    ("Kemarin", "2025-05-14T12:00:00+07:00"),
    ("kemarin 14:30", "2025-05-14T14:30:00+07:00"),
    ("Kemarin, pukul 14.30 WITA", "2025-05-14T14:30:00+08:00"),
    ("hari ini 08:15", "2025-05-15T08:15:00+07:00"),
    ("baru saja", "2025-05-15T12:00:00+07:00"),
    ("Baru Saja", "2025-05-15T12:00:00+07:00"),
    ("sekarang", "2025-05-15T12:00:00+07:00"),
]


@pytest.mark.parametrize(("text", "expected"), RELATIVE_CASES)
def test_relative_phrases(text: str, expected: str, no_dateparser: None) -> None:
    assert iso(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        # the result is expressed in tz, whatever zone "now" was given in
        ("2 jam yang lalu", {"tz": "WITA"}, "2025-05-15T11:00:00+08:00"),
        ("2 jam yang lalu", {"tz": "UTC"}, "2025-05-15T03:00:00+00:00"),
        ("2 jam yang lalu", {"tz": "Asia/Jayapura"}, "2025-05-15T12:00:00+09:00"),
        ("baru saja", {"tz": "WITA"}, "2025-05-15T13:00:00+08:00"),
        ("2 jam yang lalu", {"tz": "WITA", "now": datetime(2025, 5, 15, 12, 0)}, "2025-05-15T10:00:00+08:00"),
        ("kemarin", {"now": datetime(2025, 3, 1, 9, 0)}, "2025-02-28T09:00:00+07:00"),
        ("1 bulan lalu", {"now": datetime(2025, 3, 31, 9, 0)}, "2025-02-28T09:00:00+07:00"),
    ],
)
def test_relative_zone_and_naive_now(text: str, kwargs: dict[str, object], expected: str) -> None:
    kwargs = {"now": NOW, **kwargs}
    assert iso(text, **kwargs) == expected


def test_now_defaults_to_current_time() -> None:
    before = datetime.now(timezone.utc)
    result = parse_date("baru saja")
    after = datetime.now(timezone.utc)
    assert result is not None
    assert before <= result <= after
    assert result.utcoffset() == timedelta(hours=7)

    hour_ago = parse_date("1 jam lalu", tz="WITA")
    assert hour_ago is not None
    assert hour_ago.utcoffset() == timedelta(hours=8)
    assert abs((datetime.now(timezone.utc) - hour_ago) - timedelta(hours=1)) < timedelta(seconds=5)


# --- invalid input -------------------------------------------------------------------

INVALID_TEXTS = [
    "32 Maret 2021",
    "0 Maret 2021",
    "31 April 2021 10:00 WIB",
    "29 Februari 2023",
    "29/02/2023 10:00",
    "2023-02-29",
    "2023-13-01T00:00:00Z",
    "25 Maret 2021 25:61",
    "25 Maret 2021 24:00 WIB",
    "25 Maret 2021 15:60 WIB",
    "25 Maret 2021 15:27:61 WIB",
    "15/13/2025 22:10",
    "25:61",
    "2026-07-24T07:08:59+25:00",
    "1 Januari 1899",
    "1 Januari 2101",
    "1850-01-01T00:00:00Z",
    "2150-01-01",
]


@pytest.mark.parametrize("text", INVALID_TEXTS)
def test_impossible_dates_give_none(text: str, no_dateparser: None) -> None:
    assert parse_date(text) is None


NO_DATE_TEXTS = [
    "",
    " ",
    "\xa0\n\t",
    "Load More",
    "Penulis: Budi",
    "Editor: Siti Rahma",
    "Baca Juga",
    "Tayang:",
    "Kamis,",
    "WIB",
    "|",
    "Berita Terkini Kaltim",
    "🙂",
]


@pytest.mark.parametrize("text", NO_DATE_TEXTS)
def test_text_without_date_gives_none_without_dateparser(text: str, no_dateparser: None) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "value", [None, 20210325, 3.5, b"25 Maret 2021", ["25 Maret 2021"], object()]
)
def test_non_string_input_gives_none(value: object) -> None:
    assert parse_date(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "now", ["2025-05-15", 12345, object()], ids=["str", "int", "object"]
)
def test_bad_now_gives_none_not_error(now: object) -> None:
    assert parse_date("2 jam yang lalu", now=now) is None  # type: ignore[arg-type]


def test_long_body_text_is_not_sent_to_dateparser(no_dateparser: None) -> None:
    sentence = (
        "Gubernur Kalimantan Timur meresmikan jembatan baru pada Kamis (25/3/2021) "
        "bersama 12 kepala daerah dan ratusan warga yang hadir di lokasi."
    )
    assert parse_date(sentence) is None


@pytest.mark.parametrize(
    "text", ["Kamis (25/3/2021)", "pada Kamis (25/3/2021) lalu", "Rp 25.000", "Jl. Ahmad Yani No. 12"]
)
def test_story_fragments_do_not_crash(text: str) -> None:
    result = parse_date(text)
    assert result is None or result.utcoffset() is not None


# --- dateparser fallback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        # month-first order is not on the fast path; dateparser 1.5.0 reads it
        ("Maret 25, 2021", "WIB", "2021-03-25T00:00:00+07:00"),
        ("Maret 25, 2021", "Asia/Makassar", "2021-03-25T00:00:00+08:00"),
        ("Maret 25, 2021", "WIT", "2021-03-25T00:00:00+09:00"),
        # a zone in the text is kept, not converted to tz
        ("Maret 25, 2021 15:00 WITA", "WIB", "2021-03-25T15:00:00+08:00"),
        # day names are stripped first (dateparser cannot read "Jum'at")
        ("Jum'at, Mei 24, 2019 16:50 WIB", "WITA", "2019-05-24T16:50:00+07:00"),
    ],
)
def test_fallback_uses_dateparser(
    text: str, tz: str, expected: str, dateparser_calls: list[str]
) -> None:
    result = parse_date(text, tz=tz, now=NOW)
    assert dateparser_calls, "expected the dateparser fallback to run"
    assert result is not None
    assert type(result.tzinfo) is timezone  # a plain fixed offset, not pytz or dateparser's class
    assert result.isoformat() == expected


def test_fallback_relative_uses_now(dateparser_calls: list[str]) -> None:
    # "3 hari lalu 15:00" has no fast-path pattern; dateparser reads it against RELATIVE_BASE
    result = parse_date("3 hari lalu 15:00", tz="WITA", now=NOW)
    assert dateparser_calls == ["3 hari lalu 15:00"]
    assert result is not None
    assert result.isoformat() == "2025-05-12T15:00:00+08:00"


def test_fallback_gets_text_without_labels_or_day_names(dateparser_calls: list[str]) -> None:
    parse_date("Tayang: Jum'at, Mei 24, 2019", now=NOW)
    assert dateparser_calls == ["mei 24, 2019"]


def test_fallback_failure_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(dateparser, "parse", broken)
    assert parse_date("Maret 25, 2021") is None


def test_fallback_year_out_of_range_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dateparser, "parse", lambda *a, **k: datetime(1850, 1, 1))
    assert parse_date("Maret 25, 1850") is None


# --- never raises ----------------------------------------------------------------------

_DATEISH = st.sampled_from(
    [
        "Kamis, ", "Jum'at ", "25 ", "Maret ", "2021 ", "| ", "15:27 ", "WIB", "WITA", "+07:00",
        "T", "Z", "-", "/", ":", ".", "pukul ", "Tayang: ", "jam ", "yang lalu", "kemarin ",
        "99", "0", "\xa0", "2026-07-24", "lalu", "se",
    ]
)


@settings(deadline=None, max_examples=300)
@given(
    text=st.one_of(st.text(max_size=60), st.lists(_DATEISH, max_size=8).map("".join)),
    tz=st.one_of(
        st.sampled_from(["WIB", "WITA", "wit", "UTC", "Asia/Makassar", "nope"]), st.text(max_size=10)
    ),
)
def test_never_raises_and_result_is_aware(text: str, tz: str) -> None:
    result = parse_date(text, tz=tz, now=NOW)
    assert result is None or (isinstance(result, datetime) and result.utcoffset() is not None)


# --- helpers -----------------------------------------------------------------------------


def test_zone_offsets() -> None:
    assert ZONE_OFFSETS == {"WIB": 7, "WITA": 8, "WIT": 9}


@pytest.mark.parametrize(
    ("name", "offset", "tzname"),
    [
        ("WIB", 7, "WIB"),
        ("wita", 8, "WITA"),
        (" WIT ", 9, "WIT"),
        ("UTC", 0, "UTC"),
        ("+07:00", 7, "WIB"),
        ("GMT+8", 8, "WITA"),
        ("Asia/Makassar", 8, "WITA"),
        ("Asia/Jakarta", 7, "WIB"),
    ],
)
def test_tzinfo_for(name: str, offset: int, tzname: str) -> None:
    zone = tzinfo_for(name)
    moment = datetime(2025, 5, 15, 12, 0)
    assert zone.utcoffset(moment) == timedelta(hours=offset)
    assert zone.tzname(moment) == tzname


def test_tzinfo_for_kinds() -> None:
    assert tzinfo_for("WIB") == timezone(timedelta(hours=7), "WIB")
    assert tzinfo_for("UTC") is timezone.utc
    assert isinstance(tzinfo_for("Asia/Makassar"), ZoneInfo)
    assert tzinfo_for(WITA) is WITA


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd"])
def test_tzinfo_for_unknown_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError):
        tzinfo_for(name)


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (datetime(2021, 3, 25, 15, 27, tzinfo=WIB), "2021-03-25T15:27:00+07:00"),
        (datetime(2021, 3, 25, 15, 27, 5, 123456, tzinfo=WITA), "2021-03-25T15:27:05+08:00"),
        (datetime(2021, 3, 25, tzinfo=timezone.utc), "2021-03-25T00:00:00+00:00"),
    ],
)
def test_to_iso(dt: datetime, expected: str) -> None:
    assert to_iso(dt) == expected


def test_to_iso_round_trips_parse_date() -> None:
    result = parse_date("2026-07-24T07:08:59.987+07:00")
    assert result is not None
    assert to_iso(result) == "2026-07-24T07:08:59+07:00"


def test_dateparser_is_not_imported_at_module_level() -> None:
    # dates must stay cheap to import; dateparser is only needed by the fallback
    source = open(dates.__file__, encoding="utf-8").read()
    module_level_imports = [
        line for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert not any("dateparser" in line for line in module_level_imports)
