#!/usr/bin/env bash
# Installs Debian's chromium for the --preview page test (tests/IlgpuStyle.Stylize.Tests/Preview/PreviewBrowserTests.cs), which
# runs it headless against 127.0.0.1; nothing else needs it. Idempotent: returns at once when a chromium is on PATH.
# From the distribution's own apt mirror (no other download). Measured on the project machine (Debian 12 + the trixie
# pin of install-opencl.sh; chromium 156 from bookworm-security; 2 shared cores, loaded): 117 packages,
# 154 MB of archives, 476 MB on disk, 3 min 0 s including apt-get update.
set -euo pipefail

report() { echo "install-chromium: $(command -v chromium) ($(chromium --version 2>/dev/null | head -n 1))"; }

if command -v chromium >/dev/null 2>&1; then
  report
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

. /etc/os-release
if [ "${ID:-}" != debian ]; then
  # Ubuntu's chromium package is only a shim for the snap, which containers cannot run.
  echo "install-chromium: no chromium on PATH and no Debian chromium package here ($PRETTY_NAME); install a chromium or set ILGPU_STYLE_CHROMIUM" >&2
  exit 1
fi

# apt-get with a few retries: other apt users (e.g. install-opencl.sh in a neighbouring checkout) may hold the lock.
apt_retry() {
  local i
  for i in 1 2 3 4 5 6; do
    $SUDO apt-get -o DPkg::Lock::Timeout=120 "$@" && return 0
    echo "install-chromium: apt-get $1 failed (try $i), retrying in 10 s" >&2
    sleep 10
  done
  return 1
}

apt_retry update -q
apt_retry install -y -q chromium
report
