# slipway: `make build` gives one static binary (the launcher embedded) in bin/.
GO ?= go
export CGO_ENABLED = 0
export GOFLAGS = -buildvcs=false
LDFLAGS = -s -w

.PHONY: build test fuzz e2e bench clean release

# The launcher and the default builder's buildpacks are compiled first and embedded.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -trimpath -o internal/launcherbin/launcher ./cmd/launcher
	$(GO) run ./internal/defaultbuilder/gen internal/defaultbuilder/buildpacks
	$(GO) build -ldflags '$(LDFLAGS)' -trimpath -tags embedlauncher,embedassets -o bin/slipway ./cmd/slipway

# The whole suite: unit tests and end-to-end tests (real sandbox, registry, podman), then a
# short fuzzing run of every parser of untrusted input. The e2e tests are one package per
# area (e2e/<area>); TESTP of them run at once: much of an e2e test's time is spent waiting
# (downloads, podman, registry round trips), so more packages than cores keep both busy.
# go test starts packages in the order given: the longest e2e packages first, so that no
# long one starts last and runs alone (the rest of ./... follows, deduplicated).
TESTP ?= 4
E2E_LONGEST_FIRST = ./e2e/python ./e2e/platforms ./e2e/golang ./e2e/java ./e2e/build ./e2e/classic ./e2e/nodejs
test: build
	$(GO) test -count=1 -p $(TESTP) -timeout 60m $(E2E_LONGEST_FIRST) ./...
	$(MAKE) fuzz

# Each fuzz target runs FUZZTIME (go test runs one target at a time); longer runs:
# make fuzz FUZZTIME=10m. New failing inputs land in the package's testdata/fuzz/.
FUZZTIME ?= 4s
FUZZ_TARGETS = \
	./untar:FuzzInto \
	./buildpack:FuzzReadDescriptor \
	./buildpack:FuzzReadLaunchTOML \
	./buildpack:FuzzReadLayerMetadataFile \
	./buildpack:FuzzValidatedNamesArePathSafe \
	./project:FuzzRead \
	./launch:FuzzAddEnvDir \
	./buildpacks/procfile:FuzzParse \
	./buildpacks/apt:FuzzParseAptfile \
	./buildpacks/ruby:FuzzParseLockfile \
	./buildpacks/java:FuzzParseManifest \
	./buildpacks/java:FuzzReadLayersIndex
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Static binaries for linux/amd64 and linux/arm64, a .deb of each, SHA256SUMS: dist/.
# VERSION=1.2.3 overrides the version (default: git describe).
release:
	GO=$(GO) scripts/release.sh

clean:
	rm -rf bin dist internal/launcherbin/launcher internal/defaultbuilder/buildpacks
