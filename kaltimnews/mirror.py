"""The local mirror: news sites served from a folder on 127.0.0.1, invisible to spiders.

A mirror folder holds one sub-folder per host. ``https://<host><path>?<query>`` is served from
``<root>/<host><path>``:

* a file is served as it is, whatever the query;
* a folder serves ``index@<k>=<v>.html`` for the first query parameter that has such a file
  (``?page=2`` -> ``index@page=2.html``), else ``index.html``; other parameters are ignored,
  as a real server ignores ``utm_source``;
* ``<root>/_routes.json`` (re-read when it changes) maps ``"<host><path>"`` to special answers:
  ``{"status": 500}``, ``{"status": 301, "location": "https://..."}``, ``{"body": "...",
  "content_type": "..."}``, ``{"headers": {...}}``, ``{"body_file": "<file under root>"}`` (raw
  bytes, sent with the route's ``content_type`` as it is, charset or none); and faults:
  ``{"stall": seconds}`` (answer only after that long), ``{"reset": true}`` (reset the
  connection without an answer), ``{"truncate": n}`` (declare the whole body's Content-Length,
  send its first ``n`` bytes, close);
* anything else is a 404.

With the Scrapy setting ``MIRROR_URL`` (``-s MIRROR_URL=http://127.0.0.1:8765``),
:class:`MirrorDownloadHandler` fetches every request from ``MIRROR_URL/<host><path>?<query>``
and hands back a response that carries the real URL, so spiders and items never see the mirror.

Serve a folder with ``python -m kaltimnews.mirror DIR --port N``.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import inspect
import json
import mimetypes
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import build_from_crawler, load_object

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".rss": "application/rss+xml; charset=utf-8",
}


@functools.cache
def bundled_mirror(site: str) -> Path:
    """The fixture mirror shipped inside the package, as a folder on disk.

    Installed as files (a checkout, a wheel) it is the package's own folder. From a zipped egg
    (scrapyd runs eggs zipped) ``importlib.resources`` gives a zip path, so the mirror is copied
    once to a temporary folder (removed at exit) and that folder is returned.
    """
    source = resources.files("kaltimnews") / "mirrors" / site
    if isinstance(source, Path):
        return source
    if not source.is_dir():
        raise FileNotFoundError(f"No bundled mirror {site!r} in {source}")
    target = Path(tempfile.mkdtemp(prefix=f"kaltimnews-mirror-{site}-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    _copy_tree(source, target)
    return target


def _copy_tree(source: Any, target: Path) -> None:
    for child in source.iterdir():
        if child.is_dir():
            (target / child.name).mkdir()
            _copy_tree(child, target / child.name)
        else:
            (target / child.name).write_bytes(child.read_bytes())


# --------------------------------------------------------------------------- resolution


class Answer:
    """What the mirror sends for one request."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        stall: float = 0.0,
        reset: bool = False,
        truncate: int | None = None,
    ):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        #: Faults (``_routes.json``): wait before answering, reset the connection, cut the body.
        self.stall = stall
        self.reset = reset
        self.truncate = truncate


