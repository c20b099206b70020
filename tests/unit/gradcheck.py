"""Float64 central finite differences for checking a layer's ``backward`` against its ``forward``.

The scalar checked is ``L = sum(forward(x) * dy)`` for a fixed random ``dy``, so ``dL/dx`` and
``dL/dweight`` are exactly what ``backward(dy, cache)`` must return. Build the layer with
``dtype="float64"`` so the forward pass itself runs in float64 and the differences are meaningful.
"""

from __future__ import annotations

import numpy as np

import tolerances as tol


def numerical_gradient(loss, array: np.ndarray, eps: float = tol.FINITE_DIFF_EPS) -> np.ndarray:
    """``d loss() / d array`` by central differences, perturbing ``array`` in place, then restoring.

    Args:
        loss: a function of no arguments that reads ``array`` and returns a float.
        array: the float64 array to differentiate with respect to (modified during the call).
        eps: the step.

    Returns:
        An array of ``array``'s shape.
    """
    if array.dtype != np.float64:
        raise TypeError(f"Finite differences need a float64 array. Received: dtype={array.dtype}")
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)  # views into `array` and `grad`
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        up = loss()
        flat[i] = orig - eps
        down = loss()
        flat[i] = orig
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_layer_gradients(layer, x, training=False, seed=0, what=""):
    """Asserts that ``layer.backward`` matches finite differences for ``dx`` and every weight.

    The layer must already be built with ``dtype="float64"`` and be deterministic for the given
    ``training`` flag (no dropout mask drawn per call). Also checks that ``need_dx=False`` returns
    ``None`` for ``dx`` and the same weight gradients, and that the gradient dict covers exactly the
    layer's trainable weights.

    Args:
        layer: a built float64 layer.
        x: the input, converted to a float64 array.
        training: the ``training`` flag for ``forward``.
        seed: seed of the random upstream gradient ``dy``.
        what: label for failure messages.

    Returns:
        ``(dx, grads)`` from ``backward``, for further checks by the caller.
    """
    if layer.dtype != "float64":
        raise TypeError(f"Build the layer with dtype='float64'. Received: dtype={layer.dtype}")
    x = np.array(x, dtype=np.float64)
    y, cache = layer.forward(x, training=training)
    assert y.dtype == np.float64, f"{what}: forward output dtype {y.dtype} != float64"
    dy = np.random.default_rng(seed).normal(size=y.shape)
    dx, grads = layer.backward(dy, cache)

    def loss():
        return float(np.sum(layer.forward(x, training=training)[0] * dy))

    trainable = layer.trainable_weights
    assert {id(v) for v in grads} == {id(v) for v in trainable}, (
        f"{what}: backward returned gradients for {[v.name for v in grads]}, "
        f"expected {[v.name for v in trainable]}"
    )
    tol.assert_close(
        dx, numerical_gradient(loss, x), tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, f"{what} dx"
    )
    for variable in trainable:
        assert grads[variable].dtype == np.float64, f"{what}: d{variable.name} is not float64"
        numeric = numerical_gradient(loss, variable.value)
        tol.assert_close(
            grads[variable],
            numeric,
            tol.FINITE_DIFF_ATOL,
            tol.FINITE_DIFF_RTOL,
            f"{what} d{variable.name}",
        )

    # need_dx=False skips dx but must give the same weight gradients.
    _, cache = layer.forward(x, training=training)
    no_dx, grads2 = layer.backward(dy, cache, need_dx=False)
    if trainable:
        assert no_dx is None, f"{what}: backward(need_dx=False) returned a dx"
    for variable in trainable:
        tol.assert_close(
            grads2[variable], grads[variable], tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, what
        )
    return dx, grads
