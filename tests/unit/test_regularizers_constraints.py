"""Regularizers (penalties and float64 finite-difference gradients) and constraints (against
plain-loop references), with configs and name resolution. No TensorFlow here."""

import itertools
import math

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import backend, constraints, regularizers

import tolerances as tol

EPSILON = 1e-7  # Keras's backend.epsilon() default, used by the constraints and normalisation

# --------------------------------------------------------------------------- regularizers


def _penalty_reference(reg, w):
    """Each penalty written out as loops from its definition."""
    if isinstance(reg, regularizers.OrthogonalRegularizer):
        rows = w if reg.mode == "rows" else w.T
        unit = [r / max(math.sqrt(sum(v * v for v in r)), EPSILON) for r in rows]
        n = len(unit)
        total = sum(abs(float(np.dot(unit[i], unit[j]))) for i in range(n) for j in range(i + 1, n))
        # sum over i != j counts each pair twice; factor * 0.5 * that / (n(n-1)/2)
        return reg.factor * 0.5 * (2 * total) / (n * (n - 1) / 2)
    l1 = getattr(reg, "l1", 0.0)
    l2 = getattr(reg, "l2", 0.0)
    return sum(l1 * abs(v) + l2 * v * v for v in w.ravel())


REGULARIZERS = [
    regularizers.L1(0.03),
    regularizers.L2(0.05),
    regularizers.L1L2(l1=0.02, l2=0.07),
    regularizers.L1L2(l2=0.1),
    regularizers.OrthogonalRegularizer(factor=0.5, mode="rows"),
    regularizers.OrthogonalRegularizer(factor=0.2, mode="columns"),
]
REG_IDS = ["l1", "l2", "l1l2", "l1l2_only_l2", "orth_rows", "orth_columns"]


def _weights(rng, shape=(4, 5)):
    w = rng.normal(size=shape)
    w[np.abs(w) < 1e-3] = 0.01  # keep |x| differentiable for the finite differences
    return w


@pytest.mark.parametrize("reg", REGULARIZERS, ids=REG_IDS)
def test_penalty_matches_reference(reg):
    w = _weights(np.random.default_rng(0))
    value = reg(w)
    assert isinstance(value, float)
    expected = _penalty_reference(reg, w)
    tol.assert_close(value, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, repr(reg))


@pytest.mark.parametrize("reg", REGULARIZERS, ids=REG_IDS)
def test_gradient_finite_differences(reg):
    w = _weights(np.random.default_rng(1))
    analytic = reg.gradient(w)
    assert analytic.shape == w.shape and analytic.dtype == w.dtype
    eps = tol.FINITE_DIFF_EPS
    numeric = np.empty_like(w)
    for i in np.ndindex(*w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i] += eps
        wm[i] -= eps
        numeric[i] = (reg(wp) - reg(wm)) / (2 * eps)
    tol.assert_close(analytic, numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, repr(reg))


def test_float32_penalty_and_gradient_dtype():
    w = np.random.default_rng(2).normal(size=(3, 3)).astype(np.float32)
    for reg in REGULARIZERS:
        assert reg.gradient(w).dtype == np.float32
        assert isinstance(reg(w), float)
    var = backend.Variable(w, name="kernel")
    assert regularizers.L2(0.5)(var) == pytest.approx(regularizers.L2(0.5)(w))


def test_orthogonal_regularizer_of_orthogonal_rows_is_zero():
    q = np.linalg.qr(np.random.default_rng(3).normal(size=(6, 6)))[0]
    reg = regularizers.OrthogonalRegularizer(factor=1.0)
    assert reg(q) == pytest.approx(0.0, abs=1e-12)


def test_orthogonal_regularizer_errors():
    with pytest.raises(ValueError, match="must have rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Invalid value for argument `mode`"):
        regularizers.OrthogonalRegularizer(mode="diagonal")


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", True])
def test_invalid_factors_raise(bad):
    with pytest.raises(ValueError, match="Invalid value for argument l2: expected a non-negative"):
        regularizers.L2(bad)


def test_none_factors_use_defaults():
    assert regularizers.L1(None).l1 == pytest.approx(0.01)
    assert regularizers.L2(None).l2 == 0.01
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}


