"""Old import path of the TFLite flatbuffer reader: everything here lives in `tinycodec.codegen.reader`, the
package's one reader. Kept only for export.py and seed_unet.py (issue 11: their owners switch their imports to
tinycodec.codegen.reader; then this file goes). Import from tinycodec.codegen.reader in new code."""

from __future__ import annotations

from .codegen.reader import (
    TensorQuant,
    TfliteError,
    builtin_names,
    load_model,
    op_names,
    rescale_bias,
    set_tensor_quant,
    tensor_quant,
    type_names,
)

BUILTIN_NAMES = builtin_names()
TYPE_NAMES = type_names()

__all__ = [
    "BUILTIN_NAMES",
    "TYPE_NAMES",
    "TensorQuant",
    "TfliteError",
    "load_model",
    "op_names",
    "rescale_bias",
    "set_tensor_quant",
    "tensor_quant",
]
