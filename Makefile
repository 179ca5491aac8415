# SPDX-License-Identifier: GPL-2.0
#
# rnvmx: the two commands (see README.md)
#   make ab      build everything, run the nested selftests on both backends
#                in Bochs, print the A/B table and write out/ab.tsv
#   make check   everything the project tests (what .ci/run runs)
#
# Pieces: make deps | kernel | module | selftests | initramfs | cargo-test | lint
# Caches live in $(RNVMX_CACHE) (default ~/.cache/rnvmx).
# The kernel build reads this directory's Kbuild, not this Makefile.

RNVMX_CACHE ?= $(HOME)/.cache/rnvmx
export RNVMX_CACHE
KSRC := $(RNVMX_CACHE)/linux
KBUILD := $(RNVMX_CACHE)/kbuild
JOBS ?= $(shell nproc)
KMAKE = $(MAKE) -C $(KSRC) O=$(KBUILD) M=$(CURDIR) LLVM=1 CC="ccache clang" -j$(JOBS)
CARGO ?= cargo
# Debian's Python, which has python3-matplotlib (testbed/deps.sh) for out/ab.svg.
PYTHON ?= /usr/bin/python3

.PHONY: ab check deps kernel module module-clippy selftests initramfs testbed cargo-test \
	lint pytest check-fields check-patch check-dkms check-extable fresh-check bochs lockstep blobs core-share patch-cost clean

ab: testbed
	$(PYTHON) testbed/ab.py

check: deps cargo-test lint pytest check-patch testbed module-clippy check-fields check-imports \
	check-extable check-dkms core-share
	$(PYTHON) testbed/ab.py --check

testbed: kernel module selftests initramfs bochs

# Debian's Bochs with the test bed's VMX interrupt-mask fix (testbed/bochs/).
bochs: deps
	$(PYTHON) testbed/bochs-fix.py /usr/bin/bochs-bin $(RNVMX_CACHE)/bochs-bin

deps:
	testbed/deps.sh

kernel: deps
	testbed/kernel.sh

module: kernel
	+$(KMAKE) modules

# Same build with clippy-driver as the compiler, as the kernel's CLIPPY=1.
module-clippy: module
	+$(KMAKE) CLIPPY=1 modules
	+$(KMAKE) modules

selftests: kernel
	testbed/selftests.sh

initramfs: module selftests
	testbed/initramfs.sh

cargo-test:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check $(filter-out rust/bindings_generated.rs,$(wildcard rust/*.rs)) fuzz/fuzz_targets/*.rs
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The fuzz targets (their own workspace; libFuzzer needs g++) build against the core.
	$(CARGO) check --manifest-path fuzz/Cargo.toml --bins

pytest:
	$(PYTHON) -m unittest discover -s testbed -p 'test_*.py'

# `cargo run --example vmcs-fields` equals KVM's vmcs12_field_offsets[].
check-fields: kernel
	$(PYTHON) testbed/check-fields.py

check-patch: deps
	testbed/check-patch.sh

# DKMS builds and installs rnvmx for the test-bed kernel; modinfo is complete.
check-dkms: kernel
	testbed/check-dkms.sh

# rnvmx.ko uses no nested.c function but get_vmx_mem_address().
check-imports: module
	testbed/check-imports.sh

# Every VMX instruction in rnvmx.ko has an exception-table fixup (as KVM's).
check-extable: module
	$(PYTHON) testbed/check-extable.py

# How much of the Rust is the hardware-independent core (printed; goal 70 %),
# and the module structure: no import cycle in rust/, vmcs/ below nested/.
core-share:
	$(PYTHON) testbed/core-share.py
	$(PYTHON) testbed/module-deps.py

# nested_lockstep_test on both backends, compared case by case:
#   make lockstep LOCKSTEP=SEED,CASES,FIRST[,FAMILIES]   (cases per family;
#   FAMILIES a mask: 1 entry, 2 insn, 4 chain, default 7). A long run, e.g.
#   LOCKSTEP=7,112000,0,4 (about 10^6 VM entries per backend), also needs
#   RNVMX_TIMEOUTS=nested_lockstep_test=SECONDS and RNVMX_BOOT_TIMEOUT.
LOCKSTEP ?= 1,4096,0
lockstep: testbed
	$(PYTHON) testbed/ab.py --tests nested_lockstep_test --lockstep $(LOCKSTEP) --check

# nested_state_blob_test on both backends, compared case by case:
#   make blobs BLOBS=SEED,CASES,FIRST   (CASES=1: that case's log)
BLOBS ?= 1,8192,0
BLOBS_TIMEOUT ?= 3600
blobs: testbed
	RNVMX_TIMEOUTS=nested_state_blob_test=$(BLOBS_TIMEOUT) \
		$(PYTHON) testbed/ab.py --tests nested_state_blob_test --blobs $(BLOBS) --check

# The host patch's own cost on the C backend: C boots with kvm-intel.ko
# built from the unpatched and the patched tree, a table of the nested
# benchmarks (Documentation/nested-flow.md "Cost"); RNVMX_PCOST_RUNS boots each.
patch-cost: testbed
	testbed/patch-cost.sh

# The README's `make ab` in a debootstrap root with only its prerequisites
# (long: a cold kernel build; not part of check).
fresh-check:
	testbed/fresh-check.sh

clean:
	-$(KMAKE) clean
	$(CARGO) clean
	rm -rf out
