"""End to end: a real scrapyd with authentication, the egg deployed with scrapyd-deploy, crawls
scheduled with ``python -m kaltimnews.schedule`` against the bundled mirror.

One scrapyd (a subprocess in its own process group, on a free loopback port, everything in a
temporary folder) serves the whole module; its teardown leaves no process behind.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from kaltimnews.mirror import MirrorServer, bundled_mirror, serve_mirror

pytestmark = pytest.mark.crawl

REPO = Path(__file__).resolve().parent.parent
PROJECT = "kaltimnews"
SPIDER = "suarakaltim"
JOB_TIMEOUT = 180.0
# Environment that must not leak from the developer's shell into scrapyd or its crawls.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "MIRROR_URL",
    "REDIS_URL",
    "SCRAPY_SETTINGS_MODULE",
    "SCRAPY_PROJECT",
    "SCRAPYD_URL",
    "SCRAPYD_USERNAME",
    "SCRAPYD_PASSWORD",
    "SCRAPYD_BIND_ADDRESS",
    "SCRAPYD_HTTP_PORT",
    "SCRAPYD_UNIX_SOCKET_PATH",
    "PYTHONPATH",  # crawls must run the deployed egg, nothing else
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_script(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", name.replace("-", "_")]


@dataclass
class ScrapydServer:
    url: str
    username: str
    password: str
    home: Path
    output: Path
    process: subprocess.Popen[bytes] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(SCRAPYD_URL=self.url, SCRAPYD_USERNAME=self.username, SCRAPYD_PASSWORD=self.password)
        env.update(extra)
        return env

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def request(self, path: str, data: dict[str, str] | None = None, auth: bool = True) -> tuple[int, bytes]:
        body = urlencode(data).encode() if data is not None else None
        request = Request(f"{self.url}/{path}", data=body)
        if auth:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except HTTPError as exc:
            return exc.code, exc.read()

    def api(self, path: str, data: dict[str, str] | None = None) -> dict[str, Any]:
        status, body = self.request(path, data)
        assert status == 200, (path, status, body)
        answer = json.loads(body)
        assert answer["status"] == "ok", answer
        return answer

    def jobs(self) -> dict[str, list[dict[str, Any]]]:
        return self.api(f"listjobs.json?project={PROJECT}")

    def wait_finished(self, job: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for finished in self.jobs()["finished"]:
                if finished["id"] == job:
                    return finished
            assert self.alive(), "scrapyd died:\n" + self.output.read_text()
            time.sleep(0.5)
        raise AssertionError(f"job {job} not finished after {timeout} s: {self.jobs()}")

    def log(self, job: str) -> str:
        path = self.home / "logs" / PROJECT / SPIDER / f"{job}.log"
        return path.read_text("utf-8") if path.exists() else "<no log>"


def _write_config(home: Path, port: int) -> Path:
    """The repo's scrapyd.conf, its port and folders pointed into ``home``."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "scrapyd.conf", encoding="utf-8")
    section = config["scrapyd"]
    # What the repo's file promises: loopback, no credentials in the file, SQLite job storage.
    assert section["bind_address"] == "127.0.0.1"
    assert not section.get("username") and not section.get("password")
    assert section["jobstorage"] == "scrapyd.jobstorage.SqliteJobStorage"
    section["http_port"] = str(port)
    for option in ("eggs_dir", "logs_dir", "items_dir", "dbs_dir"):
        section[option] = str(home / option.removesuffix("_dir"))
    path = home / "scrapyd.conf"
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop scrapyd and every crawl it started (they share its process group)."""
    pgid = process.pid  # start_new_session: scrapyd leads its own group
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            break
        os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap scrapyd itself, so the group can disappear
            if not _group_alive(pgid):
                break
            time.sleep(0.1)
    process.wait(timeout=5)


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapydServer]:
    home = tmp_path_factory.mktemp("scrapyd")
    port = _free_port()
    _write_config(home, port)
    server = ScrapydServer(
        url=f"http://127.0.0.1:{port}",
        username="kaltimnews-test",
        password=secrets.token_urlsafe(16),
        home=home,
        output=home / "scrapyd.out",
    )
    with server.output.open("wb") as out:
        # cwd=home: scrapyd reads ./scrapyd.conf, and crawls never import the working tree.
        server.process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"],
            cwd=home,
            env=server.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.alive(), "scrapyd exited:\n" + server.output.read_text()
            try:
                if server.request("daemonstatus.json")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "scrapyd did not start:\n" + server.output.read_text()
            time.sleep(0.2)
        assert "Basic authentication enabled" in server.output.read_text()
        yield server
    finally:
        _stop(server.process)
        assert not _group_alive(server.process.pid), "scrapyd or a crawl survived the teardown"


@pytest.fixture(scope="module")
def deployed(scrapyd: ScrapydServer, tmp_path_factory: pytest.TempPathFactory) -> ScrapydServer:
    """``scrapyd-deploy local`` from a copy of the project (scrapy.cfg's [deploy:local] reads
    SCRAPYD_URL, SCRAPYD_USERNAME and SCRAPYD_PASSWORD from the environment)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("scrapy.cfg", "setup.py"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "kaltimnews", source / "kaltimnews", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    completed = subprocess.run(
        [*_venv_script("scrapyd-deploy"), "local", "--version", "e2e"],
        cwd=source,
        env=scrapyd.env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    answer = json.loads(completed.stdout)
    assert answer["status"] == "ok" and answer["project"] == PROJECT, answer
    assert scrapyd.password not in output
    assert (scrapyd.home / "eggs" / PROJECT / "e2e.egg").is_file()
    assert SPIDER in scrapyd.api(f"listspiders.json?project={PROJECT}")["spiders"]
    return scrapyd


@pytest.fixture(scope="module")
def mirror() -> Iterator[MirrorServer]:
    with serve_mirror(bundled_mirror(SPIDER)) as server:
        yield server


def schedule(server: ScrapydServer, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kaltimnews.schedule", "--project", PROJECT, *argv],
        cwd=REPO,
        env=server.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _job_id(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(f"scheduled {SPIDER}: job "):
            return line.rsplit(" ", 1)[1]
    raise AssertionError(f"nothing scheduled:\n{output}")


def _expected_urls() -> set[str]:
    expected = json.loads((bundled_mirror(SPIDER) / "expected_articles.json").read_text("utf-8"))
    return set(expected["articles"])


def test_requires_authentication(scrapyd: ScrapydServer) -> None:
    for path, data in (
        ("daemonstatus.json", None),
        (f"listjobs.json?project={PROJECT}", None),
        ("addversion.json", {"project": "evil", "version": "1"}),
        ("schedule.json", {"project": PROJECT, "spider": SPIDER}),
    ):
        status, _body = scrapyd.request(path, data, auth=False)
        assert status == 401, path

    wrong = schedule(scrapyd, SPIDER, SCRAPYD_PASSWORD="not-the-password")
    assert wrong.returncode == 1, wrong
    assert "401" in wrong.stderr
    assert "not-the-password" not in wrong.stdout + wrong.stderr


def test_scheduled_crawl_stores_every_article(
    deployed: ScrapydServer, mirror: MirrorServer, tmp_path: Path
) -> None:
    database = tmp_path / "db.sqlite3"
    result = schedule(
        deployed,
        SPIDER,
        "-s", f"MIRROR_URL={mirror.url}",
        "-s", f"DATABASE_URL=sqlite:///{database}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert deployed.password not in result.stdout + result.stderr
    job = _job_id(result.stdout)

    finished = deployed.wait_finished(job)
    log = deployed.log(job)
    assert "'finish_reason': 'finished'" in log, log

    expected = _expected_urls()
    items_file = deployed.home / "items" / PROJECT / SPIDER / f"{job}.jl"
    items = [json.loads(line) for line in items_file.read_text("utf-8").splitlines() if line.strip()]
    assert sorted(item["url"] for item in items) == sorted(expected), log
    assert finished["items_url"] == f"/items/{PROJECT}/{SPIDER}/{job}.jl"

    with sqlite3.connect(database) as conn:
        stored = {url for (url,) in conn.execute("SELECT url FROM articles")}
    assert stored == expected

    # The log and the feed are served (authenticated) where docs/operations.md says.
    status, body = deployed.request(f"logs/{PROJECT}/{SPIDER}/{job}.log")
    assert status == 200 and b"Spider closed (finished)" in body
    assert deployed.request(f"logs/{PROJECT}/{SPIDER}/{job}.log", auth=False)[0] == 401


def test_running_spider_is_not_scheduled_again(
    deployed: ScrapydServer, mirror: MirrorServer, tmp_path: Path
) -> None:
    slow = (
        "-s", f"MIRROR_URL={mirror.url}",
        "-s", f"DATABASE_URL=sqlite:///{tmp_path / 'db.sqlite3'}",
        "-s", "DOWNLOAD_DELAY=2",
        "-s", "CONCURRENT_REQUESTS=1",
        "-a", "refresh=1",
    )  # fmt: skip
    first = schedule(deployed, SPIDER, *slow)
    assert first.returncode == 0, first.stdout + first.stderr
    job = _job_id(first.stdout)
    try:
        # Pending or already running: either way a second run must not be queued.
        second = schedule(deployed, SPIDER, *slow)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"skipped {SPIDER}: already " in second.stdout, second.stdout
        assert f"(job {job})" in second.stdout
        assert "scheduled" not in second.stdout

        # Wait until it runs, then try once more: still one job.
        deadline = time.monotonic() + 30
        while not any(j["id"] == job for j in deployed.jobs()["running"]):
            assert time.monotonic() < deadline, deployed.jobs()
            time.sleep(0.2)
        third = schedule(deployed, SPIDER, *slow)
        assert third.returncode == 0 and f"skipped {SPIDER}: already running (job {job})" in third.stdout
        jobs = deployed.jobs()
        active = [j for j in jobs["pending"] + jobs["running"] if j["spider"] == SPIDER]
        assert [j["id"] for j in active] == [job]
    finally:
        deployed.api("cancel.json", {"project": PROJECT, "job": job})
    deployed.wait_finished(job, timeout=60)


def test_make_scrapyd_refuses_without_credentials() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make")
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    completed = subprocess.run(
        [make, "--no-print-directory", "scrapyd"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode != 0
    assert "refusing to start scrapyd without authentication" in completed.stderr


def test_schedule_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    from kaltimnews.schedule import main

    for argv in (["-s", "NO_VALUE", SPIDER], ["-a", "project=other", SPIDER]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert "NAME=VALUE" in capsys.readouterr().err
