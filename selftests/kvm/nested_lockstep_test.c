// SPDX-License-Identifier: GPL-2.0
/*
 * nested_lockstep_test: the same seeded VMX inputs on whichever nested
 * backend runs it, with what L1 observes printed per case, so that a C run
 * and a Rust run compare case by case (testbed/ab.py, "lockstep").
 *
 * Family "entry": L1 starts from one valid vmcs12 (the region's bytes
 * after VMCLEAR, restored before each case), makes 1-4 seeded mutations
 * with VMWRITE (controls bit flips within and beyond the capability MSRs,
 * guest state, host state made invalid, event injection, MSR lists, bitmap
 * and page addresses, EPTP, VMCS link pointer), picks one of the L2
 * programs below, and VMLAUNCHes; after a VMCALL exit, half the cases
 * mutate once more and VMRESUME. Family "insn": VMREAD/VMWRITE of seeded
 * encodings and values, VMPTRLD/VMCLEAR of bad addresses, INVEPT/INVVPID
 * types and descriptors, VMXON again. Family "chain": one vmcs12 entered
 * again and again, as a real L1 does: after the VMLAUNCH, up to CHAIN_STEPS
 * VMRESUMEs, each after L1 has read the exit, put L2 back at the start of a
 * seeded program and, one step in four, made one seeded mutation; the case
 * ends at the first VMfail. Every step's exit information is hashed.
 *
 * Per case L1 hashes the RFLAGS of every VMX instruction, the VM-instruction
 * error of each VMfail, its own RFLAGS and the MSRs an exit's MSR-load list
 * or a late VMfail's restore may change (SYSENTER, KERNEL_GS_BASE, EFER),
 * and the whole vmcs12 as KVM writes it to the VMCS region at VMCLEAR (exit
 * reason, qualification, interruption and IDT-vectoring information,
 * instruction length and information, every guest field), but the
 * VMX-preemption timer value, which depends on time.
 *
 * Everything L2 does ends in an exit that does not depend on time: its
 * programs end in VMCALL, its IDT is empty (an event is a triple fault
 * unless L1 intercepts it), the VMX-preemption timer is only ever 0 or the
 * maximum, no activity state waits. Host-state mutations are only values
 * the VM-entry checks reject, so that L1 survives every exit.
 *
 * The kernel command line's rnvmx_lockstep=SEED,CASES,FIRST[,FAMILIES]
 * (default 1,256,0,7) selects the cases of each family, and FAMILIES the
 * families run (bit 0 entry, 1 insn, 2 chain). Output, one line per batch:
 *   @@RNVMX-LS family=F first=N hashes=H,H,...
 * Exit status: 0 (the comparison is the host's), 4 skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_rng.h"

#define BATCH		64
#define MAX_CASES	(1u << 24)
#define TIMER_OFFSET	928	/* vmcs12.vmx_preemption_timer_value */
#define HASHED_BYTES	1024
#define NR_PAGES	8	/* zero, ones, pattern, vAPIC, APIC-access, PML, lists, spare */
#define EPTP_LIST_ADDRESS	0x00002024

enum { FAM_ENTRY, FAM_INSN, FAM_CHAIN };

#define LOG_SIZE	112	/* the args page holds it */

struct args {
	uint64_t seed, first, count, family, current;
	uint64_t pages_gva, pages_gpa, idt_gva, results_gva;
	/* The current case's VMWRITEs and entries, for its reproducer. */
	uint64_t nlog, log[LOG_SIZE][3];
	/* Its vmcs12 as hashed (HASHED_BYTES), for a run of one case. */
	uint64_t dump[HASHED_BYTES / 8];
};

static struct args *A;
_Static_assert(sizeof(struct args) <= 4096, "struct args is one page");

/* Records (what, a, b) of the current case: what is a VMCS encoding, or
 * one of the LOG_ values below. */
#define LOG_ENTER	0x100000000ull
#define LOG_PROG	0x200000000ull
#define LOG_M64		0x300000000ull
#define LOG_INV		0x400000000ull
static void log_op(uint64_t what, uint64_t a, uint64_t b)
{
	if (A->nlog < LOG_SIZE) {
		A->log[A->nlog][0] = what;
		A->log[A->nlog][1] = a;
		A->log[A->nlog][2] = b;
	}
	A->nlog++;
}

