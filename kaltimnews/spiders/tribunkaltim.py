"""Tribun Kaltim (``kaltim.tribunnews.com``), East Kalimantan's largest news site."""

import re

from kaltimnews.pages.tribun import TribunKaltimArticlePage
from kaltimnews.spiders.base import NewsSpider


class TribunKaltimSpider(NewsSpider):
    name = "tribunkaltim"
    allowed_domains = ["kaltim.tribunnews.com"]
    page_class = TribunKaltimArticlePage

    home_urls = ("https://kaltim.tribunnews.com/",)
    feed_urls = ("https://kaltim.tribunnews.com/rss",)
    listing_urls = ("https://kaltim.tribunnews.com/index-news",)
    # robots.txt names the news sitemap.
    sitemap_urls = ("https://kaltim.tribunnews.com/robots.txt",)
    listing_url = re.compile(r"^https?://kaltim\.tribunnews\.com/index-news(?:/[\w-]+)?(?:\?[\w=&-]*)?$")
