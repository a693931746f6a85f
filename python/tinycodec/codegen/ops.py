"""Lowering: one TFLite op -> one kernel call with fully precomputed integer parameters.

Every op handler validates what it supports and raises a one-line CodegenError naming the model and op
for anything else. Parameters that TFLite derives with floating point at Prepare time (multipliers,
activation ranges, resize index tables) are computed here, in the same precision as TFLite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .errors import CodegenError
from .quant import (
    activation_range,
    compute_out_size,
    compute_padding,
    f32,
    inv_sqrt_quantized_multiplier_exp,
    multiply_by_quantized_multiplier,
    nearest_neighbor_map,
    quantize_multiplier,
)
from .reader import Graph, Op, Tensor

_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_PAD = {0: "SAME", 1: "VALID"}


@dataclass(frozen=True, eq=False)
class ConstArray:
    """A constant array emitted into flash; referenced from params as `@<name>`."""

    name: str
    ctype: str  # "int8_t", "int32_t", "uint16_t"
    values: np.ndarray  # 1-D

    @property
    def nbytes(self) -> int:
        return int(self.values.size * np.dtype(self.values.dtype).itemsize)


@dataclass(frozen=True, eq=False)
class Step:
    """One kernel call of the static schedule."""

    op_index: int
    op: str
    kernel: str  # C function
    call: str  # "unary" f(&p, in, out) | "binary" f(&p, a, b, out) | "list" f(&p, ins[], out)
    params_type: str
    params: tuple[tuple[str, str], ...]  # (field, C initializer); "@name" refers to an array of this step
    arrays: tuple[ConstArray, ...]
    inputs: tuple[int, ...]  # tensors read (activations or constants)
    output: int
    macs: int
    elementwise: bool  # output may share memory with an input that dies at this step
    scratch: int = 0  # bytes of the shared kernel scratch buffer this step needs (im2col of the fast paths)
    # Row-banded (patch-wise) chain of convs (planner.band_steps); empty for an ordinary step.
    band: tuple[Step, ...] = ()  # member steps, in order; member k reads member k-1's output
    schedule: tuple[tuple[int, int, int], ...] = ()  # (member, first output row, end row) calls, in order
    rings: tuple[tuple[int, int, int], ...] = ()  # (tensor, ring rows, row bytes) per intermediate tensor


def leaf_steps(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Kernel-level steps: the members of banded chains and fused GDNs (also a GDN inside a band) in place of
    the chain."""
    return tuple(m for s in steps for m in (leaf_steps(s.band) if s.band else (s,)))


class _Ctx:
    def __init__(self, graph: Graph, op: Op) -> None:
        self.g = graph
        self.op = op

    def fail(self, msg: str) -> CodegenError:
        return CodegenError(f"model {self.g.name}: op #{self.op.index} {self.op.code}: {msg}")

    def t(self, idx: int) -> Tensor:
        return self.g.tensors[idx]

    def act(self, code: int | None) -> str:
        name = _ACT.get(int(code or 0), f"code {code}")
        if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
            raise self.fail(f"fused activation {name} is not supported")
        return name

    def int8_act(self, idx: int, what: str, rank: int | None = 4) -> Tensor:
        t = self.t(idx)
        if t.dtype != "int8":
            raise self.fail(f"{what} tensor '{t.name}' is {t.dtype}, only int8 is supported")
        if len(t.scales) != 1:
            raise self.fail(f"{what} tensor '{t.name}' must be per-tensor quantized (has {len(t.scales)} scales)")
        if rank is not None:
            if len(t.shape) != rank:
                raise self.fail(f"{what} tensor '{t.name}' has rank {len(t.shape)}, expected {rank}")
            if rank == 4 and t.shape[0] != 1:
                raise self.fail(f"{what} tensor '{t.name}' has batch {t.shape[0]}, only batch 1 is supported")
        return t


def _i(v: int) -> str:
    return str(int(v))


