"""Legacy (Keras 2 style) HDF5 files: weights-only ``.h5`` and full-model ``.h5``.

Layout::

    /                                 @keras_version @backend @model_config [@training_config]
    /model_weights                    @layer_names @backend @keras_version
    /model_weights/<layer name>       @weight_names
    /model_weights/<layer name>/<weight name>           dataset
    /model_weights/top_level_model_weights              @weight_names = []
    /optimizer_weights                @weight_names (+ datasets at those paths)

A weights-only file has the ``/model_weights`` content at its root. ``layer_names`` lists every
entry of ``model.layers`` in order; ``weight_names`` lists a layer's weights, trainable ones first,
and are opaque keys (``conv2d/kernel:0`` from Keras 2, ``sequential/conv2d/kernel`` from Keras 3).
Order always comes from these attributes, never from h5py's alphabetical iteration.

Loading pairs layers by position among those that have weights (or by name with ``by_name=True``),
with Keras 3's error texts, and validates everything before assigning anything. Configs and
weights that only Keras 2 wrote (``CuDNNLSTM``/``CuDNNGRU``, Keras 2.0-2.1 recurrent defaults) are
translated as ``keras2_recurrent`` describes.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings

import h5py
import numpy as np

from numpykeras.saving import h5_utils
from numpykeras.saving.atomic import atomic_write
from numpykeras.saving.keras2_recurrent import (
    convert_cudnn_weights,
    is_multi_backend_keras,
    keep_previous_outputs_at_masked_steps,
    keras2_recurrent_config,
)
from numpykeras.saving.keras_v3 import KERAS_VERSION, apply_assignments, is_model_entry

# What numpykeras writes as the producer of legacy files. Keras 2 reads a missing version as
# Keras 1 and converts the weights, so it is always written.
BACKEND = "tensorflow"

# Keras 3 config keys that tf_keras does not accept, dropped when they hold their default.
_K3_ONLY_LAYER_KEYS = {"quantization_config": None, "lora_rank": None, "lora_alpha": None}
_K3_ONLY_LAYER_FALSY_KEYS = ("synchronized",)
_K3_ONLY_NESTED_KEYS = ("input_axes", "output_axes")
# Keras 3 optimizer config keys that tf_keras optimizers reject.
_K3_ONLY_OPTIMIZER_KEYS = ("loss_scale_factor", "gradient_accumulation_steps")


def legacy_weights(layer) -> list:
    """A layer's weights in legacy file order: trainable, then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


# --------------------------------------------------------------------------- writing weights


def save_weights_to_group(group, model) -> None:
    """Write ``model.layers``' weights into ``group`` (the file root or ``/model_weights``)."""
    layers = list(model.layers)
    h5_utils.write_attr_list(group, "layer_names", [layer.name for layer in layers])
    h5_utils.write_attr_str(group, "backend", BACKEND)
    h5_utils.write_attr_str(group, "keras_version", KERAS_VERSION)
    for layer in layers:
        layer_group = group.create_group(layer.name)
        _write_weight_list(layer_group, legacy_weights(layer))
    top_level = group.create_group("top_level_model_weights")
    from numpykeras.saving.keras_v3 import own_variables

    _write_weight_list(top_level, own_variables(model))


def _write_weight_list(group, weights) -> None:
    names = []
    for variable in weights:
        name = variable.path
        if name in names:  # a weight tracked twice keeps one dataset per entry
            name = f"{name}_{len(names)}"
        names.append(name)
        group.create_dataset(name, data=variable.numpy())
    h5_utils.write_attr_list(group, "weight_names", names)


def save_weights(model, filepath) -> None:
    """``model.save_weights('w.h5')``: a Keras 2 style weights-only file, written atomically."""
    with atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            save_weights_to_group(f, model)


# --------------------------------------------------------------------------- writing models


def _strip_k3_nested(value):
    if isinstance(value, dict):
        out = {k: _strip_k3_nested(v) for k, v in value.items()}
        if "class_name" in out and isinstance(out.get("config"), dict):
            for key in _K3_ONLY_NESTED_KEYS:
                if out["config"].get(key, 0) is None:
                    out["config"].pop(key)
        return out
    if isinstance(value, list):
        return [_strip_k3_nested(v) for v in value]
    return value


