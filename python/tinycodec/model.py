"""The codec: analysis / synthesis transforms, per-level gains and a factorized entropy model.

Only ops that full-int8 TFLite and TFLM run are used: CONV_2D (fused ReLU) and RESIZE_NEAREST_NEIGHBOR, or
TRANSPOSE_CONV for the "convt" decoder; with activation="gdn" the hidden layers' ReLU is GDN (encoder) / inverse
GDN (decoder), which converts to MUL, CONV_2D 1x1, RSQRT, MUL (see GDN).
Nothing passes from encoder to decoder except the quantized latent.
"""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .tfenv import tf, tf_keras

layers = tf_keras.layers

# GDN parameterization (Balle et al. 2016/2018): gamma and beta are squares of free variables bounded below, shifted
# by a tiny pedestal so that a parameter at 0 still has a gradient (Adam rescales it to a normal step)
_GDN_PEDESTAL = 2.0**-36


@tf.custom_gradient
def _lower_bound(x: tf.Tensor, bound: tf.Tensor):
    """max(x, bound); the gradient passes where x is above the bound or descent would raise it above."""

    def grad(dy):
        return tf.where(tf.logical_or(x >= bound, dy < 0), dy, tf.zeros_like(dy)), None

    return tf.maximum(x, bound), grad


def int8_grid(x: tf.Tensor, lo: float, hi: float) -> tf.Tensor:
    """x clamped to [lo, hi] (lo <= 0 <= hi) and rounded to its 8-bit grid, a straight-through gradient inside: what
    int8 does to a tensor whose range is pinned to [lo, hi]. Computed in float32 (FakeQuant), returned in x's dtype;
    the int8 converter takes the op's range for the tensor."""
    q = tf.quantization.fake_quant_with_min_max_args(tf.cast(x, tf.float32), float(lo), float(hi), 8)
    return tf.cast(q, x.dtype)


