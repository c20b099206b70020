"""``LayerNormalization``: normalizes each sample over its feature axes.

``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` where ``mean`` and ``var`` (biased) are
taken over ``axis`` for each sample separately, so training and inference compute the same thing.
With the deprecated ``rms_scaling=True`` Keras computes ``y = gamma * x / sqrt(var + epsilon)`` (it
divides by the variance-based scale, not the root mean square, and has no ``beta``); so does this.
"""

from __future__ import annotations

import numpy as np

from numpykeras import constraints, initializers, regularizers
from numpykeras.layers.layer import Layer


class LayerNormalization(Layer):
    """Layer normalization (Ba et al., 2016).

    Args:
        axis: int or list of ints, the axes normalized over (and that ``gamma``/``beta`` span);
            default -1.
        epsilon: added to the variance (default 1e-3).
        center: learn an offset ``beta``.
        scale: learn a scale ``gamma``.
        rms_scaling: deprecated Keras option (see the module docstring).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint,
        gamma_constraint: as in Keras.

    Input shape:
        Any shape with defined sizes on ``axis``.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
                raise TypeError(
                    "Expected an int or a list/tuple of ints for the argument 'axis', but "
                    f"received: {axis!r}"
                )
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(
                "Expected an int or a list/tuple of ints for the argument 'axis', but received: "
                f"{axis!r}"
            )
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def _axes_list(self):
        return self.axis if isinstance(self.axis, list) else [self.axis]

    def _check_axes(self, input_shape):
        ndim = len(input_shape)
        for axis in self._axes_list():
            if axis >= ndim or axis < -ndim:
                raise ValueError(
                    f"Axis {axis} is out of bounds for input shape {tuple(input_shape)}. "
                    f"Received: axis={self.axis} (layer '{self.name}')"
                )

    def build(self, input_shape):
        self._check_axes(input_shape)
        # Keras keeps the axes as given (sorted, not made positive) in a list once built.
        self.axis = sorted(self._axes_list())
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(
                f"Layer '{self.name}' needs defined sizes on the normalized axes {self.axis}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.built = True

    def _layout(self, ndim):
        """The normalized axes (non-negative), the other axes, and the weights' broadcast shape."""
        axes = tuple(sorted(a % ndim for a in self.axis))
        others = tuple(a for a in range(ndim) if a not in axes)
        bshape = tuple(-1 if a in axes else 1 for a in range(ndim))
        return axes, others, bshape

    def _weight(self, variable, shape_len, bshape):
        # gamma/beta have one axis per normalized axis, in order: reshape to broadcast against x
        full = [1] * shape_len
        it = iter(variable.value.shape)
        for a, b in enumerate(bshape):
            if b == -1:
                full[a] = next(it)
        return variable.value.reshape(full)

    def _compute(self, x):
        axes, _, bshape = self._layout(x.ndim)
        eps = np.asarray(self.epsilon, x.dtype)
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)  # biased variance
        inv_std = 1.0 / np.sqrt(var + eps)
        gamma = None if self.gamma is None else self._weight(self.gamma, x.ndim, bshape)
        if self.rms_scaling:
            x_hat = x * inv_std  # Keras's deprecated variant keeps the mean
            y = x_hat * gamma
        else:
            x_hat = xc * inv_std
            y = x_hat * gamma if gamma is not None else x_hat
            if self.beta is not None:
                y = y + self._weight(self.beta, x.ndim, bshape)
        return y.astype(x.dtype, copy=False), (x_hat, xc, inv_std)

    def call(self, inputs, training=False):
        return self._compute(inputs)[0]

    def forward(self, inputs, training=False):
        return self._compute(inputs)

    def backward(self, dy, cache, need_dx=True):
        x_hat, xc, inv_std = cache
        axes, others, bshape = self._layout(dy.ndim)
        grads = {}
        if self.beta is not None:
            grads[self.beta] = dy.sum(axis=others).reshape(self.beta.shape)
        if self.gamma is not None:
            grads[self.gamma] = (dy * x_hat).sum(axis=others).reshape(self.gamma.shape)
        if not need_dx:
            return None, grads
        g = dy
        if self.gamma is not None:
            g = dy * self._weight(self.gamma, dy.ndim, bshape)  # dL/dx_hat
        count = np.prod([dy.shape[a] for a in axes])
        if self.rms_scaling:
            # x_hat = x * r, r = (var + eps)^-1/2, dvar/dx = 2 (x - mean) / M:
            # dx = r * g - r^3 * (x - mean) / M * sum(g * x)
            gx = (g * x_hat).sum(axis=axes, keepdims=True) / inv_std  # sum(g * x)
            dx = inv_std * g - inv_std**3 * xc * gx / count
        else:
            # dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
            mean_g = g.mean(axis=axes, keepdims=True)
            mean_gx = (g * x_hat).sum(axis=axes, keepdims=True) / count
            dx = inv_std * (g - mean_g - x_hat * mean_gx)
        return dx.astype(dy.dtype, copy=False), grads

    def compute_output_shape(self, input_shape):
        self._check_axes(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
            }
        )
        return config
