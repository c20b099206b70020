"""Symbolic tensors and the nodes that connect layers into a graph (the Functional API's substrate).

``Input(shape)`` returns a :class:`KerasTensor`; calling a layer on KerasTensors builds the layer,
infers output shapes with ``compute_output_shape`` and records a :class:`Node` (layer, input
tensors, output tensors) instead of computing anything.
"""

from __future__ import annotations

import inspect
import warnings
from contextlib import nullcontext

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

    # Python operators make op nodes (``x * 2.0``, ``x[:, 1:]``, ``x > 0``), as on Keras's
    # KerasTensor: the same set (no ``==``, which stays identity; ``!=`` is elementwise).
    for _name, _op, _reflected in [
        ("add", "add", False), ("radd", "add", True), ("sub", "subtract", False),
        ("rsub", "subtract", True), ("mul", "multiply", False), ("rmul", "multiply", True),
        ("matmul", "matmul", False), ("rmatmul", "matmul", True),
        ("truediv", "true_divide", False), ("rtruediv", "true_divide", True),
        ("pow", "power", False), ("rpow", "power", True),
        ("floordiv", "floor_divide", False), ("rfloordiv", "floor_divide", True),
        ("mod", "mod", False), ("rmod", "mod", True), ("lt", "less", False),
        ("le", "less_equal", False), ("gt", "greater", False), ("ge", "greater_equal", False),
        ("ne", "not_equal", False), ("and", "logical_and", False),
        ("rand", "logical_and", True), ("or", "logical_or", False),
        ("ror", "logical_or", True), ("xor", "logical_xor", False),
        ("rxor", "logical_xor", True), ("getitem", "get_item", False),
    ]:  # fmt: skip
        locals()[f"__{_name}__"] = (
            lambda op, reflected: (
                lambda self, other: (
                    _symbolic_op(op)(other, self) if reflected else _symbolic_op(op)(self, other)
                )
            )
        )(_op, _reflected)
    del _name, _op, _reflected

    def __neg__(self):
        return _symbolic_op("negative")(self)

    def __abs__(self):
        return _symbolic_op("absolute")(self)

    def __invert__(self):
        return _symbolic_op("logical_not")(self)

    def __round__(self, ndigits=None):
        return _symbolic_op("round")(self, decimals=ndigits or 0)

    __hash__ = object.__hash__


def _symbolic_op(name):
    from numpykeras import ops

    return getattr(ops, name)


class Node:
    """One call of ``layer`` that produced ``output_tensors``.

    Attributes:
        call_args: the first positional argument of the call (the inputs: a tensor, or a list
            or dict of them).
        extra_args: the further positional arguments (``layer(a, b)``), a tuple.
        call_kwargs: the keyword arguments (``training`` when it was given; tensors too).
        input_tensors: every ``KerasTensor`` the call read, in argument order (a dict's by sorted
            key, as Keras's ``tree.flatten``; the graph walk, and so ``model.layers``, follow it).
    """

    def __init__(self, layer, call_args, outputs, call_kwargs=None, extra_args=()):
        self.layer = layer
        self.call_args = call_args  # the structure the layer was called with
        self.extra_args = tuple(extra_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.input_tensors = [
            t
            for t in _flatten(
                [call_args, list(self.extra_args), list(self.call_kwargs.values())],
                sort_keys=True,
            )
            if isinstance(t, KerasTensor)
        ]
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


def _flatten(structure, sort_keys=False):
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _flatten(item, sort_keys)
    elif isinstance(structure, dict):
        for key in sorted(structure) if sort_keys else structure:
            yield from _flatten(structure[key], sort_keys)
    else:
        yield structure


def _map(fn, structure):
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    return fn(structure)


def _shape(t):
    return t.shape if isinstance(t, KerasTensor) else np.shape(t)


def call_symbolic(layer, args, call_kwargs):
    """Build ``layer`` for the symbolic arguments, check them, and return symbolic outputs.

    Args:
        layer: the layer called.
        args: the positional arguments (a tuple; the first is the inputs).
        call_kwargs: the keyword arguments (``training`` if given, tensors, other values).
    """
    from numpykeras.layers.layer import _call_signature, _named_shapes

    inputs, extra = args[0], tuple(args[1:])
    sig = _call_signature(type(layer))
    shapes = _map(_shape, inputs)
    if not layer.built and sig.build_shape_args is not None:
        layer._maybe_build_named(
            _named_shapes(sig, args, call_kwargs, shape_of=lambda v: _map(_shape, v))
        )
    else:
        layer._maybe_build(shapes)
    layer._check_inputs(_map(lambda t: _ShapeOnly(_shape(t)), inputs))
    outputs = _output_spec(layer, sig, args, call_kwargs)
    if outputs is None:
        outputs = _spec_from_shapes(*_output_shapes(layer, sig, args, call_kwargs), layer)
    Node(layer, inputs, outputs, call_kwargs, extra_args=extra)
    return outputs


def _spec_from_shapes(out_shapes, dtype, layer):
    """KerasTensors of ``dtype`` for a shape, or a list or dict of shapes (nested)."""

    def is_shape(s):
        return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)

    if is_shape(out_shapes):
        return KerasTensor(out_shapes, dtype=dtype, name=f"keras_tensor_{id(layer)}")
    return _map_shapes(lambda s: KerasTensor(s, dtype=dtype), out_shapes, is_shape)


