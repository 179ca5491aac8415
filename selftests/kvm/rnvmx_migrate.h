/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the migration selftests (rnvmx_migrate_test, rnvmx_migrate_smm_test)
 * share: choosing a new VM's backend with rnvmx's `bind` parameter, proving
 * which one it got with rnvmx's debugfs counters, and reading back the same
 * restored state on both backends.
 */
#ifndef RNVMX_MIGRATE_H
#define RNVMX_MIGRATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

#define RNVMX_BIND "/sys/module/rnvmx/parameters/bind"
#define RNVMX_DEBUGFS "/sys/kernel/debug/rnvmx/"

static inline const char *backend_name(bool rust)
{
	return rust ? "Rust" : "C";
}

/*
 * The case about to run, in the kernel log: the test bed prints a test's
 * own output only when it ends, so this is what shows where one hung.
 */
static inline void progress(const char *what, bool from, bool to)
{
	FILE *f = fopen("/dev/kmsg", "w");

	if (!f)
		return;
	fprintf(f, "rnvmx_migrate: %s, %s -> %s\n", what, backend_name(from), backend_name(to));
	fclose(f);
}

/* One of rnvmx's debugfs counters. */
static inline uint64_t rnvmx_counter(const char *name)
{
	unsigned long long n = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), RNVMX_DEBUGFS "%s", name);
	f = fopen(path, "r");
	TEST_ASSERT(f, "no %s", path);
	TEST_ASSERT(fscanf(f, "%llu", &n) == 1, "cannot read %s", path);
	fclose(f);
	return n;
}

/* The backend the next new VM binds to. */
static inline void bind(bool rust)
{
	FILE *f = fopen(RNVMX_BIND, "w");

	TEST_ASSERT(f, "cannot open " RNVMX_BIND);
	fputs(rust ? "Y" : "N", f);
	TEST_ASSERT(!fclose(f), "cannot write " RNVMX_BIND);
}

/* A new VM on `rust`'s backend, with `state` loaded; checks its binding. */
static inline struct kvm_vcpu *restore_on(struct kvm_vm *vm, struct kvm_x86_state *state,
					  bool rust)
{
	uint64_t before = rnvmx_counter("vm_bindings");
	struct kvm_vcpu *vcpu;

	kvm_vm_release(vm);
	bind(rust);
	vcpu = vm_recreate_with_one_vcpu(vm);
	TEST_ASSERT_EQ(rnvmx_counter("vm_bindings") - before, rust ? 1 : 0);
	vcpu_load_state(vcpu, state);
	return vcpu;
}

static inline struct kvm_nested_state *get_nested(struct kvm_vcpu *vcpu)
{
	int size = vm_check_cap(vcpu->vm, KVM_CAP_NESTED_STATE);
	struct kvm_nested_state *s = calloc(1, size);

	TEST_ASSERT(s, "calloc");
	s->size = size;
	vcpu_nested_state_get(vcpu, s);
	return s;
}

/*
 * The same restored state reads back the same on both backends; returns
 * the flags both report (kvm_nested_state.flags | hdr.vmx.smm.flags << 16).
 */
static inline uint32_t compare_backends(struct kvm_vm *vm, struct kvm_x86_state *state,
					const char *stage)
{
	struct kvm_nested_state *c, *r;
	struct kvm_vcpu *vcpu;
	uint32_t i, diffs = 0, flags;

	vcpu = restore_on(vm, state, false);
	c = get_nested(vcpu);
	vcpu = restore_on(vm, state, true);
	r = get_nested(vcpu);
	TEST_ASSERT_EQ(c->size, r->size);
	for (i = 0; i < c->size; i++) {
		if (((uint8_t *)c)[i] != ((uint8_t *)r)[i]) {
			if (diffs++ < 16)
				printf("%s: nested state byte %u: C %#x, Rust %#x\n", stage, i,
				       ((uint8_t *)c)[i], ((uint8_t *)r)[i]);
		}
	}
	TEST_ASSERT(!diffs, "%s: %u bytes of KVM_GET_NESTED_STATE differ", stage, diffs);
	flags = c->flags | (uint32_t)c->hdr.vmx.smm.flags << 16;
	printf("%s: %u bytes of nested state (flags %#x, smm flags %#x) equal on both backends\n",
	       stage, c->size, c->flags, c->hdr.vmx.smm.flags);
	free(c);
	free(r);
	return flags;
}

/*
 * One migration: the vCPU's whole state saved (KVM_GET_NESTED_STATE
 * included), compared on both backends, and loaded into a new VM on `to`.
 * `*flags` (if not NULL) gets the nested flags both backends read back.
 */
static inline struct kvm_vcpu *migrate(struct kvm_vm *vm, struct kvm_vcpu *vcpu, bool from,
				       bool to, const char *stage, uint32_t *flags)
{
	struct kvm_x86_state *state = vcpu_save_state(vcpu);
	uint32_t f = compare_backends(vm, state, stage);

	printf("%s: %s -> %s\n", stage, backend_name(from), backend_name(to));
	vcpu = restore_on(vm, state, to);
	kvm_x86_state_cleanup(state);
	if (flags)
		*flags = f;
	return vcpu;
}

#endif
