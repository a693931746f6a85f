"""Kernel benchmark (`make bench-kernels`): instructions per MAC of every op of a model bundle on the emulated
Cortex-M4 (mps2-an386) and Cortex-M55 (mps3-an547), written as JSON to runs/bench-kernels/.

Models: one quality (encoder + decoder) of a bundle (default: config.DEFAULT_MODEL, --quality 2), and per preset
of --presets (default tc-v2, tc-v3) an encoder/decoder of its shapes built from random weights with
tests/gen_helpers.py (Keras -> int8 TFLite; --no-v2 skips them). The models go through `tinycodec codegen` with
per-op profiling hooks (emit_model_c(profile=True): the op's kernel calls are bracketed by reads of the board's
FPGAIO counter), are
linked with the kernels and firmware/backends/gen/host/tc_kbench_main.c into a bare-metal semihosted ELF per board
(same compiler flags as the PlatformIO envs) and run once each under `qemu-system-arm -icount shift=0`.

What is counted: with -icount shift=0 QEMU's virtual time advances 1 ns per guest instruction and the 25 MHz
FPGAIO counter ticks once per 40 instructions, so instructions = ticks x 40: an exact, deterministic
INSTRUCTION count (+-40 per kernel call), not cycles (no pipeline, wait states or multi-beat MVE timing).
MACs per op come from codegen (TRANSPOSE_CONV: the MACs of its sub-pixel phases = the reference's products).
The outputs' hashes are compared between boards and with the host build of the same C (portable reference
loop): a fast path that is not bit-exact fails the run.

Boards: the emulated ones of the board table (python/tinycodec/link/boards.txt), named by their CPU (m4, m55) or
any name the table knows (qemu-m55, qemu_m4, mps2-an386...); compiler flags and linker script from the machine's
board JSON (firmware/platform/tinycodec_arm/boards/), as the platform's builder takes them.

  python scripts/bench_kernels.py [--bundle models/tc-small] [--quality 2] [--no-v2] [--presets tc-v2,tc-v3]
                                  [--boards m4,m55]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests"))

from tinycodec.codegen.generate import ModelSource, load_sources, render  # noqa: E402
from tinycodec.codegen.ops import leaf_steps  # noqa: E402
from tinycodec.link import boards as board_table  # noqa: E402
from tinycodec.manifest import ROLES  # noqa: E402

KERNELS = ROOT / "firmware" / "backends" / "gen" / "kernels"
PORTS = ROOT / "firmware" / "ports"
PLATFORM_BOARDS = ROOT / "firmware" / "platform" / "tinycodec_arm" / "boards"
DRIVER = ROOT / "firmware" / "backends" / "gen" / "host" / "tc_kbench_main.c"
INSTR_PER_TICK = 40  # 1 ns per instruction (-icount shift=0), 25 MHz counter


@dataclass(frozen=True)
class Target:
    """An emulated board to bench on: its QEMU machine (board table) and build settings (its board JSON)."""

    key: str  # the CPU without "cortex-" (m4, m55): --boards and the JSON's keys
    machine: str
    ldscript: Path  # firmware/ports/<port>/<port>.ld; the port's folder holds its headers
    mflags: tuple[str, ...]  # as firmware/platform/tinycodec_arm/builder/main.py derives them


def targets() -> dict[str, Target]:
    """One target per QEMU machine of the board table, in table order (m4, m55)."""
    jsons = [json.loads(f.read_text())["build"] for f in sorted(PLATFORM_BOARDS.glob("*.json"))]
    out: dict[str, Target] = {}
    for b in board_table.BOARDS:
        build = next((j for j in jsons if j.get("mcu") == b.machine), None)
        if not b.emulated or build is None:
            continue
        fpu = build.get("fpu", "")
        mflags = (f"-mcpu={build['cpu']}", *((f"-mfpu={fpu}", "-mfloat-abi=hard") if fpu else ()))
        key = build["cpu"].removeprefix("cortex-")
        out.setdefault(key, Target(key, b.machine, ROOT / build["ldscript"], mflags))
    return out


def resolve_boards(names: list[str]) -> list[Target]:
    """--boards items: a target's key (m4) or any name of an emulated board in the board table."""
    known = targets()
    out = []
    for n in names:
        b = board_table.find(n)
        t = known.get(n) or next((t for t in known.values() if b is not None and t.machine == b.machine), None)
        if t is None:
            raise SystemExit(f"unknown board {n!r}: one of {', '.join(known)} or {', '.join(board_table.names())}")
        out.append(t)
    return out


