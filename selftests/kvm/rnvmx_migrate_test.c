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
 * Exit status: 0 pass, 4 skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"

#define BIND "/sys/module/rnvmx/parameters/bind"
#define BINDINGS "/sys/kernel/debug/rnvmx/vm_bindings"
#define L2_STACK 64

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

static uint64_t bindings(void)
{
	FILE *f = fopen(BINDINGS, "r");
	unsigned long long n = 0;

	TEST_ASSERT(f, "no " BINDINGS);
	TEST_ASSERT(fscanf(f, "%llu", &n) == 1, "cannot read " BINDINGS);
	fclose(f);
	return n;
}

static void bind(bool rust)
{
	FILE *f = fopen(BIND, "w");

	TEST_ASSERT(f, "cannot open " BIND);
	fputs(rust ? "Y" : "N", f);
	TEST_ASSERT(!fclose(f), "cannot write " BIND);
}

/* A new VM on `rust`'s backend, with `state` loaded; checks its binding. */
static struct kvm_vcpu *restore_on(struct kvm_vm *vm, struct kvm_x86_state *state, bool rust)
{
	uint64_t before = bindings();
	struct kvm_vcpu *vcpu;

	kvm_vm_release(vm);
	bind(rust);
	vcpu = vm_recreate_with_one_vcpu(vm);
	TEST_ASSERT_EQ(bindings() - before, rust ? 1 : 0);
	vcpu_load_state(vcpu, state);
	return vcpu;
}

static struct kvm_nested_state *get_nested(struct kvm_vcpu *vcpu)
{
	int size = vm_check_cap(vcpu->vm, KVM_CAP_NESTED_STATE);
	struct kvm_nested_state *s = calloc(1, size);

	TEST_ASSERT(s, "calloc");
	s->size = size;
	vcpu_nested_state_get(vcpu, s);
	return s;
}

/* The same restored state reads back the same on both backends. */
static void compare_backends(struct kvm_vm *vm, struct kvm_x86_state *state, int stage)
{
	struct kvm_nested_state *c, *r;
	struct kvm_vcpu *vcpu;
	uint32_t i, diffs = 0;

	vcpu = restore_on(vm, state, false);
	c = get_nested(vcpu);
	vcpu = restore_on(vm, state, true);
	r = get_nested(vcpu);
	TEST_ASSERT_EQ(c->size, r->size);
	for (i = 0; i < c->size; i++) {
		if (((uint8_t *)c)[i] != ((uint8_t *)r)[i]) {
			if (diffs++ < 16)
				printf("stage %d: nested state byte %u: C %#x, Rust %#x\n", stage, i,
				       ((uint8_t *)c)[i], ((uint8_t *)r)[i]);
		}
	}
	TEST_ASSERT(!diffs, "stage %d: %u bytes of KVM_GET_NESTED_STATE differ", stage, diffs);
	printf("stage %d: %u bytes of nested state (flags %#x) equal on both backends\n", stage,
	       c->size, c->flags);
	free(c);
	free(r);
}

/* One run: the guest starts on seq[0] and moves to seq[k] at sync k. */
static void run(const bool *seq, int nseq)
{
	vm_vaddr_t vmx_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int stage;

	bind(seq[0]);
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_gva);
	vcpu_args_set(vcpu, 1, vmx_gva);
	for (stage = 1;; stage++) {
		struct kvm_x86_state *state;
		bool to;

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
			return;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		TEST_ASSERT_EQ(uc.args[1], stage);
		state = vcpu_save_state(vcpu);
		compare_backends(vm, state, stage);
		to = seq[stage < nseq ? stage : nseq - 1];
		printf("stage %d: %s -> %s\n", stage, seq[stage - 1 < nseq ? stage - 1 : nseq - 1] ?
		       "Rust" : "C", to ? "Rust" : "C");
		vcpu = restore_on(vm, state, to);
		kvm_x86_state_cleanup(state);
	}
}

int main(void)
{
	/* C->Rust (a), Rust->C (b), C->Rust (b), Rust->C (a), C->Rust (b). */
	static const bool alternate[] = { false, true, false, true, false, true };
	/* Rust->Rust at every stage; C->C at every stage. */
	static const bool rust[] = { true, true, true, true, true, true };
	static const bool c[] = { false, false, false, false, false, false };

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_NESTED_STATE));
	TEST_REQUIRE(!access(BIND, W_OK));
	setbuf(stdout, NULL);
	run(alternate, 6);
	run(rust, 6);
	run(c, 6);
	bind(true);
	printf("PASS: L2 migrated C->Rust, Rust->C, Rust->Rust and C->C in VMX operation and in L2\n");
	return 0;
}
