#!/usr/bin/env bash
# AFL++ over the readers of untrusted files (SharpFuzz harnesses in tests/IlgpuStyle.Fuzz):
#   .ci/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET…]      targets: ilgw tfjs pth caffe image (default: all five)
#   FUZZ_JOBS=N: targets fuzzed at once (default: the number of cores)
# Installs afl++ if missing (apt-get), publishes the harness, instruments IlgpuStyle.Network.dll and
# IlgpuStyle.Stylize.dll with the `sharpfuzz` tool, then runs afl-fuzz on each target for the budget, starting from
# the committed seed corpus (tests/IlgpuStyle.Fuzz/corpus/TARGET). Fails when any target found a crash or a hang,
# printing each input's path and the exception it raises. Findings stay in $FUZZ_WORK (default /tmp/ilgpu-style-fuzz).
# A crash becomes a regression test in tests/IlgpuStyle.Tests/Weights/FuzzRegressionTests.cs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
budget=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ilgw tfjs pth caffe image)
work=${FUZZ_WORK:-/tmp/ilgpu-style-fuzz}

if ! command -v afl-fuzz >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q afl++
fi
tools="$work/tools"
[ -x "$tools/sharpfuzz" ] || dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0

# A fresh copy each time: sharpfuzz rewrites the assemblies in place.
bin="$work/bin"
rm -rf "$bin"
dotnet publish tests/IlgpuStyle.Fuzz -c Release -o "$bin" -v quiet -nologo
# Crashes are replayed on an uninstrumented copy (instrumented code needs afl's shared memory).
rm -rf "$bin-replay" && cp -r "$bin" "$bin-replay"
for dll in IlgpuStyle.Network.dll IlgpuStyle.Stylize.dll; do "$tools/sharpfuzz" "$bin/$dll"; done

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export AFL_SKIP_CRASHES=1 AFL_IGNORE_SEED_PROBLEMS=1
# One afl-fuzz per core at a time (afl-fuzz runs on one core): with 2 cores the four targets take 2 × the budget instead
# of 4 ×, each still fuzzed for the whole budget. Each target's lines are printed together, in target order.
fuzz_one() {
    local t=$1 out="$work/findings/$1" status=0
    rm -rf "$out"
    mkdir -p "$out"
    {
        echo "== fuzzing $t for ${budget}s"
        # -t: a hang is an input that takes more than 5 s (the runtime's first start is not timed); -m none: .NET reserves
        # far more virtual memory than afl's default limit.
        if ! afl-fuzz -i "tests/IlgpuStyle.Fuzz/corpus/$t" -o "$out" -t 5000 -m none -V "$budget" -- dotnet "$bin/IlgpuStyle.Fuzz.dll" "$t" \
            > "$out/afl.log" 2>&1; then
            echo "afl-fuzz failed on $t:"; tail -30 "$out/afl.log"; status=1
        else
            grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs) ' "$out/default/fuzzer_stats" \
                | tr -s ' ' | paste -sd' ' | sed "s/^/$t: /"
            for kind in crashes hangs; do
                for f in "$out/default/$kind"/id:*; do
                    [ -e "$f" ] || continue
                    status=1
                    echo "$t: $kind input $f"
                    timeout 30 dotnet "$bin-replay/IlgpuStyle.Fuzz.dll" "$t" --replay "$f" 2>&1 | head -20 || true
                done
            done
        fi
    } > "$work/report-$t.txt" 2>&1
    echo "$status" > "$work/status-$t"
}
jobs_max=${FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    rm -f "$work/status-$t"
    fuzz_one "$t" &
done
wait
failed=0
for t in "${targets[@]}"; do
    cat "$work/report-$t.txt"
    [ "$(cat "$work/status-$t" 2>/dev/null)" = 0 ] || failed=1
done
if [ $failed != 0 ]; then echo "fuzzing found crashes or hangs, or afl-fuzz failed (inputs above; findings in $work/findings)"; exit 1; fi
echo "fuzzing: no crash, no hang in ${budget}s per target (${targets[*]})"
