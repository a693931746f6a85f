#!/usr/bin/env bash
# Build a firmware env offline and boot it in QEMU; prints the serial URL, runs until Ctrl-C.
#   scripts/qemu-run.sh [env]          (default env: qemu_m4; qemu_m4_selftest needs no model)
set -euo pipefail
cd "$(dirname "$0")/.."
ENV="${1:-qemu_m4}"
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m platformio run -e "$ENV"
PYTHONPATH=python exec "$PY" -m tinycodec.link.qemu --elf ".pio/build/$ENV/firmware.elf" --board "$ENV"
