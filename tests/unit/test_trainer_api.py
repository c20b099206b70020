"""The trainer API that Keras 3 users build on: stateless calls, optimizer application, step
overrides (train_step / test_step / predict_step and the ``metrics`` property), attribute tracking
in subclassed models, ``add_loss`` and weight files of subclassed models.

Written as Keras 3 code on ``numpykeras as keras``; the expected behaviour is Keras 3's
(``keras/src/trainers/trainer.py``, ``keras/src/backend/tensorflow/trainer.py``,
``keras/src/models/model.py``, ``keras/src/layers/layer.py``,
``keras/src/optimizers/base_optimizer.py``), worked out by hand in NumPy here.
"""

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import GradientTape, ops

from tolerances import FILE_ROUND_TRIP_ATOL, assert_close

# Results of a handful of float32 operations on values of order 1, compared with float64 NumPy.
ATOL = 1e-6
RTOL = 1e-5


def _close(actual, expected, what=""):
    assert_close(np.asarray(actual, dtype=np.float64), expected, ATOL, RTOL, what)


def _data(n=8, features=4, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.normal(size=(n, outputs)).astype("float32")
    return x, y


def _dense_model(features=4, units=2):
    return keras.Sequential([keras.Input((features,)), keras.layers.Dense(units)])


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


# --------------------------------------------------------------------------- stateless_call


def test_stateless_call_uses_given_values_and_leaves_variables_alone():
    x, _ = _data()
    model = _dense_model()
    before = _values(model.weights)
    kernel, bias = _values(model.trainable_variables)
    result = model.stateless_call([2 * kernel, bias + 1], [], x)
    assert isinstance(result, tuple) and len(result) == 2
    outputs, non_trainable = result
    _close(outputs, x.astype(np.float64) @ (2 * kernel) + bias + 1, "outputs")
    assert list(non_trainable) == []
    for value, old in zip(_values(model.weights), before):
        np.testing.assert_array_equal(value, old)


def test_stateless_call_returns_updated_non_trainable_values():
    """BatchNormalization in training: the new moving statistics come back, the model's own
    variables keep their values (Keras: moving = moving * momentum + batch * (1 - momentum))."""
    x, _ = _data(n=6)
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.9)])
    trainable = _values(model.trainable_variables)
    non_trainable = _values(model.non_trainable_variables)
    assert [v.name for v in model.non_trainable_variables] == ["moving_mean", "moving_variance"]
    outputs, new_non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
    assert len(new_non_trainable) == 2
    x64 = x.astype(np.float64)
    _close(new_non_trainable[0], 0.1 * x64.mean(axis=0), "moving_mean")
    _close(new_non_trainable[1], 0.9 + 0.1 * x64.var(axis=0), "moving_variance")
    expected = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + 1e-3)
    _close(outputs, expected, "outputs")
    np.testing.assert_array_equal(model.non_trainable_variables[0].numpy(), np.zeros(4))
    np.testing.assert_array_equal(model.non_trainable_variables[1].numpy(), np.ones(4))
    # Attaching the new state is the caller's choice, as in Keras's docstring.
    for variable, value in zip(model.non_trainable_variables, new_non_trainable):
        variable.assign(value)
    _close(model.non_trainable_variables[0].numpy(), 0.1 * x64.mean(axis=0), "assigned")


def test_stateless_call_return_losses():
    class AddsLoss(keras.layers.Layer):
        def call(self, x):
            self.add_loss(ops.sum(ops.square(x)))
            return x

    x, _ = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), AddsLoss()])
    kernel, bias = _values(model.trainable_variables)
    outputs, non_trainable, losses = model.stateless_call([kernel, bias], [], x, return_losses=True)
    assert len(losses) == 1
    _close(losses[0], np.sum(np.square(x.astype(np.float64) @ kernel + bias)), "loss")


