"""Schedule crawls on a scrapyd server, never two runs of one spider at once.

``python -m kaltimnews.schedule [--target URL] [--project kaltimnews] [-s NAME=VALUE]...
[-a NAME=VALUE]... [SPIDER ...]`` asks scrapyd (``listjobs.json``) which spiders of the project
are pending or running, skips those, and schedules the others (``schedule.json``). Without
spider names it schedules every spider of the deployed project (``listspiders.json``).

It is meant for cron or a systemd timer (see docs/operations.md): a run that is still going when
the next is due is left alone instead of being doubled, so two runs never write the same feeds
and database rows at once.

The target defaults to ``$SCRAPYD_URL`` (then ``http://127.0.0.1:6800``); the credentials come
from ``$SCRAPYD_USERNAME`` and ``$SCRAPYD_PASSWORD`` (or ``user:password@`` in the URL). The
password is never printed.

Exit status: 0 when every spider was scheduled or skipped, 1 on any error (scrapyd unreachable,
401 Unauthorized, unknown project or spider, ...), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

DEFAULT_TARGET = "http://127.0.0.1:6800"
DEFAULT_PROJECT = "kaltimnews"
#: schedule.json parameters that are not spider arguments.
RESERVED_ARGS = frozenset({"project", "spider", "setting", "jobid", "priority", "_version"})


class ScrapydError(Exception):
    """scrapyd could not be reached, refused the request, or answered with an error."""


@dataclass
class Outcome:
    """What happened to one spider: ``scheduled`` (with the new job id), ``skipped`` (with the
    job already pending or running) or ``error``."""

    spider: str
    action: str
    job: str = ""
    state: str = ""  # for skipped: "pending" or "running"
    error: str = ""  # for error

    def describe(self) -> str:
        if self.action == "scheduled":
            return f"scheduled {self.spider}: job {self.job}"
        if self.action == "skipped":
            return f"skipped {self.spider}: already {self.state} (job {self.job})"
        return f"error {self.spider}: {self.error}"


@dataclass
class Scrapyd:
    """A minimal client of scrapyd's JSON API (standard library only)."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScrapydError(f"not an http(s) URL: {mask_url(self.url)!r}")
        if parts.username is not None:  # credentials in the URL: use them, keep them out of it
            self.username = self.username or unquote(parts.username)
            self.password = self.password or unquote(parts.password or "")
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            parts = parts._replace(netloc=host)
        # A path prefix (behind a reverse proxy) is kept; endpoints are joined below it.
        self.url = urlunsplit(parts._replace(query="", fragment="")).rstrip("/")

    def endpoint(self, name: str) -> str:
        return f"{self.url}/{name}"

    def get(self, name: str, **params: str) -> dict[str, Any]:
        query = f"?{urlencode(params)}" if params else ""
        return self._call(Request(self.endpoint(name) + query, method="GET"))

    def post(self, name: str, data: Sequence[tuple[str, str]]) -> dict[str, Any]:
        body = urlencode(list(data)).encode("utf-8")
        request = Request(self.endpoint(name), data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        return self._call(request)

    def _call(self, request: Request) -> dict[str, Any]:
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        where = request.full_url.split("?", 1)[0]
        try:
            with urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only)
                payload = response.read()
        except HTTPError as exc:
            if exc.code == 401:
                hint = (
                    "check SCRAPYD_USERNAME and SCRAPYD_PASSWORD"
                    if self.username
                    else "set SCRAPYD_USERNAME and SCRAPYD_PASSWORD"
                )
                raise ScrapydError(f"{where}: HTTP 401 Unauthorized ({hint})") from None
            raise ScrapydError(f"{where}: HTTP {exc.code} {exc.reason}") from None
        except URLError as exc:
            raise ScrapydError(f"cannot reach scrapyd at {self.url}: {exc.reason}") from None
        except OSError as exc:  # timeouts, resets
            raise ScrapydError(f"cannot reach scrapyd at {self.url}: {exc}") from None
        try:
            data = json.loads(payload)
        except ValueError:
            raise ScrapydError(f"{where}: not a scrapyd JSON answer: {payload[:200]!r}") from None
        if not isinstance(data, dict) or data.get("status") != "ok":
            message = data.get("message") if isinstance(data, dict) else data
            raise ScrapydError(f"{where}: {message}")
        return data

    # -- the calls we use -------------------------------------------------------------------

    def busy_jobs(self, project: str) -> dict[str, tuple[str, str]]:
        """``{spider: (state, job id)}`` for every pending or running job of ``project``."""
        jobs = self.get("listjobs.json", project=project)
        busy: dict[str, tuple[str, str]] = {}
        for state in ("running", "pending"):  # running wins when a spider is in both
            for job in jobs.get(state, []):
                spider = job.get("spider")
                if spider and spider not in busy:
                    busy[spider] = (state, str(job.get("id", "")))
        return busy

    def spiders(self, project: str) -> list[str]:
        return list(self.get("listspiders.json", project=project).get("spiders", []))

    def schedule(
        self,
        project: str,
        spider: str,
        settings: Mapping[str, str] | None = None,
        args: Mapping[str, str] | None = None,
    ) -> str:
        data = [("project", project), ("spider", spider)]
        data += [("setting", f"{name}={value}") for name, value in (settings or {}).items()]
        data += list((args or {}).items())
        job = self.post("schedule.json", data).get("jobid")
        if not job:
            raise ScrapydError(f"{self.endpoint('schedule.json')}: no job id in the answer")
        return str(job)


