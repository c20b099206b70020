"""GradientTape semantics and float64 finite-difference checks of every differentiable op."""

import threading

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import ops
from numpykeras.ops.autodiff import Tensor

import tolerances as tol
from gradcheck import numerical_gradient


def _close(actual, expected, what=""):
    tol.assert_close(actual, expected, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, what)


def _exact(actual, expected, what=""):
    tol.assert_close(actual, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, what)


# --------------------------------------------------------------------------- no tape


def test_inference_returns_plain_arrays():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = keras.Variable(np.ones((3, 2)))
    for y in (ops.exp(x), ops.matmul(x, w), x @ w, w * 2.0, -w, w[0], ops.sum(x), ops.mean(x)):
        assert type(y) is np.ndarray
    assert ops.multiply(x, 2.0).dtype == np.float32  # Python scalars are weak
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == np.float32


def test_variable_identity_semantics_are_kept():
    v = keras.Variable(np.zeros(2))
    assert {v: 1}[v] == 1 and v == v and v != keras.Variable(np.zeros(2))


# --------------------------------------------------------------------------- tape semantics


def test_variable_gradient_and_watched_variables():
    w = keras.Variable(np.array([1.0, -2.0, 3.0]))
    frozen = keras.Variable(np.ones(3), trainable=False)
    x = np.array([0.5, 1.5, -1.0], np.float32)
    with keras.GradientTape() as tape:
        y = ops.sum(ops.square(x * w + frozen))
    gw, gf = tape.gradient(y, [w, frozen])
    _exact(gw, 2 * (x * w.value + 1.0) * x)
    assert gf is None  # not trainable: not watched
    assert gw.dtype == np.float32 and type(gw) is np.ndarray
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false():
    w = keras.Variable(np.ones(2))
    with keras.GradientTape(watch_accessed_variables=False) as tape:
        y = ops.sum(w * 3.0)
    assert tape.gradient(y, w) is None
    with keras.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = ops.sum(w * 3.0)
    _exact(tape.gradient(y, w), np.full(2, 3.0))


def test_non_persistent_tape_is_single_use_and_persistent_is_not():
    x = np.array([2.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.exp(x)
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, x)
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.exp(x)
        z = ops.sin(x)
    _exact(tape.gradient(y, x), np.exp(x))
    _exact(tape.gradient(z, x), np.cos(x))


def test_unconnected_gradients_and_structures():
    a, b, c = np.array([1.0, 2.0]), np.array([3.0]), np.array([5.0])
    with keras.GradientTape(persistent=True) as tape:
        tape.watch([a, b, c])
        y1 = ops.sum(ops.multiply(a, b))  # watched arrays are plain: `a * b` would not record
        y2 = ops.sum(ops.multiply(b, 2.0))
    g = tape.gradient([y1, y2], {"a": a, "pair": (b, c)})
    _exact(g["a"], np.array([3.0, 3.0]))
    _exact(g["pair"][0], np.array([a.sum() + 2.0]))  # the two targets' gradients add up
    assert g["pair"][1] is None
    zero = tape.gradient(y1, c, unconnected_gradients="zero")
    _exact(zero, np.zeros(1))
    weighted = tape.gradient([y1, y2], [b], output_gradients=[np.array(2.0), np.array(-1.0)])
    _exact(weighted[0], np.array([2 * a.sum() - 2.0]))
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y1, a, unconnected_gradients="nan")


def test_broadcasting_gradients():
    x = np.ones((2, 3))
    b = np.array([1.0, 2.0, 3.0])
    s = np.array(2.0)
    with keras.GradientTape() as tape:
        tape.watch([b, s])
        y = ops.sum(ops.multiply(ops.add(x, b), s))
    gb, gs = tape.gradient(y, [b, s])
    _exact(gb, np.full(3, 4.0))  # summed over the broadcast rows, times s
    _exact(gs, np.array(np.sum(x + b)))
    assert gb.shape == (3,) and gs.shape == ()