def test_stateless_call_checks_its_arguments():
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="built"):
        unbuilt.stateless_call([], [], np.zeros((1, 3), "float32"))
    model = _dense_model()
    with pytest.raises(ValueError, match="trainable_variables"):
        model.stateless_call(_values(model.trainable_variables)[:1], [], np.zeros((1, 4)))


# --------------------------------------------------------------------------- optimizers


def test_optimizer_apply_and_apply_gradients():
    w = keras.Variable(np.array([1.0, -2.0, 0.5], "float32"), name="w")
    b = keras.Variable(np.array([0.25], "float32"), name="b")
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    g_w, g_b = np.array([0.2, 0.4, -1.0], "float32"), np.array([2.0], "float32")
    optimizer.apply([g_w, g_b], [w, b])  # builds on first use
    assert int(np.asarray(optimizer.iterations)) == 1
    _close(w.numpy(), [0.9, -2.2, 1.0], "apply: w")
    _close(b.numpy(), [-0.75], "apply: b")
    optimizer.apply_gradients(zip([g_w, g_b], [w, b]))
    assert int(np.asarray(optimizer.iterations)) == 2
    _close(w.numpy(), [0.8, -2.4, 1.5], "apply_gradients: w")
    # Once built, apply takes the gradients alone, in the order it was built with.
    optimizer.apply([g_w, g_b])
    assert int(np.asarray(optimizer.iterations)) == 3
    _close(b.numpy(), [-2.75], "apply without variables: b")


def test_optimizer_apply_without_variables_needs_a_built_optimizer():
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError, match="build"):
        optimizer.apply([np.ones(2, "float32")])


def test_optimizer_stateless_apply():
    """SGD with momentum 0.9: m = 0.9 m - lr g; w = w + m. The optimizer's and the model's
    variables keep their values; the new ones are returned. This is the base optimizer's
    ``stateless_apply`` (the JAX and NumPy backends'); Keras's TensorFlow backend refuses it."""
    w = keras.Variable(np.array([1.0, -1.0], "float32"), name="w")
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    optimizer.build([w])
    names = [v.name for v in optimizer.variables]
    assert "iteration" in names
    optimizer_values = _values(optimizer.variables)
    g1, g2 = np.array([1.0, 2.0], "float32"), np.array([-1.0, 0.5], "float32")
    new_w, new_optimizer_values = optimizer.stateless_apply(optimizer_values, [g1], [w.numpy()])
    assert len(new_w) == 1 and len(new_optimizer_values) == len(optimizer_values)
    _close(new_w[0], [0.9, -1.2], "first step")
    assert int(np.asarray(new_optimizer_values[names.index("iteration")])) == 1
    np.testing.assert_array_equal(w.numpy(), [1.0, -1.0])
    assert int(np.asarray(optimizer.iterations)) == 0
    # The momentum carried in the returned optimizer values: m = 0.9 * (-0.1 g1) - 0.1 g2.
    new_w, _ = optimizer.stateless_apply(new_optimizer_values, [g2], new_w)
    _close(new_w[0], [0.9 - 0.09 + 0.1, -1.2 - 0.18 - 0.05], "second step")
    np.testing.assert_array_equal(w.numpy(), [1.0, -1.0])


def test_optimizer_stateless_apply_needs_a_built_optimizer():
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError, match="built"):
        optimizer.stateless_apply([], [np.ones(2, "float32")], [np.ones(2, "float32")])


# --------------------------------------------------------------------------- step overrides


