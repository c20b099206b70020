"""``InputLayer`` and ``Input``: where a model's data enters."""

from __future__ import annotations

from numpykeras import backend
from numpykeras.layers.layer import Layer, standardize_shape, to_snake_case, unique_name
from numpykeras.layers.node import KerasTensor, Node


class InputLayer(Layer):
    """The entry point of a model: holds the shape of its inputs, computes nothing.

    Args:
        shape: the shape of one sample, without the batch axis, e.g. ``(32, 32, 3)``.
        batch_size: optional fixed batch size.
        batch_shape: the full shape, batch axis included (instead of ``shape``).
        dtype: the dtype of the inputs, float32 by default.
        name: the layer name (``input_layer``, ``input_layer_1``, ... by default).
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        **kwargs,
    ):
        # Keras 2 configs spell these input_shape / batch_input_shape and carry `ragged`.
        kwargs.pop("ragged", None)
        if shape is None and kwargs.get("input_shape") is not None:
            shape = kwargs.pop("input_shape")
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("input_shape", None)
        kwargs.pop("batch_input_shape", None)
        if sparse:
            raise ValueError("numpykeras does not support sparse inputs (`sparse=True`).")
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "You cannot pass both `shape` and `batch_shape` at the same time. "
                f"Received: shape={shape}, batch_shape={batch_shape}"
            )
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if batch_shape is None:
            batch_shape = (batch_size,) + standardize_shape(shape)
        name = name or unique_name(to_snake_case("InputLayer"))
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = standardize_shape(batch_shape)
        self._batch_input_shape = None
        self.optional = optional
        self.sparse = False
        self.built = True
        output = KerasTensor(self.batch_shape, dtype=self.dtype, name=self.name)
        Node(self, [], output)
        self._output_tensor = output

    def call(self, inputs, training=False):
        return inputs

    def forward(self, inputs, training=False):
        return inputs, None

    def backward(self, dy, cache, need_dx=True):
        return dy, {}

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {
            "batch_shape": self.batch_shape,
            "dtype": self.dtype,
            "sparse": False,
            "ragged": False,
            "name": self.name,
            "optional": self.optional,
        }


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
):
    """A symbolic input: ``keras.Input(shape=(32, 32, 3))`` starts a model.

    Returns:
        A ``KerasTensor`` of shape ``(batch_size, *shape)``.
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=backend.standardize_dtype(dtype),
        sparse=sparse,
        batch_shape=batch_shape,
        name=name,
        optional=optional,
    )
    return layer._output_tensor
