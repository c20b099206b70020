"""The fused inference path of models (``models/_fusion.py``): which chains fuse, and that fused
inference (``predict``, ``model(x)``, ``predict_on_batch``) gives the layer-by-layer result.

The unfused result is every layer called on its own, node by node in graph order (nested
models too). The tape path (``model._run(x, training=False, tape=[])``) never fuses either, but
it runs each layer's ``forward``, which a subclass that overrides only ``call`` does not change.
BatchNorm layers get random gamma, beta and moving statistics so the folded affine map is not the
identity, and the inputs are large enough that ReLU6 clips on both sides.
"""

from typing import NamedTuple

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import backend, layers, models
from numpykeras.layers.input_layer import InputLayer
from numpykeras.models import _fusion
from numpykeras.models.functional import Functional, _flat, _pack

from concurrency import run_in_threads
from tolerances import (
    FORWARD_ATOL,
    FORWARD_RTOL,
    REFERENCE_ATOL,
    REFERENCE_RTOL,
    assert_close,
)

SHAPE = (9, 9, 4)
BATCH = 2


# --------------------------------------------------------------------------- helpers


@pytest.fixture(params=["float32", "float64"])
def floatx(request):
    """Builds the test's layers (and converts ``predict``'s inputs) in float32, then float64."""
    saved = backend.floatx()
    backend.set_floatx(request.param)
    yield request.param
    backend.set_floatx(saved)


def _close(actual, expected, what, dtype="float32"):
    """float32 fused vs unfused: the forward tolerance; float64: the plain-loop one."""
    assert np.asarray(actual).dtype == np.dtype(dtype), what
    if dtype == "float64":
        assert_close(actual, expected, REFERENCE_ATOL, REFERENCE_RTOL, what)
    else:
        assert_close(actual, expected, FORWARD_ATOL, FORWARD_RTOL, what)


