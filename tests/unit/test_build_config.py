"""Build configs and output specs of the base ``Layer``, as Keras 3 gives them (no TensorFlow).

``build(shape)`` called directly records the shapes it received (Keras wraps every ``build``);
a layer built by an eager call records that call's shapes, batch size included, while runs on
stand-in zeros (output-shape tracing, a subclassed model's ``build_from_config``, ``fit``'s
first-sample probe) record batch ``None`` as Keras's symbolic builds do. The base
``compute_output_spec`` gives the KerasTensors a symbolic call records.
"""

import json

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers, models, ops
from numpykeras.layers import node as node_module
from numpykeras.layers.layer import _call_signature, unknown_batch

_X = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")


class Doubled(layers.Layer):
    """No ``compute_output_shape``: its outputs are found by running it."""

    def call(self, x):
        return ops.concatenate([x, x], axis=-1)


class AsInt(layers.Layer):
    def call(self, x):
        return ops.cast(x, "int32")[:, :2]


class Seven(layers.Layer):
    """Overrides ``compute_output_spec`` through ``super()``, with a ``compute_output_shape``."""

    def compute_output_spec(self, x):
        return super().compute_output_spec(x)

    def call(self, x):
        return ops.concatenate([x] * 7, axis=-1)[..., :7]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (7,)


class Pair(layers.Layer):
    def build(self, a_shape, b_shape):
        self.kernel = self.add_weight(shape=(a_shape[-1], b_shape[-1]), name="kernel")

    def call(self, a, b):
        return ops.matmul(a, self.kernel) + b

    def compute_output_shape(self, a_shape, b_shape):
        return tuple(a_shape[:-1]) + (b_shape[-1],)


# --------------------------------------------------------------------------- compute_output_spec


def _described(t):
    return tuple(t.shape), t.dtype


@pytest.mark.parametrize(
    "make, args, expected",
    [
        (lambda: layers.Dense(3), lambda: (nk.Input((4,)),), ((None, 3), "float32")),
        (
            lambda: layers.Dense(3, dtype="float16"),
            lambda: (nk.Input((4,)),),
            ((None, 3), "float16"),
        ),
        (lambda: layers.Dense(3), lambda: (nk.Input(batch_shape=(5, 4)),), ((5, 3), "float32")),
        (lambda: Doubled(), lambda: (nk.Input((4,)),), ((None, 8), "float32")),
        (lambda: AsInt(), lambda: (nk.Input((4,)),), ((None, 2), "int32")),
        (lambda: Seven(), lambda: (nk.Input((4,)),), ((None, 7), "float32")),
        (lambda: Pair(), lambda: (nk.Input((4,)), nk.Input((3,))), ((None, 3), "float32")),
    ],
    ids=["dense", "float16", "fixed-batch", "traced", "traced-int", "super", "two-shapes"],
)
def test_compute_output_spec_is_what_a_symbolic_call_records(make, args, expected):
    assert _described(make().compute_output_spec(*args())) == expected
    assert _described(make()(*args())) == expected


def test_compute_output_spec_of_a_structure():
    spec = layers.Concatenate().compute_output_spec([nk.Input((4,)), nk.Input((3,))])
    assert _described(spec) == ((None, 7), "float32")


def test_layers_without_their_own_spec_keep_the_shape_path():
    """Adding the base method changes no symbolic call: only layers overriding it are asked."""
    x = nk.Input((4,))
    for layer in (layers.Dense(3), Doubled()):
        sig = _call_signature(type(layer))
        assert node_module._output_spec(layer, sig, (x,), {}) is None
    assert node_module._output_spec(Seven(), _call_signature(Seven), (x,), {}).shape == (None, 7)


def test_compute_output_spec_from_the_shape_does_not_build():
    layer = layers.Dense(3)
    layer.compute_output_spec(nk.Input((4,)))
    assert not layer.built and layer.get_build_config() is None


# --------------------------------------------------------------------------- build() directly


@pytest.mark.parametrize(
    "make, build, expected",
    [
        (lambda: layers.Dense(3), lambda l: l.build((None, 4)), {"input_shape": (None, 4)}),
        (lambda: layers.Dense(3), lambda l: l.build([None, 4]), {"input_shape": [None, 4]}),
        (
            lambda: layers.Dense(3),
            lambda l: l.build(input_shape=(8, 4)),
            {"input_shape": (8, 4)},
        ),
        (
            lambda: layers.Add(),
            lambda l: l.build([(None, 4), (None, 4)]),
            {"input_shape": [(None, 4), (None, 4)]},
        ),
        (
            lambda: Pair(),
            lambda l: l.build((None, 4), b_shape=(None, 3)),
            {"shapes_dict": {"a_shape": (None, 4), "b_shape": (None, 3)}},
        ),
    ],
    ids=["tuple", "list", "keyword", "list-of-shapes", "two-shapes"],
)
def test_build_called_directly_records_its_shapes(make, build, expected):
    layer = make()
    build(layer)
    assert layer.built
    assert layer.get_build_config() == expected
    rebuilt = make()
    rebuilt.build_from_config(layer.get_build_config())
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in layer.weights]