REG_CONFIGS = [
    (regularizers.L1(0.5), "L1", {"l1": 0.5}),
    (regularizers.L2(0.25), "L2", {"l2": 0.25}),
    (regularizers.L1L2(0.1, 0.2), "L1L2", {"l1": 0.1, "l2": 0.2}),
    (regularizers.OrthogonalRegularizer(0.5, "columns"), "OrthogonalRegularizer",
     {"factor": 0.5, "mode": "columns"}),
]  # fmt: skip


@pytest.mark.parametrize("reg,class_name,config", REG_CONFIGS, ids=lambda v: str(v))
def test_regularizer_configs_round_trip(reg, class_name, config):
    assert reg.get_config() == config
    serialized = regularizers.serialize(reg)
    assert serialized == {
        "module": "keras.regularizers",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }
    restored = regularizers.deserialize(serialized)
    assert type(restored) is type(reg) and restored.get_config() == config
    keras2 = {"class_name": class_name, "config": config}
    assert regularizers.get(keras2).get_config() == config


@pytest.mark.parametrize(
    "name,cls",
    [
        ("l1", regularizers.L1),
        ("l2", regularizers.L2),
        ("L2", regularizers.L2),
        ("l1l2", regularizers.L1L2),
        ("l1_l2", regularizers.L1L2),
        ("L1L2", regularizers.L1L2),
        ("orthogonal_regularizer", regularizers.OrthogonalRegularizer),
    ],
)
def test_regularizer_names(name, cls):
    assert type(regularizers.get(name)) is cls


def test_function_style_names_are_the_classes():
    # Keras 3 exports l1, l2 and l1_l2 as aliases of L1, L2 and L1L2.
    assert regularizers.l1 is regularizers.L1
    assert regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    both = regularizers.l1_l2(l1=0.01, l2=0.02)
    assert type(both) is regularizers.L1L2
    assert both.get_config() == {"l1": 0.01, "l2": 0.02}
    assert regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}  # Keras 3's defaults
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert both(w) == pytest.approx(0.01 * 3.5 + 0.02 * 5.25)
    assert regularizers.l2(0.1)(w) == pytest.approx(0.1 * 5.25)
    assert regularizers.serialize(regularizers.l1(0.5))["class_name"] == "L1"


def test_function_style_regularizer_trains_in_a_layer():
    nk.utils.set_random_seed(0)
    dense = nk.layers.Dense(2, kernel_regularizer=nk.regularizers.l2(0.5))
    model = nk.Sequential([nk.Input((3,)), dense])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    penalty = 0.5 * float(np.sum(dense.kernel.numpy() ** 2))
    plain = float(np.mean(model.predict(x, verbose=0) ** 2))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(plain + penalty, rel=1e-6)


def test_regularizer_get_misc_and_errors():
    assert regularizers.get(None) is None
    assert regularizers.serialize(None) is None
    assert isinstance(regularizers.get(regularizers.L2), regularizers.L2)
    reg = regularizers.L1(0.1)
    assert regularizers.get(reg) is reg
    with pytest.raises(ValueError, match="^Could not interpret regularizer identifier: foo$"):
        regularizers.get("foo")
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 1.5"):
        regularizers.get(1.5)


# --------------------------------------------------------------------------- constraints


def _slices(shape, axis):
    """Index tuples selecting each slice a norm over ``axis`` covers."""
    axes = tuple(a % len(shape) for a in (axis if isinstance(axis, (list, tuple)) else [axis]))
    kept = [a for a in range(len(shape)) if a not in axes]
    for idx in itertools.product(*[range(shape[a]) for a in kept]):
        sl = [slice(None)] * len(shape)
        for a, i in zip(kept, idx):
            sl[a] = i
        yield tuple(sl)


