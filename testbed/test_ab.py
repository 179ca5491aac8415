#!/usr/bin/env python3
"""Unit tests of testbed/ab.py's judgement: kernel-log filtering and the
rule that a test counts for Rust only if Rust handled it."""
import contextlib
import io
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ab  # noqa: E402

TOPOLOGY = ("WARNING: CPU: 0 PID: 0 at ../linux/arch/x86/kernel/cpu/topology_common.c:57 "
            "parse_topology+0x212/0x220")
XSTATE = ("WARNING: CPU: 0 PID: 0 at ../linux/arch/x86/kernel/fpu/xstate.c:606 "
          "paranoid_xstate_size_valid+0xfa/0x130")


def report(warn, ts="[    0.1]"):
    return "\n".join([f"{ts} ------------[ cut here ]------------", f"{ts} {warn}",
                      f"{ts} Modules linked in:", f"{ts} Call Trace:", f"{ts}  <TASK>",
                      f"{ts} ---[ end trace 0000000000000000 ]---"])


class KernelLog(unittest.TestCase):
    def test_known_boot_warns_are_excused(self):
        log = report(TOPOLOGY) + "\nboot ok\n" + report(XSTATE)
        self.assertEqual(ab.kernel_log_problems(log), [])

    def test_known_warn_only_once(self):
        self.assertEqual(ab.kernel_log_problems(report(TOPOLOGY) + "\n" + report(TOPOLOGY)), [TOPOLOGY])

    def test_other_warn_fails(self):
        warn = "WARNING: CPU: 0 PID: 77 at arch/x86/kvm/vmx/nested.c:4990 nested_vmx_vmexit+0x1/0x2"
        self.assertEqual(ab.kernel_log_problems(report(warn)), [warn])

    def test_known_warn_at_other_offset_fails(self):
        warn = TOPOLOGY.replace("0x212", "0x213")
        self.assertEqual(ab.kernel_log_problems(report(warn)), [warn])

    def test_oops_bug_panic_fail(self):
        for line in ["BUG: kernel NULL pointer dereference, address: 0000000000000000",
                     "Oops: Oops: 0000 [#1] SMP", "Kernel panic - not syncing: Fatal exception",
                     "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"]:
            self.assertEqual(len(ab.kernel_log_problems(f"[  1.0] {line}")), 1, line)

    def test_test_output_is_not_kernel_log(self):
        self.assertEqual(ab.kernel_log_problems("| WARNING: from a selftest\n@@RNVMX-END test=x"), [])