/* L2's programs: each ends in VMCALL, then UD2 if resumed. */
asm(".pushsection .text\n"
    ".global ls_p0, ls_p1, ls_p2, ls_p3, ls_p4, ls_p5, ls_p6, ls_p7, ls_p8\n"
    ".global ls_p9, ls_p10, ls_p11, ls_p12, ls_p13, ls_p14, ls_p15, ls_p16\n"
    "ls_p0: vmcall; ud2\n"
    "ls_p1: xor %eax, %eax; cpuid; vmcall; ud2\n"
    "ls_p2: mov $0xc0000080, %ecx; rdmsr; vmcall; ud2\n"
    "ls_p3: mov $0xc0000102, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr; vmcall; ud2\n"
    "ls_p4: inb $0x80, %al; vmcall; ud2\n"
    "ls_p5: outb %al, $0x80; vmcall; ud2\n"
    "ls_p6: mov %cr3, %rax; mov %rax, %cr3; vmcall; ud2\n"
    "ls_p7: mov %cr0, %rax; mov %rax, %cr0; vmcall; ud2\n"
    "ls_p8: ud2\n"
    "ls_p9: int3; vmcall; ud2\n"
    "ls_p10: mov %cr8, %rax; vmcall; ud2\n"
    "ls_p11: pause; rdtsc; vmcall; ud2\n"
    "ls_p12: sgdt -16(%rsp); vmcall; ud2\n"
    "ls_p13: mov %dr7, %rax; vmcall; ud2\n"
    "ls_p14: vmxoff; vmcall; ud2\n"
    "ls_p15: xor %eax, %eax; xor %ecx, %ecx; vmfunc; vmcall; ud2\n"
    "ls_p16: wbinvd; vmcall; ud2\n"
    ".popsection\n");
extern char ls_p0[], ls_p1[], ls_p2[], ls_p3[], ls_p4[], ls_p5[], ls_p6[], ls_p7[],
	ls_p8[], ls_p9[], ls_p10[], ls_p11[], ls_p12[], ls_p13[], ls_p14[], ls_p15[],
	ls_p16[];

static uint64_t flags_of_vmwrite(uint64_t enc, uint64_t val)
{
	uint64_t f;

	asm volatile("vmwrite %[v], %[e]; pushfq; pop %[f]"
		     : [f] "=r"(f) : [v] "r"(val), [e] "r"(enc) : "cc", "memory");
	log_op(enc, val, f & 0x8d5);
	return f & 0x8d5;
}

static uint64_t flags_of_vmread(uint64_t enc, uint64_t *val)
{
	uint64_t f, v = 0;

	asm volatile("vmread %[e], %[v]; pushfq; pop %[f]"
		     : [f] "=r"(f), [v] "+r"(v) : [e] "r"(enc) : "cc", "memory");
	*val = v;
	return f & 0x8d5;
}

static uint64_t flags_of_m64(int op, uint64_t pa)
{
	uint64_t f;

	switch (op) {
	case 0:
		asm volatile("vmptrld %[a]; pushfq; pop %[f]" : [f] "=r"(f) : [a] "m"(pa) : "cc", "memory");
		break;
	case 1:
		asm volatile("vmclear %[a]; pushfq; pop %[f]" : [f] "=r"(f) : [a] "m"(pa) : "cc", "memory");
		break;
	default:
		asm volatile("vmxon %[a]; pushfq; pop %[f]" : [f] "=r"(f) : [a] "m"(pa) : "cc", "memory");
		break;
	}
	return f & 0x8d5;
}

static uint64_t flags_of_inv(int ept, uint64_t type, uint64_t desc[2])
{
	uint64_t f;

	if (ept)
		asm volatile("invept %[d], %[t]; pushfq; pop %[f]"
			     : [f] "=r"(f) : [d] "m"(*(char (*)[16])desc), [t] "r"(type) : "cc", "memory");
	else
		asm volatile("invvpid %[d], %[t]; pushfq; pop %[f]"
			     : [f] "=r"(f) : [d] "m"(*(char (*)[16])desc), [t] "r"(type) : "cc", "memory");
	return f & 0x8d5;
}