class MirrorFolder:
    """Maps (host, path, query) to an :class:`Answer`, following the rules in the module docstring."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.routes: dict[str, dict[str, Any]] = {}
        self._routes_stamp: tuple[int, int] | None = None
        self.reload_routes()

    def reload_routes(self) -> None:
        """Read ``_routes.json`` again when it changed (a test adds routes to a served copy)."""
        routes_file = self.root / "_routes.json"
        try:
            stat = routes_file.stat()
        except FileNotFoundError:
            self.routes, self._routes_stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._routes_stamp:
            self.routes = json.loads(routes_file.read_text("utf-8"))
            self._routes_stamp = stamp

    def file_for(self, host: str, path: str, query: str = "") -> Path | None:
        target = (self.root / host / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root):
            return None
        if target.is_file():
            return target
        if target.is_dir():
            for key, value in parse_qsl(query, keep_blank_values=True):
                variant = target / f"index@{key}={value}.html"
                if variant.is_file():
                    return variant
            index = target / "index.html"
            if index.is_file():
                return index
        return None

    def answer(self, host: str, path: str, query: str = "") -> Answer:
        self.reload_routes()
        route = self.routes.get(host + (path.rstrip("/") or "/")) or self.routes.get(host + path)
        if route:
            return self._route_answer(route)
        found = self.file_for(host, path, query)
        if found is None:
            return Answer(404, b"<html><body><h1>404 Not Found</h1></body></html>")
        content_type = CONTENT_TYPES.get(found.suffix) or (
            mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        )
        return Answer(200, found.read_bytes(), content_type)

    def _route_answer(self, route: dict[str, Any]) -> Answer:
        headers = dict(route.get("headers", {}))
        if "location" in route:
            headers["Location"] = route["location"]
        body = route.get("body", "")
        if "body_file" in route:
            body_bytes = (self.root / route["body_file"]).read_bytes()
        else:
            body_bytes = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return Answer(
            int(route.get("status", 200)),
            body_bytes,
            route.get("content_type", "text/html; charset=utf-8"),
            headers,
            stall=float(route.get("stall", 0)),
            reset=bool(route.get("reset", False)),
            truncate=int(route["truncate"]) if "truncate" in route else None,
        )


class MirrorFolders:
    """Several mirror folders served as one (one site each): a host is answered by its folder."""

    def __init__(self, roots: Sequence[str | Path]):
        self.folders = [MirrorFolder(root) for root in roots]
        self.root = self.folders[0].root

    def answer(self, host: str, path: str, query: str = "") -> Answer:
        for folder in self.folders:
            if (folder.root / host).is_dir() or any(key.startswith(host + "/") for key in folder.routes):
                return folder.answer(host, path, query)
        return self.folders[0].answer(host, path, query)


# --------------------------------------------------------------------------- HTTP server


def _handler_for(folder: MirrorFolder) -> type[BaseHTTPRequestHandler]:
    class MirrorRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kaltimnews-mirror"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._send(head_only=False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._send(head_only=True)

        def _send(self, head_only: bool) -> None:
            parts = urlsplit(self.path)
            host, _, path = parts.path.lstrip("/").partition("/")
            answer = folder.answer(host, "/" + path, parts.query)
            if answer.stall:
                # Ends early when the server shuts down, so a stalled answer never holds a test up.
                getattr(self.server, "stopping", threading.Event()).wait(answer.stall)
            if answer.reset:
                # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            body = answer.body if answer.truncate is None else answer.body[: answer.truncate]
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.truncate is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if not head_only:
                    self.wfile.write(body)
            except OSError:  # the client gave up (its timeout, a stall): nothing left to answer
                self.close_connection = True
                return
            if answer.truncate is not None:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the crawl's own log names every URL; per-request lines here are noise

    return MirrorRequestHandler


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    # Scrapy opens many connections at once; the default backlog of 5 drops some under load.
    request_queue_size = 256

    def __init__(self, root: str | Path | Sequence[str | Path], host: str = "127.0.0.1", port: int = 0):
        self.folder = MirrorFolder(root) if isinstance(root, (str, Path)) else MirrorFolders(root)
        #: Set on shutdown: stalled answers (``"stall"`` routes) stop waiting.
        self.stopping = threading.Event()
        super().__init__((host, port), _handler_for(self.folder))

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def serve_mirror(root: str | Path | Sequence[str | Path], port: int = 0) -> Iterator[MirrorServer]:
    """Serve ``root`` (or several mirror folders as one) on 127.0.0.1 in a background thread for the duration of the block."""
    server = MirrorServer(root, port=port)
    thread = threading.Thread(target=server.serve_forever, name="kaltimnews-mirror", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- Scrapy side


def mirror_url_for(mirror_url: str, url: str) -> str:
    """``https://host/p?q`` -> ``<mirror_url>/host/p?q``."""
    parts = urlsplit(url)
    mirrored = f"{mirror_url.rstrip('/')}/{parts.netloc}{parts.path or '/'}"
    return f"{mirrored}?{parts.query}" if parts.query else mirrored


