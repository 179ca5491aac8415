// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx_migrate_test: a VM with nested state saved on one nested VMX backend
 * and restored into a new VM on the other, as a migration between a host
 * running kvm-intel's built-in nested VMX (C) and one running rnvmx (Rust).
 * Run with rnvmx loaded: its `bind` parameter chooses the backend of each
 * new VM, and its vm_bindings counter proves which one a VM got.
 *
 * L1 enters VMX operation with a current VMCS (state a), launches L2, which
 * syncs twice (state b: L2 running), exits with VMCALL, and after a VMRESUME
 * syncs once more. At every sync the host saves the whole vCPU state
 * (KVM_GET_NESTED_STATE included), restores it into a new VM on each
 * backend and reads KVM_GET_NESTED_STATE back: both backends must return the
 * same bytes for the same restored state (header, vmcs12, shadow vmcs12).
 * Then it goes on in a new VM on the backend the run's sequence names, so
 * that each run moves the guest C->Rust, Rust->C and Rust->Rust (and C->C).
 *
 * Case (c), a VM entry pending: L1 loops VMRESUME <-> VMCALL with L2 while
 * the host sets off SIGALRM at varying delays, until a KVM_RUN returns
 * -EINTR between KVM's emulation of VMLAUNCH/VMRESUME and the entry into L2
 * (vcpu_run()'s exit-request check sees the signal with nested_run_pending
 * set), i.e. KVM_GET_NESTED_STATE reports KVM_STATE_NESTED_RUN_PENDING. That
 * state moves to the other backend, whose KVM_RUN completes the entry; L2
 * syncs once more and returns to L1, in each direction.
 * Exit status: 0 pass, 4 skip.
 */
#include <signal.h>
#include <sys/time.h>

#include "vmx.h"
#include "rnvmx_migrate.h"
#include "rnvmx_util.h"

#define L2_STACK 64
/* KVM_RUNs tried with a timed signal before case (c) gives up. */
#define PENDING_TRIES 3000

static void l2_guest_code(void)
{
	GUEST_SYNC(2);
	GUEST_SYNC(3);
	vmcall();
	GUEST_SYNC(5);
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[L2_STACK];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	GUEST_SYNC(1);
	GUEST_ASSERT(vmptrstz() == vmx->vmcs_gpa);
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[L2_STACK]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_SYNC(4);
	GUEST_ASSERT(vmptrstz() == vmx->vmcs_gpa);
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
	GUEST_ASSERT(!vmresume());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_DONE();
}

/* One run: the guest starts on seq[0] and moves to seq[k] at sync k. */
static void run(const bool *seq, int nseq)
{
	vm_vaddr_t vmx_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int stage;

	progress("(a)/(b) stages 1-5", seq[0], seq[1]);
	bind(seq[0]);
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_gva);
	vcpu_args_set(vcpu, 1, vmx_gva);
	for (stage = 1;; stage++) {
		char name[16];

		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		case UCALL_SYNC:
			break;
		case UCALL_DONE:
			kvm_vm_free(vm);
			TEST_ASSERT_EQ(stage, 6);
			printf("ok: (a) VMX operation and (b) L2, stages 1-5, starting on %s, %s\n",
			       backend_name(seq[0]), seq[1] == seq[0] ? "staying" : "alternating");
			return;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		TEST_ASSERT_EQ(uc.args[1], stage);
		snprintf(name, sizeof(name), "stage %d", stage);
		vcpu = migrate(vm, vcpu, seq[stage - 1 < nseq ? stage - 1 : nseq - 1],
			       seq[stage < nseq ? stage : nseq - 1], name, NULL);
	}
}

/* Set by the host to end case (c)'s loop (guest memory, read by L1 and L2). */
static bool stop_loop;

static void l2_loop_code(void)
{
	while (!READ_ONCE(stop_loop))
		vmcall();
	GUEST_SYNC(11);
	vmcall();
}

static void l1_loop_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[L2_STACK];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_loop_code, &l2_stack[L2_STACK]);
	GUEST_SYNC(10);
	GUEST_ASSERT(!vmlaunch());
	for (;;) {
		GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
		vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
		if (READ_ONCE(stop_loop))
			break;
		GUEST_ASSERT(!vmresume());
	}
	GUEST_DONE();
}

static void on_alarm(int sig)
{
}