class GDN(tf_keras.layers.Layer):
    """Generalized divisive normalization over channels: y_i = x_i * rsqrt(beta_i + sum_j gamma_ij x_j^2);
    inverse=True (the decoder's IGDN): y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2).

    gamma >= 0 and beta >= beta_min > 0 by construction (gamma = max(g, p)^2 - p^2 with p^2 the pedestal,
    likewise beta), initialised to gamma = gamma_init * I, beta = 1. Written with ops that full-int8 TFLite and
    TFLM run: MUL(x, x) -> CONV_2D 1x1 (weights gamma^T, bias beta) -> RSQRT -> MUL(x, r); the inverse as
    x * (n * rsqrt(n)), since TFLM has no int8 SQRT (MUL(n, RSQRT(n)), then MUL(x, .)). The int8 conversion
    needs exact calibration statistics for the in-place MULs (export._convert does it)."""

    def __init__(
        self,
        inverse: bool = False,
        beta_min: float = 1e-6,
        gamma_init: float = 0.1,
        simplified: bool = False,
        norm_max: float | None = None,
        **kw,
    ):
        """simplified (inverse only): the simplified inverse GDN of Johnston et al. 2019, y_i = x_i * (beta_i +
        sum_j gamma_ij |x_j|): no square root, so its int8 graph (ABS, CONV_2D 1x1, MUL) has bounded ranges. Its
        beta and gamma are the raw variables bounded below (not squared), so a checkpoint of the square-root form
        warm-starts it with beta' ~ sqrt(beta), gamma' ~ sqrt(gamma) (exact for a diagonal gamma).

        norm_max (forward GDN only): the norm n is clamped to [0, norm_max] and rounded to its 8-bit grid (step
        norm_max / 255; straight-through gradient inside the range), in training and inference alike. That is
        what int8 does to n, whose range is then pinned to exactly [0, norm_max] (the converter takes the range
        of the fake quantization): without it n's calibrated range (up to ~400) leaves steps of ~1.7 where
        rsqrt(n) is steep, and the int8 encoder lost ~1.6 dB (session 8, models/tc-v2/HISTORY.md). beta is then
        bounded below by one step of that grid."""
        super().__init__(**kw)
        self.inverse, self.beta_min, self.gamma_init = bool(inverse), float(beta_min), float(gamma_init)
        self.simplified = bool(simplified)
        self.norm_max = None if norm_max is None else float(norm_max)
        if self.simplified and not self.inverse:
            raise ValueError("simplified GDN is implemented for the inverse (decoder) only")
        if self.norm_max is not None and (self.inverse or not self.norm_max > 0):
            raise ValueError(f"norm_max must be > 0 and is for the forward GDN only (got {norm_max})")
        if self.norm_max is not None:  # beta >= one step of n's grid: n never rounds to 0 (rsqrt(0) = inf)
            self.beta_min = max(self.beta_min, self.norm_max / 255)

    def build(self, input_shape):
        c = int(input_shape[-1])
        p = _GDN_PEDESTAL
        self.beta_raw = self.add_weight(
            name="beta", shape=(c,), initializer=tf_keras.initializers.Constant(float(np.sqrt(1.0 + p)))
        )
        g0 = np.sqrt(self.gamma_init * np.eye(c) + p).astype(np.float32)
        self.gamma_raw = self.add_weight(name="gamma", shape=(c, c), initializer=tf_keras.initializers.Constant(g0))
        super().build(input_shape)

    def _bounded(self, raw: tf.Variable, floor: float) -> tf.Tensor:
        """max(raw, sqrt(floor + pedestal)), squared minus the pedestal; the simplified form uses the bounded raw
        value itself. In the compute dtype inside call (bfloat16 under mixed precision)."""
        p = _GDN_PEDESTAL
        v = tf.convert_to_tensor(raw)
        bounded = _lower_bound(v, tf.cast(np.sqrt(floor + p), v.dtype))
        return bounded if self.simplified else tf.square(bounded) - p

    @property
    def beta(self) -> tf.Tensor:
        return self._bounded(self.beta_raw, self.beta_min)

    @property
    def gamma(self) -> tf.Tensor:
        """[i, j]: the weight of x_j^2 (simplified: |x_j|) in channel i's norm."""
        return self._bounded(self.gamma_raw, 0.0)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        mag = tf.abs(x) if self.simplified else x * x
        norm = tf.nn.conv2d(mag, tf.transpose(self.gamma)[None, None], strides=1, padding="VALID")
        norm = tf.nn.bias_add(norm, self.beta)
        if self.norm_max is not None:
            norm = int8_grid(norm, 0.0, self.norm_max)
        if self.simplified:
            return x * norm
        if self.inverse:
            return x * (norm * tf.math.rsqrt(norm))
        return x * tf.math.rsqrt(norm)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "inverse": self.inverse,
            "beta_min": self.beta_min,
            "gamma_init": self.gamma_init,
            "simplified": self.simplified,
            "norm_max": self.norm_max,
        }


def _policy(dtype: str | None) -> dict:
    """Layer kwargs of a Keras dtype policy: None = float32; "mixed_bfloat16" = bfloat16 compute over float32
    variables (training only; export always builds float32 transforms)."""
    return {} if dtype is None else {"dtype": tf_keras.mixed_precision.Policy(dtype)}


def build_encoder(
    cfg: ModelConfig, tile: int | None = None, name: str = "encoder", policy: str | None = None
) -> tf_keras.Model:
    x = inp = layers.Input((tile, tile, 3), batch_size=1 if tile else None, name="pixels")
    chans = (*cfg.enc_channels, cfg.latent_channels)
    gdn = cfg.activation == "gdn"
    kw = _policy(policy)
    for i, (c, k) in enumerate(zip(chans, cfg.enc_kernels, strict=True)):
        last = i == len(chans) - 1
        act = None if last or gdn else "relu"
        x = layers.Conv2D(c, k, strides=2, padding="same", activation=act, name=f"enc{i}", **kw)(x)
        if gdn and not last:
            x = GDN(name=f"gdn{i}", norm_max=cfg.gdn_norm_max[i] if cfg.gdn_norm_max else None, **kw)(x)
    return tf_keras.Model(inp, x, name=name)


