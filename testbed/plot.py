#!/usr/bin/env python3
"""Draw out/ab.tsv and out/bench.tsv (written by testbed/ab.py) as one SVG.

Top panel: each benchmark as a pair of bars, C and Rust, normalised so that
C = 1.0 (benchmarks differ by orders of magnitude), with the absolute
cycles/op (bytes/op where bench.tsv's unit column says bytes) printed on the
bars and the Rust/C ratio in the benchmark's label.
A number with a note is not valid for that backend: its bar is greyed and
hatched and the note is printed next to it.

Bottom panel: one row per test (in the order of ab.tsv), one column per
backend, each cell coloured by status and showing the L2 entry count.

The SVG is deterministic: same input, byte-identical output.
Usage: python3 testbed/plot.py [--ab out/ab.tsv] [--bench out/bench.tsv] [-o out/ab.svg]
"""

import argparse
import csv
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

TOP = Path(__file__).resolve().parent.parent
BACKENDS = ("c", "rust")
LABELS = {"c": "C (nested.c)", "rust": "Rust (rnvmx)"}
COLOURS = {"c": "#1f77b4", "rust": "#d9541e"}
STATUS_COLOURS = {"PASS": "#7fcf7f", "FAIL": "#ef6f6f", "SKIP": "#c8c8c8", "HANG": "#f5a742"}
UNKNOWN_STATUS = "#c9a0dc"
# bench.tsv's unit column (absent: cycles) as a bar label's suffix.
UNITS = {"cycles": "cyc/op", "bytes": "B/op"}
RC = {"svg.fonttype": "none", "svg.hashsalt": "rnvmx-testbed", "font.size": 9,
      "font.sans-serif": ["DejaVu Sans", "Arial"]}


