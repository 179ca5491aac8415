// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx_migrate_evmcs_test: rnvmx_migrate_test's migrations for an L1 that
 * uses Hyper-V's enlightened VMCS. L1 names its eVMCS in the VP assist page
 * (stage 1: VMX operation, no eVMCS mapped yet), launches L2, which syncs
 * twice (stages 2 and 3: L2 running, KVM_STATE_NESTED_EVMCS, the eVMCS
 * mapped again by KVM_REQ_GET_NESTED_STATE_PAGES after each restore), exits
 * with VMCALL (stage 4: L1 with its eVMCS mapped, vmcs12 copied from it in
 * full), and after a VMRESUME syncs once more (stage 5). At every stage the
 * host saves the vCPU's state, restores it into a new VM on each backend
 * (Hyper-V CPUID and eVMCS enabled first, as a VMM must), compares what both
 * read back with KVM_GET_NESTED_STATE, and goes on in a new VM on the
 * backend the run's sequence names: C->Rust, Rust->C, Rust->Rust, C->C.
 * Exit status: 0 pass, 4 skip.
 */
#include "vmx.h"
#include "hyperv.h"
#include "rnvmx_migrate.h"

#define L2_STACK 64

static void l2_guest_code(void)
{
	GUEST_SYNC(2);
	GUEST_SYNC(3);
	vmcall();
	GUEST_SYNC(5);
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx, struct hyperv_test_pages *hv)
{
	unsigned long l2_stack[L2_STACK];

	wrmsr(HV_X64_MSR_GUEST_OS_ID, HYPERV_LINUX_OS_ID);
	enable_vp_assist(hv->vp_assist_gpa, hv->vp_assist);
	evmcs_enable();
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_evmcs(hv));
	GUEST_SYNC(1);
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[L2_STACK]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_SYNC(4);
	current_evmcs->guest_rip += 3; /* vmcall */
	GUEST_ASSERT(!vmresume());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_DONE();
}

/* A new VM on `rust`'s backend, Hyper-V and eVMCS on, `state` loaded. */
static struct kvm_vcpu *restore_evmcs_on(struct kvm_vm *vm, struct kvm_x86_state *state,
					 bool rust)
{
	uint64_t before = rnvmx_counter("vm_bindings");
	struct kvm_vcpu *vcpu;

	kvm_vm_release(vm);
	bind(rust);
	vcpu = vm_recreate_with_one_vcpu(vm);
	TEST_ASSERT_EQ(rnvmx_counter("vm_bindings") - before, rust ? 1 : 0);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_enable_evmcs(vcpu);
	vcpu_load_state(vcpu, state);
	return vcpu;
}

/* The same restored state reads back the same on both backends. */
static uint32_t compare_evmcs(struct kvm_vm *vm, struct kvm_x86_state *state, int stage)
{
	struct kvm_nested_state *c, *r;
	uint32_t i, diffs = 0, flags;

	c = get_nested(restore_evmcs_on(vm, state, false));
	r = get_nested(restore_evmcs_on(vm, state, true));
	TEST_ASSERT_EQ(c->size, r->size);
	for (i = 0; i < c->size; i++) {
		if (((uint8_t *)c)[i] != ((uint8_t *)r)[i] && diffs++ < 16)
			printf("stage %d: nested state byte %u: C %#x, Rust %#x\n", stage, i,
			       ((uint8_t *)c)[i], ((uint8_t *)r)[i]);
	}
	TEST_ASSERT(!diffs, "stage %d: %u bytes of KVM_GET_NESTED_STATE differ", stage, diffs);
	flags = c->flags;
	printf("stage %d: %u bytes of nested state (flags %#x) equal on both backends\n",
	       stage, c->size, c->flags);
	free(c);
	free(r);
	return flags;
}

static void run(const bool *seq)
{
	vm_vaddr_t vmx_gva, hv_gva;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int stage;

	progress("eVMCS stages 1-5", seq[0], seq[1]);
	bind(seq[0]);
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_set_hv_cpuid(vcpu);
	vcpu_enable_evmcs(vcpu);
	vcpu_alloc_vmx(vm, &vmx_gva);
	vcpu_alloc_hyperv_test_pages(vm, &hv_gva);
	vcpu_args_set(vcpu, 2, vmx_gva, hv_gva);
	for (stage = 1;; stage++) {
		struct kvm_x86_state *state;
		uint32_t flags;

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
			printf("ok: eVMCS L1, L2 live, stages 1-5, starting on %s, %s\n",
			       backend_name(seq[0]), seq[1] == seq[0] ? "staying" : "alternating");
			return;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		TEST_ASSERT_EQ(uc.args[1], stage);
		state = vcpu_save_state(vcpu);
		flags = compare_evmcs(vm, state, stage);
		/* Stages 2-5 have an eVMCS current; 2, 3 and 5 have L2 running. */
		TEST_ASSERT_EQ(!!(flags & KVM_STATE_NESTED_EVMCS), stage >= 2);
		TEST_ASSERT_EQ(!!(flags & KVM_STATE_NESTED_GUEST_MODE), stage != 1 && stage != 4);
		printf("stage %d: %s -> %s\n", stage, backend_name(seq[stage - 1]),
		       backend_name(seq[stage]));
		vcpu = restore_evmcs_on(vm, state, seq[stage]);
		kvm_x86_state_cleanup(state);
	}
}

int main(void)
{
	static const bool alternate[] = { false, true, false, true, false, true };
	static const bool other[] = { true, false, true, false, true, false };
	static const bool rust[] = { true, true, true, true, true, true };
	static const bool c[] = { false, false, false, false, false, false };

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_NESTED_STATE));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_HYPERV_ENLIGHTENED_VMCS));
	TEST_REQUIRE(!access(RNVMX_BIND, W_OK));
	setbuf(stdout, NULL);
	run(alternate);
	run(other);
	run(rust);
	run(c);
	bind(true);
	printf("PASS: an eVMCS L1 with L2 live migrated C->Rust, Rust->C, Rust->Rust and C->C\n");
	return 0;
}