def schedule_spiders(
    client: Scrapyd,
    project: str,
    spiders: Iterable[str] = (),
    settings: Mapping[str, str] | None = None,
    args: Mapping[str, str] | None = None,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Schedule each spider (all of the project when none is named) unless it is already pending
    or running. ``report`` is called with each outcome as it happens. A failure to schedule one
    spider does not stop the others: it is an ``error`` outcome."""
    names = list(dict.fromkeys(spiders)) or client.spiders(project)
    busy = client.busy_jobs(project)
    outcomes: list[Outcome] = []
    for spider in names:
        if spider in busy:
            state, job = busy[spider]
            outcome = Outcome(spider, "skipped", job=job, state=state)
        else:
            try:
                outcome = Outcome(spider, "scheduled", job=client.schedule(project, spider, settings, args))
            except ScrapydError as exc:
                outcome = Outcome(spider, "error", error=str(exc))
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes


def mask_url(url: str) -> str:
    """``url`` without the password it may carry."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:
        return "<unparsable URL>"


def _pairs(values: Sequence[str], option: str, parser: argparse.ArgumentParser) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name.strip():
            parser.error(f"{option} expects NAME=VALUE, got {value!r}")
        pairs[name.strip()] = setting
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kaltimnews.schedule",
        description=(
            "Schedule spiders on scrapyd, skipping any spider that is already pending or running. "
            "Credentials: $SCRAPYD_USERNAME and $SCRAPYD_PASSWORD."
        ),
    )
    parser.add_argument(
        "spiders", nargs="*", metavar="SPIDER", help="spiders to schedule (default: all of the project)"
    )
    parser.add_argument(
        "--target",
        default=os.environ.get("SCRAPYD_URL") or DEFAULT_TARGET,
        help=f"scrapyd URL (default: $SCRAPYD_URL, else {DEFAULT_TARGET})",
    )
    parser.add_argument("--project", default=DEFAULT_PROJECT, help="scrapyd project (default: %(default)s)")
    parser.add_argument(
        "-s", dest="settings", action="append", default=[], metavar="NAME=VALUE", help="Scrapy setting"
    )
    parser.add_argument(
        "-a", dest="args", action="append", default=[], metavar="NAME=VALUE", help="spider argument"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default: 30)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    settings = _pairs(options.settings, "-s", parser)
    args = _pairs(options.args, "-a", parser)
    reserved = sorted(RESERVED_ARGS & set(args))
    if reserved:
        parser.error(f"-a cannot set scrapyd's own parameters: {', '.join(reserved)}")
    try:
        client = Scrapyd(
            options.target,
            username=os.environ.get("SCRAPYD_USERNAME", ""),
            password=os.environ.get("SCRAPYD_PASSWORD", ""),
            timeout=options.timeout,
        )
        now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        print(f"{now} scrapyd {client.url}, project {options.project}", flush=True)
        outcomes = schedule_spiders(
            client, options.project, options.spiders, settings, args, report=_print_outcome
        )
    except ScrapydError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 1 if any(outcome.action == "error" for outcome in outcomes) else 0


def _print_outcome(outcome: Outcome) -> None:
    stream = sys.stderr if outcome.action == "error" else sys.stdout
    print(outcome.describe(), file=stream, flush=True)


if __name__ == "__main__":
    sys.exit(main())
