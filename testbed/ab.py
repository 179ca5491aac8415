#!/usr/bin/env python3
"""Run the nested selftests on both backends in Bochs and write out/ab.tsv.

One Bochs boot per backend, both in parallel. The guest (testbed/init.sh)
reports every test on the serial console as one "@@RNVMX-END" line. A
host-side watchdog kills a boot whose test makes no progress: that test is
recorded as HANG and the remaining ones continue in a fresh boot.

Exit status: 0 when every boot completed and no kernel log showed a WARN,
BUG, Oops or panic other than the two known Bochs boot WARNs; 1 otherwise.
With --check, the C backend must also meet testbed/tests.txt.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import lockstep
from plot import write_svg

TOP = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("RNVMX_CACHE", Path.home() / ".cache" / "rnvmx"))
KBUILD = CACHE / "kbuild"

# Debian's Bochs with the test bed's fix (make bochs, testbed/bochs-fix.py).
BOCHS = Path(os.environ.get("RNVMX_BOCHS", CACHE / "bochs-bin"))

# Wall-clock limits of the watchdog (seconds).
BOOT_TIMEOUT = int(os.environ.get("RNVMX_BOOT_TIMEOUT", "900"))
TEST_TIMEOUT = int(os.environ.get("RNVMX_TEST_TIMEOUT", "60"))

KERNEL_CMDLINE = ("console=ttyS0,115200 mitigations=off nokaslr panic=-1 "
                  "tsc_early_khz=50000")
# nested_lockstep_test's seed, cases per family and first case (RNVMX_LOCKSTEP
# or --lockstep): make ab and make check run this slice (~20 s of guest time).
LOCKSTEP = os.environ.get("RNVMX_LOCKSTEP", "1,2048,0")
# nested_state_blob_test's seed, cases and first case (RNVMX_BLOBS or --blobs).
BLOBS = os.environ.get("RNVMX_BLOBS", "1,2048,0")
# Cases of it to run alone, each with its log (RNVMX_BLOBS_LOG=N:N:...).
BLOBS_LOG = os.environ.get("RNVMX_BLOBS_LOG", "")
# Only these benchmarks (RNVMX_BENCHES=name,name,...: their rnvmx_bench_*
# binaries' suffixes, e.g. l2_vmcall_evmcs), for a quick look at a few; and
# RNVMX_OWN=0: not the project's own tests first. Both only for iterating
# by hand: a run with either set is not a full `make ab`.
BENCHES = os.environ.get("RNVMX_BENCHES", "")
OWN = os.environ.get("RNVMX_OWN", "1") != "0"
# Instruction traces of N benchmark ops (testbed/itrace.py); 0: none.
ITRACE = int(os.environ.get("RNVMX_ITRACE", "0"))

# Kernel log lines that fail a run ...
BAD = re.compile(r"WARNING:|BUG:|Oops|Kernel panic|kernel BUG|"
                 r"general protection fault|cut here|Call Trace:|soft lockup|"
                 r"rcu_sched detected stall")
# ... except the two WARNs every Bochs boot of this kernel shows (no XSAVE,
# topology), matched exactly, once each, with the rest of their reports.
KNOWN_WARNS = {
    "WARNING: CPU: 0 PID: 0 at ../linux/arch/x86/kernel/cpu/topology_common.c:57 "
    "parse_topology+0x212/0x220",
    "WARNING: CPU: 0 PID: 0 at ../linux/arch/x86/kernel/fpu/xstate.c:606 "
    "paranoid_xstate_size_valid+0xfa/0x130",
}
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")
# A boot of L0's kernel, and its panic (not L1's, whose log init.sh copies
# into L0's serial log with "@L1 " before each line).
L0_BOOT = re.compile(r"^(?:\[[^\]]*\]\s*)?Linux version ", re.M)
L0_PANIC = re.compile(r"^(?:\[[^\]]*\]\s*)?Kernel panic", re.M)

# "@@RNVMX-END test=T rc=N secs=S key=value ..." (testbed/init.sh run_test).
END_RE = re.compile(r"@@RNVMX-END test=(\S+)((?: \w+=\S*)*)")
END_KEYS = ("rc", "secs", "tp_l2", "tp_vmenter", "perf_vmenter", "tp_overrun",
            "rust_l2", "rust_vmenter", "rust_bind")


def end_fields(line_match):
    """The key=value fields of an END line as a dict; None if one of END_KEYS
    is missing (a truncated line)."""
    fields = dict(kv.split("=", 1) for kv in line_match.group(2).split())
    return fields if all(k in fields for k in END_KEYS) else None
BEGIN_RE = re.compile(r"@@RNVMX-BEGIN test=(\S+)")
BENCH_RE = re.compile(r"@@RNVMX-BENCH name=(\S+) ops=(\d+) cycles_per_op=(-?\d+)(?: unit=(\w+))? "
                      r"rc=(\d+) rust_bind=(-?\d+) rust_msr_writes=(-?\d+)(?: rust_l2_reflected=(-?\d+))?"
                      r"(?P<more>(?: rust_\w+=-?\d+)*)")
# The module counters (init.sh run_bench's rust_* deltas) that must each reach
# the benchmark's op count for a Rust number to count; by default
# rust_l2_reflected for l2_* (each op an exit reflected to L1) and
# rust_msr_writes otherwise.
BENCH_PROOF = {
    # Each page: an EPT violation rnvmx sent to L1 (an injected exit, not
    # counted as reflected), L1 maps the page and VMRESUMEs (an L2 entry).
    "l2_ept_fault_pages": ("rust_ept_faults", "rust_l2"),
    # Each op: a KVM_SET_NESTED_STATE that restored L2.
    "nested_state_get_set": ("rust_set_state", "rust_restores_l2"),
    # Each vCPU (op) in VMX operation: VMLAUNCH, L2's VMCALL reflected.
    "vcpu_vmx_memory": ("rust_l2", "rust_l2_reflected"),
    # Each op: L2's CPUID (exit reason 10) reached rnvmx and went to L1.
    "l2_cpuid_roundtrip": ("rust_l2_reflected", "rust_cpuid_exits"),
    # Each op: L2's IN (exit reason 30) reached rnvmx and went to L1.
    "l2_io_reflected": ("rust_l2_reflected", "rust_io_exits"),
    # Each op: L2's IN reached rnvmx, which kept it for L0 (not reflected).
    "l2_io_l0": ("rust_io_exits", "rust_io_exits_l0"),
    # Each op: L2's VMCALL reflected, and L1's VMRESUME emulated by rnvmx
    # (with shadowing most VMREAD/VMWRITEs do not exit)...
    "l2_vmrw_roundtrip": ("rust_l2_reflected", "rust_insns"),
    # ... and without it each of the handler's 17 VMREAD/VMWRITEs too
    # (BENCH_VMRW_PER_OP in selftests/kvm/rnvmx_bench_l2_vmrw.c): an entry
    # (counter, n) must reach n per op.
    "l2_vmrw_roundtrip_noshadow": ("rust_l2_reflected", ("rust_insns", 17)),
}
# The floor: a plain guest's exit handled by L0 (no nested backend, so no
# proof; "floor" is its note on both backends, not a fault). The printed
# table compares each nested round trip with twice it: an L2 exit to L1 and
# L1's VMRESUME are each one such exit at least.
BENCH_FLOOR = "l1_vmcall_roundtrip"


def bench_valid(row):
    """A benchmark row's number counts: no note, or the floor's."""
    return bool(row) and row[4] in ("", "floor")


# The project's own tests, run first on the Rust boot (testbed/init.sh).
OWN_TESTS = ("rnvmx_lifecycle", "rnvmx_mixed", "rnvmx_params", "rnvmx_migrate")


def read_bench_limits():
    """testbed/benches.txt: benchmark name -> max rust/c ratio or "report"."""
    limits = {}
    for line in (TOP / "testbed" / "benches.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, limit = line.split()[:2]
            limits[name] = limit
    return limits


def tests_rows():
    """testbed/tests.txt's rows, each split into its columns."""
    for line in (TOP / "testbed" / "tests.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split()


def read_tests():
    return [(c[0], c[1], c[2] if len(c) > 2 else "-") for c in tests_rows()]


def read_timeouts():
    """testbed/tests.txt's optional 4th column, timeout=SECONDS: the
    watchdog's no-progress limit for a test that needs longer."""
    return {c[0]: int(c[3].split("=", 1)[1])
            for c in tests_rows() if len(c) > 3 and c[3].startswith("timeout=")}


TIMEOUTS = read_timeouts()
# RNVMX_TIMEOUTS=test=SECONDS,...: other limits for this run (a longer slice).
TIMEOUTS.update({k: int(v) for k, v in (kv.split("=", 1) for kv in
                 os.environ.get("RNVMX_TIMEOUTS", "").split(",") if "=" in kv)})


def make_iso(workdir, backend, tests, own=True):
    """An isolinux CD with the kernel, the initramfs and the run's command
    line; `own`: a Rust boot runs the project's own tests first."""
    iso_root = workdir / "iso"
    (iso_root / "isolinux").mkdir(parents=True, exist_ok=True)
    shutil.copy("/usr/lib/ISOLINUX/isolinux.bin", iso_root / "isolinux")
    shutil.copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", iso_root / "isolinux")
    shutil.copy(KBUILD / "arch/x86/boot/bzImage", iso_root / "bzImage")
    shutil.copy(CACHE / "initrd.gz", iso_root / "initrd.gz")
    (iso_root / "isolinux" / "isolinux.cfg").write_text(
        "DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /bzImage\n"
        f"  APPEND initrd=/initrd.gz {KERNEL_CMDLINE} rnvmx_tb_backend={backend} "
        f"{'rnvmx_lockstep=' + LOCKSTEP + ' ' if LOCKSTEP else ''}"
        f"{'rnvmx_blobs=' + BLOBS + ' ' if BLOBS else ''}"
        f"{'rnvmx_blobs_log=' + BLOBS_LOG + ' ' if BLOBS_LOG else ''}"
        f"{'rnvmx_tb_benches=' + BENCHES + ' ' if BENCHES else ''}"
        f"{'' if own else 'rnvmx_tb_own=0 '}"
        f"rnvmx_tb_tests={','.join(tests)}\n")
    iso = workdir / "boot.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso),
                    "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
                    "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
                    str(iso_root)], check=True)
    return iso