def _leaf_layers(model):
    for layer in model.layers:
        if isinstance(layer, models.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _randomize(model, seed=0):
    """Random values for every weight: non-trivial BatchNorm (gamma of both signs, positive
    moving variance) and kernels scaled by their fan-in, so activations stay of order 1-10
    through the graph (and still pass 6 sometimes)."""
    rng = np.random.default_rng(seed)
    for layer in _leaf_layers(model):
        for v in layer.weights:
            if v.name == "moving_variance":
                value = rng.uniform(0.5, 2.0, v.shape)
            elif v.name == "gamma":
                value = rng.uniform(0.5, 1.5, v.shape) * rng.choice([-1.0, 1.0], v.shape)
            elif v.name in ("beta", "moving_mean", "bias"):
                value = rng.normal(0.0, 0.5, v.shape)
            else:  # kernels: (kh, kw, in, out), (kh, kw, in, multiplier) or (in, out)
                depthwise = isinstance(layer, layers.DepthwiseConv2D)
                fan_in = np.prod(v.shape[:2] if depthwise else v.shape[:-1])
                value = rng.normal(0.0, 1.3 / np.sqrt(fan_in), v.shape)
            v.assign(value.astype(v.dtype))
    return model


def _x(seed=1, batch=BATCH, shape=SHAPE, dtype="float32"):
    return (2.0 * np.random.default_rng(seed).standard_normal((batch,) + shape)).astype(dtype)


def _unfused(model, x):
    """Every layer called on its own, node by node in graph order; nested models likewise."""
    if isinstance(model, models.Sequential):
        for layer in model.layers:
            x = _unfused(layer, x)
        return x
    if not isinstance(model, Functional):
        return model(x)
    values = {id(t): v for t, v in zip(model.inputs, model._standardize_inputs(x))}
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        args = _pack(node.call_args, [values[id(t)] for t in _flat(node.call_args)])
        if isinstance(node.layer, models.Model):
            out = _unfused(node.layer, args)
        else:
            out = node.layer(args, **node.call_kwargs)
        outs = [out] if len(node.output_tensors) == 1 else _flat(out)
        for t, v in zip(node.output_tensors, outs):
            values[id(t)] = v
    result = [values[id(t)] for t in model.outputs]
    return result[0] if len(result) == 1 else result


def _chains(model):
    """The fused steps of a Functional model's plan, as tuples of layer class names."""
    return sorted(
        tuple(type(n.layer).__name__ for n in step.nodes)
        for step in _fusion.functional_plan(model)
        if step.fused is not None
    )


def _assert_plan_covers_graph(model):
    """Every node (but the inputs) runs in exactly one step."""
    plan = _fusion.functional_plan(model)
    ran = [id(n) for step in plan for n in step.nodes]
    nodes = [n for n in model._nodes if not isinstance(n.layer, InputLayer)]
    assert sorted(ran) == sorted(id(n) for n in nodes)


class Run(NamedTuple):
    """One fused chain run by ``_fusion.run_fused``."""

    conv: str  # the conv layer's name
    batch_norm: bool = False
    activation: str | None = None
    max_pool: bool = False
    residual: bool = False
    padding: tuple | None = None  # a ZeroPadding2D's ((top, bottom), (left, right))
    fused: bool = True  # False: it could not run fused and fell back to the layers


@pytest.fixture
def fused_runs(monkeypatch):
    """The :class:`Run` of every fused chain run (``_fusion.run_fused``), in order."""
    runs = []
    original = _fusion.run_fused

    def recording(fusion, x, residual=None, pool=None):
        y = original(fusion, x, residual, pool)
        padding = None if fusion.padding is None else tuple(map(tuple, fusion.padding))
        runs.append(
            Run(
                fusion.conv.name,
                fusion.batch_norm is not None,
                fusion.activation,
                fusion.max_pool is not None,
                fusion.residual is not None,
                padding,
                y is not None,
            )
        )
        return y

    monkeypatch.setattr(_fusion, "run_fused", recording)
    return runs


def _check_inference(model, x, what, dtype="float32"):
    """``predict``, ``model(x)`` and ``predict_on_batch`` (fused) == the unfused result."""
    expected = _unfused(model, x)
    for how, got in (
        ("predict", lambda: model.predict(x, verbose=0)),
        ("predict in batches of 1", lambda: model.predict(x, batch_size=1, verbose=0)),
        ("call", lambda: model(x)),
        ("predict_on_batch", lambda: model.predict_on_batch(x)),
    ):
        result = got()
        if isinstance(expected, list):
            assert isinstance(result, list) and len(result) == len(expected)
            for i, (r, e) in enumerate(zip(result, expected)):
                _close(r, e, f"{what}: {how}, output {i}", dtype)
        else:
            _close(result, expected, f"{what}: {how}", dtype)
    return expected


# --------------------------------------------------------------------------- graphs


def resnet_identity_block(m=keras):
    """conv-bn-relu-conv-bn-add(identity)-relu."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(4, 3, padding="same", name="conv1")(inp)
    y = L.BatchNormalization(name="bn1")(y)
    y = L.ReLU(name="relu1")(y)
    y = L.Conv2D(4, 3, padding="same", name="conv2")(y)
    y = L.BatchNormalization(name="bn2")(y)
    y = L.Add(name="add")([y, inp])
    out = L.Activation("relu", name="relu2")(y)
    return m.Model(inp, out, name="resnet_identity")


def resnet_projection_block(m=keras):
    """A strided block with a conv+bn shortcut: both branches end in conv-bn before the Add."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(8, 3, strides=2, padding="same", name="conv1")(inp)
    y = L.BatchNormalization(name="bn1")(y)
    y = L.Activation("relu", name="relu1")(y)
    y = L.Conv2D(8, 3, padding="same", name="conv2")(y)
    y = L.BatchNormalization(name="bn2")(y)
    s = L.Conv2D(8, 1, strides=2, name="shortcut_conv")(inp)
    s = L.BatchNormalization(name="shortcut_bn")(s)
    y = L.Add(name="add")([y, s])
    out = L.ReLU(name="relu2")(y)
    return m.Model(inp, out, name="resnet_projection")


def mobilenet_block(m=keras):
    """Inverted residual: conv1x1-bn-relu6-depthwise-bn-ReLU(6)-conv1x1-bn-add."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(8, 1, name="expand")(inp)
    y = L.BatchNormalization(name="expand_bn")(y)
    y = L.Activation("relu6", name="expand_relu")(y)
    y = L.DepthwiseConv2D(3, padding="same", name="depthwise")(y)
    y = L.BatchNormalization(name="depthwise_bn")(y)
    y = L.ReLU(6.0, name="depthwise_relu")(y)
    y = L.Conv2D(4, 1, name="project")(y)
    y = L.BatchNormalization(name="project_bn")(y)
    out = L.Add(name="add")([inp, y])  # the residual first
    return m.Model(inp, out, name="mobilenet_block")


def conv_pool_head(m=keras):
    """Conv2D(relu) -> MaxPooling2D, then conv-ReLU (no BN), a relu6 chain and a Dense head."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inp)
    y = L.MaxPooling2D(2, name="pool")(y)
    y = L.Conv2D(6, 2, name="conv2")(y)
    y = L.ReLU(name="relu")(y)
    y = L.Conv2D(5, 1, name="conv3")(y)
    y = L.BatchNormalization(name="bn")(y)
    y = L.Activation("relu6", name="relu6")(y)
    out = L.Dense(3, name="head")(L.Flatten(name="flatten")(y))
    return m.Model(inp, out, name="conv_pool")


def conv_add_without_bn(m=keras):
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    y = L.Add(name="add")([y, inp])
    out = L.ReLU(max_value=6, name="relu6")(y)
    return m.Model(inp, out)


FUSING = {
    "resnet-identity": (
        resnet_identity_block,
        [
            ("Conv2D", "BatchNormalization", "Add", "Activation"),
            ("Conv2D", "BatchNormalization", "ReLU"),
        ],
    ),
    "resnet-projection": (
        resnet_projection_block,
        # one branch takes the Add and the ReLU (with the other branch as its residual)
        [
            ("Conv2D", "BatchNormalization"),
            ("Conv2D", "BatchNormalization", "Activation"),
            ("Conv2D", "BatchNormalization", "Add", "ReLU"),
        ],
    ),
    "mobilenet": (
        mobilenet_block,
        [
            ("Conv2D", "BatchNormalization", "Activation"),
            ("Conv2D", "BatchNormalization", "Add"),
            ("DepthwiseConv2D", "BatchNormalization", "ReLU"),
        ],
    ),
    "conv-pool": (
        conv_pool_head,
        [
            ("Conv2D", "BatchNormalization", "Activation"),
            ("Conv2D", "MaxPooling2D"),
            ("Conv2D", "ReLU"),
        ],
    ),
    "conv-add": (conv_add_without_bn, [("Conv2D", "Add", "ReLU")]),
}


@pytest.mark.parametrize("name", list(FUSING))
def test_fused_inference_matches_layer_by_layer(floatx, fused_runs, name):
    build, chains = FUSING[name]
    model = _randomize(build())
    assert _chains(model) == chains
    _assert_plan_covers_graph(model)
    x = _x(dtype=floatx)
    expected = _check_inference(model, x, name, floatx)
    assert fused_runs and all(run.fused for run in fused_runs), fused_runs
    # every chain in each of the 5 inference calls (predict in batches of 1: two calls)
    assert len(fused_runs) == 5 * len(chains)
    if name in ("resnet-identity", "resnet-projection", "conv-add"):
        assert (expected == 0).any() and (expected > 0).any()  # the final relu is exercised
    if name == "mobilenet":
        inner = models.Model(model.input, model.get_layer("depthwise_relu").output)
        inner_out = inner.predict(x, verbose=0)
        assert (inner_out == 6).any() and (inner_out == 0).any()  # relu6 clips both sides


def views_as_inputs_and_residuals():
    """A cropped (strided view) input and a permuted (transposed view) residual."""
    L = layers
    inp = keras.Input((11, 11, 4))
    c = L.Cropping2D(1)(inp)
    y = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(c))
    y = L.ReLU()(L.Add()([y, c]))
    p = L.Permute((2, 1, 3))(y)
    z = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(p))
    return keras.Model(inp, L.Activation("relu6")(L.Add()([z, p])))


