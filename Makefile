# eventfilter: the two quick-start commands are `make demo` and `make test`.
# Both install what a fresh machine lacks (libcurl's and libpq's headers; for tests also aiosmtpd,
# lighttpd, apache2, nginx, sqlite3, PostgreSQL, postfix, Chromium with chromedriver and Selenium),
# then build with SwiftPM. No Swift packages are fetched.

SHELL := /bin/bash
SWIFT ?= swift
EVENTFILTER = .build/release/eventfilter
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build deps test-deps bench fuzz layout-check clean

deps:
	@if ! [ -f /usr/include/curl/curl.h ] && ! ls /usr/include/*/curl/curl.h >/dev/null 2>&1; then \
		echo "installing libcurl4-openssl-dev (libcurl's headers)"; \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) libcurl4-openssl-dev >/dev/null; \
	fi
	@if ! [ -f /usr/include/postgresql/libpq-fe.h ] && ! [ -f /usr/include/libpq-fe.h ]; then \
		echo "installing libpq-dev (PostgreSQL's client library and headers)"; \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) libpq-dev >/dev/null; \
	fi

test-deps: deps
	@python3 -c 'import aiosmtpd' 2>/dev/null || { echo "installing aiosmtpd"; python3 -m pip install -q aiosmtpd; }
	@command -v lighttpd >/dev/null || { echo "installing lighttpd"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) lighttpd >/dev/null; }
	@[ -x /usr/sbin/apache2 ] || { echo "installing apache2"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) apache2 >/dev/null; }
	@[ -x /usr/sbin/nginx ] || { echo "installing nginx"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) nginx >/dev/null; }
	@command -v cc >/dev/null || { echo "installing gcc (a test builds a small LD_PRELOAD library)"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) gcc >/dev/null; }
	@command -v sqlite3 >/dev/null || { echo "installing sqlite3"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) sqlite3 >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing postgresql (the tests start their own server)"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) postgresql >/dev/null; }
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { echo "installing chromium and chromium-driver (the settings page tests)"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) chromium chromium-driver >/dev/null; }
	@python3 -c 'import selenium' 2>/dev/null || { echo "installing selenium"; python3 -m pip install -q selenium; }
	@command -v systemd-analyze >/dev/null || { echo "installing systemd (systemd-analyze)"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) systemd >/dev/null; }
	@# The bounce tests run their own Postfix instance; "No configuration" leaves the system's Postfix unconfigured and stopped.
	@[ -x /usr/sbin/postfix ] || { echo "installing postfix (unconfigured; the bounce tests start their own instance)"; \
		echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections && \
		$(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) postfix >/dev/null; }

# The release binary carries the Swift standard library and Foundation inside it
# (--static-swift-stdlib): a process then starts without loading and relocating a dozen shared
# Swift libraries, which is most of what a cron `run` with nothing to do, a CGI request or a
# `status` costs. libcurl and libpq are not linked at all: they are opened when SMTP delivery or a
# PostgreSQL store first needs them. The tests use debug builds (`swift build`), linked dynamically.
RELEASE_FLAGS = -c release --static-swift-stdlib

build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product eventfilter

# The demo runs in the repository itself, a working root (settings/, extension/, var/).
demo: build
	@rm -rf var
	@ef() { $(EVENTFILTER) --root . --now 2026-03-28T12:00:00Z "$$@"; }; \
	ef user add ann@example.com --name "Ann Editor" --timezone Europe/Oslo && \
	ef user add bob@example.com --name "Bob Reader" --timezone America/New_York && \
	ef user add kari@example.com --name "Kari Nordmann" --timezone Europe/Oslo && \
	ef subscribe ann@example.com 2 && ef subscribe bob@example.com 60 && ef subscribe bob@example.com 2 && \
	ef subscribe kari@example.com 60 && ef digest kari@example.com daily 08:00 && \
	ef collaboration subscribe ann@example.com ezapprove && \
	ef event add ezpublish node_id=77 path=/1/2/60/77/ name="Spring release notes" class=Article \
		author=ann@example.com version=1 url=/news/spring-release-notes >/dev/null && \
	ef event add ezpublish node_id=78 path=/1/2/60/78/ name="Security advisory" class=Article \
		author=bob@example.com version=1 url=/news/security-advisory >/dev/null && \
	ef event add ezcollaboration identifier=ezapprove item_id=12 name="Budget 2027" \
		participants='[{"email":"ann@example.com","role":"approver"}]' >/dev/null && \
	ef run --verbose && \
	$(EVENTFILTER) --root . --now 2026-03-29T06:00:00Z run --verbose && \
	$(EVENTFILTER) --root . --now 2026-03-29T06:00:00Z status
	@echo; echo "Mail written by the file transport (var/log/mail/):"; ls -1 var/log/mail
	@echo; first=$$(ls var/log/mail/*.eml | head -1); echo "== $$first =="; cat "$$first"

# README.md's source layout against Sources/ first (layout-check), then the whole test suite on SQLite, then the end-to-end tests again on each further backend in
# BACKENDS (by default PostgreSQL: each test then gets a PostgreSQL database of its own on a
# server the suite starts; `make test BACKENDS=sqlite` runs the first pass alone). XCTest only (the suite has no Swift Testing tests, so
# that runner, which would close the log with "0 tests", is off). Fails loudly when no test ran,
# when one failed, or when one skipped (other than the opt-in benchmark, and on PostgreSQL the tests
# about SQLite itself, counted apart). Ends with one "BACKEND: N passed, N failed, N skipped" line
# per backend. Tests/Support/run_suite.sh does the judging.
BACKENDS ?= sqlite postgresql

test: test-deps layout-check
	@mkdir -p .build; rm -f .build/test-summary; status=0; \
	for backend in $(BACKENDS); do \
		SWIFT="$(SWIFT)" Tests/Support/run_suite.sh $$backend 2>&1 | tee .build/test-run.out; \
		[ $${PIPESTATUS[0]} -eq 0 ] || status=1; \
		tail -1 .build/test-run.out >> .build/test-summary; \
	done; \
	echo; cat .build/test-summary; \
	[ $$status -eq 0 ] || { echo "make test: FAILED"; exit 1; }

# Benchmarks (numbers in README.md): every stage next to its floor on SQLite and on PostgreSQL (a
# server the scripts start); import, the kernel and delivery on both backends, the filter with 1, 2
# and 4 workers, webhook intake, monitoring.
# Every script measures the binary `make build` made (EVENTFILTER), not a build of its own.
bench: build test-deps
	export EVENTFILTER="$(CURDIR)/$(EVENTFILTER)"; \
	Tests/Bench/floors_bench.sh && \
	Tests/Bench/backends_bench.sh && \
	Tests/Bench/ingest_bench.sh && \
	Tests/Bench/monitor_bench.sh && \
	Tests/Bench/fastcgi_bench.sh

# Coverage-guided fuzzing of the FastCGI parser (libFuzzer + AddressSanitizer), 60 s.
fuzz:
	Tests/Fuzz/fastcgi_fuzz.sh 60

# README.md's "Source layout" against the Swift files under Sources/: one line per difference.
layout-check:
	@python3 Tests/Support/check_layout.py

clean:
	rm -rf .build var
