"""Float32 forward error scales for Keras models, propagated layer by layer.

Each tensor of the Keras model is carried as a pair: its value computed in float64 (``value``)
and the scale ``sigma`` of the error of a float32 evaluation of it, in the probabilistic model of
``tests/tolerances.py`` (independent roundings; scales add in quadrature). A layer maps the pairs
of its inputs to the pair of its output:

- a linear map ``z = A(h; W) + b`` (Dense, the convolutions): the input errors go through
  ``A`` with squared weights (``sigma_z**2 = A_W**2(sigma_h**2)``) and the sum's own rounding is
  ``tolerances.reduction_sigma(n, sum t**2, z)``, where the number of terms ``n`` and the sum of
  their squares come from float64 twins of the Keras layer itself (same config; weights
  replaced by ones or by their squares);
- 1-Lipschitz selections and activations (ReLU, max pooling, reshapes) pass ``sigma`` through;
- averages, softmax and BatchNormalization add their own rounding (see each rule).

``output_sigma(model, x)`` returns ``(value, sigma)`` for the model's output; two float32
implementations then agree within ``LAMBDA * COMPARED * sigma`` (``assert_model_output_close``).
A layer type without a rule raises, so a test cannot silently use a wrong bound.
"""

from __future__ import annotations

import numpy as np

import tolerances as tol


class Bounded:
    """A tensor's float64 value and the error scale of its float32 evaluation."""

    def __init__(self, value, sigma):
        self.value = np.asarray(value, dtype=np.float64)
        self.sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), self.value.shape)


# --------------------------------------------------------------------------- float64 twins


def _twin(layer, weights, inputs, **overrides):
    """``layer``'s class rebuilt in float64 with ``weights`` (no bias, linear), applied to
    ``inputs``."""
    config = dict(layer.get_config())
    config.pop("name", None)
    config["dtype"] = "float64"
    config.update(overrides)
    twin = type(layer).from_config(config)
    twin.build(inputs.shape)
    twin.set_weights(weights)
    return np.asarray(twin(inputs))


def _kernels(layer):
    return [np.asarray(w, dtype=np.float64) for w in layer.weights if "bias" not in w.path]


def _bias(layer):
    for w in layer.weights:
        if w.path.endswith("bias"):
            return np.asarray(w, dtype=np.float64)
    return 0.0


def _linear(layer, h: Bounded) -> Bounded:
    """``A(h) + b`` for a Keras layer that is linear in its input and in each kernel."""
    kernels, bias = _kernels(layer), _bias(layer)
    plain = dict(activation="linear", use_bias=False)
    value = _twin(layer, kernels, h.value, **plain) + bias
    squared = [k**2 for k in kernels]
    sum_squares = _twin(layer, squared, h.value**2, **plain) + np.square(bias)
    counts = _twin(layer, [np.ones_like(k) for k in kernels], np.ones_like(h.value), **plain)
    n = counts + (1 if np.ndim(bias) else 0)
    propagated = _twin(layer, squared, h.sigma**2, **plain)
    rounding = tol.reduction_sigma(n, sum_squares, value)
    sigma = np.sqrt(propagated + rounding**2)
    return _activation(getattr(layer, "activation", None), Bounded(value, sigma))


# --------------------------------------------------------------------------- activations


def _softmax(z: Bounded, axis=-1) -> Bounded:
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    """``y = exp(z) / sum exp(z)``: ``dy_k = y_k (dz_k - sum_j y_j dz_j)``, so to first order
    ``sigma_y**2 <= y**2 (sigma_z**2 + sum_j y_j**2 sigma_j**2)``; rounding: exp
    (ELEMENTWISE_ULPS), the division (1 ulp) and the denominator's sum of n positive terms."""
    shifted = z.value - z.value.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    y = e / total
    n = int(np.prod([z.value.shape[a] for a in np.atleast_1d(axis)]))
    propagated = y**2 * (z.sigma**2 + (y**2 * z.sigma**2).sum(axis=axis, keepdims=True))
    denominator = tol.reduction_sigma(n, (e**2).sum(axis=axis, keepdims=True), total) / total
    rounding = tol.elementwise_sigma(y, ulps=tol.ELEMENTWISE_ULPS + 1)
    return Bounded(y, np.sqrt(propagated + rounding**2 + (y * denominator) ** 2))