def dilated_grouped_plain_bn():
    """A padded dilated conv, a grouped conv, BatchNorms without gamma/beta, no conv biases."""
    L = layers
    inp = keras.Input(SHAPE)
    y = L.ZeroPadding2D(2)(inp)
    y = L.Conv2D(6, 3, dilation_rate=2, use_bias=False)(y)
    y = L.ReLU()(L.BatchNormalization(center=False, scale=False)(y))
    y = L.Conv2D(6, 3, padding="same", groups=2)(y)
    return keras.Model(inp, L.ReLU(6.0)(L.BatchNormalization(scale=False)(y)))


def free_spatial_size():
    L = layers
    inp = keras.Input((None, None, 4))
    y = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(inp))
    y = L.ReLU()(L.Add()([y, inp]))
    y = L.ZeroPadding2D(1)(y)
    y = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(y)
    return keras.Model(inp, L.ReLU(6.0)(L.BatchNormalization()(y)))


MORE_GRAPHS = {
    "views as inputs and residuals": (
        views_as_inputs_and_residuals,
        [(11, 11, 4)],
        [
            ("Conv2D", "BatchNormalization", "Add", "Activation"),
            ("Conv2D", "BatchNormalization", "Add", "ReLU"),
        ],
    ),
    "dilated, grouped, plain BN": (
        dilated_grouped_plain_bn,
        [SHAPE],
        [
            ("Conv2D", "BatchNormalization", "ReLU"),
            ("ZeroPadding2D", "Conv2D", "BatchNormalization", "ReLU"),
        ],
    ),
    "free spatial size": (
        free_spatial_size,
        [SHAPE, (6, 7, 4)],
        [
            ("Conv2D", "BatchNormalization", "Add", "ReLU"),
            ("ZeroPadding2D", "DepthwiseConv2D", "BatchNormalization", "ReLU"),
        ],
    ),
}


@pytest.mark.parametrize("name", list(MORE_GRAPHS))
def test_more_fused_graphs(fused_runs, name):
    build, shapes, chains = MORE_GRAPHS[name]
    model = _randomize(build())
    assert _chains(model) == chains
    for shape in shapes:
        _check_inference(model, _x(shape=shape), f"{name} {shape}")
    assert fused_runs and all(run.fused for run in fused_runs)


def test_resnet_plan_describes_the_fusion():
    model = resnet_projection_block()
    plan = _fusion.functional_plan(model)
    by_first = {step.nodes[0].layer.name: step for step in plan}
    add_node = next(n for n in model._nodes if n.layer.name == "add")
    fused_add = [s for s in plan if s.fused is not None and s.fused.residual is not None]
    assert len(fused_add) == 1
    step = fused_add[0]
    assert step.nodes[-1].layer.name == "relu2" and step.fused.activation == "relu"
    assert step.fused.batch_norm is step.nodes[1].layer and step.fused.max_pool is None
    # the residual is the Add's other input: the output of the other branch's BatchNorm
    chain_output = step.nodes[1].output_tensors[0]
    others = [t for t in _flat(add_node.call_args) if t is not chain_output]
    assert len(others) == 1 and step.fused.residual is others[0]
    assert by_first["conv1"].fused.activation == "relu"
    # the model input is read by conv1 and shortcut_conv and freed once, after the later one
    assert sum(id(model.inputs[0]) in s.free for s in plan) == 1
    assert not any(id(t) in s.free for s in plan for t in model.outputs)


