# Common tasks. `make test` is the project's one test command (see
# scripts/test.sh); CI runs it through .ci/run.

.PHONY: test build run vet docker

test:
	scripts/test.sh

build:
	CGO_ENABLED=1 go build -o meet ./cmd/meet

run:
	go run ./cmd/meet

vet:
	go vet ./...

# Needs a Docker engine (there is none on the development machines).
docker:
	docker build -t meet .
