# Shared settings for the rnvmx test-bed scripts (sourced, not run).
# shellcheck shell=bash
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RNVMX_CACHE:-$HOME/.cache/rnvmx}
KSRC=$CACHE/linux            # patched source tree; a fixed path keeps ccache keys stable
KBUILD=$CACHE/kbuild         # O= build directory
OUT=$TOP/out
JOBS=${JOBS:-$(nproc)}
TARBALL=${RNVMX_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_BASEDIR=$CACHE
export PATH=$HOME/.cargo/bin:$PATH
KMAKE=(make -C "$KSRC" O="$KBUILD" LLVM=1 CC="ccache clang" -j"$JOBS")

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
# The stock selftests of testbed/tests.txt L0 runs, one name a line, and
# those L1 runs (listed as l1/NAME), without the prefix.
test_names() { awk '!/^#/ && NF && $1 !~ /^(l1\/|qemu_migrate_)/ { print $1 }' "$TOP/testbed/tests.txt"; }
l1_test_names() { awk '!/^#/ && NF && $1 ~ /^l1\// && $1 != "l1/boot" { sub(/^l1\//, "", $1); print $1 }' "$TOP/testbed/tests.txt"; }
hash_of() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }
