"""The package's one .tflite flatbuffer reader (no TensorFlow needed; the schema module depends on `flatbuffers`).

Two views of one flatbuffer:
- `read_tflite`: the whole model as small immutable graph objects (`Graph`, `Tensor`, `Op`), for codegen;
- `load_model` / `tensor_quant` / `op_names`: the schema's zero-copy accessors, for export's checks, and
  `set_tensor_quant` / `rescale_bias`: patch quantization parameters in place (same sizes), which is how export
  pins the latent to scale 1.0 / zero point 0 and the pixels to scale 1/255 / zero point -128.
"""

from __future__ import annotations

import functools
import importlib
import struct
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np

from .errors import CodegenError

_SCHEMA_MODULES = (
    "ai_edge_litert.schema_py_generated",
    "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
)


def schema() -> ModuleType:
    """The TFLite flatbuffer schema module (generated Python; depends on `flatbuffers` only)."""
    for name in _SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise CodegenError("no TFLite schema module found (install ai-edge-litert or tflite-micro)")


_DTYPES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    5: "string",
    6: "bool",
    7: "int16",
    9: "int8",
    10: "float64",
    15: "uint32",
    16: "uint16",
    17: "int4",
}


@dataclass(frozen=True, eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int
    data: bytes | None  # constant contents, None for activations

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def scale(self) -> float:
        return self.scales[0] if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return self.zero_points[0] if self.zero_points else 0

    def array(self) -> np.ndarray:
        if self.data is None:
            raise ValueError(f"tensor {self.name} is not constant")
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape)


@dataclass(frozen=True, eq=False)
class Op:
    index: int
    code: str  # builtin operator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices, -1 = optional input absent
    outputs: tuple[int, ...]
    options: Any  # schema *OptionsT object or None


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@functools.cache
def builtin_names() -> dict[int, str]:
    """Builtin operator code -> name ("CONV_2D")."""
    return {v: k for k, v in vars(schema().BuiltinOperator).items() if not k.startswith("_")}


@functools.cache
def type_names() -> dict[int, str]:
    """Tensor type code -> name ("INT8")."""
    return {v: k for k, v in vars(schema().TensorType).items() if not k.startswith("_")}


def read_tflite(data: bytes, name: str) -> Graph:
    """Parse one flatbuffer; the model must have exactly one subgraph."""
    s = schema()
    try:
        model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as e:  # noqa: BLE001 - any flatbuffer decoding failure
        raise CodegenError(f"model {name}: not a valid .tflite flatbuffer ({e})") from e
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise CodegenError(f"model {name}: expected exactly 1 subgraph, found {len(model.subgraphs or [])}")
    sg = model.subgraphs[0]
    names = builtin_names()
    codes = []
    for oc in model.operatorCodes or []:
        code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
        codes.append("CUSTOM" if code == s.BuiltinOperator.CUSTOM else names.get(code, f"OP_{code}"))
    tensors = []
    for i, t in enumerate(sg.tensors or []):
        buf = model.buffers[t.buffer] if model.buffers and t.buffer < len(model.buffers) else None
        const = None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            const = np.asarray(buf.data, dtype=np.uint8).tobytes()
        elif buf is not None and (getattr(buf, "offset", 0) or 0) > 1:
            raise CodegenError(f"model {name}: external (offset) buffers are not supported")
        q = t.quantization
        scales: tuple[float, ...] = ()
        zps: tuple[int, ...] = ()
        qdim = 0
        if q is not None and q.scale is not None and len(q.scale) > 0:
            scales = tuple(float(np.float32(x)) for x in q.scale)
            zps = tuple(int(x) for x in (q.zeroPoint if q.zeroPoint is not None else [0] * len(scales)))
            qdim = int(q.quantizedDimension or 0)
        shape = tuple(int(x) for x in (t.shape if t.shape is not None else []))
        tname = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(i, tname, shape, _DTYPES.get(int(t.type), f"type{t.type}"), scales, zps, qdim, const))
    ops = []
    for i, o in enumerate(sg.operators or []):
        ins = tuple(int(x) for x in (o.inputs if o.inputs is not None else []))
        outs = tuple(int(x) for x in (o.outputs if o.outputs is not None else []))
        ops.append(Op(i, codes[o.opcodeIndex], ins, outs, o.builtinOptions))
    return Graph(
        name=name,
        tensors=tuple(tensors),
        ops=tuple(ops),
        inputs=tuple(int(x) for x in sg.inputs),
        outputs=tuple(int(x) for x in sg.outputs),
    )