def build_decoder(
    cfg: ModelConfig,
    tile: int | None = None,
    name: str = "decoder",
    policy: str | None = None,
    ranges: dict[str, tuple[float, float]] | None = None,
) -> tf_keras.Model:
    """ranges (export): layer name -> (lo, hi) with lo <= 0 <= hi: that layer's output goes through int8_grid (its
    int8 range pinned to [lo, hi]); no weights."""
    ranges = ranges or {}

    def pinned(x: tf.Tensor, layer: str) -> tf.Tensor:
        if layer not in ranges:
            return x
        lo, hi = ranges[layer]
        return layers.Lambda(lambda t: int8_grid(t, lo, hi), name=f"{layer}_range")(x)

    lat = None if tile is None else tile // cfg.stride
    x = inp = layers.Input((lat, lat, cfg.latent_channels), batch_size=1 if tile else None, name="latent")
    chans = (*cfg.dec_channels, 3)
    gdn = cfg.activation == "gdn"
    kw = _policy(policy)
    for i, (c, k) in enumerate(zip(chans, cfg.dec_kernels, strict=True)):
        last = i == len(chans) - 1
        act = None if last or gdn else "relu"
        if cfg.decoder == "convt":
            x = layers.Conv2DTranspose(c, k, strides=2, padding="same", activation=act, name=f"dec{i}", **kw)(x)
        else:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}", **kw)(x)
            x = layers.Conv2D(c, k, padding="same", activation=act, name=f"dec{i}", **kw)(x)
        x = pinned(x, f"dec{i}")
        if gdn and not last:
            x = GDN(inverse=True, simplified=cfg.inverse_gdn == "abs", name=f"igdn{i}", **kw)(x)
            x = pinned(x, f"igdn{i}")
    return tf_keras.Model(inp, x, name=name)


class FactorizedDensity(tf_keras.layers.Layer):
    """Balle et al. 2018 'deep factorized' density: one learned CDF per (level, channel).

    cdf_logits(x) is a monotone function of x per channel; p(ŷ) = c(ŷ + .5) - c(ŷ - .5).
    """

    def __init__(self, levels: int, channels: int, filters=(3, 3, 3), init_scale: float = 10.0, **kw):
        super().__init__(**kw)
        self.levels, self.channels, self.filters = levels, channels, tuple(filters)
        self.init_scale = init_scale

    def build(self, input_shape):
        f = (1, *self.filters, 1)
        scale = self.init_scale ** (1 / (len(self.filters) + 1))
        self.matrices, self.biases, self.factors = [], [], []
        for i in range(len(self.filters) + 1):
            init = float(np.log(np.expm1(1 / scale / f[i + 1])))
            self.matrices.append(
                self.add_weight(
                    name=f"matrix{i}",
                    shape=(self.levels, self.channels, f[i + 1], f[i]),
                    initializer=tf_keras.initializers.Constant(init),
                )
            )
            self.biases.append(
                self.add_weight(
                    name=f"bias{i}",
                    shape=(self.levels, self.channels, f[i + 1], 1),
                    initializer=tf_keras.initializers.RandomUniform(-0.5, 0.5),
                )
            )
            if i < len(self.filters):
                self.factors.append(
                    self.add_weight(
                        name=f"factor{i}", shape=(self.levels, self.channels, f[i + 1], 1), initializer="zeros"
                    )
                )
        super().build(input_shape)

    def cdf_logits(self, x: tf.Tensor, level: tf.Tensor) -> tf.Tensor:
        """x: [channels, 1, n] -> logits of the CDF, same shape."""
        logits = x
        for i in range(len(self.filters) + 1):
            m = tf.nn.softplus(tf.gather(self.matrices[i], level))
            logits = tf.linalg.matmul(m, logits) + tf.gather(self.biases[i], level)
            if i < len(self.filters):
                logits += tf.math.tanh(tf.gather(self.factors[i], level)) * tf.math.tanh(logits)
        return logits

    def likelihood(self, y: tf.Tensor, level: tf.Tensor) -> tf.Tensor:
        """y: [B, H, W, C] (noisy or rounded) -> per-element likelihood, same shape."""
        shape = tf.shape(y)
        v = tf.reshape(tf.transpose(y, (3, 0, 1, 2)), (self.channels, 1, -1))
        lower = self.cdf_logits(v - 0.5, level)
        upper = self.cdf_logits(v + 0.5, level)
        sign = -tf.math.sign(lower + upper)
        sign = tf.where(sign == 0, tf.ones_like(sign), sign)
        lik = tf.abs(tf.math.sigmoid(sign * upper) - tf.math.sigmoid(sign * lower))
        lik = tf.maximum(lik, 1e-9)
        lik = tf.reshape(lik, (self.channels, shape[0], shape[1], shape[2]))
        return tf.transpose(lik, (1, 2, 3, 0))

    def cdf_numpy(self, level: int, lo: int, hi: int) -> np.ndarray:
        """Float CDF at the half-integers lo-.5 .. hi+.5 for every channel: [channels, hi-lo+2]."""
        x = np.arange(lo, hi + 2, dtype=np.float32) - 0.5
        v = tf.constant(np.tile(x[None, None, :], (self.channels, 1, 1)))
        return tf.math.sigmoid(self.cdf_logits(v, tf.constant(level)))[:, 0, :].numpy().astype(np.float64)


