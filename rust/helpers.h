/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C wrappers for the static inline KVM helpers rnvmx calls, in the manner of
 * the kernel's rust/helpers/: each is a one-line call of the inline it names,
 * with no logic of its own.  Nested VMX logic lives in Rust.
 */
#ifndef RNVMX_HELPERS_H
#define RNVMX_HELPERS_H

#include <linux/kvm_host.h>

struct vcpu_vmx;
struct vmcs12;
struct pi_desc;

/*
 * The KVM requests rnvmx makes.  KVM_REQ_* are statement expressions, not
 * constants, so the helpers map these names to them.
 */
enum rnvmx_request {
	RNVMX_REQ_EVENT,
	RNVMX_REQ_TLB_FLUSH_GUEST,
	RNVMX_REQ_TLB_FLUSH_CURRENT,
	RNVMX_REQ_GET_NESTED_STATE_PAGES,
	RNVMX_REQ_APIC_PAGE_RELOAD,
	RNVMX_REQ_TRIPLE_FAULT,
};

unsigned long rnvmx_register_read(struct kvm_vcpu *vcpu, int reg);
void rnvmx_register_write(struct kvm_vcpu *vcpu, int reg, unsigned long val);
unsigned long rnvmx_rip_read(struct kvm_vcpu *vcpu);
unsigned long rnvmx_rsp_read(struct kvm_vcpu *vcpu);
void rnvmx_register_mark_available(struct kvm_vcpu *vcpu, int reg);
unsigned long rnvmx_read_cr0(struct kvm_vcpu *vcpu);
unsigned long rnvmx_read_cr3(struct kvm_vcpu *vcpu);
unsigned long rnvmx_read_cr4(struct kvm_vcpu *vcpu);
bool rnvmx_is_64_bit_mode(struct kvm_vcpu *vcpu);
bool rnvmx_is_long_mode(struct kvm_vcpu *vcpu);
bool rnvmx_is_pae_paging(struct kvm_vcpu *vcpu);
void rnvmx_leave_guest_mode(struct kvm_vcpu *vcpu);
bool rnvmx_legal_cr3(struct kvm_vcpu *vcpu, unsigned long cr3);
int rnvmx_maxphyaddr(struct kvm_vcpu *vcpu);
bool rnvmx_need_pf_intercept(struct kvm_vcpu *vcpu);
void rnvmx_make_request(enum rnvmx_request req, struct kvm_vcpu *vcpu);
bool rnvmx_check_request(enum rnvmx_request req, struct kvm_vcpu *vcpu);
void rnvmx_clear_request(enum rnvmx_request req, struct kvm_vcpu *vcpu);
void rnvmx_clear_exception_queue(struct kvm_vcpu *vcpu);
void rnvmx_clear_interrupt_queue(struct kvm_vcpu *vcpu);
bool rnvmx_event_needs_reinjection(struct kvm_vcpu *vcpu);
bool rnvmx_has_tsc_control(void);
u64 rnvmx_default_tsc_scaling_ratio(void);
bool rnvmx_mpx_supported(void);
void rnvmx_ibpb_if_spec_ctrl(struct kvm_vcpu *vcpu);
int rnvmx_get_cpu(void);
void rnvmx_put_cpu(void);
phys_addr_t rnvmx_pa(const void *p);
bool rnvmx_init_event_pending(struct kvm_vcpu *vcpu);
bool rnvmx_cpu_has_injectable_intr(struct kvm_vcpu *vcpu);
bool rnvmx_x2apic_mode(struct kvm_vcpu *vcpu);
void rnvmx_mmu_unload_guest_mode_roots(struct kvm_vcpu *vcpu);
u32 rnvmx_vpid_caps(void);
void rnvmx_free_guest_mode_roots(struct kvm_vcpu *vcpu);

u64 rnvmx_cr4_reserved_bits(struct kvm_vcpu *vcpu);
bool rnvmx_has_lam(struct kvm_vcpu *vcpu);
int rnvmx_max_virt_addr_bits(void);
bool rnvmx_quirk_freeze_in_smm(struct kvm_vcpu *vcpu);
bool rnvmx_umip_emulated(void);
u64 rnvmx_host_efer(void);
u64 rnvmx_pdptr_read(struct kvm_vcpu *vcpu, int index);
bool rnvmx_apic_event_pending(struct kvm_vcpu *vcpu, int bit);
void rnvmx_apic_event_clear(struct kvm_vcpu *vcpu, int bit);
u8 rnvmx_apic_sipi_vector(struct kvm_vcpu *vcpu);
bool rnvmx_is_smm(struct kvm_vcpu *vcpu);
bool rnvmx_guest_has_vmx(struct kvm_vcpu *vcpu);
bool rnvmx_guest_has_sgx(struct kvm_vcpu *vcpu);
bool rnvmx_apicv_active(struct kvm_vcpu *vcpu);
u32 rnvmx_apic_ppr(struct kvm_vcpu *vcpu);
struct vmcs *rnvmx_alloc_shadow_vmcs(void);
struct vmcs12 *rnvmx_vmcs12_cache_alloc(void);
void rnvmx_vmcs12_cache_free(struct vmcs12 *cache);

void rnvmx_pmu_branch_retired(struct kvm_vcpu *vcpu);
bool rnvmx_notify_vmexit_enabled(struct kvm_vcpu *vcpu);
u32 rnvmx_notify_window(struct kvm_vcpu *vcpu);
void rnvmx_write_encls_bitmap(struct kvm_vcpu *vcpu, struct vmcs12 *vmcs12);
bool rnvmx_pi_test_and_clear_on(struct pi_desc *pi_desc);
bool rnvmx_pi_test_on(struct pi_desc *pi_desc);
int rnvmx_pi_find_highest_vector(struct pi_desc *pi_desc);

u64 rnvmx_rdtsc(void);
void rnvmx_preemption_timer_init(struct hrtimer *timer,
				 enum hrtimer_restart (*fn)(struct hrtimer *));
void rnvmx_preemption_timer_start(struct hrtimer *timer, u64 ns);
s64 rnvmx_hrtimer_remaining_ns(const struct hrtimer *timer);

bool rnvmx_kvm_cap_has_vmx(void);
bool rnvmx_hv_is_tlb_flush_hcall(struct kvm_vcpu *vcpu);

#endif
