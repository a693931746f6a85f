"""The host oracle: TFLM itself (the `tflite-micro` Python package) running our int8 models."""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np


class TflmModel:
    """One int8 model in a TFLM MicroInterpreter (reference kernels, as on a board without ESP-NN/CMSIS-NN)."""

    def __init__(self, model_bytes: bytes, arena_size: int | None = None):
        from tflite_micro import runtime

        self.model_bytes = bytes(model_bytes)
        self._interp = runtime.Interpreter.from_bytes(self.model_bytes, arena_size=arena_size or 4 << 20)
        self.input = self._interp.get_input_details(0)
        self.output = self._interp.get_output_details(0)

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int8).reshape(self.input["shape"])
        self._interp.set_input(x, 0)
        self._interp.invoke()
        return np.array(self._interp.get_output(0), dtype=np.int8, copy=True)


def run_tflm(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """One int8 input through a fresh interpreter of the model: TFLM's answer (what the device is checked against)."""
    return TflmModel(model_bytes).run(x)


def tflm_arena_bytes(model_bytes: bytes) -> int:
    """Arena bytes TFLM's RecordingMicroAllocator reports after one invoke (read from its stderr dump)."""
    m = TflmModel(model_bytes)
    m.run(np.zeros(m.input["shape"], np.int8))
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            m._interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    found = re.search(r"Arena allocation total (\d+) bytes", text)
    if not found:
        raise RuntimeError("TFLM did not report its arena allocation")
    return int(found.group(1))
