"""QAT models convert to the same op set as PTQ (nearest upsampling passes quantization through: no
int8->int8 QUANTIZE op that the gen backend would refuse), and the decoder input pins to scale 1."""

import numpy as np

from tinycodec.config import ModelConfig
from tinycodec.export import _convert, pin_decoder
from tinycodec.model import build_decoder
from tinycodec.qat import _pin_input_range, _quantize
from tinycodec.tflite_fb import load_model, op_names, tensor_quant


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