def test_only_the_outermost_build_records():
    class Wider(layers.Dense):
        def build(self, input_shape):
            super().build(tuple(input_shape[:-1]) + (2 * input_shape[-1],))

    layer = Wider(3)
    layer.build((None, 4))
    assert layer.get_build_config() == {"input_shape": (None, 4)}
    assert layer.kernel.shape == (8, 3)


def test_a_failing_build_records_nothing():
    class Broken(layers.Layer):
        def build(self, input_shape):
            raise RuntimeError("no")

    layer = Broken()
    with pytest.raises(RuntimeError):
        layer.build((None, 4))
    assert not layer.built and layer.get_build_config() is None


def test_the_build_wrapper_keeps_the_signature():
    """``build``'s parameters are still read (``<argument>_shape`` builds)."""
    import inspect

    assert list(inspect.signature(Pair.build).parameters) == ["self", "a_shape", "b_shape"]
    assert Pair.build.__doc__ == Pair.__dict__["build"].__wrapped__.__doc__


# --------------------------------------------------------------------------- eager calls


def test_an_eager_call_records_the_real_shapes():
    dense = layers.Dense(3)
    dense(_X)
    assert dense.get_build_config() == {"input_shape": (6, 4)}
    pair = Pair()
    pair(_X, _X[:, :3])
    assert pair.get_build_config() == {"shapes_dict": {"a_shape": (6, 4), "b_shape": (6, 3)}}
    add = layers.Add()
    add([_X, _X])
    assert add.get_build_config() == {"input_shape": [(6, 4), (6, 4)]}
    # Later calls with another batch size run as before.
    assert dense(_X[:2]).shape == (2, 3)


def test_a_symbolic_call_records_the_symbolic_shape():
    dense = layers.Dense(3)
    dense(nk.Input((4,)))
    assert dense.get_build_config() == {"input_shape": (None, 4)}


def test_stand_in_runs_record_an_unknown_batch():
    dense = layers.Dense(3)
    with unknown_batch():
        dense(_X)
    assert dense.get_build_config() == {"input_shape": (None, 4)}
    outer = layers.Dense(3)
    outer(_X)  # the context is gone
    assert outer.get_build_config() == {"input_shape": (6, 4)}


class Tiny(models.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(3)
        self.head = layers.Dense(1)

    def call(self, x):
        return self.head(self.hidden(x))


def test_layers_traced_for_their_output_shape_record_an_unknown_batch():
    """A layer defined outside numpykeras without ``compute_output_shape`` is run on zeros
    (batch 2) to find its output shape: the layers it builds record batch ``None``."""

    class Wrapper(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(3)

        def call(self, x):
            return self.inner(x)

    layer = Wrapper()
    assert layer(nk.Input((4,))).shape == (None, 3)
    assert layer.inner.get_build_config() == {"input_shape": (None, 4)}


@pytest.mark.parametrize(
    "how, expected",
    [("call", (6, 4)), ("predict", (4, 4)), ("fit", (None, 4)), ("evaluate", (None, 4))],
)
def test_layers_of_a_subclassed_model(how, expected):
    """As Keras: a call and ``predict`` build on real batches, ``fit`` and ``evaluate`` as if
    symbolically (numpykeras's first-sample probe stands in for Keras's symbolic build)."""
    model = Tiny()
    if how == "call":
        model(_X)
    elif how == "predict":
        model.predict(_X, batch_size=4, verbose=0)
    else:
        model.compile(optimizer="sgd", loss="mse")
        getattr(model, how)(_X, _X[:, :1], batch_size=4, verbose=0)
    assert model.hidden.get_build_config() == {"input_shape": expected}


@pytest.mark.parametrize("how, inner", [("call", [6, 4]), ("fit", [None, 4])])
def test_subclassed_model_file_round_trip_keeps_build_configs(tmp_path, how, inner):
    """Rebuilt from its build config by running on zeros, a subclassed model's layers record
    what they recorded before saving (batch ``None`` stays ``None``, as in Keras's symbolic
    build)."""
    model = Tiny(name="tiny")
    if how == "call":
        model(_X)
    else:
        model.compile(optimizer="sgd", loss="mse")
        model.fit(_X, _X[:, :1], batch_size=4, verbose=0)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    loaded = models.load_model(path, custom_objects={"Tiny": Tiny})
    as_saved = json.loads(json.dumps(model.get_build_config()))
    assert loaded.get_build_config() == as_saved
    assert json.loads(json.dumps(loaded.hidden.get_build_config())) == {"input_shape": inner}
    np.testing.assert_allclose(loaded.predict(_X, verbose=0), model.predict(_X, verbose=0))


def test_a_traced_layer_with_a_fixed_batch_keeps_it():
    class Wrapper(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(3)

        def call(self, x):
            return self.inner(x)

    layer = Wrapper()
    assert layer(nk.Input(batch_shape=(5, 4))).shape == (5, 3)
    assert layer.inner.get_build_config() == {"input_shape": (5, 4)}
