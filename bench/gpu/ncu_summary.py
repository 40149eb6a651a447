#!/usr/bin/env python3
"""One table per Nsight Compute report: where each profiled kernel stands against the GPU's limits (issue #10: "ncu on
the GPU when a kernel is far from its roofline"). Reads what `ncu --import REPORT --csv --page details` printed (one row
per kernel launch, section and metric; rule rows where this ncu prints them) and, optionally, `--page raw` (one row per
launch, one column per metric) for the warp-stall breakdown, and prints per launch, slowest first:

  duration, Compute (SM) and Memory throughput (% of peak, the Speed Of Light section), DRAM throughput, achieved and
  theoretical occupancy, registers per thread, issue slots busy (ComputeWorkloadAnalysis) and cycles with no eligible
  warp (SchedulerStats), from the raw page the tensor pipe's utilization (the tensor-core kernels) and shared-memory
  bank conflicts (extra wavefronts, % of loads and of stores: MemoryWorkloadAnalysis_Tables), the instructions executed
  per tensor-core instruction (smsp__inst_executed over its pipe_tensor_op_hmma part, where collected), block and grid, the
  three largest warp stall reasons (cycles per issued instruction), and the kernel's name ("-" where a section was not
  collected);

then per kernel name the launches and their summed duration, and the optimization hints ncu's rules gave for the
slowest launches. Standard library only.

  python3 bench/gpu/ncu_summary.py --details ncu-fp32-details.csv [--raw ncu-fp32-raw.csv] [--hints 8]

Test: bench/gpu/test_ncu_summary.py (python3 -m unittest discover -s bench/gpu -p 'test_*.py').
"""

import argparse
import csv
import io
import re
import sys

# Metric names of the details page (ncu 2023–2025), each with the column it fills.
DETAILS = {
    "Duration": "duration",
    "Compute (SM) Throughput": "sm",
    "Memory Throughput": "mem",
    "DRAM Throughput": "dram",
    "Achieved Occupancy": "occ",
    "Theoretical Occupancy": "theo",
    "Registers Per Thread": "regs",
    "Warp Cycles Per Issued Instruction": "cpi",
    "Issue Slots Busy": "issue",
    "No Eligible": "noelig",
}
TIME_UNITS = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}
STALL = re.compile(r"^smsp__average_warps?_issue_stalled_(.+)_per_issue_active\.ratio$")
# The tensor pipe's utilization, the first of these a raw page has (ncu's names vary with the version and the chip).
TENSOR = [re.compile(r"^sm__pipe_tensor_op_hmma_cycles_active\.avg\.pct_of_peak_sustained_active$"),
          re.compile(r"^sm__inst_executed_pipe_tensor_op_hmma\.avg\.pct_of_peak_sustained_active$"),
          re.compile(r"^sm__(?:inst_executed_)?pipe_tensor\w*\.avg\.pct_of_peak_sustained_active$")]
# Shared-memory bank conflicts and all wavefronts, loads and stores.
BANK = {op: (f"l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_{op}.sum",
             f"l1tex__data_pipe_lsu_wavefronts_mem_shared_op_{op}.sum") for op in ("ld", "st")}
# All instructions executed and those on the tensor pipe (mma.sync's HMMA): their ratio is the SASS budget per mma.
INSTRUCTIONS, HMMA = "smsp__inst_executed.sum", "smsp__inst_executed_pipe_tensor_op_hmma.sum"


def csv_rows(text):
    """The CSV records of an ncu output, without the ==PROF== / ==WARNING== lines ncu prints around them."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        return []
    body = [l for l in lines[start:] if l.startswith('"')]
    return list(csv.reader(io.StringIO("\n".join(body))))


def number(value):
    """ncu's numbers, with thousands separators ("1,234.5"); None for n/a and text."""
    try:
        return float(value.replace(",", ""))
    except (AttributeError, ValueError):
        return None


