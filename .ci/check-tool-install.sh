#!/usr/bin/env bash
# Proves the packages install the way .NET people install them: `dotnet pack` makes the library package
# (IlgpuStyle + its Kernels/Autodiff/Network packages) and the tool package ilgpu-style into a folder feed;
# `dotnet tool install --tool-path` installs the tool from it, and the installed command lists the devices and starts
# the --preview server.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet pack IlgpuStyle.sln -c Release -o "$work/feed" --nologo -v quiet
ls "$work/feed"
for id in IlgpuStyle IlgpuStyle.Kernels IlgpuStyle.Autodiff IlgpuStyle.Network ilgpu-style; do
  ls "$work/feed/$id".[0-9]*.nupkg >/dev/null || { echo "check-tool-install: package $id missing" >&2; exit 1; }
done
dotnet tool install --tool-path "$work/tools" --add-source "$work/feed" ilgpu-style
"$work/tools/ilgpu-style" devices
# --preview serves from Kestrel, from the ASP.NET Core shared framework the tool's runtimeconfig names: it must start
# (then the missing content image ends the run with exit 2).
out=$("$work/tools/ilgpu-style" stylize --content "$work/missing.jpg" --style "$work/missing.jpg" --preview 2>&1 || true)
echo "$out"
grep -q '^preview: http://127\.0\.0\.1:[0-9]*/$' <<<"$out" || { echo "check-tool-install: the installed tool's --preview did not start" >&2; exit 1; }
echo "check-tool-install: ok"
