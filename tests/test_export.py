"""The shipped int8 models: allowed ops only, int8 I/O, pinned quantization, size budget, and the host
oracle (TFLM) bit-exact with ai_edge_litert's reference kernels."""

import numpy as np
import pytest

from tinycodec.bundle import Bundle
from tinycodec.config import DEFAULT_MODEL
from tinycodec.tflite_fb import TYPE_NAMES, load_model, op_names, tensor_quant

BUNDLE = DEFAULT_MODEL
ALLOWED = {"CONV_2D", "RESIZE_NEAREST_NEIGHBOR", "DEPTHWISE_CONV_2D", "ADD", "CONCATENATION"}


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load(BUNDLE)


def test_ops_and_int8_io(bundle):
    for m in bundle.models:
        model = load_model(bytearray(m.data))
        assert set(op_names(model)) <= ALLOWED, m.name
        sg = model.Subgraphs(0)
        types = {TYPE_NAMES[sg.Tensors(i).Type()] for i in range(sg.TensorsLength())}
        assert types <= {"INT8", "INT32"}, (m.name, types)  # int32 only for biases
        i, o = tensor_quant(sg.Tensors(sg.Inputs(0))), tensor_quant(sg.Tensors(sg.Outputs(0)))
        pixels = (np.float32(1 / 255), -128)
        latent = (1.0, 0)
        if m.role == "encoder":
            assert (np.float32(i.scale[0]), i.zero_point[0]) == pixels
            assert (o.scale[0], o.zero_point[0]) == latent
        else:
            assert (i.scale[0], i.zero_point[0]) == latent
            assert (np.float32(o.scale[0]), o.zero_point[0]) == pixels
        assert list(sg.Tensors(sg.Inputs(0)).ShapeAsNumpy())[0] == 1


def test_size_budget_per_quality(bundle):
    for q in bundle.qualities:
        total = len(bundle.model("encoder", q).data) + len(bundle.model("decoder", q).data)
        assert total <= 220_000, (q, total)


def test_manifest_records_latent_agreement(bundle):
    """Int8 latent symbols agree with the float model's rounding (the bins the entropy model learned)."""
    for q, frac in bundle.manifest["latent_agreement"].items():
        # int8 activation error flips ~1-4 % of symbols near bin edges (more at fine quantization, q4);
        # a wrong latent scale (the converter-chosen 0.42 of the report) flips ~11 %
        assert frac >= 0.95, (q, frac)


def test_tflm_matches_litert_reference(bundle):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from tinycodec.oracle import TflmModel

    rng = np.random.default_rng(0)
    for m in bundle.models:
        ref = Interpreter(model_content=m.data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        ref.allocate_tensors()
        tflm = TflmModel(m.data)
        for _ in range(2):
            lo, hi = (-128, 128) if m.role == "encoder" else (-12, 13)
            x = rng.integers(lo, hi, m.input_shape).astype(np.int8)
            ref.set_tensor(ref.get_input_details()[0]["index"], x)
            ref.invoke()
            want = ref.get_tensor(ref.get_output_details()[0]["index"])
            np.testing.assert_array_equal(tflm.run(x), want)
