#!/usr/bin/env bash
# The prepared GPU run (issue #10): on a machine with an NVIDIA GPU and no .NET, run from the repository root with
# the bundle of bench/gpu/make-bundle.sh carried in .gpu/. Every step has its own time limit, clipped to an overall
# deadline; a failing step does not stop the later ones. Results go to $OUT (at most 8 files come back):
#
#   $OUT/summary.txt       one line per step: status, exit code, seconds; the targets of #10/#11 (targets.py); the key numbers
#   $OUT/compare.txt       ours / PyTorch tables (bench/gpu/compare.py)
#   $OUT/results.tar.gz    every log and JSON (devices, tests, bench, torch, sanitizer, stylize reports, nvidia-smi)
#   $OUT/tubingen_starry_<size>.png   the stylized pictures
#   $OUT/tubingen_starry_<size>_tf32.png   the same with --precision tf32 (--tf32-stylize-sizes; default 512)
#   $OUT/tubingen_starry_<size>_bf16.png   the same with --precision bf16, its default blocking (--bf16-stylize-sizes; default 512)
#
# Steps: setup devices tests bench-kernels bench-winograd bench-sgemm bench-tf32 bench-iteration autotune-tf32 bench-iteration-tf32
#        torch-fp32 torch-default
#        compare compare-sgemm compare-tf32 stylize-<size>… memcheck memcheck-tf32 stylize-tf32-<size>-fresh stylize-tf32-<size>-unshipped stylize-tf32-<size>… losses-<size>…
#        stylize-bf16-<size>… losses-bf16-<size>… ptxas
# stylize-tf32-<size> / losses-<size> (issue #11: the default precision is chosen by speed and picture): the default
# stylization with --precision tf32, then the FP32 content/style/TV losses of both pictures (iteration 0 of a
# one-iteration FP32 run started from each) → summary.txt. stylize-tf32-<first size>-fresh before them: the same run
# as a fresh machine's first (empty tuning and PTX caches: both tunings and every compilation timed; #11's "under 10 s
# wall, start-up and kernel compilation included"), its kernels' PTX read from the bundle's cli/ptx (shipped with the
# program: `ilgpu-style kernels precompile`), then stylize-tf32-<first size>-unshipped: the same without it, on the
# fresh run's tuning plans (what ILGPU's compilation costs a build without shipped PTX; the same bytes expected).
# bench-winograd (issue #10): Winograd F(4×4, 3×3) and F(2×2, 3×3) with the GPU-shaped shared product per layer at the
# bench size (ILGPU_STYLE_TILES=winograd=64,wblock=shared,wtile=4|2; the first with gram=shared, the GPU-shaped Gram).
# bench-tf32 (issue #11): the tensor-core conv kernel (ILGPU_STYLE_TILES=kind=tf32,…) per layer — by default --precision tf32's
# blocking (gx=4 gy=2, the fastest on the H200, 2026-12-04; its next stage held in registers since stop 52), the same
# with 2 and 3 cp.async buffers (stages 1 and 2 ahead; 3 in dynamic shared memory), and --precision bf16's (the same
# blocking; since stop 55 its stages are 16 channels packed in pairs), then 4 buffers publishing two stages a barrier
# (bar=2, stop 58: half the barriers) — the other blockings and split-K at 512²:
# autotune-tf32's candidate times — at
# each --tf32-sizes for each ';'-separated --tf32-tiles value, beside FP32 per layer at the same sizes (512 is
# bench-kernels); bench-iteration-tf32: the whole iteration with --precision tf32; compare-tf32 → $OUT/compare-tf32.txt.
#
# usage: bench/gpu/run-on-gpu.sh [--device cuda] [--bundle .gpu/bundle.tar.xz] [--deadline 420]
#          [--bench-size 512] [--iteration-sizes 512,1024] [--torch-sizes 512,1024,2048] [--stylize-sizes 512,1024]
#          [--stylize-args "…"] [--runs 10] [--warmup 3] [--test-filter "xunit.v3 filter options"]
#          [--only step,step] [--skip step,step] [--tf32-tiles "kind=tf32,gx=4,gy=2,ci=8,gram=tf32;…" | none]
#          [--tf32-sizes 512,1024] [--tf32-stylize-sizes 512 | none] [--bf16-stylize-sizes 512 | none] [--warm-stylize-sizes 512 | none]
#          [--fresh-stylize-sizes 512 | none]
#          [--ncu] [--ncu-variants "fp32;tf32"] [--ncu-layers conv1_2,…] [--ncu-launches 100]
# ncu (opt-in: --ncu, or --only ncu; after a first run that passed, as the second try): Nsight Compute's counters for
# every kernel of `bench --no-iteration --layers <--ncu-layers>` at the bench size, once per --ncu-variants value (a
# --precision), with the device's tuned plan (bench-kernels' autotuning, or a quick one first) → the tables of
# bench/gpu/ncu_summary.py in summary.txt (throughput vs peak, occupancy, registers, warp stalls, ncu's hints).
# Kernels' PTX (src/Kernels/Device/PtxKernelCache.cs): the tests and benches share one cache folder; stylize-<size> for
# each --warm-stylize-sizes starts from an empty one (ILGPU compiles every kernel: a first run's start-up) and
# stylize-<size>-warm runs again on what it stored (a later run's). stylize-<size>-fresh for each --fresh-stylize-sizes:
# the default stylization (FP32) as a fresh machine's first run — empty tuning-plan file, PTX cache and driver cache, so
# its quick tuning, the driver's JIT (prewarmed) and every load are in the wall time, the PTX shipped in the bundle.
# Rehearsal without a GPU:
#   OUT=/tmp/gpu-out bench/gpu/run-on-gpu.sh --device opencl --bench-size 64 --iteration-sizes 64 \
#     --torch-sizes 64 --stylize-sizes 64 --stylize-args "--scales 1 --iterations 3" --runs 2 --warmup 1
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
started=$(date +%s)

