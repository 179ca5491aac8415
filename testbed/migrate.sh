# L0's side of the qemu_migrate_* rows (sourced by testbed/init.sh, whose
# counter, say, l1_follow and l1_qemu it uses): while L1's rnvmx_work_test
# keeps its guest (L0's L2) computing, QEMU is stopped, its state (nested
# state with L2 running included) migrated into a file, QEMU quit, rnvmx's
# bind parameter set for the target's backend and a new QEMU started with
# the same command line and -incoming from the file. A direction counts once
# a migration in it completed, the target is running on the intended
# backend, the Rust side of it saved or restored a state with L2 running
# (rnvmx's state_saves_l2 / state_restores_l2) and L1's workload then
# verified two more chunks; L1's workload must end verified as well. A
# migration whose state did not carry L2 (QEMU stopped L1 outside L2) proves
# nothing and is tried again, up to MIG_MAX migrations in all.
MIG_MAX=7
MON_WAIT=120

# QEMU's human monitor on the pipe chardev /tmp/mon.{in,out}; its replies
# are appended to /tmp/mon.log.
mon() { echo "$*" >&4; }
mon_wait() { # ERE SECONDS [COMMAND to repeat]
	mw_n=$(($2 * 2))
	while [ $mw_n -gt 0 ]; do
		grep -qE "$1" /tmp/mon.log && return 0
		kill -0 $qemu 2>/dev/null || return 1
		[ -z "$3" ] || [ $((mw_n % 2)) != 0 ] || mon "$3"
		sleep 0.5
		mw_n=$((mw_n - 1))
	done
	return 1
}
mon_setup() {
	rm -f /tmp/mon.in /tmp/mon.out
	mkfifo /tmp/mon.in /tmp/mon.out
	# Read-write opens of the FIFOs never block and keep them open across
	# QEMU processes.
	exec 4<> /tmp/mon.in 6<> /tmp/mon.out
	: > /tmp/mon.log
	cat /tmp/mon.out >> /tmp/mon.log &
	mon_drain=$!
}

# Follows L1 (l1_follow) until its workload has reported chunk $1, for at
# most $2 seconds; work_at is when the last chunk was seen, work_secs the
# time between the last two.
work_wait() {
	ww_n=$(($2 * 5))
	while [ "$work_chunk" -lt "$1" ] && [ $ww_n -gt 0 ] && kill -0 $qemu 2>/dev/null; do
		sleep 0.2
		ww_c=$work_chunk
		l1_follow
		if [ "$work_chunk" != "$ww_c" ]; then
			ww_t=$(now)
			work_secs=$(echo "$ww_t ${work_at:-0}" | awk '{printf "%.2f", $1 - $2}')
			work_at=$ww_t
		fi
		ww_n=$((ww_n - 1))
	done
	[ "$work_chunk" -ge "$1" ]
}

# The last nested event in the trace (before the target's marker): whether
# the source left L1 in L2 (an entry, or an exit L0 handled) or not (an exit
# reflected to L1), as the trace tells it, for either backend.
src_last() {
	awk 'BEGIN { last = "none" } /tracing_mark_write: qemu_migrate_target/ { exit }
		/ kvm_nested_vmenter: / { last = "vmenter" }
		/ kvm_nested_vmexit: / { last = "vmexit" }
		/ kvm_nested_vmexit_inject: / { last = "vmexit_inject" }
		END { print last }' $TRACE/trace
}

bind_to() { if [ "$1" = rust ]; then echo Y; else echo N; fi > /sys/module/rnvmx/parameters/bind; }
tf() { [ "$1" = rust ] && echo 1 || echo 0; }

