"""Crawl extensions that need no crawl to test (the others are exercised by the crawl tests)."""

from __future__ import annotations

import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from kaltimnews.extensions import FreezeStartupObjects
from kaltimnews.spiders.suarakaltim import SuaraKaltimSpider


def test_start_up_objects_are_frozen_while_the_spider_runs():
    extension = FreezeStartupObjects.from_crawler(get_crawler(SuaraKaltimSpider))
    frozen_before = gc.get_freeze_count()
    try:
        extension.spider_opened(None)
        # This process's modules, classes and test fixtures: tens of thousands of objects.
        assert gc.get_freeze_count() > max(frozen_before, 10_000)
    finally:
        extension.spider_closed(None, "finished")
    assert gc.get_freeze_count() == 0


def test_freezing_can_be_turned_off():
    with pytest.raises(NotConfigured):
        FreezeStartupObjects.from_crawler(get_crawler(SuaraKaltimSpider, {"KALTIMNEWS_GC_FREEZE": False}))
