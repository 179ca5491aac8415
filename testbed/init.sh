#!/bin/sh
# /init of the test-bed initramfs. Runs inside Bochs: loads KVM, runs the
# tests named on the kernel command line on one backend, reports each on the
# serial console as one "@@RNVMX-..." line, and powers off.
#   rnvmx_tb_backend=c|rust   rnvmx_tb_tests=test1,test2,...
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

backend=c tests=
for w in $(cat /proc/cmdline); do
	case "$w" in
	rnvmx_tb_backend=*) backend=${w#*=} ;;
	rnvmx_tb_tests=*) tests=$(echo "${w#*=}" | tr , ' ') ;;
	esac
done

now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "@@RNVMX-$*"; }
finish() { say "DONE"; sync; sleep 1; poweroff -f; }

say "BOOT backend=$backend uptime=$(now)"
for m in irqbypass kvm kvm-intel; do
	insmod /lib/modules/$m.ko || { say "ERROR insmod $m"; finish; }
done
say "KVM-LOADED uptime=$(now) nested=$(cat /sys/module/kvm_intel/parameters/nested) ept=$(cat /sys/module/kvm_intel/parameters/ept)"

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
exit_snapshot() { grep -r . $RN/exit_reason/ > $1 2>/dev/null || : > $1; }
exit_delta() {
	exit_snapshot /tmp/x1
	awk -F: 'NR == FNR { o[$1] = $2; next }
		{ d = $2 - o[$1]; n = $1; sub(/.*\//, "", n); if (d > 0) printf "%d:%d,", n, d }' $1 /tmp/x1
}

run_test() {
	t=$1
	say "BEGIN test=$t"
	echo > $TRACE/trace
	trace_events 1
	e0=$(counter l2_entries) b0=$(counter vm_bindings) u0=$(counter unimplemented) w0=$(counter vmx_msr_writes)
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
	grep -v '^@@RNVMX-PERF ' /tmp/out | sed 's/^/| /' | tail -n 40
	# The entries and failed checks, for the record (few per test).
	grep ' kvm_nested_vmenter' $TRACE/trace | tail -n 20 | sed 's/^ */| trace: /'
	say "END test=$t rc=$rc secs=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}') $(tp_entries) perf_vmenter=${perf:--1} tp_overrun=$(tp_overrun) rust_l2=$(($(counter l2_entries) - e0)) rust_bind=$(($(counter vm_bindings) - b0)) rust_unimpl=$(($(counter unimplemented) - u0)) rust_msr_writes=$(($(counter vmx_msr_writes) - w0)) rust_exits=$(exit_delta /tmp/x0)-"
}

# Benchmarks print "@@RNVMX-BENCH name=N ops=O cycles_per_op=C"; this adds
# the exit status and the module counters that prove which backend ran them.
run_bench() {
	b0=$(counter vm_bindings) w0=$(counter vmx_msr_writes) r0=$(counter l2_reflected)
	/tests/$1 > /tmp/out 2>&1; rc=$?
	extra="rc=$rc rust_bind=$(($(counter vm_bindings) - b0)) rust_msr_writes=$(($(counter vmx_msr_writes) - w0)) rust_l2_reflected=$(($(counter l2_reflected) - r0))"
	grep '^@@RNVMX-BENCH ' /tmp/out | sed "s/\$/ $extra/"
	grep -v '^@@RNVMX-BENCH ' /tmp/out | sed 's/^/| /'
	counters
}

# Every counter of the module, for the record.
counters() {
	[ -d $RN ] || return 0
	say "COUNTERS $(for f in $RN/*; do [ -f "$f" ] && printf '%s=%s ' "${f##*/}" "$(cat $f)"; done)"
}

if [ "$backend" = rust ]; then
	# The module lifecycle is itself a test: bind, refuse unload, unload.
	run_test rnvmx_lifecycle
	# A C VM and a Rust VM running L2 side by side.
	run_test rnvmx_mixed
	# kvm-intel's nested parameters (nested_early_check, enable_shadow_vmcs).
	run_test rnvmx_params
	insmod /lib/modules/rnvmx.ko || { say "ERROR insmod rnvmx"; finish; }
fi

# Benchmarks first: a hanging test must not cost their numbers.
for b in $(cd /tests && ls rnvmx_bench_* 2>/dev/null); do
	run_bench "$b"
done

for t in $tests; do
	run_test "$t"
done
finish
