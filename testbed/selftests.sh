#!/usr/bin/env bash
# Build the nested KVM selftests (static) from the patched tree, and the
# project's own helpers from selftests/, into $CACHE/selftests.
. "$(dirname "$0")/lib.sh"

ST=$CACHE/selftests
mkdir -p "$ST/x86_64"
targets=()
for t in $(test_names); do
	targets+=("$ST/x86_64/$t")
done
log "building ${#targets[@]} KVM selftests"
make -C "$KSRC/tools/testing/selftests/kvm" -j"$JOBS" OUTPUT="$ST" EXTRA_CFLAGS=-static \
	KHDR_INCLUDES="-isystem $KBUILD/usr/include" "${targets[@]}" >"$CACHE/selftests.log" 2>&1 ||
	{ tail -30 "$CACHE/selftests.log"; die "selftest build failed"; }
for c in "$TOP"/selftests/*.c; do
	out=$ST/$(basename "$c" .c)
	[ "$out" -nt "$c" ] && continue
	cc -static -O2 -Wall -Werror -isystem "$KBUILD/usr/include" -o "$out" "$c" ||
		die "cannot build $c"
done
log "selftests ready in $ST"
