#!/usr/bin/env bash
# Installs what pyasynctrace needs (Debian 12) and builds it into build/. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E bash "$0" "$@"; fi
  echo "tools/setup.sh: run as root (apt-get install and BPF need it)" >&2; exit 1
fi
packages=(build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev libfmt-dev googletest libgtest-dev python3 python3.11 python3-twisted
  python3-greenlet python3-gevent valgrind libxml2-utils wrk curl procps util-linux gdb binutils
  systemtap-sdt-dev libpython3.11-dev python3-aiohttp python3-uvloop)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then
  echo "setup: /sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF (use the Vagrantfile)" >&2
  exit 1
fi
echo "setup: building into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/pyasynctrace"
