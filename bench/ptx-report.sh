#!/usr/bin/env bash
# Registers, spills and shared memory per GPU kernel, from NVIDIA's ptxas on the PTX ILGPU generates — no GPU needed.
# Runs the offline PTX check (tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs) for sm_80 and sm_90 and prints its table.
#   bench/ptx-report.sh                              # builds the tests (Release) first
#   ILGPU_STYLE_PTX_DIR=/tmp/ptx bench/ptx-report.sh # also keeps the PTX and cubins (/tmp/ptx/sm_80/*.ptx …)
# ptxas: .ci/install-ptxas.sh, or ILGPU_STYLE_PTXAS=/path/to/ptxas. Exit status: the test's (1 on errors or on spills
# in a hot kernel, marked '*').
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-ptxas.sh >&2 || echo "ptx-report: could not install ptxas; set ILGPU_STYLE_PTXAS" >&2
dotnet build tests/IlgpuStyle.Tests -c Release -v quiet -nologo >&2
set +e
tests/IlgpuStyle.Tests/bin/Release/net10.0/IlgpuStyle.Tests -noLogo -noColor -showLiveOutput \
  -method IlgpuStyle.Tests.Kernels.PtxasTests.EveryGpuKernelAssemblesWithoutSpillsInTheHotKernels >/tmp/ptx-report.$$ 2>&1
code=$?
set -e
# The live output lines, without the test name in front; then any failure message and the runner's summary.
sed -n 's/^.*\[OUTPUT\] //p' /tmp/ptx-report.$$
grep -E '\[(FAIL|SKIP)\]' -A3 /tmp/ptx-report.$$ | grep -v '^\s*\(PTX\|ptxas\) ' || true
grep -A1 'TEST EXECUTION SUMMARY' /tmp/ptx-report.$$ | tail -n 1
rm -f /tmp/ptx-report.$$
exit $code