def real_url_for(mirror_url: str, mirrored: str, scheme: str = "https") -> str:
    """The inverse of :func:`mirror_url_for`, for redirects that point back into the mirror."""
    prefix = mirror_url.rstrip("/") + "/"
    if not mirrored.startswith(prefix):
        return mirrored
    return f"{scheme}://{mirrored[len(prefix):]}"


class MirrorDownloadHandler:
    """HTTP(S) download handler that reads from ``MIRROR_URL`` when it is set.

    It wraps the real handler (``MIRROR_INNER_HANDLER``, Scrapy's HTTP/1.1 one by default, or
    scrapy-playwright's), so everything else in the stack (robots.txt, redirects, retries,
    caching, rendering) works on the real URLs as it would on the live site.
    """

    lazy = False

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.mirror_url: str = (settings.get("MIRROR_URL") or "").rstrip("/")
        inner_cls = load_object(
            settings.get("MIRROR_INNER_HANDLER")
            or "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
        )
        self.inner = build_from_crawler(inner_cls, crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        if not self.mirror_url:
            return await self._inner_download(request)
        if request.meta.get("playwright"):
            return await self._render_from_mirror(request)
        mirrored = request.replace(url=mirror_url_for(self.mirror_url, request.url))
        response = await self._inner_download(mirrored)
        location = response.headers.get(b"Location")
        if location:
            real_location = real_url_for(self.mirror_url, location.decode("latin-1"))
            response.headers[b"Location"] = real_location.encode("latin-1")
        return response.replace(url=request.url, request=request)

    async def _render_from_mirror(self, request: Request) -> Response:
        """The browser loads the real URL; every request it makes is answered from the mirror.

        So a page's scripts see the real host and their root-relative fetches work as on the site.
        """
        mirror_url = self.mirror_url
        should_abort = load_object(self.crawler.settings.get("PLAYWRIGHT_ABORT_REQUEST") or _never)
        earlier_init = request.meta.get("playwright_page_init_callback")

        async def route_to_mirror(route: Any) -> None:
            if should_abort(route.request):
                await route.abort()
                return
            try:
                fetched = await route.fetch(url=mirror_url_for(mirror_url, route.request.url))
                await route.fulfill(response=fetched)
            except Exception:  # the page closed under a pending fetch, or the mirror is gone
                await route.abort()

        async def init_page(page: Any, scrapy_request: Request) -> None:
            await page.route("**/*", route_to_mirror)
            if earlier_init:
                await load_object(earlier_init)(page, scrapy_request)

        # In place, not a copy: scrapy-playwright hands the page back through this request's meta.
        request.meta["playwright_page_init_callback"] = init_page
        return await self._inner_download(request)

    async def _inner_download(self, request: Request) -> Response:
        result = self.inner.download_request
        if inspect.iscoroutinefunction(result):
            return await result(request)
        return await maybe_deferred_to_future(result(request, self.crawler.spider))

    async def close(self) -> None:
        closing = getattr(self.inner, "close", None)
        if closing is None:
            return
        outcome = closing()
        if inspect.isawaitable(outcome):
            await outcome
        elif hasattr(outcome, "addCallback"):
            await maybe_deferred_to_future(outcome)


def _never(_request: Any) -> bool:
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve a kaltimnews mirror folder on 127.0.0.1.",
        usage="%(prog)s ROOT [ROOT ...] [--port N] [-- COMMAND ...]",
        epilog="With a command after --, serve only while it runs, with MIRROR_URL set for it "
        "(e.g. -- scrapy crawl suarakaltim), and exit with its status.",
    )
    parser.add_argument("root", nargs="+", help="mirror folder(s) (one sub-folder per host)")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if command:
        with serve_mirror(args.root, port=args.port) as server:
            print(f"Serving {' '.join(args.root)} at {server.url} for: {' '.join(command)}", flush=True)
            return subprocess.call(command, env={**os.environ, "MIRROR_URL": server.url})
    server = MirrorServer(args.root, host=args.host, port=args.port)
    print(f"Serving {' '.join(args.root)} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
