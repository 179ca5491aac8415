// SPDX-License-Identifier: GPL-2.0
/*
 * nested_msr_filter_test: userspace's MSR filter applies to the MSRs L1's
 * VM-entry MSR-load list writes, as to L1's own WRMSR.
 *
 * Userspace denies writes of MSR_KERNEL_GS_BASE with KVM_X86_SET_MSR_FILTER.
 * L1 launches L2 with a one-entry VM-entry MSR-load list: with an allowed
 * MSR (IA32_SYSENTER_ESP) L2 runs and exits with VMCALL; with the denied one
 * the entry fails, a VM exit with "VM-entry failure due to MSR loading"
 * (SDM 27.4, reason 34 with bit 31 set) and qualification 1, the entry's
 * index plus one (nested.c's nested_vmx_load_msr() through
 * kvm_set_msr_with_filter()). Exit status: 0 pass, 4 skip.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_util.h"

#define EXIT_REASON_MSR_LOAD_FAILURE	34
#define FAILED_VMENTRY			0x80000000u
#define SYSENTER_ESP			0x175
#define KERNEL_GS_BASE			0xc0000102

struct msr_entry {
	uint32_t index;
	uint32_t reserved;
	uint64_t value;
};

static void l2_guest_code(void)
{
	vmcall();
	GUEST_FAIL("L2 resumed");
}

static void launch_with(struct msr_entry *list, uint32_t index)
{
	list[0].index = index;
	list[0].reserved = 0;
	list[0].value = 0x1234000;
	GUEST_ASSERT(!vmlaunch());
}

static void l1_guest_code(struct vmx_pages *vmx, struct msr_entry *list, uint64_t list_gpa)
{
	unsigned long l2_stack[64];

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	vmwrite(VM_ENTRY_MSR_LOAD_ADDR, list_gpa);
	vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 1);

	launch_with(list, KERNEL_GS_BASE);
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), FAILED_VMENTRY | EXIT_REASON_MSR_LOAD_FAILURE);
	GUEST_ASSERT_EQ(vmreadz(EXIT_QUALIFICATION), 1);

	/* A failed entry leaves the VMCS unlaunched: VMLAUNCH again. */
	launch_with(list, SYSENTER_ESP);
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_ASSERT_EQ(vmreadz(GUEST_SYSENTER_ESP), 0x1234000);
	GUEST_DONE();
}

int main(void)
{
	uint8_t deny_bitmap[1] = { 0 };
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = {
			{
				.flags = KVM_MSR_FILTER_WRITE,
				.nmsrs = 1,
				.base = KERNEL_GS_BASE,
				.bitmap = deny_bitmap,
			},
		},
	};
	vm_vaddr_t vmx_pages_gva, list;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_X86_MSR_FILTER));

	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	list = vm_vaddr_alloc_page(vm);
	vcpu_args_set(vcpu, 3, vmx_pages_gva, list, addr_gva2gpa(vm, list));
	vm_ioctl(vm, KVM_X86_SET_MSR_FILTER, &filter);

	rnvmx_run_to_done(vm, vcpu);
	printf("PASS: the MSR filter denied the VM-entry MSR-load list's write; an allowed MSR loaded\n");
	return 0;
}
