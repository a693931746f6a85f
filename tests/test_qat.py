"""QAT models convert to the same op set as PTQ (nearest upsampling passes quantization through: no
int8->int8 QUANTIZE op that the gen backend would refuse), and the decoder input pins to scale 1."""

import numpy as np

from tinycodec.codegen.reader import load_model, op_names, tensor_quant
from tinycodec.config import ModelConfig
from tinycodec.export import _convert, pin_decoder
from tinycodec.model import build_decoder
from tinycodec.qat import _pin_input_range, _quantize


def test_qat_decoder_converts_to_plain_ops():
    q = _quantize(build_decoder(ModelConfig(), 64))
    rng = np.random.default_rng(0)
    for _ in range(3):
        q(rng.normal(0, 5, (1, 4, 4, 64)).astype(np.float32), training=True)
    _pin_input_range(q, -128.0, 127.0)
    data = _convert(q, [rng.normal(0, 5, (4, 4, 64)).astype(np.float32) for _ in range(4)])
    assert set(op_names(load_model(data))) == {"RESIZE_NEAREST_NEIGHBOR", "CONV_2D"}
    pin_decoder(data)
    sg = load_model(data).Subgraphs(0)
    assert tensor_quant(sg.Tensors(sg.Inputs(0))).scale == (1.0,)


def test_calibrated_ranges_cover_the_float_activations():
    """tfmot's ranges start at +-6; calibration sets each from the float model's activations (0 included)."""
    from tinycodec.qat import _calibrate_ranges
    from tinycodec.tfenv import tf, tf_keras

    f = build_decoder(ModelConfig(), 64)
    q = _quantize(f)
    x = tf.constant(np.random.default_rng(1).normal(0, 20, (2, 4, 4, 64)).astype(np.float32))
    _calibrate_ranges(q, f, x)
    probe = tf_keras.Model(f.inputs, f.get_layer("dec3").output)
    want = probe(x).numpy()
    got = {v.name.split("/")[-1]: v.numpy() for v in q.get_layer("quant_dec3").weights}
    assert got["post_activation_min:0"] == min(float(want.min()), 0.0)
    assert got["post_activation_max:0"] == max(float(want.max()), 0.0)
    # the QuantizeLayer: its variables are named quantize_layer_<n>_min once a model was built before
    inp = sorted(float(v.numpy()) for v in q.layers[1].weights if v.name.endswith(("min:0", "max:0")))
    assert inp == [float(x.numpy().min()), float(x.numpy().max())]
    relu = {v.name.split("/")[-1]: v.numpy() for v in q.get_layer("quant_dec0").weights}
    assert relu["post_activation_min:0"] == 0.0 and relu["post_activation_max:0"] != 6.0


def test_latent_range_is_the_last_conv():
    from tinycodec.model import build_encoder
    from tinycodec.qat import _latent_range

    q = _quantize(build_encoder(ModelConfig(), 64))
    lo, hi = _latent_range(q)
    assert lo.name.startswith("quant_enc3/") and hi.name.startswith("quant_enc3/")
    assert lo.name.endswith("post_activation_min:0") and hi.name.endswith("post_activation_max:0")
