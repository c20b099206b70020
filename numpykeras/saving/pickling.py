"""``pickle`` and ``copy.deepcopy`` of layers and models, through the ``.keras`` format.

As in Keras 3 (``KerasSaveable.__reduce__``), a layer or model reduces to the bytes of an
in-memory ``.keras`` archive (its config, its build and compile configs, its weights and its
optimizer's variables) and a function that loads it back. The copy is therefore what
``load_model`` would give: a fresh object with the same architecture, weights and optimizer
state, and none of the original's caches, graph history or thread locks.

Beyond Keras, the reduction also carries:

- the user-defined classes and functions the config names (custom layers, a subclassed model's
  class, custom losses and metrics, ...), as Python objects that ``pickle`` ships by reference
  (``cloudpickle`` by value), so that the receiving process finds them without having to
  import and register them first. A class that is registered with
  ``register_keras_serializable`` but can't be pickled by reference (defined inside a
  function) is passed by its registered name only, as Keras does;
- whether the optimizer was built (a compiled model that never trained keeps an unbuilt
  optimizer, rather than one built with zero slots and a load warning);
- the state of the random generators of seeded layers (``Dropout(seed=...)``), so that both
  copies draw the same masks from there on (Keras's seed generators are variables, saved with
  the weights).

Loading never runs code from the archive: classes come from numpykeras, the registry or the
objects carried by the pickle itself. ``pickle`` as such runs whatever its payload names, so
only unpickle data you trust (Keras loads with ``safe_mode=False`` for the same reason).
"""

from __future__ import annotations

import io
import json
import sys
import types

import numpy as np

# Values of a layer's attributes never considered as custom objects.
_LIBRARY_MODULES = ("numpykeras", "numpy", "builtins", "h5py")


def reduce_layer(obj):
    """``obj.__reduce__()`` for a layer or model: ``(unpickle_layer, (data, objects, state))``.

    Raises:
        TypeError: ``obj`` can't be described by a ``.keras`` archive (its ``get_config``
            fails or returns values that are not JSON), or two different classes share the
            name the config knows them by.
    """
    from numpykeras.saving import keras_v3

    config = _archive_config(obj)
    buffer = io.BytesIO()
    try:
        keras_v3.write_archive(buffer, obj, config)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Cannot pickle {_describe(obj)}: {type(e).__name__}: {e}") from e
    state = {"generators": _generator_states(obj)}
    optimizer = keras_v3._optimizer_to_save(obj)
    if optimizer is not None:
        state["optimizer_built"] = bool(optimizer.built)
    return unpickle_layer, (buffer.getvalue(), _custom_objects(obj, config), state)


def unpickle_layer(data, custom_objects=None, state=None):
    """Rebuild the layer or model that :func:`reduce_layer` packed.

    Args:
        data: the bytes of the ``.keras`` archive.
        custom_objects: names to the user classes and functions the config refers to.
        state: the extra state described in the module's docstring.

    Returns:
        The layer or model, built (when the original was), compiled (when the original was)
        and with the original's weights and optimizer variables.
    """
    from numpykeras.layers.layer import skip_initializers
    from numpykeras.saving import keras_v3
    from numpykeras.saving.object_registration import custom_object_scope
    from numpykeras.saving.serialization import (
        compile_args_from_config,
        deserialize_layer,
        normalize_model_config,
    )

    state = state or {}
    custom_objects = dict(custom_objects or {})
    archive = keras_v3.KerasArchive("<pickled object>", data=data)
    config = archive.config
    name = config.get("config", {}).get("name") if isinstance(config.get("config"), dict) else None
    label = f"'{name}' ({config.get('class_name')})"
    with custom_object_scope(custom_objects):
        try:
            # The archive's weights replace every initial value: skip drawing them (this also
            # leaves the global random generator where it was).
            with skip_initializers():
                obj = deserialize_layer(
                    normalize_model_config(config), custom_objects=custom_objects
                )
                if keras_v3.is_model(obj):
                    keras_v3.build_loaded(obj, config.get("build_config"))
            compile_config = config.get("compile_config")
            if compile_config and keras_v3.is_model(obj):
                obj.compile(**compile_args_from_config(compile_config, custom_objects))
                optimizer = obj.optimizer
                if state.get("optimizer_built") and obj.built and not optimizer.built:
                    optimizer.build(obj.trainable_variables)
            with archive.open_weights() as f:
                keras_v3.load_weights_from_h5(obj, f, f"<pickled {label}>")
        except (TypeError, ValueError) as e:
            if type(e) not in (TypeError, ValueError):
                raise
            raise type(e)(f"Could not unpickle {label}: {e}") from e
    _restore_generator_states(obj, state.get("generators", {}))
    return obj


# --------------------------------------------------------------------------- the archive


def _describe(obj) -> str:
    from numpykeras.saving import keras_v3

    kind = "model" if keras_v3.is_model(obj) else "layer"
    return f"{kind} '{getattr(obj, 'name', '?')}' ({type(obj).__qualname__})"


