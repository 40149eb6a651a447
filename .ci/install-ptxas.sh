#!/usr/bin/env bash
# Makes NVIDIA's ptxas available without a GPU, for the offline PTX check (tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs):
# downloads the nvidia-cuda-toolkit .deb (CUDA 12.4, Debian trixie's non-free component) and unpacks it with dpkg -x
# into $ILGPU_STYLE_PTXAS_DIR (default /opt/ilgpu-style-ptxas) — no install, no dependencies, nothing else upgraded.
# ptxas is then $DIR/usr/bin/ptxas, where the test looks for it (or set ILGPU_STYLE_PTXAS to a ptxas binary).
# Idempotent: returns at once when it is already there. Prints where ptxas is.
set -euo pipefail

DIR=${ILGPU_STYLE_PTXAS_DIR:-/opt/ilgpu-style-ptxas}
PTXAS=$DIR/usr/bin/ptxas

report() { echo "install-ptxas: $PTXAS ($("$PTXAS" --version | tail -n 1))"; }

if [ -x "$PTXAS" ] && "$PTXAS" --version >/dev/null 2>&1; then
  report
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# apt-get with a few retries: other apt users (e.g. install-opencl.sh in a neighbouring checkout) may hold the lock.
apt_retry() {
  local i
  for i in 1 2 3 4 5 6; do
    $SUDO apt-get -o DPkg::Lock::Timeout=120 "$@" && return 0
    echo "install-ptxas: apt-get $1 failed (try $i), retrying in 10 s" >&2
    sleep 10
  done
  return 1
}

. /etc/os-release
pkg=nvidia-cuda-toolkit
if [ "${ID:-}" = debian ]; then
  # The same mirror and keyring as the trixie main source install-opencl.sh adds, non-free only, pinned to 100 so
  # that nothing is ever installed or upgraded from it unless asked for by name.
  if [ ! -f /etc/apt/sources.list.d/trixie-non-free.sources ]; then
    uris=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uris" ] || uris="http://deb.debian.org/debian"
    $SUDO tee /etc/apt/sources.list.d/trixie-non-free.sources >/dev/null <<SRC
Types: deb
URIs: $uris
Suites: trixie
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/trixie-non-free-pin >/dev/null <<PIN
Package: *
Pin: release n=trixie, c=non-free
Pin-Priority: 100
PIN
  fi
  pkg=nvidia-cuda-toolkit/trixie
fi
# On Ubuntu the toolkit is in multiverse (enabled by default on desktop and cloud images).
apt_retry update -q

work=$(mktemp -d)
# apt downloads as the unprivileged _apt user when that user can write the folder (else it warns, runs as root).
if id _apt >/dev/null 2>&1; then $SUDO chown _apt "$work"; fi
trap 'rm -rf "$work" "$DIR.partial"' EXIT
(cd "$work" && apt_retry download "$pkg")
deb=$(ls "$work"/*.deb)
rm -rf "$DIR.partial"
$SUDO mkdir -p "$DIR.partial"
$SUDO dpkg -x "$deb" "$DIR.partial"
[ -x "$DIR.partial/usr/bin/ptxas" ] || { echo "install-ptxas: $(basename "$deb") has no usr/bin/ptxas" >&2; exit 1; }
$SUDO rm -rf "$DIR"
$SUDO mv "$DIR.partial" "$DIR"
report
