"""Full-model ``.h5`` files as Keras 2.0-2.2 wrote them, built by hand with h5py.

Those versions (``keras/engine/saving.py``, ``network.py``) store:

- ``model_config``: a functional model as ``{"class_name": "Model", "config": {"name", "layers",
  "input_layers", "output_layers"}}`` whose layer entries carry ``name`` and Keras 2
  ``inbound_nodes`` (``[[[layer, node_index, tensor_index, {}]]]``); a Sequential model as
  ``{"class_name": "Sequential", "config": [layer entries]}`` (2.0-2.1) or ``{"name", "layers"}``
  (2.2), its first layer carrying ``batch_input_shape``;
- layer configs with ``VarianceScaling`` initializers, ``L1L2`` regularizers and no ``dtype``
  except on a layer given an input shape;
- every string attribute as a fixed-length byte string (h5py 2), and the weights under
  ``/model_weights/<layer>/<layer>/kernel:0``.
"""

import json

import h5py
import numpy as np

GLOROT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
}
ZEROS = {"class_name": "Zeros", "config": {}}
ONES = {"class_name": "Ones", "config": {}}


def _layer(class_name, name, inbound=None, batch_input_shape=None, **config):
    config = {"name": name, "trainable": True, **config}
    if batch_input_shape is not None:
        config["batch_input_shape"] = list(batch_input_shape)
        config["dtype"] = "float32"
    entry = {"class_name": class_name, "config": config}
    if inbound is not None:  # a layer of a functional model
        entry = {"name": name, **entry, "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]]}
    return entry


def input_layer(name, batch_input_shape):
    config = {
        "batch_input_shape": list(batch_input_shape),
        "dtype": "float32",
        "sparse": False,
        "name": name,
    }
    return {"name": name, "class_name": "InputLayer", "config": config, "inbound_nodes": []}


def dense(name, units, activation, inbound=None, kernel_regularizer=None, **kwargs):
    return _layer(
        "Dense",
        name,
        inbound,
        units=units,
        activation=activation,
        use_bias=True,
        kernel_initializer=GLOROT,
        bias_initializer=ZEROS,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    )


def conv2d(name, filters, kernel_size, activation, inbound=None, padding="valid"):
    return _layer(
        "Conv2D",
        name,
        inbound,
        filters=filters,
        kernel_size=[kernel_size, kernel_size],
        strides=[1, 1],
        padding=padding,
        data_format="channels_last",
        dilation_rate=[1, 1],
        activation=activation,
        use_bias=True,
        kernel_initializer=GLOROT,
        bias_initializer=ZEROS,
        kernel_regularizer={"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}},
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
    )


def batch_norm(name, inbound=None):
    return _layer(
        "BatchNormalization",
        name,
        inbound,
        axis=-1,
        momentum=0.99,
        epsilon=0.001,
        center=True,
        scale=True,
        beta_initializer=ZEROS,
        gamma_initializer=ONES,
        moving_mean_initializer=ZEROS,
        moving_variance_initializer=ONES,
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
    )


def max_pooling2d(name, inbound=None):
    return _layer(
        "MaxPooling2D",
        name,
        inbound,
        pool_size=[2, 2],
        padding="valid",
        strides=[2, 2],
        data_format="channels_last",
    )


def flatten(name, inbound=None):
    return _layer("Flatten", name, inbound, data_format="channels_last")


def dropout(name, rate, inbound=None):
    return _layer("Dropout", name, inbound, rate=rate, noise_shape=None, seed=None)


def add(name, inbound):
    return _layer("Add", name, inbound)


def functional_config(name, layers, inputs, outputs):
    """A functional model as Keras 2.0-2.2 wrote it: class ``"Model"``, nested io lists."""
    return {
        "class_name": "Model",
        "config": {
            "name": name,
            "layers": layers,
            "input_layers": [[n, 0, 0] for n in inputs],
            "output_layers": [[n, 0, 0] for n in outputs],
        },
    }


def sequential_config(name, layers, bare_list):
    """A Sequential model: a bare list of layers (Keras 2.0-2.1) or ``{name, layers}`` (2.2)."""
    return {
        "class_name": "Sequential",
        "config": layers if bare_list else {"name": name, "layers": layers},
    }


def weight_suffixes(class_name):
    """The weights a layer of ``class_name`` saves, in Keras 2 order."""
    if class_name in ("Dense", "Conv2D"):
        return ["kernel", "bias"]
    if class_name == "BatchNormalization":
        return ["gamma", "beta", "moving_mean", "moving_variance"]
    return []


def random_weights(layer_entries, shapes, seed=0):
    """``{layer name: [arrays]}`` for the layers that have weights (``shapes[name]`` lists their
    shapes); BatchNormalization variances are positive."""
    rng = np.random.default_rng(seed)
    out = {}
    for entry in layer_entries:
        name = entry["config"]["name"]
        suffixes = weight_suffixes(entry["class_name"])
        arrays = []
        for suffix, shape in zip(suffixes, shapes.get(name, [])):
            low = 0.5 if suffix == "moving_variance" else -1.0
            arrays.append(rng.uniform(low, 1.5, shape).astype("float32"))
        out[name] = arrays
    return out


def _fixed(strings):
    return np.array([s.encode("utf8") for s in strings], dtype=f"S{max(map(len, strings))}")


def write_keras2_model(path, model_config, weights, keras_version, training_config=None):
    """Write ``model_config`` and ``weights`` (``{layer name: [arrays]}``, every layer of the
    model in order, weightless ones with ``[]``) as a Keras 2.0-2.2 full-model file."""
    layers = model_config["config"]
    layers = layers if isinstance(layers, list) else layers["layers"]
    classes = {entry["config"]["name"]: entry["class_name"] for entry in layers}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_(keras_version)
        f.attrs["backend"] = np.bytes_("tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(model_config))
        if training_config is not None:
            f.attrs["training_config"] = np.bytes_(json.dumps(training_config))
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = _fixed(list(weights))
        group.attrs["backend"] = np.bytes_("tensorflow")
        group.attrs["keras_version"] = np.bytes_(keras_version)
        for name, arrays in weights.items():
            layer_group = group.create_group(name)
            suffixes = weight_suffixes(classes.get(name, "InputLayer"))[: len(arrays)]
            names = [f"{name}/{suffix}:0" for suffix in suffixes]
            layer_group.attrs["weight_names"] = _fixed(names) if names else np.zeros((0,))
            for weight_name, array in zip(names, arrays):
                layer_group.create_dataset(weight_name, data=array)
