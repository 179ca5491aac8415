// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the first VMLAUNCH of a fresh vmcs12, i.e. the nested VM entry
 * that builds vmcs02 from a vmcs12 the backend has not seen (the full
 * prepare_vmcs02 path: all of vmcs12's controls, host and guest state
 * checked and loaded).
 *
 * Each op uses a vmcs12 page never used before (OPS pages): L1 writes its
 * revision ID, VMCLEARs and VMPTRLDs it (releasing the previous one), fills
 * it in with the selftest library's prepare_vmcs() and VMLAUNCHes; L2 at once
 * executes VMCALL, which is reflected to L1 (a nested VM exit).
 *
 * What is timed per op (L1's RDTSC), two windows added up:
 *  1. VMCLEAR + VMPTRLD of the fresh vmcs12 (the release of the previous
 *     vmcs12 included);
 *  2. the library's vmlaunch(): its two VMWRITEs (HOST_RSP, HOST_RIP), the
 *     VMLAUNCH (the nested entry), L2's VMCALL and the nested exit back to
 *     L1 (vmcs12 updated, L1's state loaded).
 * Not timed: the revision ID write, prepare_vmcs()'s ~150 VMWRITE/VMREADs
 * (what a VMWRITE costs is another benchmark's) and L1's check of the exit
 * reason.
 *
 * Prints "@@RNVMX-BENCH name=l2_first_vmlaunch ops=N cycles_per_op=C".
 * Under Bochs the TSC advances with emulated instructions, so the number
 * measures the work of the nested backend (and L1's), repeatably.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_bench_exits.h"

#define OPS 40

/* Set by the host: the fresh vmcs12 pages, one per op. */
static uint64_t vmcs_gva[OPS];
static uint64_t vmcs_gpa[OPS];

static void l2_guest_code(void)
{
	for (;;)
		vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];
	uint64_t t0, t1, t2, t3, cycles = 0;
	int i;

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	for (i = 0; i < OPS; i++) {
		*(uint32_t *)vmcs_gva[i] = vmcs_revision();
		t0 = rdtsc();
		if (vmclear(vmcs_gpa[i]) || vmptrld(vmcs_gpa[i]))
			GUEST_FAIL("op %d: VMCLEAR/VMPTRLD failed", i);
		t1 = rdtsc();
		prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
		t2 = rdtsc();
		if (vmlaunch())
			GUEST_FAIL("op %d: VMLAUNCH failed", i);
		t3 = rdtsc();
		if (vmreadz(VM_EXIT_REASON) != EXIT_REASON_VMCALL)
			GUEST_FAIL("op %d: exit reason %lu", i, vmreadz(VM_EXIT_REASON));
		cycles += (t1 - t0) + (t3 - t2);
	}
	GUEST_SYNC(cycles);
	GUEST_DONE();
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva, pages;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int i;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 1, vmx_pages_gva);
	pages = vm_vaddr_alloc_pages(vm, OPS);
	for (i = 0; i < OPS; i++) {
		vmcs_gva[i] = pages + i * getpagesize();
		vmcs_gpa[i] = addr_gva2gpa(vm, vmcs_gva[i]);
	}
	sync_global_to_guest(vm, vmcs_gva);
	sync_global_to_guest(vm, vmcs_gpa);

	bench_run(vm, vcpu, "l2_first_vmlaunch", OPS);
	return 0;
}
