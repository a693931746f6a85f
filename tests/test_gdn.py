"""GDN / inverse GDN in int8 (issue 10, ladder rung b): the MUL kernel, the RSQRT and ABS tables, the simplified
inverse GDN, GDN encoder + decoder pairs (tc-v3-gdn, tc-v4) and the presets' size. Everything int8 is compared
byte for byte: our generated C == TFLite BUILTIN_REF == TFLM."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gen_helpers import L, Spec, convert, model_file, mutate_tflite, random_input, run_litert_ref, set_output_quant
from tinycodec.codegen import generate
from tinycodec.codegen.ops import rsqrt_table
from tinycodec.codegen.reader import load_model, op_names, read_tflite
from tinycodec.oracle import run_tflm
from tools.hostlib import HostModel, build_executable, run_executable

MUL: tuple[Spec, ...] = (
    Spec("mul_square", (6, 7, 5), (L("conv", filters=6, kernel=3), L("mul_sq"))),
    Spec("mul_square_relu", (5, 5, 3), (L("conv", filters=4, kernel=3), L("mul_sq", activation="relu"))),
    Spec("mul_two_convs", (6, 6, 3), (L("mul2", filters=5),)),
    Spec("mul_two_convs_relu", (7, 5, 4), (L("mul2", filters=3, activation="relu"),)),
    Spec("mul_input_square", (4, 9, 3), (L("mul_sq"),)),
)
GDN: tuple[Spec, ...] = (
    Spec("gdn_enc", (16, 16, 3), (L("conv", filters=8, kernel=5, strides=2), L("gdn"), L("conv", filters=6))),
    Spec(
        "igdn_dec",
        (4, 4, 6),
        (L("convt", filters=8, kernel=3), L("gdn", inverse=True, seed=1), L("convt", filters=3, kernel=5)),
        rep_range=(-4.0, 4.0),
    ),
    # GDN on the graph input (x is the caller's `in`) and inverse GDN as the graph output (y is `out`)
    Spec("gdn_on_input", (6, 5, 4), (L("gdn", seed=2), L("conv", filters=3))),
    Spec("igdn_output", (5, 4, 3), (L("conv", filters=6), L("gdn", inverse=True, seed=3)), rep_range=(-3.0, 3.0)),
)
# the simplified inverse GDN (ABS, CONV_2D 1x1, MUL) inside a decoder and as the graph output; a forward GDN whose
# norm range is pinned small enough ([0, 1.5]; beta alone reaches 2) that int8 saturates it
ABS_GDN: tuple[Spec, ...] = (
    Spec(
        "igdn_abs_dec",
        (4, 4, 6),
        (L("convt", filters=8, kernel=3), L("gdn", inverse=True, simplified=True, seed=4), L("convt", filters=3)),
        rep_range=(-4.0, 4.0),
    ),
    Spec("igdn_abs_output", (5, 4, 3), (L("conv", filters=6), L("gdn", inverse=True, simplified=True, seed=5))),
    Spec("gdn_clamped", (12, 12, 3), (L("conv", filters=8, kernel=3, strides=2), L("gdn", norm_max=1.5, seed=6))),
)
# RSQRT of the graph input: positive calibration data, so the input zero point is -128 and all 256 inputs are valid
RSQRT = Spec("rsqrt_input", (16, 16, 1), (L("rsqrt"),), rep_range=(0.05, 4.0))
ABS = Spec("abs_input", (16, 16, 1), (L("abs"),), rep_range=(-3.0, 2.0))
SPECS = (*MUL, *GDN, RSQRT, *ABS_GDN, ABS)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[HostModel, ...]:
    """Builds: default (GDN fused row by row, banded with its neighbour convs), DSP-twin (the conv fast path's
    blocking in plain C), portable reference loop, unfused (every op on whole tensors), fused but not banded."""
    gen_dir = tmp_path_factory.mktemp("gen")
    generate([model_file(s) for s in SPECS], gen_dir)
    plain_dir = tmp_path_factory.mktemp("gen-nofuse")
    generate([model_file(s) for s in SPECS], plain_dir, fuse=False)
    noband_dir = tmp_path_factory.mktemp("gen-noband")
    generate([model_file(s) for s in SPECS], noband_dir, band=False)
    return (
        HostModel(gen_dir),
        HostModel(gen_dir, defines=("TC_CONV_GENERIC_BLOCKED",)),
        HostModel(gen_dir, defines=("TC_CONV_PORTABLE_ONLY",)),
        HostModel(plain_dir),
        HostModel(noband_dir),
    )


def _check(hm: HostModel, idx: int, model: bytes, x: np.ndarray) -> np.ndarray:
    ref = run_litert_ref(model, x)
    np.testing.assert_array_equal(run_tflm(model, x), ref, err_msg="TFLM != TFLite BUILTIN_REF")
    np.testing.assert_array_equal(hm.run(idx, x).reshape(ref.shape), ref, err_msg="gen != BUILTIN_REF")
    return ref


@pytest.mark.parametrize("spec", (*MUL, *GDN, *ABS_GDN), ids=[s.name for s in (*MUL, *GDN, *ABS_GDN)])
def test_bit_exact(host, spec: Spec) -> None:
    data = convert(spec)
    idx = [s.name for s in SPECS].index(spec.name)
    for seed in range(3):
        x = random_input((1, *spec.input_shape), seed)
        ref = _check(host[0], idx, data, x)
        for k, hm in enumerate(host[1:]):
            np.testing.assert_array_equal(hm.run(idx, x).reshape(ref.shape), ref, err_msg=f"build {k + 1}")
    for v in (-128, 127):
        _check(host[0], idx, data, np.full((1, *spec.input_shape), v, dtype=np.int8))


def test_ops_are_the_gdn_graph() -> None:
    """GDN converts to MUL(x, x), CONV_2D 1x1, RSQRT, MUL(x, r); the inverse to MUL, CONV_2D, RSQRT, MUL(n, r),
    MUL(x, .); only int8 / int32 tensors, the CONV_2D weights (gamma) nonnegative."""
    want = {
        "gdn_enc": ["CONV_2D", "MUL", "CONV_2D", "RSQRT", "MUL", "CONV_2D"],
        "igdn_dec": ["TRANSPOSE_CONV", "MUL", "CONV_2D", "RSQRT", "MUL", "MUL", "TRANSPOSE_CONV"],
    }
    for spec in GDN[:2]:
        data = convert(spec)
        assert op_names(load_model(data)) == want[spec.name]
        g = read_tflite(data, spec.name)
        assert {t.dtype for t in g.tensors} <= {"int8", "int32"}
        sq = [op for op in g.ops if op.code == "MUL"][0]
        assert sq.inputs[0] == sq.inputs[1]  # x * x
        norm = [op for op in g.ops if op.code == "CONV_2D"][-2 if spec.name == "gdn_enc" else 0]
        assert g.tensors[norm.inputs[1]].shape[1:3] == (1, 1) and (g.tensors[norm.inputs[1]].array() >= 0).all()


def test_gdn_plans() -> None:
    """Fused (default): one row-by-row step per GDN (square table, 1x1 conv, RSQRT table or, in the inverse, the
    composed table of n * rsqrt(n), MUL) with two 1-row buffers, its output over x where x dies there, a lower arena
    than op by op. Unfused: x * x is a table, the last MUL writes over a dying input, in the encoder RSQRT over its
    input (in the inverse, n is read again by MUL(n, r))."""
    from tinycodec.codegen.generate import build_units, load_sources
    from tinycodec.codegen.planner import check_plan

    files = [model_file(s) for s in GDN]
    for u, v in zip(build_units(load_sources(files), band=False), build_units(load_sources(files), fuse=False)):
        check_plan(u.plan, u.steps)
        check_plan(v.plan, v.steps)
        (g,) = [s for s in u.steps if s.call == "gdn"]
        assert [m.kernel for m in g.band] == ["tc_lut_s8", "tc_conv2d_s8", "tc_lut_s8", "tc_mul_s8"]
        assert [m.op for m in g.band][2] == ("RSQRT+MUL" if u.name.startswith("igdn") else "RSQRT")
        assert [r[1] for r in g.rings] == [1, 1]
        row = int(np.prod(u.graph.tensors[g.inputs[0]].shape[2:]))
        assert all(dict(m.params).get("size", str(row)) == str(row) for m in g.band)
        x_dies = g.inputs[0] not in (u.graph.inputs[0],) and g.output not in (u.graph.outputs[0],)
        aliased = {p.tensor: p.alias_of for p in u.plan.placements}
        assert (aliased.get(g.output) == g.inputs[0]) == x_dies, u.name
        if x_dies:
            assert u.plan.arena_bytes < v.plan.arena_bytes, u.name
        kernels = [s.kernel for s in v.steps]
        assert kernels.count("tc_mul_s8") == (2 if u.name.startswith("igdn") else 1) and kernels.count("tc_lut_s8") == 2
        aliased = {p.tensor for p in v.plan.placements if p.alias_of is not None}
        last_mul = [t for t in v.steps if t.kernel == "tc_mul_s8"][-1]
        if last_mul.output != v.graph.outputs[0]:
            assert last_mul.output in aliased, v.name
        rsqrt = next(t for t in v.steps if t.op == "RSQRT")
        assert (rsqrt.output in aliased) == (not u.name.startswith("igdn")), u.name


def test_gdn_bands_with_its_convs() -> None:
    """Banding crosses a fused GDN (row r of its output reads row r of its input): the encoder's conv -> GDN ->
    conv runs as one banded step whose rings are the conv outputs (the GDN's input and output) and the GDN's two
    1-row buffers; the schedule simulates clean and the peak is below the unbanded plan's. test_bit_exact runs
    these banded builds."""
    from tinycodec.codegen.generate import build_units, load_sources
    from tinycodec.codegen.planner import check_plan

    files = [model_file(s) for s in GDN]
    banded = {u.name.split("-")[0]: u for u in build_units(load_sources(files))}
    plain = {u.name.split("-")[0]: u for u in build_units(load_sources(files), band=False)}
    for name in ("gdn_enc", "gdn_on_input", "igdn_output"):
        u = banded[name]
        check_plan(u.plan, u.steps)
        (b,) = [s for s in u.steps if s.call == "band"]
        gdn = [m for m in b.band if m.call == "gdn"]
        assert len(gdn) == 1 and b.output == u.graph.outputs[0], name
        k = b.band.index(gdn[0])
        assert {t for t, _, _ in b.rings} >= {t for t, _, _ in gdn[0].rings}, name
        h = u.graph.tensors[gdn[0].output].shape[1]
        rows = sorted(r for m, a, z in b.schedule if m == k for r in range(a, z))
        assert rows == list(range(h)), name  # every GDN row exactly once
        assert u.plan.arena_bytes < plain[name].plan.arena_bytes, name
    assert [m.op for m in banded["gdn_enc"].steps[0].band] == ["CONV_2D", "GDN(MUL,CONV_2D,RSQRT,MUL)", "CONV_2D"]


def _mul_mutants() -> list[tuple[str, bytes, tuple[int, ...]]]:
    """MUL models edited so the clamps, the output offset and multipliers >= 1 bite."""
    by = {s.name: s for s in MUL}

    def out_scale(data: bytes, pos: int) -> float:
        g = read_tflite(data, "m")
        return g.tensors[g.ops[pos].outputs[0]].scale

    out = []
    for name, base, pos, kw in (
        ("mul_zp_shift", "mul_square", 1, {"zero_point": 37}),
        ("mul_relu_zp", "mul_square_relu", 1, {"zero_point": -20}),
        ("mul_relu6", "mul_two_convs", 2, {"zero_point": -30, "scale": 6.0 / 150.0, "act": 3}),
        ("mul_relu_n1_to_1", "mul_two_convs", 2, {"zero_point": 3, "scale": 1.0 / 64.0, "act": 2}),
        ("mul_mult_gt_1", "mul_two_convs", 2, {"scale_factor": 1.0 / 300.0}),
        ("mul_small_mult", "mul_square", 1, {"scale_factor": 40.0, "zero_point": 0}),
    ):
        data = convert(by[base])
        kw = dict(kw)
        f = kw.pop("scale_factor", None)
        if f is not None:
            kw["scale"] = out_scale(data, pos) * f
        out.append((name, mutate_tflite(data, set_output_quant(pos, **kw)), by[base].input_shape))
    return out


def test_mul_quantization_corner_cases(tmp_path: Path) -> None:
    mutants = _mul_mutants()
    files = []
    for name, data, _ in mutants:
        (tmp_path / f"{name}.tflite").write_bytes(data)
        files.append(tmp_path / f"{name}.tflite")
    generate(files, tmp_path / "gen")
    hm = HostModel(tmp_path / "gen")
    for idx, (name, data, shape) in enumerate(mutants):
        for seed in range(3):
            ref = run_litert_ref(data, random_input((1, *shape), seed))
            got = hm.run(idx, random_input((1, *shape), seed)).reshape(ref.shape)
            np.testing.assert_array_equal(got, ref, err_msg=name)
            assert len(np.unique(ref)) > 1 or name == "mul_relu_n1_to_1", name  # not all clamped


def _set_io_quant(in_scale: float, in_zp: int, out_scale: float, out_zp: int):
    def fn(model) -> None:  # noqa: ANN001
        sg = model.subgraphs[0]
        for t, (s, z) in ((sg.inputs[0], (in_scale, in_zp)), (sg.outputs[0], (out_scale, out_zp))):
            sg.tensors[t].quantization.scale = [s]
            sg.tensors[t].quantization.zeroPoint = [z]

    return fn


def _unary_op_model(spec: Spec, code: str, quant):  # noqa: ANN001, ANN202
    """The one-op model of spec, its input / output quantization replaced by quant (None: the converter's) ->
    (flatbuffer, input tensor, output tensor)."""
    data = convert(spec)
    if quant is not None:
        data = mutate_tflite(data, _set_io_quant(*quant))
    g = read_tflite(data, code.lower())
    assert [op.code for op in g.ops] == [code]
    return data, g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]


# (input scale, input zero point, output scale, output zero point): the converter's own choice, GDN-like norms
# (n in [beta, ...], zp -128), outputs with offsets, multipliers > 1 and < 2^-31 (a saturated table), zero points
# above -128 (only inputs >= the zero point are valid: TFLite and TFLM refuse the rest)
RSQRT_QUANT = (
    None,
    (0.004374, -128, 0.0039215, -128),
    (0.0168291, -128, 0.0081238, -128),
    (1.0 / 255, -128, 0.05, 7),
    (0.5, -128, 0.002, -100),
    (3e-5, -128, 0.9, 0),
    (0.02, -50, 0.01, -128),
    (120.0, 10, 1e-4, 3),
)


@pytest.mark.parametrize("quant", RSQRT_QUANT, ids=[f"q{i}" for i in range(len(RSQRT_QUANT))])
def test_rsqrt_table_equals_builtin_ref_on_all_inputs(tmp_path: Path, quant) -> None:
    """ops.rsqrt_table == BUILTIN_REF == TFLM == the generated C (tc_lut_s8) on every int8 input the kernels
    accept (all 256 when the input zero point is -128)."""
    data, ti, to = _unary_op_model(RSQRT, "RSQRT", quant)
    table = rsqrt_table(ti.scale, ti.zero_point, to.scale, to.zero_point)
    valid = np.arange(ti.zero_point, 128)
    x = np.full(256, ti.zero_point, dtype=np.int8)
    x[: valid.size] = valid
    x = x.reshape(1, 16, 16, 1)
    ref = run_litert_ref(data, x).reshape(-1)
    np.testing.assert_array_equal(run_tflm(data, x).reshape(-1), ref, err_msg="TFLM != BUILTIN_REF")
    np.testing.assert_array_equal(table[x.reshape(-1).astype(int) + 128], ref, err_msg="rsqrt_table != BUILTIN_REF")
    (tmp_path / "rsqrt.tflite").write_bytes(data)
    generate([tmp_path / "rsqrt.tflite"], tmp_path / "gen")
    got = HostModel(tmp_path / "gen").run(0, x).reshape(-1)
    np.testing.assert_array_equal(got, ref, err_msg="gen != BUILTIN_REF")
    if quant is None:
        assert ti.zero_point == -128 and valid.size == 256 and len(np.unique(ref)) > 32
    assert (table[: ti.zero_point + 128] == 127).all()  # invalid inputs: the value of 0 (documented)


# ABS: the converter's choice, equal scales (no rescale; TFLite and TFLM compare the float32 scales), output
# offsets that clamp, multipliers > 1 and < 1
ABS_QUANT = (
    None,
    (0.02, 5, 0.02, -128),
    (0.02, -128, 0.02, 40),
    (0.013, 17, 0.0071, -128),
    (0.05, -3, 0.2, -90),
    (0.004, 100, 0.03, 0),
)


@pytest.mark.parametrize("quant", ABS_QUANT, ids=[f"q{i}" for i in range(len(ABS_QUANT))])
def test_abs_table_equals_builtin_ref_on_all_inputs(tmp_path: Path, quant) -> None:
    """ops.abs_table == BUILTIN_REF == TFLM == the generated C (tc_lut_s8) on all 256 int8 inputs."""
    from tinycodec.codegen.ops import abs_table

    data, ti, to = _unary_op_model(ABS, "ABS", quant)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    ref = run_litert_ref(data, x).reshape(-1)
    np.testing.assert_array_equal(run_tflm(data, x).reshape(-1), ref, err_msg="TFLM != BUILTIN_REF")
    table = abs_table(ti.scale, ti.zero_point, to.scale, to.zero_point)
    np.testing.assert_array_equal(table, ref, err_msg="abs_table != BUILTIN_REF")
    (tmp_path / "abs.tflite").write_bytes(data)
    generate([tmp_path / "abs.tflite"], tmp_path / "gen")
    np.testing.assert_array_equal(HostModel(tmp_path / "gen").run(0, x).reshape(-1), ref, err_msg="gen != REF")
    assert len(np.unique(ref)) > 16


def test_simplified_inverse_and_clamped_gdn_plans() -> None:
    """The simplified inverse GDN fuses as one row-by-row step (ABS table, 1x1 conv, MUL(x, n)) with two 1-row
    buffers; a forward GDN with norm_max has its norm's int8 range pinned to exactly [0, norm_max] (zero point
    -128, scale norm_max / 255), so int8 saturates the norm where the float layer clamps it."""
    from tinycodec.codegen.generate import build_units, load_sources
    from tinycodec.codegen.planner import check_plan

    files = [model_file(s) for s in ABS_GDN]
    for u in build_units(load_sources(files), band=False):
        check_plan(u.plan, u.steps)
        (g,) = [s for s in u.steps if s.call == "gdn"]
        if u.name.startswith("igdn_abs"):
            assert g.op == "GDN(ABS,CONV_2D,MUL)", g.op
            assert [m.kernel for m in g.band] == ["tc_lut_s8", "tc_conv2d_s8", "tc_mul_s8"]
            assert [r[1] for r in g.rings] == [1, 1]
        else:
            assert g.op == "GDN(MUL,CONV_2D,RSQRT,MUL)", g.op
    g = read_tflite(convert(ABS_GDN[2]), "gdn_clamped")
    norm = next(op for op in g.ops if op.code == "RSQRT").inputs[0]
    t = g.tensors[norm]
    assert t.zero_point == -128 and abs(t.scale * 255 - 1.5) < 1e-6, (t.scale, t.zero_point)


def test_norm_max_is_the_int8_grid_of_the_norm() -> None:
    """GDN(norm_max=c) computes x * rsqrt(q(n)), q = clamp to [0, c] and round to steps of c / 255 (the int8 grid
    its norm tensor converts to), with gradients inside the range; beta is bounded below by one step; the config
    validates the per-layer values."""
    from tinycodec.config import PRESETS, ModelConfig
    from tinycodec.model import GDN as GDNLayer
    from tinycodec.tfenv import tf

    layer = GDNLayer(norm_max=2.0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1.5, (2, 5, 5, 4)).astype(np.float32)
    layer(x)
    gamma = rng.uniform(0, 0.4, (4, 4))
    layer.set_weights([np.full(4, 0.0, np.float32), np.sqrt(gamma).astype(np.float32)])  # beta -> its bound
    beta, g = layer.beta.numpy(), layer.gamma.numpy()
    assert np.allclose(beta, 2.0 / 255, rtol=1e-4)
    n = (x * x) @ g.T + beta
    step = 2.0 / 255
    q = np.clip(np.round(n / step), 0, 255) * step
    assert (n > 2.0).any() and (q >= step).all()
    np.testing.assert_allclose(layer(x).numpy(), x / np.sqrt(q), rtol=1e-4)
    with tf.GradientTape() as tape:
        t = tf.constant(x)
        tape.watch(t)
        y = tf.reduce_sum(layer(t))
    assert np.isfinite(tape.gradient(y, t).numpy()).all()
    with pytest.raises(ValueError, match="forward GDN only"):
        GDNLayer(inverse=True, norm_max=2.0)
    for bad in ((1.0, 2.0), (1.0, 0.0, 2.0)):
        with pytest.raises(ValueError, match="gdn_norm_max"):
            replace(PRESETS["tc-v4"], gdn_norm_max=bad)
    with pytest.raises(ValueError, match="gdn_norm_max"):
        ModelConfig(gdn_norm_max=(1.0, 1.0, 1.0))  # a ReLU model


def _tiny_gdn_pair(tile: int = 32, preset: str = "tc-v3-gdn", tail: float = 0.0):
    """A small GDN encoder + IGDN decoder from model.py (the preset's layout with 8 hidden / 6 latent channels,
    random nonnegative gamma), exported as export does it: _convert (exact calibration) + pin_encoder /
    pin_decoder; tail > 0: the decoder's hidden ranges clipped to quantiles as export does for GDN models (returned
    as the third item, else None)."""
    from tinycodec.config import PRESETS
    from tinycodec.export import _convert, clip_decoder_ranges, pin_decoder, pin_encoder
    from tinycodec.model import GDN as GDNLayer
    from tinycodec.model import build_decoder, build_encoder
    from tinycodec.tfenv import tf_keras

    cfg = replace(PRESETS[preset], enc_channels=(8, 8, 8), latent_channels=6, dec_channels=(8, 8, 8))
    tf_keras.utils.set_random_seed(0)
    enc, dec = build_encoder(cfg, tile), build_decoder(cfg, tile)
    rng = np.random.default_rng(0)
    for m in (enc, dec):
        for layer in m.layers:
            if isinstance(layer, GDNLayer):
                c = layer.gamma_raw.shape[0]
                gamma = rng.uniform(0, 0.3, (c, c)) * (rng.random((c, c)) < 0.5) + 0.1 * np.eye(c)
                layer.set_weights([np.sqrt(rng.uniform(0.3, 1.5, c)), np.sqrt(gamma)])
            elif isinstance(layer, tf_keras.layers.Conv2D):  # Conv2DTranspose too
                k, b = layer.get_weights()
                # latents over several bins and pixels mostly inside [0, 1], as a trained model's
                gain = 30.0 if layer.name == "enc3" else (2.0 if layer.name.startswith("enc") else 0.5)
                b = rng.normal(0.5 if layer.name == "dec3" else 0.0, 0.05, b.shape).astype(np.float32)
                layer.set_weights([k * gain, b])
    cal = [rng.uniform(0, 1, (tile, tile, 3)).astype(np.float32) for _ in range(8)]
    cal[0][0, 0], cal[0][0, 1] = 0.0, 1.0
    e = _convert(enc, cal)
    pin_encoder(e)
    lat_shape = tuple(int(d) for d in dec.input.shape[1:])
    lat = [rng.integers(-6, 7, lat_shape).astype(np.float32) for _ in range(8)]
    ranges = None
    if tail:
        dec, ranges = clip_decoder_ranges(dec, cfg, tile, lat, tail)
    d = _convert(dec, lat)
    pin_decoder(d)
    return bytes(e), bytes(d), ranges


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["tc-v3-gdn", "tc-v4"])
def test_gdn_codec_pair_is_bit_exact_on_gen(tmp_path: Path, preset: str) -> None:
    """The GDN encoder + IGDN decoder of model.py converted as export converts: only int8 MUL / CONV_2D / RSQRT /
    TRANSPOSE_CONV (tc-v4: the simplified inverse's ABS instead of RSQRT in the decoder; the encoder norms' ranges
    pinned to the preset's gdn_norm_max), the calibration exact (the RSQRT outputs are positive: zero point -128),
    and TFLM == BUILTIN_REF == gen byte for byte (GDN fused row by row: default, DSP-twin, portable-loop and
    ASan/UBSan builds; unfused: default and ASan/UBSan)."""
    from tinycodec.config import PRESETS

    cfg = PRESETS[preset]
    e, d, ranges = _tiny_gdn_pair(preset=preset, tail=1e-2 if preset == "tc-v4" else 0.0)
    assert op_names(load_model(e)) == ["CONV_2D", "MUL", "CONV_2D", "RSQRT", "MUL"] * 3 + ["CONV_2D"]
    inverse = ["ABS", "CONV_2D", "MUL"] if cfg.inverse_gdn == "abs" else ["MUL", "CONV_2D", "RSQRT", "MUL", "MUL"]
    assert op_names(load_model(d)) == ["TRANSPOSE_CONV", *inverse] * 3 + ["TRANSPOSE_CONV"]
    g = read_tflite(e, "e")
    norms = [g.tensors[op.inputs[0]] for op in g.ops if op.code == "RSQRT"]
    for t, top in zip(norms, cfg.gdn_norm_max, strict=True) if cfg.gdn_norm_max else ():
        assert t.zero_point == -128 and abs(t.scale * 255 - top) < 1e-4 * top, (t.scale, top)
    if ranges is not None:  # the clipped decoder ranges are the int8 ranges of the TRANSPOSE_CONV / MUL outputs
        g = read_tflite(d, "d")
        outs = [g.tensors[op.outputs[0]] for op in g.ops if op.code in ("TRANSPOSE_CONV", "MUL")][:-1]
        assert list(ranges) == ["dec0", "igdn0", "dec1", "igdn1", "dec2", "igdn2"]
        for t, (lo, hi) in zip(outs, ranges.values(), strict=True):
            assert lo < 0 < hi and abs(t.scale * 255 - (hi - lo)) < 1e-3 * (hi - lo), (t.scale, lo, hi)
    for data in (e, d):
        g = read_tflite(data, "m")
        assert {t.dtype for t in g.tensors} <= {"int8", "int32"}
        for k, op in enumerate(g.ops):
            if op.code == "RSQRT":  # r > 0 (TFLite's calibrator alone records about [-1, 1] here) ...
                assert g.tensors[op.outputs[0]].zero_point == -128
                if data is d:  # ... and sqrt(n) = MUL(n, r) > 0 (it alone records the layer output's range)
                    assert g.tensors[g.ops[k + 1].outputs[0]].zero_point == -128
    (tmp_path / "enc.tflite").write_bytes(e)
    (tmp_path / "dec.tflite").write_bytes(d)
    files = [tmp_path / "enc.tflite", tmp_path / "dec.tflite"]
    rep = generate(files, tmp_path / "gen")
    generate(files, tmp_path / "gen-nofuse", fuse=False)
    assert set(rep.models[0].ops) == {"CONV_2D", "MUL", "RSQRT"}
    builds = [
        HostModel(tmp_path / "gen"),
        HostModel(tmp_path / "gen", defines=("TC_CONV_GENERIC_BLOCKED",)),
        HostModel(tmp_path / "gen", defines=("TC_CONV_PORTABLE_ONLY",)),
        HostModel(tmp_path / "gen-nofuse"),
    ]
    exes = [build_executable(tmp_path / d, sanitize=True) for d in ("gen", "gen-nofuse")]
    rng = np.random.default_rng(5)
    for idx, data, lo, hi in ((0, e, -128, 128), (1, d, -6, 7)):
        shape = read_tflite(data, "m").tensors[read_tflite(data, "m").inputs[0]].shape
        for seed in range(3):
            x = rng.integers(lo, hi, shape).astype(np.int8)
            ref = run_litert_ref(data, x)
            assert len(np.unique(ref)) > 2
            np.testing.assert_array_equal(run_tflm(data, x), ref, err_msg="TFLM != BUILTIN_REF")
            for hm in builds:
                np.testing.assert_array_equal(hm.run(idx, x).reshape(ref.shape), ref, err_msg="gen != BUILTIN_REF")
            if seed == 0:
                for exe in exes:
                    assert run_executable(exe, idx, x, tmp_path) == ref.tobytes()


@pytest.mark.slow
def test_gdn_preset_fits_the_int8_budget() -> None:
    """tc-v3-gdn at the codec's 128x128 tile, random weights with nonzero biases (trained models keep every bias
    tensor; an all-zero one is dropped by the converter): encoder + decoder .tflite <= 220,000 B per quality (all
    qualities share the layout, so one export measures them)."""
    from tinycodec.config import PRESETS
    from tinycodec.export import _convert, pin_decoder, pin_encoder
    from tinycodec.model import build_decoder, build_encoder
    from tinycodec.tfenv import tf_keras

    cfg = PRESETS["tc-v3-gdn"]
    assert cfg.activation == "gdn" and cfg.decoder == "convt"
    tf_keras.utils.set_random_seed(0)
    enc, dec = build_encoder(cfg, 128), build_decoder(cfg, 128)
    rng = np.random.default_rng(0)
    for m in (enc, dec):
        for layer in m.layers:
            if isinstance(layer, tf_keras.layers.Conv2D):
                k, b = layer.get_weights()
                layer.set_weights([k, rng.normal(0, 0.05, b.shape).astype(np.float32)])
    cal = [rng.uniform(0, 1, (128, 128, 3)).astype(np.float32) for _ in range(4)]
    cal[0][0, 0], cal[0][0, 1] = 0.0, 1.0
    e = _convert(enc, cal)
    pin_encoder(e)
    d = _convert(dec, [rng.integers(-8, 9, (8, 8, cfg.latent_channels)).astype(np.float32) for _ in range(4)])
    pin_decoder(d)
    assert len(e) + len(d) <= 220_000, (len(e), len(d))
    assert set(op_names(load_model(e))) | set(op_names(load_model(d))) == {"CONV_2D", "MUL", "RSQRT", "TRANSPOSE_CONV"}


def test_simplified_inverse_gdn_converts_with_bounded_ops() -> None:
    """tc-v3-gdn-abs's decoder (inverse GDN x * (beta + gamma |x|), Johnston et al. 2019) converts to full int8 as
    TRANSPOSE_CONV, ABS, CONV_2D 1x1, MUL (no RSQRT: nothing whose int8 range depends on 1 / sqrt of a small norm),
    TFLM equals BUILTIN_REF on it, and the float layer computes the formula."""
    from tinycodec.config import PRESETS
    from tinycodec.export import _convert, pin_decoder
    from tinycodec.model import GDN as GDNLayer
    from tinycodec.model import build_decoder
    from tinycodec.tfenv import tf_keras

    cfg = replace(PRESETS["tc-v3-gdn-abs"], enc_channels=(8, 8, 8), latent_channels=6, dec_channels=(8, 8, 8))
    tf_keras.utils.set_random_seed(0)
    dec = build_decoder(cfg, 32)
    layer = next(x for x in dec.layers if isinstance(x, GDNLayer))
    assert layer.simplified and layer.inverse
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 4, 4, 8)).astype(np.float32)
    beta, gamma = (w.numpy() for w in (layer.beta_raw, layer.gamma_raw))
    np.testing.assert_allclose(layer(x).numpy(), x * (beta + np.abs(x) @ gamma.T), rtol=1e-5, atol=1e-6)
    d = _convert(dec, [rng.integers(-6, 7, (2, 2, 6)).astype(np.float32) for _ in range(8)])
    pin_decoder(d)
    names = op_names(load_model(d))
    assert names == ["TRANSPOSE_CONV", "ABS", "CONV_2D", "MUL"] * 3 + ["TRANSPOSE_CONV"], names
    for seed in range(2):
        lat = np.random.default_rng(seed).integers(-6, 7, (1, 2, 2, 6)).astype(np.int8)
        ref = run_litert_ref(bytes(d), lat)
        np.testing.assert_array_equal(run_tflm(bytes(d), lat), ref)
