"""Activations: values from their definitions, float64 finite-difference gradients, stability,
dtypes, and name resolution. No TensorFlow here."""

import functools
import math
import warnings

import numpy as np
import pytest

from numpykeras import activations
from numpykeras.saving.object_registration import custom_object_scope, register_keras_serializable

import tolerances as tol

# (name, keyword arguments): every activation, plus its non-default parameters.
ELEMENTWISE = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 4.0}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"threshold": -0.5}),
    ("relu", {"negative_slope": 0.3, "max_value": 3.0}),
    ("relu", {"negative_slope": 0.2, "threshold": 1.0}),
    ("relu", {"negative_slope": 0.2, "max_value": 2.5, "threshold": -1.0}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.3}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("linear", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("softplus", {}),
    ("softsign", {}),
    ("silu", {}),
    ("swish", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("exponential", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_swish", {}),
    ("mish", {}),
]
AXIS_WISE = [
    ("softmax", {}),
    ("softmax", {"axis": 0}),
    ("softmax", {"axis": 1}),
    ("softmax", {"axis": (1, 2)}),
    ("softmax", {"axis": None}),
    ("log_softmax", {}),
    ("log_softmax", {"axis": 1}),
]
# Points where a piecewise activation has a kink; finite differences must not straddle them.
KINKS = [0.0, 0.5, -0.5, 1.0, -1.0, 2.5, 3.0, -3.0, 4.0, 6.0]


def _ids(cases):
    return [name + "".join(f"-{k}={v}" for k, v in params.items()) for name, params in cases]


def _inputs(rng, shape, low=-7.0, high=7.0):
    x = rng.uniform(low, high, shape)
    for k in KINKS:  # keep every value at least 1e-3 away from a kink
        near = np.abs(x - k) < 1e-3
        x[near] = k + 2e-3
    return x


# --------------------------------------------------------------------------- values


def _reference(name, v, **p):
    """One element of each activation straight from its mathematical definition."""
    sig = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    if name == "relu":
        slope, cap, t = p.get("negative_slope", 0.0), p.get("max_value"), p.get("threshold", 0.0)
        if slope and cap is None and t == 0:
            return v if v > 0 else slope * v
        pos = v if v > t else 0.0
        if cap is not None:
            pos = min(max(pos, 0.0), cap)
        return pos - slope * max(t - v, 0.0)
    table = {
        "leaky_relu": lambda: v if v > 0 else p.get("negative_slope", 0.2) * v,
        "relu6": lambda: min(max(v, 0.0), 6.0),
        "sigmoid": lambda: sig,
        "tanh": lambda: math.tanh(v),
        "linear": lambda: v,
        "elu": lambda: v if v > 0 else p.get("alpha", 1.0) * (math.exp(v) - 1),
        "selu": lambda: 1.0507009873554805 * (v if v > 0 else 1.6732632423543772 * math.expm1(v)),
        "softplus": lambda: math.log1p(math.exp(-abs(v))) + max(v, 0.0),
        "softsign": lambda: v / (1 + abs(v)),
        "silu": lambda: v * sig,
        "swish": lambda: v * sig,
        "gelu": lambda: (
            0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
            if p.get("approximate")
            else 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
        ),
        "exponential": lambda: math.exp(v),
        "hard_sigmoid": lambda: min(max(v + 3, 0.0), 6.0) / 6,
        "hard_silu": lambda: v * min(max(v + 3, 0.0), 6.0) / 6,
        "hard_swish": lambda: v * min(max(v + 3, 0.0), 6.0) / 6,
        "mish": lambda: v * math.tanh(math.log1p(math.exp(v))),
    }
    return table[name]()


@pytest.mark.parametrize("name,params", ELEMENTWISE, ids=_ids(ELEMENTWISE))
def test_elementwise_values_match_definition(name, params):
    x = _inputs(np.random.default_rng(0), (5, 6))
    fn = getattr(activations, name)
    expected = np.array([_reference(name, v, **params) for v in x.ravel()]).reshape(x.shape)
    tol.assert_close(fn(x, **params), expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, name)


def _softmax_reference(x, axis):
    """Softmax by looping over every slice the axis selects."""
    axes = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % x.ndim for a in axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    out = np.empty_like(x)
    for idx in np.ndindex(*[x.shape[a] for a in kept]):
        sl = [slice(None)] * x.ndim
        for a, i in zip(kept, idx):
            sl[a] = i
        e = np.exp(x[tuple(sl)])
        out[tuple(sl)] = e / e.sum()
    return out


@pytest.mark.parametrize("name,params", AXIS_WISE, ids=_ids(AXIS_WISE))
def test_softmax_values_along_axes(name, params):
    x = np.random.default_rng(1).normal(size=(2, 3, 4)) * 3
    axis = params.get("axis", -1)
    expected = _softmax_reference(x, axis)
    if name == "log_softmax":
        expected = np.log(expected)
    got = getattr(activations, name)(x, **params)
    tol.assert_close(got, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, name)


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, 1e-12, -1e-300, 1.9999999, 2.0, 5.99, 6.0]])
    expected = np.array([math.erf(v) for v in x])
    tol.assert_close(activations.erf(x), expected, 1e-14, tol.REFERENCE_RTOL, "erf")


