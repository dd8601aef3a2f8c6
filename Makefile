# lienthong: make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
STATICCHECK_VERSION := v0.8.2
DEMO_DIR ?= $(CURDIR)/bin/demo
DEMO_API ?= 127.0.0.1:7070
DEMO_COUNT ?= 10000
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/lienthong/lienthong/node.Version=$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help build test race lint alerts fuzz bench bench-quick gobench demo demo-stop dev check clean sim partition

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/lienthong
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/lienthong ./cli/lienthong

# One package at a time: the end-to-end tests run Raft with fast timers in
# real processes and must not share the two cores with the simulator's.
test: ## run every test (property tests, SIGKILL durability, end-to-end with real processes, simulator)
	$(GO) test -p 1 -timeout 15m ./...

race: ## run every test under the race detector
	$(GO) test -race -timeout 20m ./...

$(BIN)/staticcheck:
	GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(BIN)/staticcheck ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# A run that fails with only "context deadline exceeded" and writes no
# failing input is Go 1.26's fuzz coordinator race (golang/go#75804, fixed
# in Go 1.27), not a finding: it is reported as a flake, not a failure.
fuzz: ## run every fuzz target of every package for FUZZTIME each (default 30s); reports every failure
	@mkdir -p $(BIN); fails=""; flakes=""; n=0; \
	for pkg in $$($(GO) list ./...); do \
	  for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    n=$$((n+1)); echo "== $$pkg $$fn"; \
	    corpus="$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$fn"; before=$$(ls $$corpus 2>/dev/null | wc -l); \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-30s} 2>&1 | tee $(BIN)/fuzz.out; st=$${PIPESTATUS[0]}; \
	    if [ $$st -ne 0 ]; then \
	      if grep -q 'context deadline exceeded' $(BIN)/fuzz.out && [ "$$(ls $$corpus 2>/dev/null | wc -l)" = "$$before" ]; then \
	        flakes="$$flakes $$pkg:$$fn"; else fails="$$fails $$pkg:$$fn"; fi; \
	    fi; \
	  done; done; \
	if [ -n "$$flakes" ]; then echo "make fuzz: deadline flakes without a failing input (golang/go#75804):$$flakes"; fi; \
	if [ -n "$$fails" ]; then echo "make fuzz: failed:$$fails (the failing inputs are in each package's testdata/fuzz)"; exit 1; fi; \
	echo "make fuzz: $$n targets, no failure"

alerts: ## check the Prometheus alert rules in docs/monitoring and run their unit tests (needs promtool: apt-get install prometheus)
	@command -v promtool >/dev/null || { echo "make alerts: promtool not found; install it (Debian: apt-get install prometheus)"; exit 1; }
	promtool check rules docs/monitoring/alerts.yml
	cd docs/monitoring && promtool test rules alerts_test.yml

bench: build ## every benchmark against its reference (about 30 minutes on 2 cores): writes docs/benchmarks.md and docs/benchmarks.json
	$(BIN)/lienthong bench all --out docs/benchmarks.md --json docs/benchmarks.json

bench-quick: build ## a small version of make bench, for development (a few minutes; writes bin/benchmarks-quick.*)
	$(BIN)/lienthong bench all --quick --out $(BIN)/benchmarks-quick.md --json $(BIN)/benchmarks-quick.json

gobench: ## the Go benchmarks of the packages (crdt, storage, dictionary, metadata proposals)
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./crdt ./storage ./node/dict
	$(GO) test -run '^$$' -bench Propose -benchtime 300x ./node/control

SWARM_SEEDS ?= 200
sim: build ## run every simulator scenario on its seeds (reports in bin/sim) and swarm seeds 1-SWARM_SEEDS
	@set -e; for f in sim/scenarios/*.yaml; do \
	  n=$$(basename $$f .yaml); echo "== sim run $$n"; \
	  $(BIN)/lienthong sim run $$f --report $(BIN)/sim/$$n; done
	$(BIN)/lienthong sim swarm --seeds $(SWARM_SEEDS) --report $(BIN)/sim/swarm

# TestPartition cuts links between node processes with nftables: it needs
# root and nft (CI installs nftables). A run writes its test log to bin/partition.log.
PARTITION_RUNS ?= 5
partition: ## the partition test with real processes and nftables cuts, PARTITION_RUNS (5) runs in a row; needs root and nft
	@mkdir -p $(BIN); for i in $$(seq 1 $(PARTITION_RUNS)); do \
	  echo "== partition run $$i of $(PARTITION_RUNS)"; \
	  if ! LIENTHONG_PARTITION=1 $(GO) test ./cli -run '^TestPartition$$' -count=1 -v -timeout 5m >$(BIN)/partition.log 2>&1; then \
	    tail -60 $(BIN)/partition.log; echo "make partition: run $$i failed (whole log: $(BIN)/partition.log)"; exit 1; fi; \
	  grep -ho 'partition: acked=.*' $(BIN)/partition.log; \
	done; echo "make partition: $(PARTITION_RUNS) runs in a row passed"

check: lint alerts test sim ## lint, the alert rules, every test and the simulator (CI runs these, then make fuzz FUZZTIME=20s and make partition)

demo: build ## start a local federation (a seed, two provinces, a ministry) with sample data; make demo-stop ends it
	$(BIN)/lienthong demo up --dir $(DEMO_DIR) --count $(DEMO_COUNT)

demo-stop: ## stop the demo federation
	$(BIN)/lienthong demo stop --dir $(DEMO_DIR)

dev: build ## run a throwaway single-node federation with the sample dictionary, in the foreground
	$(BIN)/lienthong dev --listen-api $(DEMO_API)

clean: ## remove build output
	rm -rf $(BIN)
