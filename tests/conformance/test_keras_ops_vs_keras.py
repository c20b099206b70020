"""numpykeras.ops vs keras.ops (TensorFlow backend): values, dtypes, shapes and gradients.

One table of cases; each feeds the same random inputs to ``numpykeras.ops.<name>`` and
``keras.ops.<name>``. For differentiable cases the gradients of ``sum(y * dy)`` (a random upstream
``dy``) with respect to the marked inputs are compared with ``tf.GradientTape``'s, including
which inputs get no gradient (``None``).
"""

from __future__ import annotations

import zlib
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

LIST_OPS = {"concatenate", "stack", "vstack", "hstack"}


def _case_id(case):
    return case.id or case.name


def _call(module, case, args):
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
    return list(y) if isinstance(y, (list, tuple)) else [y]


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
MIN_COVERAGE = 0.62  # 213 of 341 names


def test_keras_ops_coverage(keras):
    names = sorted(n for n in dir(keras.ops) if not n.startswith("_"))
    missing = [n for n in names if not hasattr(ops, n)]
    coverage = 1 - len(missing) / len(names)
    print(f"\nkeras.ops coverage: {len(names) - len(missing)}/{len(names)} = {coverage:.1%}")
    print("missing:", " ".join(missing))
    assert coverage >= MIN_COVERAGE, f"coverage {coverage:.1%}; missing: {missing}"