class Codec(tf_keras.Model):
    """Variable-rate codec: shared transforms, per-level channel gains and per-level densities."""

    def __init__(self, cfg: ModelConfig, policy: str | None = None, **kw):
        """policy: the transforms' Keras dtype policy (None: float32; "mixed_bfloat16": bfloat16 convs over
        float32 variables, training only). Gains, densities, rate and distortion stay float32."""
        super().__init__(**kw)
        self.cfg = cfg
        self.encoder = build_encoder(cfg, policy=policy)
        self.decoder = build_decoder(cfg, policy=policy)
        L, M = cfg.levels, cfg.latent_channels
        # levels start apart (coarse -> fine quantization) so each lambda has its own operating point early
        g0 = np.repeat(np.geomspace(0.5, 2.0, L)[:, None], M, axis=1).astype(np.float32)
        self.gain = self.add_weight(name="gain", shape=(L, M), initializer=tf_keras.initializers.Constant(g0))
        self.inv_gain = self.add_weight(
            name="inv_gain", shape=(L, M), initializer=tf_keras.initializers.Constant(1.0 / g0)
        )
        self.density = FactorizedDensity(L, M, cfg.density_filters, name="density")
        self.density.build((None, None, None, M))

    def call(self, x: tf.Tensor, level: tf.Tensor, training: bool = False, ste: bool = False):
        """-> (reconstruction, likelihoods). training: the rate sees y + U(-.5, .5); the decoder sees the same
        noisy latent, or with ste=True the rounded one (straight-through gradient), as it will after export."""
        y = tf.cast(self.encoder(x), tf.float32) * tf.gather(self.gain, level)
        if training:
            y_hat = y + tf.random.uniform(tf.shape(y), -0.5, 0.5)
            y_dec = y + tf.stop_gradient(tf.round(y) - y) if ste else y_hat
        else:
            y_hat = y_dec = tf.round(y)
        lik = self.density.likelihood(y_hat, level)
        x_hat = tf.cast(self.decoder(y_dec * tf.gather(self.inv_gain, level)), tf.float32)
        return x_hat, lik


def rd_terms(x: tf.Tensor, x_hat: tf.Tensor, lik: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(bpp, mse on the [0, 255] scale) for a batch."""
    n_px = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
    bpp = tf.reduce_sum(-tf.math.log(lik)) / (np.log(2.0) * n_px)
    mse = tf.reduce_mean(tf.square(x - x_hat)) * 255.0**2
    return bpp, mse


def macs_per_pixel(model: tf_keras.Model, tile: int) -> float:
    """Multiply-accumulates per input pixel of the encoder / output pixel of the decoder."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, GDN):  # the 1x1 conv of the squares (C x C per pixel)
            h, w, c = layer.output.shape[1:]
            total += h * w * c * c
        elif isinstance(layer, layers.Conv2DTranspose):  # every input pixel meets every tap
            h, w, cin = layer.input.shape[1:]
            kh, kw, cout, _ = layer.kernel.shape
            total += h * w * cout * kh * kw * cin
        elif isinstance(layer, layers.Conv2D):
            h, w, cout = layer.output.shape[1:]
            kh, kw, cin, _ = layer.kernel.shape
            total += h * w * cout * kh * kw * cin
    return total / (tile * tile)