/*
 * KVM_RUNs with a SIGALRM armed at varying delays until one returns with the
 * VM entry pending; returns how many it took, 0 if none did. The timer
 * repeats: a first signal that fires before KVM_RUN has entered the kernel
 * (a slow emulator, a loaded host) is handled in userspace and lost, and
 * L1 and L2 never exit to userspace before stop_loop, so without a second
 * one that KVM_RUN would never return.
 */
static int catch_run_pending(struct kvm_vcpu *vcpu)
{
	struct itimerval off = {};
	int i;

	for (i = 0; i < PENDING_TRIES; i++) {
		struct itimerval t = {
			.it_value.tv_usec = 20 + (i * 37) % 2000,
			.it_interval.tv_usec = 2000,
		};
		struct kvm_nested_state *s;
		bool pending;
		int rc;

		TEST_ASSERT(!setitimer(ITIMER_REAL, &t, NULL), "setitimer");
		rc = __vcpu_run(vcpu);
		TEST_ASSERT(!setitimer(ITIMER_REAL, &off, NULL), "setitimer");
		if (rc == 0) {
			struct ucall uc;

			/* Neither L1 nor L2 exits to userspace before stop_loop. */
			if (get_ucall(vcpu, &uc) == UCALL_ABORT)
				REPORT_GUEST_ASSERT(uc);
			TEST_FAIL("KVM_RUN exited with reason %u, ucall %lu",
				  vcpu->run->exit_reason, uc.cmd);
		}
		TEST_ASSERT(rc == -1 && errno == EINTR, "KVM_RUN: %d, errno %d", rc, errno);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_INTR);
		s = get_nested(vcpu);
		TEST_ASSERT(s->flags & KVM_STATE_NESTED_GUEST_MODE ||
			    !(s->flags & KVM_STATE_NESTED_RUN_PENDING), "run pending outside L2");
		pending = s->flags & KVM_STATE_NESTED_RUN_PENDING;
		free(s);
		if (pending)
			return i + 1;
	}
	return 0;
}

/* Case (c): the guest caught on `from` with a VM entry pending, moved to `to`. */
static void run_pending(bool from, bool to)
{
	char name[32];
	vm_vaddr_t vmx_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint32_t flags;
	int tries;

	progress("(c) VM entry pending", from, to);
	bind(from);
	vm = vm_create_with_one_vcpu(&vcpu, l1_loop_code);
	vcpu_alloc_vmx(vm, &vmx_gva);
	vcpu_args_set(vcpu, 1, vmx_gva);
	stop_loop = false;
	sync_global_to_guest(vm, stop_loop);
	rnvmx_run_expect_sync(vcpu, 10);
	tries = catch_run_pending(vcpu);
	stop_loop = true;
	sync_global_to_guest(vm, stop_loop);
	TEST_ASSERT(tries, "no KVM_RUN returned with KVM_STATE_NESTED_RUN_PENDING in %d tries",
		    PENDING_TRIES);
	snprintf(name, sizeof(name), "run pending (%d tries)", tries);
	vcpu = migrate(vm, vcpu, from, to, name, &flags);
	TEST_ASSERT(flags & KVM_STATE_NESTED_RUN_PENDING, "RUN_PENDING lost on restore");
	rnvmx_run_expect_sync(vcpu, 11);
	rnvmx_run_to_done(vm, vcpu);
	printf("ok: (c) VM entry pending, %s -> %s (caught after %d KVM_RUNs): L2 ran to its end\n",
	       backend_name(from), backend_name(to), tries);
}

int main(void)
{
	/* C->Rust (a), Rust->C (b), C->Rust (b), Rust->C (a), C->Rust (b). */
	static const bool alternate[] = { false, true, false, true, false, true };
	/* Rust->Rust at every stage; C->C at every stage. */
	static const bool rust[] = { true, true, true, true, true, true };
	static const bool c[] = { false, false, false, false, false, false };
	struct sigaction alarm_action = { .sa_handler = on_alarm };

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_NESTED_STATE));
	TEST_REQUIRE(!access(RNVMX_BIND, W_OK));
	setbuf(stdout, NULL);
	/* No SA_RESTART: KVM_RUN is never restarted anyway (-EINTR). */
	TEST_ASSERT(!sigaction(SIGALRM, &alarm_action, NULL), "sigaction");
	run(alternate, 6);
	run(rust, 6);
	run(c, 6);
	run_pending(false, true);
	run_pending(true, false);
	run_pending(true, true);
	run_pending(false, false);
	bind(true);
	printf("PASS: L2 migrated C->Rust, Rust->C, Rust->Rust and C->C in VMX operation, in L2 and with a VM entry pending\n");
	return 0;
}
