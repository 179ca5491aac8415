/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The seeded randomness and the case hash of the project's comparison
 * tests (nested_lockstep_test, nested_state_blob_test): the same seed gives
 * the same cases on both backends, and each case's observations fold into
 * one hash that testbed/lockstep.py compares.
 */
#ifndef RNVMX_RNG_H
#define RNVMX_RNG_H

#include <stdint.h>

/* The generator's state; each test seeds it per case. */
static uint64_t rng;

/* xorshift64* */
static inline uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

/* A value in [0, n); n > 0. */
static inline uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* Folds v into the hash h. */
static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

#endif
