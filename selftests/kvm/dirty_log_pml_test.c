// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_log_pml_test: dirty logging of a guest that writes a known set of
 * pages, checked exactly.
 *
 * A guest writes TEST_PAGES pages of a memslot with KVM_MEM_LOG_DIRTY_PAGES
 * in ROUNDS rounds, a different deterministic subset each round (more than
 * the 512 entries of a PML buffer), then stops. After each round the host
 * reads the dirty log: the pages written that round, and only those, must be
 * dirty, and each must hold the round's value.
 *
 * Run inside an L1 whose KVM uses page-modification logging (kvm_intel.pml=Y:
 * L0 offers PML and EPT A/D bits to L1), the guest is L0's L2 and L1's KVM
 * enables PML in its VMCS for it, so L0's nested PML emulation writes L1's
 * PML buffer and reports it full. Without PML in this KVM the test skips: it
 * would not test that. Exit status: 0 pass, 4 skip.
 */
#include <stdio.h>
#include <linux/bitmap.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

#define TEST_SLOT	1
#define TEST_GPA	0xc0000000ul
#define TEST_PAGES	2048
#define ROUNDS		4

/* Page i is written in round r (1-based). */
static bool written(uint64_t round, uint64_t i)
{
	return i % ROUNDS == round - 1 || i % 7 == round;
}

static void guest_code(void)
{
	uint64_t round, i;

	for (round = 1; round <= ROUNDS; round++) {
		for (i = 0; i < TEST_PAGES; i++)
			if (written(round, i))
				*(volatile uint64_t *)(TEST_GPA + i * PAGE_SIZE) = round;
		GUEST_SYNC(round);
	}
	GUEST_DONE();
}

static bool host_uses_pml(void)
{
	FILE *f = fopen("/sys/module/kvm_intel/parameters/pml", "r");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == 'Y';
}

int main(void)
{
	unsigned long *bitmap;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t round, i, dirty_total = 0;
	struct ucall uc;

	TEST_REQUIRE(host_uses_pml());

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
				    TEST_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, TEST_GPA, TEST_GPA, TEST_PAGES);
	bitmap = bitmap_zalloc(TEST_PAGES);
	kvm_vm_get_dirty_log(vm, TEST_SLOT, bitmap);

	for (round = 1; round <= ROUNDS; round++) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			TEST_ASSERT_EQ(uc.args[1], round);
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		kvm_vm_get_dirty_log(vm, TEST_SLOT, bitmap);
		for (i = 0; i < TEST_PAGES; i++) {
			uint64_t *p = addr_gpa2hva(vm, TEST_GPA + i * PAGE_SIZE);
			bool dirty = test_bit(i, bitmap);

			TEST_ASSERT(dirty == written(round, i),
				    "round %lu: page %lu dirty=%d written=%d",
				    round, i, dirty, written(round, i));
			if (dirty)
				TEST_ASSERT_EQ(*p, round);
			dirty_total += dirty;
		}
	}
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_DONE);
	printf("dirty_log_pml_test: %lu pages dirty in %d rounds, as written\n",
	       dirty_total, ROUNDS);
	free(bitmap);
	kvm_vm_free(vm);
	return 0;
}
