"""Packaging for scrapyd: ``scrapyd-deploy`` runs ``python setup.py bdist_egg`` on this file.

The egg holds the ``kaltimnews`` package only (not tests, bench, scripts) plus its data files:
the bundled fixture mirrors under ``kaltimnews/mirrors/`` (file names with ``@`` and ``=``,
``_routes.json``, ``.xml``, ``.txt``, ``.md``), listed explicitly in ``package_data`` so the egg
does not depend on MANIFEST.in or on a VCS plugin. The ``scrapy`` entry point tells scrapyd which
settings module the egg runs with.

Runtime dependencies are pinned in requirements.txt and installed on the scrapyd host (the same
virtualenv that runs scrapyd); they are not declared here, so an upload never tries to resolve them.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "kaltimnews" / "__init__.py").read_text("utf-8"), re.M
).group(1)

setup(
    name="kaltimnews",
    version=VERSION,
    description="East Kalimantan news sites crawled into clean, dated article records",
    packages=find_packages(include=["kaltimnews", "kaltimnews.*"]),
    package_data={
        # "**" is recursive (setuptools >= 62.3): every file below mirrors/, at any depth.
        "kaltimnews": ["mirrors/**/*"],
    },
    include_package_data=False,
    exclude_package_data={"": ["__pycache__/*", "*.pyc"]},
    python_requires=">=3.11",
    entry_points={"scrapy": ["settings = kaltimnews.settings"]},
    # scrapyd runs the egg as a zip file whatever this says; nothing in kaltimnews reads its own
    # files at crawl time (bundled mirrors are for tests and demos, see kaltimnews.mirror).
    zip_safe=False,
)
