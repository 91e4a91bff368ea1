"""SuaraKaltim.id (``kaltim.suara.com``), the East Kalimantan site of the Suara.com network."""

import re

from kaltimnews.pages.suara import SuaraKaltimArticlePage
from kaltimnews.spiders.base import NewsSpider


class SuaraKaltimSpider(NewsSpider):
    name = "suarakaltim"
    allowed_domains = ["kaltim.suara.com"]
    page_class = SuaraKaltimArticlePage

    home_urls = ("https://kaltim.suara.com/",)
    # /terkini builds its list with scripts and grows it with "Load More": only -a render=1 sees it.
    listing_urls = ("https://kaltim.suara.com/indeks", "https://kaltim.suara.com/terkini")
    # robots.txt names the news sitemap too; asking for both costs one filtered duplicate.
    sitemap_urls = (
        "https://kaltim.suara.com/robots.txt",
        "https://kaltim.suara.com/static/news/kaltim-sitemap.xml",
    )
    listing_url = re.compile(r"^https?://kaltim\.suara\.com/indeks(?:/[\w/-]*)?(?:\?page=\d+)?$")
