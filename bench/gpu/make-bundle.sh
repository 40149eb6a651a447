#!/usr/bin/env bash
# Packs everything the GPU machine needs and does not have (it has no .NET SDK, no network, no ../shared) into
# one file, .gpu/bundle.tar.xz, that travels with the repository to the device machine (`carry: [".gpu"]`):
#
#   bundle/cli/       ilgpu-style, self-contained linux-x64 publish (runs without .NET installed), with cli/ptx: the
#                     PTX of every CUDA kernel variant for --ptx-arch (`ilgpu-style kernels precompile`; ~1.3 MiB packed
#                     for sm_90), so the GPU run's first CUDA run reads its kernels instead of waiting for ILGPU's compiler
#   bundle/tests/     the kernel-test executable, self-contained (only if the test project is an xunit.v3 exe)
#   bundle/weights/   vgg19.ilgw converted from ../shared/vgg19 (f32 by default: the values stylize uses)
#   bundle/images/    tubingen.jpg, starry_night.jpg
#   bundle/opencl/    this machine's OpenCL ICD loader (libOpenCL.so.1), for GPU machines that lack one
#   bundle/MANIFEST.txt
#
# Files identical in cli/ and tests/ (the .NET runtime) are hard links, stored once in the tar.
# .gpu/ is added to .git/info/exclude (not .gitignore): it is this checkout's scratch, never committed.
# The script fails if the bundle plus the repository's tracked files exceed the device tool's 64 MiB.
#
# --ready-to-run: the CLI and the test executable both precompiled (ReadyToRun), so the GPU run's start-up does not
# wait for the JIT of ILGPU's compiler; their shared assemblies stay identical and are stored once. 65.9 MiB travels
# with f32 weights, 61.6 MiB with `--weights-dtype f16` (2026-12-02; the weights' source is mostly uint8-quantized);
# 58.8 MiB with f16 weights on 2026-12-04 (xz -9, the VSTest assemblies left out).
#
# usage: bench/gpu/make-bundle.sh [--out DIR] [--trim] [--ready-to-run] [--tests-project DIR | --no-tests]
#                                 [--weights-dtype f32|f16] [--vgg19 DIR] [--images DIR] [--ptx-arch sm_90[,sm_80] | none]
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
repo=$PWD

out=.gpu
trim=0
ready_to_run=false
tests_project=tests/IlgpuStyle.Tests
weights_dtype=f32
vgg19=../shared/vgg19
images=../shared/images
ptx_arch=sm_90   # the lent GPUs (H100, H200)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --trim) trim=1; shift ;;
    --ready-to-run) ready_to_run=true; shift ;;
    --tests-project) tests_project=$2; shift 2 ;;
    --no-tests) tests_project=; shift ;;
    --weights-dtype) weights_dtype=$2; shift 2 ;;
    --vgg19) vgg19=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --ptx-arch) ptx_arch=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-bundle: unknown argument $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

