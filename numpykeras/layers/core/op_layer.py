"""``OpLayer``: one ``keras.ops`` call in a functional graph (Keras 3's ``Operation`` node).

``keras.ops.mean(x, axis=1)`` on a ``KerasTensor`` records an ``OpLayer`` holding the op's name
(``"mean"``) and its constructor arguments (``{"axis": 1, "keepdims": False}``); the node keeps the
call arguments (tensors and inline values such as the ``0`` of ``ops.not_equal(x, 0)``). Running
the node runs the op on arrays, so under a ``GradientTape`` it is differentiated like any other
op. It is saved as Keras saves an ``Operation``: module ``keras.src.ops.<submodule>``, the Keras
class name (``Mean``) and ``config`` ``{"name": ..., <constructor arguments>}``.
"""

from __future__ import annotations

import functools

import numpy as np

from numpykeras.layers.layer import Layer, to_snake_case, unique_name
from numpykeras.layers.node import KerasTensor, Node, _flatten, _map
from numpykeras.ops import symbolic
from numpykeras.ops._keras_op_classes import KERAS_CALL_FORMS, KERAS_INIT_DEFAULTS, KERAS_OPS

# Keras class name -> op name, for loading.
_BY_CLASS = {info[1]: name for name, info in sorted(KERAS_OPS.items(), reverse=True)}

# The sizes given to unknown dimensions when the op is run on stand-ins to find its output shape
# (see ``OpLayer.compute_output_spec``): a dimension that differs between the runs is ``None``.
_SPEC_SIZES = (2, 7)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _stand_in(t, size, varied):
    """An array like KerasTensor ``t`` (unknown dimensions ``size``): zeros, or ``varied``
    values: ``2 I`` on square matrices (so factorizations and solves succeed), else
    ``1, 2, ..., 7, 1, ...`` (nonzero, not all equal)."""
    shape = tuple(size if d is None else d for d in t.shape)
    if not varied:
        return np.zeros(shape, dtype=t.dtype)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        values = np.broadcast_to(2 * np.eye(shape[-1]), shape)
    else:
        values = np.arange(int(np.prod(shape))).reshape(shape) % 7 + 1
    return np.array(values, dtype=t.dtype)


def _submodule(name: str) -> str:
    if name in KERAS_OPS:
        return KERAS_OPS[name][0]
    module = getattr(symbolic.RAW_OPS.get(name), "__module__", "") or ""
    return module.rsplit(".", 1)[-1] if module.startswith("numpykeras.ops.") else "numpy"