/* VMLAUNCH or VMRESUME: 0 after a VM exit, else RFLAGS of the VMfail. */
static uint64_t enter(uint64_t resume)
{
	uint64_t ret;

	asm volatile("push %%rbp; push %%rcx; push %%rdx; push %%rsi; push %%rdi;"
		     "push $0;"
		     "vmwrite %%rsp, %[host_rsp];"
		     "lea 1f(%%rip), %%rax;"
		     "vmwrite %%rax, %[host_rip];"
		     "test %%rbx, %%rbx; jnz 2f;"
		     "vmlaunch; jmp 3f;"
		     "2: vmresume;"
		     "3: pushfq; pop %%rax; mov %%rax, (%%rsp);"
		     "1: pop %%rax;"
		     "pop %%rdi; pop %%rsi; pop %%rdx; pop %%rcx; pop %%rbp;"
		     : "=&a"(ret), "+b"(resume)
		     : [host_rsp] "r"((uint64_t)HOST_RSP), [host_rip] "r"((uint64_t)HOST_RIP)
		     : "memory", "cc", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
	return ret;
}

static uint8_t *pages;	/* NR_PAGES pages, gva */
static uint64_t pages_gpa;
static uint8_t baseline[4096];
static unsigned long l2_stack[512];
static uint64_t caps[5][2];	/* pin, proc, proc2, exit, entry: allowed-0, allowed-1 */
static bool has_invept, has_invvpid;	/* offered to L1 (else #UD) */

static uint64_t page_gpa(int i)
{
	return pages_gpa + i * 4096ull;
}

static const uint32_t ctrl_field[5] = {
	PIN_BASED_VM_EXEC_CONTROL, CPU_BASED_VM_EXEC_CONTROL, SECONDARY_VM_EXEC_CONTROL,
	VM_EXIT_CONTROLS, VM_ENTRY_CONTROLS,
};

/* A control with one bit flipped: mostly one L1 may set. */
static uint64_t flip_control(int c, uint64_t v)
{
	uint64_t allowed = caps[c][1];
	int bit = below(32);

	if (below(4) && allowed) {
		do
			bit = below(32);
		while (!(allowed & (1ull << bit)));
	}
	return v ^ (1ull << bit);
}

static uint64_t address(void)
{
	switch (below(8)) {
	case 0: return 0;
	case 1: return page_gpa(below(NR_PAGES));
	case 2: return page_gpa(below(NR_PAGES)) | (1ull << below(12));	/* unaligned */
	case 3: return 1ull << (52 + below(12));			/* beyond MAXPHYADDR */
	case 4: return -1ull;
	case 5: return page_gpa(2) + 8;
	default: return page_gpa(below(NR_PAGES));
	}
}

static uint64_t noncanonical(void)
{
	return 0x0000800000000000ull | (below(1 << 20) << 12);
}

/* Host-state values the VM-entry checks reject (SDM 27.2.2-27.2.4). */
static uint64_t mutate_host(uint64_t h)
{
	static const uint32_t base[] = { HOST_FS_BASE, HOST_GS_BASE, HOST_TR_BASE, HOST_GDTR_BASE,
		HOST_IDTR_BASE, HOST_IA32_SYSENTER_ESP, HOST_IA32_SYSENTER_EIP };
	static const uint32_t sel[] = { HOST_ES_SELECTOR, HOST_SS_SELECTOR, HOST_DS_SELECTOR,
		HOST_FS_SELECTOR, HOST_GS_SELECTOR };

	switch (below(8)) {
	case 0: return mix(h, flags_of_vmwrite(HOST_CR0, vmreadz(HOST_CR0) & ~(1ull << 31)));
	case 1: return mix(h, flags_of_vmwrite(HOST_CR4, vmreadz(HOST_CR4) & ~(1ull << 13)));
	case 2: return mix(h, flags_of_vmwrite(HOST_CR3, vmreadz(HOST_CR3) | (1ull << 62)));
	case 3: return mix(h, flags_of_vmwrite(base[below(7)], noncanonical()));
	case 4: return mix(h, flags_of_vmwrite(sel[below(5)], vmreadz(HOST_DS_SELECTOR) | (1 + below(7))));
	case 5: return mix(h, flags_of_vmwrite(below(2) ? HOST_CS_SELECTOR : HOST_TR_SELECTOR, 0));
	case 6: return mix(h, flags_of_vmwrite(HOST_CR0, vmreadz(HOST_CR0) | (1ull << 63)));
	default:
		/* The host address-space size leaves the exit controls. */
		return mix(h, flags_of_vmwrite(VM_EXIT_CONTROLS,
					       vmreadz(VM_EXIT_CONTROLS) & ~VM_EXIT_HOST_ADDR_SPACE_SIZE));
	}
}

static void msr_entry(int list, int i, uint32_t index, uint32_t reserved, uint64_t value)
{
	uint64_t *e = (uint64_t *)(pages + 6 * 4096 + list * 1024 + i * 16);

	e[0] = index | (uint64_t)reserved << 32;
	e[1] = value;
}

/* MSR lists in page 6: entry-load (any entry), exit-store and exit-load
 * (only entries KVM accepts: a failure there is a VMX abort). */
static uint64_t mutate_msr_lists(uint64_t h)
{
	static const uint32_t any[] = { 0x175, 0x176, 0xc0000102, 0xc0000100, 0x808, 0x12345,
		0x8b, 0x9e, 0x10 };
	static const uint32_t safe[] = { 0x175, 0x176, 0xc0000102 };
	int which = below(3), n = below(3), i;
	uint64_t addr;

	for (i = 0; i < n; i++) {
		if (which == 0)
			msr_entry(0, i, any[below(9)], below(8) ? 0 : 1u << below(32),
				  below(2) ? 0x1000 * below(4) : noncanonical());
		else
			msr_entry(which, i, safe[below(3)], 0, 0x2000);
	}
	/* The exit lists point only to their list or to an address the
	 * VM-entry checks reject (unaligned, beyond MAXPHYADDR): any other
	 * memory could hold entries whose failure is a VMX abort of L1. */
	if (below(8))
		addr = page_gpa(6) + which * 1024;
	else if (which == 0)
		addr = address();
	else
		addr = below(2) ? page_gpa(6) + which * 1024 + 1 + below(15) : 1ull << (52 + below(12));
	h = mix(h, flags_of_vmwrite(which == 0 ? VM_ENTRY_MSR_LOAD_ADDR :
				    which == 1 ? VM_EXIT_MSR_STORE_ADDR : VM_EXIT_MSR_LOAD_ADDR, addr));
	return mix(h, flags_of_vmwrite(which == 0 ? VM_ENTRY_MSR_LOAD_COUNT :
				       which == 1 ? VM_EXIT_MSR_STORE_COUNT : VM_EXIT_MSR_LOAD_COUNT,
				       which == 0 && !below(8) ? below(1 << 16) : n));
}

static uint64_t mutate_guest(uint64_t h)
{
	static const uint32_t sel[] = { GUEST_ES_SELECTOR, GUEST_CS_SELECTOR, GUEST_SS_SELECTOR,
		GUEST_DS_SELECTOR, GUEST_FS_SELECTOR, GUEST_GS_SELECTOR, GUEST_LDTR_SELECTOR,
		GUEST_TR_SELECTOR };
	static const uint32_t ar[] = { GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES,
		GUEST_DS_AR_BYTES, GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES, GUEST_LDTR_AR_BYTES,
		GUEST_TR_AR_BYTES };
	static const uint32_t lim[] = { GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT,
		GUEST_TR_LIMIT, GUEST_GDTR_LIMIT, GUEST_IDTR_LIMIT, GUEST_LDTR_LIMIT };
	static const uint32_t canon[] = { GUEST_FS_BASE, GUEST_GS_BASE, GUEST_TR_BASE,
		GUEST_GDTR_BASE, GUEST_IDTR_BASE, GUEST_LDTR_BASE, GUEST_SYSENTER_ESP,
		GUEST_SYSENTER_EIP, GUEST_RIP };
	static const int cr0_bits[] = { 0, 3, 5, 16, 18, 29, 30, 31, 32, 47 };
	static const int cr4_bits[] = { 5, 7, 9, 10, 11, 12, 13, 16, 20, 21, 22, 23, 40 };
	static const uint32_t act[] = { 0, 2, 4, 5, 6, 7 };
	uint64_t v;

	switch (below(14)) {
	case 0:
		v = vmreadz(GUEST_CR0) ^ (1ull << cr0_bits[below(10)]);
		return mix(h, flags_of_vmwrite(GUEST_CR0, v));
	case 1:
		v = vmreadz(GUEST_CR4) ^ (1ull << cr4_bits[below(13)]);
		return mix(h, flags_of_vmwrite(GUEST_CR4, v));
	case 2:
		return mix(h, flags_of_vmwrite(GUEST_RFLAGS, vmreadz(GUEST_RFLAGS) ^ (1ull << below(23))));
	case 3:
	{
		uint32_t f = sel[below(8)];

		return mix(h, flags_of_vmwrite(f, vmreadz(f) ^ (1ull << below(16))));
	}
	case 4: {
		uint32_t f = ar[below(8)];

		return mix(h, flags_of_vmwrite(f, vmreadz(f) ^ (1ull << below(17))));
	}
	case 5: {
		uint32_t f = lim[below(7)];

		return mix(h, flags_of_vmwrite(f, vmreadz(f) ^ (1ull << below(32))));
	}
	case 6:
		return mix(h, flags_of_vmwrite(canon[below(9)], noncanonical()));
	case 7:
		return mix(h, flags_of_vmwrite(GUEST_INTERRUPTIBILITY_INFO, below(32)));
	case 8:
		return mix(h, flags_of_vmwrite(GUEST_ACTIVITY_STATE, act[below(6)]));
	case 9:
		return mix(h, flags_of_vmwrite(GUEST_PENDING_DBG_EXCEPTIONS,
					       (1ull << below(17)) & 0x1500f));
	case 10:
		return mix(h, flags_of_vmwrite(GUEST_DR7, vmreadz(GUEST_DR7) ^ (1ull << below(40))));
	case 11:
		return mix(h, flags_of_vmwrite(below(2) ? GUEST_IA32_DEBUGCTL : GUEST_IA32_PAT,
					       below(2) ? 1ull << below(16) : 0x0007040600070406ull ^
					       (1ull << below(64))));
	case 12:
		return mix(h, flags_of_vmwrite(GUEST_IA32_EFER,
					       vmreadz(GUEST_IA32_EFER) ^ (1ull << (below(2) ? 8 + below(4) : below(64)))));
	default: {
		static const uint64_t links[] = { 0, 1, 1ull << 52, 0x1000 };
		uint64_t l = below(2) ? links[below(4)] : A->pages_gpa;

		h = mix(h, flags_of_vmwrite(GUEST_CR3, vmreadz(GUEST_CR3) ^ (1ull << (below(2) ? 3 : 40 + below(24)))));
		return below(2) ? h : mix(h, flags_of_vmwrite(VMCS_LINK_POINTER, l));
	}
	}
}

static uint64_t mutate_event(uint64_t h)
{
	uint64_t type = below(8), vector = below(4) ? below(32) : below(256);
	uint64_t info = (1ull << 31) | (type << 8) | vector;

	if (below(2))
		info |= 1 << 11;	/* deliver error code */
	if (!below(8))
		info |= 1ull << (12 + below(19));	/* reserved */
	h = mix(h, flags_of_vmwrite(VM_ENTRY_INTR_INFO_FIELD, info));
	h = mix(h, flags_of_vmwrite(VM_ENTRY_EXCEPTION_ERROR_CODE, below(2) ? 0 : rnd()));
	return mix(h, flags_of_vmwrite(VM_ENTRY_INSTRUCTION_LEN, below(18)));
}

static uint64_t mutate_addresses(uint64_t h)
{
	static const uint32_t f[] = { IO_BITMAP_A, IO_BITMAP_B, MSR_BITMAP, VIRTUAL_APIC_PAGE_ADDR,
		APIC_ACCESS_ADDR, POSTED_INTR_DESC_ADDR, EPT_POINTER, EOI_EXIT_BITMAP0,
		VMREAD_BITMAP, VMWRITE_BITMAP, PML_ADDRESS, EPTP_LIST_ADDRESS };
	uint32_t field = f[below(12)];
	uint64_t a = address();

	/* A valid-looking EPTP: WB, 4 levels, maybe A/D, over an empty table. */
	if (field == EPT_POINTER && below(2))
		a = page_gpa(0) | 6 | (3 << 3) | (below(2) << 6);
	return mix(h, flags_of_vmwrite(field, a));
}

static uint64_t mutate_misc(uint64_t h)
{
	switch (below(8)) {
	case 0: return mix(h, flags_of_vmwrite(EXCEPTION_BITMAP, vmreadz(EXCEPTION_BITMAP) ^ (1ull << below(32))));
	case 1: return mix(h, flags_of_vmwrite(CR3_TARGET_COUNT, below(6)));
	case 2: return mix(h, flags_of_vmwrite(below(2) ? CR0_GUEST_HOST_MASK : CR4_GUEST_HOST_MASK, rnd()));
	case 3: return mix(h, flags_of_vmwrite(below(2) ? CR0_READ_SHADOW : CR4_READ_SHADOW, rnd()));
	case 4: return mix(h, flags_of_vmwrite(TPR_THRESHOLD, below(2) ? below(16) : below(1 << 8)));
	case 5: return mix(h, flags_of_vmwrite(VMX_PREEMPTION_TIMER_VALUE, below(2) ? 0 : 0xffffffffull));
	case 6: return mix(h, flags_of_vmwrite(VIRTUAL_PROCESSOR_ID, below(3)));
	default:
		return mix(h, flags_of_vmwrite(below(2) ? PAGE_FAULT_ERROR_CODE_MASK : PAGE_FAULT_ERROR_CODE_MATCH,
					       rnd() & 0x1f));
	}
}

static uint64_t mutate(uint64_t h)
{
	int c;

	switch (below(10)) {
	case 0: case 1: case 2:
		c = below(5);
		return mix(h, flags_of_vmwrite(ctrl_field[c], flip_control(c, vmreadz(ctrl_field[c]))));
	case 3: return mutate_guest(h);
	case 4: return mutate_guest(h);
	case 5: return below(3) ? mutate_event(h) : mutate_host(h);
	case 6: return mutate_msr_lists(h);
	case 7: return mutate_addresses(h);
	default: return mutate_misc(h);
	}
}

static uint64_t hash_vmcs(struct vmx_pages *vmx, uint64_t h)
{
	const uint64_t *w = vmx->vmcs;
	int i;

	GUEST_ASSERT(!vmclear(vmx->vmcs_gpa));
	for (i = 0; i < HASHED_BYTES / 8; i++) {
		uint64_t v = w[i];

		if (i == TIMER_OFFSET / 8)
			v &= ~(0xffffffffull << (TIMER_OFFSET % 8 * 8));
		A->dump[i] = v;
		h = mix(h, v);
	}
	return h;
}

/* Every case starts from the same memory: the VMCS region, and the pages
 * its bitmaps, lists, virtual-APIC and PML pages may point to, which a
 * case may write (VMCLEAR of a page, PML, MSR-store lists). */
static void reset_pages(struct vmx_pages *vmx)
{
	int k;

	memcpy(vmx->vmcs, baseline, sizeof(baseline));
	memset(pages, 0, NR_PAGES * 4096);
	memset(pages + 4096, 0xff, 4096);	/* page 1: all ones */
	for (k = 0; k < 4096; k++)		/* page 2: a pattern */
		pages[2 * 4096 + k] = (uint8_t)(k * 37 + 11);
	GUEST_ASSERT(!vmptrld(vmx->vmcs_gpa));
}

static void *const progs[] = { ls_p0, ls_p1, ls_p2, ls_p3, ls_p4, ls_p5, ls_p6, ls_p7, ls_p8,
	ls_p9, ls_p10, ls_p11, ls_p12, ls_p13, ls_p14, ls_p15, ls_p16 };

/* L1's own MSRs an exit (its MSR-load list) or a late VMfail's restore may
 * change, as L1 reads them after the case; then put back for the next. */
static const uint32_t l1_msrs[] = { 0x174, 0x175, 0x176, 0xc0000102, 0xc0000080 };
static uint64_t l1_msr_baseline[5];

static uint64_t hash_l1_state(uint64_t h)
{
	uint64_t rflags;
	int i;

	asm volatile("pushfq; pop %0" : "=r"(rflags));
	h = mix(h, rflags);
	for (i = 0; i < 5; i++) {
		uint64_t v = rdmsr(l1_msrs[i]);

		h = mix(h, v);
		if (v != l1_msr_baseline[i])
			wrmsr(l1_msrs[i], l1_msr_baseline[i]);
	}
	return h;
}

static uint64_t entry_case(struct vmx_pages *vmx)
{
	uint64_t h = 0xcbf29ce484222325ull, f;
	int n, i;

	reset_pages(vmx);
	i = below(17);
	log_op(LOG_PROG, i, 0);
	vmwrite(GUEST_RIP, (uint64_t)progs[i]);
	n = 1 + below(4);
	for (i = 0; i < n; i++)
		h = mutate(h);
	f = enter(0);
	log_op(LOG_ENTER, f, f ? vmreadz(VM_INSTRUCTION_ERROR) : vmreadz(VM_EXIT_REASON));
	h = mix(h, f);
	if (f) {
		h = mix(h, vmreadz(VM_INSTRUCTION_ERROR));
	} else if (vmreadz(VM_EXIT_REASON) == EXIT_REASON_VMCALL && below(2)) {
		vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
		h = mutate(h);
		f = enter(1);
		log_op(LOG_ENTER | 1, f, f ? vmreadz(VM_INSTRUCTION_ERROR) : vmreadz(VM_EXIT_REASON));
		h = mix(h, f);
		if (f)
			h = mix(h, vmreadz(VM_INSTRUCTION_ERROR));
	}
	h = hash_l1_state(h);
	return hash_vmcs(vmx, h);
}

/* Family "chain": the exit information L1 reads after each step. */
#define CHAIN_STEPS	16
static uint64_t hash_exit(uint64_t h)
{
	static const uint32_t f[] = { VM_EXIT_REASON, EXIT_QUALIFICATION, VM_EXIT_INTR_INFO,
		VM_EXIT_INTR_ERROR_CODE, IDT_VECTORING_INFO_FIELD, IDT_VECTORING_ERROR_CODE,
		VM_EXIT_INSTRUCTION_LEN, VMX_INSTRUCTION_INFO, GUEST_RIP, GUEST_RFLAGS,
		GUEST_INTERRUPTIBILITY_INFO, GUEST_ACTIVITY_STATE };
	unsigned int i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		h = mix(h, vmreadz(f[i]));
	return h;
}

static uint64_t chain_case(struct vmx_pages *vmx)
{
	uint64_t h = 0xcbf29ce484222325ull, f;
	int step, p;

	reset_pages(vmx);
	for (step = 0; step <= CHAIN_STEPS; step++) {
		p = below(17);
		log_op(LOG_PROG, p, 0);
		vmwrite(GUEST_RIP, (uint64_t)progs[p]);
		/* L1 sets the timer at each step: the value an exit saves after
		 * an entry whose timer expired at once is time-dependent on
		 * nested.c (what is left of an earlier entry's hrtimer, which
		 * that entry never armed; found by this family, see
		 * nested/preemption_timer.rs value_at_exit), 0 on rnvmx. */
		h = mix(h, flags_of_vmwrite(VMX_PREEMPTION_TIMER_VALUE, below(2) ? 0 : 0xffffffffull));
		if (!below(4))
			h = mutate(h);
		f = enter(step > 0);
		log_op(LOG_ENTER | (step > 0), f, f ? vmreadz(VM_INSTRUCTION_ERROR) : vmreadz(VM_EXIT_REASON));
		h = mix(h, f);
		if (f) {
			h = mix(h, vmreadz(VM_INSTRUCTION_ERROR));
			break;
		}
		h = hash_exit(h);
	}
	h = hash_l1_state(h);
	return hash_vmcs(vmx, h);
}

static uint32_t encoding(void)
{
	static const uint32_t known[] = { 0x0000, 0x0002, 0x0800, 0x0c00, 0x2000, 0x2001,
		0x2018, 0x201c, 0x2400, 0x2800, 0x2802, 0x4000, 0x4002, 0x4400, 0x4402, 0x4800,
		0x4814, 0x4820, 0x4826, 0x482e, 0x6000, 0x6400, 0x6800, 0x6820, 0x6c00, 0x6c16,
		0x202e, 0x2032, 0x0812, 0x4824 };
	uint32_t e = known[below(30)];

	switch (below(4)) {
	case 0: return e;
	case 1: return e + 1;
	case 2: return e ^ (1u << below(32));
	default: return rnd();
	}
}

static uint64_t insn_case(struct vmx_pages *vmx)
{
	uint64_t h = 0x84222325cbf29ce4ull, v, desc[2];
	int n = 1 + below(6), i;

	reset_pages(vmx);
	for (i = 0; i < n; i++) {
		switch (below(7)) {
		case 0: {
			uint32_t e = encoding();

			v = rnd();
			if (below(2))
				v &= 0xffff;
			h = mix(h, flags_of_vmwrite(e, v));
			h = mix(h, flags_of_vmread(e, &v));
			h = mix(h, e == VMX_PREEMPTION_TIMER_VALUE ? 0 : v);
			break;
		}
		case 1: {
			uint32_t e = encoding();

			h = mix(h, flags_of_vmread(e, &v));
			h = mix(h, e == VMX_PREEMPTION_TIMER_VALUE ? 0 : v);
			break;
		}
		case 2:
		case 3: {
			static const int pick[] = { 0, 1, 2, 3, 5, 6 };

			v = below(2) ? address() : vmx->vmxon_gpa;
			if (!below(4))
				v = page_gpa(pick[below(6)]);
			h = mix(h, flags_of_m64(below(2), v));
			/* Back to the VMCS under test. */
			h = mix(h, flags_of_m64(0, vmx->vmcs_gpa));
			break;
		}
		case 4:
			if (!has_invept)
				break;
			desc[0] = below(2) ? vmreadz(EPT_POINTER) : rnd();
			desc[1] = below(2) ? 0 : rnd();
			h = mix(h, flags_of_inv(1, below(5), desc));
			break;
		case 5:
			if (!has_invvpid)
				break;
			desc[0] = below(2) ? below(3) : rnd();
			desc[1] = below(2) ? 0 : (below(2) ? noncanonical() : 0x1000);
			h = mix(h, flags_of_inv(0, below(5), desc));
			break;
		default:
			h = mix(h, flags_of_m64(2, below(2) ? vmx->vmxon_gpa : address()));
			break;
		}
		h = mix(h, vmreadz(VM_INSTRUCTION_ERROR));
	}
	return hash_vmcs(vmx, h);
}

static void l1_guest_code(struct vmx_pages *vmx, struct args *a)
{
	uint64_t *results = (uint64_t *)a->results_gva;
	uint64_t i;
	int c;

	A = a;
	pages = (uint8_t *)a->pages_gva;
	pages_gpa = a->pages_gpa;
	for (c = 0; c < 5; c++) {
		static const uint32_t msr[5] = { MSR_IA32_VMX_TRUE_PINBASED_CTLS,
			MSR_IA32_VMX_TRUE_PROCBASED_CTLS, MSR_IA32_VMX_PROCBASED_CTLS2,
			MSR_IA32_VMX_TRUE_EXIT_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS };
		uint64_t m = rdmsr(msr[c]);

		caps[c][0] = (uint32_t)m;
		caps[c][1] = m >> 32;
	}
	/* INVEPT/INVVPID exist for L1 only with EPT/VPID and their bits in
	 * IA32_VMX_EPT_VPID_CAP (20: INVEPT, 32: INVVPID). */
	has_invept = (caps[2][1] & SECONDARY_EXEC_ENABLE_EPT) &&
		     (rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & (1ull << 20));
	has_invvpid = (caps[2][1] & SECONDARY_EXEC_ENABLE_VPID) &&
		      (rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & (1ull << 32));
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, ls_p0, &l2_stack[512]);
	/* L2's IDT: 64 KiB of not-present gates, so that an event is a triple
	 * fault unless L1 intercepts it; L2's pages are the test's own. */
	vmwrite(GUEST_IDTR_BASE, a->idt_gva);
	vmwrite(GUEST_IDTR_LIMIT, 0xfff);
	vmwrite(VIRTUAL_APIC_PAGE_ADDR, page_gpa(3));
	vmwrite(APIC_ACCESS_ADDR, page_gpa(4));
	vmwrite(PML_ADDRESS, page_gpa(5));
	vmwrite(IO_BITMAP_A, page_gpa(0));
	vmwrite(IO_BITMAP_B, page_gpa(1));
	vmwrite(VM_ENTRY_MSR_LOAD_ADDR, page_gpa(6));
	vmwrite(VM_EXIT_MSR_STORE_ADDR, page_gpa(6) + 1024);
	vmwrite(VM_EXIT_MSR_LOAD_ADDR, page_gpa(6) + 2048);
	GUEST_ASSERT(!vmclear(vmx->vmcs_gpa));
	memcpy(baseline, vmx->vmcs, sizeof(baseline));
	for (c = 0; c < 5; c++)
		l1_msr_baseline[c] = rdmsr(l1_msrs[c]);

	for (i = 0; i < a->count; i++) {
		uint64_t idx = a->first + i;

		a->current = idx;
		a->nlog = 0;

		rng = (a->seed * 0x9e3779b97f4a7c15ull) ^ (idx * 0xbf58476d1ce4e5b9ull) ^
		      (a->family + 1);
		rng |= 1;
		rnd();
		results[i % BATCH] = a->family == FAM_ENTRY ? entry_case(vmx) :
				     a->family == FAM_CHAIN ? chain_case(vmx) : insn_case(vmx);
		if (i % BATCH == BATCH - 1 || i == a->count - 1)
			GUEST_SYNC(i);
	}
	GUEST_DONE();
}