case "$out" in
  /*) ;;   # outside the repository: nothing to ignore (and it does not travel)
  *) exclude=$(git rev-parse --git-path info/exclude)
     mkdir -p "$(dirname "$exclude")"
     grep -qxF "/${out%/}/" "$exclude" 2>/dev/null || echo "/${out%/}/" >> "$exclude" ;;
esac

stage=$out/stage/bundle
rm -rf "$out/stage"
mkdir -p "$stage"/{cli,weights,images}

# --- the CLI -----------------------------------------------------------------------------------------------------
# ReadyToRun only with --ready-to-run (src/Cli's csproj makes runtime-specific publishes ReadyToRun): the test
# executable is then precompiled too, or the two would no longer share their assemblies and the bundle outgrows the
# 64 MiB a device call carries (64.7 MiB measured with only the CLI precompiled, 2026-11-30). Without it the GPU run's
# start-up includes the JIT, as a `dotnet build` does.
publish=(-c Release -r linux-x64 --self-contained -nologo -v quiet -p:SatelliteResourceLanguages=en -p:PublishReadyToRun=$ready_to_run)
if [ "$trim" = 1 ]; then
  # ILGPU finds its intrinsics and the framework methods it remaps (Math, BitOperations, …) by reflection: both
  # assemblies must be kept whole (bench/gpu/trim.targets). System.Text.Json's reflection serializer is switched
  # back on, and the IL2026 trim warnings (JSON) may not fail the build. Checked on OpenCL and the CPU simulator
  # only; the CUDA backend of a trimmed build has never run.
  publish+=(-p:PublishTrimmed=true -p:TrimMode=partial -p:TreatWarningsAsErrors=false
            -p:JsonSerializerIsReflectionEnabledByDefault=true
            "-p:CustomAfterMicrosoftCommonTargets=$repo/bench/gpu/trim.targets")
fi
step "publish src/Cli (self-contained linux-x64$([ "$trim" = 1 ] && echo ', trimmed'))"
dotnet publish src/Cli "${publish[@]}" -o "$stage/cli"
echo "cli: $(mib "$(du -sb "$stage/cli" | cut -f1)") unpacked"
if [ "$ptx_arch" != none ]; then
  # Made by the published program itself: the files' keys hold its build of the kernels' assembly.
  step "precompile the CUDA kernels ($ptx_arch) into cli/ptx"
  "$stage/cli/ilgpu-style" kernels precompile --arch "$ptx_arch" --out "$stage/cli/ptx" | tail -2
  # The published program finds every variant for a CUDA 12.9+/13 driver (PTX ISA 8.8) as a run would, or the bundle fails.
  for a in ${ptx_arch//,/ }; do
    "$stage/cli/ilgpu-style" kernels check --dir "$stage/cli/ptx" --arch "$a" --isa 8.8
  done
fi

# --- the kernel tests ---------------------------------------------------------------------------------------------
tests_exe=
if [ -n "$tests_project" ]; then
  csproj=$(ls "$tests_project"/*.csproj 2>/dev/null | head -1 || true)
  # Asked of MSBuild, not read from the file: the test hosts take xunit.v3 and OutputType from tests/TestHost.props.
  evaluated=
  [ -n "$csproj" ] && evaluated=$(dotnet msbuild "$csproj" -getProperty:OutputType -getItem:PackageReference 2>/dev/null || true)
  if grep -q '"Identity": "xunit\.v3' <<< "$evaluated" && grep -q '"OutputType": "Exe"' <<< "$evaluated"; then
    step "publish $csproj (xunit.v3 executable, self-contained linux-x64)"
    # Not trimmed: xunit finds tests by reflection.
    dotnet publish "$csproj" -c Release -r linux-x64 --self-contained -nologo -v quiet \
      -p:SatelliteResourceLanguages=en -p:PublishReadyToRun=$ready_to_run -o "$stage/tests"
    tests_exe=$(basename "$csproj" .csproj)
    # Microsoft.NET.Test.Sdk's code-coverage and instrumentation tooling (Windows, macOS, Alpine, Ubuntu, arm64,
    # x86/x64 binaries; 25 MiB unpacked) and the VSTest adapter, host and platform assemblies `dotnet test` loads
    # (4.6 MiB): the executable's in-process runner uses none of them (the kernel tests, -reporter verbose and
    # -result-xml ran without them, 2026-12-04).
    rm -rf "$stage/tests/CodeCoverage" "$stage/tests/alpine" "$stage/tests/arm64" "$stage/tests/macos" \
      "$stage/tests/ubuntu" "$stage/tests/x64" "$stage/tests/x86"
    rm -f "$stage/tests/"*TestPlatform*.dll "$stage/tests/"*VisualStudio*.dll "$stage/tests/"Microsoft.CodeCoverage.* \
      "$stage/tests/testhost.dll" "$stage/tests/xunit.runner.visualstudio.testadapter.dll"
    [ -x "$stage/tests/$tests_exe" ] || { echo "make-bundle: $stage/tests/$tests_exe was not produced" >&2; exit 1; }
    if [ "$trim" = 0 ]; then
      linked=0
      while IFS= read -r -d '' f; do
        rel=${f#"$stage/tests/"}
        if [ -f "$stage/cli/$rel" ] && cmp -s "$f" "$stage/cli/$rel"; then
          ln -f "$stage/cli/$rel" "$f"; linked=$((linked + 1))
        fi
      done < <(find "$stage/tests" -type f -print0)
      echo "tests: $linked files identical to cli/ stored once (hard links)"
      # The test host's kernel tests on CUDA read the same shipped PTX (same assemblies, same keys).
      if [ -d "$stage/cli/ptx" ]; then
        mkdir -p "$stage/tests/ptx"
        ln -f "$stage/cli/ptx/"* "$stage/tests/ptx/"
      fi
    fi
  else
    echo "make-bundle: ${csproj:-$tests_project} is not an xunit.v3 executable project: no test executable in the bundle" >&2
  fi
fi

# --- weights and images -------------------------------------------------------------------------------------------
step "weights: ilgpu-style weights convert ($weights_dtype)"
"$stage/cli/ilgpu-style" weights convert --from "$vgg19/keras-tfjs-f32-conv1-3" "$vgg19/keras-tfjs-uint8" \
  --dtype "$weights_dtype" --out "$stage/weights/vgg19.ilgw" | tail -2
cp "$images/tubingen.jpg" "$images/starry_night.jpg" "$stage/images/"

# OpenCL ICD loader: ILGPU loads libOpenCL.so; NVIDIA's driver brings only its ICD (libnvidia-opencl.so.1).
loader=$(ldconfig -p | awk '/libOpenCL\.so\.1 .*x86-64/ { print $NF; exit }')
if [ -n "$loader" ]; then
  mkdir -p "$stage/opencl"
  cp -L "$loader" "$stage/opencl/libOpenCL.so.1"
fi

{
  echo "made:     $(date -u +%FT%TZ) on $(uname -m)"
  echo "commit:   $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src tests || echo ' + uncommitted changes')"
  echo "cli:      cli/ilgpu-style$([ "$trim" = 1 ] && echo ' (trimmed)')$([ "$ready_to_run" = true ] && echo ' (ReadyToRun, tests too)')"
  echo "ptx:      $([ -f "$stage/cli/ptx/shipped.json" ] && echo "cli/ptx ($ptx_arch, $(ls "$stage/cli/ptx" | grep -c '\.ptxk$') files)" || echo none)"
  echo "tests:    ${tests_exe:+tests/$tests_exe}"
  echo "weights:  weights/vgg19.ilgw ($weights_dtype, file sha256 $(sha256sum "$stage/weights/vgg19.ilgw" | cut -c1-16)…)"
  echo "opencl:   ${loader:+opencl/libOpenCL.so.1 (from $loader)}"
} > "$stage/MANIFEST.txt"

# --- pack ---------------------------------------------------------------------------------------------------------
step "pack $out/bundle.tar.xz"
rm -f "$out/bundle.tar.xz"
# xz -9 (a 64 MiB dictionary, ~2 minutes on 2 cores): 2.1 MiB smaller than -6 (2026-12-04).
tar -C "$out/stage" -cf - bundle | xz ${XZ_OPT:--9 -T2} > "$out/bundle.tar.xz.tmp"
mv "$out/bundle.tar.xz.tmp" "$out/bundle.tar.xz"

bundle_bytes=$(stat -c %s "$out/bundle.tar.xz")
tracked_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
untracked_bytes=$(git ls-files -z -o --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
untracked_bytes=${untracked_bytes:-0}
total=$((bundle_bytes + tracked_bytes + untracked_bytes))
limit=$((64 * 1048576))
step "sizes"
cat "$stage/MANIFEST.txt"
echo "bundle:   $(mib "$bundle_bytes")  ($out/bundle.tar.xz)"
for d in cli tests weights; do
  [ -d "$stage/$d" ] && echo "  $d/: $(mib "$(du -sb "$stage/$d" | cut -f1)") unpacked"
done
echo "travels:  $(mib "$total") of 64 MiB (tracked $(mib "$tracked_bytes"), untracked-not-ignored $(mib "$untracked_bytes"), bundle)"
rm -rf "$out/stage"
if [ "$total" -gt "$limit" ]; then
  echo "make-bundle: $(mib "$total") would not travel (limit 64 MiB): try --weights-dtype f16, --trim or --no-tests" >&2
  exit 1
fi