# -- the schema's accessors over the raw bytes: read, and patch quantization in place ---------------------------


class TfliteError(Exception):
    """The bytes are not a usable .tflite model."""


def load_model(data: bytes | bytearray) -> Any:
    """The flatbuffer's root `Model` (zero-copy accessors over `data`)."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TfliteError("not a TFLite flatbuffer (missing TFL3 identifier)")
    return schema().Model.GetRootAs(data, 0)


@dataclass(frozen=True)
class TensorQuant:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]


def tensor_quant(t: Any) -> TensorQuant:
    """The quantization of a schema `Tensor` (empty tuples when it has none)."""
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return TensorQuant((), ())
    return TensorQuant(tuple(float(x) for x in q.ScaleAsNumpy()), tuple(int(x) for x in q.ZeroPointAsNumpy()))


def op_names(model: Any) -> list[str]:
    """The builtin operator names of subgraph 0's operators, in order."""
    names = builtin_names()
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    sg = model.Subgraphs(0)
    out = []
    for i in range(sg.OperatorsLength()):
        c = codes[sg.Operators(i).OpcodeIndex()]
        out.append(names.get(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()), "CUSTOM"))
    return out


def _vector_pos(table: Any, field_offset: int) -> int:
    o = flatbuffers.number_types.UOffsetTFlags.py_type(table._tab.Offset(field_offset))
    if o == 0:
        raise TfliteError("field absent")
    return table._tab.Vector(o)


def set_tensor_quant(data: bytearray, tensor_index: int, scale: float, zero_point: int) -> None:
    """Overwrite a per-tensor quantization (scale[0], zero_point[0]) in place."""
    model = load_model(data)
    q = model.Subgraphs(0).Tensors(tensor_index).Quantization()
    if q is None or q.ScaleLength() != 1:
        raise TfliteError(f"tensor {tensor_index} is not per-tensor quantized")
    struct.pack_into("<f", data, _vector_pos(q, 8), scale)
    struct.pack_into("<q", data, _vector_pos(q, 10), zero_point)


def set_tensor_min_max(data: bytearray, tensor_index: int, lo: float, hi: float) -> None:
    """Overwrite a calibrated float tensor's recorded range (min[0], max[0]) in place."""
    q = load_model(data).Subgraphs(0).Tensors(tensor_index).Quantization()
    if q is None or q.MinLength() != 1 or q.MaxLength() != 1:
        raise TfliteError(f"tensor {tensor_index} has no per-tensor min/max")
    struct.pack_into("<f", data, _vector_pos(q, 4), lo)
    struct.pack_into("<f", data, _vector_pos(q, 6), hi)


def rescale_bias(data: bytearray, tensor_index: int, factor: float) -> None:
    """Multiply an int32 bias tensor's values by `factor` and divide its scales by it, in place."""
    model = load_model(data)
    t = model.Subgraphs(0).Tensors(tensor_index)
    buf = model.Buffers(t.Buffer())
    pos = _vector_pos(buf, 4)
    n = buf.DataLength() // 4
    vals = np.frombuffer(bytes(data[pos : pos + 4 * n]), "<i4").astype(np.float64)
    new = np.clip(np.round(vals * factor), -(2**31), 2**31 - 1).astype("<i4")
    data[pos : pos + 4 * n] = new.tobytes()
    q = t.Quantization()
    spos = _vector_pos(q, 8)
    for j in range(q.ScaleLength()):
        (s,) = struct.unpack_from("<f", data, spos + 4 * j)
        struct.pack_into("<f", data, spos + 4 * j, s / factor)
