"""Recurrent layers in ``.h5`` files as Keras 2.0-2.2 (multi-backend Keras) wrote them, built by
hand with h5py, and a plain NumPy float64 reference of what Keras 2 computed with them.

What those versions wrote (``keras/layers/recurrent.py``, ``cudnn_recurrent.py``,
``wrappers.py``, ``embeddings.py``, ``engine/saving.py`` at the 2.0.8, 2.1.2, 2.1.6 and 2.2.4
tags):

- 2.0.x (the ``Recurrent`` base class): ``return_sequences``, ``return_state``,
  ``go_backwards``, ``stateful``, ``unroll``, ``implementation`` (default 0) for every layer;
  ``GRU`` has no ``reset_after`` (it computed ``reset_after=False``);
- 2.1.0-2.1.4 (the ``RNN`` base class): the same keys without ``implementation`` on
  ``SimpleRNN``; ``LSTM``/``GRU`` carry ``implementation`` (default 1); ``GRU`` still has no
  ``reset_after``; from 2.1.5 ``GRU`` writes ``reset_after`` (default ``False``);
- ``recurrent_activation`` defaults to ``"hard_sigmoid"`` (``clip(0.2 x + 0.5, 0, 1)``) in all of
  them; initializers are written as ``{"class_name": "VarianceScaling", "config": {...}}``;
- ``CuDNNLSTM``/``CuDNNGRU`` (2.0.9+): no activation or dropout arguments; ``go_backwards``
  from 2.1; the bias holds the input and the recurrent biases (``8 units`` for LSTM, ``6 units``
  for GRU); the kernels hold each gate's matrix as cuDNN reads it (see :func:`cudnn_lstm`);
- wrappers nest ``{"layer": {"class_name", "config"}}``; ``Bidirectional`` adds ``merge_mode``
  and names its weights ``<wrapper>/forward_<layer>/kernel:0`` then ``.../backward_<layer>/...``;
- weights live at ``/model_weights/<layer>/<weight name>`` with ``weight_names`` such as
  ``"lstm_1/kernel:0"``, every string attribute a fixed-length byte string (h5py 2).
"""

import json

import h5py
import numpy as np

GLOROT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
}
ORTHOGONAL = {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}}
ZEROS = {"class_name": "Zeros", "config": {}}
UNIFORM = {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}

_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4, "CuDNNGRU": 3, "CuDNNLSTM": 4}


def _version(version):
    return tuple(int(part) for part in version.split(".")[:3])


def _base(name, batch_input_shape):
    """``Layer.get_config`` of Keras 2: ``dtype`` only on a layer given an input shape."""
    config = {"name": name, "trainable": True}
    if batch_input_shape is not None:
        config["batch_input_shape"] = list(batch_input_shape)
        config["dtype"] = "float32"
    return config


