// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: nested EPT faults. L1 runs L2 with EPT (the selftest library's
 * identity EPT of L1's memory, as vmx_dirty_log_test builds it) and a
 * region of PAGES pages L2 has not touched and whose last-level EPT entries
 * L1 left not present. L2 writes one word to each page in turn. For each
 * page:
 *  1. L2's write (one instruction) faults in the hardware: no EPT02 entry. L0 walks L1's EPT,
 *     finds the entry not present and sends an EPT violation to L1 (a
 *     nested exit the backend synthesizes, counted by rnvmx's
 *     l2_ept_faults, not as a reflected exit);
 *  2. L1 reads the exit reason and the guest-physical address (two
 *     VMREADs), makes the EPT entry present (one write to its EPT table;
 *     the first may trap, L0 shadowing that table) and VMRESUMEs;
 *  3. L2's write faults again: now L0's walk of L1's EPT succeeds and L0
 *     maps the page in EPT02 (an exit handled by L0, not reflected);
 *  4. the write completes and L2 goes on to the next page.
 * The host writes the region's memory before the run, so L0's part is the
 * EPT work, not the allocation of host pages.
 *
 * Timed by L1 with RDTSC, from the VMRESUME after L2's first VMCALL to the
 * exit of L2's second VMCALL (after the last page): PAGES times the four
 * steps above, plus one VMRESUME/VMCALL round trip over all pages.
 *
 * Prints "@@RNVMX-BENCH name=l2_ept_fault_pages ops=PAGES cycles_per_op=C"
 * (cycles per page). Under Bochs the TSC advances with emulated
 * instructions, so the number measures the work of the nested backend, of
 * KVM's MMU and of L1, repeatably.
 */
#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_bench_exits.h"

#define PAGES 128
/* The region: L1's GPA (identity-mapped for L1 and L2: GVA = L2 GPA), below
 * 2 GiB, so that an instruction can address it absolutely. */
#define TEST_MEM 0x40000000ul
#define TEST_SLOT 1
/* Where L1 sees its EPT table that maps the region (one 4 KiB page). */
#define EPT_PT_GVA 0x40400000ul

#define EPT_RWX 7ull
#define EPT_ADDR_MASK 0x000ffffffffff000ull

static void l2_guest_code(void)
{
	vmcall();
	/*
	 * L1 does not keep L2's GPRs across the exits it handles (the
	 * library's vmresume() does not save them), so no register may hold
	 * anything across one: each write has its page's absolute address in
	 * the instruction.
	 */
	asm volatile(".set rnvmx_ept_page, %c0\n\t"
		     ".rept %c1\n\t"
		     "movq $1, rnvmx_ept_page\n\t"
		     ".set rnvmx_ept_page, rnvmx_ept_page + 4096\n\t"
		     ".endr"
		     : : "i"(TEST_MEM), "i"(PAGES) : "memory");
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	volatile uint64_t *ept_pt = (volatile uint64_t *)EPT_PT_GVA;
	unsigned long l2_stack[64];
	uint64_t t0, t1, gpa, i, faults = 0;

	GUEST_ASSERT(vmx->eptp_gpa);
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT(vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL);
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));

	t0 = rdtsc();
	for (;;) {
		if (vmresume())
			GUEST_FAIL("VMRESUME failed after %lu faults", faults);
		if (vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL)
			break;
		if (vmreadz(VM_EXIT_REASON) != EXIT_REASON_EPT_VIOLATION)
			GUEST_FAIL("exit reason %lu (intr info %lx, qualification %lx) after %lu faults",
				   vmreadz(VM_EXIT_REASON), vmreadz(VM_EXIT_INTR_INFO),
				   vmreadz(EXIT_QUALIFICATION), faults);
		gpa = vmreadz(GUEST_PHYSICAL_ADDRESS);
		i = (gpa - TEST_MEM) >> 12;
		if (gpa < TEST_MEM || i >= PAGES || (ept_pt[i] & EPT_RWX))
			GUEST_FAIL("EPT violation at %lx", gpa);
		ept_pt[i] |= EPT_RWX;
		faults++;
	}
	t1 = rdtsc();
	GUEST_ASSERT_EQ(faults, PAGES);
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
}

/* The guest-physical address of the last-level EPT table that maps gpa. */
static uint64_t ept_pt_gpa(struct kvm_vm *vm, struct vmx_pages *vmx, uint64_t gpa)
{
	uint64_t *table = vmx->eptp_hva, e = 0;
	int level;

	for (level = 4; level >= 2; level--) {
		e = table[(gpa >> (12 + 9 * (level - 1))) & 511];
		TEST_ASSERT(e & EPT_RWX, "no EPT entry at level %d for %lx", level, gpa);
		table = addr_gpa2hva(vm, e & EPT_ADDR_MASK);
	}
	return e & EPT_ADDR_MASK;
}

int main(void)
{
	vm_vaddr_t vmx_pages_gva;
	struct vmx_pages *vmx;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t cycles, pt_gpa, *pt, *mem;
	int i;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_cpu_has_ept());
	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vmx = vcpu_alloc_vmx(vm, &vmx_pages_gva);
	vcpu_args_set(vcpu, 1, vmx_pages_gva);

	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_MEM, TEST_SLOT, PAGES, 0);
	virt_map(vm, TEST_MEM, TEST_MEM, PAGES);
	mem = addr_gpa2hva(vm, TEST_MEM);
	memset(mem, 0, PAGES * 4096ul);

	/* L1's EPT: the region, then (last) all of memslot 0, for L2's code,
	 * stack and page tables, and the EPT table L1 writes, mapped for L1. */
	prepare_eptp(vmx, vm, 0);
	nested_map(vmx, vm, TEST_MEM, TEST_MEM, PAGES * 4096ul);
	pt_gpa = ept_pt_gpa(vm, vmx, TEST_MEM);
	TEST_ASSERT(((TEST_MEM >> 12) & 511) + PAGES <= 512, "region crosses an EPT table");
	virt_pg_map(vm, EPT_PT_GVA, pt_gpa);
	nested_map_memslot(vmx, vm, 0);
	/* The region's entries not present: L1 maps each page when L2 faults. */
	pt = addr_gpa2hva(vm, pt_gpa);
	pt += (TEST_MEM >> 12) & 511;
	for (i = 0; i < PAGES; i++) {
		TEST_ASSERT((pt[i] & EPT_ADDR_MASK) == TEST_MEM + i * 4096ul, "EPT entry %d", i);
		pt[i] &= ~EPT_RWX;
	}

	cycles = bench_wait(vcpu);
	for (i = 0; i < PAGES; i++)
		TEST_ASSERT_EQ(mem[i * 512], 1);
	bench_print("l2_ept_fault_pages", PAGES, cycles);
	kvm_vm_free(vm);
	return 0;
}
