// SPDX-License-Identifier: GPL-2.0
/*
 * Create a VM with one vCPU, say "held", and keep it until killed.
 * Used by rnvmx_lifecycle to hold a binding to a nested VMX backend.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR);
	int vm, vcpu;

	if (kvm < 0) {
		perror("/dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return 1;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		perror("KVM_CREATE_VCPU");
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}