# --------------------------------------------------------------------------- gradients


def _check_gradient(name, params, x, dy, elementwise):
    fn = getattr(activations, name)
    y = fn(x, **params)
    analytic = activations.backward(fn, dy, x, y, **params)
    eps = tol.FINITE_DIFF_EPS
    if elementwise:  # d/dx_i sum(dy * f(x)) = dy_i * f'(x_i): one vectorised difference
        numeric = dy * (fn(x + eps, **params) - fn(x - eps, **params)) / (2 * eps)
    else:
        numeric = np.empty_like(x)
        for i in np.ndindex(*x.shape):
            xp, xm = x.copy(), x.copy()
            xp[i] += eps
            xm[i] -= eps
            numeric[i] = np.sum(dy * (fn(xp, **params) - fn(xm, **params))) / (2 * eps)
    tol.assert_close(
        analytic, numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, f"{name} {params}"
    )


@pytest.mark.parametrize("name,params", ELEMENTWISE, ids=_ids(ELEMENTWISE))
def test_elementwise_gradient_finite_differences(name, params):
    rng = np.random.default_rng(2)
    x = _inputs(rng, (6, 7))
    dy = rng.normal(size=x.shape)
    _check_gradient(name, params, x, dy, elementwise=True)


@pytest.mark.parametrize("name,params", AXIS_WISE, ids=_ids(AXIS_WISE))
def test_softmax_gradient_finite_differences(name, params):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4)) * 2
    dy = rng.normal(size=x.shape)
    _check_gradient(name, params, x, dy, elementwise=False)


def test_backward_from_output_only_and_recomputed_output():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 5))
    dy = rng.normal(size=x.shape)
    for fn in (activations.softmax, activations.sigmoid, activations.tanh, activations.exponential):
        y = fn(x)
        from_y = activations.backward(fn, dy, y=y)
        from_x = activations.backward(fn, dy, x=x)
        tol.assert_close(from_y, from_x, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, fn.__name__)


def test_backward_accepts_names_and_partials():
    rng = np.random.default_rng(5)
    x = _inputs(rng, (4, 4))
    dy = rng.normal(size=x.shape)
    capped = functools.partial(activations.relu, max_value=2.0, negative_slope=0.1)
    direct = activations.backward(activations.relu, dy, x, max_value=2.0, negative_slope=0.1)
    tol.assert_close(activations.backward(capped, dy, x), direct, 0.0, 0.0, "partial")
    by_name = activations.backward("softmax", dy, x, axis=0)
    by_fn = activations.backward(activations.softmax, dy, x, axis=0)
    tol.assert_close(by_name, by_fn, 0.0, 0.0, "name")


def test_backward_unknown_callable_raises():
    def my_activation(x):
        return x * 2

    with pytest.raises(ValueError, match="no known gradient"):
        activations.backward(my_activation, np.ones(3), np.ones(3))
    assert not activations.has_gradient(my_activation)
    assert activations.has_gradient("gelu")


def test_backward_missing_input_raises():
    with pytest.raises(ValueError, match="needs the activation's input `x`"):
        activations.backward(activations.relu, np.ones(3), y=np.ones(3))
    with pytest.raises(ValueError, match="needs the input `x` or the output `y`"):
        activations.backward(activations.softmax, np.ones(3))


