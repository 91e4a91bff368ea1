"""Every stored page gives exactly the fields its reviewed JSON says (no crawl involved)."""

from __future__ import annotations

import pytest

from tests.pages.fixtures import expectation_files, extract, load_expectation

FILES = expectation_files()


def test_every_site_has_page_fixtures():
    sites = {path.parent.name for path in FILES}
    assert "suarakaltim" in sites


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_page_extracts_as_reviewed(path):
    record = load_expectation(path)
    actual = extract(record["site"], record["url"])
    expected = record["expected"]
    assert sorted(actual) == sorted(expected)
    for field, value in expected.items():
        assert actual[field] == value, f"{field} differs for {record['url']}"
