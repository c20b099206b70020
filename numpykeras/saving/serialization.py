"""Layer and model configs in Keras's JSON form, both directions.

``serialize_keras_object(layer)`` gives Keras 3's ``{"module", "class_name", "config",
"registered_name", "build_config"}``; ``deserialize_layer`` accepts that and every older form
(Keras 2 entries without ``module``, ``batch_input_shape``, dtype strings or policy dicts, ...).
"""

from __future__ import annotations

import json

import numpy as np

from numpykeras.saving.object_registration import (
    custom_object_scope,
    get_registered_name,
    get_registered_object,
)

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
    from numpykeras.models.functional import Functional

    for name in filter(None, (registered_name, class_name)):
        obj = get_registered_object(name, custom_objects)
        if obj is not None:
            return obj
    builtin = dict(layers_module._layer_classes())
    builtin["Sequential"] = models_module.Sequential
    # Keras 2.0-2.2 (and tf.keras before 2.4) name a functional model's class "Model".
    builtin["Model"] = Functional
    builtin["Functional"] = Functional
    return builtin.get(class_name)


def clean_layer_config(config: dict) -> dict:
    """Normalises the spellings of older Keras versions inside one layer's ``config``."""
    config = dict(config)
    for key in _IGNORED_LAYER_KEYS:
        config.pop(key, None)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
    return config


def deserialize_layer(config, custom_objects=None, build=True):
    """A layer or model from a Keras 2/3 config entry (``{"class_name": ..., "config": ...}``).

    ``build=False`` leaves the layer unbuilt (its model builds it, giving Keras's variable paths).
    ``custom_objects`` are in scope throughout, so the regularizers, initializers, constraints and
    activations inside a layer's config find them too (as in Keras).
    """
    if custom_objects:
        with custom_object_scope(custom_objects):
            return _deserialize_layer(config, custom_objects, build)
    return _deserialize_layer(config, custom_objects, build)


def _deserialize_layer(config, custom_objects, build):
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
    if str(config.get("module") or "").startswith("keras.src.ops."):  # a `keras.ops` node
        from numpykeras.layers.core.op_layer import OpLayer

        return OpLayer.from_keras_config(config)
    cls = _lookup_class(
        class_name, config.get("registered_name"), config.get("module"), custom_objects
    )
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
        if build and build_config and not layer.built:
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
    # Keras 2 (and tf_keras) write their version into `to_json()`; Keras 3 does not.
    keras_version = config.get("keras_version") if isinstance(config, dict) else None
    if not isinstance(keras_version, str):
        return deserialize_layer(config, custom_objects=custom_objects)
    from numpykeras.saving.legacy_h5 import finish_keras2_model, keras2_file_config

    model = deserialize_layer(keras2_file_config(config, keras_version), custom_objects)
    finish_keras2_model(model, keras_version)
    return model


def to_jsonable(value):
    return _to_jsonable(value)


# --------------------------------------------------------------------------- compile state
#
# Keras 3 stores the arguments of `model.compile` as `compile_config` in `.keras` files; legacy
# HDF5 files store them as `training_config` (with `optimizer_config`), and tf_keras spells some
# of them differently (`"Custom>Adam"`, `MeanMetricWrapper` metrics nested per output, losses
# with `reduction="auto"`). These helpers write Keras 3's form and read all of them.

_COMPILE_ARGS = (
    "optimizer",
    "loss",
    "loss_weights",
    "metrics",
    "weighted_metrics",
    "run_eagerly",
    "steps_per_execution",
    "jit_compile",
)


def _serialize_loss(loss):
    from numpykeras import losses

    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, (list, tuple)):
        return [_serialize_loss(v) for v in loss]
    if isinstance(loss, dict):
        return {k: _serialize_loss(v) for k, v in loss.items()}
    return losses.serialize(loss)


def _serialize_metrics(metrics):
    from numpykeras import metrics as metrics_module

    if metrics is None or isinstance(metrics, str):
        return metrics
    if isinstance(metrics, (list, tuple)):
        return [_serialize_metrics(m) for m in metrics]
    if isinstance(metrics, dict):
        return {k: _serialize_metrics(v) for k, v in metrics.items()}
    return metrics_module.serialize(metrics)