static void cmdline_args(uint64_t *seed, uint64_t *count, uint64_t *first, uint64_t *families)
{
	char line[4096], *p;
	FILE *f = fopen("/proc/cmdline", "r");

	*seed = 1;
	*count = 256;
	*first = 0;
	*families = 7;
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (p = strstr(line, "rnvmx_lockstep=")))
		sscanf(p + strlen("rnvmx_lockstep="), "%lu,%lu,%lu,%lu", seed, count, first, families);
	fclose(f);
	if (*count > MAX_CASES)
		*count = MAX_CASES;
}

/* The current case's operations, as a reproducer's record. */
static void print_log(struct args *a, const char *family)
{
	uint64_t i;

	for (i = 0; i < HASHED_BYTES / 8; i++)
		if (a->dump[i])
			printf("@@RNVMX-LS-LOG %s case %lu: vmcs12[%#lx] = %#018lx\n", family, a->current,
			       i * 8, a->dump[i]);
	for (i = 0; i < a->nlog && i < LOG_SIZE; i++) {
		uint64_t *l = a->log[i];

		if (l[0] == LOG_PROG)
			printf("@@RNVMX-LS-LOG %s case %lu: L2 program %lu\n", family, a->current, l[1]);
		else if ((l[0] & ~1ull) == LOG_ENTER)
			printf("@@RNVMX-LS-LOG %s case %lu: %s -> rflags %#lx, %s %lu\n", family, a->current,
			       l[0] & 1 ? "VMRESUME" : "VMLAUNCH", l[1],
			       l[1] ? "VM-instruction error" : "exit reason", l[2]);
		else
			printf("@@RNVMX-LS-LOG %s case %lu: VMWRITE %#lx <- %#lx: rflags %#lx\n", family,
			       a->current, l[0], l[1], l[2]);
	}
}

