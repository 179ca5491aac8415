// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the kernel memory a vCPU takes for VMX operation, bytes per
 * vCPU, measured, not added up from the source.
 *
 * One VM with NR vCPUs. Each vCPU's L1 first runs without VMX: it writes
 * the pages it will use for VMX (VMXON region, VMCS, shadow VMCS) and
 * reports (stage 1). The host then takes a snapshot of the kernel's memory
 * and lets every vCPU go on: VMXON, VMCLEAR + VMPTRLD of a vmcs12, the
 * selftest library's prepare_vmcs(), VMLAUNCH, L2's VMCALL back to L1, and
 * a report (stage 2), which leaves each vCPU in VMX operation with a
 * current VMCS after a VMLAUNCH. A second snapshot, and
 *	bytes per vCPU = (in use at stage 2 - in use at stage 1) / NR,
 * in use = the pages the page allocator has handed out and not got back
 * (/proc/vmstat's pgalloc_* - pgfree: every page, which MemFree is not, as
 * the per-CPU free lists hide some from it) outside slabs, plus the slab
 * objects in use (/proc/slabinfo's active objects times their size), so
 * that an object counts as what it takes, however full its slab was.
 * SLUB counts its CPU slab's free objects as active, so every cache is
 * shrunk first (/sys/kernel/slab/NAME/shrink: the CPU slabs go back to the
 * node's lists, where their free objects are counted as free, and empty
 * slabs are freed): the count is then exact to the object, not to a
 * slab's worth per cache over NR vCPUs.
 *
 * So it counts all that entering VMX operation and running L2 allocate in
 * the kernel: the backend's own (vmcs02, its MSR bitmap, the vmcs12 caches,
 * a shadow VMCS...) and KVM's MMU for L2 (its page tables: the first vCPU's,
 * as the vCPUs share L2's roots). The host writes all guest memory first and
 * stage 1 touches the same guest pages as stage 2, so neither guest RAM nor
 * L0's EPT for L1 is in the difference.
 *
 * Prints "@@RNVMX-BENCH name=vcpu_vmx_memory ops=NR cycles_per_op=B
 * unit=bytes" (B: bytes per vCPU; lower is better, as for cycles), and, for
 * the record, each vCPU's share of the memory before VMX operation (from
 * before the VM was created to stage 1).
 */
#include <dirent.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "vmx.h"
#include "rnvmx_util.h"

#define NR 64
#define VMX_PAGES (NR * 8)
#define VMX_GPA 0x10000000ul

/* A snapshot of the kernel's memory: pages and slab objects. */
struct mem {
	int64_t net_pages;	/* page allocator: pages out - pages back */
	int64_t slab_pages;	/* of which in slabs */
	int64_t slab_bytes;	/* objects in use in those slabs */
};

static char buf[1 << 17];

static void read_file(const char *path)
{
	size_t n = 0, r;
	FILE *f;

	f = fopen(path, "r");
	TEST_ASSERT(f, "cannot open %s", path);
	while ((r = fread(buf + n, 1, sizeof(buf) - 1 - n, f)) > 0)
		n += r;
	TEST_ASSERT(n < sizeof(buf) - 1, "%s too long", path);
	fclose(f);
	buf[n] = 0;
}

/* Every slab cache shrunk: no CPU slab counted as full. */
static void shrink_slabs(void)
{
	struct dirent *d;
	DIR *dir = opendir("/sys/kernel/slab");
	int n = 0;

	TEST_ASSERT(dir, "no /sys/kernel/slab");
	while ((d = readdir(dir))) {
		char path[512];
		FILE *f;
		int ok;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		f = fopen(path, "w");
		if (!f)
			continue;
		ok = fputs("1", f) >= 0;
		ok &= fclose(f) == 0;
		n += ok;
	}
	closedir(dir);
	TEST_ASSERT(n, "no slab cache shrunk");
}

static struct mem snapshot(void)
{
	struct mem m = {};
	int64_t alloc = 0, freed = 0;
	char *line, *save;

	shrink_slabs();

	read_file("/proc/vmstat");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		long long v;

