/* SPDX-License-Identifier: GPL-2.0 */
/* KVM's nested tracepoints for rnvmx (rust/trace.c, used by rust/trace.rs). */
#ifndef RNVMX_TRACE_HELPERS_H
#define RNVMX_TRACE_HELPERS_H

#include <linux/types.h>

#include <linux/tracepoint-defs.h>

struct kvm_vcpu;

#ifdef CONFIG_TRACEPOINTS
/* kvm.ko's (exported) tracepoint, whose key rust/trace.rs tests itself. */
extern struct tracepoint __tracepoint_kvm_nested_vmexit;
#endif

bool rnvmx_trace_nested_vmenter_enabled(void);
void rnvmx_trace_nested_vmenter(u64 rip, u64 vmptr, u64 nested_rip,
				u32 guest_intr_status, u32 entry_intr_info,
				bool ept, u64 eptp, u64 guest_cr3);
void rnvmx_trace_nested_vmenter_failed(const char *msg, u32 err);
void rnvmx_trace_nested_vmexit(struct kvm_vcpu *vcpu);
bool rnvmx_trace_nested_vmexit_inject_enabled(void);
void rnvmx_trace_nested_vmexit_inject(u32 exit_reason, u64 qualification,
				      u32 idt_vectoring_info, u32 intr_info,
				      u32 intr_error_code);

#endif
