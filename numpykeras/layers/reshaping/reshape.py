"""``Reshape``: gives each sample a new shape (one entry may be ``-1``)."""

from __future__ import annotations

import math

from numpykeras.layers.layer import Layer


class Reshape(Layer):
    """Reshapes each sample to ``target_shape``.

    Args:
        target_shape: tuple of ints, without the batch axis; one entry may be ``-1``.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, *target_shape)``.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"`target_shape` must be a tuple of integers. Received: target_shape={target_shape}"
            ) from None
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(
                "`target_shape` may contain at most one -1 and otherwise positive integers. "
                f"Received: target_shape={target_shape}"
            )
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        size = None if any(d is None for d in input_shape[1:]) else math.prod(input_shape[1:])
        if -1 not in self.target_shape:
            if size is not None and size != math.prod(self.target_shape):
                raise ValueError(
                    f"The total size of the input ({size}) does not match the target shape "
                    f"{self.target_shape} of layer '{self.name}': input shape {input_shape}."
                )
            return self.target_shape
        known = math.prod(d for d in self.target_shape if d != -1)
        if size is None:
            return tuple(None if d == -1 else d for d in self.target_shape)
        if size % known:
            raise ValueError(
                f"The total size of the input ({size}) is not divisible by the known dimensions of "
                f"the target shape {self.target_shape} of layer '{self.name}'."
            )
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def call(self, inputs, training=False):
        return inputs.reshape((inputs.shape[0],) + self._resolve(inputs.shape))

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        return dy.reshape(cache), {}

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(input_shape)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