class Status(unittest.TestCase):
    def fields(self, rc, tp=0, rust_l2=0, bind=0, vmenter=None, perf=None, overrun=0,
               rust_vmenter=None, **extra):
        vmenter = tp if vmenter is None else vmenter
        f = {"rc": str(rc), "secs": "0.50", "tp_l2": str(tp), "tp_vmenter": str(vmenter),
             "perf_vmenter": str(vmenter if perf is None else perf), "tp_overrun": str(overrun),
             "rust_l2": str(rust_l2), "rust_bind": str(bind),
             "rust_vmenter": str(vmenter if rust_vmenter is None else rust_vmenter)}
        f.update(extra)
        return f

    def test_c(self):
        self.assertEqual(ab.status_of("c", "t", self.fields(0, tp=3))[:3], ("PASS", "0.50", 3))
        self.assertEqual(ab.status_of("c", "t", self.fields(4))[0], "SKIP")
        self.assertEqual(ab.status_of("c", "t", self.fields(1))[0], "FAIL")

    def test_rust_pass_needs_binding(self):
        self.assertEqual(ab.status_of("rust", "t", self.fields(0, tp=2, rust_l2=2, bind=1))[:4],
                         ("PASS", "0.50", 2, 2))
        self.assertEqual(ab.status_of("rust", "t", self.fields(0, tp=2, rust_l2=2, bind=0))[0], "FAIL")

    def test_rust_pass_needs_tracepoint_to_agree_with_module(self):
        # An entry event rnvmx did not emit (the built-in code's) fails the row.
        r = ab.status_of("rust", "t", self.fields(0, tp=2, rust_l2=2, bind=1, vmenter=3, rust_vmenter=2))
        self.assertEqual(r[0], "FAIL")
        self.assertIn("tracepoint shows 3 kvm_nested_vmenter, rnvmx emitted 2", r[4])
        # rnvmx counting more entries into L2 than the trace shows, or none.
        r = ab.status_of("rust", "t", self.fields(0, tp=2, rust_l2=3, bind=1))
        self.assertEqual(r[0], "FAIL")
        self.assertIn("tracepoint shows 2 L2 entries", r[4])
        self.assertEqual(ab.status_of("rust", "t", self.fields(0, tp=1, rust_l2=0, bind=1))[0], "FAIL")
        self.assertEqual(ab.status_of("rust", "t", self.fields(0, tp=0, rust_l2=1, bind=1))[0], "FAIL")
        # The trace's heuristic counting an MSR-load failure as an entry.
        self.assertEqual(ab.status_of("rust", "t", self.fields(0, tp=2, rust_l2=1, bind=1))[0], "PASS")

    def test_perf_count_must_match_trace(self):
        for backend in ("c", "rust"):
            r = ab.status_of(backend, "t", self.fields(0, tp=1, rust_l2=1, bind=1, vmenter=2, perf=1))
            self.assertEqual(r[0], "FAIL", backend)
            self.assertIn("perf counted 1", r[4])

    def test_trace_overrun_fails(self):
        self.assertEqual(ab.status_of("c", "t", self.fields(0, tp=1, overrun=5))[0], "FAIL")

    def test_rust_exits_by_reason_in_note(self):
        f = self.fields(0, tp=1, rust_l2=1, bind=1, rust_exits="18:2,30:1,-")
        self.assertEqual(ab.status_of("rust", "t", f)[4], "exits 18:2,30:1")

    def test_evmcs_counters_in_note(self):
        f = self.fields(0, tp=1, rust_l2=1, bind=1, rust_evmcs="12/5/2/2/1")
        self.assertIn("evmcs runs/maps/msr_bitmap_kept/l2_flushes/synthetic_exits 12/5/2/2/1",
                      ab.status_of("rust", "t", f)[4])
        none = self.fields(0, tp=1, rust_l2=1, bind=1, rust_evmcs="0/0/0/0/0")
        self.assertNotIn("evmcs", ab.status_of("rust", "t", none)[4])

    def test_blob_sets_must_all_be_rnvmx_s(self):
        # nested_state_blob_test's count of KVM_SET_NESTED_STATE calls that
        # reached the backend, against rnvmx's set_nested_state counter.
        ok = self.fields(0, tp=1, rust_l2=1, bind=1, blob_sets="40", rust_set_state="40")
        self.assertEqual(ab.status_of("rust", "t", ok)[0], "PASS")
        short = self.fields(0, tp=1, rust_l2=1, bind=1, blob_sets="40", rust_set_state="39")
        r = ab.status_of("rust", "t", short)
        self.assertEqual(r[0], "FAIL")
        self.assertIn("rnvmx handled 39", r[4])
        # Its entries into L2 by the states it sets never run: the trace's
        # count may fall short of rnvmx's, which its vmenter events bound.
        more = self.fields(0, tp=10, rust_l2=12, bind=1, vmenter=12,
                           blob_sets="40", rust_set_state="40")
        self.assertEqual(ab.status_of("rust", "t", more)[0], "PASS")
        over = self.fields(0, tp=10, rust_l2=13, bind=1, vmenter=12,
                           blob_sets="40", rust_set_state="40")
        self.assertEqual(ab.status_of("rust", "t", over)[0], "FAIL")
        under = self.fields(0, tp=10, rust_l2=9, bind=1, vmenter=12,
                            blob_sets="40", rust_set_state="40")
        self.assertEqual(ab.status_of("rust", "t", under)[0], "FAIL")
        # Other tests print no count ("-"); the C row is not judged by it.
        self.assertEqual(ab.status_of("rust", "t", self.fields(
            0, tp=1, rust_l2=1, bind=1, blob_sets="-", rust_set_state="0"))[0], "PASS")
        self.assertEqual(ab.status_of("c", "t", self.fields(0, blob_sets="40",
                                                            rust_set_state="0"))[0], "PASS")

    def test_end_line_parses(self):
        m = ab.END_RE.search("@@RNVMX-END test=t rc=0 secs=0.1 tp_l2=1 tp_vmenter=1 perf_vmenter=1 "
                             "tp_overrun=0 rust_l2=1 rust_vmenter=1 rust_bind=1 rust_msr_writes=0 "
                             "rust_exits=18:1,-")
        f = ab.end_fields(m)
        self.assertEqual((m.group(1), f["rust_exits"], f["tp_l2"]), ("t", "18:1,-", "1"))
        # A line cut short by a hang is not a result.
        self.assertIsNone(ab.end_fields(ab.END_RE.search("@@RNVMX-END test=t rc=0 secs=0.1 tp_l2=1")))

    def test_garbled_end_line_is_a_fail_row(self):
        # A kernel message written into an END line on the serial console:
        # a FAIL naming the line, not an exception that loses the boot's rows.
        m = ab.END_RE.search("@@RNVMX-END test=t rc=0 secs=0.1 tp_l2=1 tp_vmenter=1 perf_vmenter=1 "
                             "tp_overrun=0 rust_l2=1 rust_vmenter=1[ rust_bind=1 rust_msr_writes=0")
        f = ab.end_fields(m)
        status = ab.status_of("rust", "t", f)
        self.assertEqual(status[0], "FAIL")
        self.assertIn("unparsable END line", status[4])

    def test_harness_error_becomes_rows_and_a_problem(self):
        rows, problems = [], []
        orig = ab.run_boots

        def broken(*_args):
            raise OSError(28, "No space left on device")
        ab.run_boots = broken
        try:
            with contextlib.redirect_stderr(io.StringIO()):   # the traceback
                ab.run_backend("rust", ["a", "b"], Path("/nonexistent"), rows, problems,
                               ab.threading.Lock(), [], {})
        finally:
            ab.run_boots = orig
        self.assertEqual({r[1] for r in rows}, set(ab.OWN_TESTS) | {"a", "b"})
        self.assertTrue(all(r[2] == "FAIL" and "harness error" in r[6] for r in rows))
        self.assertEqual(len(problems), 1)
        self.assertIn("No space left", problems[0])

    def test_hang_in_own_test_keeps_the_stock_tests(self):
        # A hang in one of the project's own tests (first in a Rust boot)
        # must not lose the stock tests: the next boot runs them all,
        # without the own tests.
        import tempfile
        END = ("@@RNVMX-END test={} rc=0 secs=0.1 tp_l2=1 tp_vmenter=1 perf_vmenter=1 "
               "tp_overrun=0 rust_l2=1 rust_vmenter=1 rust_bind=1 rust_msr_writes=0")
        boots = []

        class FakeBoot:
            def __init__(self, backend, tests, workdir, own=True):
                self.backend, self.tests, self.workdir, self.own = backend, tests, workdir, own
                self.wall = 0.0
                boots.append(self)

            def run(self):
                self.workdir.mkdir(parents=True, exist_ok=True)
                if self.own:
                    done = list(ab.OWN_TESTS[:3])
                    self.hung, self.done = "rnvmx_migrate", False
                else:
                    done = list(self.tests)
                    self.hung, self.done = None, True
                self.results = {t: ab.end_fields(ab.END_RE.search(END.format(t))) for t in done}
                (self.workdir / "serial.log").write_text("\n".join(END.format(t) for t in done))
                return self

        orig = ab.Boot
        ab.Boot = FakeBoot
        rows, problems = [], []
        try:
            with tempfile.TemporaryDirectory() as d:
                with contextlib.redirect_stdout(io.StringIO()):   # its per-boot lines
                    ab.run_boots("rust", ["a", "b"], Path(d), rows, problems,
                                 ab.threading.Lock(), [], {})
        finally:
            ab.Boot = orig
        self.assertEqual([b.own for b in boots], [True, False])
        self.assertEqual(boots[1].tests, ["a", "b"])
        got = {r[1]: r[2] for r in rows}
        self.assertEqual(got["rnvmx_migrate"], "HANG")
        self.assertEqual((got["a"], got["b"], got["rnvmx_lifecycle"]), ("PASS", "PASS", "PASS"))
        self.assertEqual(problems, [])

    def test_every_benchmark_has_a_limit(self):
        limits = ab.read_bench_limits()
        # A gate never lets Rust cost more than C, and only the floor (no
        # backend in it) is not gated; the goals are stricter for some.
        for name, v in limits.items():
            self.assertTrue(v != "report" or name == ab.BENCH_FLOOR, name)
            self.assertTrue(v == "report" or 0.0 < float(v) <= 1.00, v)
        for name in ("l2_vmcall_roundtrip", "l2_cpuid_roundtrip"):
            self.assertTrue(limits[name] == "report" or float(limits[name]) <= 0.90, name)

    def test_reports_during_an_expected_hang_are_split_off(self):
        # A catalogue where C is expected to hang in one test.
        saved = ab.read_tests
        ab.read_tests = lambda: [("hang_test", "HANG", "-"), ("state_test", "PASS", "-")]
        try:
            log = "ok\n@@RNVMX-BEGIN test=hang_test\nrcu: stall\nCall Trace:\n"
            before, during = ab.split_expected_hang("c", "hang_test", log)
            self.assertEqual(before, "ok\n")
            self.assertIn("Call Trace:", during)
            # Not expected to hang on Rust, nor for another test: nothing split.
            self.assertEqual(ab.split_expected_hang("rust", "hang_test", log), (log, ""))
            self.assertEqual(ab.split_expected_hang("c", "state_test", log), (log, ""))
        finally:
            ab.read_tests = saved

    def test_project_tests_judge_themselves(self):
        self.assertEqual(ab.status_of("rust", "rnvmx_lifecycle", self.fields(0))[0], "PASS")

    def migration(self, rc=0, **kw):
        """A qemu_migrate_ row's END fields (testbed/migrate.sh), C->Rust."""
        f = self.fields(rc, tp=40, rust_l2=30, bind=1, rust_vmenter=30, rust_saves_l2=0,
                        rust_restores_l2=1, tp_vmenter_src=10, tp_vmenter_dst=30,
                        mig="completed", target="running", chunks=2, from_rust=0,
                        to_rust=1, work_rc=0, mig_bytes=1000, tries=1)
        f.update({k: str(v) for k, v in kw.items()})
        return {k: str(v) for k, v in f.items()}

    def test_migration_proven(self):
        self.assertEqual(ab.status_of("rust", "qemu_migrate_c_to_rust", self.migration())[0], "PASS")
        # Rust->C: rnvmx saved L2, emitted the source's entries, the target's none.
        f = self.migration(rust_bind=0, rust_saves_l2=1, rust_restores_l2=0, from_rust=1, to_rust=0,
                           rust_vmenter=10, rust_l2=10)
        self.assertEqual(ab.status_of("rust", "qemu_migrate_rust_to_c", f)[0], "PASS")

    def test_migration_needs_each_proof(self):
        for bad in ({"rc": 1}, {"mig": "failed"}, {"target": "stopped"}, {"rust_bind": 0},
                    {"rust_restores_l2": 0}, {"rust_l2": 0}, {"tp_vmenter_dst": 0},
                    {"rust_vmenter": 40}, {"chunks": 1}, {"work_rc": 1}):
            with self.subTest(bad=bad):
                f = self.migration(**bad)
                self.assertEqual(ab.status_of("rust", "qemu_migrate_c_to_rust", f)[0], "FAIL")
        # From Rust: rnvmx must have saved a state with L2 running.
        f = self.migration(from_rust=1, rust_saves_l2=0, rust_vmenter=40)
        self.assertEqual(ab.status_of("rust", "qemu_migrate_rust_to_rust", f)[0], "FAIL")
        f["rust_saves_l2"] = "1"
        self.assertEqual(ab.status_of("rust", "qemu_migrate_rust_to_rust", f)[0], "PASS")