device=cuda
bundle=.gpu/bundle.tar.xz
deadline=420
bench_size=512
iteration_sizes=512,1024
torch_sizes=512,1024,2048
stylize_sizes=512,1024
stylize_args=
runs=10
warmup=3
test_filter=   # default: the kernel tests' cases on the --device kind (see below)
only=
skip=
tf32_tiles="kind=tf32,gx=4,gy=2,ci=8,gram=tf32;kind=tf32,gx=4,gy=2,ci=8,async=2,gram=tf32,gramasync=2;kind=tf32,gx=4,gy=2,ci=8,async=3,gram=tf32,gramasync=2;kind=bf16,gx=4,gy=2,ci=16,gram=bf16;kind=tf32,gx=4,gy=2,ci=8,async=4,bar=2,gram=tf32,gramasync=2"
tf32_sizes=512,1024
tf32_stylize_sizes=512
bf16_stylize_sizes=512
warm_stylize_sizes=512
fresh_stylize_sizes=512
ncu=
ncu_variants="fp32;tf32"
ncu_layers=conv1_2,conv3_1,conv4_1,conv5_1,relu1_1,relu3_1
ncu_launches=100
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    --deadline) deadline=$2; shift 2 ;;
    --bench-size) bench_size=$2; shift 2 ;;
    --iteration-sizes) iteration_sizes=$2; shift 2 ;;
    --torch-sizes) torch_sizes=$2; shift 2 ;;
    --stylize-sizes) stylize_sizes=$2; shift 2 ;;
    --stylize-args) stylize_args=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --test-filter) test_filter=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    --skip) skip=",$2,"; shift 2 ;;
    --tf32-tiles) tf32_tiles=$2; shift 2 ;;
    --tf32-sizes) tf32_sizes=$2; shift 2 ;;
    --tf32-stylize-sizes) tf32_stylize_sizes=$2; shift 2 ;;
    --bf16-stylize-sizes) bf16_stylize_sizes=$2; shift 2 ;;
    --warm-stylize-sizes) warm_stylize_sizes=$2; shift 2 ;;
    --fresh-stylize-sizes) fresh_stylize_sizes=$2; shift 2 ;;
    --ncu) ncu=1; shift ;;
    --ncu-variants) ncu_variants=$2; shift 2 ;;
    --ncu-layers) ncu_layers=$2; shift 2 ;;
    --ncu-launches) ncu_launches=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-on-gpu: unknown argument $1" >&2; exit 2 ;;
  esac
done

OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/ilgpu-gpu.XXXXXX)   # work folder: unpacked bundle, logs, JSON
R=$W/results
mkdir -p "$R"
B=$W/bundle
CLI=$B/cli/ilgpu-style
torch_device=cpu
case "$device" in cuda*) torch_device=$device ;; esac
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 PYTHONUNBUFFERED=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
export ILGPU_STYLE_WEIGHTS=$B/weights/vgg19.ilgw
export ILGPU_STYLE_KERNEL_CACHE=$W/ptx-cache
case "$bundle" in /*) ;; *) bundle=$repo/$bundle ;; esac
export repo bundle OUT W B   # for setup(), which runs in a child bash

: > "$R/steps.txt"
elapsed() { echo $(( $(date +%s) - started )); }
wanted() {
  [ "$1" = ncu ] && [ -z "$ncu" ] && [[ "$only" != *",ncu,"* ]] && return 1   # opt-in
  [ -n "$only" ] && [[ "$only" != *",$1,"* ]] && [ "$1" != setup ] && return 1
  [[ "$skip" == *",$1,"* ]] && return 1
  return 0
}
# run_step NAME CAP_SECONDS [--stdout FILE] COMMAND…: runs COMMAND under `timeout`, output to $R/NAME.log.
run_step() {
  local name=$1 cap=$2 stdout=; shift 2
  if [ "${1:-}" = --stdout ]; then stdout=$2; shift 2; fi
  if ! wanted "$name"; then return 0; fi
  local left=$(( deadline - $(elapsed) - 20 )) t=$cap
  [ "$left" -lt "$t" ] && t=$left
  if [ "$t" -lt 5 ]; then
    printf '%-18s %-8s %4s %7s  %s\n' "$name" SKIPPED - - "no time left before the ${deadline}s deadline" | tee -a "$R/steps.txt"
    return 0
  fi
  local t0 rc status
  t0=$(date +%s.%N)
  echo "== $name (limit ${t}s, at $(elapsed)s): $*" >> "$R/$name.log"
  # a shell function of this script runs in a child bash (timeout needs a program)
  if declare -F "$1" >/dev/null; then export -f "$1"; set -- bash -c '"$@"' "$1" "$@"; fi
  if [ -n "$stdout" ]; then
    timeout -k 10 "$t" "$@" > "$stdout" 2>> "$R/$name.log"
  else
    timeout -k 10 "$t" "$@" >> "$R/$name.log" 2>&1
  fi
  rc=$?
  status=ok
  [ "$rc" != 0 ] && status=FAILED
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && status=TIMEOUT
  local what
  what=$(tail -n +2 "$R/$name.log" | tail -c 300 | tr -s '\n\r\t' '   ' | tail -c 110)
  [ -n "$stdout" ] && what="→ $(basename "$stdout") ($(stat -c %s "$stdout" 2>/dev/null || echo 0) bytes) $what"
  printf '%-18s %-8s %4s %7.1fs  %s\n' "$name" "$status" "$rc" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
    "$what" | tee -a "$R/steps.txt"
  return "$rc"
}

# --- setup: unpack, driver libraries, machine facts ----------------------------------------------------------------
setup() {
  echo "machine: $(uname -srm), $(nproc) cores; OUT=$OUT; work folder $W"
  [ -f "$bundle" ] || { echo "no bundle at $bundle: run bench/gpu/make-bundle.sh here and carry .gpu"; return 1; }
  tar -xJf "$bundle" -C "$W" 2>/dev/null \
    || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$W" \
    || return 1   # (python's tarfile where tar lacks xz)
  cat "$B/MANIFEST.txt"
  # ILGPU opens the CUDA driver as libcuda.so; driver installs often have only libcuda.so.1. Link it in a folder of
  # our own on LD_LIBRARY_PATH (never the toolkit's stubs/libcuda.so, which has no driver behind it).
  mkdir -p "$W/lib"
  local cuda1 d
  cuda1=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 .*x86-64/ { print $NF }' | grep -v stubs | head -1)
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
    [ -z "$cuda1" ] && [ -e "$d/libcuda.so.1" ] && cuda1=$d/libcuda.so.1
  done
  if [ -n "$cuda1" ]; then
    ln -sf "$cuda1" "$W/lib/libcuda.so"
    echo "libcuda: $cuda1 → $W/lib/libcuda.so"
  else
    echo "libcuda: no libcuda.so.1 found (no NVIDIA driver?)"
  fi
  # ILGPU opens OpenCL as libOpenCL.so: the system's ICD loader if any, else the one in the bundle; and if no ICD
  # file names NVIDIA's OpenCL driver although it is there, one of our own (OCL_ICD_VENDORS).
  local ocl1
  ocl1=$(ldconfig -p 2>/dev/null | awk '/libOpenCL\.so\.1 .*x86-64/ { print $NF; exit }')
  [ -z "$ocl1" ] && [ -e "$B/opencl/libOpenCL.so.1" ] && ocl1=$B/opencl/libOpenCL.so.1
  if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL\.so .*x86-64' && [ -n "$ocl1" ]; then
    ln -sf "$ocl1" "$W/lib/libOpenCL.so"
    echo "OpenCL loader: $ocl1 → $W/lib/libOpenCL.so"
  else
    echo "OpenCL loader: ${ocl1:-none} (system libOpenCL.so: $(ldconfig -p | grep -c 'libOpenCL\.so '))"
  fi
  local nvocl
  nvocl=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 .*x86-64/ { print $NF; exit }')
  for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
    [ -z "$nvocl" ] && [ -e "$d/libnvidia-opencl.so.1" ] && nvocl=$d/libnvidia-opencl.so.1
  done
  echo "ICD files: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' ')"
  if [ -n "$nvocl" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    mkdir -p "$W/icd"
    echo "$nvocl" > "$W/icd/nvidia.icd"
    [ -d /etc/OpenCL/vendors ] && cp /etc/OpenCL/vendors/*.icd "$W/icd/" 2>/dev/null
    echo "NVIDIA OpenCL driver: $nvocl, ICD file made in $W/icd (OCL_ICD_VENDORS)"
  else
    echo "NVIDIA OpenCL driver: ${nvocl:-not found}"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
  return 0
}
run_step setup 90 setup
export LD_LIBRARY_PATH=$W/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -d "$W/icd" ] && export OCL_ICD_VENDORS=$W/icd
if [ ! -x "$CLI" ]; then
  echo "run-on-gpu: $CLI missing after setup: see $R/setup.log" >&2
  cat "$R/setup.log" >&2
fi

# --- devices ---------------------------------------------------------------------------------------------------------
run_step devices 40 "$CLI" devices --verbose
if [ -f "$R/devices.log" ]; then
  if grep -i opencl "$R/devices.log" | grep -qi nvidia; then
    grep -i opencl "$R/devices.log" | grep -i nvidia | grep -qE '^opencl:[0-9]+ +yes' \
      && echo "NVIDIA OpenCL: listed, usable by ILGPU" >> "$R/notes.txt" \
      || echo "NVIDIA OpenCL: listed, NOT usable: $(grep -i opencl "$R/devices.log" | grep -i nvidia | head -1)" >> "$R/notes.txt"
  else
    echo "NVIDIA OpenCL: not listed" >> "$R/notes.txt"
  fi
fi

# --- kernel tests ------------------------------------------------------------------------------------------------------
# The xunit.v3 executable; by default the cases of the kernel tests whose device argument is this run's device kind
# (theories list their arguments in the display name only when pre-enumerated: device: "cuda").
tests_exe=$(ls "$B"/tests/IlgpuStyle*.Tests 2>/dev/null | head -1)
if [ -n "$tests_exe" ]; then
  kind=${device%%:*}
  filter=(-preEnumerateTheories -namespace IlgpuStyle.Tests.Kernels -displayName "*\"$kind\"*")
  [ -n "$test_filter" ] && eval "filter=($test_filter)"
  (cd "$B/tests" && run_step tests 210 "$tests_exe" "${filter[@]}" -noColor -reporter verbose -result-xml "$R/tests.xml")
else
  wanted tests && printf '%-18s %-8s %4s %7s  %s\n' tests SKIPPED - - "no test executable in the bundle" | tee -a "$R/steps.txt"
fi

# --- our bench ---------------------------------------------------------------------------------------------------------
run_step bench-kernels 75 --stdout "$R/bench-kernels.json" \
  "$CLI" bench --device "$device" --size "$bench_size" --runs "$runs" --warmup "$warmup" --json --no-iteration

# --- Winograd on the GPU (issue #10): F(4×4, 3×3) and F(2×2, 3×3) with the GPU-shaped shared product, per layer at the
# bench size (the autotuner of bench-kernels also weighs it against the direct kernel; this times it whatever it chose).
# F(4×4) runs with gram=shared (the shared Gram SGEMMs), F(2×2) with the default tiled Gram kernels: both Gram kinds timed.
bench_winograd() {
  local rc=0 wtile tiles
  for wtile in 4 2; do
    tiles=winograd=64,wblock=shared,wtile=$wtile
    [ "$wtile" = 4 ] && tiles=$tiles,gram=shared
    echo "-- ILGPU_STYLE_TILES=$tiles at $bench_size²"
    ILGPU_STYLE_TILES=$tiles "$CLI" bench --device "$device" --size "$bench_size" --runs "$runs" \
      --warmup "$warmup" --json --no-iteration > "$R/bench-winograd-f$wtile.json" || rc=$?
  done
  return $rc
}
export CLI R device runs warmup bench_size
export -f bench_winograd
run_step bench-winograd 45 bench_winograd

# --- The direct convolution as a shared SGEMM (kind=sgemm, Conv2dSharedGemmKernel.cs) on every layer, Winograd off: the
# autotuner weighs it against shared tiles and Winograd; this times it whatever it chose. Small maps spread by narrower
# groups (bench-sgemm.json), then by split-K (ks=2: bench-sgemm-ks2.json).
bench_sgemm() {
  local rc=0 ks tiles
  for ks in 0 2; do
    tiles=kind=sgemm,gx=16,gy=16,winograd=0,ks=$ks
    echo "-- ILGPU_STYLE_TILES=$tiles at $bench_size²"
    ILGPU_STYLE_TILES=$tiles "$CLI" bench --device "$device" --size "$bench_size" --runs "$runs" \
      --warmup "$warmup" --json --no-iteration > "$R/bench-sgemm$([ "$ks" = 0 ] || echo "-ks$ks").json" || rc=$?
  done
  return $rc
}
export -f bench_sgemm
run_step bench-sgemm 50 bench_sgemm

# --- TF32 tensor cores (issue #11): kind=tf32 per layer beside FP32, then one whole iteration ---------------------------
# File names: bench-tf32-gx2-gy2-gramtf32-1024.json (kind=tf32,gx=2,gy=2,ci=8,gram=tf32 at 1024²: TF32 conv and Gram
# forward), bench-fp32-1024.json (the device's plan).
tf32_label() { echo "$1" | sed 's/kind=//; s/,ci=[0-9]*//; s/gx=/gx/; s/gy=/gy/; s/gram=/gram/; s/async=/async/g; s/bar=/bar/; s/ks=/ks/; s/,/-/g'; }
bench_tf32() {
  local rc=0 size tiles variants sizes
  [ "$tf32_tiles" = none ] && { echo "no --tf32-tiles"; return 0; }
  IFS=';' read -ra variants <<< "$tf32_tiles"
  IFS=, read -ra sizes <<< "$tf32_sizes"
  for size in "${sizes[@]}"; do
    if [ "$size" != "$bench_size" ]; then
      echo "-- FP32 (the device's plan) at $size²"
      "$CLI" bench --device "$device" --size "$size" --runs "$runs" --warmup "$warmup" --json --no-iteration \
        > "$R/bench-fp32-$size.json" || rc=$?
    fi
    for tiles in "${variants[@]}"; do
      echo "-- ILGPU_STYLE_TILES=$tiles at $size²"
      ILGPU_STYLE_TILES=$tiles "$CLI" bench --device "$device" --size "$size" --runs "$runs" --warmup "$warmup" \
        --json --no-iteration > "$R/bench-$(tf32_label "$tiles")-$size.json" || rc=$?
    done
  done
  return $rc
}
export CLI R device runs warmup bench_size tf32_tiles tf32_sizes
export -f tf32_label
run_step bench-tf32 120 bench_tf32
# --profile: after the timed iterations one more evaluation op by op (the device synchronized after each op), so the
# summary can say where an iteration's time goes besides the convolutions (#11: 1024² TF32 at 1.34× PyTorch's time).
run_step bench-iteration 100 --stdout "$R/bench-iteration.json" \
  "$CLI" bench --device "$device" --no-kernels --iteration-sizes "$iteration_sizes" --runs "$runs" \
  --warmup "$warmup" --lbfgs-history 5 --weights "$ILGPU_STYLE_WEIGHTS" --profile --json

