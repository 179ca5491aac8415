/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the project's selftests share on top of the KVM selftest library.
 */
#ifndef RNVMX_UTIL_H
#define RNVMX_UTIL_H

#include "test_util.h"
#include "kvm_util.h"
#include "ucall_common.h"

/* Runs the vCPU once; its guest must report GUEST_SYNC(stage). */
static inline void rnvmx_run_expect_sync(struct kvm_vcpu *vcpu, uint64_t stage)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	case UCALL_SYNC:
		TEST_ASSERT_EQ(uc.args[1], stage);
		break;
	default:
		TEST_FAIL("unexpected ucall %lu, expected sync %lu", uc.cmd, stage);
	}
}

/* Runs the vCPU until its guest reports GUEST_DONE; a guest assertion or any
 * other exit fails the test. Then frees the VM. */
static inline void rnvmx_run_to_done(struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	case UCALL_DONE:
		break;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	kvm_vm_free(vm);
}

#endif
