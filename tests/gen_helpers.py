"""Helpers for the codegen/kernel tests: tiny tf_keras models -> int8 TFLite (cached), BUILTIN_REF runs, flatbuffer
edits. TFLM runs: tinycodec.oracle (run_tflm, TflmModel, tflm_arena_bytes)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conftest import ROOT as REPO  # conftest also puts python/ on sys.path

MODEL_CACHE = REPO / "build" / "test-models"
HELPER_VERSION = 1  # bump to invalidate cached conversions


@dataclass(frozen=True)
class Spec:
    """A tiny model: an input shape and a list of layer descriptions (see _apply)."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[tuple[str, dict[str, Any]], ...]
    quant: str = "int8"  # "int8" (full int8, int8 I/O), "float" (no quantization), "int8-float-io"
    seed: int = 0
    tags: tuple[str, ...] = field(default=())
    rep_range: tuple[float, float] = (-1.0, 1.0)  # uniform range of the calibration inputs

    def key(self) -> str:
        fields = [
            HELPER_VERSION,
            self.input_shape,
            [[k, sorted(v.items())] for k, v in self.layers],
            self.quant,
            self.seed,
        ]
        if self.rep_range != (-1.0, 1.0):  # only then: the cache keys of the older specs stay the same
            fields.append(list(self.rep_range))
        blob = json.dumps(fields, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def L(kind: str, **kw: Any) -> tuple[str, dict[str, Any]]:  # noqa: N802 - tiny DSL
    return (kind, kw)


def _tf():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf_keras

    return tf, tf_keras


def _conv(tfk, kw: dict[str, Any]):
    kw = dict(kw)
    return tfk.layers.Conv2D(
        kw.pop("filters"),
        kw.pop("kernel", 3),
        strides=kw.pop("strides", 1),
        padding=kw.pop("padding", "same"),
        dilation_rate=kw.pop("dilation", 1),
        activation=kw.pop("activation", None),
        use_bias=kw.pop("use_bias", True),
        bias_initializer="random_normal",
        **kw,
    )


def _apply(tf, tfk, x, kind: str, kw: dict[str, Any]):
    if kind == "conv":
        return _conv(tfk, kw)(x)
    if kind == "dw":
        kw = dict(kw)
        return tfk.layers.DepthwiseConv2D(
            kw.pop("kernel", 3),
            strides=kw.pop("strides", 1),
            padding=kw.pop("padding", "same"),
            depth_multiplier=kw.pop("depth_multiplier", 1),
            dilation_rate=kw.pop("dilation", 1),
            activation=kw.pop("activation", None),
            bias_initializer="random_normal",
        )(x)
    if kind == "convt":  # Conv2DTranspose -> TRANSPOSE_CONV (bias fused as input 3, activation fused)
        kw = dict(kw)
        return tfk.layers.Conv2DTranspose(
            kw.pop("filters"),
            kw.pop("kernel", 3),
            strides=kw.pop("strides", 2),
            padding=kw.pop("padding", "same"),
            activation=kw.pop("activation", None),
            use_bias=kw.pop("use_bias", True),
            bias_initializer=kw.pop("bias_initializer", "random_normal"),
            **kw,
        )(x)
    if kind == "up":
        return tfk.layers.UpSampling2D(kw.get("size", 2), interpolation="nearest")(x)
    if kind == "resize_v1":  # RESIZE_NEAREST_NEIGHBOR with explicit flags
        size, ac, hp = kw["size"], kw.get("align_corners", False), kw.get("half_pixel_centers", False)
        return tfk.layers.Lambda(
            lambda t: tf.raw_ops.ResizeNearestNeighbor(images=t, size=size, align_corners=ac, half_pixel_centers=hp)
        )(x)
    if kind == "add_res":  # x + conv(x) [+ activation]
        y = _conv(tfk, {"filters": x.shape[-1], **kw.get("conv", {})})(x)
        z = tfk.layers.Add()([x, y])
        return tfk.layers.Activation(kw["activation"])(z) if kw.get("activation") else z
    if kind == "add2":  # conv_a(x) + conv_b(x)
        a = _conv(tfk, {"filters": kw["filters"]})(x)
        b = _conv(tfk, {"filters": kw["filters"], "kernel": 1})(x)
        z = tfk.layers.Add()([a, b])
        return tfk.layers.Activation(kw["activation"])(z) if kw.get("activation") else z
    if kind == "concat2":  # concat(conv_a(x), conv_b(x)) or concat(x, conv(x))
        a = x if kw.get("with_input") else _conv(tfk, {"filters": kw["fa"]})(x)
        b = _conv(tfk, {"filters": kw["fb"], "kernel": 1})(x)
        return tfk.layers.Concatenate(axis=-1)([a, b])
    if kind == "mul_sq":  # x * x (MUL with one tensor as both operands) [+ activation]
        z = tfk.layers.Multiply()([x, x])
        return tfk.layers.Activation(kw["activation"])(z) if kw.get("activation") else z
    if kind == "mul2":  # conv_a(x) * conv_b(x) [+ activation]
        a = _conv(tfk, {"filters": kw["filters"]})(x)
        b = _conv(tfk, {"filters": kw["filters"], "kernel": 1})(x)
        z = tfk.layers.Multiply()([a, b])
        return tfk.layers.Activation(kw["activation"])(z) if kw.get("activation") else z
    if kind == "rsqrt":  # RSQRT of the (positive) input
        return tfk.layers.Lambda(lambda t: tf.math.rsqrt(t))(x)
    if kind == "abs":  # ABS of the input
        return tfk.layers.Lambda(lambda t: tf.abs(t))(x)
    if kind == "gdn":  # tinycodec.model.GDN (MUL, CONV_2D 1x1, RSQRT, MUL [, MUL]) with random gamma >= 0, beta > 0
        # simplified=True (inverse): ABS, CONV_2D 1x1, MUL; norm_max (forward): the norm's range pinned to [0, max]
        from tinycodec.model import GDN

        simplified = kw.get("simplified", False)
        layer = GDN(inverse=kw.get("inverse", False), simplified=simplified, norm_max=kw.get("norm_max"))
        y = layer(x)
        c = int(x.shape[-1])
        rng = np.random.default_rng(kw.get("seed", 0))
        gamma = rng.uniform(0.0, kw.get("gamma_max", 0.3), (c, c)) * (rng.random((c, c)) < 0.5) + 0.1 * np.eye(c)
        beta = rng.uniform(*kw.get("beta_range", (0.2, 2.0)), c)
        if not simplified:  # the square-root form's variables are the square roots of beta and gamma
            beta, gamma = np.sqrt(beta), np.sqrt(gamma)
        layer.set_weights([beta.astype(np.float32), gamma.astype(np.float32)])
        return y
    if kind == "leaky":
        return tfk.layers.LeakyReLU(alpha=kw.get("alpha", 0.2))(x)
    if kind == "act":
        return tfk.layers.Activation(kw["fn"])(x)
    raise ValueError(kind)


def build_keras(spec: Spec):
    tf, tfk = _tf()
    tf.random.set_seed(spec.seed)
    np.random.seed(spec.seed)
    inp = tfk.Input(shape=spec.input_shape, batch_size=1)
    x = inp
    for kind, kw in spec.layers:
        x = _apply(tf, tfk, x, kind, kw)
    return tfk.Model(inp, x)


def convert(spec: Spec) -> bytes:
    """The converted .tflite, cached under build/test-models/ by a hash of the spec."""
    path = MODEL_CACHE / f"{spec.name}-{spec.key()}.tflite"
    if path.exists():
        return path.read_bytes()
    tf, _ = _tf()
    model = build_keras(spec)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if spec.quant != "float":
        rng = np.random.default_rng(spec.seed + 1)
        lo, hi = spec.rep_range

        def rep():
            for _ in range(8):
                yield [rng.uniform(lo, hi, (1, *spec.input_shape)).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if spec.quant == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        data = conv.convert()
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=MODEL_CACHE, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data


def model_file(spec: Spec) -> Path:
    convert(spec)
    return MODEL_CACHE / f"{spec.name}-{spec.key()}.tflite"


def run_litert_ref(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def random_input(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)


# The codec-like model: the real codec (lead's work) is expected to look like this.
CODEC_LIKE = Spec(
    "codec_like",
    (64, 64, 3),
    (
        L("conv", filters=16, kernel=3, strides=2, activation="relu"),
        L("conv", filters=32, kernel=3, strides=2, activation="relu"),
        L("conv", filters=8, kernel=3),
        L("up", size=2),
        L("conv", filters=32, kernel=3, activation="relu"),
        L("up", size=2),
        L("conv", filters=16, kernel=3, activation="relu"),
        L("conv", filters=3, kernel=3),
    ),
)


def mutate_tflite(data: bytes, fn) -> bytes:
    """Edit a .tflite with the flatbuffer object API (e.g. to force quantization corner cases)."""
    import flatbuffers

    from tinycodec.codegen.reader import schema

    s = schema()
    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    fn(model)
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def set_output_quant(op_pos: int, scale: float | None = None, zero_point: int | None = None, act: int | None = None):
    """Mutation: change the output quantization (and optionally the fused activation) of op #op_pos."""

    def fn(model) -> None:
        sg = model.subgraphs[0]
        op = sg.operators[op_pos]
        q = sg.tensors[op.outputs[0]].quantization
        if scale is not None:
            q.scale = [scale]
        if zero_point is not None:
            q.zeroPoint = [zero_point]
        if act is not None:
            op.builtinOptions.fusedActivationFunction = act

    return fn
