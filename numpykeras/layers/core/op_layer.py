"""``OpLayer``: one ``keras.ops`` call in a functional graph (Keras 3's ``Operation`` node).

``keras.ops.mean(x, axis=1)`` on a ``KerasTensor`` records an ``OpLayer`` holding the op's name
(``"mean"``) and its constructor arguments (``{"axis": 1, "keepdims": False}``); the node keeps the
call arguments (tensors and inline values such as the ``0`` of ``ops.not_equal(x, 0)``). Running
the node runs the op on arrays, so under a ``GradientTape`` it is differentiated like any other
op. It is saved as Keras saves an ``Operation``: module ``keras.src.ops.<submodule>``, the Keras
class name (``Mean``) and ``config`` ``{"name": ..., <constructor arguments>}``.
"""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import Layer, to_snake_case, unique_name
from numpykeras.layers.node import KerasTensor, Node, _flatten, _map
from numpykeras.ops import symbolic
from numpykeras.ops._keras_op_classes import KERAS_OPS

# Keras class name -> op name, for loading.
_BY_CLASS = {info[1]: name for name, info in sorted(KERAS_OPS.items(), reverse=True)}

# The batch sizes the op is run with on zeros to find its output shape: a dimension that differs
# between the two runs is reported as ``None``.
_SPEC_SIZES = (2, 3)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _submodule(name: str) -> str:
    if name in KERAS_OPS:
        return KERAS_OPS[name][0]
    module = getattr(symbolic.RAW_OPS.get(name), "__module__", "") or ""
    return module.rsplit(".", 1)[-1] if module.startswith("numpykeras.ops.") else "numpy"


def _contains_keras_tensor(structure) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(structure))