# One migration of L1 from backend $1 to $2; sets mig_line (the row's END
# fields but rc) and mig_ok (proven), mig_alive (the target runs L1's work).
migrate_once() {
	m_from=$1 m_to=$2 m_name=qemu_migrate_$1_to_$2
	say "BEGIN test=$m_name"
	echo > $TRACE/trace
	# The counters before the trace starts and after it stops: L2 runs all
	# along, and rnvmx counts vmenter events only while the event is on.
	m_e0=$(counter l2_entries) m_v0=$(counter vmenter_events) m_s0=$(counter state_saves_l2)
	exit_snapshot /tmp/x0
	trace_events 1
	# Stopped where the trace shows L1 outside L2 (its last nested event an
	# exit reflected to it), QEMU goes on and is stopped again: a
	# migration of L1 alone proves nothing here. (L1 handles each of its
	# guest's reports outside L2: stop in the middle of a chunk.)
	m_stops=0
	while :; do
		work_wait $((work_chunk + 1)) 60
		sleep "$(echo "${work_secs:-1}" | awk '{ s = $1 / 2; printf "%.2f", s > 5 ? 5 : s }')"
		: > /tmp/mon.log
		mon stop
		mon_wait 'VM status: paused' 30 "info status"
		m_stops=$((m_stops + 1))
		[ "$(src_last)" = vmexit_inject ] && [ $m_stops -lt 6 ] || break
		mon cont
	done
	m_t0=$(now) m_c0=$work_chunk
	: > /tmp/mon.log
	mon "migrate_set_parameter max-bandwidth 4G"
	mon 'migrate "exec:cat > /tmp/mig"'
	mon_wait 'Migration status: (completed|failed|cancelled)' $MON_WAIT "info migrate"
	m_mig=$(sed -n 's/.*Migration status: \([a-z]*\).*/\1/p' /tmp/mon.log | tail -n 1)
	mon quit
	wait $qemu 2>/dev/null
	m_ts=$(now) m_last=$(src_last)
	# Nested entries after this line in the trace are the target's.
	echo qemu_migrate_target > $TRACE/trace_marker
	m_s1=$(counter state_saves_l2)
	m_size=$(wc -c < /tmp/mig 2>/dev/null || echo 0)
	bind_to $m_to
	m_b0=$(counter vm_bindings) m_r0=$(counter state_restores_l2)
	: > /tmp/mon.log
	l1_qemu -incoming "exec:cat /tmp/mig"
	# Paused once the state is in ("paused (inmigrate)" before), as the
	# source was: go on.
	m_target=stopped m_tp= m_tq=
	# QEMU's monitor answers first (QEMU up), then the state is in.
	! mon_wait 'VM status' $MON_WAIT "info status" || m_tq=$(now)
	if mon_wait 'VM status: paused($|[^ ])' $MON_WAIT "info status"; then
		m_tp=$(now)
		: > /tmp/mon.log
		mon cont
		! mon_wait 'VM status: running' 30 "info status" || m_target=running
	fi
	m_b1=$(counter vm_bindings) m_r1=$(counter state_restores_l2)
	m_tl=$(now)
	rm -f /tmp/mig
	# Two chunks that the target computed whole.
	work_wait $((m_c0 + 2)) 120 && mig_alive=1 || mig_alive=
	trace_events 0
	m_t1=$(now) m_e1=$(counter l2_entries) m_v1=$(counter vmenter_events)
	m_x=$(exit_delta /tmp/x0)
	m_split=$(awk 'BEGIN { t = 0 }
		/tracing_mark_write: qemu_migrate_target/ { t = 1; next }
		/ kvm_nested_vmenter: / { n[t]++ }
		END { printf "tp_vmenter_src=%d tp_vmenter_dst=%d", n[0], n[1] }' $TRACE/trace)
	m_saves=$((m_s1 - m_s0)) m_restores=$((m_r1 - m_r0)) m_bind=$((m_b1 - m_b0))
	mig_line="secs=$(echo "$m_t1 $m_t0" | awk '{printf "%.2f", $1 - $2}') $(tp_entries) perf_vmenter=- tp_overrun=$(tp_overrun) rust_l2=$((m_e1 - m_e0)) rust_vmenter=$((m_v1 - m_v0)) rust_bind=$m_bind rust_saves_l2=$m_saves rust_restores_l2=$m_restores $m_split src_last=$m_last stops=$m_stops mig=${m_mig:-none} mig_bytes=$m_size save_secs=$(echo "$m_ts $m_t0" | awk '{printf "%.2f", $1 - $2}') load_secs=$(echo "$m_tl $m_ts" | awk '{printf "%.2f", $1 - $2}') up_secs=$(echo "${m_tq:-0} $m_ts" | awk '{printf "%.2f", $1 - $2}') paused_secs=$(echo "${m_tp:-0} $m_ts" | awk '{printf "%.2f", $1 - $2}') target=$m_target chunks=$((work_chunk - m_c0)) from_rust=$(tf $m_from) to_rust=$(tf $m_to)"
	mig_ok=
	if [ "$m_mig" = completed ] && [ "$m_target" = running ] && [ -n "$mig_alive" ] &&
		[ "$m_bind" = "$(tf $m_to)" ] &&
		{ [ $m_from = c ] || [ $m_saves -gt 0 ]; } && { [ $m_to = c ] || [ $m_restores -gt 0 ]; }; then
		mig_ok=1
	fi
	say "MIGRATED $m_name ok=${mig_ok:-0} $mig_line rust_exits=$m_x-"
}

# The directions, from the backend L1 runs on now ($1); each row's END
# line is printed once L1's workload has ended (l1_work_end).
l1_migrations() {
	cur=$1 todo="rust:c c:rust rust:rust" mig_n=0
	while [ -n "$todo" ] && [ $mig_n -lt $MIG_MAX ]; do
		next=
		for d in $todo; do
			case $d in "$cur":*) next=${d#*:}; break ;; esac
		done
		# None from here: to where the first one left starts.
		[ -n "$next" ] || next=${todo%%:*}
		mig_n=$((mig_n + 1))
		migrate_once $cur $next
		d=$cur:$next
		eval "tries_${cur}_$next=\$((\${tries_${cur}_$next:-0} + 1)) proven=\${ok_${cur}_$next}"
		# A row shows the migration that proved it, else its last try.
		[ -n "$proven" ] || eval "line_${cur}_$next=\"\$mig_line\""
		if [ -n "$mig_ok" ]; then
			todo=$(echo " $todo " | sed "s/ $d / /; s/^ *//; s/ *$//")
			eval "ok_${cur}_$next=1"
		fi
		cur=$next
		# A target that does not run L1's work on: nothing more to try.
		[ -n "$mig_alive" ] || break
	done
	# L1's workload may end now.
	echo stop >&3
}

# L1's workload ended with status $1: the rows.
l1_work_end() {
	work_reported=1
	for w_d in c:rust rust:rust rust:c; do
		w_f=${w_d%:*} w_t=${w_d#*:}
		eval "w_line=\$line_${w_f}_$w_t w_ok=\$ok_${w_f}_$w_t w_tries=\${tries_${w_f}_$w_t:-0}"
		[ -n "$w_line" ] || w_line="secs=0 tp_l2=0 tp_vmenter=0 perf_vmenter=- tp_overrun=0 rust_l2=0 rust_vmenter=0 rust_bind=0 mig=none"
		w_rc=1
		[ -z "$w_ok" ] || [ "$1" != 0 ] || w_rc=0
		say "END test=qemu_migrate_${w_f}_to_$w_t rc=$w_rc $w_line tries=$w_tries work_rc=$1"
	done
}