def _conv_multipliers(ctx: _Ctx, x: Tensor, w: Tensor, y: Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    scales = w.scales
    if len(scales) == 1:
        scales = scales * n
    if len(scales) != n:
        raise ctx.fail(f"filter has {len(w.scales)} scales for {n} output channels")
    if any(z != 0 for z in w.zero_points):
        raise ctx.fail("filter zero points must be 0 (symmetric int8 weights)")
    mults, shifts = [], []
    for s in scales:
        eff = float(x.scale) * float(s) / float(y.scale)  # double, as PopulateConvolutionQuantizationParams
        m, sh = quantize_multiplier(eff)
        mults.append(m)
        shifts.append(sh)
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def _bias(ctx: _Ctx, idx: int, n: int) -> ConstArray | None:
    if idx < 0:
        return None
    b = ctx.t(idx)
    if b.dtype != "int32" or not b.is_const:
        raise ctx.fail(f"bias must be a constant int32 tensor (is {b.dtype})")
    arr = b.array().reshape(-1)
    if arr.size != n:
        raise ctx.fail(f"bias has {arr.size} values for {n} channels")
    return ConstArray("bias", "int32_t", arr.astype(np.int32))


def _const_int8_weights(ctx: _Ctx, idx: int) -> Tensor:
    w = ctx.t(idx)
    if w.dtype != "int8" or not w.is_const:
        raise ctx.fail(f"filter must be a constant int8 tensor (is {'const ' if w.is_const else ''}{w.dtype})")
    if len(w.shape) != 4:
        raise ctx.fail(f"filter must have rank 4, has shape {w.shape}")
    return w


def conv_scratch_bytes(k: int, out_c: int, weights_offset: int = 0) -> int:
    """TC_CONV_SCRATCH_BYTES(k, out_c) of tc_kernels.h: im2col of 4 output pixels as int16 up to round_up(k, 8)
    + 16 bytes of requantization constants per output channel, + a copy of the weights in rows of round_up(k, 4)
    bytes when k % 4 != 0 or they start unaligned (weights_offset: bytes into the 16-aligned array; DSP; MVE needs
    less)."""
    k4, k8 = (k + 3) // 4 * 4, (k + 7) // 8 * 8
    return 8 * k8 + 16 * out_c + (out_c * k4 if k % 4 or weights_offset % 4 else 0)


def _window(ctx: _Ctx, x: Tensor, y: Tensor, kh: int, kw: int) -> tuple[tuple[str, str], ...]:
    """Stride, dilation and padding params of a conv-like op, checked against its output shape."""
    o = ctx.op.options
    _, ih, iw, _ = x.shape
    oh, ow = y.shape[1], y.shape[2]
    pad = _PAD.get(int(o.padding), "?")
    sh, sw = int(o.strideH), int(o.strideW)
    dh, dw = int(o.dilationHFactor or 1), int(o.dilationWFactor or 1)
    if (compute_out_size(pad, ih, kh, sh, dh), compute_out_size(pad, iw, kw, sw, dw)) != (oh, ow):
        raise ctx.fail(f"output shape {y.shape} inconsistent with {pad} padding")
    return (
        ("k_h", _i(kh)),
        ("k_w", _i(kw)),
        ("stride_h", _i(sh)),
        ("stride_w", _i(sw)),
        ("dil_h", _i(dh)),
        ("dil_w", _i(dw)),
        ("pad_h", _i(compute_padding(sh, dh, ih, kh, oh))),
        ("pad_w", _i(compute_padding(sw, dw, iw, kw, ow))),
    )


def _requant(
    ctx: _Ctx, x: Tensor, w: Tensor, y: Tensor, wflat: np.ndarray, bias_input: int = 2
) -> tuple[list[ConstArray], ConstArray | None, tuple[tuple[str, str], ...]]:
    """Weights, bias (op input `bias_input`, optional) and per-channel output rescaling of a conv-like op
    -> (arrays, bias, params)."""
    op, oc = ctx.op, y.shape[3]
    mult, shift = _conv_multipliers(ctx, x, w, y, oc)
    act = getattr(op.options, "fusedActivationFunction", 0) if op.options is not None else 0
    lo, hi = activation_range(ctx.act(act), y.scale, y.zero_point)
    bias = _bias(ctx, op.inputs[bias_input] if len(op.inputs) > bias_input else -1, oc)
    arrays = [ConstArray("weights", "int8_t", wflat), *([bias] if bias is not None else [])]
    arrays += [ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift)]
    params = (
        ("in_offset", _i(-x.zero_point)),
        ("out_offset", _i(y.zero_point)),
        ("act_min", _i(lo)),
        ("act_max", _i(hi)),
        ("weights", "@weights"),
        ("bias", "@bias" if bias is not None else "0"),
        ("out_mult", "@mult"),
        ("out_shift", "@shift"),
    )
    return arrays, bias, params


