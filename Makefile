# kaltimnews: `make crawl` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SCRAPY := $(VENV)/bin/scrapy
STAMP := $(VENV)/.installed
FEEDS := -O data/articles.jsonl -O data/articles.csv

.PHONY: install crawl demo test services clean

$(STAMP): requirements.txt requirements-dev.txt
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

test: install services
	$(PY) -m pytest

clean:
	rm -rf build dist *.egg-info .pytest_cache
