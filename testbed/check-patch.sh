#!/usr/bin/env bash
# The host patch series applies with `patch -p1` to a fresh extract of
# Debian's linux-source-6.12, and checkpatch reports no error.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xf "$TARBALL" -C "$tmp" --strip-components=1 \
	linux-source-6.12/arch/x86/kvm linux-source-6.12/scripts/checkpatch.pl \
	linux-source-6.12/scripts/spelling.txt linux-source-6.12/scripts/const_structs.checkpatch
for p in "$TOP"/patches/*.patch; do
	patch -d "$tmp" -p1 -s --no-backup-if-mismatch < "$p" || die "$(basename "$p") does not apply"
done
out=$(perl "$tmp/scripts/checkpatch.pl" --no-tree --strict "$TOP"/patches/*.patch || true)
echo "$out" | grep -E '^total:'
echo "$out" | grep -qE '^total: 0 errors' || { echo "$out"; die "checkpatch reports errors"; }
log "patches apply to a fresh $(basename "$TARBALL"); checkpatch: no errors"
