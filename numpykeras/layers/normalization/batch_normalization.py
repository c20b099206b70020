"""``BatchNormalization``: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` per feature.

In training, ``mean`` and ``var`` are the batch's (biased) statistics over every axis but
``axis``, and the moving statistics follow ``moving = moving * momentum + batch * (1 - momentum)``.
At inference the moving statistics are used.
"""

from __future__ import annotations

import numpy as np

from numpykeras import constraints, initializers, regularizers
from numpykeras.layers.layer import InputSpec, Layer


class BatchNormalization(Layer):
    """Normalizes each feature with batch statistics (training) or moving statistics (inference).

    Args:
        axis: the feature axis (default -1, channels last). A one-element list (as in Keras 2 files)
            is accepted.
        momentum: momentum of the moving statistics (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: learn an offset ``beta``.
        scale: learn a scale ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer,
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: as in Keras.

    Input shape:
        Any shape with a defined ``axis``.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        for key in ("fused", "virtual_batch_size", "adjustment"):  # Keras 2 config keys
            value = kwargs.pop(key, None)
            if key != "fused" and value is not None:
                raise ValueError(f"numpykeras's BatchNormalization does not support `{key}`.")
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(
                    f"BatchNormalization supports a single `axis`. Received: axis={axis}"
                )
            axis = axis[0]
        if renorm:
            raise ValueError("numpykeras's BatchNormalization does not support `renorm=True`.")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)
        # Kept for get_config, which lists them as Keras 3 does (fix from the conformance tests).
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"Invalid axis {self.axis} for layer '{self.name}': input has {ndim} dimensions "
                f"(shape {input_shape})."
            )
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(
                f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                f"received an input with shape {input_shape}."
            )
        shape = (dim,)
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.moving_mean = self.add_weight(
            shape=shape,
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
        )
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})
        self.built = True

    def _layout(self, ndim):
        """The reduction axes and the shape that broadcasts a (C,) vector along ``axis``."""
        axis = self.axis % ndim
        reduce_axes = tuple(a for a in range(ndim) if a != axis)
        bshape = [1] * ndim
        bshape[axis] = -1
        return reduce_axes, tuple(bshape)

    def _affine(self, mean, var):
        """``(scale, offset)`` with ``normalize(x) = x * scale + offset``: ``scale = gamma /
        sqrt(var + epsilon)``, ``offset = beta - mean * scale``, both ``(C,)``."""
        inv = 1.0 / np.sqrt(var + np.asarray(self.epsilon, var.dtype))  # (C,)
        if self.gamma is not None:
            inv = inv * self.gamma.value
        offset = -mean * inv
        if self.beta is not None:
            offset = offset + self.beta.value
        return inv, offset

    def inference_affine(self):
        """The inference-mode transform as ``(scale, offset)`` vectors of the moving statistics:
        ``call(x) == x * scale + offset`` along ``axis``. A preceding convolution can fold them
        into its own output (``Conv2D.call_fused``)."""
        return self._affine(self.moving_mean.value, self.moving_variance.value)

    def _normalize(self, x, mean, var, bshape):
        scale, offset = self._affine(mean, var)
        y = x * scale.reshape(bshape)  # y = x * scale + offset, one new array
        y += offset.reshape(bshape)
        return y

    def call(self, inputs, training=False):
        if training and self.trainable:
            return self.forward(inputs, training=True)[0]
        _, bshape = self._layout(inputs.ndim)
        return self._normalize(inputs, self.moving_mean.value, self.moving_variance.value, bshape)

    def forward(self, inputs, training=False):
        # A frozen BatchNormalization runs in inference mode, as in Keras 3.
        if not (training and self.trainable):
            # The inputs are the cache: gamma/beta still get gradients in inference mode (fix from
            # the layer tests: the inference-mode backward used to return no weight gradients).
            return self.call(inputs), inputs
        reduce_axes, bshape = self._layout(inputs.ndim)
        mean = inputs.mean(axis=reduce_axes)  # (C,)
        xc = inputs - mean.reshape(bshape)
        var = np.mean(xc * xc, axis=reduce_axes)  # biased batch variance, (C,)
        inv_std = 1.0 / np.sqrt(var + np.asarray(self.epsilon, var.dtype))  # (C,)
        x_hat = xc * inv_std.reshape(bshape)
        y = x_hat * self.gamma.value.reshape(bshape) if self.gamma is not None else x_hat.copy()
        if self.beta is not None:
            y += self.beta.value.reshape(bshape)
        m = np.asarray(self.momentum, mean.dtype)
        self.moving_mean.assign(self.moving_mean.value * m + mean * (1 - m))
        self.moving_variance.assign(self.moving_variance.value * m + var * (1 - m))
        return y, (x_hat, inv_std)

    def backward(self, dy, cache, need_dx=True):
        reduce_axes, bshape = self._layout(dy.ndim)
        grads = {}
        if cache is None or isinstance(cache, np.ndarray):
            # inference-mode forward: y = gamma * (x - moving_mean) * inv + beta,
            # inv = 1 / sqrt(moving_variance + epsilon)
            inv = 1.0 / np.sqrt(self.moving_variance.value + np.asarray(self.epsilon, dy.dtype))
            if cache is not None and self.trainable:
                if self.beta is not None:
                    grads[self.beta] = dy.sum(axis=reduce_axes)
                if self.gamma is not None:
                    x_hat = (cache - self.moving_mean.value.reshape(bshape)) * inv.reshape(bshape)
                    grads[self.gamma] = (dy * x_hat).sum(axis=reduce_axes)
            scale = inv * self.gamma.value if self.gamma is not None else inv
            return (dy * scale.reshape(bshape) if need_dx else None), grads
        x_hat, inv_std = cache
        if self.beta is not None:
            grads[self.beta] = dy.sum(axis=reduce_axes)
        if self.gamma is not None:
            grads[self.gamma] = (dy * x_hat).sum(axis=reduce_axes)
        if not need_dx:
            return None, grads
        g = self.gamma.value if self.gamma is not None else np.ones_like(inv_std)
        dxhat = dy * g.reshape(bshape)
        count = dy.size // dy.shape[self.axis]
        # dx = inv_std / M * (M * dxhat - sum(dxhat) - x_hat * sum(dxhat * x_hat))
        mean_dxhat = dxhat.mean(axis=reduce_axes).reshape(bshape)
        mean_dxhat_xhat = (dxhat * x_hat).sum(axis=reduce_axes).reshape(bshape) / count
        dx = (dxhat - mean_dxhat - x_hat * mean_dxhat_xhat) * inv_std.reshape(bshape)
        return dx.astype(dy.dtype, copy=False), grads

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer
                ),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized,
                "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum,
            }
        )
        return config