def _entry(class_name, config, inbound):
    entry = {"class_name": class_name, "config": config}
    if inbound is not None:  # a layer of a functional model
        name = config["name"]
        entry = {"name": name, **entry, "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]]}
    return entry


def recurrent(class_name, name, units, version, inbound=None, batch_input_shape=None, **kw):
    """A ``SimpleRNN``, ``GRU`` or ``LSTM`` entry as Keras ``version`` wrote it, with Keras 2's
    defaults; ``kw`` overrides any key (``reset_after`` only where that version wrote it)."""
    v = _version(version)
    config = _base(name, batch_input_shape)
    config.update(
        {
            "return_sequences": False,
            "return_state": False,
            "go_backwards": False,
            "stateful": False,
            "unroll": False,
        }
    )
    if v < (2, 1, 0):
        config["implementation"] = 0
    config.update({"units": units, "activation": "tanh"})
    if class_name != "SimpleRNN":
        config["recurrent_activation"] = "hard_sigmoid"
    config.update(
        {
            "use_bias": True,
            "kernel_initializer": GLOROT,
            "recurrent_initializer": ORTHOGONAL,
            "bias_initializer": ZEROS,
        }
    )
    if class_name == "LSTM":
        config["unit_forget_bias"] = True
    config.update(
        {
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
        }
    )
    if class_name != "SimpleRNN" and v >= (2, 1, 0):
        config["implementation"] = 1
    if class_name == "GRU" and v >= (2, 1, 5):
        config["reset_after"] = False
    unknown = set(kw) - set(config)
    if unknown - {"reset_after"}:
        raise KeyError(f"Keras {version} {class_name} has no {sorted(unknown)}")
    config.update(kw)
    return _entry(class_name, config, inbound)


def cudnn(class_name, name, units, version, inbound=None, batch_input_shape=None, **kw):
    """A ``CuDNNLSTM``/``CuDNNGRU`` entry as Keras ``version`` (2.1+) wrote it."""
    config = _base(name, batch_input_shape)
    config.update(
        {"return_sequences": False, "return_state": False, "go_backwards": False, "stateful": False}
    )
    if _version(version) < (2, 1, 0):
        del config["go_backwards"]
    config.update(
        {
            "units": units,
            "kernel_initializer": GLOROT,
            "recurrent_initializer": ORTHOGONAL,
            "bias_initializer": ZEROS,
        }
    )
    if class_name == "CuDNNLSTM":
        config["unit_forget_bias"] = True
    config.update(
        {
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
        }
    )
    config.update(kw)
    return _entry(class_name, config, inbound)


def dense(name, units, activation="linear"):
    config = {
        **_base(name, None),
        "units": units,
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": GLOROT,
        "bias_initializer": ZEROS,
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    return _entry("Dense", config, None)


def embedding(name, input_dim, output_dim, input_length, mask_zero, inbound=None):
    """Keras 2's ``Embedding`` always has an input shape: ``[None, input_length]``, float32."""
    config = _base(name, [None, input_length])
    config.update(
        {
            "input_dim": input_dim,
            "output_dim": output_dim,
            "embeddings_initializer": UNIFORM,
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": mask_zero,
            "input_length": input_length,
        }
    )
    return _entry("Embedding", config, inbound)


def masking(name, mask_value=0.0, inbound=None, batch_input_shape=None):
    config = {**_base(name, batch_input_shape), "mask_value": mask_value}
    return _entry("Masking", config, inbound)


def bidirectional(name, layer, merge_mode="concat", inbound=None, batch_input_shape=None):
    config = {**_base(name, batch_input_shape), "layer": layer, "merge_mode": merge_mode}
    return _entry("Bidirectional", config, inbound)


def time_distributed(name, layer, inbound=None):
    return _entry("TimeDistributed", {**_base(name, None), "layer": layer}, inbound)


def weight_shapes(entry, input_dim):
    """``[(weight suffix, shape)]`` of a layer entry fed ``input_dim`` features."""
    class_name, config = entry["class_name"], entry["config"]
    if class_name == "Embedding":
        return [("embeddings", (config["input_dim"], config["output_dim"]))]
    if class_name == "Dense":
        return [("kernel", (input_dim, config["units"])), ("bias", (config["units"],))]
    if class_name == "TimeDistributed":
        return weight_shapes(config["layer"], input_dim)
    if class_name == "Bidirectional":
        inner = config["layer"]
        shapes = weight_shapes(inner, input_dim)
        name = inner["config"]["name"]
        return [
            (f"{direction}_{name}/{suffix}", shape)
            for direction in ("forward", "backward")
            for suffix, shape in shapes
        ]
    if class_name in _GATES:
        units, gates = config["units"], _GATES[class_name]
        shapes = [
            ("kernel", (input_dim, gates * units)),
            ("recurrent_kernel", (units, gates * units)),
        ]
        if class_name.startswith("CuDNN"):
            shapes.append(("bias", (2 * gates * units,)))
        elif config.get("use_bias", True):
            bias = (2, 3 * units) if config.get("reset_after") else (gates * units,)
            shapes.append(("bias", bias))
        return shapes
    return []


def random_weights(entry, input_dim, rng, scale=0.5):
    """``[(weight name, array)]`` for a layer entry: uniform in ``[-scale, scale]``."""
    name = entry["config"]["name"]
    return [
        (f"{name}/{suffix}:0", rng.uniform(-scale, scale, shape).astype("float32"))
        for suffix, shape in weight_shapes(entry, input_dim)
    ]


def _fixed(strings):
    if not strings:
        return np.zeros((0,), dtype="float64")  # what h5py 2 wrote for an empty list
    return np.array([s.encode("utf8") for s in strings], dtype=f"S{max(map(len, strings))}")


def write_weights(group, weights, keras_version):
    """``weights``: ``{layer name: [(weight name, array)]}``, every layer of the model in order."""
    group.attrs["layer_names"] = _fixed(list(weights))
    group.attrs["backend"] = np.bytes_("tensorflow")
    group.attrs["keras_version"] = np.bytes_(keras_version)
    for layer_name, pairs in weights.items():
        layer_group = group.create_group(layer_name)
        layer_group.attrs["weight_names"] = _fixed([n for n, _ in pairs])
        for weight_name, array in pairs:
            layer_group.create_dataset(weight_name, data=array)


def write_model(path, model_config, weights, keras_version):
    """A Keras 2 full-model file (``model_config`` and ``/model_weights``)."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_(keras_version)
        f.attrs["backend"] = np.bytes_("tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(model_config))
        write_weights(f.create_group("model_weights"), weights, keras_version)


def write_weights_file(path, weights, keras_version):
    """A Keras 2 weights-only file (``model.save_weights``): the weights at the root."""
    with h5py.File(path, "w") as f:
        write_weights(f, weights, keras_version)


# --------------------------------------------------------------------------- NumPy reference
#
# Keras 2's equations in float64, written from its source, not from numpykeras. Gates are stacked
# along the last axis of the kernels: LSTM (i, f, c, o), GRU (z, r, h).

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),  # Keras 2's formula
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


def _f64(*arrays):
    return [None if a is None else np.asarray(a, dtype=np.float64) for a in arrays]


def run(step, x, states, go_backwards=False, mask=None):
    """Keras 2's ``K.rnn``: ``step(x_t, states) -> (output, states)`` over the timesteps; where
    ``mask`` is false the states are kept and the output is the previous one (``states[0]``).
    Returns ``(last output, outputs in processing order (batch, time, units), final states)``."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = []
    for t in steps:
        output, new_states = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t : t + 1]
            output = np.where(keep, output, states[0])
            new_states = [np.where(keep, n, s) for n, s in zip(new_states, states)]
        states = new_states
        outputs.append(output)
    return outputs[-1], np.stack(outputs, axis=1), states


def simple_rnn_step(kernel, recurrent_kernel, bias, activation="tanh"):
    kernel, recurrent_kernel, bias = _f64(kernel, recurrent_kernel, bias)
    act = ACTIVATIONS[activation]

    def step(x, states):
        h = act(x @ kernel + (0 if bias is None else bias) + states[0] @ recurrent_kernel)
        return h, [h]

    return step


def lstm_step(
    kernel, recurrent_kernel, bias, activation="tanh", recurrent_activation="hard_sigmoid"
):
    kernel, recurrent_kernel, bias = _f64(kernel, recurrent_kernel, bias)
    act, rec = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]

    def step(x, states):
        h, c = states
        z = x @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = rec(f) * c + rec(i) * act(g)
        h = rec(o) * act(c)
        return h, [h, c]

    return step


