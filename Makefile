# keyha: `make demo` and `make test` are the two commands a new user needs (see README.md).
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/keyha

.PHONY: build test unit demo bench setup lab-up lab-down clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/keyha

setup:
	scripts/setup

# Unit and integration tests. Integration tests bring the lab up themselves (root + packages);
# packages run one at a time because the lab's namespaces are one per machine.
test: build
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 60m ./...

unit:
	$(GO) test -short -count=1 ./...

demo: setup build
	scripts/demo

bench: setup build
	scripts/bench/run

lab-up: build
	scripts/lab up

lab-down:
	scripts/lab down

clean:
	rm -rf bin
