"""Bit-exactness of the gen backend's int8 kernels: our generated C == TFLite BUILTIN_REF == TFLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gen_helpers import (
    CODEC_LIKE,
    L,
    Spec,
    convert,
    model_file,
    mutate_tflite,
    random_input,
    run_litert_ref,
    set_output_quant,
)
from tinycodec.codegen import generate
from tinycodec.oracle import run_tflm
from tools.hostlib import HostModel, build_executable, run_executable

SPECS: tuple[Spec, ...] = (
    # CONV_2D
    Spec("conv_k3_s1_same_relu", (8, 8, 3), (L("conv", filters=8, kernel=3, activation="relu"),)),
    Spec("conv_k3_s2_same_odd", (9, 9, 4), (L("conv", filters=5, kernel=3, strides=2),)),
    Spec(
        "conv_k5_s2_valid_relu",
        (16, 16, 3),
        (L("conv", filters=6, kernel=5, strides=2, padding="valid", activation="relu"),),
    ),
    Spec("conv_k1", (6, 6, 16), (L("conv", filters=4, kernel=1),)),
    Spec("conv_k3_dil2", (10, 10, 4), (L("conv", filters=4, kernel=3, dilation=2),)),
    Spec("conv_k3_dil2_valid", (11, 9, 2), (L("conv", filters=3, kernel=3, dilation=2, padding="valid"),)),
    Spec("conv_k2_valid_nobias", (7, 5, 3), (L("conv", filters=3, kernel=2, padding="valid", use_bias=False),)),
    Spec("conv_relu6", (8, 8, 3), (L("conv", filters=4, kernel=3, activation="relu6"),)),
    Spec("conv_k3x1_s1x2", (8, 9, 3), (L("conv", filters=4, kernel=(3, 1), strides=(1, 2)),)),
    Spec("conv_k4_s2_same_even", (12, 12, 8), (L("conv", filters=8, kernel=4, strides=2, activation="relu"),)),
    Spec("conv_64_s2_relu", (64, 64, 3), (L("conv", filters=16, kernel=3, strides=2, activation="relu"),)),
    # RESIZE_NEAREST_NEIGHBOR
    Spec("up2", (4, 4, 8), (L("up", size=2),)),
    Spec("up2x3", (3, 5, 2), (L("up", size=(2, 3)),)),
    Spec("resize_align", (4, 5, 3), (L("resize_v1", size=[7, 9], align_corners=True),)),
    Spec("resize_half_pixel", (5, 4, 3), (L("resize_v1", size=[9, 7], half_pixel_centers=True),)),
    Spec("resize_down_plain", (9, 8, 2), (L("resize_v1", size=[4, 3]),)),
    Spec(
        "conv_up_conv",
        (8, 8, 3),
        (L("conv", filters=8, kernel=3, activation="relu"), L("up", size=2), L("conv", filters=4, kernel=3)),
    ),
    # DEPTHWISE_CONV_2D
    Spec("dw_k3_relu", (8, 8, 4), (L("dw", kernel=3, activation="relu"),)),
    Spec("dw_k3_s2_dm2", (9, 9, 3), (L("dw", kernel=3, strides=2, depth_multiplier=2),)),
    Spec("dw_k3_dil2_valid", (10, 10, 4), (L("dw", kernel=3, dilation=2, padding="valid"),)),
    Spec("dw_k5_s2_relu6", (12, 10, 8), (L("dw", kernel=5, strides=2, activation="relu6"),)),
    # ADD
    Spec("add_residual", (8, 8, 4), (L("add_res"),)),
    Spec("add_residual_relu", (8, 8, 6), (L("add_res", activation="relu"),)),
    Spec("add_two_convs", (6, 6, 3), (L("add2", filters=5),)),
    # CONCATENATION
    Spec("concat_two_convs", (6, 6, 3), (L("concat2", fa=4, fb=3),)),
    Spec("concat_input_conv", (6, 6, 3), (L("concat2", with_input=True, fb=5),)),
    # LEAKY_RELU
    Spec("conv_leaky", (8, 8, 3), (L("conv", filters=4, kernel=3), L("leaky", alpha=0.2))),
    Spec("leaky_input", (5, 5, 3), (L("leaky", alpha=0.1),)),
    CODEC_LIKE,
)
# Conv chains the cost model runs row-banded (patch-wise, ring buffers): 3x3 / 5x5, stride 1 / 2, SAME
# padding at the top and bottom edges (odd and even pads), VALID, odd heights, 2 and 3 convs deep.
BANDED: tuple[Spec, ...] = (
    Spec(
        "band_k3s1_k3s2_odd",
        (13, 9, 3),
        (L("conv", filters=8, kernel=3, activation="relu"), L("conv", filters=6, kernel=3, strides=2)),
    ),
    Spec(
        "band_k5s2_k3s2_k3s1",
        (17, 11, 3),
        (
            L("conv", filters=8, kernel=5, strides=2),
            L("conv", filters=8, kernel=3, strides=2, activation="relu"),
            L("conv", filters=5, kernel=3),
        ),
    ),
    Spec("band_k5s1_k3s1_odd", (15, 7, 4), (L("conv", filters=6, kernel=5), L("conv", filters=4, kernel=3))),
    Spec(
        "band_k3s2_k5s2_even",
        (20, 10, 3),
        (L("conv", filters=8, kernel=3, strides=2), L("conv", filters=8, kernel=5, strides=2, activation="relu6")),
    ),
    Spec(
        "band_k3valid_k3s2",
        (14, 8, 3),
        (L("conv", filters=8, kernel=3, padding="valid"), L("conv", filters=4, kernel=3, strides=2)),
    ),
    Spec(
        "band_k5s1_k5s2_odd",
        (21, 5, 2),
        (L("conv", filters=12, kernel=5, activation="relu"), L("conv", filters=3, kernel=5, strides=2)),
    ),
)
# TRANSPOSE_CONV (Conv2DTranspose): sub-pixel phases as stride-1 convs writing strided outputs; and the separate
# RELU the converter emits after it when the bias is all zero
TCONV: tuple[Spec, ...] = (
    Spec("tconv_k3_s2_relu", (8, 8, 5), (L("convt", filters=7, kernel=3, activation="relu"),)),
    Spec("tconv_k5_s2", (8, 8, 6), (L("convt", filters=3, kernel=5),)),
    Spec("tconv_k3_s2_small_nobias", (3, 5, 3), (L("convt", filters=4, kernel=3, use_bias=False),)),
    Spec(
        "tconv_k4_s2_valid_relu6",
        (4, 3, 5),
        (L("convt", filters=5, kernel=4, padding="valid", activation="relu6"),),
    ),
    Spec("tconv_k3_s1", (5, 6, 4), (L("convt", filters=3, kernel=3, strides=1),)),
    Spec("tconv_k1_s2", (4, 3, 3), (L("convt", filters=5, kernel=1),)),  # phases no tap reaches: bias only
    Spec("tconv_k3x5_s2x1_relu", (5, 4, 9), (L("convt", filters=6, kernel=(3, 5), strides=(2, 1), activation="relu"),)),
    # an all-zero bias: the converter drops it (3 inputs) and emits the ReLU as a separate RELU op
    Spec(
        "tconv_zero_bias_relu",
        (6, 5, 7),
        (L("convt", filters=5, kernel=3, activation="relu", bias_initializer="zeros"),),
    ),
    Spec("relu_input", (5, 5, 3), (L("act", fn="relu"),)),
    Spec(
        "tconv_decoder",  # a small convt decoder: 8x8x12 -> 64x64x3
        (8, 8, 12),
        (
            L("convt", filters=10, kernel=3, activation="relu"),
            L("convt", filters=8, kernel=3, activation="relu"),
            L("convt", filters=3, kernel=5),
        ),
    ),
)
SPECS = SPECS + BANDED + TCONV
N_INPUTS = 3
# fused build, .tflite bytes, gen dir, unfused, fused with the ARM fast path's im2col + blocking in plain C
Host = tuple[HostModel, dict[str, bytes], Path, HostModel, HostModel]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    models = {s.name: convert(s) for s in SPECS}
    gen_dir = tmp_path_factory.mktemp("gen")
    generate([model_file(s) for s in SPECS], gen_dir)
    plain_dir = tmp_path_factory.mktemp("gen-nofuse")
    generate([model_file(s) for s in SPECS], plain_dir, fuse=False)
    blocked = HostModel(gen_dir, defines=("TC_CONV_GENERIC_BLOCKED",))
    return HostModel(gen_dir), models, gen_dir, HostModel(plain_dir), blocked


def _check(host: Host, idx: int, model: bytes, shape: tuple[int, ...], seed: int) -> None:
    x = random_input((1, *shape), seed)
    ref = run_litert_ref(model, x)
    micro = run_tflm(model, x)
    np.testing.assert_array_equal(micro, ref, err_msg="TFLM != TFLite BUILTIN_REF")
    np.testing.assert_array_equal(host[0].run(idx, x).reshape(ref.shape), ref, err_msg="gen != BUILTIN_REF")
    np.testing.assert_array_equal(host[3].run(idx, x).reshape(ref.shape), ref, err_msg="gen (unfused) != REF")
    np.testing.assert_array_equal(host[4].run(idx, x).reshape(ref.shape), ref, err_msg="gen (blocked) != REF")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_bit_exact(host: Host, spec: Spec) -> None:
    idx = [s.name for s in SPECS].index(spec.name)
    for seed in range(N_INPUTS):
        _check(host, idx, host[1][spec.name], spec.input_shape, seed)


def test_banded_chains_are_banded(host: Host) -> None:
    """The cost model bands every BANDED chain (and the codec-like model) and lowers their peak."""
    from tinycodec.codegen.generate import build_units, load_sources
    from tinycodec.codegen.planner import check_plan

    specs = (*BANDED, CODEC_LIKE)
    banded = build_units(load_sources([model_file(s) for s in specs]))
    plain = build_units(load_sources([model_file(s) for s in specs]), band=False)
    for u, v in zip(banded, plain):
        assert any(s.band for s in u.steps), u.name
        assert u.plan.arena_bytes < v.plan.arena_bytes, u.name
        check_plan(u.plan, u.steps)


def test_banded_portable_loop(host: Host) -> None:
    """The reference loop (-D TC_CONV_PORTABLE_ONLY) on ring buffers and row ranges (and on the strided
    outputs of the transpose-conv phases), bit-exact too."""
    _, models, gen_dir, _, _ = host
    portable = HostModel(gen_dir, defines=("TC_CONV_PORTABLE_ONLY",))
    names = [s.name for s in SPECS]
    for spec in (*BANDED, CODEC_LIKE, *TCONV):
        for seed in range(2):
            x = random_input((1, *spec.input_shape), seed)
            ref = run_litert_ref(models[spec.name], x)
            got = portable.run(names.index(spec.name), x).reshape(ref.shape)
            np.testing.assert_array_equal(got, ref, err_msg=spec.name)


def test_extreme_inputs(host: Host) -> None:
    """Saturated inputs (all -128 / all 127) stress the clamps and the rounding."""
    hm, models, _, _, blocked = host
    for idx, spec in enumerate(SPECS):
        for v in (-128, 127):
            x = np.full((1, *spec.input_shape), v, dtype=np.int8)
            ref = run_litert_ref(models[spec.name], x)
            np.testing.assert_array_equal(hm.run(idx, x).reshape(ref.shape), ref, err_msg=spec.name)
            np.testing.assert_array_equal(blocked.run(idx, x).reshape(ref.shape), ref, err_msg=spec.name)


def test_codec_like_sanitizers(host: Host, tmp_path: Path) -> None:
    """The codec-like model and the transpose-conv models built with ASan+UBSan as a standalone executable
    (default and DSP-twin builds), byte-for-byte equal."""
    hm, models, gen_dir, _, _ = host
    exes = [build_executable(gen_dir, sanitize=True)]
    exes.append(build_executable(gen_dir, sanitize=True, defines=("TC_CONV_GENERIC_BLOCKED",)))
    for exe in exes:
        for spec in (CODEC_LIKE, *TCONV):
            idx = hm.index(model_file(spec).stem)
            for seed in range(2 if spec is CODEC_LIKE else 1):
                x = random_input((1, *spec.input_shape), 100 + seed)
                ref = run_litert_ref(models[spec.name], x)
                assert run_executable(exe, idx, x, tmp_path) == ref.tobytes(), spec.name


def _out_scale(model: bytes, op_pos: int) -> float:
    from tinycodec.codegen.reader import read_tflite

    g = read_tflite(model, "m")
    return g.tensors[g.ops[op_pos].outputs[0]].scale


def _mutants() -> list[tuple[str, bytes, tuple[int, ...]]]:
    """Converted models edited so the fused-activation clamps and multiplier >= 1 paths really bite."""
    by_name = {s.name: s for s in SPECS}
    out = []

    def add(name: str, base: str, op_pos: int, **kw: float | int) -> None:
        spec = by_name[base]
        data = convert(spec)
        scale = kw.pop("scale_factor", None)
        if scale is not None:
            kw["scale"] = _out_scale(data, op_pos) * float(scale)
        out.append((name, mutate_tflite(data, set_output_quant(op_pos, **kw)), spec.input_shape))

    add("conv_relu_zp_m20", "conv_k3_s1_same_relu", 0, zero_point=-20)
    add("conv_relu6_tight", "conv_relu6", 0, zero_point=5, scale=6.0 / 100.0)
    add("conv_relu_n1_to_1", "conv_k3_s2_same_odd", 0, zero_point=3, scale=1.0 / 64.0, act=2)
    add("conv_mult_gt_1", "conv_k1", 0, scale_factor=1.0 / 600.0)
    add("conv_no_act_zp", "conv_k5_s2_valid_relu", 0, zero_point=40, act=0)
    add("dw_relu_zp", "dw_k3_relu", 0, zero_point=-7)
    add("add_relu_zp", "add_residual_relu", 1, zero_point=-10)
    add("add_relu6", "add_two_convs", 2, zero_point=-30, scale=6.0 / 150.0, act=3)
    add("leaky_out_rescale", "leaky_input", 0, scale_factor=0.5, zero_point=9)
    add("tconv_relu_zp_m20", "tconv_k3_s2_relu", 0, zero_point=-20)
    add("tconv_relu6_tight", "tconv_k4_s2_valid_relu6", 0, zero_point=5, scale=6.0 / 100.0)
    add("tconv_relu_n1_to_1", "tconv_k5_s2", 0, zero_point=3, scale=1.0 / 64.0, act=2)
    add("tconv_mult_gt_1", "tconv_k3_s2_small_nobias", 0, scale_factor=1.0 / 600.0)
    return out


def test_quantization_corner_cases(tmp_path: Path) -> None:
    mutants = _mutants()
    files = []
    for name, data, _ in mutants:
        f = tmp_path / f"{name}.tflite"
        f.write_bytes(data)
        files.append(f)
    generate(files, tmp_path / "gen")
    hm = HostModel(tmp_path / "gen")
    blocked = HostModel(tmp_path / "gen", defines=("TC_CONV_GENERIC_BLOCKED",))
    for idx, (name, data, shape) in enumerate(mutants):
        for seed in range(N_INPUTS):
            x = random_input((1, *shape), seed)
            ref = run_litert_ref(data, x)
            np.testing.assert_array_equal(run_tflm(data, x), ref, err_msg=f"{name}: TFLM != REF")
            np.testing.assert_array_equal(hm.run(idx, x).reshape(ref.shape), ref, err_msg=f"{name}: gen != REF")
            np.testing.assert_array_equal(blocked.run(idx, x).reshape(ref.shape), ref, err_msg=f"{name}: blocked")


def test_tconv_zero_bias_relu_is_separate_and_in_place(host: Host) -> None:
    """With an all-zero bias the converter drops the bias input and emits TRANSPOSE_CONV + RELU; the RELU
    (a 256-entry table) runs in place over the transpose conv's output."""
    from tinycodec.codegen.generate import build_units, load_sources
    from tinycodec.codegen.planner import check_plan
    from tinycodec.codegen.reader import read_tflite

    spec = next(s for s in TCONV if s.name == "tconv_zero_bias_relu")
    g = read_tflite(host[1][spec.name], spec.name)
    assert [op.code for op in g.ops] == ["TRANSPOSE_CONV", "RELU"] and len(g.ops[0].inputs) == 3
    chain = Spec("tconv_relu_conv", (6, 5, 7), (*spec.layers, L("conv", filters=3)))
    (u,) = build_units(load_sources([model_file(chain)]))
    check_plan(u.plan, u.steps)
    assert [s.kernel for s in u.steps] == ["tc_transpose_conv_s8", "tc_lut_s8", "tc_conv2d_s8"]
    assert any(p.alias_of is not None for p in u.plan.placements)


