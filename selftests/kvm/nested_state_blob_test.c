// SPDX-License-Identifier: GPL-2.0
/*
 * nested_state_blob_test: seeded, mostly invalid nested-state blobs through
 * KVM_SET_NESTED_STATE on whichever nested backend runs it, with what KVM
 * then reports printed per case, so that a C run and a Rust run compare
 * case by case (testbed/ab.py, family "blob" of testbed/lockstep.py).
 *
 * A source VM runs L1 to the points whose KVM_GET_NESTED_STATE is a real
 * valid blob: before VMXON, VMXON, a current VMCS, L2 running, back in L1
 * after L2's VMCALL, and, where KVM offers them to L1, L2 running with the
 * VMX-preemption timer (its deadline in the state) and with a shadow VMCS.
 * At each point the whole vCPU state is saved. A target VM, created the
 * same way and given the source's final memory, never runs, so that its
 * CPUID may change between cases.
 *
 * Each case (its own RNG, from the seed and the case number) puts the
 * target vCPU in one saved state (leave nested, CPUID with or without VMX,
 * all MSRs, SREGS, REGS, events), then, in one of several orders (the blob
 * before SREGS and MSRs; after another valid blob; in SMM; twice; after
 * narrower VMX capability MSRs), KVM_SET_NESTED_STATE of a blob: a saved one,
 * with a random header, field mutations (flags, format, size, VMXON and
 * vmcs12 addresses, SMM and VMX flags, the preemption-timer deadline, the
 * vmcs12 revision, launch state, controls, guest and host fields, link
 * pointer, the shadow vmcs12's header), bytes flipped, and sometimes a user
 * buffer shorter than the size it claims. Hashed per case: every ioctl's
 * return value and errno, then KVM_GET_NESTED_STATE (its size query, and a
 * full, short or exactly sized buffer; the reported bytes but the vmcs12's
 * VMX-preemption timer value, which depends on time), SREGS and REGS.
 *
 * The kernel command line's rnvmx_blobs=SEED,CASES,FIRST (default
 * 1,2048,0) selects the cases. Output:
 *   @@RNVMX-LS family=blob first=N hashes=H,H,...   (per batch of 64)
 *   @@RNVMX-BLOB-LOG case N: ...                    (one case: CASES=1)
 *   @@RNVMX-BLOB-SETS n=N      KVM_SET_NESTED_STATE calls that reached the
 *                              backend (past x86.c's checks)
 * Exit status: 0 (the comparison is the host's), 4 skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_rng.h"

#define BATCH		64
#define MAX_CASES	(1u << 24)
#define HDR		128
#define V12		998		/* sizeof(struct vmcs12) */
#define SHADOW_OFF	(HDR + 4096)
#define MAX_STATE	(HDR + 2 * 4096)
#define TIMER_OFF	(HDR + 928)	/* vmcs12.vmx_preemption_timer_value */
#define BUF_PAGES	6		/* and a guard page after them */
#define REVISION	0x11e57ed0u
#define L2_STACK	64
#define EFER_LME_BIT	(1ull << 8)
#define EFER_LMA_BIT	(1ull << 10)

/* Flags KVM's x86.c lets through to the backend. */
#define GATE_FLAGS	(KVM_STATE_NESTED_GUEST_MODE | KVM_STATE_NESTED_RUN_PENDING | \
			 KVM_STATE_NESTED_EVMCS | KVM_STATE_NESTED_MTF_PENDING | \
			 KVM_STATE_NESTED_GIF_SET)

enum { S_OFF, S_VMXON, S_VMCS, S_L2, S_L1, S_L2_TIMER, S_L2_SHADOW, NSNAP };
static const char *const snap_name[NSNAP] = {
	"off", "vmxon", "vmcs", "l2", "l1", "l2-timer", "l2-shadow" };

static struct kvm_x86_state *snap[NSNAP];
static int have[NSNAP], nhave, have_idx[NSNAP];
static uint8_t *area;		/* BUF_PAGES pages, then a guard page */
static uint64_t sets, maxphy;
static int guest_seen;		/* a SET into guest mode succeeded in this case */
static uint64_t set_deadline;	/* the last SET's preemption-timer deadline */
static int was_guest;		/* ... before the last SET */
static int tag;			/* TAG_*: where nested.c's known differences may show */
static uint32_t masked;		/* the case's hash without nested.c's known differences */
static int verbose;
static struct kvm_vcpu *tv;
static int tv_vmx = 1;		/* the target's CPUID has VMX */

/* L2 (and L1) report by GUEST_SYNC; L2 leaves with VMCALL. */
static void l2_code(void)
{
	GUEST_SYNC(S_L2);
	vmcall();
}

static void l2_timer_code(void)
{
	GUEST_SYNC(S_L2_TIMER);
	vmcall();
}

