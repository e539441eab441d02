# authd — `make help` lists the targets.
SHELL := /bin/bash
GO_TOOL := go tool -modfile=tools/go.mod
ADDR ?= :8080

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

TS := clients/typescript

# npm packages come from the committed lockfile.
$(TS)/node_modules/.package-lock.json: $(TS)/package-lock.json
	npm ci --prefix $(TS) --no-audit --no-fund --loglevel=error

# The example page (examples/web): its npm packages from its own lockfile,
# bundled by esbuild into examples/web/dist (not committed), which authd
# serves at /example/ in development.
EXAMPLE := examples/web
$(EXAMPLE)/node_modules/.package-lock.json: $(EXAMPLE)/package-lock.json
	npm ci --prefix $(EXAMPLE) --no-audit --no-fund --loglevel=error

$(EXAMPLE)/dist/index.html: $(EXAMPLE)/node_modules/.package-lock.json $(TS)/node_modules/.package-lock.json \
		$(wildcard $(EXAMPLE)/src/*) $(EXAMPLE)/tsconfig.json $(EXAMPLE)/package.json $(TS)/src/index.ts $(TS)/src/schema.gen.ts
	npm --prefix $(EXAMPLE) run --silent build

.PHONY: example
example: $(EXAMPLE)/dist/index.html ## Build the example page into examples/web/dist (served at /example/ by make run)

.PHONY: generate
generate: $(TS)/node_modules/.package-lock.json ## Regenerate gen/ (oapi-codegen, sqlc) and the TypeScript types
	$(GO_TOOL) oapi-codegen -config gen/api/oapi-codegen.yaml openapi.yaml
	$(GO_TOOL) oapi-codegen -config gen/client/oapi-codegen.yaml openapi.yaml
	$(GO_TOOL) sqlc generate
	npm --prefix $(TS) run --silent generate

.PHONY: verify
verify: generate lint lint-spec ## Fail on stale generated code, lint findings or an unversioned breaking API change
	@git diff --exit-code -- gen/ $(TS)/src/schema.gen.ts || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/ $(TS)/src/)" || { git status --porcelain -- gen/ $(TS)/src/; echo "untracked generated files"; exit 1; }
	.ci/breaking-change-gate

.PHONY: lint-spec
lint-spec: $(TS)/node_modules/.package-lock.json ## Lint openapi.yaml with Redocly (zero errors and warnings)
	npm --prefix $(TS) run --silent lint:spec

.PHONY: lint
lint: ## gofmt over the whole tree, go vet, and golangci-lint with .golangci.yml (zero findings)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	go vet ./...
	go tool -modfile=tools/golangci-lint/go.mod golangci-lint run ./...

.PHONY: run
run: example ## Start authd in development on $(ADDR): DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded one (data in .data/)
	@echo "authd: docs at http://localhost$(ADDR)/docs, example page at http://localhost$(ADDR)/example/"
	@# Built, then run, not `go run`: go run exits 1 on Ctrl-C whatever authd
	@# answers, and authd exits 0 after a clean shutdown.
	go build -o bin/authd-dev ./cmd/authd
	@# The example page is its own redirect_to for a federated login.
	AUTHD_ENV=development AUTHD_ADDR=$(ADDR) AUTHD_REDIRECT_URLS="$${AUTHD_REDIRECT_URLS:-http://localhost$(ADDR)/example/}" exec bin/authd-dev serve

.PHONY: build
build: ## Build bin/authd
	go build -trimpath -o bin/authd ./cmd/authd

# The container image: a static binary on an empty base, assembled by
# tools/image (go-containerregistry) with no daemon and no base image to pull.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE := bin/authd-image.tar

.PHONY: image
image: ## Build the container image bin/authd-image.tar (docker load / podman load) without a daemon
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/image/authd ./cmd/authd
	go -C tools/image run . -binary $(CURDIR)/bin/image/authd -out $(CURDIR)/$(IMAGE) \
		-version $(VERSION) -revision $(REVISION) -created $$(git log -1 --format=%ct 2>/dev/null || echo 0) -arch $$(go env GOARCH)

# Fuzz targets as Name:package:inputs. `make test` runs each for that many
# inputs (a few seconds; a count, not a duration, because a duration can end
# mid-input and fail with "context deadline exceeded"); `make fuzz` runs each
# for FUZZTIME.
FUZZ_TARGETS := FuzzCheck:./server/jsonguard:100000 FuzzPolicy:./server/password:60000 FuzzVerifyStoredHash:./server/password:20000 FuzzVerify:./server/token:30000
FUZZTIME ?= 1m

.PHONY: deps
deps: ## Install what `make test` needs (apt-get as root, else the command to run) and start PostgreSQL and Redis
	@.ci/ensure-test-deps

.PHONY: test
test: deps $(TS)/node_modules/.package-lock.json example build image ## Run every test (Go, each fuzzer briefly, breaking-change gate, TypeScript client) against a real PostgreSQL
	.ci/with-postgres go test -race -count=1 ./...
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r name pkg n <<< "$$t"; \
		echo "fuzz $$name for $$n inputs"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $${n}x $$pkg; \
	done
	.ci/test-breaking-change-gate
	go tool -modfile=tools/promtool/go.mod promtool check rules docs/alerts.yml
	go -C tools/manifests test -count=1 ./...   # deploy/: Kubernetes manifests and compose.yaml
	AUTHD_BIN=$(CURDIR)/bin/authd .ci/with-postgres npm --prefix $(TS) test
	AUTHD_IMAGE=$(CURDIR)/$(IMAGE) .ci/with-postgres go -C tools/image test -count=1 ./...

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 1m)
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r name pkg n <<< "$$t"; \
		echo "fuzz $$name for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# The harness's flags for make bench and make bench-compare, e.g.
# BENCH_FLAGS="-turn-time 1s" for a quick, noisier look.
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Run the benchmarks (the login flood once: each run is 200 logins)
	.ci/with-postgres go test -run '^$$' -bench . -benchmem -count=1 ./...
	.ci/with-postgres go run ./bench $(BENCH_FLAGS)   # authd against its ceilings, in turns; writes bench/results.md

.PHONY: bench-compare
bench-compare: ## Measure authd at BASE against the working tree's, in alternating turns (BASE=HEAD~1)
	@test -n "$(BASE)" || { echo "bench-compare: name the commit to compare with, e.g. make bench-compare BASE=HEAD~1"; exit 1; }
	.ci/with-postgres go run ./bench -compare '$(BASE)' $(BENCH_FLAGS)

.PHONY: soak
soak: ## Five minutes of mixed traffic at 200 requests/s: 5xx count, latency and RSS over time (not in CI)
	.ci/with-postgres go run ./bench -soak 5m -rate 200
