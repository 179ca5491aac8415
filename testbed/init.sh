#!/bin/sh
# /init of the test-bed initramfs. Runs inside Bochs: loads KVM, runs the
# tests named on the kernel command line on one backend, reports each on the
# serial console as one "@@RNVMX-..." line, and powers off.
#   rnvmx_tb_backend=c|rust   rnvmx_tb_tests=test1,test2,...
#   rnvmx_tb_own=0: not the project's own tests first (a later Rust boot)
#   rnvmx_tb_benches=a,b: only the benchmarks rnvmx_bench_a, rnvmx_bench_b
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

backend=c tests= handshake= own=1 benches=
for w in $(cat /proc/cmdline); do
	case "$w" in
	rnvmx_tb_backend=*) backend=${w#*=} ;;
	rnvmx_tb_tests=*) tests=$(echo "${w#*=}" | tr , ' ') ;;
	rnvmx_tb_own=0) own=0 ;;
	rnvmx_tb_benches=*) benches=" $(echo "${w#*=}" | tr , ' ') " ;;
	# Inside L1: after each BEGIN and END line (and KVM-LOADED), wait for
	# L0, which follows this serial console, to say "go" on it, so that L0
	# counts over each test exactly.
	rnvmx_tb_handshake=1) handshake=1 ;;
	esac
done

now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "@@RNVMX-$*"; }
wait_l0() { [ -z "$handshake" ] || read -r _ < /dev/console; }
finish() { say "DONE"; sync; sleep 1; poweroff -f; }

say "BOOT backend=$backend uptime=$(now)"
for m in irqbypass kvm kvm-intel; do
	insmod /lib/modules/$m.ko || { say "ERROR insmod $m"; finish; }
done
say "KVM-LOADED uptime=$(now) nested=$(cat /sys/module/kvm_intel/parameters/nested) ept=$(cat /sys/module/kvm_intel/parameters/ept)"
wait_l0