# The whole iteration as a user gets it with --precision tf32: the tuned plan, then the tensor-core kinds (Winograd off)
# with their own tuned blocking (Autotuner.ApplyTensorCores: timed once per device and precision, then cached) — which
# autotune-tf32 makes first on a tiny bench, so its log has the tuning's choice and time and the iteration is not timed
# with it. Until 2026-12-04 this step ran the first --tf32-tiles value, a plan the product never chooses by itself.
tiny_bench() {   # tiny_bench PRECISION: a bench of conv1_1 at 64², which tunes and caches that precision's plan on its first run
  "$CLI" bench --device "$device" --precision "$1" --size 64 --layers conv1_1 --runs 1 --warmup 0 --no-iteration
}
export -f tiny_bench
if [ "$tf32_tiles" != none ]; then   # --tf32-tiles none turns the TF32 bench steps off (bench/gpu/README.md)
  run_step autotune-tf32 90 tiny_bench tf32
  run_step bench-iteration-tf32 60 --stdout "$R/bench-iteration-tf32.json" \
    "$CLI" bench --device "$device" --precision tf32 --no-kernels --iteration-sizes "$iteration_sizes" --runs "$runs" \
    --warmup "$warmup" --lbfgs-history 5 --weights "$ILGPU_STYLE_WEIGHTS" --profile --json
fi

# --- the PyTorch yardstick ---------------------------------------------------------------------------------------------
python=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import torch' 2>/dev/null; then python=$p; break; fi
done
for math in fp32 default; do
  if [ -n "$python" ]; then
    run_step "torch-$math" 75 --stdout "$R/torch-$math.json" \
      "$python" bench/gpu/torch_yardstick.py --device "$torch_device" --weights "$ILGPU_STYLE_WEIGHTS" --math "$math" \
      --size "$bench_size" --iteration-sizes "$torch_sizes" --runs "$runs" --warmup "$warmup" --lbfgs-history 5
  else
    wanted "torch-$math" && printf '%-18s %-8s %4s %7s  %s\n' "torch-$math" SKIPPED - - "no python3 with torch" | tee -a "$R/steps.txt"
  fi
