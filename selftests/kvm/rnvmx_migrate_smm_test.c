// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx_migrate_smm_test: case (d) of the migration between the built-in
 * nested VMX (C) and rnvmx (Rust): L2 interrupted by an SMI, the state saved
 * while the SMI handler runs (KVM_STATE_NESTED_SMM_VMXON and
 * KVM_STATE_NESTED_SMM_GUEST_MODE), restored on the other backend, whose RSM
 * returns to L2, which syncs and returns to L1. Both backends must read the
 * state saved in SMM back byte for byte alike. The same for an SMI while L1
 * is in VMX root operation (KVM_STATE_NESTED_SMM_VMXON only), C->Rust and
 * Rust->C.
 *
 * Then RSM's re-check of vmcs12: a state saved in SMM with vmcs12 changed
 * (a VM-entry MSR-load list that is not 16-byte aligned, which a VM entry
 * refuses) is restored (KVM_SET_NESTED_STATE loads vmcs12 unchecked in
 * SMM, on both backends). Upstream's 2026 fix of vmx_leave_smm() ("KVM: VMX:
 * check validity of VMCS controls when returning from SMM") makes RSM check
 * vmcs12 as a restore into guest mode does, and shut L1 down if it fails;
 * rnvmx does so (nested/rsm.rs), counted by rsm_check_fails. 6.12.117's C
 * predates the fix and enters L2 from the unchecked vmcs12: that run is
 * kept, asserting 6.12.117's outcome, to show the difference.
 * Exit status: 0 pass, 4 skip.
 */
#include "vmx.h"
#include "rnvmx_migrate.h"
#include "rnvmx_util.h"

#define L2_STACK 64
#define SMRAM_GPA 0x3000000ull
#define SMRAM_PAGES 16
/* Memslot 1 of address space 1, KVM's SMM address space. */
#define SMRAM_SLOT ((1 << 16) | 1)
/* The port the SMI handler reads, which exits to the host while in SMM. */
#define SMM_PORT 0xec
/* struct vmcs12 offsets (arch/x86/kvm/vmx/vmcs12.h CHECK_OFFSETs). */
#define VMCS12_VM_ENTRY_MSR_LOAD_ADDR 80
#define VMCS12_VM_ENTRY_MSR_LOAD_COUNT 784

/* Real-address mode at SMBASE + 0x8000: in al, SMM_PORT; rsm. */
static const uint8_t smi_handler[] = { 0xe4, SMM_PORT, 0x0f, 0xaa };

static void l2_guest_code(void)
{
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[L2_STACK];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[L2_STACK]);
	GUEST_SYNC(10);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_DONE();
}

/* A VM whose L1 runs l1_guest_code, with SMRAM and the SMI handler. */
static struct kvm_vm *create_vm(struct kvm_vcpu **vcpu, bool rust)
{
	vm_vaddr_t vmx_gva;
	struct kvm_vm *vm;
	uint8_t *smram;

	bind(rust);
	vm = vm_create_with_one_vcpu(vcpu, l1_guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SMRAM_GPA, SMRAM_SLOT,
				    SMRAM_PAGES, 0);
	TEST_ASSERT_EQ(vm_phy_pages_alloc(vm, SMRAM_PAGES, SMRAM_GPA, SMRAM_SLOT), SMRAM_GPA);
	smram = addr_gpa2hva(vm, SMRAM_GPA);
	memset(smram, 0, SMRAM_PAGES * PAGE_SIZE);
	memcpy(smram + 0x8000, smi_handler, sizeof(smi_handler));
	vcpu_set_msr(*vcpu, MSR_IA32_SMBASE, SMRAM_GPA);
	vcpu_alloc_vmx(vm, &vmx_gva);
	vcpu_args_set(*vcpu, 1, vmx_gva);
	return vm;
}

/* Runs the guest to sync `stage`, raises an SMI and runs into the handler. */
static void run_into_smm(struct kvm_vcpu *vcpu, uint64_t stage)
{
	struct kvm_vcpu_events events;

	rnvmx_run_expect_sync(vcpu, stage);
	vcpu_events_get(vcpu, &events);
	events.smi.pending = 1;
	events.flags |= KVM_VCPUEVENT_VALID_SMM;
	vcpu_events_set(vcpu, &events);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(vcpu->run->io.port == SMM_PORT && vcpu->run->io.direction == KVM_EXIT_IO_IN,
		    "not the SMI handler's IN: port %#x", vcpu->run->io.port);
	vcpu_events_get(vcpu, &events);
	TEST_ASSERT(events.smi.smm, "not in SMM at the SMI handler");
}

