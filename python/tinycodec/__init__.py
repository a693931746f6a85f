"""tinycodec: a learned int8 image codec for microcontrollers."""

__version__ = "0.1.0"
