"""The ARM fast paths of the gen kernels (M4 DSP / M55 MVE) on the emulated boards, byte for byte vs TFLM.

The host can only run the portable path (and the plain-C twin of the DSP blocking), so single-op models
with awkward shapes (channel counts not multiple of 4/16, odd widths and pixel counts, strides,
dilation, padding edges, fused upsampling, no bias, reduction depths with K % 4, K % 8 and K % 16 tails, transposed
convs, out_c = 3 without im2col) and edited models whose requantization takes the general path are generated into
build/kerneltest/gen/, built into the qemu_m4_kerneltest / qemu_m55_kerneltest firmware and RUN over the serial
protocol.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from fw_helpers import booted_device, firmware_elf
from gen_helpers import L, Spec, model_file, random_input
from test_kernels import SPECS as HOST_SPECS
from tinycodec.codegen import generate
from tinycodec.oracle import run_tflm

pytestmark = pytest.mark.qemu

GEN_DIR = ROOT / "build" / "kerneltest" / "gen"

# shared with test_kernels.py (the same cached conversions): strides, padding edges, dilation, no bias, fused
# upsampling, and the row-banded chains (ring buffers, blocks of pixels crossing rows, the ring's wrap-around)
SHARED = (
    "conv_k3_s2_same_odd",
    "conv_k5_s2_valid_relu",
    "conv_k1",
    "conv_k3_dil2",
    "conv_k2_valid_nobias",
    "conv_k3x1_s1x2",
    "conv_up_conv",
    "band_k5s2_k3s2_k3s1",
    "band_k5s1_k5s2_odd",
    "band_k5s1_k3s1_odd",
    # TRANSPOSE_CONV: the phases' strided outputs on the DSP blocks (4 pixels crossing phase rows) and the MVE
    # pairs, per-phase bias_fold, K tails (in_c 5 / 6 / 9 / 3 / 7), zero-tap phases, VALID, stride 1 x 2, a separate
    # RELU (table, in place), a decoder
    "tconv_k3_s2_relu",
    "tconv_k5_s2",
    "tconv_k3_s2_small_nobias",
    "tconv_k4_s2_valid_relu6",
    "tconv_k1_s2",
    "tconv_k3x5_s2x1_relu",
    "tconv_zero_bias_relu",
    "tconv_decoder",
)
SPECS: tuple[Spec, ...] = tuple(s for s in HOST_SPECS if s.name in SHARED) + (
    # awkward shapes for the blocked paths
    Spec("kq_c5_o7_odd", (7, 11, 5), (L("conv", filters=7, kernel=3, padding="valid"),)),
    Spec("kq_c20_o17_s2", (11, 9, 20), (L("conv", filters=17, kernel=5, strides=2, activation="relu"),)),
    Spec("kq_c8_o3_up", (5, 3, 8), (L("up", size=2), L("conv", filters=3, kernel=3, activation="relu"))),
    Spec("kq_c33_o9_k1x3", (3, 13, 33), (L("conv", filters=9, kernel=(1, 3), strides=(1, 2)),)),
    Spec("kq_c16_o1_k5", (9, 7, 16), (L("conv", filters=1, kernel=5, use_bias=False),)),
    # MVE: out_c > 48 (a second requantization group: its 3-channel blocks then 1 or 2 channels left over),
    # in_c 3 (K = 75, the first layer's im2col), K % 16 != 0, the im2col-free path of small out_c (kernel rows
    # read from the input: stride 1 and 2, vertical dilation, single pixels at odd widths, transposed-conv
    # phases to 3 channels)
    Spec("kq_c7_o53_k3", (6, 7, 7), (L("conv", filters=53, kernel=3, activation="relu"),)),
    Spec("kq_c3_o49_k5_s2", (13, 11, 3), (L("conv", filters=49, kernel=5, strides=2),)),
    Spec("kq_c40_o3_k3_s1", (7, 9, 40), (L("conv", filters=3, kernel=3),)),
    Spec("kq_c12_o2_k3_dil2x1", (11, 7, 12), (L("conv", filters=2, kernel=3, dilation=(2, 1), padding="valid"),)),
    Spec("kq_c24_o3_k5_s2", (11, 13, 24), (L("conv", filters=3, kernel=5, strides=2, activation="relu"),)),
    Spec("kq_tconv_c24_o3_k5", (6, 7, 24), (L("convt", filters=3, kernel=5),)),
    Spec("kq_tconv_c9_o50_k3", (4, 5, 9), (L("convt", filters=50, kernel=3, activation="relu"),)),
    # the im2col-free path by taps: horizontal dilation, fused upsampling (x_map, pixel pairs on one source column)
    Spec("kq_c16_o3_k3_dil2", (9, 10, 16), (L("conv", filters=3, kernel=3, dilation=2, activation="relu"),)),
    Spec("kq_up2x3_c10_o2_k3", (4, 3, 10), (L("up", size=(2, 3)), L("conv", filters=2, kernel=3))),
    # DSP: K % 8 == 4 (a 4-K unit before the 16-K loop), K % 4 == 2 with in_c 6 (staged im2col, weight rows copied
    # zero-padded to round_up(K, 4)); out_c = 3 without im2col: fused upsampling (taps through x_map), a transposed conv
    # with in_c 8 (phase runs of 16 and 24 bytes), stride 2 with the padding on both sides
    Spec("kq_c4_o9_k3", (7, 9, 4), (L("conv", filters=9, kernel=3),)),
    Spec("kq_c6_o8_k3_s2", (9, 11, 6), (L("conv", filters=8, kernel=3, strides=2, activation="relu"),)),
    Spec("kq_up2_c16_o3_k3", (5, 4, 16), (L("up", size=2), L("conv", filters=3, kernel=3, activation="relu"))),
    Spec("kq_tconv_c8_o3_k5", (5, 6, 8), (L("convt", filters=3, kernel=5),)),
    Spec("kq_c16_o3_k5_s2", (10, 9, 16), (L("conv", filters=3, kernel=5, strides=2),)),
)
assert len(SPECS) == len(SHARED) + 19, "a shared spec was renamed in test_kernels.py"
# test_kernels.py's edited models whose requantization the DSP table cannot take (multiplier > 1, clamps narrower
# than int8: rq_apply) or takes with a non-zero output offset
MUTANTS = (
    "conv_relu_zp_m20",
    "conv_relu6_tight",
    "conv_mult_gt_1",
    "conv_no_act_zp",
    "tconv_relu_n1_to_1",
    "tconv_mult_gt_1",
)
# Rounding ties in the requantization: the output scale set so that the largest per-channel multiplier is 1/64
# (right shifts >= 5: one in 32 non-saturated outputs or more is a tie, negative ones included), output zero point 3,
# no activation (the DSP path's table requantization), run on inputs within +-4 of the input zero point (small sums).
TIES = ("kq_c5_o7_odd", "conv_k3_s2_same_odd", "kq_tconv_c8_o3_k5", "kq_c16_o3_k5_s2", "tconv_k3_s2_small_nobias")
BOARDS = [("qemu_m4_kerneltest", "qemu_m4"), ("qemu_m55_kerneltest", "qemu_m55")]


def _ties_mutant(data: bytes) -> tuple[bytes, int]:
    """(the edited model, its input zero point)"""
    from gen_helpers import mutate_tflite, set_output_quant
    from tinycodec.codegen.reader import read_tflite

    g = read_tflite(data, "m")
    op = g.ops[0]
    assert op.code in ("CONV_2D", "TRANSPOSE_CONV"), op.code
    x = g.tensors[op.inputs[2] if op.code == "TRANSPOSE_CONV" else op.inputs[0]]
    w = g.tensors[op.inputs[1]]
    scale = x.scale * max(w.scales) * 64.0
    return mutate_tflite(data, set_output_quant(0, scale=scale, zero_point=3)), x.zero_point


Case = tuple[str, bytes, tuple[int, ...], "int | None"]  # name, .tflite, input shape, zero point for near-zp inputs


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    """The cases in the firmware's model order."""
    from test_kernels import _mutants

    files = [model_file(s) for s in SPECS]
    cases: list[Case] = [(s.name, f.read_bytes(), s.input_shape, None) for s, f in zip(SPECS, files)]
    tmp = tmp_path_factory.mktemp("mutants")
    extra = [(name, data, shape, None) for name, data, shape in _mutants() if name in MUTANTS]
    for name, data, shape, _ in [c for c in cases if c[0] in TIES]:
        mutant, zp = _ties_mutant(data)
        extra.append((f"{name}_ties", mutant, shape, zp))
    for name, data, shape, zp in extra:
        f = tmp / f"{name}.tflite"
        f.write_bytes(data)
        files.append(f)
        cases.append((name, data, shape, zp))
    assert len(cases) == len(SPECS) + len(MUTANTS) + len(TIES)
    generate(files, GEN_DIR)
    return cases


@pytest.mark.parametrize("env,board", BOARDS, ids=[b[0] for b in BOARDS])
def test_fast_kernels_bit_exact_on_board(models: list[Case], env: str, board: str) -> None:
    elf = firmware_elf(env)
    with booted_device(elf, board=board, timeout=30.0) as (_, dev):
        info = dev.hello()
        names = [m.name for m in info.models]
        assert len(names) == len(models)
        for idx, (name, model, input_shape, zp) in enumerate(models):
            shape = (1, *input_shape)
            inputs = [random_input(shape, seed) for seed in range(2)]
            inputs += [np.full(shape, v, dtype=np.int8) for v in (-128, 127)]
            if zp is not None:
                rng = np.random.default_rng(7)
                inputs += [np.clip(zp + rng.integers(-4, 5, size=shape), -128, 127).astype(np.int8) for _ in range(3)]
            for x in inputs:
                ref = run_tflm(model, x)
                got = np.frombuffer(dev.run(idx, x.tobytes()).output, dtype=np.int8)
                np.testing.assert_array_equal(got.reshape(ref.shape), ref, err_msg=f"{env}: {name}")