class OpLayer(Layer):
    """A ``keras.ops`` function applied in a functional model.

    Args:
        op: the op's public name (``"add"``, ``"reshape"``, ``"softmax"``).
        op_kwargs: its constructor (non-tensor) arguments, a dict.
        name: the node's name (default: Keras's, the snake-case class name made unique).

    Input shape:
        Whatever the op takes.

    Output shape:
        Whatever the op returns, found by running it on zeros (see ``compute_output_spec``).
    """

    def __init__(self, op, op_kwargs=None, name=None, **kwargs):
        if op not in symbolic.RAW_OPS:
            raise ValueError(f"Unknown op: '{op}' is not a public `keras.ops` function.")
        self.op = op
        self.op_kwargs = dict(op_kwargs or {})
        self.class_name = KERAS_OPS[op][1] if op in KERAS_OPS else _camel(op)
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name or unique_name(to_snake_case(self.class_name)), **kwargs)
        self.built = True

    # -- building nodes -----------------------------------------------------------------
    @classmethod
    def from_call(cls, op, args, kwargs):
        """The symbolic result of ``ops.<op>(*args, **kwargs)`` (an argument is a KerasTensor):
        Keras's split of the arguments into call arguments (kept on the node) and constructor
        arguments (kept on the layer)."""
        sig = symbolic.signature(op)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"Invalid arguments for `ops.{op}`: {e}") from None
        params = [p for p in sig.parameters.values()]
        names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        keras_call = KERAS_OPS[op][3] if op in KERAS_OPS else names[:1]
        call_names = [n for n in keras_call if n in names]
        if len(call_names) != len(keras_call):
            call_names = names[: len(keras_call)]
        given = dict(bound.arguments)
        for p in params:  # `**kwargs` of the op: its entries are keyword arguments
            if p.kind is p.VAR_KEYWORD:
                given.update(given.pop(p.name, {}))
            elif p.kind is p.VAR_POSITIONAL:
                raise TypeError(f"`ops.{op}` takes `*{p.name}` and can't be called symbolically.")
        call_args, call_kwargs = [], {}
        for n in call_names:
            if n not in given:
                continue
            if len(call_args) == call_names.index(n) and not call_kwargs:
                call_args.append(given.pop(n))
            else:
                call_kwargs[n] = given.pop(n)
        op_kwargs = {}
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        for n in names:
            if n in call_names:
                continue
            value = given.pop(n, defaults.get(n))
            if _contains_keras_tensor(value):
                call_kwargs[n] = value
            elif n in given or n in defaults or value is not None:
                op_kwargs[n] = value
        for n, value in given.items():  # entries of the op's **kwargs
            (call_kwargs if _contains_keras_tensor(value) else op_kwargs)[n] = value
        layer = cls(op, op_kwargs)
        return layer(*call_args, **call_kwargs)

    def __call__(self, *args, **kwargs):
        kwargs.pop("training", None)  # the graph runner passes it; ops don't take it
        if not args:
            raise TypeError(f"`ops.{self.op}` node '{self.name}' called without arguments.")
        if _contains_keras_tensor([list(args), list(kwargs.values())]):
            outputs = self.compute_output_spec(*args, **kwargs)
            Node(self, args[0], outputs, kwargs, extra_args=args[1:])
            return outputs
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        if self.op == "get_item" and len(args) > 1 and isinstance(args[1], list):
            args = (args[0], tuple(args[1]), *args[2:])  # a key saved as a JSON list
        return symbolic.RAW_OPS[self.op](*args, **kwargs, **self.op_kwargs)

    # The graph runner's kernel interface: an op node has no backward of its own (it trains
    # through the tape), but may be asked for its forward value.
    def _prepare_inputs(self, inputs):
        return inputs

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors for the op's outputs: the op is run on zeros shaped like its symbolic
        arguments, once with every unknown (``None``) dimension 2 and once with it 3; an output
        dimension that differs between the runs is unknown (``None``). Dtypes are the op's."""
        runs = []
        for size in _SPEC_SIZES:

            def zeros(t, size=size):
                if not isinstance(t, KerasTensor):
                    return t
                shape = tuple(size if d is None else d for d in t.shape)
                return np.zeros(shape, dtype=t.dtype)

            cargs = [_map(zeros, a) for a in args]
            ckwargs = {k: _map(zeros, v) for k, v in kwargs.items()}
            try:
                with np.errstate(all="ignore"):
                    runs.append(self.call(*cargs, **ckwargs))
            except Exception as e:  # noqa: BLE001  reported with the op's name
                raise type(e)(
                    f"`ops.{self.op}` could not be applied to symbolic inputs "
                    f"{[t for t in _flatten([cargs, ckwargs]) if isinstance(t, np.ndarray)]!r} "
                    f"(shapes with unknown dimensions set to {size}): {e}"
                ) from e

        def spec(a, b):
            a, b = np.asarray(a), np.asarray(b)
            shape = tuple(
                da if da == db else None for da, db in zip(a.shape, b.shape, strict=False)
            )
            return KerasTensor(shape, dtype=str(a.dtype), name=f"keras_tensor_{id(self)}")

        first, second = runs
        if isinstance(first, (list, tuple)):
            return type(first)(spec(a, b) for a, b in zip(first, second, strict=True))
        return spec(first, second)

    def compute_output_shape(self, *args, **kwargs):
        raise NotImplementedError(
            f"`ops.{self.op}` node '{self.name}': output shapes come from the symbolic call."
        )

    # -- serialization ---------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "op": self.op, "op_kwargs": dict(self.op_kwargs)}

    def keras_serialize(self) -> dict:
        """The layer's entry in a functional config, as Keras writes an ``Operation``."""
        config = {"name": self.name}
        for key, value in self.op_kwargs.items():
            config[key] = list(value) if isinstance(value, tuple) else value
        return {
            "module": f"keras.src.ops.{_submodule(self.op)}",
            "class_name": self.class_name,
            "config": config,
            "registered_name": self.class_name,
        }

    @classmethod
    def from_keras_config(cls, entry):
        """An ``OpLayer`` from a saved op entry (module ``keras.src.ops.*``)."""
        class_name = entry.get("class_name")
        op = _BY_CLASS.get(class_name)
        if op is None and to_snake_case(str(class_name)) in symbolic.RAW_OPS:
            op = to_snake_case(str(class_name))
        if op is None:
            raise ValueError(
                f"Unknown op class '{class_name}' (module '{entry.get('module')}'): numpykeras "
                "has no `keras.ops` function for it, so the model can't be loaded."
            )
        config = dict(entry.get("config") or {})
        name = config.pop("name", None)
        return cls(op, config, name=name)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop("op"), config.pop("op_kwargs", None), name=config.pop("name", None))
