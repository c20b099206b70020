"""Registry of user classes and functions, as in ``keras.saving``.

``register_keras_serializable(package="Custom")`` records a class or function under
``"package>name"`` so that configs naming it can be deserialized; ``custom_objects=`` arguments and
``custom_object_scope`` add objects for a single load.
"""

from __future__ import annotations

import contextlib
import threading

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}


class _Scope(threading.local):
    def __init__(self):
        self.stack = []


_scope = _Scope()


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
