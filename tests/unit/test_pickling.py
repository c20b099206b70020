"""``pickle`` and ``copy.deepcopy`` of models, layers, losses, metrics and optimizers."""

import concurrent.futures
import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import layers

RNG = np.random.default_rng(0)
X = RNG.random((16, 3), dtype=np.float32)
Y = RNG.random((16, 2), dtype=np.float32)


@keras.saving.register_keras_serializable(package="PicklingTests")
class TwoDense(keras.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(4, activation="relu")
        self.out = layers.Dense(units)

    def call(self, x):
        return self.out(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Unregistered(keras.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class NoConfig(keras.Model):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)

    def call(self, x):
        return self.dense(x)


class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def halved_mse(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) / 2


def pickle_copy(obj):
    return pickle.loads(pickle.dumps(obj))


COPIES = [pickle_copy, copy.deepcopy]


def sequential():
    return keras.Sequential(
        [
            keras.Input((3,)),
            layers.Dense(4),
            layers.BatchNormalization(),
            layers.Dropout(0.3, seed=7),
            layers.Dense(2),
        ]
    )


def functional():
    inputs = keras.Input((3,))
    hidden = layers.Dense(5, activation="tanh")(inputs)
    outputs = layers.Dense(2)(layers.Concatenate()([hidden, inputs]))
    return keras.Model(inputs, outputs)


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(u, v) for u, v in zip(wa, wb))


@pytest.mark.parametrize("copier", COPIES, ids=["pickle", "deepcopy"])
@pytest.mark.parametrize("make", [sequential, functional, TwoDense], ids=["seq", "fn", "sub"])
def test_trained_model_round_trips_and_trains_on_identically(make, copier):
    model = make()
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    clone = copier(model)

    assert type(clone) is type(model) and clone is not model
    assert clone.name == model.name and clone.compiled
    assert same_weights(model, clone)
    np.testing.assert_array_equal(model.predict(X, verbose=0), clone.predict(X, verbose=0))
    assert type(clone.optimizer) is type(model.optimizer)
    assert int(clone.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 4
    assert len(clone.optimizer.variables) == len(model.optimizer.variables) > 2
    for a, b in zip(model.optimizer.variables, clone.optimizer.variables):
        assert a is not b
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    for m in (model, clone):
        keras.utils.set_random_seed(3)
        m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert same_weights(model, clone)


@pytest.mark.parametrize("copier", COPIES, ids=["pickle", "deepcopy"])
def test_uncompiled_and_unbuilt_models(copier):
    built = copier(functional())
    assert built.built and not built.compiled

    for model in (keras.Sequential([layers.Dense(3)]), TwoDense(units=3)):
        clone = copier(model)
        assert not clone.built and not clone.weights
        assert clone(X).shape == (16, 3)

    compiled = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    compiled.compile("sgd", "mse")
    clone = copier(compiled)
    assert clone.compiled and not clone.optimizer.built
    clone.fit(X, Y, verbose=0)


def test_unregistered_subclassed_model_travels_with_its_class():
    model = Unregistered(units=2)
    model(X)
    clone = pickle_copy(model)
    assert type(clone) is Unregistered and clone.units == 2
    np.testing.assert_array_equal(model(X), clone(X))


def test_unregistered_custom_layer_and_loss_travel_by_reference():
    model = keras.Sequential([keras.Input((3,)), Scale(3.0), layers.Dense(2)])
    model.compile("adam", loss=halved_mse)
    model.fit(X, Y, verbose=0)
    clone = pickle_copy(model)
    assert type(clone.layers[0]) is Scale and clone.layers[0].factor == 3.0
    assert clone.loss is halved_mse
    np.testing.assert_array_equal(model.predict(X, verbose=0), clone.predict(X, verbose=0))
    for m in (model, clone):
        keras.utils.set_random_seed(5)
        m.fit(X, Y, verbose=0)
    assert same_weights(model, clone)


def test_what_cannot_travel_says_what_and_why():
    model = NoConfig(2)
    with pytest.raises(TypeError, match=r"NoConfig.__init__` requires \['units'\]"):
        pickle.dumps(model)
    with pytest.raises(TypeError, match="get_config"):
        copy.deepcopy(model)


@pytest.mark.parametrize("copier", COPIES, ids=["pickle", "deepcopy"])
def test_layers(copier):
    dense = layers.Dense(3, activation="relu", name="d")
    clone = copier(dense)
    assert not clone.built and clone.name == "d" and clone.units == 3
    dense(X)
    clone = copier(dense)
    assert clone.built and not clone._inbound_nodes
    np.testing.assert_array_equal(dense(X), clone(X))
    clone.kernel.assign(np.zeros((3, 3), np.float32))
    assert np.any(dense.kernel.numpy())  # independent copies


@pytest.mark.parametrize("copier", COPIES, ids=["pickle", "deepcopy"])
def test_losses_metrics_optimizers(copier):
    loss = copier(keras.losses.Huber(delta=0.5))
    assert loss.get_config()["delta"] == 0.5
    np.testing.assert_allclose(loss(Y, X[:, :2]), keras.losses.Huber(delta=0.5)(Y, X[:, :2]))

    metric = keras.metrics.MeanAbsoluteError()
    metric.update_state(Y, X[:, :2])
    clone = copier(metric)
    assert float(clone.result()) == float(metric.result())

    variables = [keras.Variable(np.ones(3, np.float32)), keras.Variable(np.ones(2, np.float32))]
    grads = [np.full(3, 0.5, np.float32), np.full(2, 0.25, np.float32)]
    optimizer = keras.optimizers.Adam(0.1)
    optimizer.apply(grads, variables)
    clone = copier(optimizer)
    optimizer.apply(grads, variables)
    clone.apply(grads)  # updates its copies of the variables it was built on
    for a, b in zip(optimizer.variables, clone.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(variables, clone._trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="Unknown variable"):
        clone.apply(grads, variables)


def _predict_in_worker(model):
    return model.predict(X, verbose=0)


def test_model_shipped_to_a_spawned_process_predicts_the_same():
    model = functional()
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        got = pool.submit(_predict_in_worker, model).result(timeout=60)
    np.testing.assert_array_equal(got, model.predict(X, verbose=0))
