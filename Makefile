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
.PHONY: help build test race lint fuzz bench demo demo-stop check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/lienthong
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/lienthong ./cli/lienthong

test: ## run every test (property tests, SIGKILL durability, end-to-end with real processes)
	$(GO) test -timeout 15m ./...

race: ## run every test under the race detector
	$(GO) test -race -timeout 20m ./...

$(BIN)/staticcheck:
	GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(BIN)/staticcheck ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for t in crdt:FuzzDecodeOp crdt:FuzzDecodeState node/dict:FuzzParseEntityType node/dict:FuzzParseDataset node/dict:FuzzValue transport:FuzzReadFrame node/member:FuzzDecodeMeta; do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-30s} || exit 1; done

bench: build ## durable write benchmark against raw Pebble, and the Go benchmarks
	$(BIN)/lienthong bench write
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./crdt ./storage ./node/data

check: lint test ## what CI runs

demo: build ## start a dev node with the sample dictionary and 10,000 citizens (stop: make demo-stop)
	@$(MAKE) -s demo-stop >/dev/null 2>&1 || true
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@$(BIN)/lienthong dev --dir $(DEMO_DIR)/node --api $(DEMO_API) --json > $(DEMO_DIR)/dev.json 2> $(DEMO_DIR)/node.log & echo $$! > $(DEMO_DIR)/pid
	@for i in $$(seq 1 100); do [ -s $(DEMO_DIR)/dev.json ] && break; \
	  kill -0 $$(cat $(DEMO_DIR)/pid) 2>/dev/null || { cat $(DEMO_DIR)/node.log; exit 1; }; sleep 0.1; done
	@export LIENTHONG_API=http://$(DEMO_API) LIENTHONG_TOKEN=$$(sed -E 's/.*"admin_token":"([^"]+)".*/\1/' $(DEMO_DIR)/dev.json); \
	  set -e; \
	  $(BIN)/lienthong gen citizen --count $(DEMO_COUNT) --seed 1 --out $(DEMO_DIR)/citizens.jsonl; \
	  $(BIN)/lienthong import population.identity $(DEMO_DIR)/citizens.jsonl --drop-other-fields; \
	  $(BIN)/lienthong import health.insurance $(DEMO_DIR)/citizens.jsonl --drop-other-fields; \
	  key=$$(head -1 $(DEMO_DIR)/citizens.jsonl | sed -E 's/^\{"key":"([0-9]+)".*/\1/'); \
	  echo; $(BIN)/lienthong get citizen $$key; echo; \
	  echo "A dev node is running (pid $$(cat $(DEMO_DIR)/pid), log $(DEMO_DIR)/node.log). Try:"; \
	  echo "  export LIENTHONG_API=$$LIENTHONG_API LIENTHONG_TOKEN=$$LIENTHONG_TOKEN"; \
	  echo "  $(BIN)/lienthong get citizen $$key --provenance"; \
	  echo "  $(BIN)/lienthong patch health.insurance $$key '{\"clinic_visits\":{\"increment\":1}}'"; \
	  echo "  $(BIN)/lienthong changes --since $$(( 2*$(DEMO_COUNT) - 3 ))"; \
	  echo "  $(BIN)/lienthong status"; \
	  echo "  curl -s -H \"Authorization: Bearer \$$LIENTHONG_TOKEN\" $$LIENTHONG_API/v1/entities/citizen/$$key"; \
	  echo "  curl -s -H \"Authorization: Bearer \$$LIENTHONG_TOKEN\" '$$LIENTHONG_API/v1/entities/citizen?limit=2'"; \
	  echo "  curl -sN -H \"Authorization: Bearer \$$LIENTHONG_TOKEN\" -H 'Accept: text/event-stream' $$LIENTHONG_API/v1/changes?since=$$(( 2*$(DEMO_COUNT) ))"; \
	  echo "Stop it with: make demo-stop"

demo-stop: ## stop the demo node
	@if [ -f $(DEMO_DIR)/pid ]; then kill $$(cat $(DEMO_DIR)/pid) 2>/dev/null || true; rm -f $(DEMO_DIR)/pid; echo "demo node stopped"; fi

clean: ## remove build output
	rm -rf $(BIN)
