"""Symbolic tensors and the nodes that connect layers into a graph (the Functional API's substrate).

``Input(shape)`` returns a :class:`KerasTensor`; calling a layer on KerasTensors builds the layer,
infers output shapes with ``compute_output_shape`` and records a :class:`Node` (layer, input
tensors, output tensors) instead of computing anything.
"""

from __future__ import annotations

import numpy as np


class KerasTensor:
    """A placeholder with a shape (batch axis ``None``) and a dtype, and the layer that made it."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        # (layer, node_index, tensor_index), as Keras's ``_keras_history``.
        self._keras_history = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return (
            f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, "
            f"ragged=False, name={self.name}>"
        )

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "A KerasTensor is symbolic: it's a placeholder for a shape and a dtype. It doesn't "
            "have any actual numerical value. You cannot convert it to a NumPy array."
        )


class Node:
    """One call of ``layer`` on ``input_tensors`` that produced ``output_tensors``."""

    def __init__(self, layer, call_args, outputs, call_kwargs=None):
        self.layer = layer
        self.call_args = call_args  # the structure the layer was called with
        self.call_kwargs = dict(call_kwargs or {})
        self.input_tensors = [t for t in _flatten(call_args) if isinstance(t, KerasTensor)]
        self.outputs = outputs
        self.output_tensors = list(_flatten(outputs))
        node_index = len(layer._inbound_nodes)
        for i, tensor in enumerate(self.output_tensors):
            tensor._keras_history = (layer, node_index, i)
        layer._inbound_nodes.append(self)

    @property
    def parent_nodes(self) -> list:
        parents = []
        for t in self.input_tensors:
            layer, node_index, _ = t._keras_history
            parents.append(layer._inbound_nodes[node_index])
        return parents


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _flatten(item)
    elif isinstance(structure, dict):
        for key in structure:
            yield from _flatten(structure[key])
    else:
        yield structure


def _map(fn, structure):
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    return fn(structure)


def call_symbolic(layer, inputs, call_kwargs):
    """Build ``layer`` for the symbolic ``inputs``, check them, and return symbolic outputs."""
    shapes = _map(lambda t: t.shape if isinstance(t, KerasTensor) else np.shape(t), inputs)
    layer._maybe_build(shapes)
    layer._check_inputs(_map(lambda t: _ShapeOnly(t.shape), inputs))
    out_shapes = layer.compute_output_shape(shapes)

    def is_shape(s):
        return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)

    if is_shape(out_shapes):
        outputs = KerasTensor(out_shapes, dtype=layer.dtype, name=f"keras_tensor_{id(layer)}")
    else:
        outputs = _map_shapes(lambda s: KerasTensor(s, dtype=layer.dtype), out_shapes, is_shape)
    Node(layer, inputs, outputs, call_kwargs)
    return outputs


def _map_shapes(fn, shapes, is_shape):
    if is_shape(shapes):
        return fn(shapes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v, is_shape) for k, v in shapes.items()}
    return [_map_shapes(fn, s, is_shape) for s in shapes]


class _ShapeOnly:
    """Something with a ``.shape``, for input-spec checks on symbolic tensors."""

    def __init__(self, shape):
        self.shape = shape
