#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where one benchmark op's instructions go, on both backends.

Under Bochs a guest TSC cycle is an emulated instruction, so an exact
instruction trace of one op says where every cycle goes. Run a benchmark
with RNVMX_ITRACE=N (testbed/ab.py then enables Bochs's magic breakpoint
and has it trace every instruction between the first 2N `xchg %bx,%bx`,
which the benchmarks put around one extra, untimed op:
selftests/kvm/rnvmx_itrace.h), e.g.

  RNVMX_ITRACE=1 RNVMX_BENCHES=l2_vmcall_evmcs RNVMX_OWN=0 \\
      python3 testbed/ab.py --tests vmx_tsc_adjust_test
  python3 testbed/itrace.py            # out/runs, region 0
  python3 testbed/itrace.py --show 'nested_vmx_vmexit'

It prints the instructions of region N (the Nth traced op of the boot) by
module and by function, C against Rust, from out/runs/{c,rust}-1: kernel
symbols from vmlinux, module symbols placed at the section addresses
testbed/init.sh prints (@@SECT) before each benchmark. --show prints the
instructions executed in the matching functions, in order."""
import argparse
import bisect
import collections
import os
import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("RNVMX_CACHE", Path.home() / ".cache" / "rnvmx"))
KBUILD = CACHE / "kbuild"
INSN = re.compile(r"^\(0\)\.\[\d+\] \[0x[0-9a-f]+\] [0-9a-f]{4}:([0-9a-f]+) \(unk\. ctxt\): (.*?)\s*;")


def module_sections(serial, region):
    """The section addresses printed before the region-th benchmark."""
    blocks = []
    for line in open(serial, errors="replace"):
        m = re.search(r"@@SECT (\S+) (\S+) 0x([0-9a-f]+)", line)
        if m:
            key = (m.group(1), m.group(2))
            if not blocks or key in blocks[-1]:
                blocks.append({})
            blocks[-1][key] = int(m.group(3), 16)
    return blocks[min(region, len(blocks) - 1)] if blocks else {}


def symbols(serial, region):
    syms = []
    nm = subprocess.run(["nm", "-n", "-S", str(KBUILD / "vmlinux")],
                        capture_output=True, text=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW":
            syms.append((int(p[0], 16), int(p[1], 16), "vmlinux:" + p[3]))
    sect = module_sections(serial, region)
    kos = {"kvm": KBUILD / "arch/x86/kvm/kvm.ko",
           "kvm_intel": KBUILD / "arch/x86/kvm/kvm-intel.ko", "rnvmx": TOP / "rnvmx.ko"}
    for mod, ko in kos.items():
        out = subprocess.run(["objdump", "-t", str(ko)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"^([0-9a-f]+)\s.{7}\s(\S+)\s+([0-9a-f]+)\s+(\S+)$", line)
            # .init.text is freed after loading: another module may be there now.
            if not m or "F" not in line[17:25] or "init" in m.group(2) or "exit" in m.group(2):
                continue
            base = sect.get((mod, m.group(2)))
            if base is not None:
                syms.append((base + int(m.group(1), 16), int(m.group(3), 16),
                             mod + ":" + m.group(4)))
    syms.sort()
    return syms


class Trace:
    def __init__(self, run, region):
        self.syms = symbols(run / "serial.log", region)
        self.addrs = [s[0] for s in self.syms]
        self.insns = []
        n, cur = -1, None
        for line in open(run / "bochs.out", errors="replace"):
            m = INSN.match(line)
            if m:
                if cur is None:
                    n, cur = n + 1, []
                if n == region:
                    self.insns.append((int(m.group(1), 16), m.group(2)))
            elif line.startswith("(0) Magic breakpoint") or line.startswith("Next at"):
                cur = None

    def sym(self, a):
        i = bisect.bisect_right(self.addrs, a) - 1
        if i >= 0 and a < self.syms[i][0] + max(self.syms[i][1], 1):
            return self.syms[i][2]
        return "guest" if a < 0xffff800000000000 else "kernel?"

    def by_function(self):
        return collections.Counter(self.sym(a) for a, _ in self.insns)


def short(name):
    return re.sub(r"_R[A-Za-z0-9]*?5rnvmx", "rnvmx::", name)[:100]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="?", default=str(TOP / "out" / "runs"))
    ap.add_argument("--region", type=int, default=0)
    ap.add_argument("--show", help="regex: print these functions' instructions (Rust, then C)")
    a = ap.parse_args()
    t = {b: Trace(Path(a.runs) / f"{b}-1", a.region) for b in ("c", "rust")}
    f = {b: t[b].by_function() for b in t}
    for b in t:
        mods = collections.Counter()
        for k, v in f[b].items():
            mods[k.split(":")[0]] += v
        print(f"{b}: {len(t[b].insns)} instructions; " +
              ", ".join(f"{m} {v}" for m, v in mods.most_common()))
    print(f"\n{'c':>7} {'rust':>7} {'diff':>7}  function")
    keys = sorted(set(f["c"]) | set(f["rust"]),
                  key=lambda k: -abs(f["rust"][k] - f["c"][k]))
    for k in keys:
        d = f["rust"][k] - f["c"][k]
        if d:
            print(f"{f['c'][k]:7} {f['rust'][k]:7} {d:+7}  {short(k)}")
    if a.show:
        pat = re.compile(a.show)
        for b in ("rust", "c"):
            print(f"\n== {b}")
            for addr, text in t[b].insns:
                s = t[b].sym(addr)
                if pat.search(s):
                    print(f"{short(s.split(':')[-1])[-40:]:40} {text}")


if __name__ == "__main__":
    main()
