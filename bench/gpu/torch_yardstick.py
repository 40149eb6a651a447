#!/usr/bin/env python3
"""The GPU yardstick: what `ilgpu-style bench` times, done by PyTorch (cuDNN / cuBLAS on CUDA), printed as one JSON
document of the same shape as `ilgpu-style bench --json` ({"kernels": ..., "iteration": ...}, a skipped part null),
so that bench/gpu/compare.py can divide the two.

  kernels    every VGG19 3x3 conv shape at --size (stage k at size/2^(k-1); layers of equal shape measured once):
             forward = relu_(conv2d(x, w, b, padding 1)) without autograd, backward-data = conv_transpose2d(dy, w,
             padding 1) (the input gradient of that convolution), as bench/TorchBaseline times them; for relu1_1 ..
             relu5_1 the Gram forward  G = scale * F F^T  and backward  dF = scale * (dG + dG^T) F  (ours computes the
             same two products). Random data; median of --runs calls after --warmup, each timed with CUDA events.
  iteration  at each --iteration-sizes: random content and style images, VGG19 to relu5_1 with the weights of
             --weights (an .ilgw file, or 'random'), the Gatys loss of GatysLoss.cs / README "Losses" (content
             relu4_2, style relu1_1..relu5_1, alpha 5, beta 100, gamma 1, every term relative), x starting at the
             content image; torch.optim.LBFGS(lr 1, max_iter 1, history --lbfgs-history, no line search, tolerances
             off): one step = one closure (zero_grad, loss, backward) + direction + x update, as bench/TorchBaseline.
             The first --warmup steps (at least 1) are not timed; median of --runs steps. Peak memory per size.

--math fp32 sets torch.backends.cudnn.allow_tf32 = False and torch.backends.cuda.matmul.allow_tf32 = False (plain
FP32, our math); --math default leaves PyTorch's defaults (TF32 convolutions on Ampere and later; matmul FP32).
cuDNN's autotuner (torch.backends.cudnn.benchmark) is off unless --cudnn-benchmark.

  python3 bench/gpu/torch_yardstick.py --weights weights/vgg19.ilgw --math fp32 --size 512 --iteration-sizes 512,1024 > torch-fp32.json
  python3 bench/gpu/torch_yardstick.py --device cpu --weights random --size 64 --iteration-sizes 64 --runs 2   # rehearsal
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilgw  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_LAYERS = ["relu4_2"]
ALPHA, BETA, GAMMA = 5.0, 100.0, 1.0


def log(*a):
    print("torch-yardstick:", *a, file=sys.stderr, flush=True)


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def set_math(math):
    """Returns a description of the effective TF32 settings."""
    if not torch.cuda.is_available():
        return "cpu (fp32)"
    if math == "fp32":
        try:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        except (RuntimeError, AttributeError) as e:  # should a later PyTorch drop the legacy flags
            log(f"legacy TF32 flags refused ({e}); using fp32_precision = 'ieee'")
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            torch.backends.cudnn.conv.fp32_precision = "ieee"
    try:
        return (f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, "
                f"cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
                f"float32_matmul_precision={torch.get_float32_matmul_precision()}")
    except (RuntimeError, AttributeError) as e:
        return f"{math} (settings not readable: {e})"


class Timer:
    """Median milliseconds of `call` (CUDA events on a GPU, perf_counter otherwise) and CPU ms of this process."""

    def __init__(self, device, runs, warmup):
        self.device, self.runs, self.warmup = device, runs, warmup

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def ms(self, call):
        for _ in range(self.warmup):
            call()
        self.sync()
        times = []
        cpu0 = time.process_time()
        for _ in range(self.runs):
            if self.device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                call()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1000)
        cpu = (time.process_time() - cpu0) * 1000 / self.runs
        return statistics.median(times), min(times), cpu


def conv_shapes(size):
    """(name, cin, cout, side) of every conv layer to conv5_4 at input side `size`."""
    side, out = size, []
    for name, cin, cout in ilgw.VGG19_CONVS:
        out.append((name, cin, cout, side))
        if name in ilgw.POOL_AFTER:
            side //= 2
    return out


def timing(layer, kernel, shape, flops, med, mn, cpu):
    return {"layer": layer, "kernel": kernel, "shape": shape, "flops": flops, "medianMs": med, "minMs": mn,
            "cpuMs": cpu, "gflops": flops / (med * 1e6), "gflopsPerCpuSecond": flops / (cpu * 1e6) if cpu > 0 else 0}


def kernel_bench(args, device, timer):
    g = torch.Generator(device="cpu").manual_seed(1234)

    def rand(*shape, scale=1.0, signed=False):
        t = torch.rand(*shape, generator=g)
        if signed:
            t = t * 2 - 1
        return (t * scale).to(device)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    load_before = load_average()
    timings, cache = [], {}
    vgg_fwd = vgg_bwd = 0.0
    for name, cin, cout, side in conv_shapes(args.size):
        key = (cin, cout, side)
        shape = f"{cin}\u2192{cout} @ {side}\u00d7{side}"
        flops = 2.0 * cout * cin * 9 * side * side
        if key not in cache:
            with torch.no_grad():
                x = rand(1, cin, side, side)
                w = rand(cout, cin, 3, 3, scale=(6.0 / (cin * 9)) ** 0.5, signed=True)
                b = rand(cout, scale=0.1, signed=True)
                dy = rand(1, cout, side, side, signed=True)
                fwd = timer.ms(lambda: F.relu(F.conv2d(x, w, b, padding=1), inplace=True))
                bwd = timer.ms(lambda: F.conv_transpose2d(dy, w, padding=1))
            del x, w, b, dy
            cache[key] = (fwd, bwd)
            log(f"{name} {shape}: forward {fwd[0]:.3f} ms, backward-data {bwd[0]:.3f} ms")
        fwd, bwd = cache[key]
        timings.append(timing(name, "conv forward+bias+relu", shape, flops, *fwd))
        timings.append(timing(name, "conv backward-data", shape, flops, *bwd))
        if int(name[4]) <= 4 or name == "conv5_1":  # conv1_1 .. conv5_1: what an iteration runs
            vgg_fwd += fwd[0]
            vgg_bwd += bwd[0]
    gram_fwd = gram_bwd = 0.0
    for name, cin, cout, side in conv_shapes(args.size):
        relu = "relu" + name[4:]
        if relu not in STYLE_LAYERS:
            continue
        c, p = cout, side * side
        scale = 1.0 / (c * p)
        flops = 2.0 * c * c * p
        with torch.no_grad():
            f = rand(c, p)
            dg = rand(c, c, signed=True)
            fwd = timer.ms(lambda: torch.mm(f, f.t()).mul_(scale))
            bwd = timer.ms(lambda: torch.mm(dg + dg.t(), f).mul_(scale))
        del f, dg
        shape = f"{c} @ {side}\u00d7{side}"
        timings.append(timing(relu, "gram forward", shape, flops, *fwd))
        timings.append(timing(relu, "gram backward", shape, flops, *bwd))
        gram_fwd += fwd[0]
        gram_bwd += bwd[0]
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {"device": device_name(device), "size": args.size, "runs": args.runs, "warmup": args.warmup,
            "kernels": "pytorch (cuDNN conv2d / conv_transpose2d, cuBLAS mm)" if device.type == "cuda" else "pytorch (CPU)",
            "convTiles": args.math_description, "timings": timings,
            "vggForwardMs": vgg_fwd, "vggBackwardDataMs": vgg_bwd, "gramForwardMs": gram_fwd, "gramBackwardMs": gram_bwd,
            "peakBytes": peak, "allocations": None, "allocationsWhileTiming": None,
            "loadAverageBefore": load_before, "loadAverageAfter": load_average()}


class Vgg19:
    """VGG19 to the deepest wanted layer, with the preprocessing of the weights (README "Losses")."""

    def __init__(self, tensors, preprocessing, device):
        self.layers = [(n, torch.from_numpy(tensors[n + ".weight"]).to(device),
                        torch.from_numpy(tensors[n + ".bias"]).to(device)) for n, _, _ in ilgw.VGG19_CONVS]
        p = preprocessing
        self.order = [2, 1, 0] if p["channelOrder"] == "BGR" else [0, 1, 2]
        self.scale = float(p["inputScale"])
        self.mean = torch.tensor(p["mean"], dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(p["std"], dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def forward(self, rgb01, wanted):
        h = (rgb01[:, self.order] * self.scale - self.mean) / self.std
        found = {}
        for name, w, b in self.layers:
            if len(found) == len(wanted):
                break
            h = F.conv2d(h, w, b, padding=1)
            if name in wanted:
                found[name] = h
            h = F.relu(h)
            relu = "relu" + name[4:]
            if relu in wanted:
                found[relu] = h
            if name in ilgw.POOL_AFTER and len(found) < len(wanted):
                h = F.max_pool2d(h, 2, 2)
        return found


def gram(f):
    c, hw = f.shape[1], f.shape[2] * f.shape[3]
    m = f.reshape(c, hw)
    return m.mm(m.t()) / (c * hw)


class GatysLoss:
    def __init__(self, net, content, style):
        self.net = net
        self.layers = list(dict.fromkeys(CONTENT_LAYERS + STYLE_LAYERS))
        with torch.no_grad():
            fc = net.forward(content, CONTENT_LAYERS)
            self.content = [(l, fc[l].clone(), ALPHA / len(CONTENT_LAYERS) / max(fc[l].square().mean().item(), 1e-12))
                            for l in CONTENT_LAYERS]
            fs = net.forward(style, STYLE_LAYERS)
            self.style = []
            for l in STYLE_LAYERS:
                a = gram(fs[l])
                self.style.append((l, a, BETA / len(STYLE_LAYERS) / max(a.square().mean().item(), 1e-12)))
        self.tv_weight = GAMMA / content.numel()

    def __call__(self, x):
        f = self.net.forward(x, self.layers)
        total = sum(((f[l] - t).square().mean() * w for l, t, w in self.content))
        total = total + sum(((gram(f[l]) - a).square().mean() * w for l, a, w in self.style))
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        return total + (dx.square().sum() + dy.square().sum()) * self.tv_weight


def iteration_bench(args, device, timer, tensors, header, description, real):
    net = Vgg19(tensors, header["preprocessing"], device)
    out = []
    for size in args.iteration_sizes:
        load_before = load_average()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        live_before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        g = torch.Generator(device="cpu").manual_seed(101)
        content = torch.rand(1, 3, size, size, generator=g).to(device)
        style = torch.rand(1, 3, size, size, generator=g).to(device)
        try:
            loss = GatysLoss(net, content, style)
            x = content.clone().requires_grad_(True)
            opt = torch.optim.LBFGS([x], lr=1, max_iter=1, max_eval=2, tolerance_grad=-1, tolerance_change=-1,
                                    history_size=args.lbfgs_history, line_search_fn=None)
            evaluations = []

            def closure():
                t0 = time.perf_counter()
                opt.zero_grad()
                l = loss(x)
                l.backward()
                timer.sync()
                evaluations.append(time.perf_counter() - t0)
                return l

            skip = max(1, args.warmup)
            wall, steps, cpu, initial, final = [], [], 0.0, None, None
            for k in range(skip + args.runs):
                before = len(evaluations)
                timer.sync()
                cpu0, t0 = time.process_time(), time.perf_counter()
                l = opt.step(closure)
                timer.sync()
                seconds = time.perf_counter() - t0
                value = float(l)
                if k == 0:
                    initial = value
                final = value
                if k < skip:
                    continue
                cpu += time.process_time() - cpu0
                wall.append(seconds)
                steps.append(seconds - sum(evaluations[before:]))
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
            out.append({"size": size, "timedIterations": args.runs, "medianSeconds": statistics.median(wall),
                        "minSeconds": min(wall), "evaluateMedianSeconds": statistics.median(evaluations[skip:]),
                        "stepMedianSeconds": statistics.median(steps), "cpuSecondsPerIteration": cpu / args.runs,
                        "peakBytes": peak, "liveBytesBefore": live_before, "allocationsFirstIteration": None,
                        "allocationsAfterFirstIteration": None, "allocationsPerIterationAfterFirst": None,
                        "initialLoss": initial, "finalLoss": final,
                        "loadAverageBefore": load_before, "loadAverageAfter": load_average()})
            log(f"iteration {size}x{size}: {statistics.median(wall) * 1000:.2f} ms "
                f"(evaluation {statistics.median(evaluations[skip:]) * 1000:.2f} ms), peak "
                f"{(peak or 0) / 2**30:.2f} GiB, loss {initial:.4g} -> {final:.4g}")
        except torch.cuda.OutOfMemoryError if hasattr(torch.cuda, "OutOfMemoryError") else RuntimeError as e:
            log(f"iteration {size}x{size}: out of memory ({str(e).splitlines()[0]}); larger sizes skipped")
            break
        finally:
            loss = x = opt = content = style = None
    return {"device": device_name(device), "weights": description, "realWeights": real,
            "optimizer": f"torch.optim.LBFGS, history {args.lbfgs_history}, fixed step 1 (no line search)",
            "runs": args.runs, "warmup": max(1, args.warmup), "timings": out}


def conv_precision_check(device):
    """Relative error of one conv against float64 on the CPU: ~1e-7 in FP32, ~1e-4..1e-3 with TF32."""
    g = torch.Generator(device="cpu").manual_seed(7)
    x = torch.rand(1, 256, 64, 64, generator=g, dtype=torch.float64)
    w = (torch.rand(256, 256, 3, 3, generator=g, dtype=torch.float64) * 2 - 1) / 48
    ref = F.conv2d(x, w, padding=1)
    with torch.no_grad():
        got = F.conv2d(x.float().to(device), w.float().to(device), padding=1).double().cpu()
    return float((got - ref).norm() / ref.norm())


def device_name(device):
    if device.type == "cuda":
        return f"cuda:{device.index or 0} {torch.cuda.get_device_name(device)}"
    return "cpu (PyTorch)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--weights", default="random", help=".ilgw file or 'random' (default; timings do not depend on it)")
    ap.add_argument("--math", choices=["fp32", "default"], default="fp32")
    ap.add_argument("--size", type=int, default=512, help="side of the per-kernel bench input")
    ap.add_argument("--iteration-sizes", default="512,1024", help="comma-separated sides of the iteration bench")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lbfgs-history", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads on the CPU (0: PyTorch's choice)")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune its algorithms")
    ap.add_argument("--no-kernels", action="store_true")
    ap.add_argument("--no-iteration", action="store_true")
    args = ap.parse_args()
    args.iteration_sizes = [int(s) for s in args.iteration_sizes.split(",") if s.strip()]
    if args.runs < 1 or args.size < 16 or any(s < 16 for s in args.iteration_sizes):
        ap.error("need --runs >= 1 and sizes >= 16")

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch-yardstick: CUDA is not available to PyTorch", file=sys.stderr)
        return 3
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    args.math_description = f"math={args.math}: {set_math(args.math)}, cudnn.benchmark={args.cudnn_benchmark}"
    log(args.math_description)
    tensors, header, description, real = ilgw.load(args.weights)
    timer = Timer(device, args.runs, args.warmup)

    report = {"kernels": None if args.no_kernels else kernel_bench(args, device, timer),
              "iteration": None if args.no_iteration else
              iteration_bench(args, device, timer, tensors, header, description, real),
              "framework": {"name": "pytorch", "torch": torch.__version__,
                            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                            "math": args.math, "settings": args.math_description,
                            "convRelativeErrorVsFloat64": conv_precision_check(device),
                            "threads": torch.get_num_threads()}}
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
