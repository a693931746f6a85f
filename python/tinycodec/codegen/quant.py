"""Quantization arithmetic done at conversion time, exactly as TFLite does it at Prepare time."""

from __future__ import annotations

import math

import numpy as np


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier (double-rounding build): m ~= q * 2^(shift - 31), q in Q31."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = tflite_round(q * float(1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"multiplier {m} out of range")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    if q_fixed > 2**31 - 1:
        raise ValueError(f"multiplier {m} out of range")
    return int(q_fixed), int(shift)


INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap32(x: int) -> int:
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return v >> 31 if v >= 0 else -((-v) >> 31)  # C division truncates toward zero


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT (round half away from zero)."""
    mask = (1 << exponent) - 1
    rem, thr = x & mask, (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if rem > thr else 0)


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on int32."""
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding), as tc_fixedpoint.h, on Python ints (x int32)."""
    left, right = max(shift, 0), max(-shift, 0)
    a = _wrap32(x << left)  # int32 wrap of x * 2^left, as the C cast
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(a, multiplier), right)


def inv_sqrt_quantized_multiplier_exp(value: int, reverse_shift: int = -1) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp (tensorflow/lite/kernels/internal/common.h): 1/sqrt(value) of an int32
    value >= 0 as (Q31 multiplier, shift): normalise to [2^27, 2^29) by pairs of bits, five Newton-Raphson steps
    x <- 1.5 x - (value/2) x^3 in gemmlowp fixed point with 3 integer bits, times sqrt(2)/2; values 0 and 1 give
    (INT32_MAX, 0). The shift is returned negated (reverse_shift = -1: a left shift)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (32 - value.bit_length() - 1) // 2 - 1  # CountLeadingZeros(value) - 1, in bit pairs, minus one
    shift -= pairs
    value <<= 2 * pairs
    srdhm, sat_pot = saturating_rounding_doubling_high_mul, saturating_rounding_multiply_by_pot
    f3_input = value >> 1  # FixedPoint<int32, 3>::FromRaw
    half_input = sat_pot(f3_input, -1)
    half_three = (1 << 28) + (1 << 27)  # 1.5 in F3
    x = 1 << 28  # F3::One()
    for _ in range(5):
        x3 = sat_pot(srdhm(srdhm(x, x), x), 6)  # Rescale<3>(x * x * x): F9 -> F3
        x = sat_pot(_wrap32(srdhm(half_three, x) - srdhm(half_input, x3)), 3)  # F6 -> F3
    x = srdhm(x, 1518500250)  # * sqrt(2)/2 in F0
    if shift < 0:
        x = _wrap32(x << -shift)
        shift = 0
    return x, shift * reverse_shift


def f32(x: float) -> np.float32:
    return np.float32(x)


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs (float32 quantize of the bounds)."""
    qmin, qmax = -128, 127

    def q(v: float) -> int:
        return zero_point + tflite_round(float(f32(v) / f32(scale)))

    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, q(0.0)), qmax
    if act == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(act)


def nearest_neighbor_map(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """Source indices of reference_ops::ResizeNearestNeighbor (GetNearestNeighbor), in float32."""
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    out = []
    for v in range(out_size):
        x = (f32(v) + offset) * scale
        iv = tflite_round(float(x)) if align_corners else math.floor(float(x))
        iv = min(iv, in_size - 1)
        if half_pixel_centers:
            iv = max(0, iv)
        out.append(int(iv))
    return out


def compute_padding(stride: int, dilation: int, in_size: int, k: int, out_size: int) -> int:
    """ComputePaddingWithOffset (the leading/top-left part)."""
    eff = (k - 1) * dilation + 1
    total = (out_size - 1) * stride + eff - in_size
    return max(total, 0) // 2


def compute_out_size(padding: str, in_size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride
