#!/usr/bin/env bash
# The host patch's own cost on the C backend: kvm-intel.ko built from the
# patched tree and from the same tree with patches/ reversed, both out of
# tree against $KBUILD the same way (same compiler, flags, kvm.ko), each
# swapped into a copy of $CACHE/initrd.gz, and the C boot of testbed/ab.py
# run with each (the two boots in parallel, RUNS times), then a table of
# cycles per operation. Nothing in $KSRC or $KBUILD is written.
#   RNVMX_PCOST_DIR   work directory (default $CACHE/pcost)
#   RNVMX_PCOST_RUNS  boots per variant (default 1; the TSC is Bochs'
#                     instruction count: a round trip repeats within ~±5;
#                     0: build only)
#   RNVMX_BENCHES     benchmarks (default: the nested ones below)
# Needs `make module selftests initramfs` first ($CACHE/initrd.gz). Run it
# under the Bochs lock: flock /tmp/bochs.lock testbed/patch-cost.sh
. "$(dirname "$0")/lib.sh"

W=${RNVMX_PCOST_DIR:-$CACHE/pcost}
RUNS=${RNVMX_PCOST_RUNS:-1}
VARIANTS="unpatched patched"
export RNVMX_BENCHES=${RNVMX_BENCHES:-l2_vmcall,l2_cpuid,l2_vmcall_evmcs,l2_vmrw_noshadow,nested_state,l2_io_l0}
[ -f "$CACHE/initrd.gz" ] || die "no $CACHE/initrd.gz: make initramfs first"

# Everything the applied series touches must be under arch/x86/kvm (kvm.ko
# is built from the untouched files there too, so the stock one serves).
APPLIED=$KSRC/.rnvmx-applied
touched=$(sed -n 's|^+++ b/||p' "$APPLIED"/*.patch | sort -u)
for f in $touched; do
	case "$f" in arch/x86/kvm/vmx/* | arch/x86/kvm/Makefile) ;;
	*) die "the series touches $f, outside kvm-intel: not handled" ;;
	esac
done

# VARIANT: its source, $W/VARIANT/arch/x86/kvm, and the module built there.
build_variant() {
	local v=$1 d=$W/$1 m p
	m=$d/arch/x86/kvm
	rm -rf "$d"
	mkdir -p "$d/arch/x86"
	cp -a "$KSRC/arch/x86/kvm" "$d/arch/x86/"
	if [ "$v" = unpatched ]; then
		for p in $(ls -r "$APPLIED"/*.patch); do
			patch -d "$d" -p1 -R -s --no-backup-if-mismatch < "$p" || die "cannot reverse $p"
		done
	fi
	# kvm/Makefile as an external module's Kbuild: kvm-intel only, and
	# this copy's headers (x86.h, ...) instead of $KSRC's.
	sed -e "s|-I \$(srctree)/arch/x86/kvm|-I $m|" -e '/^obj-\$(CONFIG_KVM_X86)/d' \
		"$m/Makefile" > "$m/Kbuild"
	log "building $v kvm-intel.ko in $m"
	make -C "$KSRC" O="$KBUILD" M="$m" LLVM=1 CC="ccache clang" -j"$JOBS" modules \
		> "$d/build.log" 2>&1 ||
		{ tail -30 "$d/build.log"; die "$v: build failed (log: $d/build.log)"; }
	# Which one it is, from its symbols.
	# (Not grep -q: nm killed by SIGPIPE fails the pipe under pipefail.)
	if nm "$m/kvm-intel.ko" | grep ' kvm_vmx_register_nested_backend$' > /dev/null; then
		[ "$v" = patched ] || die "unpatched kvm-intel.ko has the backend hooks"
	else
		[ "$v" = unpatched ] || die "patched kvm-intel.ko lacks the backend hooks"
	fi
	# $CACHE/initrd.gz with this kvm-intel.ko, in a cache of its own for ab.py.
	rm -rf "$d/root" "$d/cache"
	mkdir -p "$d/root" "$d/cache"
	(cd "$d/root" && gzip -dc "$CACHE/initrd.gz" | cpio -id --quiet)
	cp "$m/kvm-intel.ko" "$d/root/lib/modules/kvm-intel.ko"
	(cd "$d/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$d/cache/initrd.gz")
	rm -rf "$d/root"
	ln -s "$KBUILD" "$d/cache/kbuild"
	ln -s "$(readlink -f "${RNVMX_BOCHS:-$CACHE/bochs-bin}")" "$d/cache/bochs-bin"
	# ab.py writes TOP/out: a TOP of its own (its testbed/) per variant.
	mkdir -p "$d/top"
	cp -a "$TOP/testbed" "$d/top/"
}

# One C boot of VARIANT, run N; its bench.tsv kept as bench-N.tsv.
run_variant() {
	local d=$W/$1
	rm -rf "$d/top/out"
	RNVMX_CACHE=$d/cache RNVMX_OWN=0 /usr/bin/python3 "$d/top/testbed/ab.py" \
		--backends c --tests vmx_tsc_adjust_test > "$d/ab-$2.log" 2>&1 ||
		log "$1 run $2: ab.py exited $? (log: $d/ab-$2.log)"
	cp "$d/top/out/bench.tsv" "$d/bench-$2.tsv" 2>/dev/null || log "$1 run $2: no bench.tsv"
}

mkdir -p "$W"
for v in $VARIANTS; do build_variant "$v"; done
for n in $(seq "$RUNS"); do
	log "run $n of $RUNS: C boots of: $VARIANTS"
	pids=
	for v in $VARIANTS; do run_variant "$v" "$n" & pids="$pids $!"; done
	# shellcheck disable=SC2086
	wait $pids
done

# The table: per benchmark, each variant's cycles per op (the mean over the
# runs, and its range), and each variant's difference over the first.
python3 - "$W" "$RUNS" $VARIANTS <<'EOF'
import statistics, sys
w, runs, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
data = {}
for v in variants:
    for n in range(1, runs + 1):
        try:
            lines = open(f"{w}/{v}/bench-{n}.tsv").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            c = line.split("\t")
            if c[0] == "c" and c[3].isdigit():
                data.setdefault(c[1], {}).setdefault(v, []).append(int(c[3]))
base = variants[0]
head = f"{'benchmark':28}" + "".join(f" {v:>18}" for v in variants)
head += "".join(f" {v + '-' + base:>22}" for v in variants[1:])
print(head)
for b in sorted(data):
    row, means = f"{b:28}", {}
    for v in variants:
        xs = data[b].get(v, [])
        if not xs:
            row += f" {'-':>18}"
            continue
        means[v] = statistics.mean(xs)
        rng = f" ({min(xs)}..{max(xs)})" if len(xs) > 1 else ""
        row += f" {means[v]:>8.0f}{rng:>10}"
    for v in variants[1:]:
        if v in means and base in means:
            d = means[v] - means[base]
            row += f" {d:>+12.0f} {100 * d / means[base]:>+7.2f} %"
        else:
            row += f" {'-':>22}"
    print(row)
print(f"(cycles per operation, guest TSC = Bochs instructions; {runs} C boot(s) per variant)")
EOF
