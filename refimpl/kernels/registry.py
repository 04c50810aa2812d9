"""The explicit kernel registry: schema op name -> :class:`~refimpl.context.Kernel`.

No harvesting of globals and no import-time decorators: to add an op, write its
module (``refimpl/kernels/<op_name_snake_case>.py``) and add one line here.
"""

from __future__ import annotations

from ..context import Kernel
from . import (
    activations,
    add,
    concatenation,
    conv_2d,
    depthwise_conv_2d,
    dequantize,
    fully_connected,
    leaky_relu,
    logistic,
    mean,
    mul,
    pad,
    pooling,
    quantize,
    reshape,
    shape_ops,
    softmax,
    sub,
    svdf,
    tanh,
    transpose_conv,
    unidirectional_sequence_lstm,
)

KERNELS: dict[str, Kernel] = {
    "ADD": add.ADD,
    "AVERAGE_POOL_2D": pooling.AVERAGE_POOL_2D,
    "CONCATENATION": concatenation.CONCATENATION,
    "CONV_2D": conv_2d.CONV_2D,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d.DEPTHWISE_CONV_2D,
    "DEQUANTIZE": dequantize.DEQUANTIZE,
    "FULLY_CONNECTED": fully_connected.FULLY_CONNECTED,
    "LEAKY_RELU": leaky_relu.LEAKY_RELU,
    "LOGISTIC": logistic.LOGISTIC,
    "MAX_POOL_2D": pooling.MAX_POOL_2D,
    "MEAN": mean.MEAN,
    "MUL": mul.MUL,
    "PAD": pad.PAD,
    "QUANTIZE": quantize.QUANTIZE,
    "RELU": activations.RELU,
    "PACK": shape_ops.PACK,
    "PADV2": pad.PADV2,
    "RELU6": activations.RELU6,
    "RELU_0_TO_1": activations.RELU_0_TO_1,
    "RELU_N1_TO_1": activations.RELU_N1_TO_1,
    "RESHAPE": reshape.RESHAPE,
    "SHAPE": shape_ops.SHAPE,
    "SOFTMAX": softmax.SOFTMAX,
    "STRIDED_SLICE": shape_ops.STRIDED_SLICE,
    "SUB": sub.SUB,
    "SUM": mean.SUM,
    "SVDF": svdf.SVDF,
    "TANH": tanh.TANH,
    "TRANSPOSE_CONV": transpose_conv.TRANSPOSE_CONV,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": unidirectional_sequence_lstm.UNIDIRECTIONAL_SEQUENCE_LSTM,
}