# --------------------------------------------------------------------------- what does not fuse


def _conv_bn_relu(inp, conv_kwargs=None, bn_kwargs=None, relu=None, prefix=""):
    """conv -> bn -> relu on ``inp``: (conv output, bn output, relu output)."""
    c = layers.Conv2D(4, 3, padding="same", name=prefix + "conv", **(conv_kwargs or {}))(inp)
    b = layers.BatchNormalization(name=prefix + "bn", **(bn_kwargs or {}))(c)
    r = (relu or layers.ReLU(name=prefix + "relu"))(b)
    return c, b, r


def conv_output_is_model_output():
    inp = keras.Input(SHAPE)
    c, b, r = _conv_bn_relu(inp)
    return keras.Model(inp, [r, c])


def bn_output_is_model_output():
    inp = keras.Input(SHAPE)
    c, b, r = _conv_bn_relu(inp)
    return keras.Model(inp, [r, b])


def conv_output_has_two_readers():
    inp = keras.Input(SHAPE)
    c, b, r = _conv_bn_relu(inp)
    return keras.Model(inp, layers.Concatenate()([r, layers.ReLU()(c)]))


def bn_output_has_two_readers():
    inp = keras.Input(SHAPE)
    c, b, r = _conv_bn_relu(inp)
    return keras.Model(inp, layers.Add()([r, layers.Activation("tanh")(b)]))


def bn_output_added_to_itself():
    inp = keras.Input(SHAPE)
    c = layers.Conv2D(4, 3, padding="same")(inp)
    b = layers.BatchNormalization()(c)
    return keras.Model(inp, layers.ReLU()(layers.Add()([b, b])))


def bn_axis_1():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, bn_kwargs={"axis": 1})[2])


def relu_negative_slope():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, relu=layers.ReLU(negative_slope=0.1))[2])


def relu_threshold():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, relu=layers.ReLU(threshold=0.5))[2])


def relu_max_value_5():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, relu=layers.ReLU(max_value=5))[2])


def other_activation_layer():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, relu=layers.Activation("elu"))[2])


def conv_tanh():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, conv_kwargs={"activation": "tanh"})[2])


def conv_relu_then_bn():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, conv_kwargs={"activation": "relu"})[2])


class DoubledConv2D(layers.Conv2D):
    def call(self, inputs, training=False):
        return 2.0 * super().call(inputs, training)


class ShiftedBatchNormalization(layers.BatchNormalization):
    def call(self, inputs, training=False):
        return super().call(inputs, training) + 1.0


class ClippedReLU(layers.ReLU):
    def call(self, inputs, training=False):
        return np.minimum(super().call(inputs, training), 1.0)


def conv_subclass():
    inp = keras.Input(SHAPE)
    y = DoubledConv2D(4, 3, padding="same")(inp)
    y = layers.BatchNormalization()(y)
    return keras.Model(inp, layers.ReLU()(y))


def bn_subclass():
    inp = keras.Input(SHAPE)
    y = layers.Conv2D(4, 3, padding="same")(inp)
    y = ShiftedBatchNormalization()(y)
    return keras.Model(inp, layers.ReLU()(y))


def relu_subclass():
    inp = keras.Input(SHAPE)
    return keras.Model(inp, _conv_bn_relu(inp, relu=ClippedReLU())[2])


def channels_first():
    inp = keras.Input(SHAPE)
    return keras.Model(
        inp,
        _conv_bn_relu(inp, conv_kwargs={"data_format": "channels_first"}, bn_kwargs={"axis": 1})[2],
    )


def add_of_three():
    inp = keras.Input(SHAPE)
    c = layers.Conv2D(4, 3, padding="same")(inp)
    b = layers.BatchNormalization()(c)
    other = layers.Conv2D(4, 1)(inp)
    return keras.Model(inp, layers.ReLU()(layers.Add()([b, inp, other])))


def depthwise_then_add():
    inp = keras.Input(SHAPE)
    d = layers.DepthwiseConv2D(3, padding="same")(inp)
    b = layers.BatchNormalization()(d)
    return keras.Model(inp, layers.ReLU()(layers.Add()([b, inp])))


def depthwise_relu_activation():
    inp = keras.Input(SHAPE)
    d = layers.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    return keras.Model(inp, layers.ReLU(6.0)(layers.BatchNormalization()(d)))


