# readiness-probe: see README.md. Everything here works from a fresh clone.
SWIFT ?= swift
PYTHON ?= python3
SUPERVISOR_VERSION ?= 4.3.0
SDNOTIFY_VERSION ?= 0.3.2
VENV := .venv
BIN := .build/release/readiness-probe
# The one version (Sources/ProbeSupport/Version.swift), for the package.
VERSION := $(shell sed -n 's/^ *public static let string = "\(.*\)"$$/\1/p' Sources/ProbeSupport/Version.swift)

# supervisord for tests and the demo: always the pinned one in .venv, even when another is on PATH
# (.venv/bin goes first on PATH, so supervisorctl and python3 are the pinned ones too; the tests'
# harness takes .venv/bin/supervisord by path). `make end-to-end SUPERVISORD=/usr/bin/supervisord`
# runs the end-to-end tests against another supervisord instead (named in the output).
SUPERVISOR_DEP := $(VENV)/.supervisor-$(SUPERVISOR_VERSION)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PINNED_SUPERVISORD := $(CURDIR)/$(VENV)/bin/supervisord

.PHONY: all build debug test unit end-to-end e2e demo bench bench-deps fuzz venv clean docs help link-order print-version deps deb deb-test man

all: build

help:
	@echo "make build   fully static release binary at $(BIN)"
	@echo "make test    the whole test suite: unit, then end-to-end (installs supervisor $(SUPERVISOR_VERSION) into $(VENV) if needed)"
	@echo "make unit    the unit tests only (parsers, rules, models; in this process, in parallel; docs/testing.md)"
	@echo "make end-to-end  the end-to-end tests only (the binary, real supervisord, processes, sockets; one at a time)"
	@echo "make e2e    the example images built and probed under podman (root; BENCH=1 adds the cost per probe)"
	@echo "make demo    a real supervisord with the example container, probed as it starts, is ready and breaks"
	@echo "make bench   benchmarks (hyperfine, wrk); results go to docs/benchmarks.md by hand"
	@echo "make fuzz    libFuzzer over every hand-written parser (FUZZ_SECONDS=10 each)"
	@echo "make docs    regenerate docs/codes.md from the code table"
	@echo "make deb     Debian package at $(DEB) (release build, man page, completions)"
	@echo "make deb-test  lintian, then install the package into a scratch root and run it"
	@echo "make man     the man page at .build/man/readiness-probe.1 (from the command table)"
	@echo "make link-order  regenerate the release link order (valgrind; see docs/benchmarks.md)"

# The release link: fully static, one section per function, linked by lld (it ships with the
# Swift toolchain) with the functions the common commands run packed first (LINK_ORDER, made by
# `make link-order`). That halves the binary's text a probe maps; see docs/benchmarks.md.
# Two code-generation flags (docs/benchmarks.md, section 14): generic types are instantiated
# through direct metadata accessors instead of by mangled name (a mangled name makes the runtime
# demangle it and check each generic requirement by scanning the conformance tables: ~30% of a
# probe's instructions), and no merged-function thunks (they are unnamed, so the link order could
# not place them, and each one a run called mapped 64 KiB of code).
LINK_ORDER := Sources/readiness-probe/link-order.txt
RELEASE_FLAGS := -c release --product readiness-probe -Xswiftc -static-executable \
	-Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -use-ld=lld \
	-Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
	-Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass

# The binary is removed first: swift build does not see a change of LINK_ORDER and would not relink.
build:
	rm -f $(BIN)
	$(SWIFT) build $(RELEASE_FLAGS) -Xlinker --symbol-ordering-file=$(CURDIR)/$(LINK_ORDER) \
		-Xlinker --no-warn-symbol-ordering -Xlinker -s

# Regenerates LINK_ORDER from callgrind and lackey runs of the common commands (needs valgrind),
# on a build with the same flags (it relinks $(BIN) with symbols, then removes it: run `make build` after).
link-order: venv
	RELEASE_FLAGS="$(RELEASE_FLAGS)" ./Tests/Bench/link-order.sh

debug:
	$(SWIFT) build --product readiness-probe

KUBERNETES_VALIDATE_VERSION ?= 1.37.0
# gRPC health tests: the official client and a raw HTTP/2 frame driver (Tests/GRPC/grpc_client.py).
GRPCIO_VERSION ?= 1.85.1
H2_VERSION ?= 4.4.1

# prometheus_client's parsers validate serve's /metrics in both formats (Tests/Prometheus/parse_metrics.py).
PROMETHEUS_CLIENT_VERSION ?= 0.26.0

# jsonschema validates the real JSON outputs against docs/schema (Tests/Schema/validate.py, docs/json.md).
JSONSCHEMA_VERSION ?= 4.26.0

# Test tools in .venv: supervisor (pinned; tests never use another unless asked) and kubernetes-validate
# (offline Kubernetes schema validation of examples/).
venv: $(SUPERVISOR_DEP) $(VENV)/bin/kubernetes-validate $(VENV)/.grpc-$(GRPCIO_VERSION)-h2-$(H2_VERSION) $(VENV)/.sdnotify-$(SDNOTIFY_VERSION) \
	$(VENV)/.prometheus-client-$(PROMETHEUS_CLIENT_VERSION) $(VENV)/.jsonschema-$(JSONSCHEMA_VERSION)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(SUPERVISOR_DEP): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check supervisor==$(SUPERVISOR_VERSION)
	touch $@