def _bias_fold(wq: np.ndarray, x: Tensor, bias: ConstArray | None) -> np.ndarray:
    """MVE fast path: bias + the input offset x the sum of each output channel's weights (wq: [out_c, K]),
    wrapped to int32 like the device's int32 arithmetic (int8 x int8 dot products, offset folded in)."""
    fold = wq.astype(np.int64).sum(axis=1) * int(-x.zero_point)
    if bias is not None:
        fold += bias.values.astype(np.int64)
    return ((fold + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def _shape_params(x: Tensor, y: Tensor) -> tuple[tuple[str, str], ...]:
    names = ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")
    return tuple(zip(names, map(_i, (*x.shape[1:], *y.shape[1:]))))


def _lower_conv(ctx: _Ctx) -> Step:
    op = ctx.op
    x = ctx.int8_act(op.inputs[0], "input")
    w = _const_int8_weights(ctx, op.inputs[1])
    y = ctx.int8_act(op.outputs[0], "output")
    _, ih, iw, ic = x.shape
    oc, kh, kw, wic = w.shape
    if wic != ic:
        raise ctx.fail(f"grouped convolution (filter depth {wic} vs input depth {ic}) is not supported")
    if y.shape[3] != oc:
        raise ctx.fail(f"output depth {y.shape[3]} != filter count {oc}")
    window = _window(ctx, x, y, kh, kw)
    wq = w.array().reshape(oc, -1)
    arrays, bias, quant = _requant(ctx, x, w, y, wq.reshape(-1))
    arrays.append(ConstArray("bias_fold", "int32_t", _bias_fold(wq, x, bias)))
    params = _shape_params(x, y) + window + quant
    params += (
        ("y_map", "0"),
        ("x_map", "0"),
        ("src_w", _i(iw)),
        ("bias_fold", "@bias_fold"),
        ("scratch", "tc_gen_scratch"),
        ("scratch_bytes", "TC_GEN_SCRATCH_BYTES"),
    )
    oh, ow = y.shape[1], y.shape[2]
    macs = oh * ow * oc * kh * kw * ic
    return Step(
        op.index, op.code, "tc_conv2d_s8", "unary", "tc_conv_params_t", params, tuple(arrays), (x.index,), y.index,
        macs, False, conv_scratch_bytes(kh * kw * ic, oc),
    )  # fmt: skip


def _lower_dwconv(ctx: _Ctx) -> Step:
    op = ctx.op
    x = ctx.int8_act(op.inputs[0], "input")
    w = _const_int8_weights(ctx, op.inputs[1])
    y = ctx.int8_act(op.outputs[0], "output")
    ic = x.shape[3]
    one, kh, kw, oc = w.shape
    if one != 1 or oc % ic != 0 or y.shape[3] != oc:
        raise ctx.fail(f"unsupported filter shape {w.shape} for input depth {ic}")
    window = _window(ctx, x, y, kh, kw)
    arrays, _, quant = _requant(ctx, x, w, y, w.array().reshape(-1))
    params = _shape_params(x, y) + (("depth_mult", _i(oc // ic)),) + window + quant
    macs = y.shape[1] * y.shape[2] * oc * kh * kw
    return Step(
        op.index, op.code, "tc_dwconv2d_s8", "unary", "tc_dwconv_params_t", params, tuple(arrays), (x.index,),
        y.index, macs, False,
    )  # fmt: skip


def tconv_phases(k: int, s: int, pad: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Sub-pixel decomposition of a transposed convolution along one axis (kernel k, stride s, the
    reference's leading padding pad): for each output phase ph = 0..s-1 (outputs o = s * y + ph), the
    stride-1 conv that gathers them: (its leading padding, the filter taps of its sub-kernel in order).

    The reference adds input i through tap f to output i * s - pad + f. For o = s * y + ph the taps are
    f = s * t + r (r = (ph + pad) % s, t = 0..T-1, T = ceil((k - r) / s)), reading input
    i = y + (ph + pad) // s - t; with sub-kernel index j = T - 1 - t (flipped) that is i = y - pad' + j,
    pad' = T - 1 - (ph + pad) // s. A phase no tap reaches (k < s) gets one tap -1: a zero weight (its
    outputs are bias only, as in the reference)."""
    out = []
    for ph in range(s):
        r, q = (ph + pad) % s, (ph + pad) // s
        n = -(-(k - r) // s) if k > r else 0
        if n == 0:
            out.append((0, (-1,)))
        else:
            out.append((n - 1 - q, tuple(s * (n - 1 - j) + r for j in range(n))))
    return tuple(out)


def tconv_phase_kernels(
    w: np.ndarray, stride_h: int, stride_w: int, pad_h: int, pad_w: int
) -> tuple[tuple[int, int, int, int, np.ndarray], ...]:
    """Per phase (py-major): (k_h, k_w, pad_h, pad_w, sub-kernel [out_c][k_h][k_w][in_c]) of an OHWI
    transpose-conv filter w; the sub-kernels hold every tap of w exactly once (plus zeros if k < s)."""
    padded = np.concatenate([w, np.zeros_like(w[:, :1])], axis=1)  # tap -1 -> a zero row / column
    padded = np.concatenate([padded, np.zeros_like(padded[:, :, :1])], axis=2)
    out = []
    for pad_y, taps_y in tconv_phases(w.shape[1], stride_h, pad_h):
        for pad_x, taps_x in tconv_phases(w.shape[2], stride_w, pad_w):
            sub = padded[:, list(taps_y)][:, :, list(taps_x)]
            out.append((len(taps_y), len(taps_x), pad_y, pad_x, np.ascontiguousarray(sub)))
    return tuple(out)


def _lower_tconv(ctx: _Ctx) -> Step:
    op, o = ctx.op, ctx.op.options
    if len(op.inputs) not in (3, 4):
        raise ctx.fail(f"expected 3 or 4 inputs (output_shape, filter, input[, bias]), has {len(op.inputs)}")
    x = ctx.int8_act(op.inputs[2], "input")
    w = _const_int8_weights(ctx, op.inputs[1])
    y = ctx.int8_act(op.outputs[0], "output")
    shape_t = ctx.t(op.inputs[0])
    if shape_t.dtype != "int32" or not shape_t.is_const:
        raise ctx.fail("the output_shape input must be a constant int32 tensor (dynamic output shapes)")
    if tuple(int(v) for v in shape_t.array().reshape(-1)) != y.shape:
        raise ctx.fail(f"output_shape {shape_t.array().tolist()} differs from the output tensor {list(y.shape)}")
    _, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    n_out, kh, kw, wic = w.shape
    if wic != ic:
        raise ctx.fail(f"filter depth {wic} != input depth {ic}")
    if n_out != oc:
        raise ctx.fail(f"output depth {oc} != filter count {n_out}")
    if len(w.scales) > 1 and w.quantized_dimension != 0:
        raise ctx.fail(f"filter quantized along dimension {w.quantized_dimension}, expected 0")
    if o is None:
        raise ctx.fail("missing TransposeConvOptions")
    pad = _PAD.get(int(o.padding), f"code {o.padding}")
    if pad not in ("SAME", "VALID"):
        raise ctx.fail(f"padding {pad} is not supported")
    sh, sw = int(o.strideH), int(o.strideW)
    if sh < 1 or sw < 1:
        raise ctx.fail(f"stride {sh}x{sw} is not supported")
    if int(getattr(o, "quantizedBiasType", 0) or 0) not in (0, 2):  # default / INT32
        raise ctx.fail(f"quantized bias type {o.quantizedBiasType} is not supported (int32 only)")
    # padding as TFLite's Prepare: ComputePaddingHeightWidth on the *output* size (dilation 1)
    pad_h = compute_padding(sh, 1, oh, kh, compute_out_size(pad, oh, kh, sh, 1))
    pad_w = compute_padding(sw, 1, ow, kw, compute_out_size(pad, ow, kw, sw, 1))
    phases = tconv_phase_kernels(w.array(), sh, sw, pad_h, pad_w)
    wq = np.concatenate([sub.reshape(-1) for *_, sub in phases])
    arrays, bias, quant = _requant(ctx, x, w, y, wq, bias_input=3)
    arrays.append(ConstArray("phases", "int32_t", np.array([g[:4] for g in phases], dtype=np.int32).reshape(-1)))
    fold = [_bias_fold(sub.reshape(oc, -1), x, bias) for *_, sub in phases]
    arrays.append(ConstArray("bias_fold", "int32_t", np.concatenate(fold)))
    params = _shape_params(x, y) + (("stride_h", _i(sh)), ("stride_w", _i(sw))) + quant
    params += (
        ("phases", "@phases"),
        ("bias_fold", "@bias_fold"),
        ("scratch", "tc_gen_scratch"),
        ("scratch_bytes", "TC_GEN_SCRATCH_BYTES"),
    )
    macs, scratch, offset = 0, 0, 0
    for k, (th, tw, *_rest) in enumerate(phases):
        py, px = divmod(k, sw)
        macs += -(-(oh - py) // sh) * -(-(ow - px) // sw) * oc * th * tw * ic
        scratch = max(scratch, conv_scratch_bytes(th * tw * ic, oc, offset))
        offset += oc * th * tw * ic
    return Step(
        op.index, op.code, "tc_transpose_conv_s8", "unary", "tc_tconv_params_t", params, tuple(arrays), (x.index,),
        y.index, macs, False, scratch,
    )  # fmt: skip


def _lower_resize_nn(ctx: _Ctx) -> Step:
    op, o = ctx.op, ctx.op.options
    x = ctx.int8_act(op.inputs[0], "input")
    y = ctx.int8_act(op.outputs[0], "output")
    _, ih, iw, c = x.shape
    _, oh, ow, oc = y.shape
    if oc != c:
        raise ctx.fail("output depth differs from input depth")
    if len(op.inputs) > 1 and not ctx.t(op.inputs[1]).is_const:
        raise ctx.fail("the size input must be constant")
    ac = bool(o.alignCorners) if o is not None else False
    hp = bool(o.halfPixelCenters) if o is not None else False
    if max(ih, iw) > 65535:
        raise ctx.fail("input too large for 16-bit index tables")
    ymap = np.array(nearest_neighbor_map(oh, ih, ac, hp), dtype=np.uint16)
    xmap = np.array(nearest_neighbor_map(ow, iw, ac, hp), dtype=np.uint16)
    params = (
        ("in_h", _i(ih)),
        ("in_w", _i(iw)),
        ("c", _i(c)),
        ("out_h", _i(oh)),
        ("out_w", _i(ow)),
        ("y_map", "@ymap"),
        ("x_map", "@xmap"),
    )
    arrays = (ConstArray("ymap", "uint16_t", ymap), ConstArray("xmap", "uint16_t", xmap))
    return Step(
        op.index,
        op.code,
        "tc_resize_nearest_s8",
        "unary",
        "tc_resize_nn_params_t",
        params,
        arrays,
        (x.index,),
        y.index,
        0,
        False,
    )


def _binary_operands(ctx: _Ctx, sign: str):  # noqa: ANN202
    """ADD / MUL: the two int8 operands and output (same shapes: no broadcasting), the fused activation's
    clamp, and their shared leading params (size, the three offsets)."""
    op, o = ctx.op, ctx.op.options
    a = ctx.int8_act(op.inputs[0], "input1", rank=None)
    b = ctx.int8_act(op.inputs[1], "input2", rank=None)
    y = ctx.int8_act(op.outputs[0], "output", rank=None)
    if a.shape != b.shape or a.shape != y.shape:
        raise ctx.fail(f"broadcasting {a.shape} {sign} {b.shape} -> {y.shape} is not supported")
    lo, hi = activation_range(ctx.act(o.fusedActivationFunction if o is not None else 0), y.scale, y.zero_point)
    lead = (
        ("size", _i(y.numel)),
        ("in1_offset", _i(-a.zero_point)),
        ("in2_offset", _i(-b.zero_point)),
        ("out_offset", _i(y.zero_point)),
    )
    return a, b, y, (("act_min", _i(lo)), ("act_max", _i(hi))), lead


def _lower_add(ctx: _Ctx) -> Step:
    op = ctx.op
    a, b, y, clamp, lead = _binary_operands(ctx, "+")
    left_shift = 20
    twice_max = float(f32(2.0) * max(f32(a.scale), f32(b.scale)))
    m1, s1 = quantize_multiplier(float(a.scale) / twice_max)
    m2, s2 = quantize_multiplier(float(b.scale) / twice_max)
    mo, so = quantize_multiplier(twice_max / float(f32(1 << left_shift) * f32(y.scale)))
    if max(s1, s2, so) > 0:
        raise ctx.fail("input/output scales give a multiplier >= 1")
    params = (
        *lead,
        ("left_shift", _i(left_shift)),
        ("in1_mult", _i(m1)),
        ("in1_shift", _i(s1)),
        ("in2_mult", _i(m2)),
        ("in2_shift", _i(s2)),
        ("out_mult", _i(mo)),
        ("out_shift", _i(so)),
        *clamp,
    )
    return Step(
        op.index,
        op.code,
        "tc_add_s8",
        "binary",
        "tc_add_params_t",
        params,
        (),
        (a.index, b.index),
        y.index,
        0,
        True,
    )


def _lower_concat(ctx: _Ctx) -> Step:
    op, o = ctx.op, ctx.op.options
    y = ctx.int8_act(op.outputs[0], "output", rank=None)
    ins = [ctx.int8_act(i, f"input{k}", rank=None) for k, i in enumerate(op.inputs)]
    if ctx.act(o.fusedActivationFunction) != "NONE":
        raise ctx.fail("fused activation on CONCATENATION is not supported")
    rank = len(y.shape)
    axis = int(o.axis) + (rank if int(o.axis) < 0 else 0)
    for t in ins:
        if f32(t.scale) != f32(y.scale) or t.zero_point != y.zero_point:
            raise ctx.fail(
                f"input '{t.name}' needs requantization (scale/zero point differ from the output); "
                "the int8 reference kernel does not rescale"
            )
        if len(t.shape) != rank or t.shape[:axis] != y.shape[:axis] or t.shape[axis + 1 :] != y.shape[axis + 1 :]:
            raise ctx.fail(f"input shape {t.shape} does not match output {y.shape} on axis {axis}")
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    sizes = np.array([int(np.prod(t.shape[axis:], dtype=np.int64)) for t in ins], dtype=np.int32)
    params = (("n_inputs", _i(len(ins))), ("outer", _i(outer)), ("copy_size", "@sizes"))
    return Step(
        op.index,
        op.code,
        "tc_concat_s8",
        "list",
        "tc_concat_params_t",
        params,
        (ConstArray("sizes", "int32_t", sizes),),
        tuple(t.index for t in ins),
        y.index,
        0,
        False,
    )


def _lower_leaky_relu(ctx: _Ctx) -> Step:
    op, o = ctx.op, ctx.op.options
    x = ctx.int8_act(op.inputs[0], "input", rank=None)
    y = ctx.int8_act(op.outputs[0], "output", rank=None)
    alpha = f32(o.alpha if o is not None else 0.2)
    ma, sa = quantize_multiplier(float(f32(x.scale) * alpha / f32(y.scale)))
    mi, si = quantize_multiplier(float(f32(x.scale) / f32(y.scale)))
    params = (
        ("size", _i(y.numel)),
        ("in_zp", _i(x.zero_point)),
        ("out_zp", _i(y.zero_point)),
        ("mult_identity", _i(mi)),
        ("shift_identity", _i(si)),
        ("mult_alpha", _i(ma)),
        ("shift_alpha", _i(sa)),
    )
    return Step(
        op.index,
        op.code,
        "tc_leaky_relu_s8",
        "unary",
        "tc_leaky_relu_params_t",
        params,
        (),
        (x.index,),
        y.index,
        0,
        True,
    )


def relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int, f32_ratio: bool = False) -> np.ndarray:
    """int8 RELU (ReluQuantized) for all 256 inputs, index = input + 128: out_zp + MultiplyByQuantizedMultiplier(
    in - in_zp) clamped to [max(-128, out_zp), 127]. The multiplier is the double quotient in_scale / out_scale
    as TFLM computes it (CalculateReluOpData); TFLite's ReluPrepare divides in float32 first (f32_ratio=True),
    which can round one table entry differently (rare; the gen backend follows TFLM, the host oracle)."""
    ratio = float(f32(in_scale) / f32(out_scale)) if f32_ratio else float(in_scale) / float(out_scale)
    m, sh = quantize_multiplier(ratio)
    lo = max(-128, out_zp)  # + round(0.0f / out_scale)
    vals = [min(127, max(lo, out_zp + multiply_by_quantized_multiplier(v - in_zp, m, sh))) for v in range(-128, 128)]
    return np.array(vals, dtype=np.int8)


def _lut_step(op: Op, x: Tensor, y: Tensor, table: np.ndarray) -> Step:
    """y = table[x + 128] elementwise by tc_lut_s8, in place."""
    return Step(
        op.index, op.code, "tc_lut_s8", "unary", "tc_lut_params_t", (("size", _i(y.numel)), ("table", "@table")),
        (ConstArray("table", "int8_t", table),), (x.index,), y.index, 0, True,
    )  # fmt: skip


def _lower_as_table(ctx: _Ctx, table_of: Callable[[float, int, float, int], np.ndarray]) -> Step:
    """An int8 -> int8 elementwise op as a 256-entry table run by tc_lut_s8 (in place); table_of(in_scale, in_zp,
    out_scale, out_zp) evaluates the op's exact integer arithmetic for every input."""
    op = ctx.op
    x = ctx.int8_act(op.inputs[0], "input", rank=None)
    y = ctx.int8_act(op.outputs[0], "output", rank=None)
    if x.shape != y.shape:
        raise ctx.fail(f"input shape {x.shape} != output shape {y.shape}")
    return _lut_step(op, x, y, table_of(x.scale, x.zero_point, y.scale, y.zero_point))


def _lower_relu(ctx: _Ctx) -> Step:
    return _lower_as_table(ctx, relu_table)


def _lower_mul(ctx: _Ctx) -> Step:
    """MUL, same shapes (reference_integer_ops::MulElementwise): out_offset + MultiplyByQuantizedMultiplier(
    (in1 + in1_offset) * (in2 + in2_offset)), clamped; the multiplier is the double product in1_scale * in2_scale /
    out_scale of TFLite's and TFLM's Prepare. With both operands the same tensor (x * x, GDN's square) the op is
    an int8 -> int8 map: the same arithmetic evaluated for all 256 inputs into a tc_lut_s8 table."""
    op = ctx.op
    a, b, y, clamp, lead = _binary_operands(ctx, "*")
    m, sh = quantize_multiplier(float(a.scale) * float(b.scale) / float(y.scale))
    params = (*lead, ("out_mult", _i(m)), ("out_shift", _i(sh)), *clamp)
    if a.index == b.index:
        return _lut_step(op, a, y, mul_table(dict(params), np.arange(-128, 128), np.arange(-128, 128)))
    return Step(
        op.index, op.code, "tc_mul_s8", "binary", "tc_mul_params_t", params, (), (a.index, b.index), y.index,
        0, True,
    )  # fmt: skip


def mul_table(p: dict[str, str], in1: np.ndarray, in2: np.ndarray) -> np.ndarray:
    """tc_mul_s8's arithmetic (MulElementwise) on int8 operand arrays in1, in2 with the MUL step params p."""
    off1, off2, out_off = int(p["in1_offset"]), int(p["in2_offset"]), int(p["out_offset"])
    m, sh, lo, hi = (int(p[f]) for f in ("out_mult", "out_shift", "act_min", "act_max"))
    vals = [
        min(hi, max(lo, out_off + multiply_by_quantized_multiplier((int(u) + off1) * (int(v) + off2), m, sh)))
        for u, v in zip(in1, in2)
    ]
    return np.array(vals, dtype=np.int8)


def rsqrt_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """int8 RSQRT (TFLite's RsqrtEvalQuantizedInt8 = TFLM's RsqrtEvalQuantized) for all 256 inputs, index = input
    + 128. value = in - in_zp; 0 -> 127; else GetInvSqrtQuantizedMultiplierExp(value) -> (m, s), data =
    MultiplyByQuantizedMultiplier(1, m, s + 20), out = out_zp + MultiplyByQuantizedMultiplier(data, M, S - 20)
    clamped to int8, with (M, S) = QuantizeMultiplier(1 / double(sqrtf(in_scale) * out_scale)) (float32 product).
    TFLite and TFLM refuse inputs below the zero point ("Rsqrt is only defined for positive values", the invoke
    fails); the table maps them to 127 like 0 (they cannot occur after a conv with nonnegative weights, inputs and
    bias, as in GDN)."""
    k_shift = 20
    real = 1.0 / float(np.sqrt(f32(in_scale)) * f32(out_scale))
    m_out, s_out = quantize_multiplier(real)
    vals = []
    for q in range(-128, 128):
        value = q - in_zp
        if value <= 0:
            vals.append(127)
            continue
        m, s = inv_sqrt_quantized_multiplier_exp(value)
        data = multiply_by_quantized_multiplier(1, m, s + k_shift)
        out = multiply_by_quantized_multiplier(data, m_out, s_out - k_shift) + out_zp
        vals.append(min(127, max(-128, out)))
    return np.array(vals, dtype=np.int8)


def _lower_rsqrt(ctx: _Ctx) -> Step:
    return _lower_as_table(ctx, rsqrt_table)


def abs_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """int8 ABS (TFLite's and TFLM's AbsEvalQuantized) for all 256 inputs, index = input + 128: value =
    |in - in_zp|; with equal float32 scales out = out_zp + value, else out_zp + MultiplyByQuantizedMultiplier(
    value, QuantizeMultiplier(double(in_scale / out_scale))) (a float32 quotient, SetAbsOutputMultiplier),
    clamped to int8."""
    rescale = f32(in_scale) != f32(out_scale)
    m, sh = quantize_multiplier(float(f32(in_scale) / f32(out_scale))) if rescale else (0, 0)
    vals = []
    for q in range(-128, 128):
        value = abs(q - in_zp)
        out = out_zp + (multiply_by_quantized_multiplier(value, m, sh) if rescale else value)
        vals.append(min(127, max(-128, out)))
    return np.array(vals, dtype=np.int8)


def _lower_abs(ctx: _Ctx) -> Step:
    return _lower_as_table(ctx, abs_table)


LOWERINGS: dict[str, Callable[[_Ctx], Step]] = {
    "CONV_2D": _lower_conv,
    "DEPTHWISE_CONV_2D": _lower_dwconv,
    "RESIZE_NEAREST_NEIGHBOR": _lower_resize_nn,
    "ADD": _lower_add,
    "CONCATENATION": _lower_concat,
    "LEAKY_RELU": _lower_leaky_relu,
    "TRANSPOSE_CONV": _lower_tconv,
    "RELU": _lower_relu,
    "MUL": _lower_mul,
    "RSQRT": _lower_rsqrt,
    "ABS": _lower_abs,
}


def fuse_resize_conv(graph: Graph, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """RESIZE_NEAREST_NEIGHBOR whose only reader is a CONV_2D: the conv reads through the index maps.

    Bit-exact by construction (the resize only copies int8 values) and saves the resized tensor's RAM.
    """
    readers: dict[int, int] = {}
    for s in steps:
        for t in s.inputs:
            readers[t] = readers.get(t, 0) + 1
    by_output = {s.output: s for s in steps}
    fused: dict[int, Step] = {}  # conv op index -> fused step
    dropped: set[int] = set()
    for s in steps:
        if s.op != "CONV_2D":
            continue
        r = by_output.get(s.inputs[0])
        if r is None or r.op != "RESIZE_NEAREST_NEIGHBOR" or readers.get(r.output) != 1:
            continue
        if r.output in graph.outputs:
            continue
        rp = dict(r.params)
        params = tuple((f, {"y_map": "@ymap", "x_map": "@xmap", "src_w": rp["in_w"]}.get(f, v)) for f, v in s.params)
        fused[s.op_index] = Step(
            s.op_index,
            f"{r.op}+{s.op}",
            s.kernel,
            s.call,
            s.params_type,
            params,
            s.arrays + r.arrays,
            r.inputs,
            s.output,
            s.macs,
            s.elementwise,
            s.scratch,
        )
        dropped.add(r.op_index)
    return tuple(fused.get(s.op_index, s) for s in steps if s.op_index not in dropped)


def _set_params(step: Step, **fields: str) -> Step:
    return replace(step, params=tuple((f, fields.get(f, v)) for f, v in step.params))


def fuse_gdn(graph: Graph, steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """GDN / inverse GDN (model.GDN) as one step that runs its ops row by row.

    Pattern (as lowered): q = MUL(x, x) (a table); n = CONV_2D 1x1 stride 1 (q); r = RSQRT(n) (a table); GDN:
    y = MUL(x, r); inverse: s = MUL(n, r), y = MUL(x, s), where s is a function of n alone, so RSQRT and
    that MUL become one table of s over n (the same integers). The simplified inverse: q = ABS(x) (a table),
    n = CONV_2D 1x1 (q), y = MUL(x, n). Every intermediate is read only inside the
    pattern. Each op computes an output pixel from the same pixel of its inputs, so running them on one row at
    a time gives the same bytes; the intermediates then need two row buffers (W x C bytes each, `rings` with 1
    row) instead of whole tensors, and y may overwrite x in place (x's row is read before it is written). The
    members keep their kernels (the 1x1 conv its fast paths) with row-sized parameters: size = W x C for MUL /
    tables, in_h = out_h = 1 for the conv; call = "gdn" (emit._gdn_body)."""
    readers: dict[int, set[int]] = {}
    for i, s in enumerate(steps):
        for t in s.inputs:
            readers.setdefault(t, set()).add(i)
    outputs = set(graph.outputs)

    def only_readers(t: int, idx: set[int]) -> bool:
        return t not in outputs and readers.get(t, set()) == idx

    out: list[Step] = []
    i = 0
    while i < len(steps):
        group = _gdn_group(graph, steps, i, only_readers)
        if group is None:
            out.append(steps[i])
            i += 1
            continue
        members, n_ops = group
        x = graph.tensors[members[0].inputs[0]]
        row = x.shape[2] * x.shape[3]
        rowwise = []
        for m in members:
            if m.kernel == "tc_conv2d_s8":
                rowwise.append(_set_params(m, in_h="1", out_h="1"))
            else:
                rowwise.append(_set_params(m, size=_i(row)))
        out.append(
            Step(
                members[0].op_index, "GDN(" + ",".join(steps[k].op for k in range(i, i + n_ops)) + ")", "tc_gdn_rows",
                "gdn", "", (), (), (x.index,), members[-1].output, sum(m.macs for m in members), True,
                max(m.scratch for m in members), tuple(rowwise), (),
                ((members[0].output, 1, row), (members[1].output, 1, row)),
            )
        )  # fmt: skip
        i += n_ops
    return tuple(out)


def _gdn_group(graph: Graph, steps: tuple[Step, ...], i: int, only_readers) -> tuple[tuple[Step, ...], int] | None:  # noqa: ANN001
    """steps[i:] starting with fuse_gdn's pattern -> (members: square table, 1x1 conv, RSQRT table (GDN) or the
    composed sqrt table (inverse), MUL(x, .); or for the simplified inverse: ABS table, 1x1 conv, MUL(x, n); the
    number of steps replaced), else None."""
    if i + 2 >= len(steps):
        return None
    sq, norm = steps[i : i + 2]
    x = sq.inputs[0]
    if sq.op not in ("MUL", "ABS") or sq.kernel != "tc_lut_s8" or len(graph.tensors[x].shape) != 4:
        return None
    p = dict(norm.params)
    if norm.kernel != "tc_conv2d_s8" or norm.inputs != (sq.output,) or norm.band:
        return None
    one = {"k_h": "1", "k_w": "1", "stride_h": "1", "stride_w": "1", "pad_h": "0", "pad_w": "0", "y_map": "0"}
    if any(p[f] != v for f, v in one.items()) or p["x_map"] != "0":
        return None
    if graph.tensors[norm.output].shape != graph.tensors[x].shape or not only_readers(sq.output, {i + 1}):
        return None
    if sq.op == "ABS":
        mul = steps[i + 2]
        if mul.kernel != "tc_mul_s8" or set(mul.inputs) != {x, norm.output}:
            return None
        return ((sq, norm, mul), 3) if only_readers(norm.output, {i + 2}) else None
    if i + 3 >= len(steps):
        return None
    rs, mul = steps[i + 2 : i + 4]
    if rs.op != "RSQRT" or rs.inputs != (norm.output,) or mul.kernel != "tc_mul_s8":
        return None
    if not only_readers(rs.output, {i + 3}):
        return None
    if set(mul.inputs) == {x, rs.output} and only_readers(norm.output, {i + 2}):
        return (sq, norm, rs, mul), 4
    if set(mul.inputs) != {norm.output, rs.output} or i + 4 >= len(steps):
        return None
    last = steps[i + 4]
    if last.kernel != "tc_mul_s8" or set(last.inputs) != {x, mul.output}:
        return None
    if not only_readers(norm.output, {i + 2, i + 3}) or not only_readers(mul.output, {i + 4}):
        return None
    n = np.arange(-128, 128)
    r = next(a.values for a in rs.arrays if a.name == "table")
    ins = [n if t == norm.output else r for t in mul.inputs]
    table = mul_table(dict(mul.params), ins[0], ins[1])
    sqrt = Step(
        rs.op_index, "RSQRT+MUL", "tc_lut_s8", "unary", "tc_lut_params_t", (("size", dict(mul.params)["size"]),
        ("table", "@table")), (ConstArray("table", "int8_t", table),), (norm.output,), mul.output, 0, True,
    )  # fmt: skip
    return (sq, norm, sqrt, last), 5


def lower_graph(graph: Graph) -> tuple[Step, ...]:
    """The static schedule of a graph (TFLite's op order is already topological)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise CodegenError(
            f"model {graph.name}: needs exactly 1 input and 1 output (has {len(graph.inputs)} and {len(graph.outputs)})"
        )
    if not graph.ops:
        raise CodegenError(f"model {graph.name}: has no operators")
    steps = []
    for op in graph.ops:
        fn = LOWERINGS.get(op.code)
        if fn is None:
            raise CodegenError(
                f"model {graph.name}: op #{op.index} {op.code} is not supported "
                f"(supported: {', '.join(sorted(LOWERINGS))})"
            )
        if len(op.outputs) != 1:
            raise CodegenError(f"model {graph.name}: op #{op.index} {op.code}: expected one output")
        steps.append(fn(_Ctx(graph, op)))
    for role, idx in (("input", graph.inputs[0]), ("output", graph.outputs[0])):
        t = graph.tensors[idx]
        if t.dtype != "int8":
            raise CodegenError(f"model {graph.name}: graph {role} '{t.name}' is {t.dtype}, only int8 is supported")
    return tuple(steps)
