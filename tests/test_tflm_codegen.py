"""`tinycodec codegen --backend tflm`: the emitted op resolver registers exactly the models' ops, the C arrays
are the .tflite bytes, the model table matches the manifest. (No TFLM headers on this machine: the .cc is
checked by parsing, the header by a g++ syntax check.)"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from tinycodec.codegen import cli as codegen_cli
from tinycodec.codegen.errors import CodegenError
from tinycodec.codegen.reader import read_tflite
from tinycodec.codegen.tflm_emit import OP_METHODS, arena_with_margin, generate_tflm
from tinycodec.config import DEFAULT_MODEL

BUNDLE = DEFAULT_MODEL
# the default bundle's encoder ops in first-use order (the resolver's order)
ENC_OPS = tuple(dict.fromkeys(op.code for op in read_tflite((BUNDLE / "enc_q1.tflite").read_bytes(), "enc_q1").ops))
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text())


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("tflm")
    report = generate_tflm(BUNDLE, d)
    return d, report, (d / "tc_tflm_models.cc").read_text(), (d / "tc_tflm_models.h").read_text()


def _model_ops() -> set[str]:
    ops = set()
    for m in MANIFEST["models"]:
        g = read_tflite((BUNDLE / m["file"]).read_bytes(), m["name"])
        ops |= {op.code for op in g.ops}
    return ops


def test_resolver_registers_exactly_the_model_ops(out):
    _, report, cc, h = out
    want = _model_ops()
    methods = re.findall(r"resolver\.(Add\w+)\(\)", cc)
    assert len(methods) == len(set(methods)), "an op is registered twice (AddBuiltin would fail at run time)"
    inverse = {v: k for k, v in OP_METHODS.items()}
    assert {inverse[m] for m in methods} == want
    assert set(report.ops) == want
    assert int(re.search(r"#define TC_TFLM_N_OPS (\d+)", h).group(1)) == len(want)
    # the manifest's own op lists agree with the flatbuffers
    assert set().union(*(m["ops"] for m in MANIFEST["models"])) == want


def test_arrays_are_the_tflite_bytes_and_aligned(out):
    _, _, cc, _ = out
    arrays = dict(
        (name, bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body)))
        for name, body in re.findall(
            r"alignas\(16\) const unsigned char tc_tflm_model_(\w+)\[\d+\] = \{(.*?)\};", cc, re.S
        )
    )
    assert list(arrays) == [m["name"] for m in MANIFEST["models"]]
    for m in MANIFEST["models"]:
        assert arrays[m["name"]] == (BUNDLE / m["file"]).read_bytes()
    order = re.search(r"tc_tflm_model_data\[TC_TFLM_N_MODELS\] = \{(.*?)\};", cc, re.S).group(1)
    assert re.findall(r"tc_tflm_model_(\w+),", order) == [m["name"] for m in MANIFEST["models"]]
    sizes = re.search(r"tc_tflm_model_size\[TC_TFLM_N_MODELS\] = \{(.*?)\};", cc, re.S).group(1)
    assert [int(x) for x in re.findall(r"(\d+)u", sizes)] == [m["size"] for m in MANIFEST["models"]]


def test_model_table_hash_and_arena(out):
    _, report, cc, h = out
    assert report.model_hash == MANIFEST["model_hash"]
    hx = re.search(r"tc_tflm_model_hash\[32\] = \{(.*?)\};", cc).group(1)
    assert bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", hx)).hex() == MANIFEST["model_hash"]
    rows = re.findall(
        r'\{"(\w+)", (\d+)u, (\d+)u, (\d+), (\d+), (\d+), (\d+), (\d+), (\d+), TC_ROLE_(\w+), (\d+)\}', cc
    )
    assert [r[0] for r in rows] == [m["name"] for m in MANIFEST["models"]]
    for r, m in zip(rows, MANIFEST["models"]):
        ih, iw, ic, oh, ow, oc = (int(x) for x in r[3:9])
        assert (r[9].lower(), int(r[10])) == (m["role"], m["quality"])
        assert [1, ih, iw, ic] == m["input"]["shape"] and [1, oh, ow, oc] == m["output"]["shape"]
        assert int(r[1]) == ih * iw * ic and int(r[2]) == oh * ow * oc
    measured = max(m["tflm_arena_bytes"] for m in MANIFEST["models"])
    assert report.measured_arena_bytes == measured
    assert report.arena_bytes == arena_with_margin(measured) >= measured * 1.125
    assert report.arena_bytes % 1024 == 0
    assert f"#define TC_TFLM_ARENA_BYTES {report.arena_bytes}u" in h


def test_lean_transpose_conv_arena(out):
    """With -D TC_TFLM_LEAN_TRANSPOSE_CONV the header's arena is each model's host measure minus its largest
    TRANSPOSE_CONV output as int32 (the copy the reference kernel keeps and the lean one does not), max over
    models, + the same margin; without TRANSPOSE_CONV the two arenas are equal."""
    _, report, _, h = out
    want = 0
    for m in MANIFEST["models"]:
        g = read_tflite((BUNDLE / m["file"]).read_bytes(), m["name"])
        copies = [4 * math.prod(g.tensors[op.outputs[0]].shape) for op in g.ops if op.code == "TRANSPOSE_CONV"]
        want = max(want, m["tflm_arena_bytes"] - max(copies, default=0))
    assert report.lean_arena_bytes == arena_with_margin(want) <= report.arena_bytes
    lean = re.search(
        r"#if defined\(TC_TFLM_LEAN_TRANSPOSE_CONV\)\n#define TC_TFLM_ARENA_BYTES (\d+)u\n#else\n"
        r"#define TC_TFLM_ARENA_BYTES (\d+)u\n#endif",
        h,
    )
    assert lean is not None and (int(lean.group(1)), int(lean.group(2))) == (
        report.lean_arena_bytes,
        report.arena_bytes,
    )
    has_tconv = any("TRANSPOSE_CONV" in m["ops"] for m in MANIFEST["models"])
    assert (report.lean_arena_bytes < report.arena_bytes) == has_tconv


def test_deterministic(out, tmp_path):
    d, _, cc, h = out
    generate_tflm(BUNDLE, tmp_path)
    assert (tmp_path / "tc_tflm_models.cc").read_text() == cc
    assert (tmp_path / "tc_tflm_models.h").read_text() == h


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_header_compiles(out, tmp_path):
    d, _, _, _ = out
    src = tmp_path / "t.cc"
    src.write_text('#include "tc_tflm_models.h"\nint main() { return tc_tflm_models[0].in_h == 0; }\n')
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-fsyntax-only",
            "-Wall",
            "-Werror",
            "-I",
            str(d),
            "-I",
            str(ROOT / "firmware/core"),
            str(src),
        ],
        check=True,
    )


def test_bare_tflite_needs_arena(tmp_path):
    with pytest.raises(CodegenError, match="tflm-arena-bytes"):
        generate_tflm([BUNDLE / "enc_q1.tflite"], tmp_path)
    r = generate_tflm([BUNDLE / "enc_q1.tflite"], tmp_path, arena_bytes=70000)
    assert r.ops == ENC_OPS and r.arena_bytes == arena_with_margin(70000) == r.lean_arena_bytes


def test_cli(tmp_path, capsys):
    assert codegen_cli.main(["--backend", "tflm", "--manifest", str(BUNDLE), "--out", str(tmp_path)]) == 0
    assert "codegen (tflm)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tc_tflm_models.cc", "tc_tflm_models.h"]
    assert (
        codegen_cli.main(["--backend", "tflm", "--tflite", str(BUNDLE / "enc_q1.tflite"), "--out", str(tmp_path)]) == 2
    )


def test_transpose_conv_is_registered(tmp_path):
    """A convt decoder (TRANSPOSE_CONV, the tc-v2 decoder's op) gets AddTransposeConv in the resolver, once,
    next to the ops of the other models."""
    from gen_helpers import L, Spec, model_file

    dec = model_file(
        Spec(
            "tflm_convt_dec",
            (4, 4, 8),
            (L("convt", filters=6, kernel=3, activation="relu"), L("convt", filters=3, kernel=5)),
        )
    )
    r = generate_tflm([BUNDLE / "enc_q1.tflite", dec], tmp_path, arena_bytes=70000)
    assert "TRANSPOSE_CONV" not in ENC_OPS and r.ops == (*ENC_OPS, "TRANSPOSE_CONV")
    cc = (tmp_path / "tc_tflm_models.cc").read_text()
    assert re.findall(r"resolver\.(Add\w+)\(\)", cc) == [OP_METHODS[o] for o in r.ops]
    assert "AddTransposeConv() != kTfLiteOk) return -1; /* TRANSPOSE_CONV: tflm_convt_dec" in cc
    assert f"#define TC_TFLM_N_OPS {len(r.ops)}" in (tmp_path / "tc_tflm_models.h").read_text()
