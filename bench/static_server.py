"""A fast static server for mirror folders: the benchmarks' stand-in for ``kaltimnews.mirror``.

Usage::

    .venv/bin/python bench/static_server.py MIRROR_DIR [--port 0]

It answers exactly as :class:`kaltimnews.mirror.MirrorFolder` does (same folder layout, same
``index@<k>=<v>.html`` variants, same ``_routes.json``), but it is built for throughput, so that
a crawl benchmark measures the crawler and not the server:

* one asyncio event loop, a :class:`asyncio.Protocol` per connection, HTTP/1.1 keep-alive;
* the folder is indexed once at start (no ``stat``/``resolve`` per request); bodies are read
  from the OS page cache on demand, so a 20,000-article mirror does not sit in this process;
* no per-request logging.

It prints ``Serving <dir> at http://127.0.0.1:<port>`` once it listens. ``GET /_bench/stats``
returns JSON counters (requests by kind, bytes, this process's CPU seconds) and
``GET /_bench/reset`` zeroes them: a benchmark reads how many article pages a crawl fetched from
the server's side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import re
import resource
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

try:
    from kaltimnews.mirror import CONTENT_TYPES
except ImportError:  # run as a script: bench/ is on sys.path, the project root is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from kaltimnews.mirror import CONTENT_TYPES

_ARTICLE_PATH = re.compile(r"^/[^/]+/read/\d{4}/\d\d/\d\d/\d{6}/[^/?]+/?$")
_STATUS_TEXT = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}
_NOT_FOUND = b"<html><body><h1>404 Not Found</h1></body></html>"


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class MirrorIndex:
    """Every file of a mirror folder by request path, built once: ``/host/path`` -> file."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.files: dict[str, Path] = {}
        #: folder path -> {"k=v": variant file}, and its index.html under "".
        self.folders: dict[str, dict[str, Path]] = {}
        for path in self.root.rglob("*"):
            if not path.is_file() or path.parent == self.root:
                continue  # files at the top (_routes.json, manifests) are not served
            rel = "/" + path.relative_to(self.root).as_posix()
            self.files[rel] = path
            folder = rel.rsplit("/", 1)[0]
            if path.name == "index.html":
                self.folders.setdefault(folder, {})[""] = path
            elif path.name.startswith("index@") and path.name.endswith(".html"):
                self.folders.setdefault(folder, {})[path.name[6:-5]] = path
        routes = self.root / "_routes.json"
        self.routes: dict[str, dict[str, Any]] = json.loads(routes.read_text("utf-8")) if routes.is_file() else {}

    def resolve(self, target: str) -> tuple[int, bytes, str, dict[str, str]]:
        """(status, body, content type, extra headers) for a request target ``/host/path?query``."""
        parts = urlsplit(target)
        path = re.sub(r"/{2,}", "/", parts.path)
        host, _, rest = path.lstrip("/").partition("/")
        route = self.routes.get(host + (("/" + rest).rstrip("/") or "/")) or self.routes.get(host + "/" + rest)
        if route:
            return self._route(route)
        key = path.rstrip("/") or "/"
        found = self.files.get(key)
        if found is None:
            variants = self.folders.get(key)
            if variants:
                for name, value in parse_qsl(parts.query, keep_blank_values=True):
                    found = variants.get(f"{name}={value}")
                    if found is not None:
                        break
                else:
                    found = variants.get("")
        if found is None:
            return 404, _NOT_FOUND, "text/html; charset=utf-8", {}
        return 200, found.read_bytes(), _content_type(found), {}

    def _route(self, route: dict[str, Any]) -> tuple[int, bytes, str, dict[str, str]]:
        headers = dict(route.get("headers", {}))
        if "location" in route:
            headers["Location"] = route["location"]
        if "body_file" in route:
            body = (self.root / route["body_file"]).read_bytes()
        else:
            text = route.get("body", "")
            body = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return int(route.get("status", 200)), body, route.get("content_type", "text/html; charset=utf-8"), headers


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.articles = 0
        self.other = 0
        self.not_found = 0
        self.bytes = 0
        self.connections = 0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._cpu0 = usage.ru_utime + usage.ru_stime

    def as_dict(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "requests": self.requests,
            "article_requests": self.articles,
            "other_requests": self.other,
            "not_found": self.not_found,
            "bytes": self.bytes,
            "connections": self.connections,
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime - self._cpu0, 3),
        }


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 GET/HEAD with keep-alive; requests are answered in order (pipelining works)."""

    def __init__(self, index: MirrorIndex, counters: Counters):
        self.index = index
        self.counters = counters
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.counters.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            if not self._answer(head):
                return

    def _answer(self, head: bytes) -> bool:
        assert self.transport is not None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self.transport.close()
            return False
        close = version == "HTTP/1.0" or any(
            line.lower().startswith("connection:") and "close" in line.lower() for line in lines[1:]
        )
        status, body, content_type, headers = self._resolve(target)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        response = (
            f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Status')}\r\n"
            f"Server: kaltimnews-bench\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        ).encode("latin-1")
        self.transport.write(response if method == "HEAD" else response + body)
        self.counters.bytes += len(body)
        if close:
            self.transport.close()
            return False
        return True

    def _resolve(self, target: str) -> tuple[int, bytes, str, dict[str, str]]:
        counters = self.counters
        if target.startswith("/_bench/"):
            if target.startswith("/_bench/reset"):
                counters.reset()
            return 200, json.dumps(counters.as_dict()).encode(), "application/json", {}
        counters.requests += 1
        answer = self.index.resolve(target)
        if answer[0] == 404:
            counters.not_found += 1
        if _ARTICLE_PATH.match(urlsplit(target).path):
            counters.articles += 1
        else:
            counters.other += 1
        return answer


async def serve(root: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
    index = MirrorIndex(root)
    counters = Counters()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(index, counters), host, port, backlog=1024)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"Serving {index.root} at http://{bound_host}:{bound_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="mirror folder (one sub-folder per host)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.root, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
