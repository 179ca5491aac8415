// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: restore a vCPU's VMX capability MSRs (what a migration
 * target does), i.e. KVM_SET_MSRS of IA32_VMX_BASIC ... IA32_VMX_VMFUNC
 * with the values KVM_GET_MSRS returned, which kvm-intel hands to the
 * VM's nested backend (vmx_set_vmx_msr() or rnvmx's set_vmx_msr()).
 *
 * Prints "@@RNVMX-BENCH name=vmx_msrs_restore ops=N cycles_per_op=C".
 * Under Bochs the TSC advances with emulated instructions, so the cycle
 * count measures emulated work, repeatably.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <x86intrin.h>

#define FIRST 0x480
#define LAST 0x491
#define NR (LAST - FIRST + 1)
#define OPS 2000

struct msrs {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[NR];
};

struct cpuid {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[256];
};

/* The VMX MSRs exist for a vCPU only if its CPUID has VMX: give it all KVM
 * supports, as the KVM selftests' vm_create_with_one_vcpu() does. */
static int set_supported_cpuid(int kvm, int vcpu)
{
	static struct cpuid c = { .hdr.nent = 256 };

	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &c) < 0)
		return -1;
	return ioctl(vcpu, KVM_SET_CPUID2, &c);
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR);
	int vm, vcpu, i, n = 0;
	struct msrs m = { 0 };
	uint64_t t0, t1;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 ||
	    (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0) {
		perror("create VM");
		return 1;
	}
	if (set_supported_cpuid(kvm, vcpu) < 0) {
		perror("CPUID");
		return 1;
	}
	/* The readable, restorable ones (the non-true control MSRs and the
	 * FIXED1 MSRs are derived, not restorable). */
	for (i = FIRST; i <= LAST; i++) {
		if (i == 0x481 || i == 0x482 || i == 0x483 || i == 0x484 ||
		    i == 0x487 || i == 0x489)
			continue;
		m.e[n++].index = i;
	}
	m.hdr.nmsrs = n;
	if (ioctl(vcpu, KVM_GET_MSRS, &m) != n) {
		fprintf(stderr, "KVM_GET_MSRS: not all VMX MSRs readable\n");
		return 1;
	}
	/* Warm up, and check every write is accepted. */
	if (ioctl(vcpu, KVM_SET_MSRS, &m) != n) {
		fprintf(stderr, "KVM_SET_MSRS refused a value KVM reported\n");
		return 1;
	}
	t0 = __rdtsc();
	for (i = 0; i < OPS; i++)
		if (ioctl(vcpu, KVM_SET_MSRS, &m) != n)
			return 1;
	t1 = __rdtsc();
	printf("@@RNVMX-BENCH name=vmx_msrs_restore ops=%d cycles_per_op=%llu\n",
	       OPS * n, (unsigned long long)((t1 - t0) / ((uint64_t)OPS * n)));
	return 0;
}