class MSEModel(keras.Model):
    """A Dense layer trained by a custom train_step on the mean squared error."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = ops.mean(ops.square(y_pred - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"my_loss": loss, "twice": 2 * loss}


def _mse_and_grads(x, y, kernel, bias):
    x, y = x.astype(np.float64), y.astype(np.float64)
    residual = x @ kernel + bias - y
    scale = 2.0 / residual.size
    return np.mean(residual**2), scale * x.T @ residual, scale * residual.sum(axis=0)


def test_train_step_override_dict_keys_become_history_keys():
    x, y = _data()
    model = MSEModel()
    model(x[:1])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert sorted(history.history) == ["my_loss", "twice"]
    assert history.epoch == [0, 1]
    for values in history.history.values():
        assert len(values) == 2 and all(isinstance(v, float) for v in values)
    losses = []
    for _ in range(2):  # one batch an epoch: the epoch's log is that step's value
        loss, g_kernel, g_bias = _mse_and_grads(x, y, kernel, bias)
        losses.append(loss)
        kernel, bias = kernel - 0.1 * g_kernel, bias - 0.1 * g_bias
    _close(history.history["my_loss"], losses, "my_loss")
    _close(history.history["twice"], 2 * np.array(losses), "twice")
    _close(model.dense.kernel.numpy(), kernel, "kernel after 2 steps")
    assert int(np.asarray(model.optimizer.iterations)) == 2


def test_train_step_override_logs_are_the_last_steps_values():
    """No metric matches the returned keys, so an epoch logs what its last step returned."""
    x, y = _data(n=8)
    model = MSEModel()
    model(x[:1])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    last, _, _ = _mse_and_grads(x[4:], y[4:], kernel, bias)
    _close(history.history["my_loss"], [last], "my_loss of the last batch")


class TrackedMSEModel(keras.Model):
    """keras.io's "customizing fit" model: its own metrics, listed by the `metrics` property so
    that fit resets them at the start of each epoch."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = ops.mean(ops.square(y_pred - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_metrics_property_override_is_reset_each_epoch():
    x, y = _data(n=8)
    model = TrackedMSEModel()
    model(x[:1])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # fixed weights
    assert [m.name for m in model.metrics] == ["loss", "mae"]
    batch_logs = []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            batch_logs.append(float(logs["loss"]))

    history = model.fit(
        x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[Recorder()]
    )
    first, _, _ = _mse_and_grads(x[:4], y[:4], kernel, bias)
    second, _, _ = _mse_and_grads(x[4:], y[4:], kernel, bias)
    # Running means within an epoch, starting again at the next one.
    _close(batch_logs, [first, (first + second) / 2] * 2, "batch logs")
    _close(history.history["loss"], [(first + second) / 2] * 2, "epoch logs")
    mae = np.mean(np.abs(x.astype(np.float64) @ kernel + bias - y))
    _close(history.history["mae"], [mae] * 2, "mae")


class StepsModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        return {"sq_err": ops.mean(ops.square(y_pred - y))}

    def predict_step(self, data):
        return {"doubled": 2 * self(data, training=False), "plain": self(data, training=False)}


def test_test_step_and_predict_step_overrides():
    x, y = _data(n=8)
    model = StepsModel()
    model(x[:1])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer="sgd")
    # evaluate logs what the last test_step returned (no metric has that name).
    last, _, _ = _mse_and_grads(x[4:], y[4:], kernel, bias)
    result = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert sorted(result) == ["sq_err"]
    _close(result["sq_err"], last, "evaluate(return_dict=True)")
    _close(model.evaluate(x, y, batch_size=4, verbose=0), last, "evaluate()")
    # predict concatenates the dicts predict_step returns, batch by batch.
    predictions = model.predict(x, batch_size=3, verbose=0)
    assert sorted(predictions) == ["doubled", "plain"]
    expected = x.astype(np.float64) @ kernel + bias
    _close(predictions["plain"], expected, "predict plain")
    _close(predictions["doubled"], 2 * expected, "predict doubled")