# --------------------------------------------------------------------------- dtypes, stability

ALL_NAMES = sorted({n for n, _ in ELEMENTWISE + AXIS_WISE})


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_preserved(name, dtype):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 4)).astype(dtype)
    fn = getattr(activations, name)
    y = fn(x)
    assert y.dtype == dtype and y.shape == x.shape
    dx = activations.backward(fn, rng.normal(size=x.shape).astype(dtype), x, y)
    assert dx.dtype == dtype and dx.shape == x.shape


def test_integer_input_gives_floatx():
    assert activations.relu(np.array([-1, 2])).dtype == np.float32
    assert activations.sigmoid([0, 1]).dtype == np.float32


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n != "exponential"])  # exp overflows
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_inputs_are_stable(name, dtype):
    x = np.array([[-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4]], dtype=dtype)
    fn = getattr(activations, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings
        with np.errstate(all="raise", under="ignore"):
            y = fn(x)
            dx = activations.backward(fn, np.ones_like(x), x, y)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), (y, dx)


def test_large_input_limits():
    big = np.array([-1000.0, 1000.0], dtype=np.float32)
    np.testing.assert_array_equal(activations.sigmoid(big), [0.0, 1.0])
    np.testing.assert_array_equal(activations.softplus(big), [0.0, 1000.0])
    np.testing.assert_array_equal(activations.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    np.testing.assert_array_equal(activations.elu(big), [-1.0, 1000.0])
    np.testing.assert_array_equal(activations.gelu(big), [0.0, 1000.0])
    np.testing.assert_array_equal(activations.mish(big), [0.0, 1000.0])
    logp = activations.log_softmax(np.array([0.0, -1000.0]))
    np.testing.assert_array_equal(logp, [0.0, -1000.0])


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "name",
    [
        "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "elu", "selu", "softplus",
        "softsign", "silu", "gelu", "tanh", "sigmoid", "exponential", "hard_sigmoid",
        "hard_silu", "linear", "mish",
    ],
)  # fmt: skip
def test_names_round_trip(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.serialize(fn) == name
    assert activations.deserialize(name) is fn


def test_aliases_serialize_as_keras_3():
    assert activations.get("swish") is activations.silu
    assert activations.serialize(activations.swish) == "silu"
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.hard_swish) == "hard_silu"
    assert activations.get("softmax_v2") is activations.softmax


def test_get_none_callable_and_dicts():
    assert activations.get(None) is activations.linear

    def own(x):
        return x

    assert activations.get(own) is own
    keras3 = {
        "module": "builtins",
        "class_name": "function",
        "config": "relu",
        "registered_name": "function",
    }
    assert activations.get(keras3) is activations.relu
    assert activations.deserialize({"class_name": "tanh", "config": {}}) is activations.tanh


def test_unknown_identifiers_raise_keras_wording():
    with pytest.raises(
        ValueError, match="^Could not interpret activation function identifier: foo$"
    ):
        activations.get("foo")
    with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
        activations.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: 3"):
        activations.get(3)


def test_custom_objects_and_registry():
    def scaled(x):
        return 2 * x

    assert activations.deserialize("scaled", custom_objects={"scaled": scaled}) is scaled
    with custom_object_scope({"scaled": scaled}):
        assert activations.get("scaled") is scaled

    @register_keras_serializable(package="TestActs")
    def doubled_act(x):
        return 2 * x

    config = activations.serialize(doubled_act)
    assert config["class_name"] == "function"
    assert config["config"] == "TestActs>doubled_act"
    assert activations.deserialize(config) is doubled_act


def test_serialize_partial_with_arguments_raises():
    with pytest.raises(TypeError, match="cannot be serialized"):
        activations.serialize(functools.partial(activations.relu, max_value=6.0))


def test_is_softmax_and_is_sigmoid():
    assert activations.is_softmax(activations.softmax)
    assert activations.is_softmax("softmax")
    assert activations.is_softmax(functools.partial(activations.softmax, axis=1))
    assert not activations.is_softmax(activations.sigmoid)
    assert activations.is_sigmoid(activations.sigmoid)
    assert activations.is_sigmoid("sigmoid")
    assert not activations.is_sigmoid("relu")
    assert not activations.is_sigmoid("unknown_name")
    assert not activations.is_softmax(lambda x: x)