def test_relu_follows_tflm_where_litert_rounds_differently(tmp_path: Path) -> None:
    """RELU's multiplier is in_scale / out_scale: TFLM divides in double, TFLite's ReluPrepare in float32.
    For these scales the two Q31 multipliers round input 83 (zero point -128) to different outputs, so
    BUILTIN_REF and TFLM differ; the gen backend follows TFLM (the host oracle the device is checked against)."""
    from tinycodec.codegen.ops import relu_table

    si, so = 0.491228848695755, 0.4382633566856384

    def fn(model) -> None:  # noqa: ANN001
        sg = model.subgraphs[0]
        op = sg.operators[0]
        for t, s in ((op.inputs[0], si), (op.outputs[0], so)):
            sg.tensors[t].quantization.scale = [s]
            sg.tensors[t].quantization.zeroPoint = [-128]

    spec = next(s for s in TCONV if s.name == "relu_input")
    data = mutate_tflite(convert(spec), fn)
    dbl, f32 = relu_table(si, -128, so, -128), relu_table(si, -128, so, -128, f32_ratio=True)
    assert np.flatnonzero(dbl != f32).tolist() == [83 + 128]
    (tmp_path / "relu.tflite").write_bytes(data)
    generate([tmp_path / "relu.tflite"], tmp_path / "gen")
    hm = HostModel(tmp_path / "gen")
    x = random_input((1, *spec.input_shape), 0)
    x.reshape(-1)[:3] = 83
    got = hm.run(0, x).reshape(x.shape)
    np.testing.assert_array_equal(got, run_tflm(data, x))
    ref = run_litert_ref(data, x)
    assert np.flatnonzero(got != ref).tolist() == np.flatnonzero(x == 83).tolist()


