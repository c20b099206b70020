"""``PReLU``: a leaky ReLU whose negative slopes ``alpha`` are learned."""

from __future__ import annotations

import numpy as np

from numpykeras import constraints, initializers, regularizers
from numpykeras.layers.layer import InputSpec, Layer
from numpykeras.layers.merging.base_merge import sum_to_shape


class PReLU(Layer):
    """Parametric rectified linear unit: ``y = x`` for ``x > 0``, ``y = alpha * x`` otherwise.

    ``alpha`` has one entry per input element (batch axis excluded), or one shared entry along each
    axis in ``shared_axes``.

    Args:
        alpha_initializer: initializer of ``alpha`` (default ``"Zeros"``).
        alpha_regularizer: optional regularizer of ``alpha``.
        alpha_constraint: optional constraint on ``alpha``.
        shared_axes: int or list of ints (1 = the first axis after the batch axis) along which
            ``alpha`` is shared, e.g. ``[1, 2]`` for one slope per channel of an image.

    Input shape:
        Any shape ``(batch_size, ...)``.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)
        for axis in self.shared_axes or []:
            if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or axis < 1:
                raise ValueError(
                    "`shared_axes` must contain positive integers (axis 0 is the batch axis). "
                    f"Received: shared_axes={shared_axes}"
                )

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(param_shape):
                raise ValueError(
                    f"`shared_axes` entry {axis} of layer '{self.name}' is out of range for "
                    f"inputs of shape {tuple(input_shape)}."
                )
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"Layer '{self.name}' needs defined sizes on every axis that is not in "
                f"`shared_axes`. Received: input_shape={tuple(input_shape)}, "
                f"shared_axes={self.shared_axes}"
            )
        self.alpha = self.add_weight(
            shape=tuple(param_shape),
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        if self.shared_axes:
            axes = {
                i: input_shape[i] for i in range(1, len(input_shape)) if i not in self.shared_axes
            }
        else:
            axes = {i: input_shape[i] for i in range(1, len(input_shape))}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs, training=False):
        # y = relu(x) - alpha * relu(-x)
        return np.maximum(inputs, 0) - self.alpha.value * np.maximum(-inputs, 0)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        alpha = self.alpha.value
        # dL/dalpha = sum of dy * -relu(-x) = dy * min(x, 0) over the batch and shared axes
        dalpha = sum_to_shape(dy * np.minimum(x, 0), (1,) + alpha.shape).reshape(alpha.shape)
        grads = {self.alpha: dalpha}
        if not need_dx:
            return None, grads
        # slope 1 where x > 0, alpha where x < 0, 0 at x == 0 (relu'(0) = 0, as in TensorFlow)
        slope = (x > 0).astype(dy.dtype) + alpha * (x < 0)
        return dy * slope, grads

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes,
            }
        )
        return config
