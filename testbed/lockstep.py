# SPDX-License-Identifier: GPL-2.0
"""Lockstep comparison of nested_lockstep_test's per-case results
(selftests/kvm/nested_lockstep_test.c), and of nested_state_blob_test's
(family "blob", selftests/kvm/nested_state_blob_test.c), between the C and
the Rust backend.

Each boot prints, per batch of cases,
    @@RNVMX-LS family=F first=N hashes=H,H,...
one hash per case of what L1 observed. The same seed runs on both backends;
a case whose hashes differ is a divergence, unless testbed/lockstep-accepted.txt
lists it (family, case, reason)."""
import re
from pathlib import Path

LS_RE = re.compile(r"^@@RNVMX-LS family=(\w+) first=(\d+) hashes=([0-9a-f,]*)\s*$", re.M)
ACCEPTED = Path(__file__).resolve().parent / "lockstep-accepted.txt"


def parse(log):
    """{family: {case: hash}} from a boot's serial log."""
    out = {}
    for fam, first, hashes in LS_RE.findall(log):
        cases = out.setdefault(fam, {})
        for i, h in enumerate(x for x in hashes.split(",") if x):
            cases[int(first) + i] = h
    return out


def read_accepted(path=ACCEPTED):
    """{(family, case): reason} from the accepted list ("family case reason")."""
    acc = {}
    if not path.exists():
        return acc
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fam, case, *reason = line.split()
        acc[(fam, int(case))] = " ".join(reason)
    return acc


def compare(c, rust, accepted):
    """Per family (cases compared, [(case, c_hash, rust_hash, reason or None)]).
    A case only one backend reported counts as a difference too."""
    result = {}
    for fam in sorted(set(c) | set(rust)):
        a, b = c.get(fam, {}), rust.get(fam, {})
        diffs = []
        for case in sorted(set(a) | set(b)):
            if a.get(case) != b.get(case):
                diffs.append((case, a.get(case, "-"), b.get(case, "-"), accepted.get((fam, case))))
        result[fam] = (len(set(a) & set(b)), diffs)
    return result


# Per family, the make target and variable that run one case again (the
# lockstep families: make lockstep LOCKSTEP=...).
REPRODUCE = {"blob": "blobs BLOBS"}


def report(result, seed_spec):
    """Lines for the A/B output; and whether a difference is unexplained.
    seed_spec: the run's SEED,CASES,FIRST, or {family: spec} with the key
    None for the families not named."""
    specs = seed_spec if isinstance(seed_spec, dict) else {None: seed_spec}
    lines, bad = [], False
    for fam, (n, diffs) in result.items():
        unexplained = [d for d in diffs if d[3] is None]
        bad = bad or bool(unexplained)
        lines.append(f"lockstep {fam}: {n} cases compared, {len(diffs)} differ "
                     f"({len(unexplained)} unexplained)")
        seed = specs.get(fam, specs.get(None, "1")).split(",")[0]
        target = REPRODUCE.get(fam, "lockstep LOCKSTEP")
        for case, h1, h2, reason in diffs[:20]:
            what = f"accepted: {reason}" if reason else \
                f"reproduce: make {target}={seed},1,{case}"
            lines.append(f"  {fam} case {case}: c {h1} rust {h2}; {what}")
        if len(diffs) > 20:
            lines.append(f"  ... {len(diffs) - 20} more")
    return lines, bad
