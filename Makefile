# kaltimnews: `make crawl` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SCRAPY := $(VENV)/bin/scrapy
STAMP := $(VENV)/.installed
FEEDS := -O data/articles.jsonl -O data/articles.csv

.PHONY: install crawl demo test services browser clean

$(STAMP): requirements.txt requirements-dev.txt requirements-ops.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'setuptools<81' wheel
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## The main crawl: the live site into data/kaltimnews.sqlite3 and data/articles.{jsonl,csv}.
crawl: install
	mkdir -p data
	$(SCRAPY) crawl suarakaltim $(FEEDS)

## The same crawl, offline, against the bundled mirror (its own store: fixture pages never mix with real ones).
demo: install
	mkdir -p data
	$(PY) -m kaltimnews.mirror kaltimnews/mirrors/suarakaltim --port 0 -- \
	  $(SCRAPY) crawl suarakaltim -a refresh=1 -s DATABASE_URL=sqlite:///data/demo.sqlite3 $(FEEDS)

## Services the tests talk to (PostgreSQL, Redis): started when they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { mkdir -p /var/lib/redis /var/log/redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	    --dir /var/lib/redis --logfile /var/log/redis/ci.log; }
	@for i in $$(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done

## Chromium for rendering (-a render=1) and its tests: Debian's package, found on PATH by
## kaltimnews/browser.py. Elsewhere install your system's chromium, or set CHROMIUM_PATH, or run
## `.venv/bin/playwright install chromium` where downloads are allowed.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$${CHROMIUM_PATH:-}" ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: install services browser
	$(PY) -m pytest

clean:
	rm -rf build dist *.egg-info .pytest_cache

## scrapyd (scrapyd.conf: 127.0.0.1:6800, basic auth), run in $(SCRAPYD_HOME); docs/operations.md.
## Refuses to start without SCRAPYD_USERNAME and SCRAPYD_PASSWORD in the environment. Crawls it
## runs write to $DATABASE_URL, by default the same database as `make crawl`.
SCRAPYD_HOME ?= data/scrapyd

.PHONY: scrapyd
scrapyd:
	@if [ -z "$${SCRAPYD_USERNAME:-}" ] || [ -z "$${SCRAPYD_PASSWORD:-}" ]; then \
	  echo "make scrapyd: refusing to start scrapyd without authentication: addversion.json runs any uploaded code." >&2; \
	  echo "  Export SCRAPYD_USERNAME and SCRAPYD_PASSWORD first (see docs/operations.md)." >&2; \
	  exit 1; \
	fi
	@case "$$SCRAPYD_USERNAME" in *:*) echo "make scrapyd: SCRAPYD_USERNAME must not contain ':'" >&2; exit 1;; esac
	@$(MAKE) --no-print-directory install
	mkdir -p $(SCRAPYD_HOME) data
	ln -sfn $(CURDIR)/scrapyd.conf $(SCRAPYD_HOME)/scrapyd.conf
	cd $(SCRAPYD_HOME) && DATABASE_URL="$${DATABASE_URL:-sqlite:///$(CURDIR)/data/kaltimnews.sqlite3}" \
	  exec $(abspath $(VENV))/bin/scrapyd

## Benchmarks: bench/results.md and bench/results.json (docs/performance.md). About 15 minutes;
## BENCH_ARGS="--sizes 1000,5000,20000" adds the 20,000-article crawls (about 30 minutes in all),
## BENCH_ARGS=--quick is a one-minute smoke test written to bench/out/. The PostgreSQL and Redis
## figures need `make services` first; without them those rows say the service is unavailable.
BENCH_ARGS ?=

.PHONY: bench
bench: install
	$(PY) bench/run_all.py $(BENCH_ARGS)
