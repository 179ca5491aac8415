/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the exit benchmarks (rnvmx_bench_l1_vmcall, _l2_cpuid, _l2_io_*,
 * _l2_vmrw*) share: an exiting instruction that keeps nothing in
 * registers, L1's VM-exit skip, and the host side, which runs the VM to
 * GUEST_DONE and prints
 *   "@@RNVMX-BENCH name=N ops=O cycles_per_op=C"
 * from the guest's GUEST_SYNC(cycles). Under Bochs the guest TSC advances
 * with emulated instructions, so the numbers measure the work done for
 * each operation (L0's and L1's), repeatably.
 */
#ifndef RNVMX_BENCH_EXITS_H
#define RNVMX_BENCH_EXITS_H

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"

/* Operations timed by each benchmark: a few seconds of guest time. */
#define BENCH_OPS 500

/*
 * One exiting instruction. L1 does not preserve L2's GPRs across a
 * reflected exit (see vmcall() in vmx.h), so every register but RSP is
 * clobbered and RBP saved on the stack.
 */
#define BENCH_CLOBBERS "rbx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", \
	"r12", "r13", "r14", "r15", "memory"

/* CPUID leaf 0: always exits; L0 reflects it to L1 unconditionally. */
static inline void bench_cpuid(void)
{
	uint64_t a = 0, c = 0;

	__asm__ __volatile__("push %%rbp; cpuid; pop %%rbp"
			     : "+a"(a), "+c"(c) : : BENCH_CLOBBERS);
}

/*
 * IN from the master PIC's mask register (port 0x21): selftest VMs have
 * an in-kernel irqchip, so L0 emulates it without a userspace exit.
 */
static inline void bench_inb_pic(void)
{
	uint64_t a = 0, c = 0;

	__asm__ __volatile__("push %%rbp; inb $0x21, %%al; pop %%rbp"
			     : "+a"(a), "+c"(c) : : BENCH_CLOBBERS);
}

/* L1: step L2 past the instruction that exited. */
static inline void bench_skip_insn(void)
{
	vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
}

/* L1: VMXON, a VMCS for L2 running l2_code on the stack below l2_stack_top. */
static inline void bench_prepare(struct vmx_pages *vmx, void *l2_code,
				 unsigned long *l2_stack_top)
{
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_code, l2_stack_top);
}

/* L1: the first entry into L2, which exits with `reason` at once. */
static inline void bench_launch(uint32_t reason)
{
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), reason);
	bench_skip_insn();
}

/*
 * L1, L2 launched: BENCH_OPS round trips, each an exit of `reason` from L2,
 * which L1 skips before it VMRESUMEs; the cycles go to the host, then DONE.
 */
static inline void bench_roundtrips(uint32_t reason)
{
	uint64_t t0, t1;
	int i;

	t0 = rdtsc();
	for (i = 0; i < BENCH_OPS; i++) {
		if (vmresume() || vmreadz(VM_EXIT_REASON) != reason)
			GUEST_FAIL("round trip %d failed", i);
		bench_skip_insn();
	}
	t1 = rdtsc();
	GUEST_SYNC(t1 - t0);
	GUEST_DONE();
}

/* The guest's I/O bitmaps A and B (ports 0-0x7fff, 0x8000-0xffff). */
struct bench_io_bitmaps {
	uint64_t a_gpa, b_gpa;
};

/*
 * Host: two zeroed pages as L1's I/O bitmaps, the bit of `port` set if
 * `exit`; returns their guest-virtual address, for L1's arguments.
 */
static inline vm_vaddr_t bench_alloc_io_bitmaps(struct kvm_vm *vm, uint16_t port, bool exit)
{
	vm_vaddr_t pages = vm_vaddr_alloc_pages(vm, 2), args = vm_vaddr_alloc_page(vm);
	struct bench_io_bitmaps *b = addr_gva2hva(vm, args);
	uint8_t *bits = addr_gva2hva(vm, pages + (port >= 0x8000 ? PAGE_SIZE : 0));

	memset(addr_gva2hva(vm, pages), 0, PAGE_SIZE);
	memset(addr_gva2hva(vm, pages + PAGE_SIZE), 0, PAGE_SIZE);
	if (exit)
		bits[(port & 0x7fff) / 8] |= 1 << (port % 8);
	b->a_gpa = addr_gva2gpa(vm, pages);
	b->b_gpa = addr_gva2gpa(vm, pages + PAGE_SIZE);
	return args;
}

/* L1: L2's I/O instructions exit to L1 as its I/O bitmaps say. */
static inline void bench_use_io_bitmaps(struct bench_io_bitmaps *b)
{
	GUEST_ASSERT(!vmwrite(IO_BITMAP_A, b->a_gpa));
	GUEST_ASSERT(!vmwrite(IO_BITMAP_B, b->b_gpa));
	GUEST_ASSERT(!vmwrite(CPU_BASED_VM_EXEC_CONTROL,
			      vmreadz(CPU_BASED_VM_EXEC_CONTROL) | CPU_BASED_USE_IO_BITMAPS));
}

/*
 * kvm_intel.enable_shadow_vmcs as loaded, so that a benchmark measures
 * what its name says (testbed/init.sh reloads kvm-intel for _noshadow).
 */
static inline bool bench_shadow_vmcs(void)
{
	FILE *f = fopen("/sys/module/kvm_intel/parameters/enable_shadow_vmcs", "r");
	int c;

	TEST_ASSERT(f, "no kvm_intel.enable_shadow_vmcs");
	c = fgetc(f);
	fclose(f);
	return c == 'Y';
}

/* Runs the VM to GUEST_DONE; the cycles L1 reported with GUEST_SYNC. */
static inline uint64_t bench_wait(struct kvm_vcpu *vcpu)
{
	uint64_t cycles = 0;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			cycles = uc.args[1];
			break;
		case UCALL_DONE:
			return cycles;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

/* The benchmark's line, which testbed/init.sh and testbed/ab.py read. */
static inline void bench_print(const char *name, int ops, uint64_t cycles)
{
	printf("@@RNVMX-BENCH name=%s ops=%d cycles_per_op=%lu\n",
	       name, ops, (unsigned long)(cycles / ops));
}

/* Runs the VM to GUEST_DONE, prints the benchmark's line, frees the VM. */
static inline void bench_run(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			     const char *name, int ops)
{
	bench_print(name, ops, bench_wait(vcpu));
	kvm_vm_free(vm);
}

#endif
