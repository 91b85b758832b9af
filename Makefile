# Gust: MQTT broker, load generator and benchmark harness.
# On a fresh machine: `make run` starts the broker on localhost:1883 (loopback only); `make test` runs every test.

GO              ?= go
BIN             := $(CURDIR)/.bin
STATICCHECK_VER := v0.8.2
FUZZTIME        ?= 30s
# Packages where concurrency lives: run under the race detector.
RACE_PKGS       := ./engine/... ./trie/... ./loadgen/... ./bench/...
GUST_FLAGS      ?=
# make cluster: the first node's MQTT and NATS route ports; the others take the next two.
CLUSTER_MQTT    ?= 1883
CLUSTER_ROUTE   ?= 6222

.PHONY: all build run test race fuzz bench microbench lint fmt vet tidy staticcheck cross interop hostile crash check clean conformance
.PHONY: release install example-config cluster

all: build

build:
	$(GO) build -o bin/gust ./cmd/gust
	$(GO) build -o bin/gust-bench ./cmd/gust-bench

## run: start the broker with embedded defaults on localhost:1883 (loopback only). It builds only cmd/gust, which links
## neither the harness nor its plotting libraries (TestBrokerDependencies keeps it so).
run:
	$(GO) build -o bin/gust ./cmd/gust
	./bin/gust serve $(GUST_FLAGS)

## cluster: three nodes of one cluster on loopback, each its own gust serve process: MQTT on ports 1883, 1884 and
## 1885, NATS routes on 6222-6224 (CLUSTER_MQTT and CLUSTER_ROUTE move them), state in memory. Ctrl-C stops them.
cluster:
	$(GO) build -o bin/gust ./cmd/gust
	@m=$(CLUSTER_MQTT); r=$(CLUSTER_ROUTE); routes=127.0.0.1:$$r,127.0.0.1:$$((r+1)),127.0.0.1:$$((r+2)); pids=; \
	trap 'kill $$pids 2>/dev/null; wait' INT TERM EXIT; \
	for i in 0 1 2; do \
		./bin/gust serve --listen 127.0.0.1:$$((m+i)) --store memory --cluster --cluster-node node$$i \
			--cluster-listen 127.0.0.1:$$((r+i)) --cluster-routes $$routes $(GUST_FLAGS) & pids="$$pids $$!"; \
	done; \
	sleep 3; echo "three nodes on 127.0.0.1:$$m, $$((m+1)) and $$((m+2)); try: mosquitto_sub -p $$((m+1)) -t 'demo/#' -v & mosquitto_pub -p $$m -t demo/x -m hello"; \
	wait

## test: every test of the module (interop tests skip a missing peer unless CI=true).
test:
	$(GO) test -count=1 -timeout 20m ./...

## test-io_uring: the engine's, the network seam's and the hostile-client tests again on the io_uring
## backend.
.PHONY: test-io_uring
test-io_uring:
	GUST_IO=io_uring $(GO) test -count=1 -timeout 20m ./engine/ ./engine/network/... ./engine/hostile/

## race: the concurrent packages under the race detector.
race:
	$(GO) test -count=1 -race -timeout 30m $(RACE_PKGS)

## fuzz: every fuzz target of the module for FUZZTIME each (a duration, or a count such as 100000x;
## CI uses a count because of golang/go#75804, a spurious deadline failure in Go 1.26's fuzz coordinator).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: a quick side-by-side comparison of Gust and every installed peer broker, written to
## results/local/ (ignored by git): it never touches a tracked file.
bench:
	$(GO) run ./cmd/gust-bench --quick

## bench-publish: the standard comparison (every scenario, 3 repetitions), written into results/
## with results/README.md regenerated from it: the run the repository's headline quotes.
.PHONY: bench-publish
bench-publish:
	$(GO) run ./cmd/gust-bench --publish

## bench-durable: durable Gust vs Gust in memory vs Mosquitto with and without persistence (QoS 1 into persistent sessions, offline drain, retained churn).
.PHONY: bench-durable
bench-durable:
	$(GO) run ./cmd/gust-bench --quick --scenarios durable --target gust --target gust-disk --target mosquitto --target mosquitto-persist

## bench-cluster: the cluster group (cross-node p2p, fan-out over three nodes, same-node pairs) on one Gust node,
## three Gust nodes and three nats-server nodes (JetStream clustered, MQTT on each), 3 repetitions, medians.
.PHONY: bench-cluster
bench-cluster:
	$(GO) run ./cmd/gust-bench --scenarios cluster --target gust --target gust-cluster --target nats-cluster --reps 3

## cluster-scale: five gust serve --cluster processes hold 90,000 subscribers together (a process may open 20,000
## files here), one loader process per node; broadcasts published on the first node are counted at every
## subscriber, with RSS per connection per node. Heavy (about 2 GiB, a minute or two): not part of make test.
.PHONY: cluster-scale
cluster-scale:
	$(GO) run ./cmd/gust-bench --cluster-scale $(or $(SCALE_CONNS),90000) --cluster-nodes $(or $(SCALE_NODES),5)

