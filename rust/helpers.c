// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for static inline KVM helpers; see helpers.h.  Rust cannot call
 * a static inline function, so each wrapper calls exactly one (or sets one
 * field the same way the inline would), as the kernel's rust/helpers/ do.
 */
#include <linux/kvm_host.h>
#include <asm/nospec-branch.h>

#include "x86.h"
#include "cpuid.h"
#include "lapic.h"
#include "irq.h"
#include "mmu.h"
#include "kvm_cache_regs.h"
#include "smm.h"
#include "vmx/vmx.h"
#include "vmx/x86_ops.h"
#include "vmx/sgx.h"
#include "vmx/posted_intr.h"
#include "pmu.h"
#include "hyperv.h"

#include "helpers.h"

unsigned long rnvmx_register_read(struct kvm_vcpu *vcpu, int reg)
{
	return kvm_register_read(vcpu, reg);
}

void rnvmx_register_write(struct kvm_vcpu *vcpu, int reg, unsigned long val)
{
	kvm_register_write(vcpu, reg, val);
}

unsigned long rnvmx_rip_read(struct kvm_vcpu *vcpu)
{
	return kvm_rip_read(vcpu);
}

unsigned long rnvmx_rsp_read(struct kvm_vcpu *vcpu)
{
	return kvm_rsp_read(vcpu);
}

void rnvmx_register_mark_available(struct kvm_vcpu *vcpu, int reg)
{
	kvm_register_mark_available(vcpu, reg);
}

unsigned long rnvmx_read_cr0(struct kvm_vcpu *vcpu)
{
	return kvm_read_cr0(vcpu);
}

unsigned long rnvmx_read_cr3(struct kvm_vcpu *vcpu)
{
	return kvm_read_cr3(vcpu);
}

unsigned long rnvmx_read_cr4(struct kvm_vcpu *vcpu)
{
	return kvm_read_cr4(vcpu);
}

bool rnvmx_is_64_bit_mode(struct kvm_vcpu *vcpu)
{
	return is_64_bit_mode(vcpu);
}

bool rnvmx_is_long_mode(struct kvm_vcpu *vcpu)
{
	return is_long_mode(vcpu);
}

bool rnvmx_is_pae_paging(struct kvm_vcpu *vcpu)
{
	return is_pae_paging(vcpu);
}

void rnvmx_leave_guest_mode(struct kvm_vcpu *vcpu)
{
	leave_guest_mode(vcpu);
}

bool rnvmx_legal_cr3(struct kvm_vcpu *vcpu, unsigned long cr3)
{
	return kvm_vcpu_is_legal_cr3(vcpu, cr3);
}

int rnvmx_maxphyaddr(struct kvm_vcpu *vcpu)
{
	return cpuid_maxphyaddr(vcpu);
}

bool rnvmx_need_pf_intercept(struct kvm_vcpu *vcpu)
{
	return vmx_need_pf_intercept(vcpu);
}

static int rnvmx_kvm_request(enum rnvmx_request req)
{
	switch (req) {
	case RNVMX_REQ_EVENT:
		return KVM_REQ_EVENT;
	case RNVMX_REQ_TLB_FLUSH_GUEST:
		return KVM_REQ_TLB_FLUSH_GUEST;
	case RNVMX_REQ_TLB_FLUSH_CURRENT:
		return KVM_REQ_TLB_FLUSH_CURRENT;
	case RNVMX_REQ_GET_NESTED_STATE_PAGES:
		return KVM_REQ_GET_NESTED_STATE_PAGES;
	case RNVMX_REQ_APIC_PAGE_RELOAD:
		return KVM_REQ_APIC_PAGE_RELOAD;
	case RNVMX_REQ_TRIPLE_FAULT:
	default:
		return KVM_REQ_TRIPLE_FAULT;
	}
}

/* kvm_make_request(), whose compile-time check needs a constant request. */
void rnvmx_make_request(enum rnvmx_request req, struct kvm_vcpu *vcpu)
{
	__kvm_make_request(rnvmx_kvm_request(req), vcpu);
}

bool rnvmx_check_request(enum rnvmx_request req, struct kvm_vcpu *vcpu)
{
	return kvm_check_request(rnvmx_kvm_request(req), vcpu);
}

void rnvmx_clear_request(enum rnvmx_request req, struct kvm_vcpu *vcpu)
{
	kvm_clear_request(rnvmx_kvm_request(req), vcpu);
}