def _keras_activation(name):
    import keras

    fn = keras.activations.get(name)
    return lambda v: np.asarray(fn(np.asarray(v, dtype=np.float64)), dtype=np.float64)


def _derivatives(f, z):
    """``f'(z)`` and ``f''(z)`` by central differences in float64 (step 1e-4 relative: the
    truncation error ~1e-8 relative is far below the float32 bounds they scale)."""
    h = 1e-4 * np.maximum(1.0, np.abs(z))
    up, mid, down = f(z + h), f(z), f(z - h)
    return (up - down) / (2 * h), (up - 2 * mid + down) / h**2


def _activation(fn, z: Bounded) -> Bounded:
    """An activation applied to ``z``. Elementwise ones: the input error times ``|f'(z)|``, and
    ELEMENTWISE_OPS functions each within ELEMENTWISE_ULPS ulps of their result, whose
    intermediates are of the size of ``y`` or of ``z f'(z)`` (a relative change of the input),
    e.g. ``x / 6 + 0.5`` near zero in hard_sigmoid, or of the size of ``z`` itself, e.g.
    ``x (1 + erf(x / sqrt 2)) / 2`` in gelu, whose sum cancels for negative ``x``."""
    name = getattr(fn, "__name__", fn) or "linear"
    if name == "linear":
        return z
    if name == "relu":  # exact, 1-Lipschitz
        return Bounded(np.maximum(z.value, 0), z.sigma)
    if name == "relu6":
        return Bounded(np.clip(z.value, 0, 6), z.sigma)
    if name == "softmax":
        return _softmax(z)
    if name == "log_softmax":  # y = z - logsumexp(z): dy = dz - sum softmax dz
        p = _softmax(Bounded(z.value, 0.0))
        y = np.log(p.value)
        propagated = z.sigma**2 + (p.value**2 * z.sigma**2).sum(axis=-1, keepdims=True)
        rounding = p.sigma / np.maximum(p.value, 1e-300) + tol.elementwise_sigma(y)
        return Bounded(y, np.sqrt(propagated + rounding**2))
    f = _keras_activation(name)
    y = f(z.value)
    slope, _ = _derivatives(f, z.value)
    scale = np.abs(y) + np.abs(z.value * slope) + np.abs(z.value)
    rounding = tol.elementwise_sigma(scale, ops=tol.ELEMENTWISE_OPS)
    return Bounded(y, np.sqrt((slope * z.sigma) ** 2 + rounding**2))


# --------------------------------------------------------------------------- layer rules


def _batch_norm_params(layer, ndim):
    params = {w.path.split("/")[-1]: np.asarray(w, dtype=np.float64) for w in layer.weights}
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    shape = [1] * ndim
    shape[axis] = -1
    reshape = lambda name, default: np.reshape(params.get(name, np.array([default])), shape)  # noqa: E731
    axes = tuple(a for a in range(ndim) if a != axis % ndim)
    return reshape, axes


def _batch_norm(layer, h: Bounded) -> Bounded:
    """Inference ``y = (h - m) s + beta`` with ``s = gamma / sqrt(v + eps)``: the input error
    scaled by ``|s|``, plus ``rsqrt`` (ELEMENTWISE_ULPS) and at most four roundings (add eps,
    subtract, multiply, add beta; implementations also fold ``m s`` into an offset), each
    relative to the sizes of the terms."""
    param, _ = _batch_norm_params(layer, h.value.ndim)
    gamma, b, m = param("gamma", 1.0), param("beta", 0.0), param("moving_mean", 0.0)
    s = gamma / np.sqrt(param("moving_variance", 1.0) + layer.epsilon)
    y = (h.value - m) * s + b
    terms = np.abs(s) * (np.abs(h.value) + np.abs(m)) + np.abs(b)
    rounding = (tol.ELEMENTWISE_ULPS + 4) * tol.U * terms
    return Bounded(y, np.sqrt((s * h.sigma) ** 2 + rounding**2))


