"""``keras.ops`` on NumPy (differentiable under ``GradientTape``), plus the stateless kernels
the layers use: convolution, pooling and padding arithmetic.

Data is NHWC and convolution kernels are HWIO ``(kh, kw, in, out)``, as in Keras with TensorFlow.
As in Keras the ops are flat (``ops.add``, ``ops.relu``, ``ops.rearrange``) and also grouped in
``ops.numpy``, ``ops.nn``, ``ops.linalg``, ``ops.math``, ``ops.core`` and ``ops.image`` (the image
ops are only grouped, as in Keras): every public name of Keras 3.15's ``keras.ops``.
"""

import inspect as _inspect
import sys as _sys
import types as _types

from numpykeras.ops import autodiff, core, einops, image, linalg, math, nn, numpy  # noqa: E402
from numpykeras.ops.autodiff import GradientTape, Tensor  # noqa: E402
from numpykeras.ops.conv import (
    conv2d,
    conv2d_backward,
    conv2d_backward_fused,
    conv2d_max_pool2d,
    depthwise_conv2d,
    depthwise_conv2d_backward,
)
from numpykeras.ops.core import *  # noqa: E402,F403
from numpykeras.ops.einops import rearrange  # noqa: E402
from numpykeras.ops.linalg import *  # noqa: E402,F403
from numpykeras.ops.math import *  # noqa: E402,F403
from numpykeras.ops.nn import *  # noqa: E402,F403
from numpykeras.ops.numpy import *  # noqa: E402,F403
from numpykeras.ops.numpy import __all__ as _numpy_all  # noqa: E402
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


class _ConvModule(_types.ModuleType):
    """``numpykeras.ops.conv`` is both the kernels module (``ops/conv.py``, which the layers and
    tests use) and ``keras.ops.conv``: calling the module runs :func:`nn.conv`."""

    def __call__(self, *args, **kwargs):
        return nn.conv(*args, **kwargs)


_sys.modules["numpykeras.ops.conv"].__class__ = _ConvModule
conv = _sys.modules["numpykeras.ops.conv"]
conv.__signature__ = _inspect.signature(nn.conv)  # what inspect reports for ops.conv

__all__ = [
    *core.__all__,
    "rearrange",
    *linalg.__all__,
    *math.__all__,
    *nn.__all__,
    *_numpy_all,
    "GradientTape",
    "Tensor",
    "core",
    "einops",
    "image",
    "linalg",
    "math",
    "nn",
    "numpy",
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

# Every public op makes a graph node when called on a KerasTensor (Keras's symbolic call).
from numpykeras.ops import symbolic as _symbolic  # noqa: E402

_symbolic.install([_sys.modules[__name__]], [core, linalg, math, nn, numpy, image, einops])
