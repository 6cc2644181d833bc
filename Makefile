# pdfqa — see README.md. Two commands matter to a new user:
#   make demo   set everything up and run the main job on the embedded default
#   make test   run every test
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := $(CURDIR)/.bin
MODULES := $(shell go list -m -f '{{.Path}}' 2>/dev/null)
PKGS := $(addsuffix /...,$(MODULES))
GOFILES = $(shell git ls-files '*.go' | grep -v '^gen/')

.PHONY: all build tools generate check-generated ui check-ui lint breaking test test-go test-py fuzz setup setup-serve setup-train demo clean bench models

all: build

build:
	go build -o bin/pdfqa ./cmd/pdfqa

# Derived models in the cache: the static embedding table distilled from
# MiniLM (once per machine, a few minutes; later runs return at once).
models: build
	bin/pdfqa models

# Code generators and linters, pinned in tools/go.mod and tools/buf/go.mod.
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/staticcheck
$(BIN)/protoc-gen-go $(BIN)/staticcheck: tools/go.mod tools/go.sum
	GOWORK=off go build -C tools -o $(BIN)/ \
	  google.golang.org/protobuf/cmd/protoc-gen-go \
	  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
	  honnef.co/go/tools/cmd/staticcheck
$(BIN)/buf: tools/buf/go.mod tools/buf/go.sum
	GOWORK=off go build -C tools/buf -o $(BIN)/ github.com/bufbuild/buf/cmd/buf

generate: tools
	$(BIN)/buf generate
	gofmt -w gen

# Generated code is committed; fail when it is stale.
check-generated: generate
	@git diff --exit-code --stat -- gen || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen)" || { git status --porcelain -- gen; echo "gen/ has untracked generated files"; exit 1; }

# The web UI's assets (services/gateway/webui/dist, embedded by the gateway)
# are built from its src/ by tools/webui (esbuild's Go API; PDF.js from the
# pdfjs-dist version and sha512 pinned there, fetched once with npm pack into
# the cache) and committed, so `make build` needs no node.
ui: $(BIN)/webui
	$(BIN)/webui -dir services/gateway/webui
$(BIN)/webui: tools/go.mod tools/go.sum tools/webui/main.go
	GOWORK=off go build -C tools -o $(BIN)/ ./webui

check-ui: ui
	@git diff --exit-code --stat -- services/gateway/webui/dist || { echo "webui dist/ is stale: run 'make ui' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- services/gateway/webui/dist)" || { git status --porcelain -- services/gateway/webui/dist; echo "webui dist/ has uncommitted files"; exit 1; }

lint: tools
	@out=$$(gofmt -l $(GOFILES)); test -z "$$out" || { echo "gofmt needed: $$out"; exit 1; }
	go vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)
	$(BIN)/buf lint

# Contracts may only change compatibly (WIRE_JSON) against the last landed main.
breaking: tools
	scripts/buf-breaking.sh $(BIN)/buf

# What serving needs (system packages, the engine, the models) and, for the
# tests and fine-tuning, the training venv (torch, peft; 4.9 GB), PostgreSQL
# and SeaweedFS (the S3 server the blob store's s3:// path is tested against).
setup-serve:
	scripts/setup/system.sh
	scripts/setup/build-engine.sh >/dev/null
	scripts/setup/fetch-models.sh >/dev/null

setup: setup-serve setup-train
	scripts/setup/all.sh
	scripts/setup/postgres.sh
	scripts/setup/s3.sh

# Only fine-tuning (pdfqa finetune, the trainer) needs the training venv.
setup-train:
	scripts/setup/venv.sh >/dev/null

test-go:
	go test -count=1 -timeout 20m $(PKGS)

test-py:
	scripts/test-python.sh

# The OpenAI-compatible API and the MCP server under real third-party clients.
test-clients: build
	scripts/test-clients.sh

fuzz:
	scripts/fuzz-short.sh

test: lint check-generated check-ui breaking setup build models test-go test-py test-clients fuzz
	@echo "make test: all suites passed"

bench: setup build models
	go run ./bench/cmd/meshbench

# Ingests samples/ and checks the cited answers; no PostgreSQL, no training venv
# (fetch-models.sh converts the embedding model in Go: internal/ggufconv).
demo: setup-serve build models
	scripts/demo.sh

clean:
	rm -rf bin .bin