def batch_norm_training(layer, x) -> Bounded:
    """Training ``y = (x - mean) gamma / sqrt(var + eps) + beta`` with the batch's statistics
    over ``n`` values a channel: the mean's sum (``reduction_sigma``), the deviations, the
    variance's sum of ``n`` squares, ``rsqrt`` and four roundings on the output's terms."""
    param, axes = _batch_norm_params(layer, x.ndim)
    gamma, b = param("gamma", 1.0), param("beta", 0.0)
    n = int(np.prod([x.shape[a] for a in axes]))
    mean = x.mean(axis=axes, keepdims=True)
    sigma_mean = tol.reduction_sigma(n, (x**2).sum(axis=axes, keepdims=True), n * mean) / n
    d = x - mean
    var = (d**2).mean(axis=axes, keepdims=True)
    sigma_var = tol.reduction_sigma(n, (d**4).sum(axis=axes, keepdims=True), n * var) / n
    sigma_var = np.sqrt(
        sigma_var**2 + (2 * np.abs(d) * sigma_mean).mean(axis=axes, keepdims=True) ** 2
    )
    r = 1 / np.sqrt(var + layer.epsilon)
    sigma_r = r * np.sqrt(
        (0.5 * sigma_var / (var + layer.epsilon)) ** 2 + (tol.ELEMENTWISE_ULPS * tol.U) ** 2
    )
    y = d * gamma * r + b
    terms = np.abs(d * gamma * r) + np.abs(b)
    sigma = np.sqrt(
        (gamma * r * np.sqrt(sigma_mean**2 + (tol.U * d) ** 2)) ** 2
        + (gamma * d * sigma_r) ** 2
        + (4 * tol.U * terms) ** 2
    )
    return Bounded(y, sigma)


# TensorFlow has no float64 3-D pooling kernels on CPU: these twins run in float32, which rounds
# the values they return by 6e-8 relative at most, immaterial in an error scale.
_FLOAT32_TWINS = {"MaxPooling3D", "AveragePooling3D"}


def _pool_twin(layer, x, **overrides) -> np.ndarray:
    config = dict(layer.get_config())
    config.pop("name", None)
    config["dtype"] = "float32" if type(layer).__name__ in _FLOAT32_TWINS else "float64"
    config.update(overrides)
    return np.asarray(type(layer).from_config(config)(x), dtype=np.float64)


def _max_pool(layer, h: Bounded) -> Bounded:
    """Selection: the float32 maximum of perturbed values is within the largest perturbation."""
    return Bounded(_pool_twin(layer, h.value), _pool_twin(layer, h.sigma))


def _mean_of(value, mean_of_squares, mean_of_sigma2, n) -> np.ndarray:
    """The error scale of a mean of ``n`` terms: the input errors averaged in quadrature, the
    sum's rounding (``n`` terms) and the division (1 ulp)."""
    rounding = tol.reduction_sigma(n, n * mean_of_squares, n * value) / n
    return np.sqrt(mean_of_sigma2 / n + rounding**2 + (tol.U * value) ** 2)


def _average_pool(layer, h: Bounded) -> Bounded:
    """With ``padding="same"`` border windows hold fewer than ``n`` cells: counting ``n`` terms
    and not dividing the input errors' mean by ``n`` over-estimates both there."""
    n = int(np.prod(layer.pool_size))
    value = _pool_twin(layer, h.value)
    squares = _pool_twin(layer, h.value**2)
    sigma2 = _pool_twin(layer, h.sigma**2)
    if layer.padding != "valid":
        sigma2 = sigma2 * n
    return Bounded(value, _mean_of(value, squares, sigma2, n))


def _global_average(layer, h: Bounded) -> Bounded:
    first = getattr(layer, "data_format", "channels_last") == "channels_first"
    axes = tuple(range(2, h.value.ndim)) if first else tuple(range(1, h.value.ndim - 1))
    keep = bool(getattr(layer, "keepdims", False))
    n = int(np.prod([h.value.shape[a] for a in axes]))
    value = h.value.mean(axis=axes, keepdims=keep)
    squares = (h.value**2).mean(axis=axes, keepdims=keep)
    return Bounded(value, _mean_of(value, squares, (h.sigma**2).mean(axis=axes, keepdims=keep), n))