if __name__ == "__main__":
    unittest.main()


class Bench(unittest.TestCase):
    LINE = "@@RNVMX-BENCH name=vmx_msrs_restore ops=24000 cycles_per_op={c} rc={rc} rust_bind={b} rust_msr_writes={w}"

    def test_c_number(self):
        rows = ab.bench_rows("c", self.LINE.format(c=199, rc=0, b=0, w=0))
        self.assertEqual(rows, [("c", "vmx_msrs_restore", 24000, 199, "")])

    def test_rust_number_needs_proof(self):
        ok = ab.bench_rows("rust", self.LINE.format(c=200, rc=0, b=1, w=24012))
        self.assertEqual(ok[0][4], "")
        for bind, writes in ((0, 24012), (1, 100)):
            rows = ab.bench_rows("rust", self.LINE.format(c=200, rc=0, b=bind, w=writes))
            self.assertEqual(rows[0][4], "not handled by rnvmx")

    def test_failed_run(self):
        self.assertEqual(ab.bench_rows("c", self.LINE.format(c=1, rc=1, b=0, w=0))[0][4], "exit 1")

    # A line of init.sh's run_bench with the counters it adds since the
    # nested-state and memory benchmarks (older lines lack the last four).
    MORE = ("@@RNVMX-BENCH name={n} ops=10 cycles_per_op=500{u} rc=0 rust_bind=1 rust_msr_writes=0 "
            "rust_l2_reflected={r} rust_l2={e} rust_ept_faults={f} rust_set_state={s} "
            "rust_restores_l2={s2} ")

    def more(self, n, u="", r=0, e=0, f=0, s=0, s2=0, backend="rust"):
        return ab.bench_rows(backend, self.MORE.format(n=n, u=u, r=r, e=e, f=f, s=s, s2=s2))[0]

    def test_older_l2_lines_still_parse(self):
        old = "@@RNVMX-BENCH name=l2_x ops=5 cycles_per_op=9 rc=0 rust_bind=1 rust_msr_writes=0"
        self.assertEqual(ab.bench_rows("rust", old), [("rust", "l2_x", 5, 9, "not handled by rnvmx")])
        self.assertEqual(ab.bench_rows("rust", old + " rust_l2_reflected=5")[0][4], "")

    def test_each_benchmark_proven_by_its_counters(self):
        # l2_*: the reflected exits; the EPT benchmark: the EPT faults sent to
        # L1 (not counted as reflected) and the entries after them.
        self.assertEqual(self.more("l2_vmptrld_switch", r=10)[4], "")
        self.assertEqual(self.more("l2_ept_fault_pages", r=2, e=12)[4], "not handled by rnvmx")
        self.assertEqual(self.more("l2_ept_fault_pages", r=2, e=12, f=10)[4], "")
        # Nested state: every set counted and each restored L2.
        self.assertEqual(self.more("nested_state_get_set", r=10, s=10)[4], "not handled by rnvmx")
        self.assertEqual(self.more("nested_state_get_set", s=10, s2=10)[4], "")
        # Memory: each vCPU entered L2 and its VMCALL was reflected.
        self.assertEqual(self.more("vcpu_vmx_memory", u=" unit=bytes", e=10)[4],
                         "not handled by rnvmx")
        self.assertEqual(self.more("vcpu_vmx_memory", u=" unit=bytes", e=10, r=10)[4], "")
        self.assertEqual(self.more("vcpu_vmx_memory", u=" unit=bytes", backend="c")[4], "")

    def test_unit(self):
        row = self.more("vcpu_vmx_memory", u=" unit=bytes", e=10, r=10)
        self.assertEqual(row[3], 500)
        self.assertEqual(ab.bench_unit("vcpu_vmx_memory"), "bytes")
        self.assertEqual(ab.bench_unit("l2_vmcall_roundtrip"), "cycles")
        # A negative difference (less memory in VMX operation) still parses.
        neg = self.MORE.format(n="vcpu_vmx_memory", u=" unit=bytes", r=10, e=10, f=0, s=0, s2=0)
        self.assertEqual(ab.bench_rows("c", neg.replace("=500", "=-12"))[0][3], -12)