def _call_names(op) -> list:
    """Our parameter names for the Keras ``call`` arguments of ``op``, in Keras's order."""
    sig = symbolic.signature(op)
    variadic = {
        p.name for p in sig.parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    names = [n for n in sig.parameters if n not in variadic]
    form = KERAS_CALL_FORMS.get(op)
    if form is not None:
        return [entry.lstrip("=") for entry in form if entry != "**"]
    keras_call = [
        n for n in (KERAS_OPS[op][3] if op in KERAS_OPS else names[:1]) if n not in variadic
    ]
    call_names = [n for n in keras_call if n in names]
    return call_names if len(call_names) == len(keras_call) else names[: len(keras_call)]


@functools.cache
def _call_plan(op):
    """``(leading, call_names)``: for an op taking ``*operands``, the names of the parameters
    before it (passed positionally ahead of the operands), else ``None``; and the names the
    positional call arguments bind to."""
    params = list(symbolic.signature(op).parameters.values())
    for i, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            return [q.name for q in params[:i]], []
    form = KERAS_CALL_FORMS.get(op)
    names = [e for e in form if not e.startswith("=") and e != "**"] if form else _call_names(op)
    return None, names


@functools.cache
def _positional_names(op) -> list:
    params = symbolic.signature(op).parameters.values()
    return [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]


def _standardize(op, op_kwargs):
    """Constructor arguments as Keras's function passes them (``data_format=None`` resolved by
    the ``nn`` ops; ``one_hot``'s and ``multi_hot``'s ``dtype=None`` as floatx;
    ``extract_patches``' ``size`` as a tuple, ``strides`` defaulting to it and its
    ``data_format`` resolved)."""
    nn = op in KERAS_OPS and KERAS_OPS[op][0] == "nn"  # Keras's nn functions resolve it
    if nn and "data_format" in op_kwargs and op_kwargs["data_format"] is None:
        op_kwargs["data_format"] = "channels_last"  # numpykeras is channels-last only
    if op in ("one_hot", "multi_hot") and op_kwargs.get("dtype") is None:
        from numpykeras.backend import floatx

        op_kwargs["dtype"] = floatx()  # Keras's functions standardize it
    if op in ("extract_patches", "extract_patches_3d"):
        size = op_kwargs.get("size")
        if isinstance(size, int):
            size = (size,) * (3 if op == "extract_patches_3d" else 2)
            op_kwargs["size"] = size
        if op_kwargs.get("strides") is None:
            op_kwargs["strides"] = size
        if op_kwargs.get("data_format") is None:
            op_kwargs["data_format"] = "channels_last"
    return op_kwargs


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
        params = list(sig.parameters.values())
        names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        given = dict(bound.arguments)
        operands, extra_kwargs, form = (), {}, KERAS_CALL_FORMS.get(op)
        for p in params:
            if p.kind is p.VAR_KEYWORD:  # `**kwargs` of the op: its entries are keyword arguments
                entries = given.pop(p.name, {})
                if form is not None and "**" in form:  # passed on to the call by Keras
                    extra_kwargs = entries
                else:
                    given.update(entries)
            elif p.kind is p.VAR_POSITIONAL:  # `*operands`: passed on after the call arguments
                operands = tuple(given.pop(p.name, ()))
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        call_args, call_kwargs = [], {}
        if form is not None:  # Keras passes these even when left at their defaults
            for entry in form:
                if entry == "**":
                    call_kwargs.update(extra_kwargs)
                    continue
                n = entry.lstrip("=")
                value = given.pop(n, defaults.get(n))
                if entry.startswith("="):
                    call_kwargs[n] = value
                else:
                    call_args.append(value)
        else:
            call_names = _call_names(op)
            for n in call_names:
                if n not in given:
                    continue
                if len(call_args) == call_names.index(n) and not call_kwargs:
                    call_args.append(given.pop(n))
                else:
                    call_kwargs[n] = given.pop(n)
        call_args.extend(operands)
        op_kwargs = {}
        taken = set(_call_names(op))
        for n in names:
            if n in taken:
                continue
            value = given.pop(n, defaults.get(n))
            if _contains_keras_tensor(value):
                call_kwargs[n] = value
            elif n in given or n in defaults or value is not None:
                op_kwargs[n] = value
        for n, value in given.items():  # entries of the op's **kwargs
            (call_kwargs if _contains_keras_tensor(value) else op_kwargs)[n] = value
        for n, value in KERAS_INIT_DEFAULTS.get(op, {}).items():
            op_kwargs.setdefault(n, value)
        layer = cls(op, _standardize(op, op_kwargs))
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
        fn = symbolic.RAW_OPS[self.op]
        leading, call_names = _call_plan(self.op)
        if leading is not None:  # `op(subscripts, *operands)`: constructor arguments first
            named = {**self.op_kwargs, **kwargs}
            return fn(*[named.pop(n) for n in leading if n in named], *args, **named)
        # Call arguments bound by the names Keras gives them (our order may differ), then passed
        # positionally in our order as far as they go: a primitive differentiates positional
        # arguments only.
        named = {**dict(zip(call_names, args)), **kwargs, **self.op_kwargs}
        positional = []
        for n in _positional_names(self.op):
            if n not in named:
                break
            positional.append(named.pop(n))
        return fn(*positional, **named)

    # The graph runner's kernel interface: an op node has no backward of its own (it trains
    # through the tape), but may be asked for its forward value.
    def _prepare_inputs(self, inputs):
        return inputs

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors for the op's outputs: the op is run on stand-in arrays shaped like its
        symbolic arguments, once with every unknown (``None``) dimension 2 and zeros, once with
        it 7 and varied values (see ``_stand_in``); an output dimension that differs between the
        runs (an unknown input dimension, or one that depends on the values, as ``nonzero``'s)
        is unknown (``None``). A run the op rejects (``cholesky`` of zeros) is retried with the
        other values; when only one size fits (an unknown dimension broadcast against a known
        one), the other known sizes are tried, and a single size that fits is the answer, as
        Keras resolves ``None`` against the known dimension. Dtypes are the op's."""
        arrays = [
            t for t in _flatten([list(args), kwargs]) if isinstance(t, (KerasTensor, np.ndarray))
        ]
        known = {d for t in arrays for d in t.shape if d is not None}
        has_unknown = any(
            None in t.shape for t in _flatten([list(args), kwargs]) if isinstance(t, KerasTensor)
        )
        candidates = (
            [*_SPEC_SIZES, *sorted(known - set(_SPEC_SIZES))] if has_unknown else _SPEC_SIZES
        )
        runs, error = [], None
        for k, size in enumerate(candidates):
            for varied in (False, True) if k % 2 == 0 else (True, False):

                def stand_in(t, size=size, varied=varied):
                    return _stand_in(t, size, varied) if isinstance(t, KerasTensor) else t

                cargs = [_map(stand_in, a) for a in args]
                ckwargs = {n: _map(stand_in, v) for n, v in kwargs.items()}
                try:
                    with np.errstate(all="ignore"):
                        runs.append(self.call(*cargs, **ckwargs))
                    break
                except Exception as e:  # noqa: BLE001  reported with the op's name
                    error = error or (e, cargs, ckwargs, size)
            if len(runs) == 2:
                break
        if not runs:
            e, cargs, ckwargs, size = error
            raise type(e)(
                f"`ops.{self.op}` could not be applied to symbolic inputs "
                f"{[t for t in _flatten([cargs, ckwargs]) if isinstance(t, np.ndarray)]!r} "
                f"(shapes with unknown dimensions set to {size}): {e}"
            ) from e
        if len(runs) == 1:
            runs.append(runs[0])

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
        # Keras's ExtractPatches writes its own config, without the name
        config = {} if self.class_name == "ExtractPatches" else {"name": self.name}
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
        name = config.pop("name", None) or entry.get("name")
        return cls(op, config, name=name)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop("op"), config.pop("op_kwargs", None), name=config.pop("name", None))
