"""numpykeras.ops pooling kernels vs plain-loop references (float64), tie-breaking and errors."""

import itertools

import numpy as np
import pytest

from numpykeras import ops

import reference_ops as ref
from tolerances import (
    FINITE_DIFF_ATOL,
    FINITE_DIFF_EPS,
    FINITE_DIFF_RTOL,
    REFERENCE_ATOL,
    REFERENCE_RTOL,
    assert_close,
)


def close(actual, expected, what):
    assert_close(actual, expected, REFERENCE_ATOL, REFERENCE_RTOL, what)


def _pool_cases():
    cases = []
    for pool, strides, pad, shape in itertools.product(
        (1, 2, 3, (2, 3)), (None, 1, 2, 3, (1, 2)), ("valid", "same"), ((2, 7, 6, 3), (1, 4, 5, 2))
    ):
        ph, pw = (pool, pool) if isinstance(pool, int) else pool
        if pad == "valid" and (ph > shape[1] or pw > shape[2]):
            continue
        cases.append((shape, pool, strides, pad))
    return cases


@pytest.mark.parametrize("shape, pool_size, strides, padding", _pool_cases())
def test_max_pool_matches_reference(shape, pool_size, strides, padding):
    rng = np.random.default_rng(sum(shape))
    # small integers: many ties, so the tie-breaking rule is exercised too
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    y_ref = ref.max_pool2d(x, pool_size, strides, padding)
    close(ops.max_pool2d(x, pool_size, strides, padding), y_ref, "max_pool2d")
    y, cache = ops.max_pool2d_forward(x, pool_size, strides, padding)
    close(y, y_ref, "max_pool2d_forward")
    dy = rng.standard_normal(y.shape)
    close(
        ops.max_pool2d_backward(dy, cache),
        ref.max_pool2d_backward(dy, x, pool_size, strides, padding),
        "max_pool2d_backward",
    )


@pytest.mark.parametrize("shape, pool_size, strides, padding", _pool_cases())
def test_avg_pool_matches_reference(shape, pool_size, strides, padding):
    rng = np.random.default_rng(sum(shape) + 1)
    x = rng.standard_normal(shape)
    y = ops.avg_pool2d(x, pool_size, strides, padding)
    close(y, ref.avg_pool2d(x, pool_size, strides, padding), "avg_pool2d")
    dy = rng.standard_normal(y.shape)
    close(
        ops.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding),
        ref.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding),
        "avg_pool2d_backward",
    )


def test_max_pool_tie_goes_to_top_left():
    # after a ReLU whole windows are 0: each window's gradient goes to its first pixel (row-major)
    x = np.zeros((1, 4, 4, 1))
    y, cache = ops.max_pool2d_forward(x, 2, 2, "valid")
    dx = ops.max_pool2d_backward(np.full(y.shape, 5.0), cache)
    expected = np.zeros((4, 4))
    expected[0::2, 0::2] = 5.0
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)
    # a tie between the second and fourth pixel of a window: the second (earlier) one wins
    x = np.array([[0.0, 2.0], [1.0, 2.0]]).reshape(1, 2, 2, 1)
    _, cache = ops.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(
        ops.max_pool2d_backward(np.ones((1, 1, 1, 1)), cache)[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]]
    )


def test_max_pool_same_padding_never_wins():
    # all-negative input: zero padding must not be taken as the max
    x = -1.0 - np.arange(9.0).reshape(1, 3, 3, 1)
    y, cache = ops.max_pool2d_forward(x, 2, 2, "same")
    np.testing.assert_array_equal(y[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])
    dx = ops.max_pool2d_backward(np.ones(y.shape), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_avg_pool_same_does_not_count_padding():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = ops.avg_pool2d(x, 2, 2, "same")  # padding goes at the bottom/right only
    # windows: {0,1,3,4} -> 2, {2,5} -> 3.5, {6,7} -> 6.5, {8} -> 8
    np.testing.assert_array_equal(y[0, :, :, 0], [[2.0, 3.5], [6.5, 8.0]])
    dx = ops.avg_pool2d_backward(np.ones(y.shape), x.shape, 2, 2, "same")
    np.testing.assert_array_equal(
        dx[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1]]
    )


@pytest.mark.parametrize(
    "pool_size, strides, padding", [(2, 2, "valid"), (3, 2, "same"), (2, 1, "same")]
)
def test_pool_gradients_by_finite_differences(pool_size, strides, padding):
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 5 * 4 * 2).reshape(2, 5, 4, 2) / 7.0  # distinct values: no ties
    y, cache = ops.max_pool2d_forward(x, pool_size, strides, padding)
    dy = rng.standard_normal(y.shape)
    num = ref.numerical_gradient(
        lambda v: ops.max_pool2d(v, pool_size, strides, padding), x, dy, FINITE_DIFF_EPS
    )
    assert_close(ops.max_pool2d_backward(dy, cache), num, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "max")
    num = ref.numerical_gradient(
        lambda v: ops.avg_pool2d(v, pool_size, strides, padding), x, dy, FINITE_DIFF_EPS
    )
    dx = ops.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding)
    assert_close(dx, num, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "avg")


def test_pool_dtypes_and_errors():
    for dtype in (np.float32, np.float64):
        x = np.ones((1, 4, 4, 2), dtype=dtype)
        y, cache = ops.max_pool2d_forward(x, 2)
        assert y.dtype == dtype and ops.max_pool2d_backward(y, cache).dtype == dtype
        assert ops.avg_pool2d(x, 3, 1, "same").dtype == dtype
        assert ops.avg_pool2d_backward(y, x.shape, 2).dtype == dtype
    x = np.ones((1, 4, 4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="zero or negative"):
        ops.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="padding"):
        ops.avg_pool2d(x, 2, 2, "full")
    with pytest.raises(ValueError, match="rank 4"):
        ops.max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="pool_size"):
        ops.max_pool2d(x, (2, 2, 2))
    _, cache = ops.max_pool2d_forward(x, 2)
    with pytest.raises(ValueError, match="dy.shape"):
        ops.max_pool2d_backward(np.ones((1, 3, 3, 2)), cache)
    with pytest.raises(TypeError, match="cache"):
        ops.max_pool2d_backward(np.ones((1, 2, 2, 2)), {"argmax": None})
    with pytest.raises(ValueError, match="dy.shape"):
        ops.avg_pool2d_backward(np.ones((1, 3, 3, 2)), x.shape, 2)