def gru_step(
    kernel,
    recurrent_kernel,
    bias,
    reset_after,
    activation="tanh",
    recurrent_activation="hard_sigmoid",
):
    kernel, recurrent_kernel, bias = _f64(kernel, recurrent_kernel, bias)
    act, rec = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    if bias is None:
        input_bias = recurrent_bias = 0.0
    elif reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, 0.0
    u = recurrent_kernel.shape[0]

    def step(x, states):
        (h,) = states
        xz, xr, xh = np.split(x @ kernel + input_bias, 3, axis=-1)
        inner = h @ recurrent_kernel + recurrent_bias  # recurrent_bias is 0 without reset_after
        z, r = rec(xz + inner[:, :u]), rec(xr + inner[:, u : 2 * u])
        if reset_after:
            hh = act(xh + r * inner[:, 2 * u :])
        else:
            hh = act(xh + (r * h) @ recurrent_kernel[:, 2 * u :])
        h = z * h + (1 - z) * hh
        return h, [h]

    return step


def _cudnn_matrices(kernel, recurrent_kernel, gates):
    """cuDNN's per-gate matrices as Keras 2 handed them over: each gate's ``(input_dim, units)``
    block flattened in C order is read as cuDNN's row-major ``(units, input_dim)`` matrix ``W``
    (``_canonical_to_params`` reshapes without transposing), and likewise ``R`` from the
    recurrent block; a gate computes ``W x + R h`` (``x @ W.T + h @ R.T``)."""
    kernel, recurrent_kernel = _f64(kernel, recurrent_kernel)
    units = recurrent_kernel.shape[0]
    w = [k.reshape(units, kernel.shape[0]) for k in np.split(kernel, gates, axis=-1)]
    r = [k.reshape(units, units) for k in np.split(recurrent_kernel, gates, axis=-1)]
    return w, r