NOT_FUSING = {
    "conv output is a model output": (conv_output_is_model_output, []),
    "bn output is a model output": (bn_output_is_model_output, [("Conv2D", "BatchNormalization")]),
    "conv output has two readers": (conv_output_has_two_readers, []),
    "bn output has two readers": (bn_output_has_two_readers, [("Conv2D", "BatchNormalization")]),
    "bn output added to itself": (bn_output_added_to_itself, [("Conv2D", "BatchNormalization")]),
    "bn axis=1": (bn_axis_1, []),
    "ReLU(negative_slope=0.1)": (relu_negative_slope, [("Conv2D", "BatchNormalization")]),
    "ReLU(threshold=0.5)": (relu_threshold, [("Conv2D", "BatchNormalization")]),
    "ReLU(max_value=5)": (relu_max_value_5, [("Conv2D", "BatchNormalization")]),
    "Activation('elu')": (other_activation_layer, [("Conv2D", "BatchNormalization")]),
    "conv activation tanh": (conv_tanh, []),
    "conv activation relu, then bn": (conv_relu_then_bn, []),
    "conv subclass overriding call": (conv_subclass, []),
    "bn subclass overriding call": (bn_subclass, []),
    "relu subclass overriding call": (relu_subclass, [("Conv2D", "BatchNormalization")]),
    "channels_first conv": (channels_first, []),
    "Add of three inputs": (add_of_three, [("Conv2D", "BatchNormalization")]),
    "depthwise then Add": (depthwise_then_add, [("DepthwiseConv2D", "BatchNormalization")]),
    "depthwise with its own relu": (depthwise_relu_activation, []),
}


@pytest.mark.parametrize("name", list(NOT_FUSING))
def test_what_does_not_fuse(name):
    build, chains = NOT_FUSING[name]
    model = _randomize(build())
    assert _chains(model) == chains, name
    _assert_plan_covers_graph(model)
    _check_inference(model, _x(), name)  # (channels_first: 9 channels of 9 x 4)


def test_residual_of_another_dtype_falls_back_to_layer_by_layer(fused_runs):
    # the plan fuses the Add, but at run time the residual is float64 and the conv float32:
    # the chain runs layer by layer instead
    inp = keras.Input(SHAPE)
    wide = layers.Activation("linear", dtype="float64")(inp)
    c = layers.Conv2D(4, 3, padding="same")(inp)
    b = layers.BatchNormalization()(c)
    model = _randomize(keras.Model(inp, layers.ReLU()(layers.Add()([b, wide]))))
    assert _chains(model) == [("Conv2D", "BatchNormalization", "Add", "ReLU")]
    _check_inference(model, _x(), "float64 residual")
    assert fused_runs and not any(run.fused for run in fused_runs)


# --------------------------------------------------------------------------- ZeroPadding2D


