# leci — build, test, demo and benchmarks.
#   sudo make test   installs the prerequisites, builds, and runs every test
#   sudo make demo   runs the demo
SHELL := /bin/bash
# A failed test fails its recipe line even when piped (make soak).
.SHELLFLAGS := -o pipefail -c
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := bin/leci
# One set of build flags for every go command here (build, vet, tests, and
# the tests' own builds of leci, internal/testutil.BuildLeci): static and
# path-trimmed, as leci ships. Each package then compiles once per mode
# (plain, and race for unit tests and race-built daemons) and the build
# cache serves the rest; with a vet and tests built otherwise, a fresh
# machine compiled every dependency again for each.
export CGO_ENABLED := 0
export GOFLAGS := -trimpath
# leci-helper, the small program leci runs per container (log writer) and
# per group (sandbox process), built first and embedded into leci (package
# internal/helper) with its SHA-256, which names the file leci writes out.
# The overlay shows both to the leci build inside the package's directory
# without writing them there, so a later plain go build or go test embeds
# no stale copy.
HELPER := bin/leci-helper
HELPER_OVERLAY := bin/leci-helper.overlay.json
# A count, not a duration: Go 1.26's fuzz coordinator may fail a run whose
# duration ends while a worker is mid-input ("context deadline exceeded",
# go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 40000x
# package:fuzzer pairs run by `make fuzz`, each for FUZZTIME executions.
FUZZERS := ./api:FuzzDecodeRPC ./api:FuzzDecodeJSON ./api:FuzzDecodeYAML ./api:FuzzValidate
# Seeds per backend of the chaos test in `make soak` (`make test` runs 4 on
# containerd and 1 on Docker: CI_CHAOS_SEEDS_*).
LECI_CHAOS_SEEDS ?= 50
# Create → run → delete cycles per backend of the soak in `make soak`
# (`make test` runs the CI-sized soak: integration/soak_test.go).
LECI_SOAK_CYCLES ?= 10000

.PHONY: all build build-node deps lint unit fuzz integration soak test test-cluster cluster cluster-build-start cluster-prebuild bench demo clean require-root

all: build

build:
	$(GO) build -ldflags "-s -w" -o $(HELPER) ./internal/helper/cmd/leci-helper
	sha256sum $(HELPER) | cut -d' ' -f1 >$(HELPER).sha256
	printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' \
		"$(CURDIR)/internal/helper/bin/leci-helper" "$(CURDIR)/$(HELPER)" \
		"$(CURDIR)/internal/helper/bin/leci-helper.sha256" "$(CURDIR)/$(HELPER).sha256" >$(HELPER_OVERLAY)
	$(GO) build -overlay $(HELPER_OVERLAY) -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/leci

# Installs containerd, runc, the CNI plugins, busybox-static, ... from the
# distribution's packages; does nothing when they are all there.
deps: require-root
	hack/install-deps.sh

# With the integration tag, vet sees every file (no file is built only
# without it), so one vet run does.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet -tags integration ./...

# internal/helper twice: as go test ./... builds it (no leci-helper embedded)
# and as make build builds leci (embedded).
# Unit tests run under the race detector: concurrency is checked there.
unit: build
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -overlay $(HELPER_OVERLAY) ./internal/helper/