def cudnn_lstm_step(kernel, recurrent_kernel, bias):
    """cuDNN's LSTM: ``i, f, o = sigmoid(W x + b_W + R h + b_R)``, ``g = tanh(...)``,
    ``c' = f c + i g``, ``h' = o tanh(c')``; the bias is ``[b_W, b_R]``, each ``(i, f, c, o)``."""
    w, r = _cudnn_matrices(kernel, recurrent_kernel, 4)
    (bias,) = _f64(bias)
    b_w, b_r = np.split(bias, 2)
    b_w, b_r = np.split(b_w, 4), np.split(b_r, 4)
    sigmoid = ACTIVATIONS["sigmoid"]

    def step(x, states):
        h, c = states
        i, f, g, o = (x @ w[k].T + b_w[k] + h @ r[k].T + b_r[k] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return h, [h, c]

    return step


def cudnn_gru_step(kernel, recurrent_kernel, bias):
    """cuDNN's GRU: ``z, r = sigmoid(W x + b_W + R h + b_R)``,
    ``h~ = tanh(W_h x + b_Wh + r (R_h h + b_Rh))``, ``h' = z h + (1 - z) h~``; Keras 2 keeps the
    gates in its own order (z, r, h) in the kernels and ``[b_W (z, r, h), b_R (z, r, h)]``."""
    w, r = _cudnn_matrices(kernel, recurrent_kernel, 3)
    (bias,) = _f64(bias)
    b_w, b_r = np.split(bias, 2)
    b_w, b_r = np.split(b_w, 3), np.split(b_r, 3)
    sigmoid = ACTIVATIONS["sigmoid"]

    def step(x, states):
        (h,) = states
        z = sigmoid(x @ w[0].T + b_w[0] + h @ r[0].T + b_r[0])
        reset = sigmoid(x @ w[1].T + b_w[1] + h @ r[1].T + b_r[1])
        hh = np.tanh(x @ w[2].T + b_w[2] + reset * (h @ r[2].T + b_r[2]))
        h = z * h + (1 - z) * hh
        return h, [h]

    return step


def zeros_states(class_name, batch, units):
    n = 2 if class_name.endswith("LSTM") else 1
    return [np.zeros((batch, units)) for _ in range(n)]


def layer_output(step, class_name, x, units, go_backwards=False, return_sequences=False, mask=None):
    """A Keras 2 recurrent layer's output (the sequence in processing order, as Keras 2 returns
    it with ``go_backwards``)."""
    x = np.asarray(x, dtype=np.float64)
    states = zeros_states(class_name, x.shape[0], units)
    last, sequence, _ = run(step, x, states, go_backwards, mask)
    return sequence if return_sequences else last
