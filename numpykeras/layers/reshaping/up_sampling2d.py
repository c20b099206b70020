"""``UpSampling2D``: enlarges images by integer factors, by repetition or bilinear interpolation.

``"nearest"`` repeats each row ``size[0]`` times and each column ``size[1]`` times (Keras's
``ops.repeat``). ``"bilinear"`` is TensorFlow's ``tf.image.resize(..., method="bilinear")`` as Keras
calls it (``antialias=False``; TF2 resizes use half-pixel centers): output pixel ``o`` samples the
input at ``(o + 0.5) / size - 0.5``, clamped to the image, linearly between its two neighbours. That
interpolation is linear and separable, so it is a matrix per spatial axis: ``y = A_h x A_w^T``.
"""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple

_INTERPOLATIONS = ("nearest", "bilinear")


def bilinear_matrix(in_size: int, factor: int, dtype="float32") -> np.ndarray:
    """The ``(in_size * factor, in_size)`` matrix of TensorFlow's half-pixel bilinear resize.

    Row ``o`` holds the weights ``1 - t`` and ``t`` of the two input pixels around the sample point
    ``(o + 0.5) / factor - 0.5`` (both the edge pixel when the point falls outside the image).
    """
    out_size = in_size * factor
    src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5  # sample points, (out,)
    floor = np.floor(src)
    t = src - floor  # weight of the upper neighbour
    lower = np.clip(floor.astype(np.int64), 0, in_size - 1)
    upper = np.clip(np.ceil(src).astype(np.int64), 0, in_size - 1)
    rows = np.arange(out_size)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    matrix[rows, lower] += 1.0 - t  # each statement writes each row once: no repeated index
    matrix[rows, upper] += t
    return matrix.astype(dtype)


class UpSampling2D(Layer):
    """Upsampling layer for 2D inputs.

    Args:
        size: int or tuple of 2 ints, the upsampling factors for rows and columns (default 2).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` (default) or ``"bilinear"``.

    Input shape:
        ``(batch_size, rows, cols, channels)`` (channels last).

    Output shape:
        ``(batch_size, rows * size[0], cols * size[1], channels)``.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = normalize_tuple(size, 2, "size")
        if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
            raise ValueError(
                "numpykeras's UpSampling2D supports `interpolation` in "
                f"{set(_INTERPOLATIONS)}. Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation.lower()
        self.input_spec = InputSpec(ndim=4)

    def _nhwc(self, x):
        return np.moveaxis(x, 1, -1) if self.data_format == "channels_first" else x

    def _back(self, y):
        if self.data_format == "channels_first":
            return np.ascontiguousarray(np.moveaxis(y, -1, 1))
        return y

    def _matrices(self, h, w, dtype):
        return bilinear_matrix(h, self.size[0], dtype), bilinear_matrix(w, self.size[1], dtype)

    def call(self, inputs, training=False):
        x = self._nhwc(inputs)
        sh, sw = self.size
        if self.interpolation == "nearest":
            y = np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)
        else:
            a_h, a_w = self._matrices(x.shape[1], x.shape[2], x.dtype)
            y = np.einsum("oh,nhwc->nowc", a_h, x, optimize=True)  # (N, Ho, W, C)
            y = np.einsum("pw,nowc->nopc", a_w, y, optimize=True)  # (N, Ho, Wo, C)
        return self._back(y)

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        g = self._nhwc(dy)
        n, ho, wo, c = g.shape
        sh, sw = self.size
        h, w = ho // sh, wo // sw
        if self.interpolation == "nearest":
            # every input pixel was copied to an (sh, sw) block: sum the block
            dx = g.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))
        else:
            a_h, a_w = self._matrices(h, w, g.dtype)
            dx = np.einsum("pw,nopc->nowc", a_w, g, optimize=True)  # A_w^T along columns
            dx = np.einsum("oh,nowc->nhwc", a_h, dx, optimize=True)  # A_h^T along rows
        return self._back(dx), {}

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis, factor in zip(axes, self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "size": self.size,
                "data_format": self.data_format,
                "interpolation": self.interpolation,
            }
        )
        return config
