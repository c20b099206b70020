"""``keras.ops`` on symbolic tensors: an op called on a ``KerasTensor`` records a graph node.

Every public op (``ops.add``, ``ops.mean``, ``ops.nn.softmax``, ...) is wrapped by
:func:`symbolic_dispatch`: when any argument (or an item of a list or tuple argument) is a
``KerasTensor``, the call makes an :class:`~numpykeras.layers.core.op_layer.OpLayer` node, as
Keras 3's ``Operation.symbolic_call`` does, instead of computing. Otherwise the op runs as before
(the check is a scan of the arguments, a few hundred nanoseconds).
"""

from __future__ import annotations

import functools
import inspect
import types

from numpykeras.layers.node import KerasTensor

# name -> the unwrapped op function (what an OpLayer runs)
RAW_OPS: dict = {}


def _has_keras_tensor(args, kwargs) -> bool:
    for a in args:
        t = type(a)
        if t is KerasTensor:
            return True
        if (t is list or t is tuple) and any(type(b) is KerasTensor for b in a):
            return True
    if kwargs:
        for a in kwargs.values():
            t = type(a)
            if t is KerasTensor:
                return True
            if (t is list or t is tuple) and any(type(b) is KerasTensor for b in a):
                return True
    return False


def symbolic_dispatch(name, fn):
    """``fn`` that makes an op node when given a ``KerasTensor`` (see the module docstring)."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _has_keras_tensor(args, kwargs):
            from numpykeras.layers.core.op_layer import OpLayer

            return OpLayer.from_call(name, args, kwargs)
        return fn(*args, **kwargs)

    op.__wrapped_op__ = fn
    return op


def install(namespaces, modules) -> None:
    """Wrap every public op of ``modules`` (their ``__all__``) in place, and in ``namespaces``
    (``numpykeras.ops``) the same names."""
    wrapped, raw = {}, {}
    for module in modules:
        for name in getattr(module, "__all__", ()):
            fn = getattr(module, name, None)
            if fn is None or isinstance(fn, (type, types.ModuleType)) or not callable(fn):
                continue
            if hasattr(fn, "__wrapped_op__"):
                wrapped.setdefault(name, fn)
                continue
            if name not in wrapped:
                RAW_OPS[name] = fn
                wrapped[name] = symbolic_dispatch(name, fn)
            # a second function of the same name (``numpy.rsqrt`` and ``math.rsqrt``) makes
            # the same node
            raw[id(fn)] = name
            setattr(
                module, name, wrapped[name] if RAW_OPS[name] is fn else symbolic_dispatch(name, fn)
            )
    for namespace in namespaces:
        for name, op in wrapped.items():
            current = getattr(namespace, name, None)
            if current is RAW_OPS[name] or raw.get(id(current)) == name:
                setattr(namespace, name, op)


@functools.cache
def signature(name) -> inspect.Signature:
    return inspect.signature(RAW_OPS[name])
