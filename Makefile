# authd — `make help` lists the targets.
SHELL := /bin/bash
GO_TOOL := go tool -modfile=tools/go.mod
ADDR ?= :8080

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate gen/api, gen/client (oapi-codegen) and gen/db (sqlc)
	$(GO_TOOL) oapi-codegen -config gen/api/oapi-codegen.yaml openapi.yaml
	$(GO_TOOL) oapi-codegen -config gen/client/oapi-codegen.yaml openapi.yaml
	$(GO_TOOL) sqlc generate

.PHONY: verify
verify: generate lint ## Fail when generated code is stale or lint fails
	@git diff --exit-code -- gen/ || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "untracked generated files"; exit 1; }

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l cmd server schema gen)" || { gofmt -l cmd server schema gen; echo "gofmt needed"; exit 1; }
	go vet ./...

.PHONY: run
run: ## Start authd on $(ADDR) against the local PostgreSQL
	@echo "authd: docs at http://localhost$(ADDR)/docs"
	AUTHD_ADDR=$(ADDR) go run ./cmd/authd serve

.PHONY: build
build: ## Build bin/authd
	go build -trimpath -o bin/authd ./cmd/authd

# Fuzz targets as "Name package"; `make test` runs each briefly, `make fuzz` longer.
FUZZ_TARGETS := FuzzCheck:./server/jsonguard FuzzPolicy:./server/password FuzzVerifyStoredHash:./server/password FuzzVerify:./server/token
FUZZTIME ?= 1m

.PHONY: test
test: ## Run every test against a real PostgreSQL (starts a throwaway one if none runs), then each fuzzer for 3 s
	.ci/with-postgres go test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 1m)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

.PHONY: bench
bench: ## Run the benchmarks (the login flood once: each run is 200 logins)
	.ci/with-postgres go test -run '^$$' -bench . -benchmem -count=1 ./...
