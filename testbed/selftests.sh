#!/usr/bin/env bash
# Build the nested KVM selftests (static) from the patched tree, and the
# project's own helpers from selftests/, into $CACHE/selftests.
. "$(dirname "$0")/lib.sh"

ST=$CACHE/selftests
mkdir -p "$ST/x86_64"
targets=()
for t in $(test_names) $(l1_test_names); do
	# The project's own tests on the KVM selftest library: built below.
	[ -f "$TOP/selftests/kvm/$t.c" ] || targets+=("$ST/x86_64/$t")
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
# Benchmarks that run a guest use the KVM selftest library built above.
# -mno-red-zone: their guest code's asm pushes onto the stack (and guest
# exceptions would too), which would overwrite what a leaf function keeps
# below its stack pointer (l2_io_l0's start time did, once the compiler put
# it there).
K=$KSRC/tools/testing/selftests/kvm
for c in "$TOP"/selftests/kvm/*.c; do
	out=$ST/$(basename "$c" .c)
	[ "$out" -nt "$c" ] && [ "$out" -nt "$0" ] && continue
	cc -static -O2 -mno-red-zone -std=gnu99 -D_GNU_SOURCE -DCONFIG_64BIT -fno-stack-protector -no-pie \
		-fno-builtin-memcmp -fno-builtin-memcpy -fno-builtin-memset -fno-builtin-strnlen \
		-I"$KSRC/tools/include" -I"$KSRC/tools/arch/x86/include" -isystem "$KBUILD/usr/include" \
		-I"$K/include" -I"$K/include/x86_64" -I"$K" -I"$K/.." -o "$out" "$c" \
		"$ST"/lib/*.o "$ST"/lib/x86_64/*.o -ldl -pthread || die "cannot build $c"
done
log "selftests ready in $ST"
