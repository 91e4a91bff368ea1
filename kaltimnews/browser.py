"""The browser for pages that need JavaScript: scrapy-playwright driving a system Chromium.

Only requests marked ``meta["playwright"]`` are rendered; everything else stays plain HTTP.
``playwright install`` downloads its own browser build, which many servers (and this project's
CI) cannot do, so a system Chromium is preferred: ``CHROMIUM_PATH``, else the first of
``chromium``, ``chromium-browser``, ``google-chrome`` on PATH, else Playwright's own if installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from scrapy.exceptions import NotConfigured

SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Root in a container has no user namespace sandbox; background services reach for Google's
# hosts, which a closed network refuses many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-quic",
    "--no-first-run",
    "--mute-audio",
]

#: Resource types a crawl never needs: aborting them saves bandwidth and memory.
ABORTED_RESOURCE_TYPES = frozenset({"image", "media", "font"})

NO_BROWSER_MESSAGE = (
    "Rendering (-a render=1) needs Chromium and none was found. Either set CHROMIUM_PATH to a "
    "Chromium or Chrome executable, or install one on PATH (Debian/Ubuntu: "
    "`apt-get install -y chromium`; elsewhere: your package manager's chromium, or "
    "`playwright install chromium` where downloads are allowed)."
)


def system_chromium() -> str | None:
    """The Chromium executable to launch, or None to let Playwright use its own build."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    for name in SYSTEM_BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_browser_installed() -> bool:
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    return any(cache.glob("chromium*"))


def require_browser() -> None:
    """Fail early, with what to do, when rendering is asked for and no browser can be launched."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured and not os.access(configured, os.X_OK):
        raise NotConfigured(f"CHROMIUM_PATH={configured} is not an executable. " + NO_BROWSER_MESSAGE)
    if system_chromium() is None and not playwright_browser_installed():
        raise NotConfigured(NO_BROWSER_MESSAGE)


def launch_options() -> dict[str, Any]:
    options: dict[str, Any] = {"headless": True, "args": CHROMIUM_ARGS, "timeout": 30_000}
    executable = system_chromium()
    if executable:
        options["executable_path"] = executable
    return options


def should_abort_request(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: images, media and fonts are never fetched by the browser."""
    return request.resource_type in ABORTED_RESOURCE_TYPES