TRACE=/sys/kernel/tracing
RN=/sys/kernel/debug/rnvmx
# KVM's nested events, which both backends emit, traced during each test
# (not during the benchmarks); /tests/tp-entries.awk counts the L2 entries.
NESTED_EVENTS="kvm_nested_vmenter kvm_nested_vmexit kvm_nested_vmexit_inject kvm_nested_vmenter_failed"
echo 8192 > $TRACE/buffer_size_kb
trace_events() { for e in $NESTED_EVENTS; do echo $1 > $TRACE/events/kvm/$e/enable; done; }
tp_entries() { awk -f /tests/tp-entries.awk $TRACE/trace; }
tp_overrun() { awk '/^overrun:/ { print $2 }' $TRACE/per_cpu/cpu0/stats; }
counter() { if [ -r "$RN/$1" ]; then cat "$RN/$1"; else echo 0; fi; }
# Exits from L2 per basic reason: a snapshot of the module's exit_reason/
# counters (one process, cheap inside the emulator), and the difference
# since a snapshot as "reason:n,...".
# rnvmx's eVMCS counters (runs, vmptrlds, msr_bitmap_kept, hv_l2_tlb_flushes,
# hv_synthetic_exits), and their difference since a snapshot as "a/b/c/d/e".
evmcs_counters() { for c in evmcs_runs evmcs_vmptrlds evmcs_msr_bitmap_kept hv_l2_tlb_flushes hv_synthetic_exits; do printf '%s ' "$(counter $c)"; done; }
evmcs_delta() { set -- $1 $(evmcs_counters); echo "$(($6 - $1))/$(($7 - $2))/$(($8 - $3))/$(($9 - $4))/$((${10} - $5))"; }
exit_snapshot() { grep -r . $RN/exit_reason/ > $1 2>/dev/null || : > $1; }
exit_delta() {
	exit_snapshot /tmp/x1
	awk -F: 'NR == FNR { o[$1] = $2; next }
		{ d = $2 - o[$1]; n = $1; sub(/.*\//, "", n); if (d > 0) printf "%d:%d,", n, d }' $1 /tmp/x1
}

run_test() {
	t=$1
	say "BEGIN test=$t"
	wait_l0
	echo > $TRACE/trace
	trace_events 1
	e0=$(counter l2_entries) b0=$(counter vm_bindings) w0=$(counter vmx_msr_writes) p0=$(counter pml_logged) v0=$(counter vmenter_events)
	s0=$(counter set_nested_state)
	ev0=$(evmcs_counters)
	exit_snapshot /tmp/x0
	t0=$(now)
	if [ -x /tests/$t ]; then
		# Counted as `perf stat -e kvm:kvm_nested_vmenter` counts it.
		/tests/rnvmx_tpcount kvm:kvm_nested_vmenter -- /tests/$t > /tmp/out 2>&1; rc=$?
	else
		echo "no such test: $t" > /tmp/out; rc=127
	fi
	t1=$(now)
	trace_events 0
	perf=$(awk -F= '/^@@RNVMX-PERF kvm:kvm_nested_vmenter=/ { print $2 }' /tmp/out)
	# Lockstep results (nested_lockstep_test, nested_state_blob_test's
	# family "blob") and a blob case's log, whole: ab.py compares them.
	grep '^@@RNVMX-LS\|^@@RNVMX-BLOB-LOG' /tmp/out
	# KVM_SET_NESTED_STATE calls that reached the backend, by the test's count.
	sets=$(awk -F= '/^@@RNVMX-BLOB-SETS n=/ { print $2 }' /tmp/out)
	grep -v '^@@RNVMX-PERF \|^@@RNVMX-LS\|^@@RNVMX-BLOB' /tmp/out | sed 's/^/| /' | tail -n 40
	# The entries and failed checks, for the record (few per test).
	grep ' kvm_nested_vmenter' $TRACE/trace | tail -n 20 | sed 's/^ */| trace: /'
	say "END test=$t rc=$rc secs=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}') $(tp_entries) perf_vmenter=${perf:--1} tp_overrun=$(tp_overrun) rust_l2=$(($(counter l2_entries) - e0)) rust_vmenter=$(($(counter vmenter_events) - v0)) rust_bind=$(($(counter vm_bindings) - b0)) rust_msr_writes=$(($(counter vmx_msr_writes) - w0)) rust_pml=$(($(counter pml_logged) - p0)) rust_set_state=$(($(counter set_nested_state) - s0)) blob_sets=${sets:--} rust_evmcs=$(evmcs_delta "$ev0") rust_exits=$(exit_delta /tmp/x0)-"
	wait_l0
}

# Benchmarks print "@@RNVMX-BENCH name=N ops=O cycles_per_op=C [unit=U]";
# this adds the exit status and the module counters that prove which backend
# ran them.
# More counters a benchmark's proof may use (testbed/ab.py BENCH_PROOF), each
# printed as rust_NAME=delta: L2 entries, EPT faults sent to L1,
# KVM_SET_NESTED_STATE calls and those of them that restored L2.
BENCH_MORE="l2_entries:rust_l2 l2_ept_faults:rust_ept_faults set_nested_state:rust_set_state state_restores_l2:rust_restores_l2"
# And: L1's VMX instructions rnvmx emulated, L2's CPUID and I/O exits
# (exit_reason/10 and /30) that reached rnvmx's reflect decision.
BENCH_MORE="$BENCH_MORE instructions:rust_insns exit_reason/10:rust_cpuid_exits exit_reason/30:rust_io_exits"
bench_more() { for c in $BENCH_MORE; do printf '%s ' "$(counter ${c%%:*})"; done; }
bench_more_delta() {
	set -- $1
	for c in $BENCH_MORE; do printf '%s=%s ' "${c#*:}" "$(($(counter ${c%%:*}) - $1))"; shift; done
}
# Where kvm, kvm-intel and rnvmx are loaded, for testbed/itrace.py.
sects() {
	for m in kvm kvm_intel rnvmx; do
		for f in /sys/module/$m/sections/.*text*; do
			[ -f "$f" ] && echo "@@SECT $m ${f##*/} $(cat $f)"
		done
	done
}
run_bench() {
	sects
	b0=$(counter vm_bindings) w0=$(counter vmx_msr_writes) r0=$(counter l2_reflected)
	bench_more0=$(bench_more)
	/tests/$1 > /tmp/out 2>&1; rc=$?
	extra="rc=$rc rust_bind=$(($(counter vm_bindings) - b0)) rust_msr_writes=$(($(counter vmx_msr_writes) - w0)) rust_l2_reflected=$(($(counter l2_reflected) - r0))"
	extra="$extra $(bench_more_delta "$bench_more0")"
	grep '^@@RNVMX-BENCH ' /tmp/out | sed "s/\$/ $extra/"
	grep -v '^@@RNVMX-BENCH ' /tmp/out | sed 's/^/| /'
	counters
}

. /tests/migrate.sh

# Every counter of the module, for the record.
counters() {
	[ -d $RN ] || return 0
	say "COUNTERS $(for f in $RN/*; do [ -f "$f" ] && printf '%s=%s ' "${f##*/}" "$(cat $f)"; done)"
}

# Benchmarks first, on both boots in the same state (just booted, rnvmx
# loaded on the Rust boot): a hanging test must not cost their numbers, and
# the project's own tests must not run before them on one boot only.
if [ "$backend" = rust ]; then
	insmod /lib/modules/rnvmx.ko || { say "ERROR insmod rnvmx"; finish; }
fi
# kvm-intel reloaded with these parameters (none: its defaults) between two
# benchmarks, and rnvmx with it on the Rust boot (counters start at 0 again).
bench_reload() {
	if [ "$backend" = rust ]; then rmmod rnvmx || { say "ERROR rmmod rnvmx"; finish; }; fi
	rmmod kvm_intel && insmod /lib/modules/kvm-intel.ko "$@" ||
		{ say "ERROR reload kvm-intel $*"; finish; }
	if [ "$backend" = rust ]; then insmod /lib/modules/rnvmx.ko || { say "ERROR insmod rnvmx"; finish; }; fi
}
for b in $(cd /tests && ls rnvmx_bench_* 2>/dev/null); do
	case "$benches" in "" | *" ${b#rnvmx_bench_} "*) ;; *) continue ;; esac
	case "$b" in
	# Without VMCS shadowing, for this benchmark only.
	*_noshadow)
		bench_reload enable_shadow_vmcs=0
		run_bench "$b"
		bench_reload ;;
	*) run_bench "$b" ;;
	esac
