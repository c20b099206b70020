"""The one parametrized harness that compares a numpykeras layer with the same Keras 3 layer.

A :class:`LayerCase` names a layer class (the same name in ``numpykeras.layers`` and
``keras.layers``), its keyword arguments and an input shape. :func:`run_case` builds both layers,
copies random weights from one to the other (Keras -> numpykeras by default, or the other way), and
compares, with tolerances from ``tests/tolerances.py`` only:

- the inference output (``layer(x)`` vs ``keras_layer(x, training=False)``);
- the ``forward(x, training)`` output vs the Keras call inside a ``tf.GradientTape``;
- ``dx`` and every trainable weight's gradient from ``backward`` vs ``tape.gradient`` with the same
  random upstream gradient ``dy``;
- after that (training) step, every weight, so BatchNormalization's moving statistics are checked.

TensorFlow's CPU convolution has no NCHW kernel, so a ``channels_first`` numpykeras layer can be
compared with a ``channels_last`` Keras layer on transposed data (``transpose=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numpykeras import layers as nk_layers

import error_bounds
import tolerances as tol


@dataclass
class LayerCase:
    """One comparison.

    Attributes:
        id: the pytest id.
        cls: the layer class name, e.g. ``"Conv2D"``.
        kwargs: keyword arguments for both layers.
        input_shape: the numpykeras input shape, batch axis included.
        training: the ``training`` flag of the gradient step.
        keras_kwargs: overrides of ``kwargs`` for the Keras layer only.
        transpose: the numpykeras layer is channels_first and the Keras layer channels_last; inputs
            and outputs are moved between NCHW and NHWC.
        weights_from: ``"keras"`` (Keras's random weights copied to numpykeras) or ``"numpykeras"``.
        input_scale: standard deviation of the random inputs.
        check_gradients: False for layers that are random in training (Dropout with a rate).
    """

    id: str
    cls: str
    kwargs: dict = field(default_factory=dict)
    input_shape: tuple = (2, 4)
    training: bool = False
    keras_kwargs: dict = field(default_factory=dict)
    transpose: bool = False
    weights_from: str = "keras"
    input_scale: float = 1.0
    check_gradients: bool = True


def _to_nhwc(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)) if a.ndim in (4, 5) else a


def _to_nchw(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if a.ndim in (4, 5) else a


def random_weights(shapes_and_names, rng):
    """Random values for weights of the given ``(name, shape)``: normal, variances in [0.5, 2]."""
    values = []
    for name, shape in shapes_and_names:
        if "variance" in name:
            values.append(rng.uniform(0.5, 2.0, size=shape).astype(np.float32))
        else:
            values.append(rng.normal(size=shape).astype(np.float32))
    return values


def build_pair(case: LayerCase, keras, seed=0):
    """Both layers built on ``case.input_shape`` with the same random weights; returns
    ``(numpykeras_layer, keras_layer, x, rng)``."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=case.input_shape) * case.input_scale).astype(np.float32)
    x_keras = _to_nhwc(x) if case.transpose else x

    ours = getattr(nk_layers, case.cls)(**case.kwargs)
    theirs = getattr(keras.layers, case.cls)(**{**case.kwargs, **case.keras_kwargs})
    ours(x)
    theirs(x_keras)

    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights], case.id
    assert [tuple(v.shape) for v in ours.weights] == [tuple(v.shape) for v in theirs.weights]
    assert [v.name for v in ours.trainable_weights] == [v.name for v in theirs.trainable_weights], (
        case.id
    )
    values = random_weights([(v.name, tuple(v.shape)) for v in ours.weights], rng)
    if case.weights_from == "keras":
        theirs.set_weights(values)
        ours.set_weights(theirs.get_weights())
    elif case.weights_from == "numpykeras":
        ours.set_weights(values)
        theirs.set_weights(ours.get_weights())
    else:
        raise ValueError(
            f"weights_from must be 'keras' or 'numpykeras'. Received: {case.weights_from}"
        )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    return ours, theirs, x, rng


def run_case(case: LayerCase, tf, keras, seed=0):
    """Compares outputs, gradients and updated weights of the two layers (see the module doc)."""
    ours, theirs, x, rng = build_pair(case, keras, seed)
    to_keras = _to_nhwc if case.transpose else (lambda a: a)
    from_keras = _to_nchw if case.transpose else (lambda a: a)
    x_keras = to_keras(x)

    # Sums are compared within their propagated float32 error scale (error_bounds.py);
    # elementwise layers within the elementwise tolerances.
    linear = case.cls in error_bounds.LINEAR_LAYERS
    sigmas = {}
    if linear or case.cls in error_bounds.FORWARD_RULES:
        forward = error_bounds.layer_bound(theirs, error_bounds.Bounded(x_keras, 0.0))
        sigmas["y"] = forward.sigma

    def check(actual, expected, key, what, elementwise):
        if key in sigmas:
            tol.assert_sigma_close(actual, expected, from_keras(sigmas[key]), what)
        else:
            elementwise(actual, expected, what)

    # Inference.
    y_ours = ours(x)
    y_theirs = from_keras(np.asarray(theirs(x_keras, training=False)))
    assert y_ours.dtype == np.float32, f"{case.id}: output dtype {y_ours.dtype}"
    check(y_ours, y_theirs, "y", f"{case.id}: inference output", tol.assert_forward_close)

    # One (training) step: forward, backward with a random dy, weights afterwards.
    y_ours, cache = ours.forward(x, training=case.training)
    dy = rng.normal(size=y_ours.shape).astype(np.float32)
    if not case.check_gradients:
        return
    xt = tf.constant(x_keras)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = theirs(xt, training=case.training)
    sources = [xt] + list(theirs.trainable_weights)
    grads_theirs = tape.gradient(yt, sources, output_gradients=tf.constant(to_keras(dy)))
    check(
        y_ours, from_keras(yt.numpy()), "y", f"{case.id}: forward output", tol.assert_forward_close
    )
    if linear and case.kwargs.get("activation") not in ("softmax", "log_softmax"):
        # (softmax's gradient is not elementwise: those two cases use the elementwise bounds)
        step = error_bounds.linear_layer_step_sigmas(theirs, x_keras, to_keras(dy))
        sigmas.update({k: v for k, v in step.items() if k != "y"})

    dx, grads = ours.backward(dy, cache)
    assert dx.dtype == np.float32, f"{case.id}: dx dtype {dx.dtype}"
    dx_theirs = from_keras(np.asarray(grads_theirs[0]))
    check(dx, dx_theirs, "dx", f"{case.id}: dx", tol.assert_grad_close)
    assert len(grads) == len(ours.trainable_weights), f"{case.id}: gradients for {list(grads)}"
    for variable, g_theirs in zip(ours.trainable_weights, grads_theirs[1:]):
        g = grads[variable]
        assert g.dtype == np.float32, f"{case.id}: d{variable.name} dtype {g.dtype}"
        what = f"{case.id}: d{variable.name}"
        if variable.name in sigmas:  # weights are never transposed
            tol.assert_sigma_close(g, np.asarray(g_theirs), sigmas[variable.name], what)
        else:
            tol.assert_grad_close(g, np.asarray(g_theirs), what)

    # Moving statistics (and everything else) after the step.
    for variable, w_theirs in zip(ours.weights, theirs.get_weights()):
        tol.assert_forward_close(
            variable.numpy(), w_theirs, f"{case.id}: {variable.name} after step"
        )
