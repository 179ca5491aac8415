/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bochs's magic breakpoint, xchg %bx,%bx: with RNVMX_ITRACE=N, testbed/ab.py
 * enables it and has Bochs trace every instruction between the first 2N
 * of them; testbed/itrace.py then counts those instructions by function on
 * each backend. Benchmarks bracket one extra, untimed op with two marks.
 * Without the magic breakpoint enabled the instruction does nothing.
 */
#ifndef RNVMX_ITRACE_H
#define RNVMX_ITRACE_H

#define RNVMX_ITRACE_MARK() __asm__ __volatile__("xchg %%bx, %%bx" ::: "memory")

#endif
