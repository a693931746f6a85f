#!/usr/bin/env python3
"""Flash / RAM of a built firmware, split into models, entropy tables, kernels and runtime.

    .venv/bin/python scripts/size_report.py [--build] [--json] [ENV ...]     (default: qemu_m4 qemu_m55)

Reads .pio/build/<env>/firmware.map (the linker map: every input section with its size and object file) and
checks the totals against `arm-none-eabi-size -A` of firmware.elf. --build runs `pio run -e ENV` first.
Categories (by object file):
  models          firmware/generated/tc_model_*.o: generated weights/constants and graph code, and the
                  activation arena + kernel scratch (RAM)
  entropy tables  firmware/generated/tc_entropy_tables.o (the codec's rANS tables)
  kernels         firmware/backends/gen/kernels/*.o (int8 kernels); other backends' runtime (tflm) too
  runtime         everything else: core (protocol, rANS coder, codec), ports, startup, libc/libgcc, the
                  stack, alignment padding
Flash = every allocated section except .bss/.stack/.heap/.noinit, plus the load image of .data;
RAM = .data + .bss + .stack + .heap + .noinit (the M55 build keeps code in ITCM: counted as flash here).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATS = ("models", "entropy tables", "kernels", "runtime")
RAM_ONLY = {".bss", ".stack", ".heap", ".noinit"}
BOTH = {".data"}
SKIP = re.compile(r"^\.(debug|comment|ARM\.attributes|stab|rel\.|igot|iplt|glue|vfp11|v4_bx)")
_OUT = re.compile(r"^(\.[\w.]+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+))?")
_IN = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_IN_NAME = re.compile(r"^ (\S+)$")


def category(obj: str) -> str:
    o = obj.replace("\\", "/")
    if "generated/tc_entropy_tables" in o:
        return "entropy tables"
    if "/generated/" in o or o.startswith("generated/"):
        return "models"
    if "/backends/gen/kernels/" in o or "/backends/tflm" in o or "tflite" in o:
        return "kernels"
    return "runtime"


def parse_map(text: str) -> dict[str, dict[str, int]]:
    """{category: {"flash": bytes, "ram": bytes}} from a GNU ld map."""
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else text.splitlines()
    out = {c: {"flash": 0, "ram": 0} for c in CATS}
    sec, sec_size, seen = None, 0, 0
    pending = None

    def close():
        if sec and sec_size > seen:  # linker-made content, fill, the stack: runtime
            add(sec, "runtime", sec_size - seen)

    def add(osec: str, cat: str, n: int) -> None:
        if osec in RAM_ONLY:
            out[cat]["ram"] += n
        elif osec in BOTH:
            out[cat]["ram"] += n
            out[cat]["flash"] += n
        else:
            out[cat]["flash"] += n

    for line in lines:
        if line.startswith("OUTPUT("):
            break
        m = _OUT.match(line)
        if m and not line.startswith(" "):
            close()
            name = m.group(1)
            sec, seen, pending = (None if SKIP.match(name) else name), 0, None
            sec_size = int(m.group(3), 16) if m.group(3) else -1
            continue
        if sec is None:
            continue
        if sec_size == -1:  # section header wrapped onto the next line
            m2 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)", line)
            if m2:
                sec_size = int(m2.group(2), 16)
            continue
        m = _IN.match(line)
        if m and (m.group(1) or pending):
            size, obj = int(m.group(3), 16), m.group(4).strip()
            if (m.group(1) or "").startswith("*"):  # *fill*, *(COMMON) ...: left to the residual
                pending = None
                continue
            if size:
                add(sec, category(obj), size)
                seen += size
            pending = None
            continue
        if line.startswith(" *fill*"):
            continue  # counted as residual (runtime)
        m = _IN_NAME.match(line)
        pending = m.group(1) if m and not line.startswith(" *") else None
    close()
    return out


def elf_totals(elf: Path) -> dict[str, int]:
    res = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True)
    flash = ram = 0
    for ln in res.stdout.splitlines()[2:]:
        parts = ln.split()
        if len(parts) != 3 or not parts[1].isdigit() or SKIP.match(parts[0]) or parts[0] == "Total":
            continue
        n = int(parts[1])
        if parts[0] in RAM_ONLY:
            ram += n
        elif parts[0] in BOTH:
            ram += n
            flash += n
        else:
            flash += n
    return {"flash": flash, "ram": ram}


def report(env: str) -> dict:
    bdir = ROOT / ".pio" / "build" / env
    mp, elf = bdir / "firmware.map", bdir / "firmware.elf"
    if not mp.exists() or not elf.exists():
        raise SystemExit(f"{env}: no {mp} / firmware.elf: build it (pio run -e {env}) or pass --build")
    cats = parse_map(mp.read_text(errors="replace"))
    return {"env": env, "categories": cats, "elf": elf_totals(elf)}


def format_report(r: dict) -> str:
    lines = [f"{r['env']}:", f"  {'part':16s} {'flash B':>9s} {'RAM B':>9s}"]
    tf = tr = 0
    for c in CATS:
        f, m = r["categories"][c]["flash"], r["categories"][c]["ram"]
        tf, tr = tf + f, tr + m
        lines.append(f"  {c:16s} {f:9d} {m:9d}")
    lines.append(f"  {'total (map)':16s} {tf:9d} {tr:9d}")
    lines.append(f"  {'size -A':16s} {r['elf']['flash']:9d} {r['elf']['ram']:9d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("envs", nargs="*", default=["qemu_m4", "qemu_m55"])
    ap.add_argument("--build", action="store_true", help="pio run -e ENV first")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = []
    for env in args.envs:
        if args.build:
            os.environ.setdefault("PLATFORMIO_CORE_DIR", str(ROOT / ".pio" / "core"))
            subprocess.run([sys.executable, "-m", "platformio", "run", "-s", "-e", env, "-d", str(ROOT)], check=True)
        out.append(report(env))
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("\n".join(format_report(r) for r in out))
    bad = [r["env"] for r in out if sum(c["flash"] for c in r["categories"].values()) != r["elf"]["flash"]]
    if bad:
        print(f"warning: map and size -A flash totals differ for {bad}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