def test_compute_loss_override_is_used_by_fit_and_evaluate():
    seen = []

    class HalfMSE(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            seen.append(training)
            return 0.5 * ops.mean(ops.square(y_pred - y))

    x, y = _data()
    model = HalfMSE()
    model(x[:1])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loss, g_kernel, g_bias = _mse_and_grads(x, y, kernel, bias)
    _close(history.history["loss"], [0.5 * loss], "fit loss")
    _close(model.dense.kernel.numpy(), kernel - 0.05 * g_kernel, "kernel")
    after, _, _ = _mse_and_grads(x, y, kernel - 0.05 * g_kernel, bias - 0.05 * g_bias)
    _close(model.evaluate(x, y, verbose=0), 0.5 * after, "evaluate")
    assert True in seen and False in seen  # training=True in fit, False in evaluate


# --------------------------------------------------------------------------- attribute tracking


class Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.parts = [keras.layers.Dense(3), keras.layers.Dense(3)]

    def call(self, x):
        for part in self.parts:
            x = part(x)
        return x


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.Sequential([keras.layers.Dense(5), keras.layers.Dense(4)])
        self.blocks = [Block(), Block()]
        self.head = keras.layers.Dense(1)
        self.depth = 2  # not a layer

    def call(self, x):
        x = self.encoder(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_subclassed_model_tracks_layers_in_attributes_and_lists():
    model = Net()
    model(np.zeros((2, 6), "float32"))
    assert model.layers == [model.encoder, *model.blocks, model.head]
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    assert shapes == [
        (6, 5), (5,), (5, 4), (4,),  # encoder
        (4, 3), (3,), (3, 3), (3,),  # blocks[0].parts
        (3, 3), (3,), (3, 3), (3,),  # blocks[1].parts
        (3, 1), (1,),  # head
    ]  # fmt: skip
    assert [id(w) for w in model.weights] == [id(w) for w in model.trainable_weights]
    assert model.non_trainable_weights == []
    # Freezing a nested layer moves its weights to the non-trainable ones.
    model.blocks[1].trainable = False
    assert len(model.trainable_weights) == 10
    assert [tuple(w.shape) for w in model.non_trainable_weights] == shapes[8:12]


def test_subclassed_model_trains_nested_and_listed_layers():
    x, y = _data(features=6, outputs=1)
    model = Net()
    model(x[:1])
    before = _values(model.trainable_weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = _values(model.trainable_weights)
    changed = [not np.array_equal(a, b) for a, b in zip(after, before)]
    assert all(changed), changed


# --------------------------------------------------------------------------- add_loss


class ActivityPenalty(keras.layers.Layer):
    def call(self, x):
        self.add_loss(1e-2 * ops.sum(ops.square(x)))
        return x


def test_model_losses_collects_add_loss_of_the_last_call():
    x, _ = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), ActivityPenalty()])
    kernel, bias = _values(model.trainable_variables)
    hidden = x.astype(np.float64) @ kernel + bias
    model(x)
    assert len(model.losses) == 1
    _close(model.losses[0], 1e-2 * np.sum(hidden**2), "model.losses")
    model(x[:3])  # losses are cleared at the start of each outermost call
    assert len(model.losses) == 1
    _close(model.losses[0], 1e-2 * np.sum(hidden[:3] ** 2), "model.losses after a second call")


def test_add_loss_is_added_to_the_compiled_loss():
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), ActivityPenalty()])
    kernel, bias = _values(model.trainable_variables)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    mse, _, _ = _mse_and_grads(x, y, kernel, bias)
    penalty = 1e-2 * np.sum((x.astype(np.float64) @ kernel + bias) ** 2)
    _close(history.history["loss"], [mse + penalty], "fit loss")
    _close(model.evaluate(x, y, verbose=0), mse + penalty, "evaluate")


# --------------------------------------------------------------------------- weight files


def test_subclassed_model_save_weights_load_weights_round_trip(tmp_path):
    x = np.random.default_rng(3).normal(size=(4, 6)).astype("float32")
    model = Net()
    model(x)
    path = tmp_path / "net.weights.h5"
    model.save_weights(path)
    restored = Net()
    restored(x)
    assert not all(
        np.array_equal(a, b) for a, b in zip(_values(restored.weights), _values(model.weights))
    )
    restored.load_weights(path)
    for value, expected in zip(_values(restored.weights), _values(model.weights)):
        assert_close(value, expected, FILE_ROUND_TRIP_ATOL, 0.0, "weights")
    assert_close(restored(x), model(x), FILE_ROUND_TRIP_ATOL, 0.0, "outputs")
