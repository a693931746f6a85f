"""Quantization-aware fine-tuning (tfmot) of one quality level's folded encoder and decoder.

The float codec's transforms with that level's gains folded in are wrapped by tfmot's default 8-bit
scheme, their activation ranges calibrated on training crops, and fine-tuned on the same rate + lambda *
distortion loss (rate on the noisy latent, the decoder on the rounded one with a straight-through gradient,
the level's factorized density frozen). Export then converts the QAT models and pins the latent and pixel
quantization exactly as for post-training quantization.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ModelConfig, TrainConfig
from .data import load_folder
from .model import build_decoder, build_encoder, rd_terms
from .tfenv import tf, tf_keras


def _noop_config():
    import tensorflow_model_optimization as tfmot

    class PassThrough(tfmot.quantization.keras.QuantizeConfig):
        """No quantizers: nearest upsampling passes its input's int8 quantization through unchanged."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    return PassThrough


def _quantize(model):
    """tfmot's default 8-bit scheme, except UpSampling2D keeps its input's quantization (no requantize op)."""
    import tensorflow_model_optimization as tfmot

    qk = tfmot.quantization.keras
    cfg = _noop_config()

    def annotate(layer):
        if isinstance(layer, tf_keras.layers.UpSampling2D):
            return qk.quantize_annotate_layer(layer, quantize_config=cfg())
        return qk.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    with qk.quantize_scope({"PassThrough": cfg}):
        return qk.quantize_apply(annotated)


def _range_vars(layer, prefix: str = "") -> tuple[tf.Variable | None, tf.Variable | None]:
    """(min, max) range variables of a tfmot layer whose name (after the layer's scope) starts with prefix:
    "post_activation" for a wrapped layer's output, "" for a QuantizeLayer (its names carry Keras' uniquifier)."""
    lo = hi = None
    for v in layer.weights:
        last = v.name.rsplit("/", 1)[-1]
        if last.startswith(prefix) and last.endswith("min:0"):
            lo = v
        elif last.startswith(prefix) and last.endswith("max:0"):
            hi = v
    return lo, hi


def _pin_input_range(qmodel, lo: float, hi: float) -> None:
    """Fix the QuantizeLayer range of the model input (pixels: exactly [0, 1] -> scale 1/255, zp -128)."""
    lo_v, hi_v = _range_vars(qmodel.layers[1])
    lo_v.assign(lo)
    hi_v.assign(hi)


def _calibrate_ranges(qmodel, fmodel, x: tf.Tensor) -> None:
    """Set every activation range of a fresh tfmot model from the float model's activations on x (min/max,
    0 included, as the PTQ converter does). tfmot starts them at +-6 and moves them by EMA (decay 0.999):
    after a few hundred steps they are still mostly the init, which clips large activations."""
    names = [lyr.name for lyr in fmodel.layers if isinstance(lyr, tf_keras.layers.Conv2D)]
    probe = tf_keras.Model(fmodel.inputs, [fmodel.get_layer(n).output for n in names])
    acts = dict(zip(names, (a.numpy() for a in probe(x))))
    for lyr in qmodel.layers:
        inner = getattr(lyr, "layer", None)
        src = x.numpy() if inner is None else acts.get(inner.name)
        if src is None:
            continue
        lo_v, hi_v = _range_vars(lyr, "" if inner is None else "post_activation")
        if lo_v is not None and hi_v is not None:
            lo_v.assign(min(float(src.min()), 0.0))
            hi_v.assign(max(float(src.max()), 0.0))


def _latent_range(qenc) -> tuple[tf.Variable, tf.Variable]:
    """The activation range variables of the encoder's last conv (the latent)."""
    last = [lyr for lyr in qenc.layers if getattr(lyr, "layer", None) is not None][-1]
    return _range_vars(last, "post_activation")


def qat_level(
    codec,
    mcfg: ModelConfig,
    level: int,
    data_dir: Path,
    tile: int,
    steps: int,
    lr: float = 1e-5,
    batch: int = 8,
    seed: int = 99,
    progress=None,
):
    """-> (encoder, decoder) QAT tf_keras models with a fixed tile, ready for the TFLite converter."""
    from .export import fold_level
    from .train import train_dataset

    if mcfg.activation != "relu":  # tfmot has no quantize config for model.GDN (MUL, RSQRT inside one layer)
        raise ValueError(f"QAT supports activation 'relu' only (the model has {mcfg.activation!r})")

    tf_keras.utils.set_random_seed(seed + level)  # the noise and the crops; CPU kernels may still vary in the last bit
    enc, dec = fold_level(codec, mcfg, None, level)
    qenc, qdec = _quantize(enc), _quantize(dec)
    imgs = np.stack(load_folder(data_dir / "train"))
    ds = iter(train_dataset(imgs, TrainConfig(data_dir=data_dir, batch=batch, crop=tile, seed=seed)))
    calib = tf.concat([next(ds) for _ in range(8)], axis=0)
    _calibrate_ranges(qenc, enc, calib)
    _calibrate_ranges(qdec, dec, tf.round(enc(calib)))
    # the latent's fake quantization is the export's: scale 1, zero point 0, i.e. rounding and int8 clipping
    # (re-pinned after every step, since tfmot moves ranges by EMA in training)
    lat_lo, lat_hi = _latent_range(qenc)
    lat_lo.assign(-128.0)
    lat_hi.assign(127.0)
    opt = tf_keras.optimizers.Adam(lr)
    lam = tf.constant(mcfg.lambdas[level], tf.float32)
    lvl = tf.constant(level)
    variables = qenc.trainable_variables + qdec.trainable_variables

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            y = qenc(x, training=True)
            y_hat = y + tf.random.uniform(tf.shape(y), -0.5, 0.5)
            x_hat = qdec(y + tf.stop_gradient(tf.round(y) - y), training=True)  # as in training (ste)
            bpp, mse = rd_terms(x, x_hat, codec.density.likelihood(y_hat, lvl))
            loss = bpp + lam * mse
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        lat_lo.assign(-128.0)
        lat_hi.assign(127.0)
        return loss

    it = range(steps)
    for _ in progress(it) if progress else it:
        step(next(ds))
    _pin_input_range(qenc, 0.0, 1.0)
    _pin_input_range(qdec, -128.0, 127.0)
    fixed = []
    for q, build in ((qenc, build_encoder), (qdec, build_decoder)):
        f = _quantize(build(mcfg, tile))
        f.set_weights(q.get_weights())
        fixed.append(f)
    return fixed[0], fixed[1]