## microbench: the Go benchmarks (codec, trie, engine) with allocation counts.
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./codec/... ./trie/... ./engine/...

## interop: only the tests that talk to real third-party clients.
interop:
	$(GO) test -count=1 -run 'Interop' ./...

## hostile: the hostile-client suite (engine/hostile) verbose, with every figure logged, each attack also
## run against Mosquitto for comparison, and the descriptor flood at the process's real limit.
hostile:
	GUST_HOSTILE_PEER=1 GUST_HOSTILE_FULL=1 $(GO) test -count=1 -v -timeout 30m ./engine/hostile

## crash: the kill -9 tests (engine/crash: retained, queued) with 1000 kills instead of make test's 20; CRASH_FSYNC=10ms
## reports what a window may lose.
CRASH_FSYNC ?= always
crash:
	GUST_CRASH_KILLS=1000 GUST_CRASH_FSYNC=$(CRASH_FSYNC) $(GO) test -count=1 -v -timeout 60m -run 'TestKillRetained|TestKillQueued' ./engine/crash

## recovery: recovery time with 1M retained messages and 100k persistent sessions holding 1M queued
## messages (time to listening, RSS), and disk space before, at the peak and after queues drain.
.PHONY: recovery
recovery:
	GUST_RECOVERY_FULL=1 $(GO) test -count=1 -v -timeout 30m -run 'TestRecoveryTime|TestSpaceReclaim' ./engine/crash

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VER)

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## tidy: go.mod and go.sum list exactly what the module needs.
tidy:
	$(GO) mod tidy -diff

staticcheck: $(BIN)/staticcheck
	$(BIN)/staticcheck ./...

## cross: the module builds off Linux. The broker runs on Linux only (`gust serve` says so and
## exits elsewhere); the load generator (kqueue), codec and trie are meant for macOS too. FreeBSD
## is vetted without engine, whose tests use Linux's unsigned rlimit fields.
cross:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=darwin GOARCH=amd64 $(GO) build ./...
	GOOS=freebsd GOARCH=amd64 $(GO) build ./...
	GOOS=freebsd GOARCH=amd64 $(GO) vet ./codec/... ./trie/... ./loadgen/... ./bench/... ./cmd/...

## lint: gofmt, go vet, go mod tidy, staticcheck (pinned, installed through the module proxy)
## and the cross-compile checks.
lint: fmt vet tidy staticcheck cross

check: lint test race

clean:
	rm -rf bin $(BIN)

## conformance: how many numbered MQTT statements are tagged in code and in tests.
SPEC_IDS ?= ../shared/mqtt-statements.txt
conformance:
	@test -f $(SPEC_IDS) || { echo "no $(SPEC_IDS)"; exit 1; }
	@mkdir -p .bin; awk '{print $$2}' $(SPEC_IDS) | sort -u > .bin/spec-ids
	@git ls-files '*.go' | grep -v '_test.go$$' | xargs grep -ohE 'MQTT-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+' | sort -u > .bin/code-ids
	@git ls-files '*_test.go' | xargs grep -ohE 'MQTT-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+' | sort -u > .bin/test-ids
	@echo "distinct statement ids: $$(wc -l < .bin/spec-ids)"
	@echo "tagged in code:  $$(comm -12 .bin/spec-ids .bin/code-ids | wc -l)"
	@echo "tagged in tests: $$(comm -12 .bin/spec-ids .bin/test-ids | wc -l)"

## release: bin/gust and bin/gust-bench for installing: -trimpath, symbols stripped, version and
## revision stamped (gust version prints them). CGO_ENABLED=0 gives a static binary.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
RELEASE_LDFLAGS := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
release:
	$(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o bin/gust ./cmd/gust
	$(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o bin/gust-bench ./cmd/gust-bench

## install: the release build into $(DESTDIR)$(PREFIX)/bin, the example configuration into
## $(DESTDIR)$(SYSCONFDIR)/gust/gust.toml (an existing one is kept) and the systemd unit into
## $(DESTDIR)$(SYSTEMDDIR). The unit runs as user gust: useradd --system --home-dir /var/lib/gust gust.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= /etc/systemd/system
install: release
	install -D -m 0755 bin/gust $(DESTDIR)$(PREFIX)/bin/gust
	install -D -m 0755 bin/gust-bench $(DESTDIR)$(PREFIX)/bin/gust-bench
	test -e $(DESTDIR)$(SYSCONFDIR)/gust/gust.toml || install -D -m 0644 packaging/gust.toml $(DESTDIR)$(SYSCONFDIR)/gust/gust.toml
	install -d -m 0755 $(DESTDIR)$(SYSTEMDDIR)
	sed -e 's|/usr/local/bin/gust|$(PREFIX)/bin/gust|' -e 's|/etc/gust/|$(SYSCONFDIR)/gust/|' \
	  packaging/gust.service > $(DESTDIR)$(SYSTEMDDIR)/gust.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/gust.service

## example-config: rewrite packaging/gust.toml from the flags of gust serve (make test fails
## while the committed file differs).
example-config:
	$(GO) test -count=1 -run '^TestExampleConfig$$' ./cmd/gust -update