def _constraint_reference(c, w):
    out = np.empty_like(w)
    if isinstance(c, constraints.NonNeg):
        for i in np.ndindex(*w.shape):
            out[i] = w[i] if w[i] > 0 else 0.0
        return out
    for sl in _slices(w.shape, c.axis):
        norm = math.sqrt(float(np.sum(w[sl] ** 2)))
        if isinstance(c, constraints.UnitNorm):
            out[sl] = w[sl] / (EPSILON + norm)
        elif isinstance(c, constraints.MaxNorm):
            out[sl] = w[sl] * min(norm, c.max_value) / (EPSILON + norm)
        else:  # MinMaxNorm
            clipped = min(max(norm, c.min_value), c.max_value)
            desired = c.rate * clipped + (1 - c.rate) * norm
            out[sl] = w[sl] * desired / (EPSILON + norm)
    return out


CONSTRAINTS = [
    (constraints.MaxNorm(1.5), (4, 6)),
    (constraints.MaxNorm(2.0, axis=[0, 1, 2]), (3, 3, 2, 4)),
    (constraints.MaxNorm(1.0, axis=1), (5, 3)),
    (constraints.MinMaxNorm(0.5, 1.5), (4, 6)),
    (constraints.MinMaxNorm(1.0, 2.0, rate=0.5, axis=(0, 1, 2)), (3, 3, 2, 4)),
    (constraints.UnitNorm(), (4, 6)),
    (constraints.UnitNorm(axis=-1), (4, 6)),
    (constraints.NonNeg(), (4, 6)),
]


@pytest.mark.parametrize("c,shape", CONSTRAINTS, ids=lambda v: repr(v))
def test_constraint_matches_reference(c, shape):
    w = np.random.default_rng(4).normal(size=shape) * 1.2
    got = c(w)
    assert got.shape == w.shape and got.dtype == w.dtype
    tol.assert_close(got, _constraint_reference(c, w), tol.REFERENCE_ATOL, tol.REFERENCE_RTOL)
    f32 = c(w.astype(np.float32))
    assert f32.dtype == np.float32


def test_max_norm_projects_only_large_columns():
    w = np.array([[3.0, 0.3], [4.0, 0.4]])  # column norms 5 and 0.5
    out = constraints.MaxNorm(max_value=1.0)(w)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, 0.5], rtol=1e-6)
    out = constraints.UnitNorm()(w)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, 1.0], rtol=1e-6)


def test_constraint_accepts_variable():
    var = backend.Variable(np.array([[-1.0, 2.0]]), name="kernel")
    np.testing.assert_array_equal(constraints.NonNeg()(var), [[0.0, 2.0]])


CON_CONFIGS = [
    (constraints.MaxNorm(3, axis=1), "MaxNorm", {"max_value": 3, "axis": 1}),
    (constraints.MinMaxNorm(0.1, 2.0, 0.5, 0), "MinMaxNorm",
     {"min_value": 0.1, "max_value": 2.0, "rate": 0.5, "axis": 0}),
    (constraints.NonNeg(), "NonNeg", {}),
    (constraints.UnitNorm(axis=[0, 1]), "UnitNorm", {"axis": [0, 1]}),
]  # fmt: skip


@pytest.mark.parametrize("c,class_name,config", CON_CONFIGS, ids=lambda v: str(v))
def test_constraint_configs_round_trip(c, class_name, config):
    assert c.get_config() == config
    serialized = constraints.serialize(c)
    assert serialized == {
        "module": "keras.constraints",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }
    restored = constraints.deserialize(serialized)
    assert type(restored) is type(c) and restored.get_config() == config
    assert constraints.get({"class_name": class_name, "config": config}).get_config() == config


@pytest.mark.parametrize(
    "name,cls",
    [
        ("max_norm", constraints.MaxNorm),
        ("MaxNorm", constraints.MaxNorm),
        ("maxnorm", constraints.MaxNorm),
        ("min_max_norm", constraints.MinMaxNorm),
        ("non_neg", constraints.NonNeg),
        ("nonneg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
        ("unitnorm", constraints.UnitNorm),
    ],
)
def test_constraint_names(name, cls):
    assert type(constraints.get(name)) is cls


def test_constraint_get_misc_and_errors():
    assert constraints.get(None) is None
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    with pytest.raises(ValueError, match="^Could not interpret constraint identifier: foo$"):
        constraints.get("foo")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.deserialize({"class_name": "Bogus", "config": {}})