def _archive_config(obj) -> dict:
    """``config.json`` for ``obj``: a model's as ``model.save`` writes it; a layer's entry with
    its build config."""
    from numpykeras.saving import keras_v3
    from numpykeras.saving.serialization import serialize_keras_object, to_jsonable

    try:
        if keras_v3.is_model(obj):
            config = keras_v3.model_file_config(obj)
        else:
            config = to_jsonable(serialize_keras_object(obj))
        json.dumps(config)
    except (TypeError, ValueError, NotImplementedError, AttributeError, KeyError) as e:
        raise TypeError(
            f"Cannot pickle {_describe(obj)}: pickling saves it in the Keras `.keras` format "
            "(its config and weights, as Keras 3 does), and its config could not be "
            f"serialized ({type(e).__name__}: {e}). Give the class (and any custom layer, "
            "loss or metric it uses) a `get_config()` that returns the constructor's "
            "arguments as JSON values."
        ) from e
    for _, layer in keras_v3.walk_saveables(obj):
        _check_constructible(obj, layer)
    return config


def _check_constructible(obj, layer) -> None:
    """Raise now (not in the receiving process) when a user class's ``get_config`` lacks an
    argument its constructor requires and the class relies on the default ``from_config``."""
    import inspect

    from numpykeras.layers.layer import Layer
    from numpykeras.models.functional import Functional
    from numpykeras.models.model import Model

    cls = type(layer)
    if _candidate(cls) is None or isinstance(layer, Functional):
        return
    from_config = getattr(cls.from_config, "__func__", None)
    if from_config not in (Layer.from_config.__func__, Model.from_config.__func__):
        return
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return
    required = [
        p.name
        for p in list(params)[1:]
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    missing = [name for name in required if name not in layer.get_config()]
    if missing:
        what = "" if layer is obj else f" (its layer '{layer.name}')"
        raise TypeError(
            f"Cannot pickle {_describe(obj)}{what}: `{cls.__qualname__}.__init__` requires "
            f"{missing}, which `{cls.__qualname__}.get_config()` does not return, so the copy "
            "could not be constructed. Pickling saves the object in the Keras `.keras` format "
            "(its config and weights, as Keras 3 does): return the constructor's arguments "
            "from `get_config()`, or define `from_config()`."
        )


# --------------------------------------------------------------------------- custom objects


def _strings(value, out: set) -> set:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)
    return out


def _flat(value, out: list, depth: int = 0) -> list:
    if depth > 4:
        return out
    if isinstance(value, dict):
        for v in value.values():
            _flat(v, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _flat(v, out, depth + 1)
    elif value is not None:
        out.append(value)
    return out


def _candidate(value):
    """The class or function ``value`` stands for in a config, if user-defined, else None."""
    if isinstance(value, type):
        target = value
    elif isinstance(value, types.FunctionType):
        target = value
    elif hasattr(type(value), "get_config"):
        target = type(value)
    else:
        return None
    module = getattr(target, "__module__", None) or ""
    if module.split(".", 1)[0] in _LIBRARY_MODULES:
        return None
    return target


def _importable(obj) -> bool:
    """Whether ``pickle`` can store ``obj`` by reference (module and qualified name)."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    qualname = getattr(obj, "__qualname__", None)
    if module is None or not qualname or "<locals>" in qualname:
        return False
    target = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target is obj


def _custom_objects(obj, config: dict) -> dict:
    """The user-defined classes and functions the archive's config names, by those names."""
    from numpykeras.saving import keras_v3
    from numpykeras.saving.object_registration import _GLOBAL_CUSTOM_OBJECTS, get_registered_name

    names = _strings(config, set())
    values = []
    for _, layer in keras_v3.walk_saveables(obj):
        values.append(layer)
        _flat(list(vars(layer).values()), values)
    if keras_v3.is_model(obj) and getattr(obj, "compiled", False):
        optimizer = obj.optimizer
        values.append(optimizer)
        values.append(getattr(optimizer, "_learning_rate", None))
        _flat(getattr(obj, "_compile_config", None) or {}, values)

    found = {}
    for value in values:
        target = _candidate(value)
        if target is None:
            continue
        for name in {get_registered_name(target), getattr(target, "__name__", None)}:
            if name not in names:
                continue
            other = found.setdefault(name, target)
            if other is not target:
                raise TypeError(
                    f"Cannot pickle {_describe(obj)}: two different objects are both named "
                    f"'{name}' in its config ({other.__module__}.{other.__qualname__} and "
                    f"{target.__module__}.{target.__qualname__}), so the copy could not tell "
                    "them apart. Register one of them under another name with "
                    "`register_keras_serializable(package=..., name=...)`."
                )
    registered = {}
    for name, target in _GLOBAL_CUSTOM_OBJECTS.items():
        if name in names or name.split(">", 1)[-1] in names:
            registered[name] = target
    out = {}
    for name, target in {**found, **registered}.items():
        if target in registered.values() and not _importable(target):
            # Found through the registry of the receiving process (as in Keras).
            continue
        out[name] = target
    return out


# --------------------------------------------------------------------------- random generators


def _generator_states(obj) -> dict:
    """``{(layer path, attribute): bit generator state}`` of the layers' own generators."""
    from numpykeras import backend
    from numpykeras.saving import keras_v3

    shared = backend.global_generator()
    states = {}
    for path, layer in keras_v3.walk_saveables(obj):
        for attr, value in vars(layer).items():
            if isinstance(value, np.random.Generator) and value is not shared:
                states[f"{path}:{attr}"] = value.bit_generator.state
    return states


def _restore_generator_states(obj, states: dict) -> None:
    from numpykeras.saving import keras_v3

    if not states:
        return
    for path, layer in keras_v3.walk_saveables(obj):
        for attr, value in vars(layer).items():
            state = states.get(f"{path}:{attr}")
            if state is not None and isinstance(value, np.random.Generator):
                value.bit_generator.state = state
