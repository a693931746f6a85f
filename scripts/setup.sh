#!/usr/bin/env bash
# One-time (idempotent) setup on a fresh Debian 12 machine: Debian packages for the Arm toolchain and
# QEMU, then a Python 3.11 venv with tinycodec and its pinned dependencies. Safe to re-run: it only
# installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang + libclang-rt: the libFuzzer targets (firmware/fuzz/, tests/test_fuzz.py, make fuzz)
DEB_PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm clang libclang-rt-14-dev"
missing=""
for p in $DEB_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
want="$(sha256sum pyproject.toml | cut -c1-16)"
stamp="$VENV/.tinycodec-deps"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into $VENV (TensorFlow is large: a few minutes the first time)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e ".[train,firmware,dev]"
  echo "$want" > "$stamp"
fi
echo "setup: ok ($("$VENV/bin/python" --version), $(arm-none-eabi-gcc --version | head -1), $(qemu-system-arm --version | head -1))"