class ExitBench(unittest.TestCase):
    """The exit benchmarks' proofs (selftests/kvm/rnvmx_bench_l1_vmcall.c,
    _l2_cpuid, _l2_io_*, _l2_vmrw*) and the floor."""
    LINE = ("@@RNVMX-BENCH name={n} ops=500 cycles_per_op={cy} rc={rc} rust_bind={b} "
            "rust_msr_writes=0 rust_l2_reflected={r} rust_l2=0 rust_ept_faults=0 "
            "rust_set_state=0 rust_restores_l2=0 rust_insns={i} rust_cpuid_exits={cpuid} "
            "rust_io_exits={io} ")

    def note(self, n, backend="rust", cy=100, rc=0, b=1, r=0, i=0, cpuid=0, io=0):
        line = self.LINE.format(n=n, cy=cy, rc=rc, b=b, r=r, i=i, cpuid=cpuid, io=io)
        return ab.bench_rows(backend, line)[0][4]

    def test_cpuid_needs_its_exits_reflected(self):
        self.assertEqual(self.note("l2_cpuid_roundtrip", r=501), "not handled by rnvmx")
        self.assertEqual(self.note("l2_cpuid_roundtrip", r=501, cpuid=501), "")
        self.assertEqual(self.note("l2_cpuid_roundtrip", r=501, cpuid=501, b=0), "not handled by rnvmx")
        self.assertEqual(self.note("l2_cpuid_roundtrip", backend="c"), "")

    def test_io_reflected_and_kept_for_l0(self):
        self.assertEqual(self.note("l2_io_reflected", io=501), "not handled by rnvmx")
        self.assertEqual(self.note("l2_io_reflected", io=501, r=501), "")
        # Kept for L0: the I/O exits reached rnvmx and were not reflected.
        self.assertEqual(self.note("l2_io_l0", io=501, r=1), "")
        self.assertEqual(self.note("l2_io_l0", io=501, r=501), "not handled by rnvmx")
        self.assertEqual(self.note("l2_io_l0", io=10, r=1), "not handled by rnvmx")

    def test_vmrw_needs_emulated_instructions(self):
        self.assertEqual(self.note("l2_vmrw_roundtrip", r=501), "not handled by rnvmx")
        self.assertEqual(self.note("l2_vmrw_roundtrip", r=501, i=2000), "")
        # Without shadowing: 17 VMREAD/VMWRITEs per op emulated, not 4.
        self.assertEqual(self.note("l2_vmrw_roundtrip_noshadow", r=501, i=2000),
                         "not handled by rnvmx")
        self.assertEqual(self.note("l2_vmrw_roundtrip_noshadow", r=501, i=10000), "")

    def test_every_proof_counter_is_printed_by_init(self):
        # init.sh's run_bench prints rust_msr_writes, rust_l2_reflected and
        # BENCH_MORE's; bench_rows derives rust_io_exits_l0.
        text = (ab.TOP / "testbed" / "init.sh").read_text()
        printed = {"rust_msr_writes", "rust_l2_reflected", "rust_io_exits_l0"}
        for line in text.splitlines():
            if line.startswith("BENCH_MORE="):
                printed.update(re.findall(r":(rust_\w+)", line))
        for name, proof in ab.BENCH_PROOF.items():
            for c in proof:
                self.assertIn(c if isinstance(c, str) else c[0], printed, name)

    def test_floor_needs_no_proof(self):
        self.assertEqual(self.note("l1_vmcall_roundtrip", b=0), "floor")
        self.assertEqual(self.note("l1_vmcall_roundtrip", backend="c"), "floor")
        self.assertEqual(self.note("l1_vmcall_roundtrip", rc=1), "exit 1")
        self.assertTrue(ab.bench_valid(("rust", "l1_vmcall_roundtrip", 500, 9, "floor")))
        self.assertFalse(ab.bench_valid(("rust", "l2_x", 500, 9, "not handled by rnvmx")))
        self.assertFalse(ab.bench_valid(None))

    def test_table_against_twice_the_floor(self):
        benches = [("c", "l1_vmcall_roundtrip", 500, 4000, "floor"),
                   ("rust", "l1_vmcall_roundtrip", 500, 5000, "floor"),
                   ("c", "l2_cpuid_roundtrip", 500, 12000, ""),
                   ("rust", "l2_cpuid_roundtrip", 500, 15000, ""),
                   ("c", "l2_io_l0", 500, 6000, ""),
                   ("rust", "l2_io_l0", 500, 7000, "not handled by rnvmx"),
                   ("c", "vmx_msrs_restore", 24000, 199, ""),
                   ("rust", "vmx_msrs_restore", 24000, 200, "")]
        lines = ab.bench_table(benches)
        self.assertIn("rust/2fl", lines[0])
        row = {line.split()[0]: line.split() for line in lines[1:]}
        # cycles c rust rust/c c/2fl rust/2fl
        self.assertEqual(row["l2_cpuid_roundtrip"][1:6], ["12000", "15000", "1.25", "1.50", "1.50"])
        self.assertEqual(row["l1_vmcall_roundtrip"][3:6], ["1.25", "-", "-"])
        self.assertEqual(row["l2_io_l0"][3:6], ["-", "0.75", "-"])
        # Only L2's figures are measured against the floor; its note once.
        self.assertEqual(row["vmx_msrs_restore"][3:6], ["1.01", "-", "-"])
        self.assertEqual(row["l1_vmcall_roundtrip"][6:], ["floor"])
        self.assertEqual(lines[-1].split()[-2:], ["8000", "10000"])
        self.assertTrue(lines[-1].startswith("2x floor"))
        # Without a floor: no line, no ratios to it.
        lines = ab.bench_table(benches[2:4])
        self.assertFalse(lines[-1].startswith("2x floor"))
        self.assertEqual(lines[1].split()[4:6], ["-", "-"])