def padded_stem(m=keras):
    """ResNet's and MobileNetV2's explicit padding in front of strided "valid" convolutions."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.ZeroPadding2D(1, name="pad1")(inp)
    y = L.Conv2D(6, 3, strides=2, name="conv1")(y)
    y = L.BatchNormalization(name="bn1")(y)
    y = L.ReLU(name="relu1")(y)
    y = L.ZeroPadding2D(((0, 1), (1, 0)), name="pad2")(y)
    y = L.DepthwiseConv2D(3, strides=2, name="dw")(y)
    y = L.BatchNormalization(name="dw_bn")(y)
    y = L.ReLU(6.0, name="dw_relu")(y)
    y = L.ZeroPadding2D(((2, 0), (0, 1)), name="pad3")(y)
    out = L.Conv2D(4, 2, name="conv2")(y)  # nothing after it: the pad and the conv fuse
    return m.Model(inp, out, name="padded_stem")


def test_zero_padding_folds_into_the_next_valid_conv(floatx, fused_runs):
    model = _randomize(padded_stem())
    assert _chains(model) == [
        ("ZeroPadding2D", "Conv2D"),
        ("ZeroPadding2D", "Conv2D", "BatchNormalization", "ReLU"),
        ("ZeroPadding2D", "DepthwiseConv2D", "BatchNormalization", "ReLU"),
    ]
    _assert_plan_covers_graph(model)
    _check_inference(model, _x(dtype=floatx), "padded stem", floatx)
    assert fused_runs[:3] == [
        Run("conv1", batch_norm=True, activation="relu", padding=((1, 1), (1, 1))),
        Run("dw", batch_norm=True, activation="relu6", padding=((0, 1), (1, 0))),
        Run("conv2", padding=((2, 0), (0, 1))),
    ]


def _pad_then(*body, outputs_pad=False):
    inp = keras.Input(SHAPE)
    p = layers.ZeroPadding2D(((1, 2), (2, 1)), name="pad")(inp)
    y = p
    for layer in body:
        y = layer(y)
    return keras.Model(inp, [y, p] if outputs_pad else y)


PAD_NOT_FUSING = {
    "same conv": (
        lambda: _pad_then(
            layers.Conv2D(4, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()
        ),
        [("Conv2D", "BatchNormalization", "ReLU")],
    ),
    "1x1 conv": (
        lambda: _pad_then(layers.Conv2D(4, 1), layers.BatchNormalization()),
        [("Conv2D", "BatchNormalization")],
    ),
    "conv then max pool": (
        lambda: _pad_then(layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2)),
        [("Conv2D", "MaxPooling2D")],
    ),
    "padding is a model output": (
        lambda: _pad_then(
            layers.Conv2D(4, 3), layers.BatchNormalization(), layers.ReLU(), outputs_pad=True
        ),
        [("Conv2D", "BatchNormalization", "ReLU")],
    ),
    "conv tanh": (
        lambda: _pad_then(layers.Conv2D(4, 3, activation="tanh"), layers.BatchNormalization()),
        [],
    ),
    "channels_first padding": (
        lambda: _pad_then(layers.Conv2D(4, 3), layers.BatchNormalization()),
        [("Conv2D", "BatchNormalization")],
    ),
}


@pytest.mark.parametrize("name", list(PAD_NOT_FUSING))
def test_zero_padding_that_does_not_fold(name):
    build, chains = PAD_NOT_FUSING[name]
    if name == "channels_first padding":
        inp = keras.Input(SHAPE)
        p = layers.ZeroPadding2D(1, data_format="channels_first")(inp)  # pads (9, 4) by 1
        y = layers.BatchNormalization()(layers.Conv2D(4, 3)(p))
        model = keras.Model(inp, y)
    else:
        model = build()
    model = _randomize(model)
    assert _chains(model) == chains
    _check_inference(model, _x(), name)


# --------------------------------------------------------------------------- buffers and views


def views_and_reuse():
    """Fused outputs viewed by later layers (Reshape, Flatten, an identity Dropout) while later
    fused convs make arrays of the same shape, which the buffer pool may hand out."""
    L = layers
    inp = keras.Input(SHAPE, name="x")
    _, _, a = _conv_bn_relu(inp, prefix="a_")  # (N, 9, 9, 4)
    v = L.Reshape(SHAPE, name="view")(a)  # a view of a
    flat = L.Flatten(name="flat")(a)  # another view of a, read at the very end
    _, _, b = _conv_bn_relu(v, prefix="b_")
    c = L.Conv2D(4, 3, padding="same", name="c_conv")(b)
    c = L.BatchNormalization(name="c_bn")(c)
    c = L.ReLU(name="c_relu")(L.Add(name="c_add")([c, v]))  # residual: the view
    d = L.Dropout(0.5, name="same_array")(c)  # returns c itself at inference
    _, _, e = _conv_bn_relu(d, prefix="e_")
    f = L.Conv2D(4, 1, name="f_conv")(e)
    f = L.BatchNormalization(name="f_bn")(f)
    f = L.Add(name="f_add")([f, d])
    _, _, g = _conv_bn_relu(f, prefix="g_")
    out = L.Concatenate(name="out")([g, L.Reshape(SHAPE, name="unflat")(flat), d])
    return keras.Model(inp, [out, b], name="views")  # b: an output also read by a later step


def test_views_of_fused_outputs_keep_their_values(floatx, monkeypatch):
    taken = []
    original_take = _fusion.BufferPool.take

    def take(self, shape, dtype):
        arr = original_take(self, shape, dtype)
        taken.append(arr is not None)
        return arr

    monkeypatch.setattr(_fusion.BufferPool, "take", take)
    model = _randomize(views_and_reuse())
    x = _x(dtype=floatx)
    x_before = x.copy()
    expected = _check_inference(model, x, "views", floatx)
    assert any(taken), "no pooled buffer was reused: the test lost its point"
    again = model.predict(x, verbose=0)
    for got, exp in zip(again, expected):
        _close(got, exp, "second predict", floatx)
    np.testing.assert_array_equal(x, x_before)  # the caller's input is never written


def test_the_callers_input_is_never_reused(fused_runs):
    # after the first chain nothing reads the model input, and the later chains make arrays of
    # its shape: the caller's array must not be handed out as their output
    inp = keras.Input(SHAPE)
    _, _, y = _conv_bn_relu(inp, prefix="a_")
    _, _, y = _conv_bn_relu(y, prefix="b_")
    _, _, y = _conv_bn_relu(y, prefix="c_")
    model = _randomize(keras.Model(inp, y))
    x = _x()
    x_before = x.copy()
    out = model(x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(model.predict_on_batch(x), out)
    np.testing.assert_array_equal(x, x_before)
    out2 = model(x)
    np.testing.assert_array_equal(out, out2)
    assert not np.shares_memory(out, out2)  # each call returns its own output array
    assert len(fused_runs) == 9 and all(run.fused for run in fused_runs)


def test_shared_conv_fused_once_and_unfused_once():
    conv = layers.Conv2D(4, 3, padding="same", name="shared")
    inp = keras.Input(SHAPE)
    y1 = layers.ReLU(name="relu")(layers.BatchNormalization(name="bn")(conv(inp)))
    y2 = conv(y1)  # two readers: not fused
    out = layers.Concatenate()([layers.Add()([y2, y1]), layers.Activation("relu6")(y2)])
    model = _randomize(keras.Model(inp, out))
    plan = _fusion.functional_plan(model)
    conv_steps = [s for s in plan if s.nodes[0].layer is conv]
    assert [len(s.nodes) for s in conv_steps] == [3, 1]
    assert conv_steps[0].fused is not None and conv_steps[1].fused is None
    _check_inference(model, _x(), "shared conv")


def test_shared_conv_fused_twice():
    conv = layers.Conv2D(4, 3, padding="same", name="shared")
    bn1, bn2 = layers.BatchNormalization(), layers.BatchNormalization()
    inp = keras.Input(SHAPE)
    y1 = layers.ReLU()(bn1(conv(inp)))
    y2 = layers.Activation("relu6")(bn2(conv(y1)))
    model = _randomize(keras.Model(inp, y2))
    assert _chains(model) == [
        ("Conv2D", "BatchNormalization", "Activation"),
        ("Conv2D", "BatchNormalization", "ReLU"),
    ]
    _check_inference(model, _x(), "shared conv fused twice")


def test_nested_sequential_inside_functional(floatx, fused_runs):
    inner = models.Sequential(
        [
            keras.Input(SHAPE),
            layers.Conv2D(6, 3, padding="same", name="in_conv"),
            layers.BatchNormalization(name="in_bn"),
            layers.ReLU(name="in_relu"),
            layers.DepthwiseConv2D(3, padding="same", name="in_dw"),
            layers.BatchNormalization(name="in_dw_bn"),
            layers.ReLU(6.0, name="in_relu6"),
            layers.Conv2D(4, 1, name="in_project"),
            layers.BatchNormalization(name="in_project_bn"),
        ],
        name="inner",
    )
    inp = keras.Input(SHAPE)
    y = layers.ReLU()(layers.Add()([inner(inp), inp]))
    _, _, y = _conv_bn_relu(y, prefix="outer_")
    model = _randomize(keras.Model(inp, y))
    assert _chains(model) == [("Conv2D", "BatchNormalization", "ReLU")]
    _check_inference(model, _x(dtype=floatx), "nested Sequential", floatx)
    assert {run.conv for run in fused_runs} >= {"outer_conv"}


def test_nested_functional_inside_functional(fused_runs):
    inner = _randomize(resnet_identity_block())
    inp = keras.Input(SHAPE)
    _, _, y = _conv_bn_relu(inner(inp), prefix="outer_")
    model = keras.Model(inp, layers.Add()([y, inner(y)]))  # the inner model used twice
    _randomize(model, seed=3)
    _check_inference(model, _x(), "nested Functional")
    names = {run.conv for run in fused_runs}
    assert {"outer_conv", "conv1", "conv2"} <= names  # the inner model fuses too


# --------------------------------------------------------------------------- threads and weights


def test_predict_from_four_threads_matches_one_thread():
    inp = keras.Input(SHAPE)
    y = mobilenet_block()(inp)  # nested models run their own plans
    _, _, y = _conv_bn_relu(y, prefix="top_")
    y = resnet_projection_block()(y)
    model = _randomize(keras.Model(inp, y), seed=5)
    x = _x(batch=6)
    expected = model.predict(x, batch_size=3, verbose=0)
    _close(expected, _unfused(model, x), "one thread")
    results = run_in_threads(lambda: model.predict(x, batch_size=3, verbose=0), repeats=4)
    for r in results:
        _close(r, expected, "predict in 4 threads")


def test_fused_inference_with_kernel_threads(kernel_split_threads, fused_runs):
    # the kernels' multi-thread paths (row bands, the column split) under the fused chains
    for build in (resnet_projection_block, mobilenet_block, conv_pool_head):
        model = _randomize(build())
        _check_inference(model, _x(batch=3), build.__name__)
    assert fused_runs and all(run.fused for run in fused_runs)


def test_new_weights_change_the_next_prediction():
    model = _randomize(mobilenet_block())
    x = _x()
    first = model.predict(x, verbose=0)
    # set_weights
    model.set_weights([w * 1.1 + 0.05 for w in model.get_weights()])
    second = model.predict(x, verbose=0)
    assert np.abs(second - first).max() > 0.1
    _close(second, _unfused(model, x), "after set_weights")
    # BN moving statistics assigned directly
    bn = model.get_layer("depthwise_bn")
    bn.moving_mean.assign(bn.moving_mean.numpy() + 1.0)
    bn.moving_variance.assign(bn.moving_variance.numpy() * 3.0)
    third = model.predict_on_batch(x)
    assert np.abs(third - second).max() > 0.1
    _close(third, _unfused(model, x), "after moving stats assign")
    # a conv kernel and bias updated in place (as an optimizer does)
    conv = model.get_layer("project")
    conv.kernel.value[...] *= -1.0
    conv.bias.value[...] += 0.5
    fourth = model(x)
    assert np.abs(fourth - third).max() > 0.1
    _close(fourth, _unfused(model, x), "after in-place kernel update")


def test_training_never_fuses(fused_runs):
    model = _randomize(resnet_identity_block())
    x = _x(batch=4)
    nodes = [n for n in model._nodes if not isinstance(n.layer, InputLayer)]
    for training in (True, False):
        _, tape = model.forward(x, training=training)
        assert [node for node, _ in tape] == nodes  # every layer has its own cache
    model(x, training=True)
    assert not fused_runs
    # fit's gradient steps run on the tape (fit's one-sample target check is an inference call)
    bn = model.get_layer("bn1")
    mean_before = bn.moving_mean.numpy()
    kernel_before = model.get_layer("conv2").kernel.numpy()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros_like(x), epochs=1, batch_size=2, verbose=0)
    assert not np.allclose(bn.moving_mean.numpy(), mean_before)  # BN ran in training mode
    assert not np.allclose(model.get_layer("conv2").kernel.numpy(), kernel_before)
    fused_runs.clear()
    _check_inference(model, x, "after fit")  # the fused plan again, with the new weights
    assert fused_runs


# --------------------------------------------------------------------------- Sequential


def _sequential(*body):
    return models.Sequential([keras.Input(SHAPE), *body])


def _check_sequential(model, x, what, dtype="float32"):
    """Fused ``predict``/``call``/``predict_on_batch`` == layer by layer (== the tape)."""
    expected = _unfused(model, x)
    _close(model.forward(x, training=False)[0], expected, f"{what}: tape", dtype)
    for how, got in (
        ("predict", lambda: model.predict(x, verbose=0)),
        ("call", lambda: model(x)),
        ("predict_on_batch", lambda: model.predict_on_batch(x)),
    ):
        _close(got(), expected, f"{what}: {how}", dtype)


def test_sequential_fuses_conv_bn_relu_chains(floatx, fused_runs):
    model = _randomize(
        _sequential(
            layers.Conv2D(6, 3, padding="same", name="conv1"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.DepthwiseConv2D(3, padding="same", name="dw"),
            layers.BatchNormalization(),
            layers.ReLU(max_value=6.0),
            layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_pool"),
            layers.MaxPooling2D(2),
            layers.Conv2D(5, 1, name="conv2"),
            layers.BatchNormalization(),
            layers.Activation("relu6"),
            layers.DepthwiseConv2D(2, name="dw_no_act"),
            layers.BatchNormalization(),
            layers.ZeroPadding2D(((1, 0), (0, 2))),
            layers.Conv2D(4, 2, strides=2, name="padded"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(3),
        )
    )
    x = _x(dtype=floatx)
    # only layer calls (no fusion) while computing the reference
    _check_sequential(model, x, "Sequential", floatx)
    runs = fused_runs[: len(fused_runs) // 3]  # the first of the 3 fused calls
    assert runs == [
        Run("conv1", batch_norm=True, activation="relu"),
        Run("dw", batch_norm=True, activation="relu6"),
        Run("conv_pool", max_pool=True),
        Run("conv2", batch_norm=True, activation="relu6"),
        Run("dw_no_act", batch_norm=True),
        Run("padded", batch_norm=True, activation="relu", padding=((1, 0), (0, 2))),
    ], "Sequential inference does not fuse conv/depthwise -> BN -> ReLU chains"


SEQUENTIAL_NOT_FUSING = {
    "bn axis=1": (
        lambda: [layers.Conv2D(4, 3, name="c"), layers.BatchNormalization(axis=1), layers.ReLU()],
        [],
    ),
    "ReLU(negative_slope=0.1)": (
        lambda: [
            layers.Conv2D(4, 3, name="c"),
            layers.BatchNormalization(),
            layers.ReLU(negative_slope=0.1),
        ],
        [Run("c", batch_norm=True)],
    ),
    "ReLU(max_value=5)": (
        lambda: [layers.Conv2D(4, 3, name="c"), layers.BatchNormalization(), layers.ReLU(5.0)],
        [Run("c", batch_norm=True)],
    ),
    "conv tanh": (
        lambda: [
            layers.Conv2D(4, 3, activation="tanh", name="c"),
            layers.BatchNormalization(),
            layers.ReLU(),
        ],
        [],
    ),
    "conv subclass": (
        lambda: [DoubledConv2D(4, 3, name="c"), layers.BatchNormalization(), layers.ReLU()],
        [],
    ),
    "bn subclass": (
        lambda: [layers.Conv2D(4, 3, name="c"), ShiftedBatchNormalization(), layers.ReLU()],
        [],
    ),
    "channels_first": (
        lambda: [
            layers.Conv2D(4, 3, data_format="channels_first", name="c"),
            layers.BatchNormalization(axis=1),
            layers.ReLU(),
        ],
        [],
    ),
    "bn float64 after a float32 conv": (
        lambda: [
            layers.Conv2D(4, 3, name="c"),
            layers.BatchNormalization(dtype="float64"),
            layers.ReLU(dtype="float64"),
        ],
        [],
    ),
}


@pytest.mark.parametrize("name", list(SEQUENTIAL_NOT_FUSING))
def test_sequential_what_does_not_fuse(fused_runs, name):
    body, runs = SEQUENTIAL_NOT_FUSING[name]
    model = _randomize(_sequential(*body()))
    x = _x()
    expected = _unfused(model, x)
    for got in (model.predict_on_batch(x), model.predict(x, verbose=0)):
        _close(got, expected, name, dtype=expected.dtype.name)
    assert fused_runs == runs * 2