_RQ_CHECK = r"""
#include <stdio.h>
#include "tc_conv_fast.c"
static uint64_t st = 88172645463325252ull;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }
int main(void) {
  long checked = 0, eligible = 0, bad = 0;
  int32_t zero = 0;
  for (long it = 0; it < 4000000L; ++it) {
    int32_t shift = (int32_t)(rnd() % 40) - 33, m, off = (int32_t)(rnd() % 256) - 128;
    switch (rnd() % 4) {
      case 0: m = (int32_t)(0x40000000u + (uint32_t)(rnd() % 0x40000000u)); break;
      case 1: m = 0x40000000; break;
      case 2: m = 0x7fffffff; break;
      default: m = (int32_t)(rnd() % 0x80000000u);
    }
    if (rnd() % 4 == 0) off = (int32_t)(rnd() % 3) - 1;
    tc_conv_params_t p = {0};
    p.k_h = p.k_w = p.in_c = p.out_c = 1;
    p.out_offset = off;
    p.act_min = -128;
    p.act_max = 127;
    p.out_mult = &m;
    p.out_shift = &shift;
    p.bias_fold = &zero;
    rqf_t t;
    if (!rq_table(&p, &t, 1)) continue;
    ++eligible;
    const int32_t lim = (1 << 30) - 255 * 128 - 1, r = -shift;
    for (int k = 0; k < 64; ++k) {
      int32_t x;
      switch (rnd() % 5) {
        case 0: x = (int32_t)(rnd() % (2u * (uint32_t)lim + 1u)) - lim; break;
        case 1: x = (int32_t)(rnd() % 200001) - 100000; break;
        case 2: x = (int32_t)(rnd() % 41) - 20; break; /* -1, 0, small */
        case 3: x = (int32_t)(((int64_t)((int32_t)(rnd() % 4096) - 2048) << (r > 1 ? r - 1 : 0)) % lim) +
                    (int32_t)(rnd() % 3) - 1; break; /* near the rounding ties */
        default: x = (rnd() & 1) ? lim : -lim;
      }
      int32_t ref = tc_mul_by_quantized_multiplier(x, m, (int)shift) + off;
      ref = ref < -128 ? -128 : (ref > 127 ? 127 : ref);
      ++checked;
      if (rqf_apply(&t, x) != ref && bad++ < 10) {
        printf("x=%d m=%d shift=%d off=%d ref=%d got=%d\n", x, m, shift, off, ref, rqf_apply(&t, x));
      }
    }
  }
  printf("%ld %ld %ld\n", checked, eligible, bad);
  return bad != 0;
}
"""


def test_table_requantization_matches_reference(tmp_path: Path) -> None:
    """The DSP path's requantization (one SMMLAR, an arithmetic shift, SSAT: rqf_apply, emulated in 64-bit C in the
    plain-C build) == tc_mul_by_quantized_multiplier + offset + clamp for every (shift, multiplier, offset) that
    rq_table accepts, over random, small (-1, 0), near-tie and extreme accumulators; channels it refuses (left
    shifts, shift 0, huge offsets x shifts) take rq_apply."""
    import subprocess

    from tools.hostlib import CFLAGS, KERNEL_DIR

    src = tmp_path / "rq_check.c"
    src.write_text(_RQ_CHECK)
    exe = tmp_path / "rq_check"
    flags = [f for f in CFLAGS if not f.startswith("-Werror")]
    subprocess.run(
        ["cc", *flags, "-DTC_CONV_GENERIC_BLOCKED", "-I", str(KERNEL_DIR), str(src), "-o", str(exe)], check=True
    )
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    checked, eligible, bad = map(int, out.stdout.split()[-3:])
    assert bad == 0 and eligible > 1_000_000 and checked > 64_000_000
