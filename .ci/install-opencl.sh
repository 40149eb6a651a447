#!/usr/bin/env bash
# Installs an OpenCL CPU runtime that ILGPU accepts (PoCL >= 6, which has generic address space)
# plus the unversioned libOpenCL.so loader. Idempotent: returns at once when already present.
# Debian 12 (bookworm) ships PoCL 3.1, which ILGPU rejects, so there we take PoCL from trixie,
# pinned to priority 100 so nothing else is upgraded unless asked for.
set -euo pipefail

have_pocl() {
  [ -e /usr/lib/x86_64-linux-gnu/libOpenCL.so ] || ls /usr/lib/*/libOpenCL.so >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' pocl-opencl-icd 2>/dev/null || true)
  [ -n "$v" ] || return 1
  dpkg --compare-versions "$v" ge 6 || return 1
  # TorchSharp's libtorch needs a libstdc++ with GLIBCXX_3.4.32 (trixie's); the same recipe brings it.
  local stdcxx
  stdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}')
  strings "$stdcxx" 2>/dev/null | grep GLIBCXX_3.4.32 >/dev/null || return 1
}

if have_pocl; then
  echo "install-opencl: PoCL $(dpkg-query -W -f='${Version}' pocl-opencl-icd) already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

. /etc/os-release
if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
    uris=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uris" ] || uris="http://deb.debian.org/debian"
    $SUDO tee /etc/apt/sources.list.d/trixie.sources >/dev/null <<SRC
Types: deb
URIs: $uris
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/trixie-pin >/dev/null <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q -t trixie pocl-opencl-icd ocl-icd-opencl-dev libstdc++6 binutils
else
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q pocl-opencl-icd ocl-icd-opencl-dev binutils
fi
echo "install-opencl: installed PoCL $(dpkg-query -W -f='${Version}' pocl-opencl-icd)"
