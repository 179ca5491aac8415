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
    """{(family, case): reason} from the accepted list ("family case reason");
    case "tag:N" accepts a class of cases (see class_reason)."""
    acc = {}
    if not path.exists():
        return acc
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fam, case, *reason = line.split()
        acc[(fam, case if case.startswith("tag:") else int(case))] = " ".join(reason)
    return acc


def class_reason(fam, case, c, rust, accepted):
    """A difference of family F accepted by class: both backends tag the
    case alike (family Ftag, a bit mask the test computes from what both
    saw), the accepted list names one of its bits ("F tag:BIT reason"), and
    the case's hash without that known difference (family Fmask) agrees."""
    tags, masks = fam + "tag", fam + "mask"
    t = c.get(tags, {}).get(case)
    if t is None or t != rust.get(tags, {}).get(case):
        return None
    m = c.get(masks, {}).get(case)
    if m is None or m != rust.get(masks, {}).get(case):
        return None
    bits = int(t, 16)
    reasons = [r for (f, k), r in sorted(accepted.items(), key=str)
               if f == fam and isinstance(k, str) and bits & int(k[4:], 0)]
    return "; ".join(reasons) or None


def compare(c, rust, accepted):
    """Per family (cases compared, [(case, c_hash, rust_hash, reason or None)]).
    A case only one backend reported counts as a difference too."""
    result = {}
    for fam in sorted(set(c) | set(rust)):
        a, b = c.get(fam, {}), rust.get(fam, {})
        diffs = []
        for case in sorted(set(a) | set(b)):
            if a.get(case) != b.get(case):
                reason = accepted.get((fam, case)) or class_reason(fam, case, c, rust, accepted)
                diffs.append((case, a.get(case, "-"), b.get(case, "-"), reason))
        result[fam] = (len(set(a) & set(b)), diffs)
    return result


# Per family, the make target and variable that run one case again (the
# lockstep families: make lockstep LOCKSTEP=...).
REPRODUCE = {"blob": "blobs BLOBS", "blobmask": "blobs BLOBS", "blobtag": "blobs BLOBS"}


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