def parse_details(text):
    """{launch id: {"name", "block", "grid", metric columns…, "rules": [(name, type, speedup, description)]}}."""
    rows = csv_rows(text)
    if not rows:
        return {}
    head = {h: i for i, h in enumerate(rows[0])}
    need = ["ID", "Kernel Name", "Metric Name", "Metric Value"]
    missing = [h for h in need if h not in head]
    if missing:
        raise ValueError("not an ncu details page: no column " + ", ".join(missing))

    def cell(r, h):
        i = head.get(h)
        return r[i] if i is not None and i < len(r) else ""

    launches = {}
    for r in rows[1:]:
        lid = cell(r, "ID")
        k = launches.setdefault(lid, {"name": cell(r, "Kernel Name"), "block": cell(r, "Block Size"),
                                      "grid": cell(r, "Grid Size"), "rules": []})
        metric, value, unit = cell(r, "Metric Name"), cell(r, "Metric Value"), cell(r, "Metric Unit")
        column = DETAILS.get(metric)
        if column == "duration":
            v = number(value)
            scale = TIME_UNITS.get(unit.strip().lower())
            if v is not None and scale is not None:
                k["duration"] = v * scale  # microseconds
        elif column is not None:
            k[column] = number(value)
        rule = cell(r, "Rule Name")
        description = cell(r, "Rule Description")
        if rule and description and (rule, description) not in [(x[0], x[3]) for x in k["rules"]]:
            k["rules"].append((rule, cell(r, "Rule Type"), number(cell(r, "Estimated Speedup")), description))
    return launches


def raw_launches(text):
    """(header, [(launch id, row)]) of a raw page: one row per launch, without the units row; ([], []) for no CSV."""
    rows = csv_rows(text)
    if not rows:
        return [], []
    head = rows[0]
    if "ID" not in head:
        raise ValueError("not an ncu raw page: no ID column")
    id_col = head.index("ID")
    return head, [(r[id_col], r) for r in rows[1:] if id_col < len(r) and number(r[id_col]) is not None]


def parse_stalls(text):
    """{launch id: [(reason, cycles per issued instruction)], largest first} from a raw page."""
    head, launches = raw_launches(text)
    columns = [(i, m.group(1)) for i, h in enumerate(head) if (m := STALL.match(h))]
    stalls = {}
    for lid, r in launches:
        values = [(reason, number(r[i])) for i, reason in columns if i < len(r)]
        stalls[lid] = sorted(((s, v) for s, v in values if v), key=lambda sv: -sv[1])
    return stalls


def parse_raw_extras(text):
    """{launch id: {"tensor": %, "bank_ld": %, "bank_st": %, "per_mma": n}} from a raw page: the tensor pipe's utilization,
    the shared-memory bank conflicts as a share of the wavefronts (a conflict is one extra wavefront) and the instructions
    executed per tensor-core instruction; absent keys where the page lacks the metric or a divisor is 0."""
    head, launches = raw_launches(text)
    col = {h: i for i, h in enumerate(head)}
    tensor = next((i for rx in TENSOR for i, h in enumerate(head) if rx.match(h)), None)
    extras = {}
    for lid, r in launches:
        e = {}
        if tensor is not None and tensor < len(r) and number(r[tensor]) is not None:
            e["tensor"] = number(r[tensor])
        for op, (conflicts, wavefronts) in BANK.items():
            c = number(r[col[conflicts]]) if conflicts in col and col[conflicts] < len(r) else None
            w = number(r[col[wavefronts]]) if wavefronts in col and col[wavefronts] < len(r) else None
            if c is not None and w:
                e["bank_" + op] = 100 * c / w
        inst = number(r[col[INSTRUCTIONS]]) if INSTRUCTIONS in col and col[INSTRUCTIONS] < len(r) else None
        hmma = number(r[col[HMMA]]) if HMMA in col and col[HMMA] < len(r) else None
        if inst is not None and hmma:
            e["per_mma"] = inst / hmma
        extras[lid] = e
    return extras


def short(name, width=60):
    """The kernel's name without its parameter list, at most width characters."""
    name = name.split("(")[0]
    return name if len(name) <= width else name[: width - 1] + "…"


