"""Stateless NumPy kernels used by the layers: convolution, pooling and padding arithmetic.

Data is NHWC and convolution kernels are HWIO ``(kh, kw, in, out)``, as in Keras with TensorFlow.
"""

from numpykeras.ops.conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_fused,
    conv2d_max_pool2d,
    depthwise_conv2d,
    depthwise_conv2d_backward,
)
from numpykeras.ops.padding import (
    conv_output_length,
    normalize_padding,
    normalize_tuple,
    padding_amounts,
    same_padding,
)
from numpykeras.ops.pooling import (
    MaxPoolCache,
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
)

__all__ = [
    "MaxPoolCache",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_fused",
    "conv2d_max_pool2d",
    "conv_output_length",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "normalize_padding",
    "normalize_tuple",
    "padding_amounts",
    "same_padding",
]