def bochs_rc(workdir, iso, serial):
    rc = workdir / "bochsrc"
    rc.write_text(f"""\
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=corei7_skylake_x, count=1, ips=50000000, reset_on_triple_fault=1
memory: guest=2048, host=2048
clock: sync=none, time0=local
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev={serial}
display_library: rfb, options="timeout=0"
speaker: enabled=0
sound: driver=dummy
log: {workdir}/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
""" + ("magic_break: enabled=1\n" if ITRACE else ""))
    cmds = workdir / "bochs.cmds"
    # RNVMX_ITRACE=N: trace every instruction between the first 2N magic
    # breakpoints (testbed/itrace.py).
    cmds.write_text("continue\n" + "trace on\ncontinue\ntrace off\ncontinue\n" * ITRACE
                    + "quit\n")
    return rc, cmds


class Boot:
    """One Bochs boot running `tests` on `backend`, watched from the host."""

    def __init__(self, backend, tests, workdir, own=True):
        self.backend, self.tests, self.workdir = backend, tests, workdir
        self.own = own         # a Rust boot runs OWN_TESTS first
        self.results = {}      # test -> END fields
        self.hung = None       # test that made no progress
        self.done = False      # guest reported DONE
        self.wall = 0.0

    def run(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        serial = self.workdir / "serial.log"
        serial.write_text("")
        iso = make_iso(self.workdir, self.backend, self.tests, self.own)
        rc, cmds = bochs_rc(self.workdir, iso, serial)
        start = time.monotonic()
        proc = subprocess.Popen([str(BOCHS), "-q", "-f", str(rc), "-rc", str(cmds)],
                                stdin=subprocess.DEVNULL,
                                stdout=open(self.workdir / "bochs.out", "w"),
                                stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = start + BOOT_TIMEOUT
        current, nbegins = None, 0
        boots = 0
        while True:
            exited = proc.poll() is not None
            text = serial.read_text(errors="replace")
            for m in END_RE.finditer(text):
                fields = end_fields(m)
                if fields is not None:
                    self.results[m.group(1)] = fields
            begins = BEGIN_RE.findall(text)
            # Each BEGIN line restarts the clock (a migration tried again
            # repeats its name).
            if begins and len(begins) != nbegins:
                nbegins, current = len(begins), begins[-1]
                deadline = time.monotonic() + TIMEOUTS.get(current, TEST_TIMEOUT)
            if "@@RNVMX-DONE" in text:
                self.done = True
            # L0's own kernel lines (L1's are copied in prefixed "@L1 ").
            boots = len(L0_BOOT.findall(text))
            if exited or self.done:
                break
            if L0_PANIC.search(text) or boots > 1:
                break                      # the kernel died (panic=-1 reboots)
            if time.monotonic() > deadline:
                if current and current not in self.results:
                    self.hung = current
                break
            time.sleep(2)
        if proc.poll() is None:
            time.sleep(2 if self.done else 0)   # let the last lines reach the file
            proc.kill()
        proc.wait()
        self.wall = time.monotonic() - start
        return self


def kernel_log_problems(text):
    """Lines of a serial log that fail the run: L0's kernel log, and L1's
    (the kernel QEMU boots inside L0, its lines prefixed "@L1 " by
    testbed/init.sh), each judged on its own.

    A WARN report runs from "cut here" to "end trace"; it is excused only if
    its WARNING line is one of KNOWN_WARNS, the first time it appears in
    that kernel's log.
    """
    l0, l1 = [], []
    for line in text.splitlines():
        if line.startswith("@L1 "):
            l1.append(line[4:])
        else:
            l0.append(line)
    return log_problems(l0) + [f"L1: {p}" for p in log_problems(l1)]


def log_problems(raw_lines):
    """kernel_log_problems() of one kernel's lines."""
    lines = [TIMESTAMP.sub("", line.strip()) for line in raw_lines]
    bad, seen, i = [], set(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("| ", "@@RNVMX")):
            i += 1                         # test output, not the kernel's
            continue
        if "------------[ cut here ]------------" in line:
            j = i + 1
            while j < len(lines) and "---[ end trace" not in lines[j]:
                j += 1
            warn = next((r for r in lines[i + 1:j] if r.startswith("WARNING:")), None)
            if warn in KNOWN_WARNS and warn not in seen:
                seen.add(warn)
            else:
                bad.append(warn or line)
            i = j + 1
            continue
        if BAD.search(line):
            bad.append(line)
        i += 1
    return bad


def migration_status(f):
    """(status, note) of a qemu_migrate_* row (testbed/migrate.sh): QEMU
    migrated L1 with L2 running, from one backend of L0 to the other (or
    the same), while L1's rnvmx_work_test computed in L2; its own verdict
    (rc) is checked again from its fields here."""
    get = lambda k, d="0": f.get(k, d)
    from_rust, to_rust = get("from_rust") == "1", get("to_rust") == "1"
    why = []
    if get("mig", "none") != "completed":
        why.append(f"migration {get('mig', 'none')}")
    if get("target", "none") != "running":
        why.append("target not running")
    if int(get("rust_bind")) != int(to_rust):
        why.append(f"target bound to rnvmx {get('rust_bind')} times, expected {int(to_rust)}")
    if from_rust and int(get("rust_saves_l2")) <= 0:
        why.append("rnvmx saved no state with L2 running")
    if to_rust and int(get("rust_restores_l2")) <= 0:
        why.append("rnvmx restored no state into L2")
    if to_rust and int(get("rust_l2")) <= 0:
        why.append("rnvmx entered no L2 after the restore")
    # The trace is split where the source QEMU had quit: every
    # kvm_nested_vmenter of a Rust-bound VM is one rnvmx emitted, and none
    # of a C-bound one.
    src, dst = int(get("tp_vmenter_src")), int(get("tp_vmenter_dst"))
    if dst <= 0:
        why.append("no nested entry on the target")
    if int(get("rust_vmenter")) != src * from_rust + dst * to_rust:
        why.append(f"rnvmx emitted {get('rust_vmenter')} kvm_nested_vmenter, the trace shows "
                   f"{src} on the source and {dst} on the target")
    if int(get("chunks")) < 2:
        why.append(f"L1's work verified {get('chunks')} chunks after it, expected 2")
    if get("work_rc", "-") != "0":
        why.append(f"L1's work ended with {get('work_rc', '-')}")
    ok = int(f["rc"]) == 0 and not why
    if int(f["rc"]) != 0 and not why:
        why.append(f"rc {f['rc']}")
    note = f"{get('mig_bytes')} bytes, {get('tries')} tries"
    return ("PASS" if ok else "FAIL"), "; ".join([note] + why)


def status_of(backend, test, f):
    """status_of_fields(), or a FAIL naming the field when the END line is
    not what init.sh prints (e.g. a kernel message written into its middle
    on the serial console): a row, never an exception that loses the boot."""
    try:
        return status_of_fields(backend, test, f)
    except (KeyError, ValueError) as e:
        return "FAIL", f.get("secs", "-"), 0, "-", f"unparsable END line ({e!r})", "-"


def status_of_fields(backend, test, f):
    """(status, guest seconds, L2 entries, module's L2 entries, note, GPAs
    rnvmx wrote to L1's PML buffers or "-").

    L2 entries come from KVM's kvm_nested_vmenter tracepoint, which both
    backends emit (entries that reached L2, testbed/init.sh tp_entries).
    The same event counted with perf_event_open (rnvmx_tpcount) must give
    the trace's number of kvm_nested_vmenter events."""
    rc, secs = int(f["rc"]), f["secs"]
    tp, rust_l2, rust_bind = int(f["tp_l2"]), int(f["rust_l2"]), int(f["rust_bind"])
    if test.startswith("qemu_migrate_"):
        status, note = migration_status(f)
        return status, secs, tp, rust_l2 if backend == "rust" else "-", note, "-"
    status = {0: "PASS", 4: "SKIP"}.get(rc, "FAIL")
    notes = []
    own = test.startswith("rnvmx_")
    if int(f["tp_overrun"]) > 0:
        status = "FAIL" if status == "PASS" else status
        notes.append(f"trace buffer overrun ({f['tp_overrun']} events lost)")
    elif not own and f["perf_vmenter"] != "-" and int(f["perf_vmenter"]) != int(f["tp_vmenter"]):
        # ("-": not counted with perf, e.g. tests inside L1, not L0's.)
        status = "FAIL" if status == "PASS" else status
        notes.append(f"perf counted {f['perf_vmenter']} kvm_nested_vmenter, "
                     f"the trace {f['tp_vmenter']}")
    if backend == "c":
        return status, secs, tp, "-", "; ".join(notes), "-"
    # A stock test counts for Rust only if Rust handled it: its VM was bound
    # to rnvmx, every kvm_nested_vmenter the trace shows is one rnvmx emitted
    # (an entry by the built-in code would make them differ), and entries
    # the trace shows reaching L2 are matched by rnvmx's own count of them
    # (which the trace's heuristic may exceed, never fall short of: an
    # entry failing its MSR list then followed by another counts there).
    # nested_state_blob_test: its count of the states it set (see below).
    restores = f.get("blob_sets", "-") != "-"
    if status == "PASS" and not own:
        rust_vmenter = int(f["rust_vmenter"])
        if rust_bind <= 0:
            status = "FAIL"
            notes.append("VM not bound to rnvmx")
        elif int(f["tp_vmenter"]) != rust_vmenter:
            status = "FAIL"
            notes.append(f"tracepoint shows {f['tp_vmenter']} kvm_nested_vmenter, "
                         f"rnvmx emitted {rust_vmenter}")
        elif restores and not tp <= rust_l2 <= rust_vmenter:
            # Entries into L2 by KVM_SET_NESTED_STATE are never run, and
            # the next state's failed check (kvm_nested_vmenter_failed, on
            # both backends) follows them: the trace's heuristic counts
            # fewer than reached L2, never more, and rnvmx no more than
            # the entries it emitted.
            status = "FAIL"
            notes.append(f"tracepoint shows {tp} L2 entries of {rust_vmenter}, "
                         f"rnvmx counted {rust_l2}")
        elif not restores and (rust_l2 > tp or (tp > 0) != (rust_l2 > 0)):
            status = "FAIL"
            notes.append(f"tracepoint shows {tp} L2 entries, rnvmx counted {rust_l2}")
    # nested_state_blob_test counts the KVM_SET_NESTED_STATE calls that got
    # past x86.c's checks: rnvmx must have handled each of them.
    sets = f.get("blob_sets", "-")
    if status == "PASS" and sets != "-" and f.get("rust_set_state") != sets:
        status = "FAIL"
        notes.append(f"{sets} KVM_SET_NESTED_STATE calls reached the backend, "
                     f"rnvmx handled {f.get('rust_set_state', '-')}")
    elif status == "PASS" and sets != "-":
        notes.append(f"rnvmx handled {sets} KVM_SET_NESTED_STATE calls")
    # eVMCS: L1's VMLAUNCH/VMRESUMEs through an eVMCS, eVMCS maps, entries
    # that kept vmcs02's MSR bitmap (enlightened MSR bitmap), L2 TLB flushes
    # L0 handled, synthetic exits after them.
    ev = f.get("rust_evmcs", "0/0/0/0/0")
    if ev.strip("0/"):
        notes.append("evmcs runs/maps/msr_bitmap_kept/l2_flushes/synthetic_exits " + ev)
    exits = f.get("rust_exits", "").rstrip("-").rstrip(",")
    if exits:
        notes.append("exits " + exits)
    pml = int(f.get("rust_pml", "0"))
    if pml:
        notes.append(f"{pml} GPAs to L1's PML buffer")
    return status, secs, tp, rust_l2, "; ".join(notes), pml


def bench_rows(backend, log):
    """(backend, bench, ops, cycles_per_op, note) for each benchmark line;
    cycles_per_op is in the line's unit (bench_unit()), cycles unless it says.

    A Rust number counts only if the run shows Rust did the work: its VM
    was bound to rnvmx and the module counted the operations."""
    rows = []
    for m in BENCH_RE.finditer(log):
        name, ops, cycles, unit, rc, bind, msr_writes, reflected = m.groups()[:8]
        counts = {"rust_msr_writes": msr_writes, "rust_l2_reflected": reflected or 0}
        counts.update(kv.split("=") for kv in m.group("more").split())
        # L2's I/O exits rnvmx kept for L0: at least its I/O exits less
        # every exit it reflected (whatever their reason).
        counts["rust_io_exits_l0"] = (int(counts.get("rust_io_exits", 0))
                                      - int(counts["rust_l2_reflected"]))
        if unit and unit != "cycles":
            BENCH_UNITS[name] = unit
        note = ""
        # What each benchmark's operations move in the module's counters.
        proof = BENCH_PROOF.get(name, ("rust_l2_reflected",) if name.startswith("l2_")
                                else ("rust_msr_writes",))
        done = min(int(counts.get(c, 0)) // n for c, n in
                   ((c, 1) if isinstance(c, str) else c for c in proof))
        if rc != "0":
            note = f"exit {rc}"
        elif name == BENCH_FLOOR:
            note = "floor"
        elif backend == "rust" and (int(bind) <= 0 or done < int(ops)):
            note = "not handled by rnvmx"
        rows.append((backend, name, int(ops), int(cycles), note))
    return rows


def bench_table(benches):
    """The printed benchmark table: C and Rust side by side, and each L2
    figure over twice the floor's on its backend (BENCH_FLOOR: what two
    single-level exits cost, the least a nested round trip costs; l2_io_l0,
    one exit L0 keeps, may come under it), with a "2x floor" line."""
    bench = {(r[0], r[1]): r for r in benches}
    floor = {b: bench.get((b, BENCH_FLOOR)) for b in ("c", "rust")}
    floor = {b: 2 * f[3] if bench_valid(f) and f[3] else None for b, f in floor.items()}

    def over_floor(x):
        if not bench_valid(x) or not floor[x[0]] or not x[1].startswith("l2_") \
                or bench_unit(x[1]) != "cycles":
            return "-"
        return f"{x[3] / floor[x[0]]:.2f}"

    lines = [f"{'benchmark (guest TSC cycles/op)':40} {'c':>10} {'rust':>10} {'rust/c':>7} "
             f"{'c/2fl':>6} {'rust/2fl':>8}  note"]
    for name in sorted({r[1] for r in benches}):
        c, r = bench.get(("c", name)), bench.get(("rust", name))
        ratio = f"{r[3] / c[3]:.2f}" if bench_valid(c) and bench_valid(r) and c[3] else "-"
        note = "; ".join(dict.fromkeys(x[4] for x in (c, r) if x and x[4]))
        # Another unit (bytes per vCPU): shown with the name.
        unit = bench_unit(name)
        label = name if unit == "cycles" else f"{name} ({unit}/op)"
        lines.append(f"{label:40} {c[3] if c else '-':>10} {r[3] if r else '-':>10} {ratio:>7} "
                     f"{over_floor(c):>6} {over_floor(r):>8}  {note}")
    if any(floor.values()):
        lines.append(f"{'2x floor (2 x ' + BENCH_FLOOR + ')':40} {floor['c'] or '-':>10} "
                     f"{floor['rust'] or '-':>10}")
    return lines


# Benchmarks whose number is not guest TSC cycles, by name: their unit
# ("bytes"), from their BENCH line's unit= field. Lower is better for all.
BENCH_UNITS = {}


def bench_unit(name):
    """The unit of a benchmark's cycles_per_op column: "cycles" or its unit=."""
    return BENCH_UNITS.get(name, "cycles")


def split_expected_hang(backend, hung, log):
    """(log before, log during) a hang that testbed/tests.txt expects for
    this backend; the whole log and "" otherwise."""
    expect = {t: (c, r) for t, c, r in read_tests()}.get(hung)
    if not hung or not expect or expect[0 if backend == "c" else 1] != "HANG":
        return log, ""
    marker = f"@@RNVMX-BEGIN test={hung}"
    i = log.rfind(marker)
    return (log, "") if i < 0 else (log[:i], log[i:])


def rfb_busy(boot):
    """Bochs gave up at once because its VNC-style display found no free
    port (5900-5949), e.g. while other emulators hold them: not a result."""
    out = boot.workdir / "bochs.out"
    return out.exists() and "RFB could not bind" in out.read_text(errors="replace")


def run_backend(backend, tests, outdir, rows, problems, lock, benches, ls):
    """run_boots(); an error of the harness itself becomes a problem and a
    FAIL row for each test left without one, so that --check names it."""
    try:
        run_boots(backend, tests, outdir, rows, problems, lock, benches, ls)
    except Exception as e:  # noqa: BLE001 - any error: reported, not lost
        traceback.print_exc()
        with lock:
            problems.append(f"{backend}: harness error: {e!r}")
            have = {r[1] for r in rows if r[0] == backend}
            for t in (list(OWN_TESTS) if backend == "rust" else []) + list(tests):
                if t not in have:
                    rows.append((backend, t, "FAIL", "-", 0, "-", f"harness error: {e!r}"))


def run_boots(backend, tests, outdir, rows, problems, lock, benches, ls):
    remaining = list(tests)
    n = 0
    # The Rust boots run the project's own tests first, until one boot has.
    own = backend == "rust" and OWN
    while remaining:
        n += 1
        boot = Boot(backend, remaining, outdir / f"{backend}-{n}", own).run()
        for _ in range(5):
            if not rfb_busy(boot):
                break
            time.sleep(10)
            boot = Boot(backend, remaining, outdir / f"{backend}-{n}", own).run()
        log = (boot.workdir / "serial.log").read_text(errors="replace")
        log, after_hang = split_expected_hang(backend, boot.hung, log)
        bad = kernel_log_problems(log)
        if after_hang:
            # What the kernel prints while a test hangs as expected (e.g. an
            # RCU stall report of the stuck vCPU thread) is the hang itself,
            # already in the table; shown, not counted again.
            print(f"[ab] {backend} boot {n}: {len(kernel_log_problems(after_hang))} kernel "
                  f"log reports during the expected HANG of {boot.hung} (not counted)")
        with lock:
            for fam, cases in lockstep.parse(log).items():
                ls.setdefault(backend, {}).setdefault(fam, {}).update(cases)
            # Each boot runs the benchmarks first (before the project's
            # own tests too): the first boot's count.
            if not any(b[0] == backend for b in benches):
                benches.extend(bench_rows(backend, log))
            problems.extend(f"{backend}-{n}: {b}" for b in bad)
            print(f"[ab] {backend} boot {n}: {len(boot.results)} results, "
                  f"{'done' if boot.done else 'hang: ' + str(boot.hung)}, "
                  f"{boot.wall:.0f}s wall", flush=True)
        order = list(OWN_TESTS) if own else []
        for t in order + remaining:
            if t in boot.results:
                rows.append((backend, t) + status_of(backend, t, boot.results[t]))
        if boot.done:
            break
        if boot.hung:
            limit = TIMEOUTS.get(boot.hung, TEST_TIMEOUT)
            rows.append((backend, boot.hung, "HANG", "-", 0, "-", f"no progress in {limit}s"))
            if own and boot.hung in OWN_TESTS:
                # The stock tests all still to run, without the own ones.
                own = False
                continue
            own = False
            idx = remaining.index(boot.hung) if boot.hung in remaining else -1
            remaining = remaining[idx + 1:] if idx >= 0 else []
            continue
        # The boot ended early (crash, or never reached the tests).
        with lock:
            problems.append(f"{backend}-{n}: boot ended before finishing")
        for t in remaining:
            if t not in boot.results:
                rows.append((backend, t, "FAIL", "-", 0, "-", "boot ended"))
        break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="c,rust")
    ap.add_argument("--tests", help="comma-separated subset of testbed/tests.txt")
    ap.add_argument("--lockstep", help="nested_lockstep_test's SEED,CASES,FIRST")
    ap.add_argument("--blobs", help="nested_state_blob_test's SEED,CASES,FIRST")
    ap.add_argument("--check", action="store_true",
                    help="fail unless the C backend meets testbed/tests.txt")
    args = ap.parse_args()
    global LOCKSTEP, BLOBS
    if args.lockstep:
        LOCKSTEP = args.lockstep
    if args.blobs:
        BLOBS = args.blobs

    catalogue = read_tests()
    tests = [t for t, _, _ in catalogue]
    if args.tests:
        tests = [t for t in tests if t in args.tests.split(",")]
    outdir = TOP / "out" / "runs"
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)

    rows, problems, benches, lock, ls = [], [], [], threading.Lock(), {}
    threads = [threading.Thread(target=run_backend,
                                args=(b, tests, outdir, rows, problems, lock, benches, ls))
               for b in args.backends.split(",")]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start

    order = {t: i for i, t in enumerate(list(OWN_TESTS) + tests)}
    rows.sort(key=lambda r: (order.get(r[1], 99), r[0]))
    # l2_entries: kvm_nested_vmenter tracepoint; module_l2_entries: rnvmx's
    # own counter (Rust rows), which must agree for a Rust PASS.
    header = ("backend", "test", "status", "guest_seconds", "l2_entries", "module_l2_entries")
    with open(TOP / "out" / "ab.tsv", "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r[:6]) + "\n")

    # The aligned table: one line per test, both backends side by side.
    by = {(r[0], r[1]): r for r in rows}
    names = sorted({r[1] for r in rows}, key=lambda t: order.get(t, 99))
    print(f"\n{'test':40} {'c':>5} {'c_s':>7} {'c_L2':>5}   {'rust':>5} {'rust_s':>7} {'rust_L2':>7}  note")
    for t in names:
        c, r = by.get(("c", t)), by.get(("rust", t))
        fmt = lambda x: (x[2], x[3], x[4]) if x else ("-", "-", "-")
        cs, rs = fmt(c), fmt(r)
        note = "; ".join(x[6] for x in (c, r) if x and x[6])
        print(f"{t:40} {cs[0]:>5} {cs[1]:>7} {cs[2]:>5}   {rs[0]:>5} {rs[1]:>7} {rs[2]:>7}  {note}")
    with open(TOP / "out" / "bench.tsv", "w") as f:
        f.write("backend\tbench\tops\tcycles_per_op\tnote\tunit\n")
        for r in sorted(benches):
            f.write("\t".join(str(x) for x in r + (bench_unit(r[1]),)) + "\n")
    # The picture: benchmarks side by side and the result grid.
    write_svg(TOP / "out" / "ab.tsv", TOP / "out" / "bench.tsv", TOP / "out" / "ab.svg")
    print(f"[ab] wrote {TOP / 'out' / 'ab.svg'}")
    bench = {(r[0], r[1]): r for r in benches}
    if benches:
        print()
        for line in bench_table(benches):
            print(line)
    print(f"\n[ab] wrote {TOP / 'out' / 'ab.tsv'} ({len(rows)} rows) in {wall:.0f}s wall; "
          f"serial logs in {outdir}")

    # Lockstep: the same seeded cases on both backends, compared case by case.
    ls_bad = False
    if "c" in ls and "rust" in ls:
        lines, ls_bad = lockstep.report(
            lockstep.compare(ls["c"], ls["rust"], lockstep.read_accepted()),
            {"blob": BLOBS, "blobmask": BLOBS, "blobtag": BLOBS, None: LOCKSTEP})
        print()
        for line in lines:
            print(f"[ab] {line}")

    failed = False
    if ls_bad and args.check:
        print("[ab] check: lockstep differences not in testbed/lockstep-accepted.txt")
        failed = True
    if problems:
        failed = True
        print("[ab] kernel log problems:")
        for p in problems:
            print("   ", p)
    if args.check:
        for t, expect_c, expect_rust in catalogue:
            if t not in tests:
                continue
            for backend, expect in (("c", expect_c), ("rust", expect_rust)):
                if backend not in args.backends.split(","):
                    continue
                got = by.get((backend, t))
                got = got[2] if got else "missing"
                # "n/a": this backend's boot does not run it.
                if expect == "n/a":
                    continue
                # "-": no expectation of the status yet, but the row must be
                # there (the test ran to an END, a HANG or a FAIL).
                if expect == "-" and got == "missing":
                    print(f"[ab] check: {backend} {t}: no result")
                    failed = True
                if expect in ("PASS", "SKIP", "HANG") and got != expect:
                    print(f"[ab] check: {backend} {t}: expected {expect}, got {got}")
                    failed = True
                # L2: a PASS that entered L2, as counted by the backend itself.
                row = by.get((backend, t), ())
                l2 = row[4] if len(row) > 4 else 0
                if expect in ("L2", "PML") and (got != "PASS" or not isinstance(l2, int) or l2 <= 0):
                    print(f"[ab] check: {backend} {t}: expected PASS with L2 entries, "
                          f"got {got} with {l2}")
                    failed = True
                # PML: and rnvmx wrote L2's dirty GPAs to L1's PML buffer.
                pml = row[7] if len(row) > 7 else 0
                if expect == "PML" and (not isinstance(pml, int) or pml <= 0):
                    print(f"[ab] check: {backend} {t}: expected GPAs logged to L1's "
                          f"PML buffer, got {pml}")
                    failed = True
        if "rust" in args.backends:
            for own in OWN_TESTS:
                row = by.get(("rust", own))
                if not row or row[2] != "PASS":
                    print(f"[ab] check: {own} did not pass")
                    failed = True
            # Benchmarks: Rust's number must be proven (see bench_rows) and
            # not above C's. The 1% allowance is the module's statistics
            # counter, one increment per operation, which is what proves the
            # work was Rust's (without it the two paths cost the same).
            limits = read_bench_limits()
            # Every benchmark testbed/benches.txt lists must have run.
            for name in sorted(set(limits) - {r[1] for r in benches}):
                print(f"[ab] check: benchmark {name}: no result (testbed/benches.txt lists it)")
                failed = True
            for name in sorted({r[1] for r in benches}):
                c, r = bench.get(("c", name)), bench.get(("rust", name))
                limit = limits.get(name)
                if not bench_valid(c) or not bench_valid(r):
                    print(f"[ab] check: benchmark {name}: no valid result for both backends")
                    failed = True
                elif limit is None:
                    print(f"[ab] check: benchmark {name} missing from testbed/benches.txt")
                    failed = True
                elif limit != "report" and r[3] > c[3] * float(limit):
                    print(f"[ab] check: benchmark {name}: rust {r[3]} > c {c[3]} cycles/op "
                          f"(limit {limit}x)")
                    failed = True
            missing = [t for t in tests if ("rust", t) not in by]
            if missing:
                print(f"[ab] check: no rust row for {missing}")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