def test_second_derivative_of_cube():
    x = np.array([1.5, -2.0])
    with keras.GradientTape() as outer:
        outer.watch(x)
        with keras.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.power(x, 3))
        dy = inner.gradient(y, x)  # 3 x^2, recorded by the outer tape
        assert isinstance(dy, Tensor)
        d2 = ops.sum(dy)
    _exact(np.asarray(dy), 3 * x**2)
    _exact(outer.gradient(d2, x), 6 * x)


def test_gradient_penalty_through_dense_layer():
    # WGAN-GP: d/dw of |d critic / d x|^2, critic(x) = sum(tanh(x @ w))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = keras.Variable(rng.standard_normal((4, 2)), dtype="float64")

    def penalty():
        with keras.GradientTape() as outer:
            with keras.GradientTape() as inner:
                inner.watch(x)
                critic = ops.sum(ops.tanh(ops.matmul(x, w)))
            gx = inner.gradient(critic, x)
            p = ops.sum(ops.square(gx))
        return p, outer.gradient(p, w)

    p, gw = penalty()
    _close(gw, numerical_gradient(lambda: float(penalty()[0]), w.value), "gradient penalty")


def test_stop_recording_and_stop_gradient():
    x = np.array([1.0, 2.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.exp(x)
        with tape.stop_recording():
            z = ops.sin(x)
        w = ops.stop_gradient(ops.square(x))
        total = ops.sum(y + z + w * y)
    assert type(z) is np.ndarray and type(w) is np.ndarray
    _exact(tape.gradient(total, x), np.exp(x) * (1 + x**2))


def test_custom_gradient():
    @ops.custom_gradient
    def clipped_identity(x):
        def grad(upstream):
            return ops.clip(upstream, -1.0, 1.0)

        return x * 1.0, grad

    x = np.array([1.0, 2.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = clipped_identity(x)
    _exact(tape.gradient(y, x, output_gradients=np.array([0.5, -3.0])), np.array([0.5, -1.0]))
    assert type(clipped_identity(x)) is np.ndarray

    @ops.custom_gradient
    def log1pexp(x):  # Keras's docstring example, with the `upstream=` convention
        e = ops.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    x = np.array([100.0, 0.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    _exact(tape.gradient(y, x), np.array([1.0, 0.5]))


def test_nested_tapes_record_independently():
    x = np.array([3.0])
    with keras.GradientTape() as t1:
        t1.watch(x)
        a = ops.square(x)
        with keras.GradientTape() as t2:
            b = a * 2.0  # t2 does not track `a`
        c = ops.sum(b)
    assert t2.gradient(ops.sum(b), x) is None
    _exact(t1.gradient(c, x), 4 * x)


def test_jacobian():
    x = np.array([1.0, 2.0, 3.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.exp(x) * ops.get_item(x, 0)
    jac = tape.jacobian(y, x)
    expected = np.diag(np.exp(x) * x[0])
    expected[:, 0] += np.exp(x)
    _exact(jac, expected)


def test_reset_forgets_the_recording():
    x = np.array([1.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        ops.exp(x)
        tape.reset()
        y = ops.exp(x)
    assert tape.gradient(y, x) is None  # the watch was forgotten too


def test_tensor_protocol():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    with keras.GradientTape() as tape:
        tape.watch(x)
        t = ops.convert_to_tensor(x)
        assert isinstance(t, Tensor) and t.shape == (2, 2) and t.dtype == "float64"
        y = np.ones(2) + t  # ndarray op Tensor defers to the tensor and records
        assert isinstance(y, Tensor)
        with pytest.raises(TypeError, match="does not support item assignment"):
            t[0, 0] = 1.0
        rows = [r for r in t]
        z = ops.sum(rows[1] * t.T[0]) + ops.sum(y[..., :1]) + float(t[0, 0])
        assert len(t) == 2 and t.ndim == 2 and np.asarray(t) is x
    g = tape.gradient(z, x)
    # z = t10 t00 + t11 t10 + t00 + t10 + const
    _exact(g, np.array([[3.0 + 1.0, 0.0], [1.0 + 4.0 + 1.0, 3.0]]))


def test_tapes_are_thread_local():
    x = np.array([2.0])
    seen = {}

    def worker():
        seen["other"] = type(ops.exp(x))  # the main thread's tape must not record this

    with keras.GradientTape() as tape:
        tape.watch(x)
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        y = ops.exp(x)
    assert seen["other"] is np.ndarray
    assert isinstance(y, Tensor)
    _exact(tape.gradient(y, x), np.exp(x))


# --------------------------------------------------------------------------- finite differences


def _r(*shape):
    return lambda rng: rng.standard_normal(shape)


def _pos(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _unit(*shape):
    return lambda rng: rng.uniform(-0.8, 0.8, shape)


def _away(*shape):  # |x| in [0.2, 2]: no kink within the finite-difference step
    return lambda rng: rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# (id, function of the float64 inputs, input makers)
GRAD_CASES = [
    *[
        (n, getattr(ops, n), [_r(2, 3)])
        for n in [
            "exp",
            "expm1",
            "sin",
            "cos",
            "tanh",
            "sinh",
            "cosh",
            "arctan",
            "arcsinh",
            "negative",
            "square",
            "sigmoid",
            "softplus",
            "softsign",
            "silu",
            "log_sigmoid",
            "gelu",
            "erf",
            "softmax",
            "log_softmax",
            "copy",
            "ravel",
            "logsumexp",
            "cumsum",
            "sort",
            "median",
        ]
    ],
    *[
        (n, getattr(ops, n), [_pos(2, 3)])
        for n in [
            "log",
            "log1p",
            "log2",
            "log10",
            "sqrt",
            "reciprocal",
            "cbrt",
            "exp2",
            "cumprod",
            "prod",
        ]
    ],
    *[(n, getattr(ops, n), [_unit(2, 3)]) for n in ["arcsin", "arccos", "arctanh", "tan"]],
    *[
        (n, getattr(ops, n), [_away(2, 3)])
        for n in ["abs", "relu", "relu6", "elu", "selu", "leaky_relu", "hard_sigmoid", "hard_silu"]
    ],
    ("arccosh", ops.arccosh, [lambda rng: 1.5 + rng.uniform(0, 1, (3,))]),
    *[
        (n, getattr(ops, n), [_r(2, 3), _r(3)])
        for n in ["add", "subtract", "multiply", "arctan2", "logaddexp", "hypot"]
    ],
    ("maximum", ops.maximum, [_away(2, 3), lambda rng: np.zeros(3)]),
    ("divide", ops.divide, [_r(2, 3), _pos(3)]),
    ("power", ops.power, [_pos(2, 3), _r(3)]),
    ("mod", lambda a: ops.mod(a, 0.7), [_pos(4)]),
    ("clip", lambda a: ops.clip(a, -0.5, 0.5), [_away(6)]),
    ("where", lambda a, b: ops.where(np.array([True, False, True]), a, b), [_r(2, 3), _r(3)]),
    ("matmul", ops.matmul, [_r(2, 3), _r(3, 4)]),
    ("matmul-batch-vec", ops.matmul, [_r(2, 2, 3), _r(3)]),
    ("tensordot", lambda a, b: ops.tensordot(a, b, axes=([0], [1])), [_r(2, 3), _r(4, 2)]),
    ("einsum", lambda a, b: ops.einsum("bij,jk->bk", a, b), [_r(2, 3, 4), _r(4, 2)]),
    ("einsum-ellipsis", lambda a, b: ops.einsum("...i,i", a, b), [_r(2, 4), _r(4)]),
    ("outer", ops.outer, [_r(3), _r(2)]),
    ("dot-nd", ops.dot, [_r(2, 3), _r(4, 3, 2)]),
    ("trace", ops.trace, [_r(3, 3)]),
    ("diag", lambda a: ops.diag(a, k=-1), [_r(3)]),
    ("tril", ops.tril, [_r(3, 4)]),
    ("norm", ops.norm, [_r(3, 4)]),
    ("norm-inf", lambda a: ops.norm(a, ord=np.inf, axis=1), [_r(3, 4)]),
    ("transpose", lambda a: ops.transpose(a, (1, 2, 0)), [_r(2, 3, 4)]),
    ("squeeze-expand", lambda a: ops.expand_dims(ops.squeeze(a, 1), 0), [_r(2, 1, 3)]),
    ("moveaxis", lambda a: ops.moveaxis(a, 0, 2), [_r(2, 3, 4)]),
    ("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3)), [_r(1, 3)]),
    ("tile", lambda a: ops.tile(a, (2, 2)), [_r(2, 3)]),
    ("repeat", lambda a: ops.repeat(a, [1, 0, 3], axis=1), [_r(2, 3)]),
    ("flip-roll", lambda a: ops.roll(ops.flip(a, 0), 1, 1), [_r(2, 3)]),
    ("pad", lambda a: ops.pad(a, ((1, 2), (0, 1))), [_r(2, 3)]),
    (
        "concatenate-split",
        lambda a, b: ops.split(ops.concatenate([a, b], 1), [1, 4], 1)[1],
        [_r(2, 3), _r(2, 2)],
    ),
    ("stack", lambda a, b: ops.stack([a, b], axis=-1), [_r(2, 3), _r(2, 3)]),
    ("take", lambda a: ops.take(a, np.array([[0, 2], [2, 2]]), axis=1), [_r(2, 3)]),
    (
        "take_along_axis",
        lambda a: ops.take_along_axis(a, np.array([[2, 0, 0]]), axis=1),
        [_r(2, 3)],
    ),
    (
        "get_item-fancy",
        lambda a: ops.get_item(a, (np.array([0, 1, 0]), slice(1, None))),
        [_r(2, 3)],
    ),
    ("get_item-mask", lambda a: ops.get_item(a, a > 0), [_away(2, 3)]),
    ("max-axis", lambda a: ops.max(a, axis=1), [_r(3, 4)]),
    ("min-keepdims", lambda a: ops.min(a, axis=0, keepdims=True), [_r(3, 4)]),
    ("var-std", lambda a: ops.var(a, axis=0) + ops.std(a, axis=1)[0], [_r(3, 4)]),
    ("average", lambda a, w: ops.average(a, axis=1, weights=w), [_r(3, 4), _pos(4)]),
    ("quantile", lambda a: ops.quantile(a, np.array([0.3, 0.9]), axis=0), [_r(5, 2)]),
    ("slice", lambda a: ops.slice(a, (1, 0), (2, 2)), [_r(3, 3)]),
    ("slice_update", lambda a, u: ops.slice_update(a, (1, 1), u), [_r(3, 4), _r(2, 2)]),
    ("scatter", lambda v: ops.scatter(np.array([[0, 1], [1, 0], [0, 1]]), v, (2, 2)), [_r(3)]),
    (
        "scatter_update",
        lambda a, u: ops.scatter_update(a, np.array([[0, 1], [2, 2]]), u),
        [_r(3, 3), _r(2)],
    ),
    ("cast", lambda a: ops.cast(ops.cast(a, "float32"), "float64") * 0 + a, [_r(3)]),
    ("moments", lambda a: ops.moments(a, axes=[0])[1], [_r(4, 3)]),
    (
        "batch_normalization",
        lambda x, m, v, s: ops.batch_normalization(x, m, v, -1, None, s),
        [_r(4, 3), _r(3), _pos(3), _r(3)],
    ),
    (
        "cce-logits",
        lambda z: ops.categorical_crossentropy(np.eye(3)[[0, 2]], z, from_logits=True),
        [_r(2, 3)],
    ),
    (
        "scce",
        lambda p: ops.sparse_categorical_crossentropy(np.array([1, 0]), p),
        [lambda rng: rng.uniform(0.1, 0.9, (2, 3))],
    ),
    ("bce-logits", lambda z: ops.binary_crossentropy(np.array([[0.0, 1.0]]), z, True), [_r(1, 2)]),
    (
        "conv",
        lambda x, k: ops.conv(x, k, strides=2, padding="same"),
        [_r(1, 5, 5, 2), _r(3, 3, 2, 2)],
    ),
    (
        "conv-channels-first",
        lambda x, k: ops.conv(x, k, data_format="channels_first"),
        [_r(1, 2, 4, 4), _r(2, 2, 2, 3)],
    ),
    ("depthwise_conv", lambda x, k: ops.depthwise_conv(x, k), [_r(1, 4, 4, 2), _r(2, 2, 2, 2)]),
    ("max_pool", lambda x: ops.max_pool(x, 2), [_r(1, 4, 4, 2)]),
    ("average_pool", lambda x: ops.average_pool(x, 3, 2, "same"), [_r(1, 5, 5, 2)]),
    (
        "inv-det",
        lambda a: ops.linalg.inv(a) * ops.linalg.det(a),
        [lambda rng: rng.standard_normal((3, 3)) + 3 * np.eye(3)],
    ),
    ("scan", lambda x: ops.scan(lambda c, v: (c * v + 1.0, c), np.ones(2), x)[1], [_r(3, 2)]),
    (
        "while_loop",
        lambda x: ops.while_loop(
            lambda i, v: i < 3, lambda i, v: (i + 1, ops.multiply(v, x)), (0, x)
        )[1],
        [_r(3)],
    ),
    ("dropout", lambda x: keras.random.dropout(x, 0.5, seed=1), [_r(4, 4)]),
]


@pytest.mark.parametrize("name, fn, makers", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradient_matches_finite_differences(name, fn, makers):
    rng = np.random.default_rng(len(name))
    xs = [make(rng).astype(np.float64) for make in makers]
    y = fn(*xs)
    assert type(y) is np.ndarray, f"{name} did not return an ndarray without a tape"
    dy = rng.standard_normal(np.shape(y))
    with keras.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
        loss = ops.sum(ops.multiply(y, dy))
    grads = tape.gradient(loss, xs)
    for i, (x, g) in enumerate(zip(xs, grads)):
        numeric = numerical_gradient(lambda: float(np.sum(fn(*xs) * dy)), x)
        assert g is not None, f"{name}: no gradient for input {i}"
        assert g.dtype == np.float64 and g.shape == x.shape
        _close(g, numeric, f"{name} d/dx{i}")


SECOND_ORDER = [
    ("tanh", ops.tanh),
    ("sigmoid", ops.sigmoid),
    ("softmax", ops.softmax),
    ("log_softmax", ops.log_softmax),
    ("exp-sum", lambda x: ops.exp(x) * ops.sum(x)),
    ("matmul", lambda x: ops.matmul(x, ops.transpose(x))),
    ("conv", lambda x: ops.conv(ops.reshape(x, (1, 2, 3, 1)), ops.reshape(x, (2, 3, 1, 1)))),
    ("average_pool", lambda x: ops.square(ops.average_pool(ops.reshape(x, (1, 2, 3, 1)), 2, 1))),
]


@pytest.mark.parametrize("name, fn", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_gradient_of_gradient_matches_finite_differences(name, fn):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3))
    dy = rng.standard_normal(np.shape(fn(x)))
    v = rng.standard_normal((2, 3))

    def directional(x_):  # <d sum(fn * dy) / dx, v>, differentiated again
        with keras.GradientTape() as inner:
            inner.watch(x_)
            loss = ops.sum(fn(x_) * dy)
        return ops.sum(inner.gradient(loss, x_) * v)

    with keras.GradientTape() as outer:
        outer.watch(x)
        d = directional(x)
    hv = outer.gradient(d, x)
    _close(hv, numerical_gradient(lambda: float(directional(x)), x), f"{name} second order")


def test_seed_generator_semantics():
    a = keras.random.SeedGenerator(5)
    b = keras.random.SeedGenerator(5)
    first, second = keras.random.normal((3,), seed=a), keras.random.normal((3,), seed=a)
    assert not np.array_equal(first, second)
    _exact(keras.random.normal((3,), seed=b), first)
    _exact(keras.random.uniform((2,), seed=3), keras.random.uniform((2,), seed=3))
    assert keras.random.randint((4,), 0, 3, seed=1).dtype == np.int32
    with pytest.raises(ValueError, match="seed"):
        keras.random.normal((2,), seed="x")
