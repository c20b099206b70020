"""Registry of user classes and functions, as in ``keras.saving``.

``register_keras_serializable(package="Custom")`` records a class or function under
``"package>name"`` so that configs naming it can be deserialized; ``custom_objects=`` arguments and
``custom_object_scope`` add objects for a single load.
"""

from __future__ import annotations

import contextlib
import re
import threading

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}


class _Scope(threading.local):
    def __init__(self):
        self.stack = []


_scope = _Scope()


def to_snake_case(name: str) -> str:
    """``"MaxPooling2D"`` -> ``"max_pooling2d"``, ``"PReLU"`` -> ``"p_re_lu"`` (Keras's rule)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def register_keras_serializable(package="Custom", name=None):
    """Decorator that registers a class or function under ``package>name``."""

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = package + ">" + class_name
        if isinstance(arg, type) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"Cannot register a class that does not have a get_config() method. Received: {arg}"
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """The name ``obj`` is registered under, or its ``__name__``."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Look ``name`` up in the scopes, ``custom_objects``, the registry, then ``module_objects``."""
    for scope in reversed(_scope.stack):
        if name in scope:
            return scope[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    # A bare class name also finds "package>name" entries.
    for registered, obj in _GLOBAL_CUSTOM_OBJECTS.items():
        if registered.split(">", 1)[-1] == name:
            return obj
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects() -> dict:
    """The global registry dict (mutable, as in Keras)."""
    return _GLOBAL_CUSTOM_OBJECTS


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within the ``with`` block, ``custom_objects`` resolve by name during deserialization."""
    _scope.stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _scope.stack.pop()


CustomObjectScope = custom_object_scope


# --------------------------------------------------------------------------- plain objects
# Initializers, regularizers and constraints share these (Keras's serialize/deserialize rules).


def serialize_object(obj, module: str, builtins: dict):
    """Keras 3's ``{"module", "class_name", "config", "registered_name"}`` dict for ``obj``."""
    if obj is None:
        return None
    cls = type(obj)
    if builtins.get(cls.__name__) is cls:
        registered = None
        module_name = module
    else:
        registered = get_registered_name(cls)
        module_name = cls.__module__
    if not hasattr(obj, "get_config"):
        if callable(obj) and hasattr(obj, "__name__"):
            return {
                "module": getattr(obj, "__module__", None) or "builtins",
                "class_name": "function",
                "config": get_registered_name(obj),
                "registered_name": "function",
            }
        raise ValueError(f"Cannot serialize {obj!r}: it has no `get_config()` method.")
    return {
        "module": module_name,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": registered,
    }


def deserialize_object(config, kind: str, builtins: dict, custom_objects=None, instantiate=True):
    """Resolve a name or a (Keras 2 or 3) config dict against ``builtins`` and the registry.

    Custom objects win over built-ins, which win over the global registry. Classes are
    instantiated (from the dict's ``"config"``, or with no arguments for a bare name).
    """

    def lookup(name):
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        if name in builtins:
            return builtins[name]
        return get_registered_object(name, custom_objects)

    error = ValueError(f"Could not interpret {kind} identifier: {config}")
    if isinstance(config, str):
        obj, inner = lookup(config), {}
    elif isinstance(config, dict) and "class_name" in config:
        class_name = config["class_name"]
        inner = config.get("config") or {}
        registered = config.get("registered_name")
        if class_name == "function":  # a plain function, named in "config"
            obj, inner = (lookup(inner) if isinstance(inner, str) else None), {}
        else:
            obj = None
            if registered and registered != class_name:
                obj = lookup(registered)
            if obj is None:
                obj = lookup(class_name)
        if obj is not None and builtins.get(class_name) is obj and isinstance(inner, dict):
            inner = {k: v for k, v in inner.items() if k != "dtype"}  # tf.keras 1.x configs
    else:
        raise error
    if obj is None:
        raise error
    if isinstance(obj, type) and instantiate:
        if not isinstance(inner, dict):
            raise error
        return obj.from_config(inner) if hasattr(obj, "from_config") else obj(**inner)
    return obj
