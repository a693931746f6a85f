"""Import TensorFlow with Keras 2 (tf_keras). Import this module before anything that imports TF."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

__all__ = ["tf", "tf_keras"]