class TraceEntries(unittest.TestCase):
    """testbed/tp-entries.awk, run by the guest's busybox awk; here by awk."""
    TRACE = ("# tracer: nop\n"
             " a-1 [000] 1.0: kvm_nested_vmenter: rip 1\n"
             " b-2 [000] 1.1: kvm_nested_vmenter: rip 2\n"
             " a-1 [000] 1.2: kvm_nested_vmexit: vcpu 0\n"
             " b-2 [000] 1.3: kvm_nested_vmenter_failed: !kvm_vcpu_is_legal_cr3(vcpu, cr3)\n"
             " b-2 [000] 1.4: kvm_nested_vmenter: rip 2\n"
             " b-2 [000] 1.5: kvm_nested_vmexit_inject: reason 18\n"
             " a-1 [000] 1.6: kvm_nested_vmenter: rip 1\n")

    def count(self, *args):
        import subprocess
        return subprocess.run(["awk", *args, "-f", str(ab.TOP / "testbed" / "tp-entries.awk")],
                              input=self.TRACE, capture_output=True, text=True, check=True).stdout

    def test_entries_that_reached_l2(self):
        # a: one entry exited, the last shows nothing after it (as an entry
        # that ends in a KVM internal error); b: one failed, one exited.
        self.assertEqual(self.count(), "tp_l2=2 tp_vmenter=4")

    def test_by_thread_name(self):
        self.assertEqual(self.count("-v", "comm=b"), "tp_l2=1 tp_vmenter=2")

    def test_forced_exit_then_entry(self):
        # Into SMM from L2 (no event) and back (RSM), then an exit: two entries.
        trace = (" a-1 [000] 1.0: kvm_nested_vmenter: x\n a-1 [000] 2.0: kvm_nested_vmenter: y\n"
                 " a-1 [000] 3.0: kvm_nested_vmexit: z\n")
        import subprocess
        out = subprocess.run(["awk", "-f", str(ab.TOP / "testbed" / "tp-entries.awk")],
                             input=trace, capture_output=True, text=True, check=True).stdout
        self.assertEqual(out, "tp_l2=2 tp_vmenter=2")


class Timeouts(unittest.TestCase):
    def test_preemption_timer_test_gets_longer(self):
        self.assertGreater(ab.TIMEOUTS["vmx_preemption_timer_test"], ab.TEST_TIMEOUT)
        self.assertNotIn("vmx_tsc_adjust_test", ab.TIMEOUTS)


class L1Lines(unittest.TestCase):
    def test_l1_boot_is_not_an_l0_reboot(self):
        log = "Linux version 6.12\n@@RNVMX-BOOT\n@L1 Linux version 6.12\n@L1 Kernel panic - x\n"
        self.assertEqual(len(ab.L0_BOOT.findall(log)), 1)
        self.assertIsNone(ab.L0_PANIC.search(log))
        self.assertEqual(len(ab.L0_BOOT.findall(log + "[    0.0] Linux version 6.12\n")), 2)

    def test_l1_kernel_log_is_judged_on_its_own(self):
        warn = ("@L1 ------------[ cut here ]------------\n@L1 WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\n"
                "@L1 ---[ end trace 0000000000000000 ]---\n")
        self.assertEqual(ab.kernel_log_problems(warn), ["L1: WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2"])