void rnvmx_clear_exception_queue(struct kvm_vcpu *vcpu)
{
	kvm_clear_exception_queue(vcpu);
}

void rnvmx_clear_interrupt_queue(struct kvm_vcpu *vcpu)
{
	kvm_clear_interrupt_queue(vcpu);
}

bool rnvmx_event_needs_reinjection(struct kvm_vcpu *vcpu)
{
	return kvm_event_needs_reinjection(vcpu);
}

bool rnvmx_has_tsc_control(void)
{
	return kvm_caps.has_tsc_control;
}

u64 rnvmx_default_tsc_scaling_ratio(void)
{
	return kvm_caps.default_tsc_scaling_ratio;
}

bool rnvmx_mpx_supported(void)
{
	return kvm_mpx_supported();
}

void rnvmx_ibpb_if_spec_ctrl(struct kvm_vcpu *vcpu)
{
	if (guest_cpuid_has(vcpu, X86_FEATURE_SPEC_CTRL))
		indirect_branch_prediction_barrier();
}

int rnvmx_get_cpu(void)
{
	return get_cpu();
}

void rnvmx_put_cpu(void)
{
	put_cpu();
}

phys_addr_t rnvmx_pa(const void *p)
{
	return __pa(p);
}

bool rnvmx_init_event_pending(struct kvm_vcpu *vcpu)
{
	return kvm_apic_has_pending_init_or_sipi(vcpu);
}

bool rnvmx_cpu_has_injectable_intr(struct kvm_vcpu *vcpu)
{
	return kvm_cpu_has_injectable_intr(vcpu);
}

bool rnvmx_x2apic_mode(struct kvm_vcpu *vcpu)
{
	return lapic_in_kernel(vcpu) && apic_x2apic_mode(vcpu->arch.apic);
}

/* The INVVPID types of the CPU, as KVM's vmx_capability.vpid has them. */
u32 rnvmx_vpid_caps(void)
{
	u64 cap = 0;

	rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP, &cap);
	return cap >> 32;
}

/* L1's INVVPID without EPT: L1 and L2 share root_mmu (handle_invvpid()). */
void rnvmx_free_guest_mode_roots(struct kvm_vcpu *vcpu)
{
	kvm_mmu_free_guest_mode_roots(vcpu->kvm, &vcpu->arch.root_mmu);
}

void rnvmx_mmu_unload_guest_mode_roots(struct kvm_vcpu *vcpu)
{
	kvm_mmu_free_roots(vcpu->kvm, &vcpu->arch.guest_mmu, KVM_MMU_ROOTS_ALL);
}

u64 rnvmx_cr4_reserved_bits(struct kvm_vcpu *vcpu)
{
	return CR4_RESERVED_BITS | vcpu->arch.cr4_guest_rsvd_bits;
}

bool rnvmx_has_lam(struct kvm_vcpu *vcpu)
{
	return guest_cpu_cap_has(vcpu, X86_FEATURE_LAM);
}

int rnvmx_max_virt_addr_bits(void)
{
	return kvm_cpu_cap_has(X86_FEATURE_LA57) ? 57 : 48;
}

bool rnvmx_quirk_freeze_in_smm(struct kvm_vcpu *vcpu)
{
	return kvm_check_has_quirk(vcpu->kvm,
				   KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM);
}

bool rnvmx_umip_emulated(void)
{
	return vmx_umip_emulated();
}

u64 rnvmx_host_efer(void)
{
	return kvm_host.efer;
}

/* A function, not an inline: the MMU calls it through a pointer. */
u64 rnvmx_pdptr_read(struct kvm_vcpu *vcpu, int index)
{
	return kvm_pdptr_read(vcpu, index);
}

/* Bit `bit` (KVM_APIC_INIT or KVM_APIC_SIPI) of the local APIC's pending events. */
bool rnvmx_apic_event_pending(struct kvm_vcpu *vcpu, int bit)
{
	return lapic_in_kernel(vcpu) &&
	       test_bit(bit, &vcpu->arch.apic->pending_events);
}

void rnvmx_apic_event_clear(struct kvm_vcpu *vcpu, int bit)
{
	clear_bit(bit, &vcpu->arch.apic->pending_events);
}

u8 rnvmx_apic_sipi_vector(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic->sipi_vector;
}

