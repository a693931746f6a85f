"""Code generator: int8 .tflite models -> static C for the firmware's `gen` backend.

Imports only numpy, flatbuffers and the TFLite flatbuffer schema module (never TensorFlow).
"""

from .errors import CodegenError
from .generate import GenReport, ModelReport, generate

__all__ = ["CodegenError", "GenReport", "ModelReport", "generate"]
