"""The codec: analysis / synthesis transforms, per-level gains and a factorized entropy model.

Only ops that full-int8 TFLite and TFLM run are used: CONV_2D (fused ReLU) and RESIZE_NEAREST_NEIGHBOR, or
TRANSPOSE_CONV for the "convt" decoder.
Nothing passes from encoder to decoder except the quantized latent.
"""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .tfenv import tf, tf_keras

layers = tf_keras.layers


def build_encoder(cfg: ModelConfig, tile: int | None = None, name: str = "encoder") -> tf_keras.Model:
    x = inp = layers.Input((tile, tile, 3), batch_size=1 if tile else None, name="pixels")
    chans = (*cfg.enc_channels, cfg.latent_channels)
    for i, (c, k) in enumerate(zip(chans, cfg.enc_kernels, strict=True)):
        last = i == len(chans) - 1
        x = layers.Conv2D(c, k, strides=2, padding="same", activation=None if last else "relu", name=f"enc{i}")(x)
    return tf_keras.Model(inp, x, name=name)


def build_decoder(cfg: ModelConfig, tile: int | None = None, name: str = "decoder") -> tf_keras.Model:
    lat = None if tile is None else tile // cfg.stride
    x = inp = layers.Input((lat, lat, cfg.latent_channels), batch_size=1 if tile else None, name="latent")
    chans = (*cfg.dec_channels, 3)
    for i, (c, k) in enumerate(zip(chans, cfg.dec_kernels, strict=True)):
        act = None if i == len(chans) - 1 else "relu"
        if cfg.decoder == "convt":
            x = layers.Conv2DTranspose(c, k, strides=2, padding="same", activation=act, name=f"dec{i}")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(x)
            x = layers.Conv2D(c, k, padding="same", activation=act, name=f"dec{i}")(x)
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

    def __init__(self, cfg: ModelConfig, **kw):
        super().__init__(**kw)
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg)
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
        y = self.encoder(x) * tf.gather(self.gain, level)
        if training:
            y_hat = y + tf.random.uniform(tf.shape(y), -0.5, 0.5)
            y_dec = y + tf.stop_gradient(tf.round(y) - y) if ste else y_hat
        else:
            y_hat = y_dec = tf.round(y)
        lik = self.density.likelihood(y_hat, level)
        x_hat = self.decoder(y_dec * tf.gather(self.inv_gain, level))
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
        if isinstance(layer, layers.Conv2DTranspose):  # every input pixel meets every tap
            h, w, cin = layer.input.shape[1:]
            kh, kw, cout, _ = layer.kernel.shape
            total += h * w * cout * kh * kw * cin
        elif isinstance(layer, layers.Conv2D):
            h, w, cout = layer.output.shape[1:]
            kh, kw, cin, _ = layer.kernel.shape
            total += h * w * cout * kh * kw * cin
    return total / (tile * tile)