done

if [ "$backend" = rust ]; then
	if [ "$own" = 1 ]; then
		# The own tests start without rnvmx (rnvmx_lifecycle loads it).
		rmmod rnvmx || { say "ERROR rmmod rnvmx"; finish; }
		# The module lifecycle is itself a test: bind, refuse unload, unload.
		run_test rnvmx_lifecycle
		# A C VM and a Rust VM running L2 side by side.
		run_test rnvmx_mixed
		# kvm-intel's nested parameters (nested_early_check, enable_shadow_vmcs).
		run_test rnvmx_params
		# A VM with nested state moved between the two backends (KVM_GET/SET_NESTED_STATE).
		run_test rnvmx_migrate
		insmod /lib/modules/rnvmx.ko || { say "ERROR insmod rnvmx"; finish; }
	fi
fi

# Tests inside L1: QEMU (-accel kvm) boots this kernel as L1, whose own
# init runs the l1/ tests on its built-in nested VMX and reports each with
# BEGIN/END lines on its serial log. Followed from here: each L1 test is
# reported as l1/NAME with L0's counts over it (L0's L2 entries are entries
# into L1's guests; for the depth-3 tests, L1 entering its L2's L3 too).
l1_follow() {
	n=$(grep -c '^@@RNVMX-' /tmp/l1.log)
	[ "$n" -gt "$seen" ] || return 0
	grep '^@@RNVMX-' /tmp/l1.log | sed -n "$((seen + 1)),${n}p" > /tmp/l1.new
	seen=$n
	while read -r line; do
		case "$line" in
		@@RNVMX-KVM-LOADED*)
			# L1 booted: its boot is a row of its own.
			l1_end boot 0
			go ;;
		@@RNVMX-ERROR*)
			say "ERROR in L1: $line" ;;
		@@RNVMX-WORK*)
			t=${line#*chunk=}
			work_chunk=${t%% *} ;;
		# L1's workload for the qemu_migrate_* rows (testbed/migrate.sh):
		# migrated while it runs, from the main loop.
		@@RNVMX-BEGIN\ test=rnvmx_work_test*)
			mig_pending=1
			go ;;
		@@RNVMX-END\ test=rnvmx_work_test\ *)
			rc=${line#* rc=}; rc=${rc%% *}
			l1_work_end "$rc"
			go ;;
		@@RNVMX-BEGIN*)
			t=${line#*test=}
			l1_begin "l1/$t"
			go ;;
		@@RNVMX-END*)
			t=${line#*test=}; t=${t%% *}
			rc=${line#* rc=}; rc=${rc%% *}
			l1_end "$t" "$rc"
			go ;;
		@@RNVMX-DONE*)
			l1_done=1 ;;
		esac
	done < /tmp/l1.new
}
go() { echo go >&3; }
l1_begin() {
	say "BEGIN test=$1"
	echo > $TRACE/trace
	trace_events 1
	e0=$(counter l2_entries) w0=$(counter vmx_msr_writes) p0=$(counter pml_logged) v0=$(counter vmenter_events)
	exit_snapshot /tmp/x0
	t0=$(now)
}
l1_end() {
	# The trace stops and the counters are read at once, before the trace
	# is counted (slow under Bochs) while L1 goes on.
	trace_events 0
	t1=$(now) e1=$(counter l2_entries) b1=$(counter vm_bindings) w1=$(counter vmx_msr_writes) p1=$(counter pml_logged) v1=$(counter vmenter_events)
	x=$(exit_delta /tmp/x0)
	l1_reported="$l1_reported $1"
	say "END test=l1/$1 rc=$2 secs=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}') $(tp_entries) perf_vmenter=- tp_overrun=$(tp_overrun) rust_l2=$((e1 - e0)) rust_vmenter=$((v1 - v0)) rust_bind=$((b1 - b0)) rust_msr_writes=$((w1 - w0)) rust_pml=$((p1 - p0)) rust_exits=$x-"
}
# QEMU with L1; extra arguments (-incoming) appended. Its serial console
# is the pipe /tmp/l1.{in,out}, its monitor /tmp/mon.{in,out}.
l1_qemu() {
	/qemu/qemu-system-x86_64 -L /qemu/share -nodefaults -no-user-config -accel kvm \
		-cpu max,+vmx -m 256 -smp 1 -display none -no-reboot \
		-kernel /l1/bzImage -initrd /l1/initrd.gz \
		-chardev pipe,id=l1con,path=/tmp/l1 -serial chardev:l1con \
		-chardev pipe,id=mon,path=/tmp/mon -mon chardev=mon,mode=readline \
		-append "console=ttyS0,115200 mitigations=off nokaslr panic=-1 tsc_early_khz=50000 rnvmx_tb_backend=c rnvmx_tb_handshake=1 rnvmx_tb_tests=$l1_tests" \
		"$@" >> /tmp/qemu.out 2>&1 < /dev/null &
	qemu=$!
}
run_l1() {
	l1_tests= l1_work=
	for t in "$@"; do
		t=${t#l1/}
		case "$t" in
		boot) ;;
		qemu_migrate_*) l1_work=1 ;;
		*) l1_tests="$l1_tests,$t" ;;
		esac
	done
	# The workload the migrations run under, last.
	[ -z "$l1_work" ] || l1_tests="$l1_tests,rnvmx_work_test"
	l1_tests=${l1_tests#,}
	echo 1 > /proc/sys/vm/overcommit_memory
	: > /tmp/l1.log
	: > /tmp/qemu.out
	rm -f /tmp/l1.in /tmp/l1.out
	mkfifo /tmp/l1.in /tmp/l1.out
	# Read-write opens: they do not block, and keep the FIFOs open while
	# one QEMU quits and the next (a migration's target) starts. fd 3 is
	# L1's console input: "go" once L0 has counted what L1 just reported.
	exec 3<> /tmp/l1.in 5<> /tmp/l1.out
	cat /tmp/l1.out > /tmp/l1.log &
	drain=$!
	mon_setup
	seen=0 l1_done= l1_reported= mig_pending= work_chunk=0 work_reported=
	# The VM binds once, when QEMU starts: every l1/ row counts from here.
	b0=$(counter vm_bindings)
	l1_begin l1/boot
	l1_qemu
	while [ -z "$l1_done" ] && kill -0 $qemu 2>/dev/null; do
		sleep 0.5
		l1_follow
		if [ -n "$mig_pending" ]; then
			mig_pending=
			# L1's workload runs in L2 once it has reported a chunk;
			# QEMU's VM is on rnvmx if it was bound.
			cur=c
			[ $(($(counter vm_bindings) - b0)) = 0 ] || cur=rust
			if work_wait 1 120; then l1_migrations $cur; else echo stop >&3; fi
		fi
	done
	l1_follow
	exec 3>&- 4>&- 5>&- 6>&-
	kill $qemu 2>/dev/null; wait $qemu 2>/dev/null
	kill $drain $mon_drain 2>/dev/null; wait $drain $mon_drain 2>/dev/null
	sed 's/^/| qemu: /' /tmp/qemu.out
	# L1's log: its tests' output, and its kernel log (prefixed "@L1 ",
	# which ab.py checks as it checks L0's).
	grep -v '^@@RNVMX-' /tmp/l1.log | sed 's/^| /| l1: /; /^| l1: /!s/^/@L1 /'
	[ -n "$l1_done" ] || say "ERROR L1 ended before reporting DONE"
	# What L1 never reported fails visibly.
	for t in "$@"; do
		case "$t" in qemu_migrate_*) continue ;; esac
		case " $l1_reported " in *" ${t#l1/} "*) ;; *) l1_end "${t#l1/}" 125 ;; esac
	done
	[ -z "$l1_work" ] || [ -n "$work_reported" ] || l1_work_end 125
}

l1=
for t in $tests; do
	case "$t" in
	l1/*) l1="$l1 $t" ;;
	# Rust boot only (rnvmx's bind chooses each QEMU's backend).
	qemu_migrate_*) [ "$backend" != rust ] || l1="$l1 $t" ;;
	*) run_test "$t" ;;
	esac
done
[ -z "$l1" ] || run_l1 $l1
finish