bool rnvmx_is_smm(struct kvm_vcpu *vcpu)
{
	return is_smm(vcpu);
}

bool rnvmx_guest_has_vmx(struct kvm_vcpu *vcpu)
{
	return guest_cpu_cap_has(vcpu, X86_FEATURE_VMX);
}

bool rnvmx_apicv_active(struct kvm_vcpu *vcpu)
{
	return kvm_vcpu_apicv_active(vcpu);
}

u32 rnvmx_apic_ppr(struct kvm_vcpu *vcpu)
{
	return kvm_lapic_get_reg(vcpu->arch.apic, APIC_PROCPRI);
}

bool rnvmx_guest_has_sgx(struct kvm_vcpu *vcpu)
{
	return guest_cpuid_has(vcpu, X86_FEATURE_SGX);
}

struct vmcs *rnvmx_alloc_shadow_vmcs(void)
{
	return alloc_vmcs(true);
}

/*
 * A vmcs12 cache (nested.cached_vmcs12, nested.cached_shadow_vmcs12), as
 * enter_vmx_operation() allocates it: kzalloc() of the constant size goes
 * straight to its kmalloc cache (a KBox would take krealloc()'s way).
 */
struct vmcs12 *rnvmx_vmcs12_cache_alloc(void)
{
	return kzalloc(VMCS12_SIZE, GFP_KERNEL_ACCOUNT);
}

void rnvmx_vmcs12_cache_free(struct vmcs12 *cache)
{
	kfree(cache);
}

/* A VMLAUNCH or VMRESUME retires a branch, as nested_vmx_run() counts it. */
void rnvmx_pmu_branch_retired(struct kvm_vcpu *vcpu)
{
	kvm_pmu_trigger_event(vcpu, kvm_pmu_eventsel.BRANCH_INSTRUCTIONS_RETIRED);
}

bool rnvmx_notify_vmexit_enabled(struct kvm_vcpu *vcpu)
{
	return kvm_notify_vmexit_enabled(vcpu->kvm);
}

u32 rnvmx_notify_window(struct kvm_vcpu *vcpu)
{
	return vcpu->kvm->arch.notify_window;
}

/*
 * Only reads vmcs12 (its ENCLS-exiting control and bitmap).  Without
 * CONFIG_X86_SGX_KVM, sgx.h's stub writes the all-ones bitmap vmcs02 has
 * from prepare_vmcs02_constant_state() already (and would need the
 * unexported vmwrite_error()).
 */
void rnvmx_write_encls_bitmap(struct kvm_vcpu *vcpu, struct vmcs12 *vmcs12)
{
#ifdef CONFIG_X86_SGX_KVM
	vmx_write_encls_bitmap(vcpu, vmcs12);
#endif
}

bool rnvmx_pi_test_and_clear_on(struct pi_desc *pi_desc)
{
	return pi_test_and_clear_on(pi_desc);
}

bool rnvmx_pi_test_on(struct pi_desc *pi_desc)
{
	return pi_test_on(pi_desc);
}

int rnvmx_pi_find_highest_vector(struct pi_desc *pi_desc)
{
	return pi_find_highest_vector(pi_desc);
}

u64 rnvmx_rdtsc(void)
{
	return rdtsc();
}

/* hrtimer_init() of L1's VMX-preemption timer, as enter_vmx_operation(). */
void rnvmx_preemption_timer_init(struct hrtimer *timer,
				 enum hrtimer_restart (*fn)(struct hrtimer *))
{
	hrtimer_init(timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_PINNED);
	timer->function = fn;
}

/* hrtimer_start() @ns from now, as vmx_start_preemption_timer(). */
void rnvmx_preemption_timer_start(struct hrtimer *timer, u64 ns)
{
	hrtimer_start(timer, ktime_add_safe(ktime_get(), ns_to_ktime(ns)),
		      HRTIMER_MODE_ABS_PINNED);
}

s64 rnvmx_hrtimer_remaining_ns(const struct hrtimer *timer)
{
	return ktime_to_ns(hrtimer_get_remaining(timer));
}

bool rnvmx_kvm_cap_has_vmx(void)
{
	return kvm_cpu_cap_get(X86_FEATURE_VMX);
}

bool rnvmx_hv_is_tlb_flush_hcall(struct kvm_vcpu *vcpu)
{
	return kvm_hv_is_tlb_flush_hcall(vcpu);
}
