"""numpykeras.ops vs keras.ops (TensorFlow backend): values, dtypes, shapes and gradients.

One table of cases; each feeds the same random inputs to ``numpykeras.ops.<name>`` and
``keras.ops.<name>``. For differentiable cases the gradients of ``sum(y * dy)`` (a random upstream
``dy``) with respect to the marked inputs are compared with ``tf.GradientTape``'s, including
which inputs get no gradient (``None``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import numpykeras
from numpykeras import ops

from tolerances import GRAD_ATOL, GRAD_RTOL, assert_close, assert_forward_close


def N(*shape):
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def P(*shape):  # positive, away from 0
    return lambda rng: rng.uniform(0.5, 2.0, shape).astype(np.float32)


def U(*shape):  # inside (-1, 1), away from the ends
    return lambda rng: rng.uniform(-0.9, 0.9, shape).astype(np.float32)


def G(*shape):  # |x| >= 0.1 (away from kinks at 0) with distinct magnitudes
    def draw(rng):
        x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        return x.astype(np.float32)

    return draw


def Ints(*shape, high=4, dtype="int32"):
    return lambda rng: rng.integers(0, high, shape).astype(dtype)


def C(value):
    return lambda rng: value


@dataclass
class Case:
    name: str
    args: list
    kwargs: dict = field(default_factory=dict)
    grad: tuple = (0,)  # positions of the inputs to differentiate (empty: values only)
    id: str = ""
    # call(module, *args) -> result, for ops not called as module.<name>(*args, **kwargs):
    # `module` is numpykeras.ops or keras.ops (use `module.image.resize`, `_native(module, x)`)
    call: Callable | None = None


CASES = [
    # elementwise
    *[
        Case(n, [N(2, 3)])
        for n in [
            "exp",
            "sin",
            "cos",
            "tanh",
            "sinh",
            "cosh",
            "arctan",
            "negative",
            "square",
            "expm1",
            "arcsinh",
            "sigmoid",
            "softplus",
            "softsign",
            "silu",
            "log_sigmoid",
            "selu",
            "erf",
            "reciprocal",
        ]
    ],
    *[Case(n, [P(2, 3)]) for n in ["log", "log1p", "log2", "log10", "sqrt"]],
    Case("arccosh", [lambda rng: 1.0 + P(2, 3)(rng)]),
    *[Case(n, [U(2, 3)]) for n in ["arcsin", "arccos", "arctanh", "tan"]],
    *[
        Case(n, [G(2, 3)])
        for n in [
            "abs",
            "relu",
            "relu6",
            "sign",
            "elu",
            "leaky_relu",
            "hard_sigmoid",
            "hard_silu",
            "floor",
            "ceil",
            "round",
            "absolute",
        ]
    ],
    Case("gelu", [N(2, 3)], {"approximate": True}, id="gelu-tanh"),
    Case("gelu", [N(2, 3)], {"approximate": False}, id="gelu-erf"),
    Case("leaky_relu", [G(4)], {"negative_slope": 0.3}, id="leaky_relu-0.3"),
    Case("elu", [G(4)], {"alpha": 0.5}, id="elu-alpha"),
    # binary with broadcasting
    *[
        Case(n, [N(2, 3), N(3)], grad=(0, 1))
        for n in ["add", "subtract", "multiply", "maximum", "minimum", "arctan2", "logaddexp"]
    ],
    Case("divide", [N(2, 3), P(2, 1)], grad=(0, 1)),
    Case("true_divide", [N(2, 3), P(1, 3)], grad=(0, 1)),
    Case("power", [P(2, 3), N(3)], grad=(0, 1)),
    Case("mod", [P(2, 3), P(3)], grad=(0,)),
    Case("floor_divide", [N(2, 3), P(3)], grad=()),
    Case("multiply", [N(2, 3), C(2.5)], id="multiply-scalar"),
    Case("add", [Ints(2, 3), C(2.0)], grad=(), id="add-int-float"),
    Case("add", [Ints(2, 3), C(2)], grad=(), id="add-int-int"),
    Case("add", [Ints(3, dtype="int64"), N(3)], grad=(), id="add-int64-float32"),
    Case("divide", [Ints(3), Ints(3, high=3)], grad=(), id="divide-ints"),
    *[
        Case(n, [N(2, 3), N(2, 3)], grad=())
        for n in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
    ],
    *[
        Case(n, [Ints(4, high=2), Ints(4, high=2)], grad=())
        for n in ["logical_and", "logical_or", "logical_xor"]
    ],
    Case("logical_not", [Ints(4, high=2)], grad=()),
    Case("clip", [N(3, 4), C(-0.5), C(0.5)]),
    Case("where", [Ints(2, 3, high=2, dtype="bool"), N(2, 3), N(3)], grad=(1, 2)),
    # linear algebra
    Case("matmul", [N(2, 3), N(3, 4)], grad=(0, 1)),
    Case("matmul", [N(2, 2, 3), N(3, 4)], grad=(0, 1), id="matmul-batch"),
    Case("matmul", [N(3), N(2, 3, 4)], grad=(0, 1), id="matmul-vector"),
    Case("matmul", [N(2, 3), N(3)], grad=(0, 1), id="matmul-matvec"),
    Case("dot", [N(2, 3), N(3, 4)], grad=(0, 1)),
    Case("dot", [N(2, 2, 3), N(4, 3, 2)], grad=(0, 1), id="dot-nd"),
    Case("tensordot", [N(2, 3, 4), N(3, 4, 5)], {"axes": 2}, grad=(0, 1)),
    Case("tensordot", [N(2, 3), N(4, 2)], {"axes": ([0], [1])}, grad=(0, 1), id="tensordot-ax"),
    Case("einsum", [C("ij,jk->ik"), N(2, 3), N(3, 4)], grad=(1, 2)),
    Case("einsum", [C("bij,bjk->bik"), N(2, 2, 3), N(2, 3, 2)], grad=(1, 2), id="einsum-batch"),
    Case("einsum", [C("ij->j"), N(3, 4)], grad=(1,), id="einsum-reduce"),
    Case("einsum", [C("...i,i->..."), N(2, 3, 4), N(4)], grad=(1, 2), id="einsum-ellipsis"),
    Case("einsum", [C("ij,k->ijk"), N(2, 3), N(2)], grad=(1, 2), id="einsum-outer"),
    Case("outer", [N(3), N(4)], grad=(0, 1)),
    Case("trace", [N(3, 4)]),
    Case("diagonal", [N(3, 4)], {"offset": 1}),
    Case("diagonal", [N(2, 3, 3)], {"offset": 0, "axis1": 1, "axis2": 2}, id="diagonal-batch"),
    Case("diag", [N(3)], {"k": 1}, id="diag-vector"),
    Case("diag", [N(3, 4)], {"k": -1}, id="diag-matrix"),
    Case("triu", [N(3, 4)], {"k": 1}),
    Case("tril", [N(2, 3, 3)]),
    Case("norm", [N(3, 4)]),
    Case("norm", [N(3, 4)], {"ord": 1, "axis": 1}, id="norm-l1-axis"),
    Case("norm", [N(3, 4)], {"ord": "fro", "axis": (0, 1)}, id="norm-fro"),
    Case("norm", [N(3, 4)], {"ord": np.inf}, id="norm-matrix-inf"),
    # shapes
    Case("reshape", [N(2, 6)], {"newshape": (3, -1)}),
    Case("transpose", [N(2, 3, 4)], {"axes": (2, 0, 1)}),
    Case("transpose", [N(2, 3)], id="transpose-default"),
    Case("expand_dims", [N(2, 3)], {"axis": 1}),
    Case("squeeze", [N(2, 1, 3)], {"axis": 1}),
    Case("moveaxis", [N(2, 3, 4)], {"source": 0, "destination": -1}),
    Case("swapaxes", [N(2, 3, 4)], {"axis1": 0, "axis2": 2}),
    Case("broadcast_to", [N(3)], {"shape": (2, 3)}),
    Case("tile", [N(2, 3)], {"repeats": (2, 1)}),
    Case("repeat", [N(2, 3)], {"repeats": 2, "axis": 1}),
    Case("ravel", [N(2, 3)]),
    Case("flip", [N(2, 3)], {"axis": 1}),
    Case("roll", [N(2, 5)], {"shift": 2, "axis": 1}),
    Case("pad", [N(2, 3)], {"pad_width": ((1, 0), (2, 1))}),
    Case("take", [N(5, 3), C(np.array([0, 4, 4, 1]))], {"axis": 0}),
    Case("take", [N(5, 3), C(np.array([[0, 2], [2, -1]]))], {"axis": 1}, id="take-2d-neg"),
    Case("take_along_axis", [N(3, 4), C(np.array([[0], [3], [1]]))], {"axis": 1}),
    Case("triu", [N(4, 4)]),
    Case("get_item", [N(4, 5), C((slice(1, 3), slice(None, None, 2)))]),
    # reductions
    *[Case(n, [N(3, 4)], {"axis": 1}) for n in ["sum", "mean", "var", "std", "prod"]],
    *[
        Case(n, [N(2, 3, 4)], {"axis": (0, 2), "keepdims": True}, id=f"{n}-keepdims")
        for n in ["sum", "mean", "max", "min"]
    ],
    *[Case(n, [N(3, 4)]) for n in ["sum", "mean", "max", "min", "amax", "amin", "logsumexp"]],
    Case(
        "max",
        [C(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], np.float32))],
        {"axis": 1},
        id="max-ties",
    ),
    Case("cumsum", [N(3, 4)], {"axis": 1}),
    Case("cumsum", [N(3, 4)], id="cumsum-flat"),
    Case("cumprod", [P(3, 4)], {"axis": 0}),
    Case("sort", [N(3, 4)], {"axis": 1}),
    Case("median", [N(3, 5)], {"axis": 1}),
    Case("quantile", [N(3, 5), C(np.array([0.25, 0.5]))], {"axis": 1}),
    Case("average", [N(3, 4), C(None), P(4)], {}, grad=(0, 2), id="average-weights"),
    Case("average", [N(3, 4), C(None), P(3, 4)], {"axis": 1}, grad=(0, 2), id="average-axis"),
    *[Case(n, [N(3, 4)], {"axis": 1}, grad=()) for n in ["argmax", "argmin", "argsort"]],
    Case("all", [Ints(3, 4, high=2)], {"axis": 0}, grad=()),
    Case("any", [Ints(3, 4, high=2)], grad=()),
    Case("count_nonzero", [Ints(3, 4, high=2)], {"axis": 1}, grad=()),
    Case("isnan", [C(np.array([1.0, np.nan, np.inf], np.float32))], grad=()),
    Case("isinf", [C(np.array([1.0, np.nan, -np.inf], np.float32))], grad=()),
    Case("isfinite", [C(np.array([1.0, np.nan, np.inf], np.float32))], grad=()),
    # joins and splits (list inputs)
    Case("concatenate", [N(2, 3), N(1, 3)], {"axis": 0}, grad=(0, 1)),
    Case("stack", [N(2, 3), N(2, 3)], {"axis": 1}, grad=(0, 1)),
    Case("vstack", [N(1, 3), N(2, 3)], grad=(0, 1)),
    Case("hstack", [N(2, 1), N(2, 3)], grad=(0, 1)),
    Case("append", [N(2, 3), N(2, 3)], {"axis": 1}, grad=(0, 1)),
    # nn
    Case("softmax", [N(3, 4)]),
    Case("softmax", [N(3, 4)], {"axis": 0}, id="softmax-axis0"),
    Case("log_softmax", [N(3, 4)]),
    Case(
        "categorical_crossentropy",
        [C(np.eye(4, dtype=np.float32)[[0, 2, 3]]), N(3, 4)],
        {"from_logits": True},
        grad=(1,),
        id="cce-logits",
    ),
    Case(
        "categorical_crossentropy",
        [C(np.eye(4, dtype=np.float32)[[0, 2, 3]]), P(3, 4)],
        grad=(1,),
        id="cce-probs",
    ),
    Case(
        "sparse_categorical_crossentropy",
        [C(np.array([0, 3, 1])), N(3, 4)],
        {"from_logits": True},
        grad=(1,),
        id="scce-logits",
    ),
    Case(
        "sparse_categorical_crossentropy",
        [C(np.array([0, 3, 1])), U(3, 4)],
        grad=(1,),
        id="scce-probs",
    ),
    Case(
        "binary_crossentropy",
        [Ints(3, 2, high=2, dtype="float32"), N(3, 2)],
        {"from_logits": True},
        grad=(0, 1),
        id="bce-logits",
    ),
    Case(
        "binary_crossentropy",
        [Ints(3, 2, high=2, dtype="float32"), U(3, 2)],
        grad=(0, 1),
        id="bce-probs",
    ),
    Case("one_hot", [C(np.array([0, 2, 1, -1]))], {"num_classes": 3}, grad=()),
    Case("multi_hot", [C(np.array([[0, 2], [1, 1]]))], {"num_classes": 4}, grad=()),
    Case("moments", [N(4, 3)], {"axes": [0]}),
    Case("batch_normalization", [N(4, 3), N(3), P(3), C(-1), N(3), N(3)], grad=(0, 1, 2, 4, 5)),
    Case("conv", [N(2, 6, 6, 3), N(3, 3, 3, 4)], {"padding": "same", "strides": 2}, grad=(0, 1)),
    Case("conv", [N(2, 7, 3), N(3, 3, 2)], {"padding": "valid"}, grad=(0, 1), id="conv-1d"),
    Case("depthwise_conv", [N(2, 5, 5, 3), N(3, 3, 3, 2)], {"padding": "same"}, grad=(0, 1)),
    Case("max_pool", [N(2, 6, 6, 3)], {"pool_size": 2}),
    Case(
        "max_pool",
        [N(2, 5, 5, 2)],
        {"pool_size": 3, "strides": 2, "padding": "same"},
        id="max_pool-same",
    ),
    Case("average_pool", [N(2, 5, 5, 2)], {"pool_size": 2, "strides": 1, "padding": "same"}),
    # core
    Case("cast", [N(2, 3)], {"dtype": "float64"}),
    Case("cast", [N(2, 3)], {"dtype": "int32"}, grad=(), id="cast-int"),
    Case("slice", [N(4, 5), C((1, 2)), C((2, 3))]),
    # TensorFlow has no gradient for slice_update (XlaDynamicUpdateSlice): finite differences
    # check ours in tests/unit/test_autodiff.py
    Case("slice_update", [N(4, 5), C((1, 2)), N(2, 3)], grad=()),
    Case("scatter", [C(np.array([[0, 1], [2, 0], [0, 1]])), N(3), C((3, 2))], grad=(1,)),
    Case("scatter_update", [N(3, 4), C(np.array([[0, 1], [2, 3]])), N(2)], grad=(0, 2)),
    Case("convert_to_tensor", [C([1.0, 2.0])], grad=(), id="convert-floats"),
    Case("convert_to_tensor", [C([1, 2])], grad=(), id="convert-ints"),
    # creation
    Case("zeros", [C((2, 3))], grad=()),
    Case("ones", [C((2, 3))], {"dtype": "int32"}, grad=()),
    Case("full", [C((2, 2)), C(1.5)], grad=()),
    Case("eye", [C(3)], {"k": 1}, grad=()),
    Case("identity", [C(3)], grad=()),
    Case("arange", [C(1), C(7), C(2)], grad=()),
    Case("arange", [C(2.5)], grad=(), id="arange-float"),
    Case("linspace", [C(0.0), C(1.0)], {"num": 5}, grad=()),
    Case("tri", [C(3)], {"k": 0}, grad=()),
    Case("zeros_like", [Ints(2, 3)], grad=()),
    Case("full_like", [N(2, 3), C(2.0)], grad=()),
    Case("ones_like", [N(2, 3)], {"dtype": "int32"}, grad=()),
]


def _native(module, x):
    """``x`` as the module's own tensor: a ``tf.Tensor`` for ``keras.ops`` (some Keras ops read
    TensorFlow shapes or dtypes), unchanged for numpykeras."""
    if module is ops:
        return x
    import tensorflow as tf

    return tf.convert_to_tensor(x)


def Nan(*shape):  # normal draws with a NaN in each row (never a whole row)
    def draw(rng):
        x = rng.standard_normal(shape).astype(np.float32)
        x.reshape(-1, shape[-1])[:, 0] = np.nan
        return x

    return draw


def Img(*shape):  # pixel values inside (0, 1)
    return lambda rng: rng.uniform(0.05, 0.95, shape).astype(np.float32)


def Spd(n):  # a well-conditioned factor: a @ a.T + n I is symmetric positive definite
    return lambda rng: (rng.standard_normal((n, n)) * 0.5 + np.eye(n)).astype(np.float32)


def Tri(n, lower=True):  # triangular, diagonal away from 0
    def draw(rng):
        a = rng.standard_normal((n, n)) * 0.3 + np.eye(n) * 1.5
        return (np.tril(a) if lower else np.triu(a)).astype(np.float32)

    return draw


def _spd(m, a):
    return m.add(m.matmul(a, m.transpose(a)), m.multiply(m.eye(a.shape[-1]), 2.0))


def _image(name, **kwargs):
    return lambda m, *args: getattr(m.image, name)(*args, **kwargs)


_INF = np.array([1.0, np.inf, -np.inf, np.nan, -0.0], np.float32)
_SEGMENTS = np.array([0, 0, 2, 2, 1, 3])
_SORTED_SEGMENTS = np.array([0, 0, 1, 3, 3, 3])
_TRANSFORMS = np.array(
    [[1.1, 0.2, -0.5, -0.1, 0.9, 0.7, 0.01, -0.02], [0.8, -0.3, 1.2, 0.25, 1.05, -0.6, 0, 0]],
    np.float32,
)
_COORDS = np.array(
    [[[0.2, 1.7, 3.9], [2.5, -0.6, 1.1]], [[1.3, 4.2, 0.4], [2.8, 3.3, -0.9]]], np.float32
)

EXTENDED_CASES = [
    # numpy: elementwise
    *[Case(n, [N(2, 3)]) for n in ["deg2rad", "rad2deg", "i0", "tanh_shrink", "sparse_sigmoid"]],
    Case("deg2rad", [Ints(2, 3)], grad=(), id="deg2rad-int"),
    Case("rad2deg", [Ints(3, dtype="int64")], grad=(), id="rad2deg-int64"),
    Case("sinc", [G(2, 3)]),
    Case("i0", [Ints(3)], grad=(), id="i0-int"),
    *[Case(n, [C(_INF)], grad=()) for n in ["signbit", "isneginf", "isposinf", "isreal"]],
    Case("heaviside", [C(np.array([-1.5, 0.0, 2.0], np.float32)), N(3)], grad=(0, 1)),
    Case("heaviside", [Ints(3), Ints(3)], grad=(), id="heaviside-ints"),
    *[Case(n, [N(2, 3), N(3)], grad=(0, 1)) for n in ["fmax", "fmin", "logaddexp2"]],
    Case("fmax", [C(np.array([np.nan, 1.0, np.nan], np.float32)), N(3)], grad=(), id="fmax-nan"),
    Case("fmin", [N(3), C(np.array([np.nan, 1.0, np.nan], np.float32))], grad=(), id="fmin-nan"),
    Case("fmod", [G(2, 3), P(3)], grad=(0, 1)),
    Case("fmod", [Ints(2, 3, high=9), C(np.array([2, 3, 5]))], grad=(), id="fmod-int"),
    Case("ldexp", [N(2, 3), Ints(2, 3)], grad=(0,)),
    Case("nextafter", [N(2, 3), N(2, 3)], grad=()),
    Case("divide_no_nan", [N(2, 3), C(np.array([1.5, 0.0, -2.0], np.float32))], grad=(0, 1)),
    Case("divide_no_nan", [Ints(3), Ints(3)], grad=(), id="divide_no_nan-ints"),
    Case("nan_to_num", [C(_INF)]),
    Case("nan_to_num", [C(_INF)], {"nan": 1.0, "posinf": 9.0, "neginf": -9.0}, id="nan_to_num-v"),
    *[
        Case(n, [Ints(2, 3, high=9), Ints(2, 3, high=9)], grad=())
        for n in [
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
            "bitwise_left_shift",
            "bitwise_right_shift",
            "left_shift",
            "right_shift",
            "gcd",
            "lcm",
        ]
    ],
    Case(
        "bitwise_and",
        [Ints(4, high=9, dtype="uint8"), Ints(4, dtype="int8")],
        grad=(),
        id="bitwise_and-promote",
    ),
    Case("bitwise_left_shift", [Ints(4, high=9), C(2)], grad=(), id="left_shift-int"),
    Case("bitwise_invert", [Ints(2, 3, high=9)], grad=()),
    Case("bitwise_not", [Ints(2, 3, high=9, dtype="uint8")], grad=()),
    Case("angle", [N(2, 3)], grad=()),
    Case("angle", [C(np.array([1 + 2j, -1j, -3.0], np.complex64))], grad=(), id="angle-complex"),
    # numpy: shapes
    Case("fliplr", [N(2, 3)]),
    Case("flipud", [N(2, 3)]),
    Case("rot90", [N(2, 3)]),
    Case("rot90", [N(2, 3, 4)], {"k": 3, "axes": (1, 2)}, id="rot90-k3"),
    Case("rot90", [N(2, 3, 4)], {"k": -1, "axes": (2, 0)}, id="rot90-neg"),
    Case("dstack", [N(2, 3), N(2, 3)], grad=(0, 1), call=lambda m, a, b: m.dstack([a, b])),
    Case(
        "dstack", [N(3), N(3)], grad=(0, 1), call=lambda m, a, b: m.dstack([a, b]), id="dstack-1d"
    ),
    Case("hsplit", [N(2, 4), C(2)]),
    Case("vsplit", [N(4, 2), C([1, 3])]),
    Case("dsplit", [N(2, 2, 4), C(2)]),
    Case("diagflat", [N(2, 2)], {"k": 1}),
    Case("kron", [N(2, 2), N(3, 2)], grad=(0, 1)),
    Case("kron", [N(3), N(2, 2)], grad=(0, 1), id="kron-ranks"),
    Case("vander", [N(3)]),
    Case("vander", [N(4)], {"N": 3, "increasing": True}, id="vander-n"),
    Case("vander", [Ints(3)], grad=(), id="vander-int"),
    Case("cross", [N(2, 3), N(2, 3)], grad=(0, 1)),
    Case("cross", [N(2, 3), N(2, 2)], grad=(0, 1), id="cross-3x2"),
    Case("cross", [N(2, 2), N(2, 2)], grad=(0, 1), id="cross-2d"),
    Case("cross", [N(3, 2), N(3, 2)], {"axisa": 0, "axisb": 0}, grad=(0, 1), id="cross-axes"),
    Case(
        "select",
        [N(2, 3), N(2, 3)],
        grad=(0, 1),
        call=lambda m, a, b: m.select([m.greater(a, 0), m.greater(b, 0)], [a, b], a * 0 - 1),
    ),
    # numpy: creation
    Case("array", [C([1.5, 2.0])], grad=()),
    Case("array", [C([1, 2])], {"dtype": "float64"}, grad=(), id="array-dtype"),
    Case("logspace", [C(0.0), C(2.0)], {"num": 5}, grad=()),
    Case(
        "logspace",
        [C(0.0), C(3.0)],
        {"num": 4, "base": 2, "endpoint": False},
        grad=(),
        id="logspace-base",
    ),
    Case("geomspace", [C(1.0), C(1000.0)], {"num": 4}, grad=()),
    Case("geomspace", [C(-2.0), C(-32.0)], {"num": 5}, grad=(), id="geomspace-neg"),
    *[Case(n, [C(6)], grad=()) for n in ["bartlett", "blackman", "hamming", "hanning"]],
    Case("blackman", [C(1)], grad=(), id="blackman-1"),
    Case("kaiser", [C(6), C(2.5)], grad=()),
    # numpy: searching and counting
    Case("searchsorted", [C(np.array([-1.0, 0.0, 0.5, 2.0], np.float32)), N(5)], grad=()),
    Case(
        "searchsorted",
        [C(np.array([1, 2, 2, 5])), C(np.array([2, 6, 0]))],
        {"side": "right"},
        grad=(),
        id="searchsorted-right",
    ),
    Case("digitize", [N(2, 3), C([-1.0, 0.0, 1.0])], grad=()),
    Case("isin", [Ints(2, 3, high=6), C(np.array([1, 3]))], grad=()),
    Case("isin", [Ints(4, high=6), Ints(3, high=6)], {"invert": True}, grad=(), id="isin-invert"),
    Case("bincount", [C(np.array([1, 2, 2, 5]))], {"minlength": 7}, grad=()),
    Case("bincount", [C(np.array([1, 2, 2])), P(3)], grad=(), id="bincount-weights"),
    Case("histogram", [N(12)], {"bins": 4}, grad=()),
    Case("histogram", [N(12)], {"bins": 3, "range": (-1.0, 1.0)}, grad=(), id="histogram-range"),
    Case("unravel_index", [C(np.array([1, 5, 11])), C((3, 4))], grad=()),
    Case(
        "argpartition",
        [Ints(7, high=50)],
        grad=(),
        call=lambda m, x: [
            m.take(x, m.argpartition(x, 2))[2:3],
            m.sort(m.take(x, m.argpartition(x, 2))[:2]),
            m.sort(m.take(x, m.argpartition(x, 2))[3:]),
        ],
    ),
    Case("unique", [C(np.array([3, 1, 2, 3, 1, 5, 2], np.int32))], grad=()),
    Case(
        "unique",
        [C(np.array([3, 1, 2, 3, 1, 5, 2], np.int32))],
        {"return_index": True, "return_inverse": True, "return_counts": True},
        grad=(),
        id="unique-all",
    ),
    Case(
        "unique",
        [C(np.array([3, 1, 2, 3, 1, 5, 2], np.int32))],
        {
            "sorted": False,
            "return_inverse": True,
            "return_counts": True,
            "size": 6,
            "fill_value": -1,
        },
        grad=(),
        id="unique-unsorted-size",
    ),
    Case(
        "unique",
        [C(np.array([[1, 2], [1, 2], [0, 3]]))],
        {"axis": 0, "return_counts": True},
        grad=(),
        id="unique-axis",
    ),
    Case("view", [N(2, 3), C("int32")], grad=()),
    Case(
        "view",
        [C(np.arange(8, dtype=np.int16).reshape(2, 4)), C("int32")],
        grad=(),
        id="view-wider",
    ),
    # numpy: statistics
    Case("ptp", [N(3, 4)], {"axis": 1}),
    Case("percentile", [N(3, 5), C(30.0)], {"axis": 1}),
    Case("percentile", [N(3, 5), C(np.array([10.0, 90.0]))], id="percentile-flat"),
    *[
        Case(
            "quantile",
            [N(3, 5), C(np.array([0.2, 0.6]))],
            {"axis": 1, "method": m},
            id=f"quantile-{m}",
        )
        for m in ["lower", "higher", "nearest", "midpoint"]
    ],
    Case("quantile", [N(3, 4), C(0.3)], {"keepdims": True}, id="quantile-keepdims"),
    Case("trapezoid", [N(3, 4)]),
    Case("trapezoid", [N(3, 4), C(np.array([0.0, 0.5, 1.5, 3.0], np.float32))], id="trapezoid-x"),
    Case("trapezoid", [N(3, 4)], {"dx": 0.5, "axis": 0}, id="trapezoid-dx"),
    Case("corrcoef", [N(3, 5)]),
    *[
        Case("correlate", [N(6), N(3)], {"mode": m}, grad=(0, 1), id=f"correlate-{m}")
        for m in ["valid", "same", "full"]
    ],
    Case("correlate", [Ints(5), Ints(2)], {"mode": "full"}, grad=(), id="correlate-int"),
    *[
        Case(n, [Nan(3, 4)], {"axis": 1})
        for n in [
            "nansum",
            "nanmean",
            "nanvar",
            "nanstd",
            "nanmax",
            "nanmin",
            "nanprod",
            "nanmedian",
        ]
    ],
    *[Case(n, [Nan(2, 3)], {"axis": 1}) for n in ["nancumsum", "nancumprod"]],
    Case("nansum", [Nan(3, 4)], id="nansum-all"),
    Case(
        "nanmax",
        [C(np.array([[np.nan, np.nan], [1.0, np.nan]], np.float32))],
        {"axis": 1},
        grad=(),
        id="nanmax-allnan",
    ),
    Case("nanquantile", [Nan(3, 5), C(0.3)], {"axis": 1}),
    Case("nanpercentile", [Nan(3, 5), C(70.0)], {"axis": 1}),
    *[Case(n, [Nan(3, 4)], {"axis": 1}, grad=()) for n in ["nanargmax", "nanargmin"]],
    # math
    Case("erfc", [N(2, 3)]),
    Case("erfinv", [U(2, 3)]),
    Case("cdist", [N(3, 2), N(4, 2)], grad=(0, 1)),
    *[
        Case(n, [N(6, 2), C(_SEGMENTS)], grad=(0,))
        for n in ["segment_sum", "segment_max", "segment_min", "segment_prod"]
    ],
    *[
        Case(n, [N(6, 2), C(_SEGMENTS)], {"num_segments": 5}, grad=(0,), id=f"{n}-num")
        for n in ["segment_max", "segment_min", "segment_prod"]
    ],
    *[
        Case(n, [N(6, 2), C(_SORTED_SEGMENTS)], {"sorted": True}, grad=(0,), id=f"{n}-sorted")
        for n in ["segment_sum", "segment_max", "segment_min", "segment_prod"]
    ],
    Case("extract_sequences", [N(2, 10), C(4), C(3)]),
    Case("fft", [N(2, 6), N(2, 6)], grad=(0, 1), call=lambda m, a, b: m.fft((a, b))),
    Case("fft2", [N(2, 3, 4), N(2, 3, 4)], grad=(0, 1), call=lambda m, a, b: m.fft2((a, b))),
    Case("ifft2", [N(3, 4), N(3, 4)], grad=(0, 1), call=lambda m, a, b: m.ifft2((a, b))),
    Case("rfft", [N(2, 8)]),
    # TensorFlow's RFFT gradient fails when fft_length cuts the input (shape mismatch), and its
    # IRFFT gradient when the input has more than fft_length // 2 + 1 frequencies: values only
    # here, finite differences check ours (test_ops_extended)
    Case("rfft", [N(2, 8)], {"fft_length": 6}, grad=(), id="rfft-short"),
    Case("rfft", [N(2, 7)], {"fft_length": 11}, id="rfft-long"),
    Case("irfft", [N(2, 5), N(2, 5)], grad=(0, 1), call=lambda m, a, b: m.irfft((a, b))),
    Case(
        "irfft",
        [N(2, 4), N(2, 4)],
        grad=(0, 1),
        call=lambda m, a, b: m.irfft((a, b), 7),
        id="irfft-odd",
    ),
    Case(
        "irfft",
        [N(2, 5), N(2, 5)],
        grad=(),
        call=lambda m, a, b: m.irfft((a, b), 6),
        id="irfft-short",
    ),
    Case("stft", [N(2, 20), C(6), C(3), C(8)]),
    Case(
        "stft", [N(20), C(8), C(4), C(8)], {"window": "hamming", "center": False}, id="stft-hamming"
    ),
    Case(
        "istft",
        [N(2, 5, 5), N(2, 5, 5)],
        grad=(0, 1),
        call=lambda m, a, b: m.istft((a, b), 6, 3, 8),
    ),
    Case(
        "istft",
        [N(4, 5), N(4, 5)],
        grad=(0, 1),
        call=lambda m, a, b: m.istft((a, b), 8, 4, 8, length=10, window=None, center=False),
        id="istft-plain",
    ),
    Case("view_as_real", [C(np.array([1 + 2j, 3 - 1j], np.complex64))], grad=()),
    Case("view_as_complex", [N(3, 2)], grad=()),
    Case("logdet", [Spd(3)], call=lambda m, a: m.logdet(_spd(m, a))),
    # linalg
    Case("solve_triangular", [Tri(3), N(3, 2)], {"lower": True}, grad=(0, 1)),
    Case("solve_triangular", [Tri(3, lower=False), N(3)], grad=(0, 1), id="solve_triangular-up"),
    Case("solve", [Spd(3), N(3, 2)], grad=(0, 1), id="solve-matrix"),
    Case("cholesky", [Spd(3)], call=lambda m, a: m.cholesky(_spd(m, a))),
    Case(
        "cholesky",
        [Spd(3)],
        call=lambda m, a: m.cholesky(_spd(m, a), upper=True),
        id="cholesky-upper",
    ),
    Case("cholesky_inverse", [Tri(3)]),
    Case("cholesky_inverse", [Tri(3, lower=False)], {"upper": True}, id="cholesky_inverse-up"),
    Case(
        "eigh", [Spd(3)], call=lambda m, a: [m.eigh(_spd(m, a))[0], m.square(m.eigh(_spd(m, a))[1])]
    ),
    Case("svd", [N(4, 3)], call=lambda m, a: m.svd(a, compute_uv=False), id="svd-values"),
    Case(
        "svd",
        [N(4, 3)],
        call=lambda m, a: [m.abs(t) for t in m.svd(a, full_matrices=False)],
        id="svd-reduced",
    ),
    Case(
        "svd",
        [N(3, 4)],
        call=lambda m, a: [m.abs(t) for t in m.svd(a, full_matrices=True)],
        id="svd-full-wide",
    ),
    Case("qr", [N(4, 3)]),
    Case("qr", [N(3, 4)], id="qr-wide"),
    Case("qr", [N(3, 4)], {"mode": "complete"}, id="qr-complete"),
    Case("eig", [N(3, 3)], grad=(), call=lambda m, a: np.sort_complex(np.asarray(m.eig(a)[0]))),
    # TensorFlow registers no gradient for Lu; finite differences check ours
    Case("lu_factor", [N(3, 3)], grad=()),
    Case("matrix_rank", [N(3, 4)], grad=()),
    Case(
        "matrix_rank",
        [C(np.array([[1.0, 2.0], [2.0, 4.0]], np.float32))],
        grad=(),
        id="matrix_rank-deficient",
    ),
    Case("pinv", [N(4, 3)]),
    Case("lstsq", [N(4, 3), N(4, 2)], grad=(0, 1)),
    Case("lstsq", [N(4, 2), N(4)], grad=(0, 1), id="lstsq-vector"),
    Case("slogdet", [N(3, 3)]),
    Case("norm", [N(3, 4)], {"ord": 2}, id="norm-2"),
    Case("norm", [N(3, 4)], {"ord": -2}, id="norm-minus2"),
    Case("norm", [N(2, 3, 4)], {"ord": "nuc", "axis": (1, 2), "keepdims": True}, id="norm-nuc"),
    Case(
        "jvp",
        [N(3), N(3)],
        grad=(),
        call=lambda m, x, t: m.jvp(
            lambda v: (m.sin(v) * v, m.sum(v * v)), (_native(m, x),), (_native(m, t),)
        ),
    ),
    # nn
    *[Case(n, [G(2, 3)]) for n in ["hard_tanh", "hard_shrink", "soft_shrink", "sparse_plus"]],
    Case("soft_shrink", [G(2, 3)], {"threshold": 0.3}, id="soft_shrink-t"),
    Case("threshold", [N(2, 3), C(0.3), C(-1.0)]),
    Case("sparsemax", [N(3, 4)]),
    Case("sparsemax", [N(3, 4)], {"axis": 0}, id="sparsemax-axis0"),
    Case("polar", [P(3), N(3)], grad=()),
    Case("layer_normalization", [N(2, 3, 4), N(4), N(4)], grad=(0, 1, 2)),
    Case(
        "layer_normalization",
        [N(2, 3, 4), N(3, 4), N(3, 4)],
        {"axis": (1, 2)},
        grad=(0, 1, 2),
        id="layer_normalization-axes",
    ),
    Case("layer_normalization", [N(2, 3)], {"epsilon": 1e-5}, id="layer_normalization-plain"),
    Case("psnr", [U(2, 4, 4, 1), U(2, 4, 4, 1), C(1.0)], grad=(0, 1)),
    Case("dot_product_attention", [N(2, 3, 2, 4), N(2, 5, 2, 4), N(2, 5, 2, 4)], grad=(0, 1, 2)),
    Case(
        "dot_product_attention",
        [N(1, 3, 2, 4), N(1, 3, 2, 4), N(1, 3, 2, 4), N(1, 2, 3, 3)],
        {"is_causal": True, "scale": 0.3},
        grad=(0, 1, 2, 3),
        id="attention-causal-bias",
    ),
    Case(
        "dot_product_attention",
        [N(1, 3, 4, 2), N(1, 4, 2, 2), N(1, 4, 2, 2)],
        grad=(0, 1, 2),
        call=lambda m, q, k, v: m.dot_product_attention(
            q, k, v, mask=np.array([[[[True, False, True, True]]]])
        ),
        id="attention-gqa-mask",
    ),
    Case("depth_to_space", [N(2, 2, 3, 8), C(2)]),
    Case("space_to_depth", [N(2, 4, 6, 3), C(2)]),
    Case(
        "depth_to_space",
        [N(1, 8, 2, 3), C(2)],
        {"data_format": "channels_first"},
        id="depth_to_space-cf",
    ),
    Case("unfold", [N(2, 3, 5, 6), C(2)]),
    Case(
        "unfold",
        [N(1, 2, 5, 6), C((2, 3))],
        {"dilation": (1, 2), "padding": 1, "stride": 2},
        id="unfold-args",
    ),
    Case("fold", [N(2, 12, 20), C((5, 6)), C(2)]),
    Case("fold", [N(1, 12, 9), C((5, 6)), C((2, 3))], {"padding": 1, "stride": 2}, id="fold-args"),
    *[
        Case(n, [N(2, 7, 6, 3)], call=lambda m, x, n=n: getattr(m, n)(_native(m, x), 3))
        for n in ["adaptive_average_pool", "adaptive_max_pool"]
    ],
    *[
        Case(
            n,
            [N(1, 2, 5, 4, 7)],
            id=f"{n}-3d-cf",
            call=lambda m, x, n=n: getattr(m, n)(_native(m, x), (2, 3, 4), "channels_first"),
        )
        for n in ["adaptive_average_pool", "adaptive_max_pool"]
    ],
    Case(
        "adaptive_max_pool",
        [N(2, 9, 3)],
        id="adaptive_max_pool-1d",
        call=lambda m, x: m.adaptive_max_pool(_native(m, x), 4),
    ),
    Case("conv", [N(1, 4, 5, 4, 2), N(2, 3, 2, 2, 3)], grad=(0, 1), id="conv-3d"),
    Case(
        "conv",
        [N(1, 5, 4, 6, 2), N(3, 2, 3, 2, 2)],
        {"strides": 2, "padding": "same"},
        grad=(0, 1),
        id="conv-3d-same",
    ),
    Case(
        "conv", [N(1, 6, 5, 4), N(3, 3, 2, 4)], {"padding": "same"}, grad=(0, 1), id="conv-grouped"
    ),
    Case(
        "conv",
        [N(1, 6, 5, 2)],
        {"dilation_rate": 2},
        id="conv-dilated",
        call=lambda m, x: m.conv(
            x, np.linspace(-1, 1, 36, dtype=np.float32).reshape(3, 3, 2, 2), dilation_rate=2
        ),
    ),
    Case("separable_conv", [N(1, 5, 5, 2), N(3, 3, 2, 2), N(1, 1, 4, 3)], grad=(0, 1, 2)),
    Case(
        "separable_conv",
        [N(2, 7, 2), N(3, 2, 2), N(1, 4, 3)],
        {"padding": "same", "strides": 2},
        grad=(0, 1, 2),
        id="separable_conv-1d",
    ),
    Case("conv_transpose", [N(1, 3, 4, 2), N(3, 3, 3, 2)], grad=(0, 1)),
    Case(
        "conv_transpose",
        [N(1, 3, 4, 2), N(3, 3, 3, 2)],
        {"strides": 2, "padding": "same"},
        grad=(0, 1),
        id="conv_transpose-same",
    ),
    Case(
        "conv_transpose",
        [N(1, 3, 3, 2), N(3, 3, 3, 2)],
        {"strides": 2, "output_padding": 1},
        grad=(0, 1),
        id="conv_transpose-outpad",
    ),
    Case(
        "conv_transpose",
        [N(2, 5, 2), N(3, 3, 2)],
        {"strides": 2},
        grad=(0, 1),
        id="conv_transpose-1d",
    ),
    Case(
        "conv_transpose",
        [N(1, 2, 3, 2, 2), N(2, 2, 2, 3, 2)],
        {"strides": 2},
        grad=(0, 1),
        id="conv_transpose-3d",
    ),
    Case("max_pool", [N(1, 4, 5, 4, 2)], {"pool_size": 2}, id="max_pool-3d"),
    Case(
        "max_pool",
        [N(1, 4, 5, 4, 2)],
        {"pool_size": (2, 3, 2), "strides": (1, 2, 1), "padding": "same"},
        id="max_pool-3d-same",
    ),
    Case(
        "average_pool",
        [N(1, 4, 5, 4, 2)],
        {"pool_size": (3, 2, 2), "strides": 2, "padding": "same"},
        id="average_pool-3d",
    ),
    Case("max_pool", [N(2, 7, 3)], {"pool_size": 2}, id="max_pool-1d"),
    Case(
        "average_pool",
        [N(2, 7, 3)],
        {"pool_size": 3, "strides": 2, "padding": "same"},
        id="average_pool-1d",
    ),
    Case(
        "ctc_loss",
        [C(np.array([[1, 2, 0], [3, 3, 1]])), N(2, 6, 4), C(np.array([2, 3])), C(np.array([6, 5]))],
        grad=(1,),
    ),
    Case(
        "ctc_decode",
        [N(2, 6, 4), C(np.array([6, 5]))],
        grad=(),
    ),
    Case(
        "ctc_decode",
        [N(2, 6, 4), C(np.array([6, 4]))],
        {"merge_repeated": False, "mask_index": 2},
        grad=(),
        id="ctc_decode-blank2",
    ),
    Case(
        "ctc_decode",
        [N(2, 5, 3), C(np.array([5, 4]))],
        {"strategy": "beam_search", "beam_width": 30, "top_paths": 2},
        grad=(),
        id="ctc_decode-beam",
    ),
    # core and einops
    Case(
        "associative_scan", [N(5, 2)], call=lambda m, x: m.associative_scan(lambda a, b: a + b, x)
    ),
    Case(
        "associative_scan",
        [P(2, 6)],
        call=lambda m, x: m.associative_scan(lambda a, b: a * b, x, reverse=True, axis=1),
        id="associative_scan-prod",
    ),
    Case("rearrange", [N(2, 6, 3)], call=lambda m, x: m.rearrange(x, "b (h w) c -> c b h w", h=2)),
    # image
    Case("rgb_to_grayscale", [Img(2, 4, 5, 3)], call=_image("rgb_to_grayscale")),
    Case("rgb_to_hsv", [Img(2, 4, 5, 3)], call=_image("rgb_to_hsv")),
    # TensorFlow has no gradient for HSVToRGB: finite differences check ours (test_ops_extended)
    Case("hsv_to_rgb", [Img(4, 5, 3)], grad=(), call=_image("hsv_to_rgb")),
    *[
        Case(
            "resize",
            [Img(2, 5, 6, 2)],
            call=_image("resize", size=size, interpolation=method),
            id=f"resize-{method}-{size[0]}x{size[1]}",
        )
        for method in ["bilinear", "nearest", "bicubic"]
        for size in [(3, 4), (8, 9)]
    ],
    Case(
        "resize",
        [Img(2, 5, 6, 2)],
        call=_image("resize", size=(3, 8), antialias=True),
        id="resize-antialias",
    ),
    Case(
        "resize",
        [Img(1, 5, 6, 2)],
        call=_image("resize", size=(4, 4), interpolation="lanczos3"),
        id="resize-lanczos3",
    ),
    Case(
        "resize",
        [Img(1, 6, 6, 2)],
        grad=(),
        call=_image("resize", size=(4, 3), interpolation="area"),
        id="resize-area",
    ),
    Case(
        "resize",
        [Img(1, 5, 7, 2)],
        call=_image("resize", size=(4, 4), crop_to_aspect_ratio=True),
        id="resize-crop",
    ),
    Case(
        "resize",
        [Img(1, 5, 7, 2)],
        call=_image("resize", size=(4, 4), pad_to_aspect_ratio=True),
        id="resize-pad",
    ),
    Case(
        "resize",
        [Ints(1, 4, 5, 2, high=200, dtype="uint8")],
        grad=(),
        call=_image("resize", size=(3, 7)),
        id="resize-uint8",
    ),
    *[
        Case(
            "affine_transform",
            [Img(2, 5, 6, 2), C(_TRANSFORMS)],
            grad=(),
            call=_image("affine_transform", interpolation=i, fill_mode=f, fill_value=0.25),
            id=f"affine_transform-{i}-{f}",
        )
        for i in ["nearest", "bilinear"]
        for f in ["constant", "nearest", "wrap", "reflect"]
    ],
    Case(
        "perspective_transform",
        [
            Img(5, 6, 2),
            C(np.array([[0, 0], [5, 0], [0, 4], [5, 4]], np.float32)),
            C(np.array([[0.5, 0.2], [4.6, 0.1], [0.3, 3.8], [5.2, 4.1]], np.float32)),
        ],
        grad=(),
        call=_image("perspective_transform"),
    ),
    *[
        Case(
            "map_coordinates",
            [N(4, 5), C(_COORDS)],
            call=_image("map_coordinates", order=1, fill_mode=f, fill_value=0.5),
            id=f"map_coordinates-{f}",
        )
        for f in ["constant", "nearest"]
    ],
    # Keras's TensorFlow backend folds coordinates wrongly outside the image for "mirror" (it
    # indexes out of range) and for negative ones with "reflect" (-1 -> 1, scipy's -1 -> 0):
    # in-range and positive coordinates only there; tests/unit/test_ops_extended.py checks
    # ours against scipy's definitions
    Case(
        "map_coordinates",
        [N(4, 5), C(np.abs(_COORDS))],
        call=_image("map_coordinates", order=1, fill_mode="reflect"),
        id="map_coordinates-reflect",
    ),
    Case(
        "map_coordinates",
        [N(4, 5), C(np.clip(_COORDS, 0, 2.9))],
        call=_image("map_coordinates", order=1, fill_mode="mirror"),
        id="map_coordinates-mirror",
    ),
    Case(
        "map_coordinates",
        [N(4, 5), C(_COORDS)],
        grad=(),
        call=_image("map_coordinates", order=0, fill_mode="wrap"),
        id="map_coordinates-nearest",
    ),
    Case(
        "gaussian_blur",
        [Img(1, 5, 6, 2)],
        call=_image("gaussian_blur", kernel_size=(3, 5), sigma=(0.8, 1.3)),
    ),
    Case("sobel_edges", [Img(2, 4, 5, 2)], call=_image("sobel_edges")),
    Case(
        "ssim", [Img(1, 6, 7, 2), Img(1, 6, 7, 2)], grad=(0, 1), call=_image("ssim", filter_size=3)
    ),
    Case("extract_patches", [Img(1, 5, 6, 2)], call=_image("extract_patches", size=2)),
    Case(
        "extract_patches",
        [Img(5, 6, 2)],
        id="extract_patches-same",
        call=_image("extract_patches", size=(2, 3), strides=(1, 2), padding="same"),
    ),
    Case("extract_patches_3d", [Img(1, 4, 4, 4, 1)], call=_image("extract_patches_3d", size=2)),
    Case(
        "pad_images",
        [Img(2, 3, 4, 2)],
        call=_image("pad_images", top_padding=1, left_padding=2, target_height=6, target_width=7),
    ),
    Case(
        "crop_images",
        [Img(2, 5, 6, 2)],
        call=_image(
            "crop_images", top_cropping=1, left_cropping=2, bottom_cropping=1, right_cropping=1
        ),
    ),
    Case(
        "scale_and_translate",
        [Img(1, 5, 6, 2)],
        call=_image(
            "scale_and_translate",
            output_shape=(1, 8, 4, 2),
            scale=np.array([1.6, 0.7]),
            translation=np.array([0.5, -0.3]),
            spatial_dims=(1, 2),
            method="linear",
        ),
    ),
    Case(
        "elastic_transform",
        [Img(1, 4, 5, 2)],
        grad=(),
        call=_image("elastic_transform", alpha=0.0, sigma=1.0, seed=1),
    ),
]

CASES = [*CASES, *EXTENDED_CASES]


# Ops that predate the extended table, checked here too (control flow runs eagerly in both).
EXISTING_UNTESTED = [
    *[Case(n, [N(2, 4)]) for n in ["glu", "hard_swish", "swish", "squareplus", "celu", "exp2"]],
    *[Case(n, [P(2, 3)]) for n in ["cbrt", "rsqrt", "fabs"]],
    Case("copy", [N(2, 3)]),
    Case("trunc", [N(2, 3)], grad=()),
    Case("hypot", [N(2, 3), N(3)], grad=(0, 1)),
    Case("inner", [N(2, 3), N(4, 3)], grad=(0, 1)),
    Case("vdot", [N(2, 3), N(2, 3)], grad=(0, 1)),
    Case("det", [Spd(3)]),
    Case("inv", [Spd(3)]),
    Case("top_k", [N(3, 5), C(2)], call=lambda m, x, k: m.top_k(x, k)[0]),
    Case("top_k", [N(3, 5), C(2)], grad=(), id="top_k-indices"),
    Case("in_top_k", [C(np.array([0, 3, 1])), N(3, 5), C(2)], grad=()),
    Case("diff", [N(3, 5)], {"n": 2, "axis": 1}),
    Case("split", [N(2, 6), C(3)], {"axis": 1}),
    Case("array_split", [N(7, 2), C(3)]),
    Case("unstack", [N(2, 3)], {"axis": 1}),
    Case("isclose", [N(2, 3), N(2, 3)], grad=()),
    Case("nonzero", [Ints(2, 3, high=2)], grad=()),
    Case("meshgrid", [N(3), N(2)], grad=(0, 1), call=lambda m, a, b: m.meshgrid(a, b)),
    Case(
        "meshgrid",
        [N(3), N(2)],
        grad=(0, 1),
        id="meshgrid-ij",
        call=lambda m, a, b: m.meshgrid(a, b, indexing="ij"),
    ),
    Case("real", [N(2, 3)], grad=()),
    Case("normalize", [N(3, 4)]),
    Case("rms_normalization", [N(3, 4)]),
    Case("saturate_cast", [C(np.array([-3.0, 7.5, 300.0], np.float32)), C("uint8")], grad=()),
    Case(
        "cond",
        [N(3)],
        call=lambda m, x: m.cond(m.sum(x) > 0, lambda: m.sin(x) * x, lambda: m.cos(x)),
    ),
    Case(
        "while_loop",
        [N(3)],
        call=lambda m, x: m.while_loop(
            lambda i, v: i < 3, lambda i, v: (i + 1, m.multiply(v, x)), (0, x)
        )[1],
    ),
    Case("fori_loop", [N(3)], call=lambda m, x: m.fori_loop(0, 3, lambda i, v: v * x + 1.0, x)),
    Case(
        "scan",
        [N(4, 2)],
        call=lambda m, x: m.scan(lambda c, v: (c * v + 1.0, m.sin(c)), m.ones(2), x),
    ),
    Case("map", [N(4, 2)], call=lambda m, x: m.map(lambda v: m.sum(v * v), x)),
    Case(
        "switch",
        [N(3)],
        call=lambda m, x: m.switch(1, [lambda v: m.sin(v), lambda v: m.cos(v) * v], x),
    ),
    Case(
        "vectorized_map", [N(4, 2)], call=lambda m, x: m.vectorized_map(lambda v: m.sum(v * v), x)
    ),
    # vectorize: Keras's TensorFlow backend rejects every mapped call ("Not supported with
    # `vectorize()`"); tests/unit/test_ops_extended.py compares ours with np.vectorize
]

CASES = [*CASES, *EXISTING_UNTESTED]


LIST_OPS = {"concatenate", "stack", "vstack", "hstack"}


def _case_id(case):
    return case.id or case.name


def _call(module, case, args):
    if case.call is not None:
        return case.call(module, *args)
    fn = getattr(module, case.name)
    if case.name in LIST_OPS:
        return fn(list(args), **case.kwargs)
    if case.name == "average":
        return fn(args[0], weights=args[2], **case.kwargs)  # args[1]: the axis slot, unused
    if case.name == "batch_normalization":
        x, mean, var, axis, offset, scale = args
        return fn(x, mean, var, axis, offset=offset, scale=scale)
    return fn(*args, **case.kwargs)


def _leaves(y):
    if isinstance(y, (list, tuple)):
        return [leaf for item in y for leaf in _leaves(item)]
    return [y]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_op_matches_keras(case, tf, keras):
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    args = [make(rng) for make in case.args]
    ours = _leaves(_call(ops, case, args))
    theirs = _leaves(_call(keras.ops, case, args))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = np.asarray(b)
        assert isinstance(a, np.ndarray), f"{case.name} returned {type(a)}, not an ndarray"
        assert a.dtype == b.dtype, f"{_case_id(case)}: dtype {a.dtype} != Keras's {b.dtype}"
        assert_forward_close(a, b, f"{_case_id(case)} value")
    if not case.grad:
        return

    dys = [rng.standard_normal(np.shape(y)).astype(np.asarray(y).dtype) for y in ours]
    ours_grads = _our_gradients(case, args, dys)
    tf_grads = _tf_gradients(tf, keras, case, args, dys)
    for i, a, b in zip(case.grad, ours_grads, tf_grads):
        what = f"{_case_id(case)} d/darg{i}"
        assert (a is None) == (b is None), f"{what}: ours {a is None and 'None'}, TF's {b}"
        if b is not None:
            assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
            assert_close(a, b, GRAD_ATOL, GRAD_RTOL, what)


def _our_gradients(case, args, dys):
    sources = [np.array(args[i]) for i in case.grad]
    inputs = list(args)
    with numpykeras.GradientTape() as tape:
        for i, s in zip(case.grad, sources):
            tape.watch(s)
            inputs[i] = s
        ys = _leaves(_call(ops, case, inputs))
        total = sum(ops.sum(ops.multiply(y, dy)) for y, dy in zip(ys, dys))
    return tape.gradient(total, sources)


def _tf_gradients(tf, keras, case, args, dys):
    sources = [tf.constant(args[i]) for i in case.grad]
    inputs = list(args)
    with tf.GradientTape() as tape:
        for i, s in zip(case.grad, sources):
            tape.watch(s)
            inputs[i] = s
        ys = _leaves(_call(keras.ops, case, inputs))
        total = tf.add_n([tf.reduce_sum(y * dy) for y, dy in zip(ys, dys)])
    grads = tape.gradient(total, sources)
    return [None if g is None else np.asarray(tf.convert_to_tensor(g)) for g in grads]


# The fraction of keras.ops reached; raise it as ops are added (it may only go up).
MIN_COVERAGE = 1.0  # 341 of 341 names (Keras 3.15)


def test_keras_ops_coverage(keras):
    names = sorted(n for n in dir(keras.ops) if not n.startswith("_"))
    missing = [n for n in names if not hasattr(ops, n)]
    coverage = 1 - len(missing) / len(names)
    print(f"\nkeras.ops coverage: {len(names) - len(missing)}/{len(names)} = {coverage:.1%}")
    print("missing:", " ".join(missing))
    assert coverage >= MIN_COVERAGE, f"coverage {coverage:.1%}; missing: {missing}"


@pytest.mark.parametrize("group", ["image", "linalg", "nn", "numpy"])
def test_keras_ops_groups_are_complete(keras, group):
    names = [n for n in dir(getattr(keras.ops, group)) if not n.startswith("_")]
    missing = [n for n in names if not hasattr(getattr(ops, group), n)]
    assert not missing, f"numpykeras.ops.{group} lacks {missing}"


def test_signatures_match_keras(keras):
    """Every op shared with Keras takes the same parameters, in the same order and kinds, with
    the same defaults."""
    import inspect

    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    pairs = [
        (n, getattr(keras.ops, n), getattr(ops, n))
        for n in dir(keras.ops)
        if not n.startswith("_") and n not in ("image", "linalg", "nn", "numpy") and hasattr(ops, n)
    ]
    pairs += [
        (f"image.{n}", getattr(keras.ops.image, n), getattr(ops.image, n))
        for n in dir(keras.ops.image)
        if not n.startswith("_")
    ]
    different = [n for n, theirs, ours in pairs if params(theirs) != params(ours)]
    assert not different, f"signatures differ from Keras's: {different}"