def _output_spec(layer, sig, args, call_kwargs):
    """The symbolic outputs of a layer that overrides ``compute_output_spec``, called as Keras
    calls it: with the call's arguments, keyword arguments included (so that e.g.
    ``return_attention_scores=True`` gives two outputs); ``None`` for other layers, whose
    outputs come from :func:`_output_shapes` (what the base ``compute_output_spec`` returns)."""
    from numpykeras.layers.layer import Layer

    if type(layer).compute_output_spec is Layer.compute_output_spec:
        return None
    kwargs = dict(call_kwargs)
    if not sig.accepts_training:
        kwargs.pop("training", None)
    spec = layer.compute_output_spec(*args, **kwargs)

    def fresh(t):
        if t is None:
            return None
        if not hasattr(t, "shape"):
            raise TypeError(
                f"Method `compute_output_spec()` of layer '{layer.name}' "
                f"({type(layer).__name__}) must return KerasTensors (or a list, tuple or dict "
                f"of them). Received: {t!r}"
            )
        dtype = getattr(t, "dtype", None) or layer.dtype
        return KerasTensor(tuple(t.shape), dtype=str(np.dtype(dtype)))

    if isinstance(spec, (list, tuple, dict)):
        return _map(fresh, spec)
    output = fresh(spec)
    output.name = f"keras_tensor_{id(layer)}"
    return output


def _output_shapes(layer, sig, args, call_kwargs):
    """``(output shape structure, dtype)`` of a symbolic call.

    ``compute_output_shape`` gives it, called as Keras calls it: with the shape of the first
    argument, or, when it takes several ``<argument>_shape`` parameters, with each named
    argument's shape. A layer defined outside numpykeras that does not implement
    ``compute_output_shape`` is run once on zeros of its input shapes instead, since Keras
    finds such a layer's output shape by tracing its ``call``.
    """
    if uses_traced_shapes(layer):
        traced = _trace_output_shapes(layer, args, call_kwargs)
        if traced is not None:
            return traced
    names = [
        p.name
        for p in inspect.signature(layer.compute_output_shape).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if len(names) > 1:
        values = dict(zip(_call_arg_names(layer), args))
        values.update(call_kwargs)
        shapes = {}
        for name in names:
            value = values.get(name[: -len("_shape")]) if name.endswith("_shape") else None
            shapes[name] = None if value is None else _map(_shape, value)
        return layer.compute_output_shape(**shapes), layer.dtype
    return layer.compute_output_shape(_map(_shape, args[0])), layer.dtype


def uses_traced_shapes(layer) -> bool:
    """Whether ``layer``'s output shapes come from running it (a layer defined outside
    numpykeras without its own ``compute_output_shape``), not from ``compute_output_shape``."""
    from numpykeras.layers.layer import Layer

    cls = type(layer)
    return cls.compute_output_shape is Layer.compute_output_shape and not (
        cls.__module__.startswith("numpykeras.")
    )


def _call_arg_names(layer) -> list:
    from numpykeras.layers.layer import _call_signature

    return _call_signature(type(layer)).arg_names


# The batch size of the zeros a layer without ``compute_output_shape`` is traced on.
_TRACE_BATCH = 2


def _trace_output_shapes(layer, args, call_kwargs):
    """Run ``layer`` on zeros shaped like its symbolic arguments: ``(output shapes, dtype)``,
    or ``None`` when that is not possible (an unknown size other than the batch axis)."""
    tensors = [t for t in _flatten([list(args), list(call_kwargs.values())])]
    tensors = [t for t in tensors if isinstance(t, KerasTensor)]
    if any(None in t.shape[1:] for t in tensors):
        return None
    batch_unknown = any(t.shape and t.shape[0] is None for t in tensors)

    def zeros(t):
        if not isinstance(t, KerasTensor):
            return t
        shape = tuple(_TRACE_BATCH if d is None else d for d in t.shape)
        return np.zeros(shape, dtype=t.dtype)

    from numpykeras.layers.layer import unknown_batch

    kwargs = {k: _map(zeros, v) for k, v in call_kwargs.items()}
    training = kwargs.pop("training", None)
    try:
        # The zeros' batch size stands in for the symbolic one: what the run builds records
        # batch `None`, as Keras's trace does.
        with np.errstate(all="ignore"), unknown_batch() if batch_unknown else nullcontext():
            out = layer(*[_map(zeros, a) for a in args], training=training, **kwargs)
    except Exception as e:  # noqa: BLE001  the layer's own error, reported below
        warnings.warn(
            f"Layer '{layer.name}' ({type(layer).__name__}) has no `compute_output_shape()` "
            "and could not be run on zeros of its input shapes to find its output shape "
            f"({type(e).__name__}: {e}). Its outputs are assumed to have its inputs' shape; "
            "implement `compute_output_shape()` if they do not.",
            stacklevel=4,
        )
        return None
    dtypes = [np.asarray(o).dtype for o in _flatten(out) if o is not None]
    dtype = str(dtypes[0]) if dtypes else layer.dtype

    def shape_of(o):
        shape = tuple(int(d) for d in np.shape(o))
        if batch_unknown and shape and shape[0] == _TRACE_BATCH:
            shape = (None,) + shape[1:]
        return shape

    return _map(shape_of, out), dtype


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