$(VENV)/bin/kubernetes-validate: | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)

# sdnotify: the Python sd_notify library a notify test program uses (docs/notify.md).
$(VENV)/.sdnotify-$(SDNOTIFY_VERSION): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check sdnotify==$(SDNOTIFY_VERSION)
	touch $@

$(VENV)/.prometheus-client-$(PROMETHEUS_CLIENT_VERSION): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check prometheus-client==$(PROMETHEUS_CLIENT_VERSION)
	touch $@

$(VENV)/.jsonschema-$(JSONSCHEMA_VERSION): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check jsonschema==$(JSONSCHEMA_VERSION)
	touch $@

$(VENV)/.grpc-$(GRPCIO_VERSION)-h2-$(H2_VERSION): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check grpcio==$(GRPCIO_VERSION) \
		grpcio-health-checking==$(GRPCIO_VERSION) h2==$(H2_VERSION)
	touch $@

# Two kinds of tests (docs/testing.md). Unit test targets (*Tests) run in this process with no child
# process, socket or supervisord, in parallel. End-to-end targets (*EndToEndTests) drive the binary, real
# supervisord, hooks, sockets and servers, one test at a time (blocking tests starve the 2-thread pool).
UNIT_TESTS := --skip EndToEndTests
E2E_TESTS := --filter EndToEndTests

# `swift build --build-tests` builds the binary the end-to-end tests run (TestPaths.binary) and the tests.
test: venv deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build $(UNIT_TESTS)
	@echo "== end-to-end tests against supervisord $$($(PINNED_SUPERVISORD) --version 2>&1) at $(PINNED_SUPERVISORD)"
	READINESS_PROBE_SUPERVISORD=$(PINNED_SUPERVISORD) $(SWIFT) test --skip-build --no-parallel $(E2E_TESTS)

unit:
	$(SWIFT) test $(UNIT_TESTS)

# SUPERVISORD=PATH: against that supervisord instead of the pinned one (the pin check then only reports it).
end-to-end: venv deps
	$(SWIFT) build --build-tests
	@s="$(or $(SUPERVISORD),$(PINNED_SUPERVISORD))"; echo "== end-to-end tests against supervisord $$($$s --version 2>&1) at $$s"
	READINESS_PROBE_SUPERVISORD=$(or $(SUPERVISORD),$(PINNED_SUPERVISORD)) $(SWIFT) test --skip-build --no-parallel $(E2E_TESTS)

# The example images (examples/container, examples/sonic) built and probed under podman + runc,
# as the kubelet probes them (Tests/E2E/e2e.sh; Tests/deps.sh installs podman, runc and
# debootstrap when root). Without root: one SKIP line. BENCH=1: also the node's cost per probe.
e2e: build deb
	BENCH=$(BENCH) ./Tests/E2E/e2e.sh $(CURDIR)/$(BIN)

docs: debug
	.build/debug/readiness-probe codes > docs/codes.md

demo: venv build
	./examples/demo.sh $(BIN)

# hyperfine, wrk and h2load (nghttp2-client) come from Debian's packages; installed when missing and we are root.
bench-deps:
	@for t in hyperfine wrk curl h2load; do \
	    command -v $$t >/dev/null || { \
	        if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	            (apt-get update -qq && apt-get install -y -qq hyperfine wrk curl nghttp2-client >/dev/null) || exit 1; \
	        else echo "make bench needs $$t (apt-get install hyperfine wrk curl nghttp2-client)" >&2; exit 1; fi; }; \
	done

bench: venv build bench-deps
	./Tests/Bench/bench.sh $(BIN)
	./Tests/Bench/history.sh $(BIN)
	./Tests/Bench/listener.sh $(BIN)
	$(VENV)/bin/python Tests/Bench/notify.py $(BIN)
	./Tests/Bench/serve.sh $(BIN)
	./Tests/Bench/serve-idle.sh $(BIN)
	PYTHON=$(VENV)/bin/python ./Tests/Bench/grpc.sh $(BIN)

fuzz:
	./Tests/Fuzz/fuzz.sh $(or $(FUZZ_SECONDS),10)

print-version:
	@echo $(VERSION)

# The Debian package: dpkg-deb only (packaging/deb/build.sh); docs/packaging.md.
DEB_REVISION ?= 1
DEB := .build/deb/readiness-probe_$(VERSION)-$(DEB_REVISION)_$(shell dpkg --print-architecture 2>/dev/null || echo unknown).deb

deb: build
	DEB_REVISION=$(DEB_REVISION) ./packaging/deb/build.sh $(BIN)

# Not dependent on deb (that would relink): run `make deb deb-test`.
deb-test: deps
	./packaging/deb/test.sh $(DEB)

man: debug
	mkdir -p .build/man
	.build/debug/readiness-probe man > .build/man/readiness-probe.1

# Debian packages the tests need (zsh, fish, lintian, man-db): installed when missing and root.
deps:
	./Tests/deps.sh

clean:
	rm -rf .build .build-order
