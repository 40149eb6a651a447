#!/usr/bin/env python3
"""The targets of issues #10 (FP32 on the GPU) and #11 (tensor cores), checked against one run of
bench/gpu/run-on-gpu.sh: one line per target with what was measured, the target, the verdict (met, MISSED by how much,
or not measured and why) and the file it was read from; then the command that wrote each file (the first line of the
step's log). run-on-gpu.sh appends this to summary.txt; by hand, on the unpacked results.tar.gz:

  python3 bench/gpu/targets.py results/

"Big layers" are the convolutions with the most arithmetic (within 1 %): conv1_2, conv2_2, conv3_2–3_4 and
conv4_2–4_4 of VGG19; their weakest is the measured value. A layer's TFLOP/s counts the direct convolution's
2·Cin·Cout·9·H·W operations, whatever algorithm ran. Standard library only.
"""

import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

FORWARD = "conv forward+bias+relu"
BACKWARD = "conv backward-data"


class Results:
    """The files of one results folder; every reader returns None (and a reason) when its file is missing or unreadable."""

    def __init__(self, folder):
        self.folder = folder
        self.sources = []  # (file, step log) in the order the targets read them
        self._steps = None  # steps.txt, read once

    def path(self, name):
        return os.path.join(self.folder, name)

    def cite(self, name, step):
        if (name, step) not in self.sources:
            self.sources.append((name, step))

    def json(self, name):
        try:
            with open(self.path(name), encoding="utf-8") as f:
                return json.load(f), None
        except OSError:
            return None, f"no {name}"
        except ValueError as e:
            return None, f"{name} unreadable ({e})"

    def steps(self):
        """steps.txt: name → (status, seconds or None)."""
        if self._steps is not None:
            return self._steps
        out = {}
        try:
            with open(self.path("steps.txt"), encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 4:
                        seconds = parts[3][:-1] if parts[3].endswith("s") else None
                        try:
                            out[parts[0]] = (parts[1], float(seconds) if seconds else None)
                        except ValueError:
                            out[parts[0]] = (parts[1], None)
        except OSError:
            pass
        self._steps = out
        return out

    def text(self, name):
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def command(self, step):
        """The command of a step: the first line of its log, '== NAME (limit …): COMMAND'."""
        log = self.text(f"{step}.log")
        if not log:
            return None
        first = log.splitlines()[0] if log.splitlines() else ""
        m = re.match(r"== \S+ \([^)]*\): (.*)", first)
        return m.group(1) if m else None


def big_layers(timings, kernel):
    convs = [t for t in timings if t.get("kernel") == kernel and t.get("flops")]
    if not convs:
        return []
    most = max(t["flops"] for t in convs)
    return [t for t in convs if t["flops"] >= 0.99 * most]


def weakest(kernels, kernel):
    """(TFLOP/s of the weakest big layer, its name, how many big layers) or None."""
    big = big_layers(kernels.get("timings") or [], kernel)
    rated = [(t["flops"] / (t["medianMs"] * 1e-3) / 1e12, t["layer"]) for t in big if t.get("medianMs")]
    if not rated:
        return None
    tflops, layer = min(rated)
    return tflops, layer, len(rated)


def verdict_at_least(value, target):
    return "met" if value >= target else f"MISSED by {100 * (1 - value / target):.0f} % ({value / target:.2f}× the target)"


def verdict_at_most(value, target):
    return "met" if value <= target else f"MISSED by {100 * (value / target - 1):.0f} % ({value / target:.2f}× the target)"


def conv_rows(res, issue, files, size, target_tflops, what, step):
    """Per direction: the weakest big layer of the best file among `files` (a list of result names) at `size`."""
    rows = []
    for kernel, label in [(FORWARD, "forward"), (BACKWARD, "backward-data")]:
        title = f"conv {label} ≥ {target_tflops:g} TFLOP/s, big layers, {size}², {what}"
        best, why = None, f"no {' / '.join(files) if files else 'result file'}"
        for name in files:
            doc, err = res.json(name)
            if doc is None:
                why = err
                continue
            k = doc.get("kernels") or {}
            if k.get("size") != size:
                why = f"{name} is at {k.get('size')}², not {size}²"
                continue
            w = weakest(k, kernel)
            if w is None:
                why = f"{name} has no {kernel} timings"
                continue
            if best is None or w[0] > best[0][0]:
                best = (w, name)
        if best is None:
            rows.append((issue, title, "-", f"not measured: {why}", "-"))
            continue
        (tflops, layer, count), name = best
        res.cite(name, step)
        rows.append((issue, title, f"{tflops:.1f} (weakest of {count}: {layer})", verdict_at_least(tflops, target_tflops), name))
    return rows


def iteration_rows(res, issue, ours_name, torch_name, sizes, what):
    rows = []
    ours, ours_err = res.json(ours_name)
    theirs, theirs_err = res.json(torch_name)
    for size in sizes:
        title = f"iteration at {size}² ≤ 1.0× {what}"
        if ours is None or theirs is None:
            rows.append((issue, title, "-", f"not measured: {ours_err or theirs_err}", "-"))
            continue
        o = next((t for t in (ours.get("iteration") or {}).get("timings") or [] if t.get("size") == size), None)
        t = next((t for t in (theirs.get("iteration") or {}).get("timings") or [] if t.get("size") == size), None)
        if not o or not t or not o.get("medianSeconds") or not t.get("medianSeconds"):
            rows.append((issue, title, "-", f"not measured: no {size}² in {ours_name if not o else torch_name}", "-"))
            continue
        precision = ours.get("precision")
        ratio = o["medianSeconds"] / t["medianSeconds"]
        res.cite(ours_name, ours_name.replace(".json", ""))
        res.cite(torch_name, torch_name.replace(".json", ""))
        rows.append((issue, title, f"{ratio:.2f} ({o['medianSeconds'] * 1e3:.1f} / {t['medianSeconds'] * 1e3:.1f} ms"
                     + (f", ours {precision}" if precision else "") + ")",
                     verdict_at_most(ratio, 1.0), f"{ours_name}, {torch_name}"))
    return rows


def wall_seconds(res, step):
    """The step's wall time: /usr/bin/time's 'Elapsed (wall clock)' in its log, else steps.txt's seconds."""
    log = res.text(f"{step}.log") or ""
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", log)
    if m:
        return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return res.steps().get(step, (None, None))[1]


def stylize_row(res, issue, step, size, target_seconds, what, precision):
    title = f"stylize {size} px with defaults < {target_seconds:g} s wall, {what}"
    status, _ = res.steps().get(step, (None, None))
    if status is None:
        return (issue, title, "-", f"not measured: no step {step}", "-")
    if status != "ok":
        return (issue, title, "-", f"not measured: {step} {status}", f"{step}.log")
    report = res.text(f"{step}.jsonl") or ""
    last = None
    for line in report.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if "output" in row:
            last = row
    ran = (last or {}).get("precision")
    if precision and ran != precision:
        return (issue, title, "-", f"not measured: it ran {ran or '?'}, not {precision}", f"{step}.jsonl")
    seconds = wall_seconds(res, step)
    if seconds is None:
        return (issue, title, "-", "not measured: no wall time in its log", f"{step}.log")
    res.cite(f"{step}.log", step)
    return (issue, title, f"{seconds:.1f} s", verdict_at_most(seconds, target_seconds), f"{step}.log")


def tests_row(res):
    title = "every kernel test case passes on the GPU"
    try:
        root = ET.parse(res.path("tests.xml")).getroot()
    except (OSError, ET.ParseError) as e:
        return ("#10", title, "-", f"not measured: no readable tests.xml ({e.__class__.__name__})", "-")
    counts = {k: 0 for k in ("total", "passed", "failed", "skipped", "errors", "not-run")}
    for a in root.iter("assembly"):
        for k in counts:
            try:
                counts[k] += int(a.get(k, "0"))
            except ValueError:
                pass
    res.cite("tests.xml", "tests")
    measured = f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped of {counts['total']}"
    if counts["total"] == 0:
        return ("#10", title, measured, "not measured: no test ran", "tests.xml")
    bad = counts["failed"] + counts["errors"] + counts["skipped"] + counts["not-run"]
    return ("#10", title, measured, "met" if bad == 0 else f"MISSED: {bad} not passed", "tests.xml")


def memcheck_row(res, step="memcheck", issue="#10", what="a stylization"):
    title = f"compute-sanitizer memcheck clean on {what}"
    log = res.text(f"{step}.log")
    status, _ = res.steps().get(step, (None, None))
    if log is None or status is None:
        return (issue, title, "-", f"not measured: no {step} step", "-")
    m = re.search(r"ERROR SUMMARY: (\d+) error", log)
    if not m:
        return (issue, title, "-", f"not measured: no compute-sanitizer summary in {step}.log", f"{step}.log")
    res.cite(f"{step}.log", step)
    errors = int(m.group(1))
    return (issue, title, f"{errors} errors ({status})", "met" if errors == 0 and status == "ok" else "MISSED", f"{step}.log")


def tf32_files(res, size):
    return sorted(os.path.basename(p) for p in glob.glob(res.path(f"bench-tf32-*-{size}.json")))


def rows_of(res):
    rows = []
    # Issue #10, plain FP32 (PyTorch with TF32 disabled is the yardstick).
    rows += conv_rows(res, "#10", ["bench-kernels.json"], 512, 25, "FP32, the tuned plan", "bench-kernels")
    rows += iteration_rows(res, "#10", "bench-iteration.json", "torch-fp32.json", [512, 1024], "PyTorch FP32 (TF32 off)")
    rows.append(stylize_row(res, "#10", "stylize-512-fresh", 512, 20,
                            "a fresh machine (tuning included; PTX shipped with the program)", "fp32"))
    rows.append(stylize_row(res, "#10", "stylize-512", 512, 20, "first run (empty PTX cache)", None))
    rows.append(stylize_row(res, "#10", "stylize-512-warm", 512, 20, "PTX from an earlier run", None))
    rows.append(stylize_row(res, "#10", "stylize-1024", 1024, 60, "PTX from the earlier steps", None))
    rows.append(tests_row(res))
    rows.append(memcheck_row(res))
    # Issue #11, tensor cores (PyTorch's defaults, TF32 convolutions, are the yardstick).
    files = tf32_files(res, 1024)
    rows += conv_rows(res, "#11", files, 1024, 150, "TF32, best of " + (", ".join(f[len("bench-tf32-"):-len("-1024.json")] for f in files) or "none"),
                      "bench-tf32")
    rows += iteration_rows(res, "#11", "bench-iteration-tf32.json", "torch-default.json", [512, 1024], "PyTorch defaults (TF32 on)")
    rows.append(stylize_row(res, "#11", "stylize-512-fresh", 512, 10,
                            "the default precision (FP32), a fresh machine (tuning included; PTX shipped with the program)", "fp32"))
    rows.append(stylize_row(res, "#11", "stylize-tf32-512-fresh", 512, 10,
                            "--precision tf32, a fresh machine (its tuning included; PTX shipped with the program)", "tf32"))
    rows.append(stylize_row(res, "#11", "stylize-tf32-512", 512, 10, "--precision tf32, PTX from the earlier steps", "tf32"))
    rows.append(memcheck_row(res, "memcheck-tf32", "#11", "a --precision tf32 stylization"))
    return rows


def render(rows):
    header = ("issue", "target", "measured", "verdict", "from")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: targets.py RESULTS_FOLDER (run-on-gpu.sh's results: steps.txt, bench-*.json, torch-*.json, *.log)",
              file=sys.stderr)
        return 2
    res = Results(argv[1])
    rows = rows_of(res)
    met = sum(1 for r in rows if r[3] == "met")
    missed = sum(1 for r in rows if r[3].startswith("MISSED"))
    print(f"targets of issues #10 and #11: {met} met, {missed} missed, {len(rows) - met - missed} not measured")
    print(render(rows))
    commands = [(name, res.command(step)) for name, step in res.sources]
    if any(c for _, c in commands):
        print("commands:")
        for name, c in commands:
            if c:
                print(f"  {name}: {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