def serialize_compile_config(model) -> dict:
    """Keras 3's ``compile_config`` of a compiled model (JSON-ready)."""
    from numpykeras import optimizers

    raw = dict(getattr(model, "_compile_config", None) or {})
    config = {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": _serialize_loss(raw.get("loss", getattr(model, "loss", None))),
        "loss_weights": raw.get("loss_weights"),
        "metrics": _serialize_metrics(raw.get("metrics")),
        "weighted_metrics": _serialize_metrics(raw.get("weighted_metrics")),
        "run_eagerly": raw.get("run_eagerly", False),
        "steps_per_execution": raw.get("steps_per_execution", 1),
        "jit_compile": raw.get("jit_compile", "auto"),
    }
    return _to_jsonable(config)


def _deserialize_loss(config, custom_objects=None):
    from numpykeras import losses

    if config is None or isinstance(config, str):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize_loss(c, custom_objects) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _deserialize_loss(v, custom_objects) for k, v in config.items()}
    config = dict(config)
    inner = config.get("config")
    if isinstance(inner, dict):
        inner = dict(inner)
        if inner.get("reduction") == "auto":  # tf_keras's default means sum_over_batch_size
            inner["reduction"] = "sum_over_batch_size"
        config["config"] = inner
    return losses.deserialize(config, custom_objects=custom_objects)


def _deserialize_metric(config, custom_objects=None):
    from numpykeras import metrics as metrics_module

    if config is None or isinstance(config, str):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize_metric(c, custom_objects) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _deserialize_metric(v, custom_objects) for k, v in config.items()}
    inner = config.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    if config.get("class_name") == "MeanMetricWrapper" and name in ("accuracy", "acc"):
        # tf_keras stores compile(metrics=["accuracy"]) as a wrapper of the function it picked
        # from the shapes; the plain string makes the same choice and keeps the name.
        return name
    return metrics_module.deserialize(config, custom_objects=custom_objects)


def _single_output_list(value):
    """tf_keras nests metrics per output (``[[m1, m2]]``); one output means the inner list."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        return value[0]
    return value


def compile_args_from_config(config: dict, custom_objects=None) -> dict:
    """``model.compile`` keyword arguments from a Keras 3 ``compile_config`` or a legacy
    ``training_config`` (Keras 2, tf_keras or Keras 3 written)."""
    from numpykeras import optimizers

    config = dict(config)
    args = {}
    optimizer = config.get("optimizer", config.get("optimizer_config"))
    if isinstance(optimizer, dict):
        optimizer = optimizers.deserialize(optimizer, custom_objects=custom_objects)
    if optimizer is not None:
        args["optimizer"] = optimizer
    args["loss"] = _deserialize_loss(config.get("loss"), custom_objects)
    if config.get("loss_weights") is not None:
        args["loss_weights"] = config["loss_weights"]
    for key in ("metrics", "weighted_metrics"):
        value = _single_output_list(config.get(key))
        if value is not None:
            args[key] = _deserialize_metric(value, custom_objects)
    for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
        if key in config and config[key] is not None:
            args[key] = config[key]
    return args


def compile_from_config(model, config: dict, custom_objects=None) -> None:
    """Compile ``model`` from a saved compile/training config and build its optimizer on the
    model's trainable variables (so saved optimizer state can be loaded into it)."""
    model.compile(**compile_args_from_config(config, custom_objects))
    if model.built and model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def normalize_model_config(config):
    """Normalise a saved model config before deserializing it.

    tf_keras writes a Functional model's single input/output as a nested list
    (``[["img", 0, 0]]``); Keras 3 writes it flat (``["img", 0, 0]``) and, either way, a model
    with one output predicts a plain array. Single-entry nested lists are flattened here, in
    nested models too. Everything else is returned unchanged (a deep copy).
    """
    import copy

    config = copy.deepcopy(config)

    def visit(entry):
        if not isinstance(entry, dict):
            return
        inner = entry.get("config")
        if not isinstance(inner, dict):
            return
        for key in ("input_layers", "output_layers"):
            value = inner.get(key)
            if (
                isinstance(value, list)
                and len(value) == 1
                and isinstance(value[0], list)
                and len(value[0]) == 3
                and isinstance(value[0][0], str)
            ):
                inner[key] = value[0]
        layers = inner.get("layers")
        if isinstance(layers, list):
            for layer in layers:
                visit(layer)

    visit(config)
    return config
