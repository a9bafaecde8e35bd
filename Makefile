# VmSandbox — everyday commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PREFIX      ?= /usr/local
CONFIGURATION ?= Release
DOTNET      ?= dotnet
OUT         := $(CURDIR)/out
BIN         := $(OUT)/bin
GUEST_DIR   := $(OUT)/share/vmsandbox/guest
KERNEL_DIR  := $(OUT)/kernel
MINIMAL_KERNEL := $(KERNEL_DIR)/vmlinux-minimal
AGENT_BIN   := $(OUT)/agent/vmsandbox-agent
CLI_BIN     := $(BIN)/vmsandbox
SHIM_BIN    := $(BIN)/containerd-shim-vmsandbox-v2
PUBLISH     := $(DOTNET) publish -c $(CONFIGURATION) -r linux-x64 --nologo -v quiet -p:DebugType=none

# Sources only: obj/ and bin/ hold files every build rewrites, which would make each target always stale.
sources      = $(shell find $(1) \( -name obj -o -name bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -print 2>/dev/null)
COMMON_SRC  := Directory.Build.props Directory.Packages.props global.json $(call sources,src/VmSandbox.Common src/VmSandbox.Interop)
AGENT_SRC   := $(COMMON_SRC) $(call sources,guest-agent src/VmSandbox.Ttrpc src/VmSandbox.Agent.Protocol src/VmSandbox.Oci src/VmSandbox.Seccomp) $(wildcard guest-agent/VmSandbox.Agent/Native/*.c)
CLI_SRC     := $(COMMON_SRC) $(call sources,src)
ALL_SRC     := $(CLI_SRC) $(call sources,guest-agent tests) VmSandbox.sln
SOLUTION_STAMP := $(OUT)/.solution-built

.PHONY: help setup build kernel guest FORCE test test-unit test-vm test-faults fuzz stress test-containerd test-e2e test-conformance lint bench install uninstall demo clean proto

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## Install what the project needs with apt-get (Debian 12; idempotent)
	@packaging/scripts/setup.sh

build: $(CLI_BIN) $(SHIM_BIN) guest $(SOLUTION_STAMP) ## Build everything: solution, NativeAOT CLI, shim and agent, guest image (incremental)

$(SOLUTION_STAMP): $(ALL_SRC)
	@$(DOTNET) build VmSandbox.sln -c $(CONFIGURATION) --nologo -v quiet -clp:ErrorsOnly
	@mkdir -p $(OUT) && touch $@

$(CLI_BIN): $(CLI_SRC)
	@echo "publish vmsandbox (NativeAOT)"
	@$(PUBLISH) src/VmSandbox.Cli -o $(OUT)/publish/cli
	@install -D -m 0755 $(OUT)/publish/cli/vmsandbox $@

$(SHIM_BIN): $(CLI_SRC)
	@echo "publish containerd-shim-vmsandbox-v2 (NativeAOT)"
	@$(PUBLISH) src/VmSandbox.Shim -o $(OUT)/publish/shim
	@install -D -m 0755 $(OUT)/publish/shim/containerd-shim-vmsandbox-v2 $@

$(AGENT_BIN): $(AGENT_SRC)
	@echo "publish vmsandbox-agent (NativeAOT)"
	@$(PUBLISH) guest-agent/VmSandbox.Agent -o $(OUT)/publish/agent
	@install -D -m 0755 $(OUT)/publish/agent/vmsandbox-agent $@

kernel: $(MINIMAL_KERNEL) ## Build the minimal guest kernel from Debian's linux-source (cached by input hash; cold: 10-15 min on 2 cores)

# build-kernel.sh decides (by the hash of its inputs) whether to compile or copy from the cache, and
# touches the copy only when it changed. Only `make kernel` and `make test` run it: `make guest`
# never compiles a kernel, it takes the minimal kernel when an earlier `make kernel` left one.
ifneq ($(filter kernel test,$(MAKECMDGOALS)),)
$(MINIMAL_KERNEL): FORCE
	@packaging/guest/build-kernel.sh $(KERNEL_DIR)
GUEST_KERNEL := $(MINIMAL_KERNEL)
else
GUEST_KERNEL := $(wildcard $(MINIMAL_KERNEL))
endif

FORCE:

guest: $(GUEST_DIR)/initramfs.img ## Build the guest image (Debian cloud kernel + initramfs with the agent; the minimal kernel too once `make kernel` built it)

$(GUEST_DIR)/initramfs.img: $(AGENT_BIN) packaging/guest/build-guest.sh packaging/guest/modules.list $(GUEST_KERNEL)
	@packaging/guest/build-guest.sh $(AGENT_BIN) $(GUEST_DIR) $(KERNEL_DIR)

# The fault, escape, hostile-guest, load, concurrency and fuzz tests carry the trait Category=Reliability
# and record what they tried in out/reliability/rows.jsonl; docs/reliability.md is rendered from it.
RELIABILITY_FILTER := Category=Reliability
REPORT_RELIABILITY := $(DOTNET) run --project tests/VmSandbox.Bench -c $(CONFIGURATION) --no-build -- reliability

test: setup kernel build ## Run all tests (unit, VM, containerd, then Docker end to end; the fault tests among them) and print one summary line
	@rm -f out/reliability/rows.jsonl
	@packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Unit tests/VmSandbox.Tests.Vm tests/VmSandbox.Tests.Containerd tests/VmSandbox.Tests.E2e; \
		rc=$$?; $(REPORT_RELIABILITY) || true; exit $$rc

test-faults: build ## Faults, escapes, hostile guests, load, concurrent calls and bounded fuzzing only; rewrites docs/reliability.md
	@rm -f out/reliability/rows.jsonl
	@TEST_FILTER='$(RELIABILITY_FILTER)' packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Unit tests/VmSandbox.Tests.Vm tests/VmSandbox.Tests.E2e; \
		rc=$$?; $(REPORT_RELIABILITY) || true; exit $$rc

fuzz: build ## Longer fuzzing than make test's: FUZZ_ITERATIONS inputs per target (default 200000); a crash found becomes a regression test
	@VMSANDBOX_FUZZ_ITERATIONS=$(or $(FUZZ_ITERATIONS),200000) TEST_FILTER='Category=Fuzz' packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Unit

test-unit: ## Unit tests only (no root, no VM)
	@packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Unit

test-vm: build ## VM tests: boot the real guest under QEMU
	@packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Vm

stress: build ## 300 short containers (the VM suite runs 16), 4 at once under load, every exit status and byte of output checked (STRESS=N)
	VMSANDBOX_STRESS=$(or $(STRESS),300) $(DOTNET) test tests/VmSandbox.Tests.Vm -c $(CONFIGURATION) --nologo --logger "console;verbosity=normal" \
		--filter 'FullyQualifiedName~ExitStatusStressTests.Short_containers_under_load'

test-containerd: build ## containerd end to end: a private containerd, ctr and CRI (as a kubelet) against runc's shim and ours (TEST_FILTER='Runtime!=vmsandbox': all but ours)
	@packaging/scripts/run-tests.sh tests/VmSandbox.Tests.Containerd

test-e2e: build ## End to end: a private dockerd, Testcontainers, the runc-parity table, podman (private store)
	@packaging/scripts/run-tests.sh tests/VmSandbox.Tests.E2e

test-conformance: build ## runc's and crun's own test suites vs vmsandbox and runc (slow; docs/conformance.md)
	@packaging/scripts/conformance.sh

lint: ## dotnet format check plus analyzers (warnings are errors)
	@$(DOTNET) format VmSandbox.sln --verify-no-changes --exclude '**/Generated/**'
	@$(DOTNET) build VmSandbox.sln -c $(CONFIGURATION) --nologo -v quiet -clp:ErrorsOnly --no-incremental

bench: build ## Benchmarks; results go to docs/performance.md (BENCH_ARGS="--only density --runs 1 --idle 3"; the first of a repeated option wins)
	@$(DOTNET) run --project tests/VmSandbox.Bench -c $(CONFIGURATION) -- $(BENCH_ARGS) --vmsandbox $(CLI_BIN) --guest-dir $(GUEST_DIR) --out docs/performance.md

install: build ## Install under PREFIX (default /usr/local) and register the runtime with Docker
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/vmsandbox/guest
	install -m 0755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/vmsandbox
	install -m 0755 $(SHIM_BIN) $(DESTDIR)$(PREFIX)/bin/containerd-shim-vmsandbox-v2
	install -m 0644 $(GUEST_DIR)/vmlinuz $(GUEST_DIR)/initramfs.img $(GUEST_DIR)/manifest.json $(DESTDIR)$(PREFIX)/share/vmsandbox/guest/
	@# The minimal kernel and its initramfs when built (make kernel); the runtime prefers them.
	@rm -f $(DESTDIR)$(PREFIX)/share/vmsandbox/guest/vmlinuz-minimal $(DESTDIR)$(PREFIX)/share/vmsandbox/guest/vmlinux-minimal $(DESTDIR)$(PREFIX)/share/vmsandbox/guest/initramfs-minimal.img
	@if [ -f $(GUEST_DIR)/vmlinux-minimal ]; then install -m 0644 $(GUEST_DIR)/vmlinux-minimal $(GUEST_DIR)/initramfs-minimal.img $(DESTDIR)$(PREFIX)/share/vmsandbox/guest/; fi
	@# Into /etc/docker/daemon.json (merged, backed up) and a dockerd reload; not for staged installs.
	@if [ -z "$(DESTDIR)" ]; then $(PREFIX)/bin/vmsandbox install --docker; fi

uninstall: ## Unregister from Docker and remove what install put under PREFIX
	@if [ -z "$(DESTDIR)" ] && [ -x $(PREFIX)/bin/vmsandbox ]; then $(PREFIX)/bin/vmsandbox uninstall --docker; $(PREFIX)/bin/vmsandbox pool drain; fi
	rm -f $(DESTDIR)$(PREFIX)/bin/vmsandbox $(DESTDIR)$(PREFIX)/bin/containerd-shim-vmsandbox-v2
	rm -rf $(DESTDIR)$(PREFIX)/share/vmsandbox

demo: setup build install ## Set up, build, install, then `docker run --runtime=vmsandbox … uname -a`
	@$(PREFIX)/bin/vmsandbox check || true
	@echo
	@packaging/scripts/demo.sh

proto: ## Regenerate the protobuf C# code under */Generated/ (protoc from the Grpc.Tools package)
	@packaging/scripts/gen-proto.sh

clean: ## Remove build outputs (the kernel cache in ~/.cache/vmsandbox stays: downloads and built kernels)
	rm -rf $(OUT)
	find . -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