fuzz:
	@for pf in $(FUZZERS); do \
		pkg=$${pf%%:*}; fuzzer=$${pf##*:}; \
		echo "fuzz $$pkg $$fuzzer for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fuzzer\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 500x || exit 1; \
	done

# Privileged end-to-end tests against a real containerd, runc, CNI plugins
# and registries. One package at a time: they share the host's kernel state.
# Every package runs on containerd (runtime/docker's own tests start their
# dockerd); then the group suite (./integration) runs again on a dockerd it
# starts itself (LECI_TEST_RUNTIME=docker, see the README's "Backends"),
# with every leci the tests start, daemons included, built with the race
# detector (LECI_RACE=1); a race it reports fails the run. (The tests' own
# binary under -race as well made this pass take 18 minutes on a two-core
# machine, beyond what make test may take.)
# The Docker pass leaves out the tests of the network manager alone
# (DOCKER_PASS_SKIP: no runtime takes part in them, and the containerd pass
# runs them).
# The soak's figures (see soak) are written to bin/soak-RUNTIME.txt and shown.
# make test's soak runs 300 cycles on each backend: on two cores some 7
# cycles a second on containerd and 2.5 on Docker (race-built daemons),
# about 40 s and two minutes. The chaos test's seeds, five in all,
# are sized to keep make test within 25 minutes, most on containerd: one
# seed on Docker takes about a minute (twenty groups of three containers
# each, made, resumed and deleted by a race-built daemon), one on
# containerd 10 to 40 s.
CI_SOAK_CYCLES_CONTAINERD ?= 300
CI_SOAK_CYCLES_DOCKER ?= 300
CI_CHAOS_SEEDS_CONTAINERD ?= 4
CI_CHAOS_SEEDS_DOCKER ?= 1
DOCKER_PASS_SKIP := ^TestNetwork(SetupTeardown100Cycles|GCAfterCrash|DualStack|IPv6NotConfigured)$$
integration: require-root build
	LECI_SOAK_CYCLES=$(CI_SOAK_CYCLES_CONTAINERD) LECI_CHAOS_SEEDS=$(CI_CHAOS_SEEDS_CONTAINERD) LECI_SOAK_REPORT=$(CURDIR)/bin/soak-containerd.txt LECI_TEST_RUNTIME=containerd $(GO) test -count=1 -p 1 -tags integration -timeout 30m ./...
	@cat bin/soak-containerd.txt
	LECI_SOAK_CYCLES=$(CI_SOAK_CYCLES_DOCKER) LECI_CHAOS_SEEDS=$(CI_CHAOS_SEEDS_DOCKER) LECI_SOAK_REPORT=$(CURDIR)/bin/soak-docker.txt LECI_RACE=1 LECI_TEST_RUNTIME=docker $(GO) test -count=1 -p 1 -tags integration -timeout 30m -skip '$(DOCKER_PASS_SKIP)' ./integration/
	@cat bin/soak-docker.txt

# The soak: LECI_SOAK_CYCLES create → run → delete cycles through the
# daemon, five at a time, beside fifty steady groups with probes, then the
# daemon's files, goroutines and memory and every host object counted
# against the start (figures printed). Then the chaos test: a daemon
# killed (SIGKILL) at a random moment of twenty concurrent creates, started
# again, every group checked and deleted, LECI_CHAOS_SEEDS times. Each on
# every backend of SOAK_RUNTIMES (a long run: `make soak SOAK_RUNTIMES=docker`
# runs one); each seed is logged, LECI_CHAOS_SEED=n runs one again. The
# soak's figures, and the daemon's heap profiles and smaps at its start and
# end, are kept in bin/soak-long-RUNTIME*.txt.
SOAK_RUNTIMES ?= containerd docker
soak: require-root build
	for rt in $(SOAK_RUNTIMES); do \
	  LECI_SOAK_CYCLES=$(LECI_SOAK_CYCLES) LECI_SOAK_REPORT=$(CURDIR)/bin/soak-long-$$rt.txt LECI_TEST_RUNTIME=$$rt $(GO) test -v -count=1 -tags integration -timeout 48h -run '^TestSoak$$' ./integration/ | grep -E '^(soak:|--- |ok|FAIL|PASS)' || exit 1; \
	  LECI_CHAOS_SEEDS=$(LECI_CHAOS_SEEDS) LECI_TEST_RUNTIME=$$rt $(GO) test -count=1 -tags integration -timeout 6h -run '^TestDaemonKilledAtRandomDuringCreates$$' ./integration/ || exit 1; \
	done

# The cluster's kube-apiserver and kubectl build (minutes on a fresh machine)
# runs in the background, at the lowest CPU priority, while the integration
# passes run: they leave a core idle much of the time, and take it back
# whenever they need it. cluster then waits for the build and runs the
# cluster tests.
test: deps build lint unit fuzz cluster-build-start integration cluster

# leci hosts as nodes of a real Kubernetes cluster: etcd and a kube-apiserver
# built from k8s.io/kubernetes by hack/kube-cluster.sh (its build cache is
# kept under /var/cache/leci-kube: minutes cold, seconds warm), then the
# tests of build tags cluster and leci_node (integration/cluster_test.go) on
# containerd, with leci built with the node in (LECI_BUILD_TAGS).
# make test-cluster runs them alone.
#
# Once that build is done, the Go work of the cluster step (cluster-prebuild:
# its vets and race-built unit tests compile the Kubernetes client libraries
# twice, minutes on a fresh machine) runs in the background too, at the same
# priority, under a lock that cluster waits for: cluster then finds it in the
# build cache. Only the compiling is done ahead: cluster runs every command
# itself, and any failure shows there.
CLUSTER_PREBUILD_LOCK := bin/cluster-prebuild.lock
cluster-build-start:
	GO="$(GO)" hack/kube-cluster.sh build-start
	@mkdir -p bin
	nohup flock $(CLUSTER_PREBUILD_LOCK) nice -n 19 bash -c 'GO="$(GO)" hack/kube-cluster.sh build-wait; $(MAKE) --no-print-directory cluster-prebuild' \
		>bin/cluster-prebuild.log 2>&1 </dev/null &

cluster-prebuild:
	$(GO) vet -tags leci_node ./node/ ./cmd/leci/
	$(GO) vet -tags integration,cluster,leci_node ./integration/
	CGO_ENABLED=1 $(GO) test -race -count=1 -run '^$$' -tags leci_node ./node/ ./cmd/leci/

cluster: require-root
	@mkdir -p bin
	@start=$$SECONDS; flock $(CLUSTER_PREBUILD_LOCK) true; \
		echo "cluster: the background compiling was done after $$((SECONDS - start)) s of waiting"
	$(GO) vet -tags leci_node ./node/ ./cmd/leci/
	$(GO) vet -tags integration,cluster,leci_node ./integration/
	CGO_ENABLED=1 $(GO) test -race -count=1 -tags leci_node ./node/ ./cmd/leci/
	GO="$(GO)" hack/kube-cluster.sh build-wait
	LECI_BUILD_TAGS=leci_node LECI_TEST_RUNTIME=containerd $(GO) test -count=1 -p 1 -tags integration,cluster,leci_node -timeout 20m -run '^TestCluster' ./integration/

test-cluster: require-root deps build cluster

# leci with the Kubernetes node built in (package node, leci daemon
# --kubeconfig): the client libraries it needs double the binary and add
# tens of milliseconds to every leci start, so the default build leaves it out.
build-node: build
	$(GO) build -tags leci_node -overlay $(HELPER_OVERLAY) -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/leci

# The speed requirement's cases, each in turns with ctr run (docker run) on
# the same runtime, medians against the targets, and where the time goes:
# see hack/bench.sh. As root; BENCHTIME (10x), RUNTIMES ("containerd
# docker") and BENCH pass through the environment.
bench:
	GO="$(GO)" hack/bench.sh

# Runs a real group: see hack/demo.sh.
demo: require-root deps build
	hack/demo.sh

require-root:
	@if [ "$$(id -u)" -ne 0 ]; then echo "this target needs root: run it with sudo" >&2; exit 1; fi

clean:
	rm -rf bin