def read_tsv(path):
    """Rows of a tab-separated file with a header line as dicts; [] if missing."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items() if k is not None}
                for row in csv.DictReader(f, delimiter="\t")]


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def fmt(value):
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"


def valid_note(note):
    """A note that leaves the number valid: "floor", the benchmark without
    the nested backend (testbed/ab.py BENCH_FLOOR)."""
    return note in ("", "floor")


def bench_label(name, c, r):
    valid = [x for x in (c, r) if x and x["cycles"] is not None and valid_note(x["note"])]
    if len(valid) == 2 and c["cycles"] > 0:
        return f"{name} (rust/c {r['cycles'] / c['cycles']:.2f}x)"
    return f"{name} (rust/c n/a)"


def draw_benchmarks(ax, rows):
    data, names = {}, []
    for row in rows:
        name = row.get("bench", "")
        if not name or row.get("backend") not in BACKENDS:
            continue
        if name not in names:
            names.append(name)
        data[(row["backend"], name)] = {"cycles": number(row.get("cycles_per_op")),
                                        "note": row.get("note", ""),
                                        "unit": UNITS.get(row.get("unit") or "cycles", "?/op")}
    ax.set_title("Benchmarks: guest TSC cycles/op (or bytes/op), normalised to C = 1.0 (lower is better)",
                 loc="left", fontsize=10)
    if not names:
        ax.text(0.5, 0.5, "no benchmarks", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    height, top = 0.38, 0.0
    for i, name in enumerate(names):
        c, r = data.get(("c", name)), data.get(("rust", name))
        ref = next((x["cycles"] for x in (c, r) if x and x["cycles"]), 1.0)
        for j, backend in enumerate(BACKENDS):
            y = i + (j - 0.5) * height
            entry = data.get((backend, name))
            if not entry or entry["cycles"] is None:
                ax.text(0.02, y, "missing", va="center", fontsize=8, color="#666666")
                continue
            value = entry["cycles"] / ref
            top = max(top, value)
            if not valid_note(entry["note"]):
                ax.barh(y, value, height, color="#dddddd", edgecolor=COLOURS[backend], hatch="//")
                text = f"{fmt(entry['cycles'])} {entry['unit']} ({entry['note']}: not valid)"
            else:
                ax.barh(y, value, height, color=COLOURS[backend])
                text = f"{fmt(entry['cycles'])} {entry['unit']}" + (f" ({entry['note']})" if entry["note"] else "")
            ax.annotate(text, (value, y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=8)
    ax.set_yticks(range(len(names)), [bench_label(n, data.get(("c", n)), data.get(("rust", n)))
                                      for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, max(top, 1.0) * 1.9)
    ax.axvline(1.0, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_xlabel("relative to C (C = 1.0); bar labels: absolute cycles/op")
    ax.legend(handles=[Patch(color=COLOURS[b], label=LABELS[b]) for b in BACKENDS]
              + [Patch(facecolor="#dddddd", edgecolor="#555555", hatch="//", label="not valid (note)")],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)


def draw_grid(ax, rows):
    cells, tests = {}, []
    for row in rows:
        test = row.get("test", "")
        if not test or row.get("backend") not in BACKENDS:
            continue
        if test not in tests:
            tests.append(test)
        cells[(row["backend"], test)] = (row.get("status", "") or "?", row.get("l2_entries", "") or "-")
    counts = {b: sum(1 for t in tests if cells.get((b, t), ("",))[0] == "PASS") for b in BACKENDS}
    ax.set_title(f"Tests: C: {counts['c']} PASS / Rust: {counts['rust']} PASS ({len(tests)} tests)",
                 loc="left", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if not tests:
        ax.text(0.5, 0.5, "no tests", ha="center", va="center", transform=ax.transAxes)
        return
    for i, test in enumerate(tests):
        for j, backend in enumerate(BACKENDS):
            cell = cells.get((backend, test))
            if cell:
                status, l2 = cell
                colour, text = STATUS_COLOURS.get(status, UNKNOWN_STATUS), f"{status}\nL2={l2}"
            else:
                colour, text = "white", "-"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=colour, edgecolor="#999999", linewidth=0.8))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8, linespacing=1.1)
    ax.set_xlim(0, 2)
    ax.set_ylim(len(tests), 0)
    ax.xaxis.tick_top()
    ax.set_xticks([0.5, 1.5], [LABELS[b] for b in BACKENDS])
    ax.set_yticks([i + 0.5 for i in range(len(tests))], tests)
    ax.tick_params(length=0)
    ax.legend(handles=[Patch(facecolor=c, label=s) for s, c in STATUS_COLOURS.items()]
              + [Patch(facecolor="white", edgecolor="#999999", label="- missing")],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)


def write_svg(ab_tsv: Path, bench_tsv: Path, out_svg: Path) -> None:
    """Read the two tables (either may be missing or empty) and write out_svg."""
    ab_rows, bench_rows = read_tsv(ab_tsv), read_tsv(bench_tsv)
    n_tests = max(1, len({r.get("test") for r in ab_rows if r.get("test")}))
    n_bench = max(1, len({r.get("bench") for r in bench_rows if r.get("bench")}))
    bench_h, grid_h = 1.2 + 0.55 * n_bench, 0.9 + 0.42 * n_tests
    with matplotlib.rc_context(RC):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, bench_h + grid_h + 0.6),
                                          gridspec_kw={"height_ratios": [bench_h, grid_h]},
                                          layout="constrained")
        try:
            draw_benchmarks(top, bench_rows)
            draw_grid(bottom, ab_rows)
            out_svg = Path(out_svg)
            out_svg.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(out_svg, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ab", type=Path, default=TOP / "out" / "ab.tsv")
    parser.add_argument("--bench", type=Path, default=TOP / "out" / "bench.tsv")
    parser.add_argument("-o", "--output", type=Path, default=TOP / "out" / "ab.svg")
    args = parser.parse_args()
    write_svg(args.ab, args.bench, args.output)
    print(f"[plot] wrote {args.output}")


if __name__ == "__main__":
    main()