static void l2_shadow_code(void)
{
	GUEST_SYNC(S_L2_SHADOW);
	vmcall();
}

static void resume_at(void *rip, unsigned long *stack)
{
	vmwrite(GUEST_RIP, (uint64_t)rip);
	vmwrite(GUEST_RSP, (uint64_t)stack);
	GUEST_ASSERT(!vmresume());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
}

static void l1_code(struct vmx_pages *vmx, uint64_t timer, uint64_t shadow)
{
	unsigned long stack[L2_STACK];

	GUEST_SYNC(S_OFF);
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_SYNC(S_VMXON);
	GUEST_ASSERT(load_vmcs(vmx));
	GUEST_SYNC(S_VMCS);
	prepare_vmcs(vmx, l2_code, &stack[L2_STACK]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_SYNC(S_L1);
	if (timer) {
		/* Far from firing: 2^32 - 1 units of at least TSC / 2^5. */
		vmwrite(PIN_BASED_VM_EXEC_CONTROL,
			vmreadz(PIN_BASED_VM_EXEC_CONTROL) | PIN_BASED_VMX_PREEMPTION_TIMER);
		vmwrite(VMX_PREEMPTION_TIMER_VALUE, 0xffffffffu);
		resume_at(l2_timer_code, &stack[L2_STACK]);
		vmwrite(PIN_BASED_VM_EXEC_CONTROL,
			vmreadz(PIN_BASED_VM_EXEC_CONTROL) & ~PIN_BASED_VMX_PREEMPTION_TIMER);
	}
	if (shadow) {
		vmwrite(CPU_BASED_VM_EXEC_CONTROL,
			vmreadz(CPU_BASED_VM_EXEC_CONTROL) | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
		vmwrite(SECONDARY_VM_EXEC_CONTROL,
			vmreadz(SECONDARY_VM_EXEC_CONTROL) | SECONDARY_EXEC_SHADOW_VMCS);
		vmwrite(VMCS_LINK_POINTER, vmx->shadow_vmcs_gpa);
		vmwrite(VMREAD_BITMAP, vmx->vmread_gpa);
		vmwrite(VMWRITE_BITMAP, vmx->vmwrite_gpa);
		resume_at(l2_shadow_code, &stack[L2_STACK]);
	}
	GUEST_DONE();
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		h = mix(h, w);
	}
	for (; i < n; i++)
		h = mix(h, b[i]);
	return h;
}

#define LOG(fmt, ...)								\
	do {									\
		if (verbose)							\
			printf("@@RNVMX-BLOB-LOG case %lu: " fmt "\n",		\
			       (unsigned long)cur, ##__VA_ARGS__);		\
	} while (0)
static uint64_t cur;

/* An ioctl's outcome for the hash: its return value, or -errno. */
static int64_t outcome(int r)
{
	return r < 0 ? -errno : r;
}

/* Would x86.c pass this header to the backend? */
static int reaches_backend(const struct kvm_nested_state *h, size_t readable)
{
	return readable >= HDR && h->size >= HDR && !(h->flags & ~GATE_FLAGS) &&
	       !((h->flags & KVM_STATE_NESTED_RUN_PENDING) &&
		 !(h->flags & KVM_STATE_NESTED_GUEST_MODE));
}

/* KVM_SET_NESTED_STATE of `len` bytes of `blob`, `readable` of them mapped. */
static int64_t set_nested(const uint8_t *blob, size_t len, size_t readable)
{
	uint8_t *p = area + BUF_PAGES * 4096 - readable;
	struct kvm_nested_state h;
	int64_t r;

	memset(area, 0, BUF_PAGES * 4096);
	memcpy(p, blob, len < readable ? len : readable);
	memcpy(&h, blob, sizeof(h));
	if (reaches_backend(&h, readable))
		sets++;
	r = outcome(__vcpu_ioctl(tv, KVM_SET_NESTED_STATE, (struct kvm_nested_state *)p));
	if (r == 0 && h.flags & KVM_STATE_NESTED_GUEST_MODE)
		guest_seen = 1;
	set_deadline = h.hdr.vmx.flags & KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE ?
		       h.hdr.vmx.preemption_timer_deadline : 0;
	LOG("SET_NESTED_STATE flags %#x format %u size %u vmxon %#llx vmcs12 %#llx smm %#x vmx_flags %#x deadline %#llx (%zu bytes readable) -> %ld",
	    h.flags, h.format, h.size, (unsigned long long)h.hdr.vmx.vmxon_pa,
	    (unsigned long long)h.hdr.vmx.vmcs12_pa, h.hdr.vmx.smm.flags, h.hdr.vmx.flags,
	    (unsigned long long)h.hdr.vmx.preemption_timer_deadline, readable, (long)r);
	return r;
}

static uint64_t leave_nested(uint64_t h)
{
	struct kvm_nested_state off = {
		.format = KVM_STATE_NESTED_FORMAT_VMX, .size = HDR,
		.hdr.vmx.vmxon_pa = -1ull, .hdr.vmx.vmcs12_pa = -1ull,
	};

	return mix(h, set_nested((uint8_t *)&off, HDR, HDR));
}

static void set_cpuid_vmx(int on)
{
	if (on == tv_vmx)
		return;
	if (on)
		vcpu_set_cpuid_feature(tv, X86_FEATURE_VMX);
	else
		vcpu_clear_cpuid_feature(tv, X86_FEATURE_VMX);
	tv_vmx = on;
}

/*
 * nested.c's free_nested() leaves need_sync_vmcs02_to_vmcs12_rare set after
 * guest mode, so that the next KVM_GET_NESTED_STATE outside guest mode (or
 * L1's VMREAD of such a field) copies the rare guest fields of the new,
 * never-run vmcs02 over vmcs12 (what a fresh VMCS holds is the CPU's
 * business); rnvmx clears it. Outside the cases (testbed/lockstep-accepted.txt
 * names those where it shows), each starts without it: a valid state outside
 * guest mode, read back (which clears it), left.
 */
static void clear_stale_rare_sync(void)
{
	struct kvm_nested_state *s = (struct kvm_nested_state *)area;
	int vmx = tv_vmx;

	set_cpuid_vmx(1);
	TEST_ASSERT(set_nested((uint8_t *)&snap[S_VMCS]->nested, snap[S_VMCS]->nested.size,
			       snap[S_VMCS]->nested.size) == 0, "reset: SET_NESTED_STATE");
	memset(area, 0, BUF_PAGES * 4096);
	s->size = BUF_PAGES * 4096;
	TEST_ASSERT(!__vcpu_ioctl(tv, KVM_GET_NESTED_STATE, s), "reset: GET_NESTED_STATE");
	leave_nested(0);
	set_cpuid_vmx(vmx);
}

/* All of a snapshot's MSRs; one that KVM refuses is skipped (and hashed). */
static uint64_t set_msrs(uint64_t h, struct kvm_msrs *m)
{
	static uint8_t buf[sizeof(struct kvm_msrs) + 1024 * sizeof(struct kvm_msr_entry)];
	struct kvm_msrs *part = (struct kvm_msrs *)buf;
	uint32_t done = 0;

	TEST_ASSERT(m->nmsrs <= 1024, "%u MSRs", m->nmsrs);
	while (done < m->nmsrs) {
		int r;

		part->nmsrs = m->nmsrs - done;
		memcpy(part->entries, m->entries + done, part->nmsrs * sizeof(m->entries[0]));
		r = __vcpu_ioctl(tv, KVM_SET_MSRS, part);
		TEST_ASSERT(r >= 0, "KVM_SET_MSRS: %d", errno);
		done += r;
		if (done < m->nmsrs) {
			LOG("MSR %#x refused", m->entries[done].index);
			h = mix(h, m->entries[done].index);
			done++;
		}
	}
	return h;
}


static uint64_t set_events(uint64_t h, struct kvm_vcpu_events *e, int smm)
{
	struct kvm_vcpu_events ev = *e;

	ev.flags |= KVM_VCPUEVENT_VALID_SMM;
	ev.smi.smm = smm;
	ev.smi.pending = 0;
	ev.smi.latched_init = 0;
	return mix(h, outcome(__vcpu_ioctl(tv, KVM_SET_VCPU_EVENTS, &ev)));
}

/* A physical address: valid, misaligned, out of range, or another's. */
static uint64_t pick_pa(const struct kvm_nested_state *base)
{
	switch (below(10)) {
	case 0: return -1ull;
	case 1: return base->hdr.vmx.vmxon_pa;
	case 2: return base->hdr.vmx.vmcs12_pa;
	case 3: return 0;
	case 4: return base->hdr.vmx.vmcs12_pa + 1 + below(4095);
	case 5: return 1ull << maxphy;
	case 6: return (1ull << 52) | base->hdr.vmx.vmxon_pa;
	case 7: return (rnd() & ((1ull << maxphy) - 1)) & ~0xfffull;
	case 8: return base->hdr.vmx.vmxon_pa ^ (1ull << below(maxphy));
	default: return rnd();
	}
}

static uint32_t pick_size(uint32_t size)
{
	static const uint32_t sizes[] = {
		0, 127, HDR, HDR + 1, HDR + V12 - 1, HDR + V12, SHADOW_OFF - 1, SHADOW_OFF,
		SHADOW_OFF + V12 - 1, SHADOW_OFF + V12, MAX_STATE, MAX_STATE + 1, 20000,
	};

	if (below(8) == 0)
		return rnd();
	if (below(4) == 0)
		return size + below(64) - 32;
	return sizes[below(ARRAY_SIZE(sizes))];
}

static void flip32(uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	v ^= 1u << below(32);
	memcpy(b + off, &v, 4);
}

static void flip64(uint8_t *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	v ^= 1ull << below(64);
	memcpy(b + off, &v, 8);
}

/* One mutation of the blob (header at b, vmcs12 at b + HDR). */
static void mutate(uint8_t *b, const struct kvm_nested_state *base)
{
	static const uint16_t controls[] = { 744, 748, 804, 768, 780 };
	static const uint16_t fields64[] = { 424, 440, 584, 600, 552, 200, 264, 544, 672 };
	struct kvm_nested_state *h = (struct kvm_nested_state *)b;
	uint8_t *v = b + HDR;
	uint64_t link;
	int k = below(16);

	switch (k) {
	case 0:
		h->flags ^= below(4) ? 1u << below(4) : 1u << below(16);
		break;
	case 1:
		h->format = below(2) ? below(3) : rnd();
		break;
	case 2:
		h->size = pick_size(h->size);
		break;
	case 3:
		h->hdr.vmx.vmxon_pa = pick_pa(base);
		break;
	case 4:
		h->hdr.vmx.vmcs12_pa = pick_pa(base);
		break;
	case 5:
		h->hdr.vmx.smm.flags = below(4) ? below(4) : rnd();
		break;
	case 6:
		h->hdr.vmx.flags = below(4) ? below(2) : rnd();
		break;
	case 7:
		if (below(2))
			flip32(v, 0);
		else
			*(uint32_t *)v = below(2) ? 0 : REVISION | 0x80000000u;
		break;
	case 8:
		*(uint32_t *)(v + 8) = below(3);
		break;
	case 9:
		flip32(v, controls[below(5)]);
		break;
	case 10:
		if (below(2))
			b[SHADOW_OFF + 3] ^= 0x80;
		else
			flip32(b, SHADOW_OFF);
		break;
	case 11:
		link = below(2) ? -1ull : pick_pa(base);
		memcpy(v + 176, &link, 8);
		break;
	case 12:
		v[below(1024)] ^= 1u << below(8);
		break;
	case 13:
		flip64(v, fields64[below(ARRAY_SIZE(fields64))]);
		break;
	case 14:
		h->hdr.vmx.flags = KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE;
		h->hdr.vmx.preemption_timer_deadline = below(2) ? rnd() : below(1000);
		break;
	default:
		h->hdr.vmx.vmcs12_pa = h->hdr.vmx.vmxon_pa;
		break;
	}
	LOG("mutation %d", k);
}

/* A blob from snapshot `s`, mutated; returns its length. */
static size_t make_blob(uint8_t *b, int s)
{
	const struct kvm_nested_state *base = &snap[s]->nested;
	struct kvm_nested_state *h = (struct kvm_nested_state *)b;
	int kind = below(16), n, i;

	memset(b, 0, 4 * 4096);
	memcpy(b, base, base->size);
	if (kind == 0) {
		/* A random header, its fields biased towards the ones that matter. */
		for (i = 0; i < HDR; i++)
			b[i] = rnd();
		h->flags &= below(2) ? 0xf : 0xffff;
		h->format = below(4) ? 0 : h->format;
		h->size = pick_size(base->size);
		h->hdr.vmx.vmxon_pa = pick_pa(base);
		h->hdr.vmx.vmcs12_pa = pick_pa(base);
		h->hdr.vmx.smm.flags &= below(2) ? 3 : 0xffff;
		h->hdr.vmx.flags &= below(2) ? 1 : -1u;
		LOG("random header");
	} else if (kind == 1) {
		/* Bytes flipped anywhere in the data. */
		for (n = 1 + below(8); n; n--)
			b[HDR + below(2 * 4096)] ^= 1u << below(8);
		LOG("data bytes flipped");
	} else if (kind != 2) {
		for (n = 1 + below(3); n; n--)
			mutate(b, base);
	} else {
		LOG("unmodified");
	}
	/* Whole pages of the user buffer are read past `size` only by a bug. */
	return h->size < 4 * 4096 ? (h->size > HDR ? h->size : HDR) : 4 * 4096;
}

/*
 * The two known differences of nested.c, tagged per case so that the host
 * accepts a difference of the full hash only where one may show and the
 * hash without it (the masked one) agrees (testbed/lockstep-accepted.txt):
 */
/*
 * The vCPU was in guest mode earlier in the case, and the GET reports a
 * vmcs12 outside guest mode: nested.c copies the rare guest fields of its
 * new vmcs02 over it (clear_stale_rare_sync()).
 */
#define TAG_RARE_SYNC	1
/*
 * An exactly sized GET of a vmcs12 with a shadow VMCS outside guest mode:
 * nested.c copies the shadow vmcs12 past the size it reports (and fails
 * with -EFAULT at the guard page after the buffer); rnvmx does not.
 */
#define TAG_SHADOW_PAST	2
static const uint16_t rare[][2] = {	/* vmcs12 byte ranges [from, to) */
	{ 448, 528 }, { 560, 568 }, { 840, 912 }, { 964, 980 },
};

static int has_shadow(const uint8_t *v)
{
	uint32_t cpu, sec;
	uint64_t link;

	memcpy(&cpu, v + 748, 4);
	memcpy(&sec, v + 804, 4);
	memcpy(&link, v + 176, 8);
	return (cpu & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) &&
	       (sec & SECONDARY_EXEC_SHADOW_VMCS) && link != -1ull;
}

/* KVM_GET_NESTED_STATE into h (full) and *m (masked). */
static uint64_t get_nested(uint64_t h, uint64_t *m)
{
	struct kvm_nested_state *s = (struct kvm_nested_state *)area;
	uint32_t needed, give, n, i, k;
	int exact = 0, outside;
	int64_t r;

	memset(area, 0, BUF_PAGES * 4096);
	s->size = 0;
	r = outcome(__vcpu_ioctl(tv, KVM_GET_NESTED_STATE, s));
	needed = s->size;
	h = mix(mix(h, r), needed);
	*m = mix(mix(*m, r), needed);
	LOG("GET_NESTED_STATE size 0 -> %ld, size %u", (long)r, needed);
	switch (below(8)) {
	case 0:
		give = below(needed + 1);
		break;
	case 1:
		give = needed;		/* exactly the size, a guard page after it */
		exact = 1;
		break;
	default:
		give = BUF_PAGES * 4096;
		break;
	}
	if (give > BUF_PAGES * 4096)
		give = BUF_PAGES * 4096;
	s = (struct kvm_nested_state *)(area + BUF_PAGES * 4096 - (give < HDR ? HDR : give));
	memset(area, 0xa5, BUF_PAGES * 4096);
	s->size = give;
	r = outcome(__vcpu_ioctl(tv, KVM_GET_NESTED_STATE, s));
	LOG("GET_NESTED_STATE buffer %u -> %ld: flags %#x size %u vmxon %#llx vmcs12 %#llx smm %#x vmx_flags %#x deadline %#llx",
	    give, (long)r, s->flags, s->size, (unsigned long long)s->hdr.vmx.vmxon_pa,
	    (unsigned long long)s->hdr.vmx.vmcs12_pa, s->hdr.vmx.smm.flags, s->hdr.vmx.flags,
	    (unsigned long long)s->hdr.vmx.preemption_timer_deadline);
	/*
	 * A deadline the state did not give was computed at the restore from
	 * L1's TSC: hashed as that, not its value.
	 */
	if (s->hdr.vmx.flags & KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE &&
	    s->hdr.vmx.preemption_timer_deadline != set_deadline)
		s->hdr.vmx.preemption_timer_deadline = 1;
	n = s->size;
	outside = (r == 0 || r == -EFAULT) && n <= give && n >= SHADOW_OFF &&
		  !(s->flags & KVM_STATE_NESTED_GUEST_MODE);
	if (outside && was_guest)
		tag |= TAG_RARE_SYNC;
	if (outside && exact && has_shadow((uint8_t *)s + HDR))
		tag |= TAG_SHADOW_PAST;
	h = mix(mix(h, r), n);
	if (!(tag & TAG_SHADOW_PAST))
		*m = mix(*m, r);
	*m = mix(*m, n);
	if ((r == 0 || tag & TAG_SHADOW_PAST) && n <= give) {
		if (n > TIMER_OFF + 4)
			memset((uint8_t *)s + TIMER_OFF, 0, 4);
		if (r == 0)
			h = mix_bytes(h, s, n);
		if (verbose)
			for (i = HDR; i + 8 <= n; i += 8)
				if (*(uint64_t *)((uint8_t *)s + i))
					LOG("state[%#x] = %#018lx", i, *(uint64_t *)((uint8_t *)s + i));
		if (tag & TAG_RARE_SYNC)
			for (k = 0; k < ARRAY_SIZE(rare); k++)
				memset((uint8_t *)s + HDR + rare[k][0], 0, rare[k][1] - rare[k][0]);
		*m = mix_bytes(*m, s, n);
	}
	LOG("tag %d", tag);
	return h;
}

static uint64_t vcpu_regs_hash(uint64_t h)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vcpu_sregs_get(tv, &sregs);
	vcpu_regs_get(tv, &regs);
	LOG("after: cr0 %#llx cr4 %#llx efer %#llx rip %#llx rsp %#llx rflags %#llx",
	    sregs.cr0, sregs.cr4, sregs.efer, regs.rip, regs.rsp, regs.rflags);
	LOG("after: rax %#llx rbx %#llx rcx %#llx rdx %#llx rsi %#llx rdi %#llx rbp %#llx r8 %#llx r9 %#llx r10 %#llx r11 %#llx",
	    regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp, regs.r8, regs.r9,
	    regs.r10, regs.r11);
	h = mix_bytes(h, &sregs, sizeof(sregs));
	/*
	 * What nested state sets of them (vmcs12's guest or host fields): the
	 * other registers are the saved vCPU's, whatever its run left there.
	 */
	return mix(mix(mix(h, regs.rip), regs.rsp), regs.rflags);
}

/*
 * SREGS that KVM takes with or without VMX in CPUID, outside VMX operation
 * (p's, CR4.VMXE clear): a later SET_SREGS that KVM refuses must not leave
 * the last case's.
 */
static void reset_sregs(int p)
{
	struct kvm_sregs sregs = snap[p]->sregs;

	sregs.cr4 &= ~X86_CR4_VMXE;
	vcpu_sregs_set(tv, &sregs);
}

/* The target vCPU in snapshot p's state, with a variant of its SREGS. */
static uint64_t load_vcpu(uint64_t h, int p, int sregs_variant)
{
	struct kvm_sregs sregs = snap[p]->sregs;

	if (sregs_variant == 1)
		sregs.cr4 &= ~X86_CR4_VMXE;
	else if (sregs_variant == 2)
		sregs.cr0 &= ~X86_CR0_PG;
	else if (sregs_variant == 3)
		sregs.efer &= ~(EFER_LMA_BIT | EFER_LME_BIT);
	h = mix(h, outcome(__vcpu_ioctl(tv, KVM_SET_SREGS, &sregs)));
	LOG("SET_SREGS -> hash %#lx", h);
	h = mix(h, outcome(__vcpu_ioctl(tv, KVM_SET_REGS, &snap[p]->regs)));
	/* DR7 is L1's, kept into L2 without the load-debug-controls entry control. */
	h = mix(h, outcome(__vcpu_ioctl(tv, KVM_SET_DEBUGREGS, &snap[p]->debugregs)));
	return h;
}

/* A VMX capability MSR with allowed-1 bits (or capabilities) taken away. */
static uint64_t narrow_vmx_msr(uint64_t h)
{
	static const uint32_t idx[] = {
		MSR_IA32_VMX_TRUE_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
		MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_TRUE_EXIT_CTLS,
		MSR_IA32_VMX_TRUE_ENTRY_CTLS, MSR_IA32_VMX_MISC,
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = idx[below(6)] };
	uint32_t msr = m.e.index;
	uint64_t v;
	int r;

	if (__vcpu_ioctl(tv, KVM_GET_MSRS, &m.hdr) != 1)
		return mix(h, 1);
	v = m.e.data & ~(1ull << (32 + below(32)));
	r = _vcpu_set_msr(tv, msr, v);
	LOG("narrow MSR %#x to %#lx -> %d", msr, v, r);
	return mix(mix(h, msr), r);
}

#define MAX_LOGGED	64
static uint64_t logged[MAX_LOGGED];
static int nlogged;
static uint64_t cases_in_run;

/* Whether case c is logged: the only case of the run, or one named. */
static int is_logged(uint64_t c)
{
	int i;

	for (i = 0; i < nlogged; i++)
		if (logged[i] == c)
			return 1;
	return cases_in_run == 1;
}

static uint32_t run_case(uint64_t seed, uint64_t c)
{
	static uint8_t blob[4 * 4096], other[4 * 4096];
	int p, s, order, sv, vmx;
	uint64_t h = 0xcbf29ce484222325ull, m, d;
	size_t len, readable;

	cur = c;
	verbose = is_logged(c);
	tag = was_guest = 0;
	rng = (seed * 0x9e3779b97f4a7c15ull) ^ ((c + 1) * 0xd1b54a32d192ed03ull);
	rng = rng ? rng : 1;
	rnd();
	p = have_idx[below(nhave)];
	s = below(4) ? p : have_idx[below(nhave)];
	order = below(10);
	sv = below(8) ? 0 : 1 + below(3);
	vmx = below(8) != 0;
	LOG("vCPU in state %s (sregs variant %d, CPUID VMX %d), blob from %s, order %d",
	    snap_name[p], sv, vmx, snap_name[s], order);

	/* The vCPU as saved at p (with CPUID's VMX bit as chosen). */
	h = set_events(h, &snap[p]->events, 0);
	h = leave_nested(h);
	clear_stale_rare_sync();
	set_cpuid_vmx(vmx);
	reset_sregs(p);
	h = set_msrs(h, &snap[p]->msrs);
	if (order != 1)
		h = load_vcpu(h, p, sv);
	guest_seen = 0;
	LOG("hash %#lx after loading the vCPU", h);

	len = make_blob(blob, s);
	readable = len;
	if (below(10) == 0) {
		static const uint32_t short_by[] = { 1, HDR - 1, HDR, HDR + V12 - 1,
						     SHADOW_OFF, SHADOW_OFF + V12 - 1 };

		readable = short_by[below(6)];
		LOG("user buffer of %zu bytes", readable);
	}
	switch (order) {
	case 2: {
		/* Over another valid state. */
		int q = have_idx[below(nhave)];

		memcpy(other, &snap[q]->nested, snap[q]->nested.size);
		LOG("first the state of %s", snap_name[q]);
		h = mix(h, set_nested(other, snap[q]->nested.size, snap[q]->nested.size));
		break;
	}
	case 3:
		/* In SMM (userspace's entry: KVM leaves nested operation). */
		LOG("in SMM");
		h = set_events(h, &snap[p]->events, 1);
		break;
	case 4:
		h = narrow_vmx_msr(h);
		break;
	}
	was_guest = guest_seen;
	h = mix(h, set_nested(blob, len, readable));
	if (order == 5) {
		was_guest = guest_seen;
		h = mix(h, set_nested(blob, len, readable));
	}
	if (order == 1) {
		/* SREGS and MSRs after the state (VMX MSRs: -EBUSY in VMX operation). */
		h = load_vcpu(h, p, sv);
		h = set_msrs(h, &snap[p]->msrs);
	}
	LOG("hash %#lx before GET_NESTED_STATE", h);
	m = h;
	h = get_nested(h, &m);
	LOG("hash %#lx before SREGS, REGS", h);
	d = vcpu_regs_hash(0);
	h = mix(h, d);
	m = mix(m, d);
	LOG("hash %#lx, masked %#lx", h, m);
	masked = m ^ (m >> 32);
	return h ^ (h >> 32);
}


/* rnvmx_blobs=SEED,CASES,FIRST; rnvmx_blobs_log=N:N:... logs those cases only. */
static void print_batch(const char *family, uint64_t first, const uint64_t *h, uint64_t n)
{
	uint64_t j;

	printf("@@RNVMX-LS family=%s first=%lu hashes=", family, first);
	for (j = 0; j < n; j++)
		printf("%s%08lx", j ? "," : "", h[j] & 0xffffffff);
	printf("\n");
}

static int rerun_differs(uint64_t seed, uint64_t c, uint32_t in_run)
{
	uint32_t alone = run_case(seed, c);

	if (alone != in_run)
		printf("blobs: case %lu alone: %08x, in the run %08x\n", c, alone, in_run);
	return alone != in_run;
}

static void cmdline_args(uint64_t *seed, uint64_t *count, uint64_t *first)
{
	char line[4096], *p;
	FILE *f = fopen("/proc/cmdline", "r");

	*seed = 1;
	*count = 2048;
	*first = 0;
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		p = strstr(line, "rnvmx_blobs=");
		if (p)
			sscanf(p + strlen("rnvmx_blobs="), "%lu,%lu,%lu", seed, count, first);
		p = strstr(line, "rnvmx_blobs_log=");
		for (p = p ? p + strlen("rnvmx_blobs_log=") : NULL; p && nlogged < MAX_LOGGED;) {
			char *end;

			logged[nlogged] = strtoull(p, &end, 10);
			if (end == p)
				break;
			nlogged++;
			p = *end == ':' ? end + 1 : NULL;
		}
	}
	fclose(f);
	if (*count > MAX_CASES)
		*count = MAX_CASES;
}

