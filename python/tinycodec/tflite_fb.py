"""Read and patch .tflite flatbuffers without TensorFlow (schema from the tflite-micro package).

Patching changes quantization parameters in place (same sizes), which is how export pins the latent
to scale 1.0 / zero point 0 and the pixels to scale 1/255 / zero point -128.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

_UOFF = flatbuffers.number_types.UOffsetTFlags.py_type

BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


class TfliteError(Exception):
    """The bytes are not a usable .tflite model."""


def load_model(data: bytes | bytearray) -> schema.Model:
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TfliteError("not a TFLite flatbuffer (missing TFL3 identifier)")
    return schema.Model.GetRootAs(data, 0)


@dataclass(frozen=True)
class TensorQuant:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]


def tensor_quant(t: schema.Tensor) -> TensorQuant:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return TensorQuant((), ())
    return TensorQuant(tuple(float(x) for x in q.ScaleAsNumpy()), tuple(int(x) for x in q.ZeroPointAsNumpy()))


def op_names(model: schema.Model) -> list[str]:
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    sg = model.Subgraphs(0)
    names = []
    for i in range(sg.OperatorsLength()):
        c = codes[sg.Operators(i).OpcodeIndex()]
        names.append(BUILTIN_NAMES.get(max(c.BuiltinCode(), c.DeprecatedBuiltinCode()), "CUSTOM"))
    return names


def _vector_pos(table, field_offset: int) -> int:
    o = _UOFF(table._tab.Offset(field_offset))
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
