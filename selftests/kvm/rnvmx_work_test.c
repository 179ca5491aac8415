// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx_work_test: a guest that computes for a long time and whose every
 * result the host checks. Run inside the test bed's L1 (testbed/init.sh),
 * its guest is L0's L2, live most of the time: L0 migrates L1 (QEMU) between
 * its two nested VMX backends while this runs, and a wrong restore of L2's
 * registers or memory shows as a wrong result here.
 *
 * Chunk k: the guest takes x, the previous chunk's result (x0 = SEED), and
 * multiplies it CHUNK times by A modulo the prime P = 2^61 - 1, storing each
 * product in a ring of SLOTS words of its memory; then it sums the ring and
 * reports (k, x, sum) with a ucall. The host checks both with closed forms:
 * x * A^CHUNK, and the last SLOTS products' geometric sum.
 *
 * Progress ("@@RNVMX-WORK chunk=k ok") goes to /dev/console, where L0 follows
 * it. The test ends when a line "stop" arrives on stdin (L1's console, from
 * L0) or after MAX_CHUNKS chunks. Exit status: 0 if every chunk was right.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"

#define P ((1ULL << 61) - 1)
#define A 0x5deece66dULL
#define SEED 0x1234567ULL
#define CHUNK (1ULL << 22)
#define SLOTS (1ULL << 14)
#define MAX_CHUNKS 2000

static uint64_t mulmod(uint64_t a, uint64_t b)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	uint64_t r = (uint64_t)(p & P) + (uint64_t)(p >> 61);

	/* r < 2P + 1: at most two subtractions. */
	r = r >= P ? r - P : r;
	return r >= P ? r - P : r;
}

static uint64_t addmod(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;

	return r >= P ? r - P : r;
}

static void guest_code(uint64_t *ring)
{
	uint64_t x = SEED, k, i, sum;

	for (k = 1;; k++) {
		for (i = 0; i < CHUNK; i++) {
			x = mulmod(x, A);
			ring[i % SLOTS] = x;
		}
		for (sum = 0, i = 0; i < SLOTS; i++)
			sum = addmod(sum, ring[i]);
		GUEST_SYNC_ARGS(k, x, sum, 0, 0);
	}
}

static uint64_t powmod(uint64_t b, uint64_t e)
{
	uint64_t r = 1;

	for (; e; e >>= 1, b = mulmod(b, b))
		if (e & 1)
			r = mulmod(r, b);
	return r;
}

/* A line "stop" waiting on stdin. */
static bool stop_requested(void)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
		return false;
	n = read(0, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, "stop") != NULL;
}

int main(void)
{
	/* x * A^CHUNK; sum of x*A^i for i = CHUNK-SLOTS+1..CHUNK. */
	uint64_t a_chunk = powmod(A, CHUNK);
	uint64_t a_tail = powmod(A, CHUNK - SLOTS + 1);
	uint64_t geo = mulmod(addmod(powmod(A, SLOTS), P - 1), powmod(A - 1, P - 2));
	uint64_t x = SEED, k;
	struct kvm_vcpu *vcpu;
	vm_vaddr_t ring;
	struct kvm_vm *vm;
	struct ucall uc;
	bool stopped = false;
	int con;

	setbuf(stdout, NULL);
	con = open("/dev/console", O_WRONLY | O_NOCTTY);
	vm = __vm_create_with_one_vcpu(&vcpu, SLOTS * 8 / 4096 + 8, guest_code);
	ring = vm_vaddr_alloc(vm, SLOTS * 8, KVM_UTIL_MIN_VADDR);
	vcpu_args_set(vcpu, 1, ring);
	for (k = 1; k <= MAX_CHUNKS && !stopped; k++) {
		uint64_t want_x = mulmod(x, a_chunk);
		uint64_t want_sum = mulmod(mulmod(x, a_tail), geo);

		vcpu_run(vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		case UCALL_SYNC:
			break;
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		TEST_ASSERT(uc.args[1] == k && uc.args[2] == want_x && uc.args[3] == want_sum,
			    "chunk %lu: guest reported chunk %lu x %#lx sum %#lx, expected x %#lx sum %#lx",
			    k, uc.args[1], uc.args[2], uc.args[3], want_x, want_sum);
		x = want_x;
		if (con >= 0)
			dprintf(con, "@@RNVMX-WORK chunk=%lu ok\n", k);
		stopped = stop_requested();
	}
	kvm_vm_free(vm);
	printf("PASS: %lu chunks of %llu products verified, %s\n", k - 1, CHUNK,
	       stopped ? "stopped on request" : "chunk limit reached");
	return 0;
}
