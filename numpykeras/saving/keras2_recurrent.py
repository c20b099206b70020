"""Recurrent layers of Keras 2 files: configs and weights that Keras 3 no longer writes.

Configs (:func:`keras2_recurrent_config`):

- ``CuDNNLSTM`` and ``CuDNNGRU`` (Keras 2.0.9-2.3 and tf.keras 1.x/2.x, ``tf.compat.v1``) become
  the layers that compute the same function: ``LSTM(activation="tanh",
  recurrent_activation="sigmoid")`` and ``GRU(..., reset_after=True)``. Their own arguments
  (initializers, regularizers, constraints, ``unit_forget_bias``, ``return_sequences``,
  ``return_state``, ``go_backwards``, ``stateful``, ``time_major``) carry over.
- ``GRU``/``GRUCell`` without ``reset_after`` (Keras 2.0-2.1.4) computed ``reset_after=False``,
  with a ``(3 units,)`` bias, not Keras 3's default.
- ``implementation=0`` (Keras 2.0) is read as 1, as Keras 2.1+ read it.

Weights (:func:`convert_cudnn_weights`), converted on loading as Keras 2's
``preprocess_weights_for_loading`` did, so that ``load_model`` and ``load_weights`` (into a model
built in code with plain ``LSTM``/``GRU`` layers) both accept what a cuDNN layer saved. A cuDNN
layer keeps each gate's ``(input_dim, units)`` block of ``kernel`` as cuDNN reads it: the block's
values in C order form cuDNN's row-major ``(units, input_dim)`` matrix ``W``, applied as ``W x``;
the recurrent blocks likewise form ``R``, applied as ``R h``. So the plain layer's block is
``W.T`` and its recurrent block ``R.T``. Gates keep Keras's order (LSTM ``i, f, c, o``; GRU
``z, r, h``). The bias holds cuDNN's input biases then its recurrent biases: an LSTM adds the two
(``(8 units,)`` to ``(4 units,)``); a GRU keeps both as ``reset_after=True``'s ``(2, 3 units)``.
"""

from __future__ import annotations

import numpy as np

_CUDNN_CLASSES = {"CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU"}


# --------------------------------------------------------------------------- configs


def _plain_rnn_config(class_name: str, config: dict) -> dict:
    """A ``CuDNNLSTM``/``CuDNNGRU`` config as the config of the plain layer it computes."""
    out = dict(config)
    out.update(
        {
            "activation": "tanh",
            "recurrent_activation": "sigmoid",
            "use_bias": True,
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            "unroll": False,
        }
    )
    if class_name == "CuDNNGRU":
        out["reset_after"] = True
    return out


def _translate_entry(entry: dict, written_by_keras2: bool) -> dict:
    class_name, config = entry["class_name"], entry["config"]
    if class_name in _CUDNN_CLASSES:
        entry = {**entry, "class_name": _CUDNN_CLASSES[class_name]}
        entry["config"] = _plain_rnn_config(class_name, config)
        return entry
    if not written_by_keras2:
        return entry
    if class_name in ("GRU", "GRUCell") and "reset_after" not in config:
        config = {**config, "reset_after": False}
    if class_name in ("SimpleRNN", "GRU", "LSTM", "GRUCell", "LSTMCell", "SimpleRNNCell"):
        if config.get("implementation") == 0:
            config = {**config, "implementation": 1}
    return {**entry, "config": config}


def keras2_recurrent_config(config, written_by_keras2=True):
    """``config`` (a model, layer or any nested part of one) with the recurrent entries of Keras 2
    files in the form numpykeras builds (see the module notes). CuDNN layers are translated in
    any file; the ``reset_after`` and ``implementation`` defaults only for Keras 2 files."""
    if isinstance(config, list):
        return [keras2_recurrent_config(v, written_by_keras2) for v in config]
    if not isinstance(config, dict):
        return config
    out = {k: keras2_recurrent_config(v, written_by_keras2) for k, v in config.items()}
    if isinstance(out.get("class_name"), str) and isinstance(out.get("config"), dict):
        out = _translate_entry(out, written_by_keras2)
    return out


def is_multi_backend_keras(version) -> bool:
    """Whether ``keras_version`` names multi-backend Keras 2.0-2.3 (not tf.keras, whose versions
    carry ``-tf`` up to 2.3 and continue from 2.4)."""
    parts = (version or "").split(".")
    return (
        len(parts) == 3
        and parts[0] == "2"
        and parts[1] in ("0", "1", "2", "3")
        and parts[2].isdigit()
    )


def keep_previous_outputs_at_masked_steps(model) -> None:
    """Multi-backend Keras 2.0-2.3's ``Bidirectional`` let each direction repeat its previous
    output at masked steps of a returned sequence (tf.keras and Keras 3 output zeros there): the
    layers of ``model`` (nested ones too) are set to compute what such a file computed."""
    from numpykeras.layers import Bidirectional

    for layer in _all_layers(model):
        if isinstance(layer, Bidirectional):
            for sub in (layer.forward_layer, layer.backward_layer):
                if getattr(sub, "zero_output_for_mask", None) is not None:
                    sub.zero_output_for_mask = False