def fmt(v, spec="5.1f"):
    """v formatted by spec; "-" for a missing value, as wide as spec says."""
    return format(v, spec) if v is not None else "-".rjust(int(re.match(r"\d*", spec).group() or 0))


def render(launches, stalls, hints=8, extras=None):
    extras = extras or {}
    order = sorted(launches.items(), key=lambda kv: -(kv[1].get("duration") or 0))
    total = sum(k.get("duration") or 0 for k in launches.values())
    out = [f"{len(launches)} launches, {total / 1e3:.3f} ms in all (durations under ncu: caches flushed, clocks as set)",
           "issue%: issue slots busy; noel%: cycles without an eligible warp; tc%: tensor pipe; bank ld/st%: shared-memory "
           "bank conflicts per wavefront; /mma: instructions executed per tensor-core instruction", ""]
    header = f"{'ID':>4} {'µs':>9} {'SM%':>5} {'Mem%':>5} {'DRAM%':>5} {'occ%':>5} {'theo%':>5} {'regs':>4} " \
             f"{'issue%':>6} {'noel%':>5} {'tc%':>5} {'bank ld/st%':>11} {'/mma':>5} " \
             f"{'block':>11} {'grid':>13}  {'stalls (cycles/issue)':<40} kernel"
    out += [header, "-" * len(header)]
    for lid, k in order:
        top = ", ".join(f"{s} {v:.1f}" for s, v in stalls.get(lid, [])[:3])
        e = extras.get(lid, {})
        bank = f"{fmt(e.get('bank_ld'), '.0f')}/{fmt(e.get('bank_st'), '.0f')}"
        out.append(f"{lid:>4} {fmt(k.get('duration'), '9.1f')} {fmt(k.get('sm'))} {fmt(k.get('mem'))} "
                   f"{fmt(k.get('dram'))} {fmt(k.get('occ'))} {fmt(k.get('theo'))} {fmt(k.get('regs'), '4.0f')} "
                   f"{fmt(k.get('issue'), '6.1f')} {fmt(k.get('noelig'))} {fmt(e.get('tensor'))} {bank:>11} {fmt(e.get('per_mma'))} "
                   f"{k['block']:>11} {k['grid']:>13}  {top:<40} {short(k['name'])}")
    by_name = {}
    for k in launches.values():
        n, t = by_name.get(short(k["name"], 200), (0, 0.0))
        by_name[short(k["name"], 200)] = (n + 1, t + (k.get("duration") or 0))
    out += ["", f"{'launches':>8} {'µs':>10} {'share':>6}  kernel"]
    for name, (n, t) in sorted(by_name.items(), key=lambda kv: -kv[1][1]):
        out.append(f"{n:>8} {t:10.1f} {100 * t / total if total else 0:5.1f}%  {short(name, 100)}")
    def is_hint(rule):
        return not rule[1] or rule[1].upper() in ("OPT", "WRN", "WARNING")

    shown = [(lid, k) for lid, k in order if any(is_hint(r) for r in k["rules"])][:hints]
    if shown:
        out += ["", "ncu's hints for the slowest launches (rule, estimated speedup %):"]
        for lid, k in shown:
            out.append(f"  {lid} {short(k['name'])}:")
            for rule, kind, speedup, text in filter(is_hint, k["rules"]):
                out.append(f"    {rule} ({fmt(speedup, '.1f')}): {' '.join(text.split())[:300]}")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--details", required=True, help="ncu --import R --csv --page details output")
    ap.add_argument("--raw", help="ncu --import R --csv --page raw output (warp stalls)")
    ap.add_argument("--hints", type=int, default=8, help="launches whose rule hints are printed")
    a = ap.parse_args(argv)
    with open(a.details, encoding="utf-8", errors="replace") as f:
        launches = parse_details(f.read())
    stalls, extras = {}, {}
    if a.raw:
        with open(a.raw, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        stalls, extras = parse_stalls(raw), parse_raw_extras(raw)
    if not launches:
        print(f"ncu_summary: no kernel launches in {a.details}", file=sys.stderr)
        return 1
    print(render(launches, stalls, a.hints, extras))
    return 0


if __name__ == "__main__":
    sys.exit(main())