done
ours=()
for f in "$R/bench-kernels.json" "$R/bench-iteration.json"; do [ -s "$f" ] && ours+=("$f"); done
theirs=()
for f in "$R/torch-fp32.json" "$R/torch-default.json"; do [ -s "$f" ] && theirs+=("$f"); done
if [ ${#ours[@]} -gt 0 ] && [ ${#theirs[@]} -gt 0 ]; then
  run_step compare 20 --stdout "$R/compare.txt" "${python:-python3}" bench/gpu/compare.py --ours "${ours[@]}" --torch "${theirs[@]}"
  cp "$R/compare.txt" "$OUT/compare.txt"
else
  wanted compare && printf '%-18s %-8s %4s %7s  %s\n' compare SKIPPED - - "nothing to compare" | tee -a "$R/steps.txt"
fi

# kind=sgemm with split-K for the small maps against without it and against the tuned plan (compare.py takes any bench
# JSON as a yardstick; a ratio below 1: ks=2 is faster) → compare-sgemm.txt, also in summary.txt.
if wanted compare-sgemm && [ -s "$R/bench-sgemm.json" ] && [ -s "$R/bench-sgemm-ks2.json" ]; then
  compare_sgemm() {
    local yard=(bench-sgemm.json)
    [ -s "$R/bench-kernels.json" ] && yard+=(bench-kernels.json)
    cd "$R" && "${python:-python3}" "$repo/bench/gpu/compare.py" --ours bench-sgemm-ks2.json --torch "${yard[@]}"
  }
  export python repo
  export -f compare_sgemm
  run_step compare-sgemm 20 --stdout "$R/compare-sgemm.txt" compare_sgemm
fi

# TF32 and BF16 against PyTorch (both math modes) and our FP32 at the bench size, and against our FP32 at the other sizes
# (compare.py takes any bench JSON as a yardstick; its column is named after the file).
if wanted compare-tf32 && ls "$R"/bench-tf32-*.json >/dev/null 2>&1; then
  compare_tf32() {
    local f size base rc=0
    for f in "$R"/bench-tf32-*.json "$R"/bench-bf16-*.json; do
      [ -s "$f" ] || continue
      size=${f##*-}; size=${size%.json}
      if [ "$size" = "$bench_size" ]; then base=$R/bench-kernels.json; else base=$R/bench-fp32-$size.json; fi
      local yard=()
      for y in torch-fp32.json torch-default.json "$(basename "$base")"; do [ -s "$R/$y" ] && yard+=("$y"); done
      [ "$size" != "$bench_size" ] && yard=("$(basename "$base")")
      echo "# $(basename "$f")"
      (cd "$R" && "${python:-python3}" "$repo/bench/gpu/compare.py" --ours "$(basename "$f")" --torch "${yard[@]}") || rc=$?
      echo
    done
    return $rc
  }
  export python repo
  export -f compare_tf32
  run_step compare-tf32 30 --stdout "$R/compare-tf32.txt" compare_tf32
  cp "$R/compare-tf32.txt" "$OUT/compare-tf32.txt"
fi

# --- stylize with defaults, timed ------------------------------------------------------------------------------------
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
# stylize_step STEP SIZE CAP OUTPUT [VAR=VALUE…] [-- OPTION…]: the default stylization of tubingen × starry night at SIZE,
# timed, in the environment given, with the stylize options after -- (--precision tf32); its report is $R/STEP.jsonl.
stylize_step() {
  local step=$1 size=$2 cap=$3 output=$4 vars=() options=()
  shift 4
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ "${1:-}" = -- ] && { shift; options=("$@"); }
  # shellcheck disable=SC2086
  run_step "$step" "$cap" env "${vars[@]}" "${timer[@]}" "$CLI" stylize --device "$device" "${options[@]}" \
    --content "$B/images/tubingen.jpg" --style "$B/images/starry_night.jpg" --size "$size" $stylize_args \
    --output "$output" --report "$R/$step.jsonl" --print-every 50
}
IFS=, read -ra sizes <<< "$stylize_sizes"
warm_sizes=()
[ "$warm_stylize_sizes" != none ] && IFS=, read -ra warm_sizes <<< "$warm_stylize_sizes"
fresh_sizes=()
[ "$fresh_stylize_sizes" != none ] && IFS=, read -ra fresh_sizes <<< "$fresh_stylize_sizes"
for s in "${sizes[@]}"; do
  cap=$(( 40 + s * s / 8000 ))   # 512: 72 s, 1024: 171 s (targets: 20 s and 60 s)
  if [[ " ${fresh_sizes[*]} " == *" $s "* ]]; then
    # A fresh machine's first run with defaults (FP32): its own empty tuning-plan file, PTX cache and driver cache (#11's
    # "default 512 px stylization under 10 s wall, start-up and kernel compilation included"; the tuning ~10 s of it
    # on the H200 in stop 45).
    stylize_step "stylize-$s-fresh" "$s" $(( cap + 30 )) "$R/tubingen_starry_${s}_fresh.png" ILGPU_STYLE_KERNEL_CACHE="$W/ptx-fresh-$s" \
      ILGPU_STYLE_TUNING_CACHE="$W/tuning-fresh-fp32-$s/tuning-plans.json" CUDA_CACHE_PATH="$W/nv-fresh-$s"
  fi
  cold=
  [[ " ${warm_sizes[*]} " == *" $s "* ]] && cold=$W/ptx-cold-$s
  # A cold run (its own empty PTX cache) gets an empty driver cache too: the driver's JIT of every kernel is a first run's.
  cold_env=()
  [ -n "$cold" ] && cold_env=(CUDA_CACHE_PATH="$W/nv-cold-$s")
  stylize_step "stylize-$s" "$s" "$cap" "$OUT/tubingen_starry_$s.png" ILGPU_STYLE_KERNEL_CACHE="${cold:-$ILGPU_STYLE_KERNEL_CACHE}" "${cold_env[@]}"
  if [ -n "$cold" ]; then
    # The same run again on the PTX the first one stored: the output must be the same picture.
    stylize_step "stylize-$s-warm" "$s" "$cap" "$R/tubingen_starry_${s}_warm.png" ILGPU_STYLE_KERNEL_CACHE="$cold"
    if [ -f "$OUT/tubingen_starry_$s.png" ] && [ -f "$R/tubingen_starry_${s}_warm.png" ]; then
      cmp -s "$OUT/tubingen_starry_$s.png" "$R/tubingen_starry_${s}_warm.png" \
        && echo "stylize $s: the warm run (PTX from the cache, $(ls "$cold" 2>/dev/null | wc -l) files) wrote the same bytes" >> "$R/notes.txt" \
        || echo "stylize $s: the warm run (PTX from the cache) wrote DIFFERENT bytes" >> "$R/notes.txt"
    fi
  fi
done

# --- compute-sanitizer memcheck on one small stylization ------------------------------------------------------------
# The tunings first (FP32's and --precision tf32's; cached after the first time), untimed, so the sanitizer checks the
# stylization's kernels, not a tuning's (the tuning shapes of a 512 px image would take minutes under memcheck).
pretune() {   # pretune PRECISION…: tiny_bench per precision, quietly (its errors to pretune.log); non-zero if one failed
  local p rc=0
  for p in "$@"; do
    timeout -k 10 120 bash -c 'tiny_bench "$1"' _ "$p" > /dev/null 2>> "$R/pretune.log" || rc=$?
  done
  return $rc
}
export -f pretune
if wanted memcheck || wanted memcheck-tf32; then pretune fp32 tf32; fi
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer \
  /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -1)
memcheck=("$CLI" stylize --device "$device" --content "$B/images/tubingen.jpg" --style "$B/images/starry_night.jpg"
          --size 64 --scales 1 --iterations 2 --output "$R/memcheck.png" --print-every 1)
if [ -n "$sanitizer" ] && [[ "$device" == cuda* ]]; then
  # GLIBC_TUNABLES names the huge-pages tunable, so the CLI does not restart itself (src/Cli/HugePagesRestart.cs): the
  # sanitizer follows only the process it started, which would exit before any CUDA call ("Target application
  # terminated before first instrumented API call", H200, 2026-12-04). memcheck-tf32: --precision tf32's tensor-core
  # kernels (register-staged, fragment-order weights; the cp.async variants only through ILGPU_STYLE_TILES) under the same check.
  run_step memcheck 90 env GLIBC_TUNABLES=glibc.malloc.hugetlb=0 \
    "$sanitizer" --tool memcheck --error-exitcode 9 --print-limit 30 "${memcheck[@]}"
  run_step memcheck-tf32 90 env GLIBC_TUNABLES=glibc.malloc.hugetlb=0 \
    "$sanitizer" --tool memcheck --error-exitcode 9 --print-limit 30 "${memcheck[@]/%memcheck.png/memcheck-tf32.png}" \
    --precision tf32
else
  wanted memcheck && echo "memcheck: no compute-sanitizer or device $device: the same stylization without it" >> "$R/notes.txt"
  run_step memcheck 90 "${memcheck[@]}"
fi

# --- TF32 vs FP32 pictures (issue #11) -------------------------------------------------------------------------------
# The FP32 losses of a picture: iteration 0 of a one-iteration FP32 run started from it (the report's first line),
# with the default loss options (--stylize-args is not passed: it sets iterations and scales in rehearsals).
fp32_losses() {   # fp32_losses SIZE [PRECISION…]: one line per precision (default fp32 tf32)
  local s=$1 p img precisions
  shift
  precisions=("$@")
  [ ${#precisions[@]} -eq 0 ] && precisions=(fp32 tf32)
  for p in "${precisions[@]}"; do
    img=$OUT/tubingen_starry_${s}.png
    [ "$p" != fp32 ] && img=$OUT/tubingen_starry_${s}_$p.png
    [ -f "$img" ] || { echo "$p: no picture"; continue; }
    "$CLI" stylize --device "$device" --content "$B/images/tubingen.jpg" --style "$B/images/starry_night.jpg" \
      --size "$s" --scales 1 --iterations 1 --init "$img" --precision fp32 --quiet \
      --output "$R/losses-$p-$s.png" --report "$R/losses-$p-$s.jsonl" || return $?
    echo "$p picture, FP32 losses: $(head -1 "$R/losses-$p-$s.jsonl")"
  done
}
export -f fp32_losses
tf32_stylize=()
if [ "$tf32_stylize_sizes" != none ]; then
  IFS=, read -ra tf32_stylize <<< "$tf32_stylize_sizes"
  # stylize_tf32 STEP SIZE CAP OUTPUT [VAR=VALUE…]: stylize_step with --precision tf32.
  stylize_tf32() { local step=$1 size=$2 cap=$3 output=$4; shift 4; stylize_step "$step" "$size" "$cap" "$output" "$@" -- --precision tf32; }
  # A fresh machine's first run: its own empty tuning-plan file and PTX cache, so the tensor-core tuning (--precision
  # tf32 skips the FP32 one) and every kernel load are in the wall time (the runs below find the plans cached by autotune-tf32).
  s=${tf32_stylize[0]}
  # CUDA_CACHE_PATH: an empty driver cache too, so the driver's JIT of every kernel's PTX is timed (the earlier steps
  # filled ~/.nv/ComputeCache with the same PTX; a fresh machine's is empty).
  stylize_tf32 "stylize-tf32-$s-fresh" "$s" $(( 100 + s * s / 8000 )) "$R/tubingen_starry_${s}_tf32_fresh.png" \
    ILGPU_STYLE_KERNEL_CACHE="$W/ptx-fresh-tf32" ILGPU_STYLE_TUNING_CACHE="$W/tuning-fresh/tuning-plans.json" \
    CUDA_CACHE_PATH="$W/nv-fresh-tf32"
  # The same without the bundle's shipped PTX (cli/ptx, `ilgpu-style kernels precompile`): ILGPU compiles every kernel,
  # as after a `dotnet build`; on the fresh run's tuning plans, so the picture must be the same bytes.
  stylize_tf32 "stylize-tf32-$s-unshipped" "$s" $(( 100 + s * s / 8000 )) "$R/tubingen_starry_${s}_tf32_unshipped.png" \
    ILGPU_STYLE_KERNEL_CACHE="$W/ptx-unshipped-tf32" ILGPU_STYLE_TUNING_CACHE="$W/tuning-fresh/tuning-plans.json" \
    ILGPU_STYLE_SHIPPED_KERNELS=off CUDA_CACHE_PATH="$W/nv-unshipped-tf32"
  if [ -f "$R/tubingen_starry_${s}_tf32_fresh.png" ] && [ -f "$R/tubingen_starry_${s}_tf32_unshipped.png" ]; then
    cmp -s "$R/tubingen_starry_${s}_tf32_fresh.png" "$R/tubingen_starry_${s}_tf32_unshipped.png" \
      && echo "stylize tf32 $s: shipped PTX and ILGPU's own compilation wrote the same bytes" >> "$R/notes.txt" \
      || echo "stylize tf32 $s: shipped PTX and ILGPU's own compilation wrote DIFFERENT bytes" >> "$R/notes.txt"
  fi
  for s in "${tf32_stylize[@]}"; do
    wanted "stylize-tf32-$s" && pretune tf32   # cached by autotune-tf32 in a full run; alone, the tuning is not timed
    stylize_tf32 "stylize-tf32-$s" "$s" $(( 40 + s * s / 8000 )) "$OUT/tubingen_starry_${s}_tf32.png"
    run_step "losses-$s" 60 --stdout "$R/precision-losses-$s.txt" fp32_losses "$s"
  done
fi
# BF16 (since stop 55 its stages are 16 channels packed in pairs): the same stylization with --precision bf16 on its
# default blocking (--autotune off: no BF16 tuning in the wall time or the device budget), then the FP32 losses of its
# picture (losses-bf16-<size>), beside TF32's and FP32's: BF16 rounds to 8 significant bits, TF32 to 11.
bf16_stylize=()
[ "$bf16_stylize_sizes" != none ] && IFS=, read -ra bf16_stylize <<< "$bf16_stylize_sizes"
for s in "${bf16_stylize[@]}"; do
  stylize_step "stylize-bf16-$s" "$s" $(( 40 + s * s / 8000 )) "$OUT/tubingen_starry_${s}_bf16.png" -- --precision bf16 --autotune off
  run_step "losses-bf16-$s" 60 --stdout "$R/precision-losses-bf16-$s.txt" fp32_losses "$s" bf16
done

# --- this build's PTX under the machine's own ptxas (issue #11), last: it only reports ---------------------------------
# PtxasTests' sm_90 case with the GPU machine's ptxas (CUDA 13) instead of the offline CUDA 12.4 one, for the
# tensor-core kernels only (ILGPU_STYLE_PTX_ONLY; ~30 s): registers, spills and stack per kernel. Any cp.async in a
# kernel makes ptxas 12.4 keep ILGPU's inline-asm operand slots in local memory, so the library loads those kernels
# with the slots rewritten into registers (RewrittenPtxKernels) and the test assembles that text and fails on any stack
# left; this says whether the driver's newer ptxas agrees.
ptxas_bin=$(command -v ptxas || ls /usr/local/cuda*/bin/ptxas 2>/dev/null | head -1)
if [ -n "$tests_exe" ] && [ -n "$ptxas_bin" ]; then
  (cd "$B/tests" && ILGPU_STYLE_PTXAS=$ptxas_bin ILGPU_STYLE_PTX_ONLY=TensorCore run_step ptxas 60 "$tests_exe" -preEnumerateTheories \
    -method "*EveryGpuKernelAssemblesWithoutSpillsInTheHotKernels" -displayName '*"sm_90"*' -showLiveOutput -noColor)
fi

# --- Nsight Compute (opt-in, see the top): each kernel of the per-layer bench against the GPU's limits ------------------
ncu_bin=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
ncu_profile() {
  local rc=0 variant variants
  [ -n "$ncu_bin" ] || { echo "no ncu on this machine"; return 1; }
  "$ncu_bin" --version
  # The plans of this machine: bench-kernels and autotune-tf32 tuned them earlier in a full run; alone (--only ncu), a
  # small untimed bench per precision tunes and caches them first, so that the profiled run neither tunes nor profiles
  # the tuner's kernels.
  IFS=';' read -ra variants <<< "$ncu_variants"
  pretune "${variants[@]}" || rc=$?
  # The sections: throughput, occupancy, stalls, pipes; SchedulerStats (cycles without an eligible warp) and
  # MemoryWorkloadAnalysis_Tables (shared-memory bank conflicts) where this ncu has them (an unknown name fails ncu).
  local sections=(--section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis) known extra
  known=$("$ncu_bin" --list-sections 2>/dev/null)
  for extra in SchedulerStats MemoryWorkloadAnalysis_Tables; do
    grep -qw "$extra" <<< "$known" && sections+=(--section "$extra") || echo "ncu has no section $extra; left out"
  done
  # Instructions executed, all and on the tensor pipe: the SASS instructions per mma the offline counts estimate
  # (doc/PERFORMANCE.md, stops 40–46), where this ncu knows both metrics on this chip.
  local metrics=() query
  query=$("$ncu_bin" --query-metrics 2>/dev/null)
  if grep -qw smsp__inst_executed <<< "$query" && grep -qw smsp__inst_executed_pipe_tensor_op_hmma <<< "$query"; then
    metrics=(--metrics smsp__inst_executed.sum,smsp__inst_executed_pipe_tensor_op_hmma.sum)
  else
    echo "ncu lists no smsp__inst_executed_pipe_tensor_op_hmma here; instructions per mma left out"
  fi
  for variant in "${variants[@]}"; do
    echo "-- ncu, --precision $variant, $ncu_layers at $bench_size²"
    # --clock-control none: the device's own clocks (the device README); GLIBC_TUNABLES set: no restart of the CLI
    # for huge pages (src/Cli/HugePagesRestart.cs), one process to follow.
    GLIBC_TUNABLES=glibc.malloc.hugetlb=0 "$ncu_bin" --clock-control none --target-processes all \
      "${sections[@]}" "${metrics[@]}" --launch-count "$ncu_launches" \
      -f -o "$W/ncu/ncu-$variant" \
      "$CLI" bench --device "$device" --precision "$variant" --size "$bench_size" --layers "$ncu_layers" \
      --runs 1 --warmup 0 --no-iteration || { rc=$?; continue; }
    "$ncu_bin" --import "$W/ncu/ncu-$variant.ncu-rep" --csv --page details > "$R/ncu-$variant-details.csv" || rc=$?
    "$ncu_bin" --import "$W/ncu/ncu-$variant.ncu-rep" --csv --page raw > "$R/ncu-$variant-raw.csv" || rc=$?
    # the report itself travels when small (results.tar.gz must stay under the 16 MiB a returned file may have)
    [ "$(stat -c %s "$W/ncu/ncu-$variant.ncu-rep")" -lt 4000000 ] && cp "$W/ncu/ncu-$variant.ncu-rep" "$R/"
    "${python:-python3}" "$repo/bench/gpu/ncu_summary.py" --details "$R/ncu-$variant-details.csv" \
      --raw "$R/ncu-$variant-raw.csv" > "$R/ncu-$variant.txt" || rc=$?
  done
  return $rc
}
mkdir -p "$W/ncu"
export ncu_bin ncu_variants ncu_layers ncu_launches python repo W
export -f ncu_profile
run_step ncu 240 ncu_profile

# --- pack and summarize -----------------------------------------------------------------------------------------------
run_facts() {   # run_facts LOG: a timed run's "wrote …" line, its kernels' compile time (a first run's), wall clock and peak RSS (/usr/bin/time -v), on one line
  grep -hE '^wrote|^kernels:|^prewarm:|Elapsed \(wall|Maximum resident' "$1" | tr -s ' \t' ' ' | tr '\n' ';'
}
{
  echo "run-on-gpu: device $device, $(elapsed)s of the ${deadline}s deadline, $(date -u +%FT%TZ)"
  head -4 "$B/MANIFEST.txt" 2>/dev/null
  grep -A1 '^name, driver_version' "$R/setup.log" 2>/dev/null | tail -1 | sed 's/^/GPU: /'
  echo
  printf '%-18s %-8s %4s %8s  %s\n' step status rc seconds "end of its log"
  cat "$R/steps.txt"
  echo
  cat "$R/notes.txt" 2>/dev/null
  # Each target of issues #10 and #11: measured, met / missed by how much / not measured, and the command behind it.
  echo
  "${python:-python3}" "$repo/bench/gpu/targets.py" "$R" 2>&1 || echo "targets.py failed"
  echo
  for f in "$R"/bench-fp32-*.json "$R"/bench-kernels.json "$R"/bench-winograd-*.json "$R"/bench-sgemm*.json "$R"/bench-tf32-*.json; do
    [ -s "$f" ] || continue
    "${python:-python3}" - "$f" <<'PY' 2>/dev/null
import json, sys
k = json.load(open(sys.argv[1])).get("kernels") or {}
print("%s: %s at %s²: VGG conv forward %.3f ms, backward-data %.3f ms" % (sys.argv[1].split("/")[-1], k.get("plan"),
      k.get("size"), k.get("vggForwardMs") or 0, k.get("vggBackwardDataMs") or 0))
PY
  done
  [ -s "$R/compare-sgemm.txt" ] && { echo "kind=sgemm with ks=2 / without (bench-sgemm) and / the tuned plan (bench-kernels):"; cat "$R/compare-sgemm.txt"; echo; }
  grep -hE 'Total: [0-9]+' "$R/tests.log" 2>/dev/null | tail -1 | sed 's/^ */tests: /'
  grep -h '\[FAIL\]' "$R/tests.log" 2>/dev/null | head -20
  for s in "${fresh_sizes[@]/%/-fresh}" "${sizes[@]}" "${warm_sizes[@]/%/-warm}"; do
    [ -f "$R/stylize-$s.log" ] && echo "stylize $s: $(run_facts "$R/stylize-$s.log")"
  done
  # Where the start-up goes (issue #11's 10 s includes it): the report's clock at each scale's first evaluation.
  for f in "$R"/stylize-*.jsonl; do
    [ -s "$f" ] || continue
    "${python:-python3}" - "$f" <<'PY' 2>/dev/null
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
firsts = ["scale %s at %.2f s" % (r["scale"], r["seconds"]) for r in rows if r.get("iteration") == 0 and "seconds" in r]
end = [r["seconds"] for r in rows if "output" in r and "seconds" in r]
print("%s: first evaluation of %s; done at %s s" % (sys.argv[1].split("/")[-1], ", ".join(firsts), end[-1] if end else "?"))
PY
  done
  [ -n "${tf32_stylize[0]:-}" ] && [ -f "$R/stylize-tf32-${tf32_stylize[0]}-fresh.log" ] \
    && echo "stylize tf32 ${tf32_stylize[0]}, fresh caches (tunings and compilation included): $(run_facts "$R/stylize-tf32-${tf32_stylize[0]}-fresh.log")"
  [ -n "${tf32_stylize[0]:-}" ] && [ -f "$R/stylize-tf32-${tf32_stylize[0]}-unshipped.log" ] \
    && echo "stylize tf32 ${tf32_stylize[0]}, no shipped PTX (ILGPU compiles every kernel; tunings cached): $(run_facts "$R/stylize-tf32-${tf32_stylize[0]}-unshipped.log")"
  for s in "${tf32_stylize[@]}"; do
    [ -f "$R/stylize-tf32-$s.log" ] && echo "stylize tf32 $s: $(run_facts "$R/stylize-tf32-$s.log")"
    [ -f "$R/precision-losses-$s.txt" ] && sed "s/^/$s px, /" "$R/precision-losses-$s.txt"
  done
  for s in "${bf16_stylize[@]}"; do
    [ -f "$R/stylize-bf16-$s.log" ] && echo "stylize bf16 $s (default blocking, no tuning): $(run_facts "$R/stylize-bf16-$s.log")"
    [ -f "$R/precision-losses-bf16-$s.txt" ] && sed "s/^/$s px, /" "$R/precision-losses-bf16-$s.txt"
  done
  # Where an iteration goes, op by op (bench --profile: one evaluation, synchronized after each op), FP32 and TF32.
  for f in "$R"/bench-iteration.json "$R"/bench-iteration-tf32.json; do
    [ -s "$f" ] || continue
    "${python:-python3}" - "$f" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
for t in (d.get("iteration") or {}).get("timings") or []:
    ops = t.get("ops") or []
    if not ops:
        continue
    total = sum(o["totalMs"] for o in ops) or 1
    parts = ", ".join("%s %.2f (%.0f%%)" % (o["op"], o["totalMs"], 100 * o["totalMs"] / total)
                      for o in sorted(ops, key=lambda o: -o["totalMs"]))
    print("%s %s×%s: one evaluation op by op, ms: %s; %.2f on the tape, %.2f in all (median iteration %.2f)" % (
        sys.argv[1].split("/")[-1], t["size"], t.get("height") or t["size"], parts, total,
        t.get("profiledEvaluationMs") or 0, 1000 * t["medianSeconds"]))
PY
  done
  # The tensor-core blocking the tuner chose (autotune-tf32, or the first pretune): its plan line and times.
  grep -hE '^tuning plan' "$R/autotune-tf32.log" 2>/dev/null | tail -1 | sed 's/^/autotune-tf32: /'
  for m in memcheck memcheck-tf32; do
    [ -f "$R/$m.log" ] && echo "$m: $(grep -hE 'ERROR SUMMARY|wrote' "$R/$m.log" | tr '\n' ';')"
  done
  [ -f "$R/ptxas.log" ] && grep -hE '\[OUTPUT\] (ptxas |PTX sm_90 +\*(Conv2d\.TensorCore|Gram\.(Forward|Backward)TensorCore))' "$R/ptxas.log" \
    | sed 's/.*\[OUTPUT\] //; s/^/ptxas (this machine): /'
  for f in "$R"/ncu-*.txt; do
    [ -s "$f" ] && { echo; echo "== $(basename "$f" .txt) (Nsight Compute; bench/gpu/ncu_summary.py)"; cat "$f"; }
  done
} > "$OUT/summary.txt"
cp "$R/steps.txt" "$R/summary.txt" 2>/dev/null
tar -czf "$OUT/results.tar.gz" -C "$W" results
[ -f "$OUT/compare.txt" ] && cat "$OUT/compare.txt"
echo
cat "$OUT/summary.txt"
echo
echo "files in \$OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
rm -rf "$W"
