# keyha: `make demo` and `make test` are the two commands a new user needs (see README.md).
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/keyha

.PHONY: build test lint unit race integration demo bench setup lab-up lab-down clean package

build:
	@scripts/need-go
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/keyha

setup:
	scripts/setup

# Linters, the unit tests under the race detector, then the integration tests on the real lab
# (root + packages; they bring the lab up themselves). Packages run one at a time: the lab's
# namespaces are one per machine. The agent and writer packages' integration tests run under -race,
# with the lab's agents race-built too (a race any agent reports fails the package): the agent
# package's lab runs without gossip, the writer package's with it.
test: build lint race integration

lint:
	scripts/lint

race:
	$(GO) test -race -short -count=1 ./...

RACE_LAB := ./agent ./writer

integration:
	$(GO) test -p 1 -count=1 -timeout 60m $$($(GO) list ./... | grep -v -e '/agent$$' -e '/writer$$')
	$(GO) test -race -p 1 -count=1 -timeout 30m $(RACE_LAB)

unit:
	$(GO) test -short -count=1 ./...

demo: setup build
	scripts/demo

bench: setup build
	scripts/bench/run

# The Debian package (bin/keyha_VERSION_ARCH.deb): binary, agent unit, example cluster file, docs,
# alert rules and dashboard (docs/deploy.md).
package:
	scripts/package

lab-up: build
	scripts/lab up

lab-down:
	scripts/lab down

clean:
	rm -rf bin
