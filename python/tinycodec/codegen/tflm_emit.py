"""Sources for the firmware's `tflm` backend: the bundle's .tflite files as aligned C arrays, the model
table, and an op resolver registering exactly the builtin ops the models use.

`tinycodec codegen --backend tflm --manifest models/<bundle> [--out firmware/generated_tflm]` writes
`tc_tflm_models.h` and `tc_tflm_models.cc`; `firmware/backends/tflm/backend_tflm.cc` turns them into
`tc_backend` ("tflm"). Never imports TensorFlow: the op list comes from `reader.read_tflite`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..manifest import Manifest, ManifestError
from ..safeio import atomic_write
from .emit import c_ident, c_role
from .errors import CodegenError
from .generate import ModelSource, load_sources, model_hash
from .reader import read_tflite

# builtin op name -> tflite::MicroMutableOpResolver method (tensorflow/lite/micro/micro_mutable_op_resolver.h)
OP_METHODS = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "FULLY_CONNECTED": "AddFullyConnected",
    "HARD_SWISH": "AddHardSwish",
    "LEAKY_RELU": "AddLeakyRelu",
    "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean",
    "MUL": "AddMul",
    "PAD": "AddPad",
    "QUANTIZE": "AddQuantize",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "RSQRT": "AddRsqrt",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SUB": "AddSub",
    "TANH": "AddTanh",
    "TRANSPOSE_CONV": "AddTransposeConv",
}

HEADER = "tc_tflm_models.h"
SOURCE = "tc_tflm_models.cc"


def arena_with_margin(measured: int) -> int:
    """Arena for the device: the host-measured TFLM arena (64-bit host, reference kernels) + 12.5 %, rounded
    up to 1 KiB. On the emulated Cortex-M4 (32-bit structs, CMSIS-NN scratch included) tc-small needs 848 B
    LESS than the host measure (166,352 vs 167,200 B, docs/boards.md); the margin is for kernels whose
    scratch was not measured (ESP-NN). Too small shows as a backend init error in INFO; override with
    -DTC_TFLM_ARENA_BYTES=..."""
    return -(-(measured + measured // 8) // 1024) * 1024


@dataclass(frozen=True)
class TflmModel:
    name: str
    ident: str
    file: str
    sha256: str
    size: int
    ops: tuple[str, ...]  # distinct builtin ops, first-use order
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    role: str = ""  # "encoder" / "decoder" ("" unknown: a bare .tflite)
    quality: int = 0  # 0 unknown
    tconv_copy_bytes: int = 0  # the reference TRANSPOSE_CONV's int32 copy of its output, largest op (0: none)


@dataclass(frozen=True)
class TflmReport:
    out_dir: str
    files: tuple[str, ...]
    model_hash: str
    ops: tuple[str, ...]  # union over models, registered in this order
    measured_arena_bytes: int
    arena_bytes: int
    lean_arena_bytes: int  # with -D TC_TFLM_LEAN_TRANSPOSE_CONV (firmware/backends/tflm/tc_tflm_tconv.h)
    flatbuffer_bytes: int
    models: tuple[TflmModel, ...]

    def summary(self) -> str:
        lines = [
            f"codegen (tflm) -> {self.out_dir}: {len(self.models)} model(s), {self.flatbuffer_bytes} B of flatbuffers, "
            f"arena {self.arena_bytes} B (measured {self.measured_arena_bytes} B + margin; "
            f"{self.lean_arena_bytes} B with the lean TRANSPOSE_CONV), "
            f"ops {list(self.ops)}, hash {self.model_hash[:16]}..."
        ]
        lines += [f"  {m.name}: {m.size} B, ops {list(m.ops)}" for m in self.models]
        return "\n".join(lines)


def _nhwc(shape: tuple[int, ...], what: str, name: str) -> tuple[int, int, int]:
    if len(shape) != 4 or shape[0] != 1:
        raise CodegenError(f"model {name}: {what} shape {list(shape)} is not [1, H, W, C]")
    return shape[1], shape[2], shape[3]


def describe(sources: Sequence[ModelSource]) -> tuple[TflmModel, ...]:
    out, taken = [], set()
    for s in sources:
        g = read_tflite(s.data, s.name)
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            raise CodegenError(f"model {s.name}: the tflm backend needs exactly one input and one output")
        ops: list[str] = []
        for op in g.ops:
            if op.code not in OP_METHODS:
                raise CodegenError(
                    f"model {s.name}: op {op.index} {op.code} has no known MicroMutableOpResolver method"
                )
            if op.code not in ops:
                ops.append(op.code)
        ti, to = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
        tconv_copy = max(
            (4 * math.prod(g.tensors[op.outputs[0]].shape) for op in g.ops if op.code == "TRANSPOSE_CONV"),
            default=0,
        )
        for t, what in ((ti, "input"), (to, "output")):
            if t.dtype != "int8":
                raise CodegenError(f"model {s.name}: {what} is {t.dtype}, the protocol carries int8")
            _nhwc(t.shape, what, s.name)
        out.append(
            TflmModel(
                s.name,
                c_ident(s.name, taken),
                s.file,
                hashlib.sha256(s.data).hexdigest(),
                len(s.data),
                tuple(ops),
                ti.shape,
                to.shape,
                s.role,
                s.quality,
                tconv_copy,
            )
        )
    return tuple(out)


def _banner(models: Sequence[TflmModel]) -> str:
    lines = ["/* Generated by tinycodec codegen --backend tflm. Do not edit. Sources:"]
    lines += [f" *   {m.file} sha256 {m.sha256}" for m in models]
    return "\n".join(lines) + "\n */\n"


def _c_bytes(data: bytes) -> str:
    rows = []
    for i in range(0, len(data), 20):
        rows.append("    " + ",".join(f"0x{b:02x}" for b in data[i : i + 20]) + ",")
    return "\n".join(rows)


def lean_measured_arena(models: Sequence[TflmModel], per_model: Mapping[str, int]) -> int:
    """The host-measured arena without the reference TRANSPOSE_CONV's int32 copy of its output, which the
    lean kernel (firmware/backends/tflm/tc_tflm_tconv.h) does not allocate: max over models of (measured -
    that copy). An estimate, not a measurement (TFLM's greedy planner may place the other buffers less
    tightly without it): for tc-v2 it gives 290,352 B where the emulated M55 needs 291,696 B (2022 TFLM +
    CMSIS-NN, docs/boards.md), inside the 12.5 % margin of arena_with_margin. Models without a host measure
    count in full (no reduction)."""
    return max(per_model.get(m.name, 0) - m.tconv_copy_bytes for m in models)


def render_tflm(
    sources: Sequence[ModelSource], measured_arena: int, per_model: Mapping[str, int] | None = None
) -> tuple[dict[str, str], TflmReport]:
    """per_model: host-measured arena per model name (the manifest's); without it (bare .tflite files and an
    explicit arena) the lean arena is the same as the full one."""
    models = describe(sources)
    ops: list[str] = []
    for m in models:
        ops += [o for o in m.ops if o not in ops]
    arena = arena_with_margin(measured_arena)
    full = per_model is not None and all(m.name in per_model for m in models)
    lean_measured = lean_measured_arena(models, per_model) if full else measured_arena
    lean = arena_with_margin(lean_measured)
    mhash = model_hash(sources)
    banner = _banner(models)

    h = [banner, "#ifndef TC_TFLM_MODELS_H", "#define TC_TFLM_MODELS_H", "", "#include <stdint.h>", ""]
    h += ['extern "C" {', '#include "tc_backend.h"', "}", ""]
    h += [f"#define TC_TFLM_N_MODELS {len(models)}", f"#define TC_TFLM_N_OPS {len(ops)}"]
    h += [
        f"/* host-measured TFLM arena {measured_arena} B (max over models) + margin; one arena, one model at a time.",
        f" * With -D TC_TFLM_LEAN_TRANSPOSE_CONV (tc_tflm_tconv.h): {lean_measured} B (the same without the reference",
        " * TRANSPOSE_CONV's int32 copy of its output) + margin. */",
    ]
    h += ["#ifndef TC_TFLM_ARENA_BYTES", "#if defined(TC_TFLM_LEAN_TRANSPOSE_CONV)"]
    h += [
        f"#define TC_TFLM_ARENA_BYTES {lean}u",
        "#else",
        f"#define TC_TFLM_ARENA_BYTES {arena}u",
        "#endif",
        "#endif",
        "",
    ]
    h += [
        "extern const uint8_t tc_tflm_model_hash[32];",
        "extern const tc_model_desc_t tc_tflm_models[TC_TFLM_N_MODELS];",
        "extern const unsigned char *const tc_tflm_model_data[TC_TFLM_N_MODELS]; /* 16-byte aligned flatbuffers */",
        "extern const uint32_t tc_tflm_model_size[TC_TFLM_N_MODELS];",
        "",
        "namespace tflite {",
        "template <unsigned int tOpCount>",
        "class MicroMutableOpResolver;",
        "}",
        "typedef tflite::MicroMutableOpResolver<TC_TFLM_N_OPS> TcTflmOpResolver;",
        "/* Registers exactly the builtin ops of the models above; 0 = ok. */",
        "int tc_tflm_add_ops(TcTflmOpResolver &resolver);",
        "",
        "#endif /* TC_TFLM_MODELS_H */",
        "",
    ]

    c = [banner, f'#include "{HEADER}"', "", '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"', ""]
    c += ["const uint8_t tc_tflm_model_hash[32] = {" + ",".join(f"0x{b:02x}" for b in mhash) + "};", ""]
    c += ["const tc_model_desc_t tc_tflm_models[TC_TFLM_N_MODELS] = {"]
    for m in models:
        ih, iw, ic = _nhwc(m.input_shape, "input", m.name)
        oh, ow, oc = _nhwc(m.output_shape, "output", m.name)
        c.append(
            f'    {{"{m.name}", {ih * iw * ic}u, {oh * ow * oc}u, {ih}, {iw}, {ic}, {oh}, {ow}, {oc}, '
            f"{c_role(m.role)}, {m.quality}}},"
        )
    c += ["};", ""]
    by_name = {s.name: s for s in sources}
    for m in models:
        c.append(f"/* {m.file}: {m.size} B, ops {', '.join(m.ops)} */")
        c.append(f"alignas(16) const unsigned char tc_tflm_model_{m.ident}[{m.size}] = {{")
        c.append(_c_bytes(by_name[m.name].data))
        c += ["};", ""]
    c.append("const unsigned char *const tc_tflm_model_data[TC_TFLM_N_MODELS] = {")
    c += [f"    tc_tflm_model_{m.ident}," for m in models]
    c += ["};", "const uint32_t tc_tflm_model_size[TC_TFLM_N_MODELS] = {"]
    c += [f"    {m.size}u," for m in models]
    c += ["};", "", "int tc_tflm_add_ops(TcTflmOpResolver &resolver) {"]
    for op in ops:
        users = ", ".join(m.name for m in models if op in m.ops)
        c.append(f"  if (resolver.{OP_METHODS[op]}() != kTfLiteOk) return -1; /* {op}: {users} */")
    c += ["  return 0;", "}", ""]

    files = {HEADER: "\n".join(h), SOURCE: "\n".join(c)}
    report = TflmReport(
        "",
        tuple(sorted(files)),
        mhash.hex(),
        tuple(ops),
        measured_arena,
        arena,
        lean,
        sum(m.size for m in models),
        models,
    )
    return files, report


def _measured_arenas(src: str | Path | Sequence[str | Path], override: int | None) -> dict[str, int]:
    """Host-measured TFLM arena per model name: the manifest's, or {"": override} (names no model, so render_tflm
    gives the lean arena no reduction)."""
    if override is not None:
        if override <= 0:
            raise CodegenError("--tflm-arena-bytes must be positive")
        return {"": override}
    if isinstance(src, (str, Path)):
        p = Path(src)
        if p.is_dir():
            p = p / "manifest.json"
        if p.suffix == ".json":
            try:
                man = Manifest.load(p)
            except ManifestError as e:
                raise CodegenError(str(e)) from None
            sizes = {m.name: m.tflm_arena_bytes for m in man.models}
            if sizes and all(isinstance(s, int) and s > 0 for s in sizes.values()):
                return sizes
            raise CodegenError(f"{p}: every model needs 'tflm_arena_bytes' (or pass --tflm-arena-bytes)")
    raise CodegenError("bare .tflite files: pass --tflm-arena-bytes (the TFLM arena a model needs on the host)")


def generate_tflm(
    src: str | Path | Sequence[str | Path],
    out_dir: str | Path = "firmware/generated_tflm",
    arena_bytes: int | None = None,
) -> TflmReport:
    """Write tc_tflm_models.{h,cc} for the manifest (or .tflite files) into out_dir."""
    sources = load_sources(src)
    arenas = _measured_arenas(src, arena_bytes)
    files, report = render_tflm(sources, max(arenas.values()), arenas)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = out / name
        if not p.exists() or p.read_text() != text:  # keep mtimes stable for incremental builds
            atomic_write(p, text)  # a killed codegen never leaves half a C file
    return replace(report, out_dir=str(out))
