"""Scrapy's generator-callback check, run once here instead of per response in every crawl.

A generator callback that ``return``s a value loses it silently; Scrapy warns about it at crawl
time (``WARN_ON_GENERATOR_RETURN_VALUE``), which settings.py turns off for its cost.
"""

from __future__ import annotations

import inspect

import pytest
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.misc import is_generator_with_return_value
from scrapy.utils.project import get_project_settings

_LOADER = SpiderLoader.from_settings(get_project_settings())
SPIDERS = [_LOADER.load(name) for name in sorted(_LOADER.list())]


def _generator_methods(spider_class: type) -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(spider_class, inspect.isfunction)
        if inspect.isgeneratorfunction(member)
    )


@pytest.mark.parametrize("spider_class", SPIDERS, ids=lambda cls: cls.name)
def test_no_generator_callback_returns_a_value(spider_class):
    methods = _generator_methods(spider_class)
    assert {"parse_article", "parse_listing"} <= set(methods)
    returning = [name for name in methods if is_generator_with_return_value(getattr(spider_class, name))]
    assert returning == []


def test_the_crawl_time_check_is_off_because_this_test_runs_it():
    assert get_project_settings().getbool("WARN_ON_GENERATOR_RETURN_VALUE") is False