def _all_layers(layer):
    yield layer
    for sub in getattr(layer, "layers", None) or ():
        if sub is not layer:
            yield from _all_layers(sub)
    inner = getattr(layer, "layer", None)
    if inner is not None and inner is not layer:
        yield from _all_layers(inner)


# --------------------------------------------------------------------------- weights


def _per_gate(kernel, gates, transform):
    return np.concatenate([transform(k) for k in np.split(kernel, gates, axis=-1)], axis=-1)


def _plain_kernels(kernel, recurrent_kernel, gates):
    """cuDNN's kernels as a plain layer's: each input block is ``W.T`` (``W`` the block's values
    in C order as ``(units, input_dim)``), each recurrent block ``R.T``."""
    units = recurrent_kernel.shape[0]
    input_dim = kernel.shape[0]
    kernel = _per_gate(kernel, gates, lambda k: k.reshape(units, input_dim).T)
    recurrent_kernel = _per_gate(recurrent_kernel, gates, lambda k: k.T)
    return np.ascontiguousarray(kernel), np.ascontiguousarray(recurrent_kernel)


def _cudnn_units(values, gates):
    """The units of cuDNN-layout ``[kernel, recurrent_kernel, bias]``, else ``None``."""
    if len(values) != 3:
        return None
    kernel, recurrent_kernel, bias = (np.asarray(v) for v in values)
    if recurrent_kernel.ndim != 2 or kernel.ndim != 2:
        return None
    units = recurrent_kernel.shape[0]
    fits = (
        recurrent_kernel.shape == (units, gates * units)
        and kernel.shape[1] == gates * units
        and bias.shape == (2 * gates * units,)
    )
    return units if fits else None


def convert_cudnn_weights(layer, values):
    """The saved ``values`` of ``layer`` (in legacy file order), with the weights of a
    ``CuDNNLSTM``/``CuDNNGRU`` converted for the ``LSTM``/``GRU`` that ``layer`` is (or wraps:
    ``Bidirectional``, ``TimeDistributed``, nested models). Values of any other shape are
    returned unchanged, so that the shape check reports what the file holds.

    Raises:
        ValueError: cuDNN GRU weights for a ``GRU(reset_after=False)``, which computes another
            function (Keras 2 refused them too).
    """
    from numpykeras.layers import GRU, LSTM, Bidirectional, TimeDistributed

    values = list(values)
    if isinstance(layer, Bidirectional):
        half = len(values) // 2
        return convert_cudnn_weights(layer.forward_layer, values[:half]) + convert_cudnn_weights(
            layer.backward_layer, values[half:]
        )
    if isinstance(layer, TimeDistributed):
        return convert_cudnn_weights(layer.layer, values)
    sublayers = getattr(layer, "layers", None)
    if sublayers is not None and not isinstance(layer, (LSTM, GRU)):
        return _convert_nested_model(layer, values)
    if isinstance(layer, LSTM):
        units = _cudnn_units(values, 4)
        if units is None or units != layer.units:
            return values
        kernel, recurrent_kernel = _plain_kernels(values[0], values[1], 4)
        bias = np.asarray(values[2])
        return [kernel, recurrent_kernel, bias[: 4 * units] + bias[4 * units :]]
    if isinstance(layer, GRU):
        units = _cudnn_units(values, 3)
        if units is None or units != layer.units:
            return values
        if not layer.reset_after:
            raise ValueError(
                f"Layer '{layer.name}' is a GRU with reset_after=False, but its saved weights "
                f"are those of a CuDNNGRU (bias of shape ({6 * units},)), which computes "
                "GRU(reset_after=True, recurrent_activation='sigmoid'). Build the layer with "
                "reset_after=True to load them."
            )
        kernel, recurrent_kernel = _plain_kernels(values[0], values[1], 3)
        return [kernel, recurrent_kernel, np.asarray(values[2]).reshape(2, 3 * units)]
    return values


def _convert_nested_model(model, values):
    """A nested model's values are its trainable weights, then its non-trainable ones: each
    sublayer's share of both is converted, and the values go back in the same order."""
    from numpykeras.saving.legacy_h5 import legacy_weights

    n_trainable = len(model.trainable_weights)
    if len(values) != len(legacy_weights(model)):
        return values  # the count check reports it
    trainable, non_trainable = values[:n_trainable], values[n_trainable:]
    new_trainable, new_non_trainable = [], []
    for sub in model.layers:
        t, nt = len(sub.trainable_weights), len(sub.non_trainable_weights)
        if not t + nt:
            continue
        converted = convert_cudnn_weights(sub, trainable[:t] + non_trainable[:nt])
        new_trainable += converted[:t]
        new_non_trainable += converted[t:]
        trainable, non_trainable = trainable[t:], non_trainable[nt:]
    return new_trainable + trainable + new_non_trainable + non_trainable