static void run_family(int family, uint64_t seed, uint64_t count, uint64_t first)
{
	static const char *const name[] = { "entry", "insn", "chain" };
	vm_vaddr_t vmx_gva, args_gva;
	struct kvm_vcpu *vcpu;
	struct args *a;
	uint64_t *results;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t done = 0, k;

	vm = vm_create_with_one_vcpu(&vcpu, l1_guest_code);
	vcpu_alloc_vmx(vm, &vmx_gva);
	args_gva = vm_vaddr_alloc_page(vm);
	a = addr_gva2hva(vm, args_gva);
	a->seed = seed;
	a->first = first;
	a->count = count;
	a->family = family;
	a->pages_gva = vm_vaddr_alloc(vm, NR_PAGES * 4096, 0x10000);
	a->pages_gpa = addr_gva2gpa(vm, a->pages_gva);
	for (k = 1; k < NR_PAGES; k++)
		TEST_ASSERT(addr_gva2gpa(vm, a->pages_gva + k * 4096) == a->pages_gpa + k * 4096,
			    "test pages not contiguous");
	a->idt_gva = vm_vaddr_alloc(vm, 0x10000, 0x10000);
	a->results_gva = vm_vaddr_alloc_page(vm);
	results = addr_gva2hva(vm, a->results_gva);
	vcpu_args_set(vcpu, 2, vmx_gva, args_gva);

	for (;;) {
		vcpu_run(vcpu);
		if (vcpu->run->exit_reason != KVM_EXIT_IO || count == 1)
			print_log(a, name[family]);
		TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_IO,
			    "L1 stopped (KVM exit %u) in family %s case %lu (seed %lu)",
			    vcpu->run->exit_reason, name[family], a->current, seed);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC: {
			uint64_t last = uc.args[1], n = last + 1 - done, j;

			printf("@@RNVMX-LS family=%s first=%lu hashes=", name[family], first + done);
			for (j = 0; j < n; j++)
				printf("%s%08lx", j ? "," : "", results[j] & 0xffffffff);
			printf("\n");
			done = last + 1;
			break;
		}
		case UCALL_DONE:
			TEST_ASSERT(done == count, "%lu of %lu cases", done, count);
			/* The last case's record: a run of N cases from the
			 * start reproduces a case whose outcome depends on
			 * the cases before it. */
			if (count > 1)
				print_log(a, name[family]);
			kvm_vm_free(vm);
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		case UCALL_NONE:
			/* L2's own port I/O that L1 let through: nothing to do. */
			break;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

int main(void)
{
	uint64_t seed, count, first, families;
	int fam;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	setbuf(stdout, NULL);
	cmdline_args(&seed, &count, &first, &families);
	printf("lockstep: seed %lu, cases %lu from %lu per family, families %#lx\n", seed, count,
	       first, families);
	for (fam = FAM_ENTRY; fam <= FAM_CHAIN; fam++)
		if (families & (1u << fam))
			run_family(fam, seed, count, first);
	return 0;
}
