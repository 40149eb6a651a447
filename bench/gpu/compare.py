#!/usr/bin/env python3
"""Ours / PyTorch: reads `ilgpu-style bench --json` output (ours) and bench/gpu/torch_yardstick.py output (PyTorch,
one file per math mode) and prints ratio tables: per layer (conv forward, conv backward-data, Gram), their sums, and
the whole iteration per size. A ratio above 1 means we are slower.

  python3 bench/gpu/compare.py --ours bench-kernels.json bench-iteration.json --torch torch-fp32.json torch-default.json

Ours may be split over several files (e.g. a kernels-only and an iteration-only run): the kernel part is taken from
the first file that has one, iteration timings are merged by size. Standard library only.
"""

import argparse
import json
import sys


def load(paths):
    kernels, iterations, meta = None, {}, []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            d = json.load(f)
        if kernels is None and d.get("kernels"):
            kernels = d["kernels"]
        it = d.get("iteration")
        if it:
            for t in it["timings"]:
                iterations.setdefault(t["size"], t)
        meta.append(d)
    return kernels, iterations, meta


def label(meta, fallback):
    for d in meta:
        fw = d.get("framework")
        if fw:
            return f"torch-{fw.get('math', '?')}"
    return fallback


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or not b else a / b


def table(rows, header, markdown):
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for k, r in enumerate(cells):
        out.append("  ".join(c.ljust(widths[i]) if i < 3 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", nargs="+", required=True, help="ilgpu-style bench --json output(s)")
    ap.add_argument("--torch", nargs="+", required=True, help="torch_yardstick.py output(s), one per math mode")
    ap.add_argument("--markdown", action="store_true", help="Markdown tables (for doc/PERFORMANCE.md)")
    args = ap.parse_args()

    ours_k, ours_i, ours_meta = load(args.ours)
    theirs = []
    for p in args.torch:
        try:
            k, i, meta = load([p])
        except (OSError, ValueError) as e:
            print(f"compare: {p}: {e}; left out", file=sys.stderr)
            continue
        theirs.append((label(meta, p), k, i, meta))
    if not theirs:
        print("compare: no readable PyTorch result", file=sys.stderr)
        return 1

    ok = True
    if ours_k:
        print(f"## Per layer at {ours_k['size']}² — ours: {ours_k['device']} ({ours_k.get('kernels')}, {ours_k.get('convTiles')})")
        for name, k, _, meta in theirs:
            if k:
                fw = meta[0].get("framework", {})
                print(f"   {name}: {k['device']}, torch {fw.get('torch')}, cuDNN {fw.get('cudnn')}; {k.get('convTiles')}; "
                      f"conv rel. error vs float64 {fw.get('convRelativeErrorVsFloat64', float('nan')):.1e}")
                if k["size"] != ours_k["size"]:
                    print(f"   WARNING: {name} per-layer size {k['size']} ≠ ours {ours_k['size']}: ratios not comparable")
                    ok = False
        header = ["layer", "kernel", "shape", "ours ms", "ours GFLOP/s"]
        for name, k, _, _ in theirs:
            if k:
                header += [f"{name} ms", f"ours/{name}"]
        rows = []
        index = [{(t["layer"], t["kernel"]): t for t in k["timings"]} if k else {} for _, k, _, _ in theirs]
        for t in ours_k["timings"]:
            row = [t["layer"], t["kernel"].replace("conv forward+bias+relu", "conv fwd+bias+relu"), t["shape"],
                   fmt(t["medianMs"], ".3f"), fmt(t["gflops"], ".0f")]
            for (name, k, _, _), ix in zip(theirs, index):
                if not k:
                    continue
                o = ix.get((t["layer"], t["kernel"]))
                row += [fmt(o and o["medianMs"], ".3f"), fmt(ratio(t["medianMs"], o and o["medianMs"]), ".2f")]
            rows.append(row)
        for key, what in [("vggForwardMs", "VGG conv1_1..conv5_1 forward"), ("vggBackwardDataMs", "... backward-data"),
                          ("gramForwardMs", "Gram forward (5 layers)"), ("gramBackwardMs", "Gram backward (5 layers)")]:
            row = ["sum", what, "", fmt(ours_k.get(key), ".3f"), ""]
            for name, k, _, _ in theirs:
                if k:
                    row += [fmt(k.get(key), ".3f"), fmt(ratio(ours_k.get(key), k.get(key)), ".2f")]
            rows.append(row)
        print(table(rows, header, args.markdown))
        print()

    if ours_i:
        print("## Whole iteration (VGG19 to relu5_1 forward + backward, Gatys losses, L-BFGS step) — seconds, median")
        header = ["size", "ours s", "ours eval s", "ours step s", "ours peak GiB"]
        for name, _, i, _ in theirs:
            if i:
                header += [f"{name} s", f"{name} peak GiB", f"ours/{name}"]
        rows = []
        sizes = sorted(set(ours_i) | {s for _, _, i, _ in theirs for s in i})
        for s in sizes:
            o = ours_i.get(s)
            row = [f"{s}²", fmt(o and o["medianSeconds"], ".4f"), fmt(o and o["evaluateMedianSeconds"], ".4f"),
                   fmt(o and o["stepMedianSeconds"], ".4f"), fmt(o and o["peakBytes"] / 2**30, ".2f")]
            for name, _, i, _ in theirs:
                if not i:
                    continue
                t = i.get(s)
                peak = t and t.get("peakBytes")
                row += [fmt(t and t["medianSeconds"], ".4f"), fmt(peak and peak / 2**30, ".2f"),
                        fmt(ratio(o and o["medianSeconds"], t and t["medianSeconds"]), ".2f")]
            rows.append(row)
        print(table(rows, header, args.markdown))
        w = [m["iteration"].get("weights") for m in ours_meta if m.get("iteration")]
        if w:
            print(f"weights: ours {w[0]}; " + "; ".join(f"{n} {i_meta[0]['iteration']['weights']}"
                                                       for n, _, i, i_meta in theirs if i))
    if not ours_k and not ours_i:
        print("compare: nothing of ours to compare", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