def _add(values) -> Bounded:
    total = sum(v.value for v in values)
    sum_squares = sum(v.value**2 for v in values)
    rounding = tol.reduction_sigma(len(values), sum_squares, total)
    return Bounded(total, np.sqrt(sum(v.sigma**2 for v in values) + rounding**2))


def _concatenate(layer, values) -> Bounded:
    """Exact: values and their errors side by side."""
    return Bounded(
        np.concatenate([v.value for v in values], axis=layer.axis),
        np.concatenate([v.sigma for v in values], axis=layer.axis),
    )


def _moves(layer, h: Bounded) -> Bounded:
    """Layers that only move or select elements."""
    return Bounded(_pool_twin(layer, h.value), _pool_twin(layer, h.sigma))


def _relu_layer(layer, h: Bounded) -> Bounded:
    value = _pool_twin(layer, h.value)
    negative_slope = float(getattr(layer, "negative_slope", 0.0) or 0.0)
    return Bounded(value, max(1.0, negative_slope) * h.sigma)


LINEAR_LAYERS = {
    "Dense",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
}
_IDENTITY_AT_INFERENCE = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
}
_MOVES = {
    "Flatten",
    "Reshape",
    "Permute",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Cropping1D",
    "Cropping2D",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding3D",
    "Cropping3D",
    "UpSampling3D",
    "RepeatVector",
}


# Layers whose training forward pass is their inference one.
SAME_IN_TRAINING = LINEAR_LAYERS | {
    "MaxPooling1D",
    "MaxPooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "MaxPooling3D",
    "GlobalMaxPooling3D",
    "AveragePooling3D",
    "GlobalAveragePooling3D",
    "Add",
    "Concatenate",
    "ReLU",
    "Activation",
    "Softmax",
}

# Layers with a forward rule below besides the linear ones (the harness uses this list).
FORWARD_RULES = (SAME_IN_TRAINING - LINEAR_LAYERS) | {"BatchNormalization", "Concatenate"}


def layer_bound(layer, args) -> Bounded:
    """The output pair of one Keras layer given its input pair(s)."""
    kind = type(layer).__name__
    if kind in LINEAR_LAYERS:
        return _linear(layer, args)
    if kind == "BatchNormalization":
        return _batch_norm(layer, args)
    if kind in ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
                "MaxPooling3D", "GlobalMaxPooling3D"):  # fmt: skip
        return _max_pool(layer, args)
    if kind in ("AveragePooling1D", "AveragePooling2D", "AveragePooling3D"):
        return _average_pool(layer, args)
    if kind in ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"):
        return _global_average(layer, args)
    if kind == "Add":
        return _add(args)
    if kind == "Concatenate":
        return _concatenate(layer, args)
    if kind == "ReLU":
        return _relu_layer(layer, args)
    if kind == "Activation":
        return _activation(layer.activation, args)
    if kind == "Softmax":
        return _softmax(args, axis=layer.axis)
    if kind in _IDENTITY_AT_INFERENCE or kind == "InputLayer":
        return args
    if kind in _MOVES:
        return _moves(layer, args)
    if getattr(layer, "_functional", None) is not None or hasattr(layer, "_run_through_graph"):
        return _run(layer, args)
    raise NotImplementedError(f"no error bound rule for layer type {kind}")


def _run(model, inputs):
    def operation_fn(layer):
        return lambda *args, **kwargs: layer_bound(layer, args[0] if len(args) == 1 else list(args))

    if hasattr(model, "_functional") and model._functional is not None:
        model = model._functional
    return model._run_through_graph(inputs, operation_fn=operation_fn)


def _map(fn, structure):
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, v) for v in structure)
    return fn(structure)


def output_sigmas(model, x):
    """The error scales of a built Keras model's outputs on ``x``, in the outputs' structure
    (``x`` a single array or a list of arrays for several inputs)."""
    inputs = _map(lambda a: Bounded(np.asarray(a, dtype=np.float64), 0.0), x)
    return _map(lambda b: b.sigma, _run(model, inputs))