def preset_sources(preset: str = "tc-v2", tile: int = 128) -> tuple[ModelSource, ...]:
    """A preset's layers (config.PRESETS[preset], convt decoder) with random weights. tc-v2: conv 5x5/2 3->56,
    3x3/2 56->56 (x2), 3x3/2 56->72 (ReLU on all but the last); decoder TRANSPOSE_CONV 3x3/2 72->56, 56->56,
    56->56 (ReLU), 5x5/2 56->3. tc-v3: the same with 48 hidden and 120 latent channels."""
    from gen_helpers import L, Spec, model_file
    from tinycodec import config

    cfg = config.PRESETS[preset]
    if cfg.decoder != "convt":
        raise SystemExit(f"{preset}: only transposed-conv decoders are benched with random weights")
    enc_c = (*cfg.enc_channels, cfg.latent_channels)
    enc_layers = tuple(
        L("conv", filters=c, kernel=k, strides=2, **({"activation": "relu"} if i < len(enc_c) - 1 else {}))
        for i, (c, k) in enumerate(zip(enc_c, cfg.enc_kernels))
    )
    dec_c = (*cfg.dec_channels, 3)
    dec_layers = tuple(
        L("convt", filters=c, kernel=k, **({"activation": "relu"} if i < len(dec_c) - 1 else {}))
        for i, (c, k) in enumerate(zip(dec_c, cfg.dec_kernels))
    )
    tag = preset.replace("tc-", "").replace("-", "_")
    enc = Spec(f"{tag}_enc", (tile, tile, 3), enc_layers)
    dec = Spec(f"{tag}_dec", (tile // cfg.stride, tile // cfg.stride, cfg.latent_channels), dec_layers)
    out = []
    for s in (enc, dec):
        f = model_file(s)
        out.append(ModelSource(f"{preset}-random/{s.name.split('_')[-1]}", f.name, f.read_bytes()))
    return tuple(out)


def bundle_sources(bundle: Path, quality: int) -> tuple[ModelSource, ...]:
    """The encoder and decoder of one quality, as the bundle's manifest (tinycodec.manifest) lists them."""
    pick = [s for s in load_sources(bundle) if s.quality == quality and s.role in ROLES]
    if not pick:
        raise SystemExit(f"{bundle}: the manifest lists no encoder or decoder of quality {quality}")
    return tuple(ModelSource(f"{bundle.name}/{s.name}", s.file, s.data) for s in pick)


def build_elf(gen: Path, board: Target, max_in: int, max_out: int, defines: tuple[str, ...] = ()) -> Path:
    elf = gen.parent / f"kbench_{board.key}{'_' + '_'.join(defines).lower() if defines else ''}.elf"
    srcs = sorted(gen.glob("*.c")) + sorted(KERNELS.glob("*.c"))
    srcs += [DRIVER, PORTS / "cmsdk" / "cortexm_startup.c", PORTS / "cmsdk" / "fpgaio_timer.c"]
    inc = [gen, KERNELS, ROOT / "firmware" / "core", board.ldscript.parent, PORTS / "cmsdk"]
    cmd = [
        "arm-none-eabi-gcc", "-mthumb", *board.mflags, "-O2", "-g", "-std=c11", "-Wall", "-Wextra",
        "-ffunction-sections", "-fdata-sections", f"-DKB_IN_BYTES={max_in}", f"-DKB_OUT_BYTES={max_out}",
        *(f"-D{d}" for d in defines), *(a for i in inc for a in ("-I", str(i))), *map(str, srcs),
        "-nostartfiles", "--specs=nano.specs", "--specs=rdimon.specs", "-Wl,--gc-sections",
        "-Wl,--defsym=end=__bss_end", "-T", str(board.ldscript), "-o", str(elf),
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"build for {board.key} failed:\n{res.stderr[-4000:]}")
    return elf


def run_elf(elf: Path, board: Target) -> dict:
    res = subprocess.run(
        ["qemu-system-arm", "-M", board.machine, "-icount", "shift=0", "-nographic", "-monitor", "none",
         "-serial", "null", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
        capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if res.returncode != 0:
        tail = f"{res.stdout[-2000:]}{res.stderr[-2000:]}"
        raise SystemExit(f"{elf.name} on {board.key} failed ({res.returncode}):\n{tail}")
    got: dict = {"models": {}, "ops": {}, "hash": {}}
    for line in (res.stdout + "\n" + res.stderr).splitlines():  # semihosted stdout may arrive on stderr
        f = line.split()
        if f and f[0] == "model":
            got["models"][int(f[1])] = int(f[2])
        elif f and f[0] == "op":
            got["ops"][(int(f[1]), int(f[2]))] = (int(f[3]), int(f[4]))
        elif f and f[0] == "hash":
            got["hash"][int(f[1])] = f[2]
    return got


def host_hashes(sources: tuple[ModelSource, ...], work: Path) -> dict[int, str]:
    """The same input (the driver's LCG) through the host build of the same models (no profiling hooks): the
    portable reference loop."""
    from tools.hostlib import HostModel

    gen = work / "gen_host"
    gen.mkdir(parents=True, exist_ok=True)
    for name, text in render(sources)[0].items():
        (gen / name).write_text(text)
    hm = HostModel(gen, cache=work / "hostlib")
    n = max(m.input_bytes for m in hm.models)
    seed, x = 12345, np.empty(n, dtype=np.int8)
    for i in range(n):
        seed = (seed * 1664525 + 1013904223) & 0xFFFFFFFF
        x[i] = np.int8(np.uint8(seed >> 24))
    out = {}
    for i, m in enumerate(hm.models):
        y = hm.run(i, x[: m.input_bytes])
        h = 0
        for b in y.view(np.uint8).tolist():
            h = (h * 31 + b) & 0xFFFFFFFF
        out[i] = f"{h:08x}"
    return out


def op_desc(g, s) -> dict:  # noqa: ANN001
    x, y = g.tensors[s.inputs[0]], g.tensors[s.output]
    p = dict(s.params)
    d = {"op_index": s.op_index, "op": s.op, "in": list(x.shape[1:]), "out": list(y.shape[1:]), "macs": s.macs}
    if "k_h" in p:
        d["kernel"] = [int(p["k_h"]), int(p["k_w"])]
        d["stride"] = [int(p["stride_h"]), int(p["stride_w"])]
    elif s.op == "TRANSPOSE_CONV":
        w = g.tensors[g.ops[s.op_index].inputs[1]]
        d["kernel"] = list(w.shape[1:3])
        d["stride"] = [int(p["stride_h"]), int(p["stride_w"])]
    return d


def bench(sources: tuple[ModelSource, ...], boards: list[Target], work: Path) -> dict:
    files, units = render(sources, profile=True)
    gen = work / "gen"
    if gen.exists():
        shutil.rmtree(gen)
    gen.mkdir(parents=True)
    for name, text in files.items():
        (gen / name).write_text(text)
    max_in = max(u.graph.tensors[u.graph.inputs[0]].numel for u in units)
    max_out = max(u.graph.tensors[u.graph.outputs[0]].numel for u in units)
    ref = host_hashes(sources, work)
    runs = {b.key: run_elf(build_elf(gen, b, max_in, max_out), b) for b in boards}
    models = []
    for u in units:
        steps = leaf_steps(u.steps)
        macs = sum(s.macs for s in steps)
        entry: dict = {"name": u.name, "macs": macs, "input": list(u.graph.tensors[u.graph.inputs[0]].shape[1:])}
        entry["ops"] = [op_desc(u.graph, s) for s in steps]
        for b, r in runs.items():
            if r["hash"].get(u.index) != ref[u.index]:
                raise SystemExit(f"{u.name} on {b}: output hash {r['hash'].get(u.index)} != host {ref[u.index]}")
            instr = r["models"][u.index] * INSTR_PER_TICK
            entry[b] = {"instructions": instr, "instr_per_mac": round(instr / macs, 4) if macs else None}
            for d in entry["ops"]:
                t, calls = r["ops"].get((u.index, d["op_index"]), (0, 0))
                d[b] = {
                    "instructions": t * INSTR_PER_TICK,
                    "calls": calls,
                    "instr_per_mac": round(t * INSTR_PER_TICK / d["macs"], 4) if d["macs"] else None,
                }
        models.append(entry)
    return {"models": models, "bit_exact_vs_host": True}


def main(argv: list[str] | None = None) -> int:
    from tinycodec import config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=config.DEFAULT_MODEL)
    ap.add_argument("--quality", type=int, default=2)
    ap.add_argument("--no-v2", action="store_true", help="skip the random-weight preset-shaped models")
    ap.add_argument("--presets", default="tc-v2,tc-v3", help="presets benched with random weights (%(default)s)")
    ap.add_argument("--v2-tile", type=int, default=128)
    ap.add_argument("--boards", default=",".join(targets()), help="comma-separated (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-kernels")
    ap.add_argument("--tag", default="", help="suffix of the JSON file name")
    ap.add_argument(
        "--markdown", nargs="+", type=Path, metavar="JSON", help="print docs tables from [BEFORE.json] AFTER.json"
    )
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(*[json.loads(p.read_text()) for p in args.markdown]))
        return 0
    boards = resolve_boards([b for b in args.boards.split(",") if b])
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not installed")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "firmware/backends/gen/kernels"],
        capture_output=True,
        text=True,
    )
    result = {
        "format": "tinycodec-bench-kernels",
        "version": 1,
        "time": dt.datetime.now().isoformat(timespec="seconds"),
        "commit": commit.stdout.strip(),
        "kernels_modified": bool(dirty.stdout.strip()),
        "measure": "guest instructions under qemu-system-arm -icount shift=0 (FPGAIO 25 MHz ticks x 40), "
        "not cycles; +-40 per kernel call",
        "boards": {b.key: b.machine for b in boards},
        "sets": {},
    }
    sets = {f"{args.bundle.name}-q{args.quality}": bundle_sources(args.bundle, args.quality)}
    for preset in [] if args.no_v2 else [p for p in args.presets.split(",") if p]:
        sets[f"{preset}-random-{args.v2_tile}"] = preset_sources(preset, args.v2_tile)
    with tempfile.TemporaryDirectory(prefix="kbench-", dir=ROOT / "build" if (ROOT / "build").is_dir() else None) as td:
        for name, srcs in sets.items():
            result["sets"][name] = bench(srcs, boards, Path(td) / re.sub(r"\W", "_", name))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.out / f"{stamp}{'-' + args.tag if args.tag else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "latest.json").write_text(json.dumps(result, indent=1) + "\n")
    print_table(result)
    print(f"-> {path}")
    return 0


def markdown(*results: dict) -> str:
    """docs/performance.md tables: instr/MAC per op and model, per board; with two results: before -> after."""
    after, before = results[-1], results[0] if len(results) > 1 else None
    boards = list(after["boards"])

    def cell(b: str, new: dict, old: dict | None) -> str:
        v = new[b]["instr_per_mac"]
        if old is None or b not in old or f"{old[b]['instr_per_mac']:.3f}" == f"{v:.3f}":
            return f"{v:.3f}"
        return f"{old[b]['instr_per_mac']:.3f} -> **{v:.3f}**"

    head = " | ".join(f"{b.upper()} instr/MAC" for b in boards)
    lines = []
    for sname, s in after["sets"].items():
        old_models = {m["name"]: m for m in before["sets"].get(sname, {}).get("models", [])} if before else {}
        lines += [f"**{sname}**", "", f"| op | shape | MACs | {head} |", "|---|---|---|" + "---|" * len(boards)]
        for m in s["models"]:
            om = old_models.get(m["name"])
            oops = {d["op_index"]: d for d in om["ops"]} if om else {}
            for d in m["ops"]:
                k = "x".join(map(str, d.get("kernel", [])))
                st = "x".join(map(str, d.get("stride", [])))
                shape = f"{'x'.join(map(str, d['in']))} -> {'x'.join(map(str, d['out']))}"
                cells = " | ".join(cell(b, d, oops.get(d["op_index"])) for b in boards)
                lines.append(f"| #{d['op_index']} {d['op']} {k} s{st} | {shape} | {d['macs']:,} | {cells} |")
            cells = " | ".join(cell(b, m, om) for b in boards)
            lines.append(f"| **{m['name']}** (whole model) | | {m['macs']:,} | {cells} |")
        lines.append("")
    src = f"{before['commit']} -> {after['commit']}" if before else after["commit"]
    lines.append(f"(`scripts/bench_kernels.py --markdown`, commits {src}; {after['measure']})")
    return "\n".join(lines)


def print_table(result: dict) -> None:
    boards = list(result["boards"])
    print("instructions per MAC (QEMU -icount instruction counts, not cycles)")
    for s in result["sets"].values():
        for m in s["models"]:
            print(f"{m['name']}: {m['macs']:,} MACs  " + "  ".join(f"{b} {m[b]['instr_per_mac']:.3f}" for b in boards))
            for d in m["ops"]:
                k = "x".join(map(str, d.get("kernel", []))) or "-"
                st = "/".join(map(str, d.get("stride", []))) or "-"
                per = "  ".join(
                    f"{b} {d[b]['instr_per_mac']:.3f}" if d[b]["instr_per_mac"] is not None else f"{b} -"
                    for b in boards
                )
                print(f"  #{d['op_index']} {d['op']:<15} k{k} s{st} {d['in']}->{d['out']} {d['macs']:,} MACs  {per}")


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    sys.exit(main())
