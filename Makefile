# slipway: `make build` gives one static binary (the launcher embedded) in bin/.
GO ?= go
export CGO_ENABLED = 0
export GOFLAGS = -buildvcs=false
LDFLAGS = -s -w

.PHONY: build test e2e bench clean

# The launcher and the default builder's buildpacks are compiled first and embedded.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -trimpath -o internal/launcherbin/launcher ./cmd/launcher
	$(GO) run ./internal/defaultbuilder/gen internal/defaultbuilder/buildpacks
	$(GO) build -ldflags '$(LDFLAGS)' -trimpath -tags embedlauncher,embedassets -o bin/slipway ./cmd/slipway

# The whole suite: unit tests and end-to-end tests (real sandbox, registry, podman).
test: build
	$(GO) test -count=1 -timeout 45m ./...

clean:
	rm -rf bin internal/launcherbin/launcher internal/defaultbuilder/buildpacks