def output_sigma(model, x):
    """``(value, sigma)`` of a built single-output Keras model's output on ``x``."""
    out = _run(model, Bounded(np.asarray(x, dtype=np.float64), 0.0))
    return out.value, out.sigma


def assert_model_output_close(actual, expected, keras_model, x, what="model output"):
    """``actual`` and ``expected``, two float32 evaluations of ``keras_model`` on ``x``, agree
    within the propagated error scale (``tolerances.assert_sigma_close``)."""
    _, sigma = output_sigma(keras_model, x)
    tol.assert_sigma_close(actual, expected, sigma, what)


# --------------------------------------------------------------------------- one layer's step


def _activation_derivative(layer, z):
    """``f'(z)`` and the error scale of its float32 evaluation, for the elementwise activation a
    linear layer may end in (exact for relu and linear; softmax is not elementwise)."""
    name = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if name == "linear":
        return np.ones_like(z), np.zeros_like(z)
    if name == "relu":
        return (z > 0).astype(np.float64), np.zeros_like(z)
    if name in ("softmax", "log_softmax"):
        raise NotImplementedError(f"no elementwise derivative for {name!r}")
    slope, curvature = _derivatives(_keras_activation(name), z)
    scale = np.abs(slope) + np.abs(z * curvature)
    return slope, tol.elementwise_sigma(scale, ops=2 * tol.ELEMENTWISE_OPS)


def _vjps(layer, kernels, x, dz, **overrides):
    """``dL/dx`` and ``dL/dkernel`` of the float64 twin with ``kernels`` at ``x`` for upstream
    ``dz`` (a linear layer: both are linear in ``dz``)."""
    import tensorflow as tf

    config = dict(layer.get_config())
    config.pop("name", None)
    config.update(dtype="float64", activation="linear", use_bias=False, **overrides)
    twin = type(layer).from_config(config)
    twin.build(x.shape)
    twin.set_weights(kernels)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = twin(xt)
    grads = tape.gradient(out, [xt] + list(twin.trainable_weights), output_gradients=dz)
    return [np.asarray(g) for g in grads]


def linear_layer_step_sigmas(layer, x, dy):
    """Error scales of the forward output, ``dx`` and each trainable weight's gradient of one
    float32 step of a layer linear in its input and kernels (Dense, the convolutions), for
    input ``x`` and upstream gradient ``dy``; keyed ``"y"``, ``"dx"`` and the weights' names."""
    kernels, bias = _kernels(layer), _bias(layer)
    forward = _linear(layer, Bounded(x, 0.0))
    z = _twin(layer, kernels, x, activation="linear", use_bias=False) + bias
    derivative, derivative_sigma = _activation_derivative(layer, z)
    dz = dy * derivative  # the activation's derivative is elementwise
    dz_sigma = np.sqrt((dy * derivative_sigma) ** 2 + (tol.U * dz) ** 2)

    exact = _vjps(layer, kernels, x, dz)
    squares = _vjps(layer, [k**2 for k in kernels], x**2, dz**2)
    counts = _vjps(layer, [np.ones_like(k) for k in kernels], np.ones_like(x), np.ones_like(dz))
    propagated = _vjps(layer, [k**2 for k in kernels], x**2, dz_sigma**2)
    sigmas = {"y": forward.sigma}
    names = ["dx"] + [w.path.split("/")[-1] for w in layer.weights if "bias" not in w.path]
    for name, e, sq, n, p in zip(names, exact, squares, counts, propagated):
        sigmas[name] = np.sqrt(tol.reduction_sigma(n, sq, e) ** 2 + p)
    if np.ndim(bias):
        axes = tuple(range(dz.ndim - 1))
        n = int(np.prod([dz.shape[a] for a in axes]))
        rounding = tol.reduction_sigma(n, (dz**2).sum(axis=axes), dz.sum(axis=axes))
        sigmas["bias"] = np.sqrt(rounding**2 + (dz_sigma**2).sum(axis=axes))
    return sigmas