/*
 * The source VM to each point of l1_code up to `last`, its whole vCPU state
 * saved; run again (last = NSNAP) after the cases, to its end. So L2's last
 * exit follows the cases' entries into L2 (which end in no exit event, and
 * testbed/tp-entries.awk counts an entry once an event follows it).
 */
static struct kvm_vcpu *src_vcpu;

static struct kvm_vm *run_source(struct kvm_vm *vm, int timer, int shadow, int last)
{
	vm_vaddr_t vmx_gva;
	struct ucall uc;

	if (!vm) {
		vm = vm_create_with_one_vcpu(&src_vcpu, l1_code);
		vcpu_alloc_vmx(vm, &vmx_gva);
		vcpu_args_set(src_vcpu, 3, vmx_gva, (uint64_t)timer, (uint64_t)shadow);
	}
	for (;;) {
		struct kvm_vcpu *vcpu = src_vcpu;

		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			TEST_ASSERT(uc.args[1] < NSNAP, "sync %lu", uc.args[1]);
			snap[uc.args[1]] = vcpu_save_state(vcpu);
			have[uc.args[1]] = 1;
			if ((int)uc.args[1] == last)
				return vm;
			break;
		case UCALL_DONE:
			return vm;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

int main(void)
{
	uint64_t seed, count, first, done = 0, results[BATCH], masks[BATCH], tags[BATCH], k, j;
	struct kvm_vm *src, *dst;
	vm_vaddr_t vmx_gva;
	int timer, shadow, i;
	uint32_t *all;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_NESTED_STATE));
	setbuf(stdout, NULL);
	cmdline_args(&seed, &count, &first);
	cases_in_run = count;
	timer = !!((kvm_get_feature_msr(MSR_IA32_VMX_TRUE_PINBASED_CTLS) >> 32) &
		   PIN_BASED_VMX_PREEMPTION_TIMER);
	shadow = !!((kvm_get_feature_msr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32) &
		    SECONDARY_EXEC_SHADOW_VMCS);
	maxphy = kvm_cpu_property(X86_PROPERTY_MAX_PHY_ADDR);
	src = run_source(NULL, timer, shadow, shadow ? S_L2_SHADOW : timer ? S_L2_TIMER : S_L1);
	for (i = 0; i < NSNAP; i++) {
		if (have[i])
			have_idx[nhave++] = i;
		printf("state %s: %s, %u bytes, flags %#x\n", snap_name[i],
		       have[i] ? "saved" : "not offered", have[i] ? snap[i]->nested.size : 0,
		       have[i] ? snap[i]->nested.flags : 0);
	}
	TEST_ASSERT(have[S_L2] && snap[S_L2]->nested.flags & KVM_STATE_NESTED_GUEST_MODE,
		    "no L2 state");
	TEST_ASSERT(have[S_VMCS], "no state with a current VMCS");
	/* The deadline is an L1 TSC value, which differs between runs. */
	if (have[S_L2_TIMER] && snap[S_L2_TIMER]->nested.hdr.vmx.flags)
		snap[S_L2_TIMER]->nested.hdr.vmx.preemption_timer_deadline = 0x123456789ull;