def _dtype_name(dtype):
    if isinstance(dtype, dict):
        return dtype.get("config", {}).get("name", "float32")
    return dtype


def _keras2_inbound_nodes(nodes):
    """Keras 3 call nodes (``{"args": [...], "kwargs": {...}}`` holding ``__keras_tensor__``
    references) as Keras 2 lists of ``[layer, node_index, tensor_index, kwargs]``."""
    out = []
    for node in nodes:
        if not isinstance(node, dict):  # already Keras 2 form
            out.append(node)
            continue
        refs = _tensor_refs(node.get("args", []))
        kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if not _has_tensor(v)}
        out.append([ref + [kwargs] for ref in refs])
    return out


def _tensor_refs(value) -> list:
    """The ``keras_history`` of every ``__keras_tensor__`` in ``value``, in order."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [list(value["config"]["keras_history"])]
    if isinstance(value, (list, tuple)):
        return [ref for v in value for ref in _tensor_refs(v)]
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in _tensor_refs(v)]
    return []


def _has_tensor(value) -> bool:
    if isinstance(value, dict):
        return value.get("class_name") == "__keras_tensor__" or any(
            _has_tensor(v) for v in value.values()
        )
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    return False


def _keras2_io(value):
    """``input_layers``/``output_layers`` in Keras 2's nested form: ``[["img", 0, 0]]``."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    return value


def keras2_layer_entry(entry: dict) -> dict:
    """A Keras 3 layer entry in the form tf_keras reads (and Keras 3 reads back)."""
    entry = copy.deepcopy(entry)
    class_name = entry["class_name"]
    config = entry.get("config", {})
    if is_model_entry(entry):
        out_config = {"name": config.get("name")}
        out_config["layers"] = [keras2_layer_entry(e) for e in config.get("layers", [])]
        for key in ("input_layers", "output_layers"):
            if key in config:
                out_config[key] = _keras2_io(config[key])
        new = {"class_name": class_name, "config": out_config}
    else:
        config = _strip_k3_nested(config)
        if "dtype" in config:
            config["dtype"] = _dtype_name(config["dtype"])
        if class_name == "InputLayer" and "batch_shape" in config:
            config["batch_input_shape"] = config.pop("batch_shape")
        for key, default in _K3_ONLY_LAYER_KEYS.items():
            if key in config and config[key] == default:
                config.pop(key)
        for key in _K3_ONLY_LAYER_FALSY_KEYS:
            if key in config and not config[key]:
                config.pop(key)
        new = {"class_name": class_name, "config": config}
    if entry.get("registered_name") and entry["registered_name"] != class_name:
        new["class_name"] = entry["registered_name"]  # custom objects: "package>Name"
    if "name" in entry:
        new["name"] = entry["name"]
    if "inbound_nodes" in entry:
        new["inbound_nodes"] = _keras2_inbound_nodes(entry["inbound_nodes"])
    return new


def keras2_model_config(model) -> dict:
    """``model_config`` for a legacy full-model file, Keras 2 style (see the module notes)."""
    from numpykeras.saving.keras_v3 import model_file_config

    entry = model_file_config(model)
    entry.pop("compile_config", None)
    entry.pop("build_config", None)
    return keras2_layer_entry(entry)


# Keras 3 cannot read its own legacy files that name a loss by these short aliases (it looks
# them up as metrics); the full names load in Keras 2 and Keras 3 alike.
_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
}