		if (sscanf(line, "%63s %lld", name, &v) != 2)
			continue;
		if (!strncmp(name, "pgalloc_", 8))
			alloc += v;
		else if (!strcmp(name, "pgfree"))
			freed += v;
	}
	TEST_ASSERT(alloc && freed, "no pgalloc_*/pgfree in /proc/vmstat");
	m.net_pages = alloc - freed;

	/* name active_objs num_objs objsize objperslab pagesperslab : tunables
	 * ... : slabdata active_slabs num_slabs sharedavail */
	read_file("/proc/slabinfo");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long long active, objs, size, per, pages, aslabs, slabs;

		if (sscanf(line, "%*s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
			   &active, &objs, &size, &per, &pages, &aslabs, &slabs) != 7)
			continue;
		m.slab_pages += slabs * pages;
		m.slab_bytes += active * size;
	}
	TEST_ASSERT(m.slab_pages, "no slabs in /proc/slabinfo");
	return m;
}

/* Bytes of kernel memory in use: pages outside slabs, objects in slabs. */
static int64_t in_use(struct mem m)
{
	return (m.net_pages - m.slab_pages) * getpagesize() + m.slab_bytes;
}

static void l2_guest_code(void)
{
	vmcall();
}

static void l1_guest_code(struct vmx_pages *vmx)
{
	unsigned long l2_stack[64];

	/* Stage 1: the same guest pages written, no VMX. */
	*(volatile uint32_t *)vmx->vmxon = 0;
	*(volatile uint32_t *)vmx->vmcs = 0;
	*(volatile uint32_t *)vmx->shadow_vmcs = 0;
	GUEST_SYNC(1);

	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	prepare_vmcs(vmx, l2_guest_code, &l2_stack[64]);
	GUEST_ASSERT(!vmlaunch());
	GUEST_ASSERT_EQ(vmreadz(VM_EXIT_REASON), EXIT_REASON_VMCALL);
	GUEST_SYNC(2);
	GUEST_DONE();
}

int main(void)
{
	struct kvm_vcpu *vcpus[NR];
	struct mem m0, m1, m2;
	int64_t vmx;
	struct kvm_vm *vm;
	vm_vaddr_t gva;
	uint64_t off;
	int i, slot;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX));
	m0 = snapshot();
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, NR, VMX_PAGES, l1_guest_code, vcpus);
	/* The VMX pages (7 guest pages per vCPU) in a memslot of their own. */
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, VMX_GPA, 1, VMX_PAGES, 0);
	vm->memslots[MEM_REGION_TEST_DATA] = 1;
	for (i = 0; i < NR; i++) {
		vcpu_alloc_vmx(vm, &gva);
		vcpu_args_set(vcpus[i], 1, gva);
	}
	/* All guest RAM present in the host before the first snapshot. */
	for (slot = 0; slot < 2; slot++) {
		struct userspace_mem_region *r = memslot2region(vm, slot);

		for (off = 0; off < r->region.memory_size; off += getpagesize()) {
			volatile char *p = (char *)r->host_mem + off;

			*p = *p;
		}
	}

	for (i = 0; i < NR; i++)
		rnvmx_run_expect_sync(vcpus[i], 1);
	m1 = snapshot();
	for (i = 0; i < NR; i++)
		rnvmx_run_expect_sync(vcpus[i], 2);
	m2 = snapshot();

	vmx = (in_use(m2) - in_use(m1)) / NR;
	printf("vCPUs: %d; bytes per vCPU before VMX (VM, vCPU, guest RAM, first run): %ld; "
	       "in VMX operation: %ld more (%ld in pages, %ld in slab objects)\n", NR,
	       (long)((in_use(m1) - in_use(m0)) / NR), (long)vmx,
	       (long)((m2.net_pages - m2.slab_pages - m1.net_pages + m1.slab_pages) *
		      getpagesize() / NR),
	       (long)((m2.slab_bytes - m1.slab_bytes) / NR));
	printf("@@RNVMX-BENCH name=vcpu_vmx_memory ops=%d cycles_per_op=%ld unit=bytes\n",
	       NR, (long)vmx);
	kvm_vm_free(vm);
	return 0;
}