	/* The target: the same VM, the source's memory, never run. */
	dst = vm_create_with_one_vcpu(&tv, l1_code);
	vcpu_alloc_vmx(dst, &vmx_gva);
	{
		struct userspace_mem_region *a = memslot2region(src, 0), *b = memslot2region(dst, 0);

		TEST_ASSERT(a->region.memory_size == b->region.memory_size, "memory sizes differ");
		memcpy(b->host_mem, a->host_mem, a->region.memory_size);
	}
	area = mmap(NULL, (BUF_PAGES + 1) * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(area != MAP_FAILED, "mmap");
	TEST_ASSERT(!mprotect(area + BUF_PAGES * 4096, 4096, PROT_NONE), "guard page");

	/* CASES=0: only the logged cases, each alone. */
	for (i = 0; !count && i < nlogged; i++) {
		uint64_t hv = run_case(seed, logged[i]), mv = masked, tv_ = tag;

		print_batch("blob", logged[i], &hv, 1);
		print_batch("blobmask", logged[i], &mv, 1);
		print_batch("blobtag", logged[i], &tv_, 1);
	}
	printf("blobs: seed %lu, cases %lu from %lu; states %d, timer %d, shadow %d, MAXPHYADDR %lu\n",
	       seed, count, first, nhave, timer, shadow, maxphy);
	all = calloc(count ? count : 1, sizeof(*all));
	TEST_ASSERT(all, "calloc");
	for (k = 0; k < count; k++) {
		all[k] = run_case(seed, first + k);
		results[k % BATCH] = all[k];
		masks[k % BATCH] = masked;
		tags[k % BATCH] = tag;
		if (k % BATCH == BATCH - 1 || k == count - 1) {
			uint64_t n = k % BATCH + 1;

			print_batch("blob", first + done, results, n);
			print_batch("blobmask", first + done, masks, n);
			print_batch("blobtag", first + done, tags, n);
			done += n;
		}
	}
	/*
	 * Each case on its own gives its hash again (a sample, backwards, and
	 * the logged ones): what the vCPU had before a case must not matter.
	 */
	for (k = 0, i = 0; k < count && k < 64 * 16; k += 16)
		i += rerun_differs(seed, first + count - 1 - k, all[count - 1 - k]);
	for (j = 0; j < (uint64_t)nlogged; j++)
		if (logged[j] >= first && logged[j] < first + count)
			rerun_differs(seed, logged[j], all[logged[j] - first]);
	printf("blobs: %d of %lu cases rerun alone gave another hash\n", i,
	       count < 1024 ? (count + 15) / 16 : 64);
	TEST_ASSERT(!i, "cases depend on the ones before them");
	printf("@@RNVMX-BLOB-SETS n=%lu\n", sets);
	run_source(src, timer, shadow, NSNAP);
	kvm_vm_free(dst);
	kvm_vm_free(src);
	return 0;
}