def _full_loss_names(loss):
    if isinstance(loss, str):
        return _LOSS_ALIASES.get(loss.lower(), loss)
    if isinstance(loss, list):
        return [_full_loss_names(item) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {key: _full_loss_names(value) for key, value in loss.items()}
    return loss


def training_config(model) -> dict:
    """``training_config`` of a compiled model: what both Keras 2 and Keras 3 compile from."""
    from numpykeras import optimizers
    from numpykeras.saving.serialization import serialize_compile_config

    compile_config = serialize_compile_config(model)
    optimizer = optimizers.serialize(model.optimizer)
    opt_config = dict(optimizer["config"])
    for key in _K3_ONLY_OPTIMIZER_KEYS:
        if opt_config.get(key, 0) is None:
            opt_config.pop(key)
    # As tf_keras writes it: without `is_legacy_optimizer`, tf_keras builds one of its legacy
    # optimizers (which reject `weight_decay` & co.), and Keras 3 accepts that key only with
    # the "Custom>" class name.
    opt_config["is_legacy_optimizer"] = False
    class_name = optimizer["registered_name"] or f"Custom>{optimizer['class_name']}"
    if not optimizer["registered_name"]:
        # Keras 3 resolves a "Custom>" optimizer by its config `name`, so it must be a class name
        # ("Adam", as tf_keras writes it), not a uniquified "adam_3".
        opt_config["name"] = optimizer["class_name"]
    return {
        "loss": _full_loss_names(compile_config["loss"]),
        "metrics": compile_config["metrics"],
        "weighted_metrics": compile_config["weighted_metrics"],
        "loss_weights": compile_config["loss_weights"],
        "optimizer_config": {"class_name": class_name, "config": opt_config},
    }


def save_model(model, filepath, include_optimizer=True) -> None:
    """``model.save('m.h5')``: config, weights and (when compiled) training state, atomically."""
    from numpykeras.saving.serialization import to_jsonable

    model_config = json.dumps(to_jsonable(keras2_model_config(model)))
    train_config = None
    optimizer = None
    if getattr(model, "compiled", False) and model.optimizer is not None:
        train_config = json.dumps(to_jsonable(training_config(model)))
        if include_optimizer:
            optimizer = model.optimizer
    with atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            h5_utils.write_attr_str(f, "keras_version", KERAS_VERSION)
            h5_utils.write_attr_str(f, "backend", BACKEND)
            h5_utils.write_attr_str(f, "model_config", model_config)
            if train_config is not None:
                h5_utils.write_attr_str(f, "training_config", train_config)
            save_weights_to_group(f.create_group("model_weights"), model)
            if optimizer is not None and optimizer.built:
                # tf_keras's order (iteration, then the slots; the learning rate lives in
                # `optimizer_config`): tf_keras restores all of it, Keras 3 warns and starts
                # afresh as it does for tf_keras files, numpykeras reads both orders.
                variables = [v for v in optimizer.variables if v.name != "learning_rate"]
                group = f.create_group("optimizer_weights")
                names = [v.path for v in variables]
                h5_utils.write_attr_list(group, "weight_names", names)
                for name, variable in zip(names, variables):
                    group.create_dataset(name, data=variable.numpy())


# --------------------------------------------------------------------------- reading weights


def weights_root(h5file):
    """The group holding ``layer_names``: the root of a weights-only file, else
    ``/model_weights`` (as Keras 3's ``load_weights`` does)."""
    if not h5_utils.has_attr_list(h5file, "layer_names") and "model_weights" in h5file:
        return h5file["model_weights"]
    return h5file


def _layer_group(group, name, filepath):
    if name not in group or not isinstance(group[name], h5py.Group):
        raise h5_utils.CorruptFileError(
            f"The file '{filepath}' lists a layer '{name}' in `layer_names` but has no group for "
            "it. The file is incomplete or corrupt."
        )
    return group[name]


def _read_weight_values(layer_group, filepath) -> list:
    names = h5_utils.read_attr_list(layer_group, "weight_names")
    return [h5_utils.read_dataset(layer_group, name, filepath) for name in names]


def _stage(variables, values, label, skip_mismatch, assignments, warning_messages):
    """Keras 3's per-weight shape check; matching weights are staged for assignment."""
    for variable, value in zip(variables, values):
        expected, received = tuple(variable.shape), tuple(value.shape)
        if expected != received:
            text = (
                f"{label}for weight {variable.path}. Weight expects shape {expected}. "
                f"Received saved weight with shape {received}"
            )
            if skip_mismatch:
                warning_messages.append(
                    f"Skipping loading weights for {label}due to mismatch in shape for "
                    f"weight {variable.path}. Weight expects shape {expected}. Received saved "
                    f"weight with shape {received}"
                )
                continue
            raise ValueError(f"Shape mismatch in {text}")
        assignments.append((variable, value))


def _check_version(group, filepath, warning_messages):
    version = h5_utils.read_attr_str(group, "keras_version")
    if version is None:
        warning_messages.append(
            f"The legacy HDF5 file '{filepath}' has no `keras_version` attribute. Keras 2 would "
            "treat it as a Keras 1 file and convert its weights; numpykeras loads the weights "
            "as they are stored (Keras 2+ layout)."
        )


def _converted(layer, values, label, skip_mismatch, warning_messages):
    """``values`` as ``layer`` holds them: weights saved by a cuDNN recurrent layer are
    converted for a plain ``LSTM``/``GRU`` (as Keras 2 did); ``None`` when they cannot be and
    ``skip_mismatch`` skips the layer."""
    try:
        return convert_cudnn_weights(layer, values)
    except ValueError as e:
        if not skip_mismatch:
            raise ValueError(f"Cannot load the weights of {label}: {e}") from None
        warning_messages.append(f"Skipping loading weights for {label}: {e}")
        return None


def plan_load_from_group(group, model, filepath, skip_mismatch=False, by_name=False):
    """Read and validate weights from a legacy group without assigning: returns
    ``(assignments, warning_messages)``; raises Keras's errors."""
    assignments, warning_messages = [], []
    _check_version(group, filepath, warning_messages)
    layer_names = h5_utils.read_attr_list(group, "layer_names")
    if not layer_names and not h5_utils.has_attr_list(group, "layer_names"):
        raise h5_utils.CorruptFileError(
            f"The file '{filepath}' is not a legacy Keras weights file: it has no `layer_names` "
            f"attribute (top-level keys: {sorted(group.keys())})."
        )
    if by_name:
        index = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for k, name in enumerate(layer_names):
            if name not in index:
                continue
            saved_values = _read_weight_values(_layer_group(group, name, filepath), filepath)
            for layer in index[name]:
                variables = legacy_weights(layer)
                label = f"layer #{k} (named {layer.name})"
                values = _converted(layer, saved_values, label, skip_mismatch, warning_messages)
                if values is None:
                    continue
                if len(values) != len(variables):
                    text = (
                        f"layer #{k} (named {layer.name}). Layer expects {len(variables)} "
                        f"weight(s). Received {len(values)} saved weight(s)"
                    )
                    if skip_mismatch:
                        warning_messages.append(
                            f"Skipping loading of weights for layer #{k} (named {layer.name}) "
                            "due to mismatch in number of weights. Layer expects "
                            f"{len(variables)} weight(s). Received {len(values)} saved weight(s)"
                        )
                        continue
                    raise ValueError(f"Weight count mismatch for {text}")
                _stage(variables, values, label, skip_mismatch, assignments, warning_messages)
    else:
        filtered_layers = [layer for layer in model.layers if legacy_weights(layer)]
        saved = []
        for name in layer_names:
            layer_group = _layer_group(group, name, filepath)
            if h5_utils.read_attr_list(layer_group, "weight_names"):
                saved.append((name, layer_group))
        if len(saved) != len(filtered_layers):
            raise ValueError(
                "Layer count mismatch when loading weights from file. Model expected "
                f"{len(filtered_layers)} layers, found {len(saved)} saved layers."
            )
        for k, ((name, layer_group), layer) in enumerate(zip(saved, filtered_layers)):
            variables = legacy_weights(layer)
            values = _read_weight_values(layer_group, filepath)
            label = f"layer #{k} (named {layer.name})"
            values = _converted(layer, values, label, skip_mismatch, warning_messages)
            if values is None:
                continue
            if len(values) != len(variables):
                raise ValueError(
                    f"Weight count mismatch for layer #{k} (named {layer.name} in the current "
                    f"model, {name} in the save file). Layer expects {len(variables)} "
                    f"weight(s). Received {len(values)} saved weight(s)"
                )
            _stage(variables, values, label, skip_mismatch, assignments, warning_messages)
    _plan_top_level(group, model, filepath, skip_mismatch, assignments, warning_messages)
    return assignments, warning_messages


def _plan_top_level(group, model, filepath, skip_mismatch, assignments, warning_messages):
    from numpykeras.saving.keras_v3 import own_variables

    if "top_level_model_weights" not in group:
        return
    variables = own_variables(model)
    values = _read_weight_values(group["top_level_model_weights"], filepath)
    if len(values) != len(variables):
        text = (
            f"Model expects {len(variables)} top-level weight(s). Received {len(values)} saved "
            "top-level weight(s)"
        )
        if skip_mismatch:
            warning_messages.append(
                "Skipping loading top-level weights for model due to mismatch in number of "
                f"weights. {text}"
            )
            return
        raise ValueError(
            f"Weight count mismatch for top-level weights when loading weights from file. {text}"
        )
    _stage(variables, values, "top-level model", skip_mismatch, assignments, warning_messages)


def load_weights(model, filepath, skip_mismatch=False, by_name=False) -> None:
    """Load a legacy ``.h5``/``.hdf5`` file (weights-only or full model) into ``model``."""
    with h5_utils.open_h5(filepath) as f:
        group = weights_root(f)
        try:
            assignments, warning_messages = plan_load_from_group(
                group, model, os.fspath(filepath), skip_mismatch=skip_mismatch, by_name=by_name
            )
        except OSError as e:
            raise h5_utils.CorruptFileError(
                f"Could not read '{os.fspath(filepath)}' ({e}). The file is truncated or corrupt."
            ) from None
    for msg in warning_messages:
        warnings.warn(msg, stacklevel=3)
    apply_assignments(assignments)


# --------------------------------------------------------------------------- reading models


def _short_name(weight_name: str) -> str:
    """``"Adam/iterations:0"`` -> ``"iteration"``, ``"adam/learning_rate"`` -> ``"learning_rate"``
    (the last part of a saved optimizer weight's name)."""
    name = weight_name.split("/")[-1].split(":")[0]
    return "iteration" if name == "iterations" else name


_COUNTERS = ("iteration", "learning_rate")


def _nothing_lost(optimizer, names, values) -> bool:
    """Whether an optimizer state that doesn't fit ``optimizer`` loses nothing but its slots
    that ``optimizer`` would start from zero anyway, or never read.

    tf_keras saves only ``iteration`` for an optimizer that was compiled but never built (no
    training step): its slots would be fresh zeros, as here, if the count is 0 or there are no
    slots. And it saves momentum slots for ``SGD`` without momentum, which never reads them.
    """
    from numpykeras.optimizers import SGD

    saved = {_short_name(n): v for n, v in zip(names, values)}
    if "iteration" not in saved or np.shape(saved["iteration"]) != ():
        return False
    saved_slots = [n for n in names if _short_name(n) not in _COUNTERS]
    slots = [v for v in optimizer.variables if v.name not in _COUNTERS]
    if not saved_slots:
        return int(saved["iteration"]) == 0 or not slots
    return not slots and isinstance(optimizer, SGD) and optimizer.momentum == 0


def _plan_optimizer(f, model, filepath, assignments, warning_messages) -> None:
    """Stage the optimizer state of a full-model file, in Keras 3 order (iteration,
    learning_rate, slots) or Keras 2 order (iteration, slots: no learning_rate).

    A state that doesn't fit the optimizer is skipped with Keras's warning, unless nothing is
    lost (:func:`_nothing_lost`): then its iteration count (and learning rate) are restored.
    """
    optimizer = model.optimizer
    if optimizer is None or "optimizer_weights" not in f:
        return
    group = f["optimizer_weights"]
    names = h5_utils.read_attr_list(group, "weight_names")
    values = [h5_utils.read_dataset(group, name, filepath) for name in names]
    variables = optimizer.variables
    has_lr_var = any(v.name == "learning_rate" for v in variables)
    saved_lr = any(_short_name(n) == "learning_rate" for n in names)
    if has_lr_var and not saved_lr and len(values) == len(variables) - 1:
        variables = [v for v in variables if v.name != "learning_rate"]
    if len(values) == len(variables) and all(
        tuple(v.shape) == tuple(value.shape) for v, value in zip(variables, values)
    ):
        assignments.extend(zip(variables, values))
        return
    if _nothing_lost(optimizer, names, values):
        saved = {_short_name(n): value for n, value in zip(names, values)}
        for v in optimizer.variables:
            if v.name in _COUNTERS and v.name in saved and saved[v.name].shape == v.shape:
                assignments.append((v, saved[v.name]))
        return
    warning_messages.append(
        "Error in loading the saved optimizer state. As a result, your model is starting "
        "with a freshly initialized optimizer."
    )


# Activations whose formula changed in Keras 3: a Keras 2 file's name -> its Keras 2 function.
_KERAS2_ACTIVATIONS = {"hard_sigmoid": "keras2_hard_sigmoid"}


def _keras2_activations(config):
    """``config`` with every ``*activation`` entry that Keras 3 computes differently replaced by
    the function Keras 2 computed (nested layer and cell configs included)."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key.endswith("activation") and isinstance(value, str):
                value = _KERAS2_ACTIVATIONS.get(value, value)
            elif key.endswith("activation") and isinstance(value, dict):
                name = value.get("config") if value.get("class_name") == "function" else None
                if name in _KERAS2_ACTIVATIONS:
                    value = _KERAS2_ACTIVATIONS[name]
            else:
                value = _keras2_activations(value)
            out[key] = value
        return out
    if isinstance(config, list):
        return [_keras2_activations(v) for v in config]
    return config


def keras2_file_config(config, keras_version):
    """A model config saved by Keras ``keras_version`` (``None``: unknown, read as Keras 2) in
    the form numpykeras builds: Keras 2's ``hard_sigmoid``, cuDNN layers as ``LSTM``/``GRU``,
    Keras 2.0-2.1's recurrent defaults (``keras2_recurrent``)."""
    written_by_keras2 = not (keras_version or "").startswith("3.")
    if written_by_keras2:
        config = _keras2_activations(config)
    return keras2_recurrent_config(config, written_by_keras2)


def finish_keras2_model(model, keras_version) -> None:
    """What a model built from a Keras ``keras_version`` config needs beyond its config: masked
    ``Bidirectional`` outputs of multi-backend Keras (``keras2_recurrent``)."""
    if is_multi_backend_keras(keras_version):
        keep_previous_outputs_at_masked_steps(model)


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model (and its compile state) from a legacy full-model HDF5 file."""
    from numpykeras.saving.serialization import (
        compile_from_config,
        deserialize_layer,
        normalize_model_config,
    )

    filepath = os.fspath(filepath)
    with h5_utils.open_h5(filepath) as f:
        model_config = h5_utils.read_attr_str(f, "model_config")
        if model_config is None:
            raise ValueError(
                f"No model config found in the file at {filepath}. It holds weights only: "
                "build the model in code and call `model.load_weights(filepath)`."
            )
        try:
            config = json.loads(model_config)
        except ValueError as e:
            raise h5_utils.CorruptFileError(
                f"The `model_config` attribute of '{filepath}' is not valid JSON ({e})."
            ) from None
        keras_version = h5_utils.read_attr_str(f, "keras_version")
        config = keras2_file_config(config, keras_version)
        model = deserialize_layer(normalize_model_config(config), custom_objects=custom_objects)
        finish_keras2_model(model, keras_version)
        try:
            assignments, warning_messages = plan_load_from_group(weights_root(f), model, filepath)
            train_config = h5_utils.read_attr_str(f, "training_config")
            if compile and train_config is not None:
                compile_from_config(model, json.loads(train_config), custom_objects)
                _plan_optimizer(f, model, filepath, assignments, warning_messages)
            elif compile:
                logging.getLogger("numpykeras").warning(
                    "No training configuration found in save file, so the model was *not* "
                    "compiled. Compile it manually."
                )
        except OSError as e:
            raise h5_utils.CorruptFileError(
                f"Could not read '{filepath}' ({e}). The file is truncated or corrupt."
            ) from None
    for msg in warning_messages:
        warnings.warn(msg, stacklevel=3)
    apply_assignments(assignments)
    return model


def is_legacy_layout(h5file) -> bool:
    """Whether an open HDF5 file has the legacy layout (vs. the Keras 3 ``vars`` layout)."""
    return (
        h5_utils.has_attr_list(h5file, "layer_names")
        or "model_weights" in h5file
        or "model_config" in h5file.attrs
    )
