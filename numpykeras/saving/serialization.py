"""Layer and model configs in Keras's JSON form, both directions.

``serialize_keras_object(layer)`` gives Keras 3's ``{"module", "class_name", "config",
"registered_name", "build_config"}``; ``deserialize_layer`` accepts that and every older form (Keras 2
entries without ``module``, ``batch_input_shape``, dtype strings or policy dicts, ...).
"""

from __future__ import annotations

import json

import numpy as np

from numpykeras.saving.object_registration import get_registered_name, get_registered_object

# Keras 2 / Keras 3 config keys that numpykeras accepts and ignores.
_IGNORED_LAYER_KEYS = {"autocast", "build_config", "compile_config", "shared_object_id"}

# Layers whose Python code can't be stored in a file.
_CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}


def _to_jsonable(value):
    if isinstance(value, tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _module_for(obj) -> str:
    from numpykeras.layers import Layer
    from numpykeras.models.model import Model

    if isinstance(obj, Model):
        return "keras" if type(obj).__name__ in ("Sequential", "Functional") else None
    if isinstance(obj, Layer):
        return "keras.layers"
    return None


def serialize_keras_object(obj) -> dict:
    """A layer or model as Keras 3 writes it in ``config.json``."""
    from numpykeras.layers import _layer_classes

    cls = type(obj)
    class_name = cls.__name__
    builtin = _layer_classes().get(class_name) is cls or class_name in ("Sequential", "Functional")
    registered_name = None if builtin else get_registered_name(cls)
    module = _module_for(obj) if builtin else cls.__module__
    entry = {
        "module": module,
        "class_name": class_name,
        "config": obj.get_config(),
        "registered_name": registered_name,
    }
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None and type(obj).__name__ != "InputLayer":
        entry["build_config"] = build_config
    return entry


def _lookup_class(class_name, registered_name, module, custom_objects):
    from numpykeras import layers as layers_module
    from numpykeras import models as models_module

    for name in filter(None, (registered_name, class_name)):
        obj = get_registered_object(name, custom_objects)
        if obj is not None:
            return obj
    builtin = dict(layers_module._layer_classes())
    builtin["Sequential"] = models_module.Sequential
    builtin["Model"] = models_module.Model
    try:
        from numpykeras.models.functional import Functional

        builtin["Functional"] = Functional
    except ImportError:  # pragma: no cover - the Functional API is optional here
        pass
    return builtin.get(class_name)


def clean_layer_config(config: dict) -> dict:
    """Normalises the spellings of older Keras versions inside one layer's ``config``."""
    config = dict(config)
    for key in _IGNORED_LAYER_KEYS:
        config.pop(key, None)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
    return config


def deserialize_layer(config, custom_objects=None):
    """A layer or model from a Keras 2/3 config entry (``{"class_name": ..., "config": ...}``)."""
    from numpykeras.layers.layer import Layer, UnknownArgumentsError

    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Could not interpret layer config: expected a dict with 'class_name' and 'config'. "
            f"Received: {config!r}"
        )
    class_name = config["class_name"]
    if class_name in _CODE_LAYERS:
        raise ValueError(
            f"Cannot load a '{class_name}' layer: it wraps Python code (a function or lambda) that "
            "Keras does not store in the file, so numpykeras cannot reconstruct it. Rewrite the "
            "model with a built-in or registered custom layer, or rebuild it in code and use "
            "`load_weights`."
        )
    cls = _lookup_class(class_name, config.get("registered_name"), config.get("module"), custom_objects)
    if cls is None:
        raise TypeError(
            f"Could not locate class '{class_name}'. Make sure custom classes are decorated with "
            "`@keras.saving.register_keras_serializable()` (numpykeras: "
            "`numpykeras.saving.register_keras_serializable()`) or passed in `custom_objects`. "
            f"Full object config: {config}"
        )
    inner = config.get("config", {})
    if class_name in ("Sequential", "Functional", "Model") or hasattr(cls, "_is_model_class"):
        layer = cls.from_config(inner, custom_objects=custom_objects)
    else:
        inner = clean_layer_config(inner)
        while True:
            try:
                layer = cls.from_config(inner)
                break
            except UnknownArgumentsError as e:
                # Keys written by other Keras versions that don't change the computation.
                inner = {k: v for k, v in inner.items() if k not in e.unknown}
        build_config = config.get("build_config")
        if build_config and not layer.built:
            try:
                layer.build_from_config(build_config)
            except (ValueError, TypeError):
                pass
    return layer


def model_from_json(json_string, custom_objects=None):
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"The model JSON could not be parsed: {e}") from None
    return deserialize_layer(config, custom_objects=custom_objects)


def to_jsonable(value):
    return _to_jsonable(value)