static void expect_smm_flags(uint32_t flags, bool from_l2)
{
	TEST_ASSERT_EQ(flags & 0xffff, 0);
	TEST_ASSERT_EQ(flags >> 16, KVM_STATE_NESTED_SMM_VMXON |
		       (from_l2 ? KVM_STATE_NESTED_SMM_GUEST_MODE : 0));
}

/*
 * Case (d): L2 (or, with !from_l2, L1 in VMX root operation before its
 * VMLAUNCH) in SMM on `from`, RSM back into it on `to`.
 */
static void run_smm(bool from, bool to, bool from_l2)
{
	const char *where = from_l2 ? "in SMM from L2" : "in SMM from VMX root";
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t entries;
	uint32_t flags;

	progress(where, from, to);
	vm = create_vm(&vcpu, from);
	if (from_l2)
		rnvmx_run_expect_sync(vcpu, 10);
	run_into_smm(vcpu, from_l2 ? 1 : 10);
	vcpu = migrate(vm, vcpu, from, to, where, &flags);
	expect_smm_flags(flags, from_l2);
	entries = rnvmx_counter("l2_entries");
	if (!from_l2)
		rnvmx_run_expect_sync(vcpu, 1);
	rnvmx_run_expect_sync(vcpu, 2);
	/* L2 entered (by RSM, or L1's VMLAUNCH) on the new backend: rnvmx counts it there. */
	TEST_ASSERT(to == (rnvmx_counter("l2_entries") > entries),
		    "L2 entries on rnvmx after RSM on %s", backend_name(to));
	rnvmx_run_to_done(vm, vcpu);
	printf("ok: (d) %s, %s -> %s: RSM returned, L2 ran to its end\n", where,
	       backend_name(from), backend_name(to));
}

/* RSM after vmcs12 changed in SMM: L1 shuts down on rnvmx (upstream). */
static void run_smm_changed_vmcs12(bool from, bool to)
{
	uint64_t fails = rnvmx_counter("rsm_check_fails");
	struct kvm_x86_state *state;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint8_t *vmcs12;
	uint64_t addr = 0x5008;
	uint32_t count = 1;

	progress("vmcs12 changed in SMM", from, to);
	vm = create_vm(&vcpu, from);
	rnvmx_run_expect_sync(vcpu, 10);
	run_into_smm(vcpu, 1);
	state = vcpu_save_state(vcpu);
	vmcs12 = state->nested.data.vmx[0].vmcs12;
	memcpy(vmcs12 + VMCS12_VM_ENTRY_MSR_LOAD_ADDR, &addr, sizeof(addr));
	memcpy(vmcs12 + VMCS12_VM_ENTRY_MSR_LOAD_COUNT, &count, sizeof(count));
	expect_smm_flags(compare_backends(vm, state, "vmcs12 changed in SMM"), true);
	printf("vmcs12 changed in SMM: %s -> %s\n", backend_name(from), backend_name(to));
	vcpu = restore_on(vm, state, to);
	kvm_x86_state_cleanup(state);
	if (to) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_SHUTDOWN);
		TEST_ASSERT_EQ(rnvmx_counter("rsm_check_fails") - fails, 1);
		kvm_vm_free(vm);
		printf("ok: vmcs12 changed in SMM, %s -> Rust: RSM refused it, L1 shut down\n",
		       backend_name(from));
		return;
	}
	/* 6.12.117's vmx_leave_smm() enters L2 without checking vmcs12. */
	rnvmx_run_expect_sync(vcpu, 2);
	rnvmx_run_to_done(vm, vcpu);
	TEST_ASSERT_EQ(rnvmx_counter("rsm_check_fails") - fails, 0);
	printf("ok: vmcs12 changed in SMM, %s -> C: 6.12.117 (no upstream check) entered L2\n",
	       backend_name(from));
}

int main(void)
{
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_NESTED_STATE));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_X86_SMM));
	TEST_REQUIRE(!access(RNVMX_BIND, W_OK));
	setbuf(stdout, NULL);
	run_smm(false, true, true);
	run_smm(true, false, true);
	run_smm(true, true, true);
	run_smm(false, false, true);
	run_smm(false, true, false);
	run_smm(true, false, false);
	run_smm_changed_vmcs12(false, true);
	run_smm_changed_vmcs12(true, true);
	run_smm_changed_vmcs12(true, false);
	bind(true);
	printf("PASS: L2 in SMM migrated C->Rust, Rust->C, Rust->Rust and C->C; RSM re-checks vmcs12 on Rust\n");
	return 0;
}
