// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's nested tracepoints, emitted by rnvmx at the points where nested.c
 * emits them, so that `perf stat -e kvm:kvm_nested_vmenter`, tracefs and
 * bpftrace scripts written for KVM see the same events on either backend.
 * The events are defined (and their records built) by kvm.ko, which exports
 * them; these wrappers only call the trace_*() inlines of arch/x86/kvm/trace.h,
 * as the kernel's rust/helpers/ do for other inlines.
 */
#include <linux/kvm_host.h>

#include "trace.h"

#include "trace_helpers.h"

bool rnvmx_trace_nested_vmenter_enabled(void)
{
	return trace_kvm_nested_vmenter_enabled();
}

void rnvmx_trace_nested_vmenter(u64 rip, u64 vmptr, u64 nested_rip,
				u32 guest_intr_status, u32 entry_intr_info,
				bool ept, u64 eptp, u64 guest_cr3)
{
	trace_kvm_nested_vmenter(rip, vmptr, nested_rip, guest_intr_status,
				 entry_intr_info, ept, eptp, guest_cr3,
				 KVM_ISA_VMX);
}

void rnvmx_trace_nested_vmenter_failed(const char *msg, u32 err)
{
	trace_kvm_nested_vmenter_failed(msg, err);
}

void rnvmx_trace_nested_vmexit(struct kvm_vcpu *vcpu)
{
	trace_kvm_nested_vmexit(vcpu, KVM_ISA_VMX);
}

bool rnvmx_trace_nested_vmexit_inject_enabled(void)
{
	return trace_kvm_nested_vmexit_inject_enabled();
}

void rnvmx_trace_nested_vmexit_inject(u32 exit_reason, u64 qualification,
				      u32 idt_vectoring_info, u32 intr_info,
				      u32 intr_error_code)
{
	trace_kvm_nested_vmexit_inject(exit_reason, qualification,
				       idt_vectoring_info, intr_info,
				       intr_error_code, KVM_ISA_VMX);
}
