"""Unit tests for numpykeras.callbacks, driven with a fake model and synthetic logs."""

import contextlib
import io
import time
import warnings

import numpy as np
import pytest

from numpykeras import callbacks


class FakeOptimizer:
    """Stores the learning rate as float32, like a Keras optimizer variable."""

    def __init__(self, learning_rate):
        self._lr = np.float32(learning_rate)

    @property
    def learning_rate(self):
        return float(self._lr)

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = np.float32(value)


class FakeModel:
    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros(2, np.float32)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path, overwrite=True):
        with open(path, "w") as f:
            f.write("model")
        self.saved.append(("model", path))

    def save_weights(self, path, overwrite=True):
        with open(path, "w") as f:
            f.write("weights")
        self.saved.append(("weights", path))


def run_epochs(callback_list, model, epoch_logs, steps=0):
    """Mimic fit: the weights of epoch e are all e + 1; returns the epochs that ran."""
    cbs = callbacks.CallbackList(
        callback_list, model=model, verbose=0, epochs=len(epoch_logs), steps=steps
    )
    ran = []
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            cbs.on_train_batch_end(step, {"loss": logs.get("loss", 0.0)})
        model.weights = [np.full(2, epoch + 1, np.float32)]
        cbs.on_epoch_end(epoch, dict(logs))
        ran.append(epoch)
        if model.stop_training:
            break
    cbs.on_train_end(dict(epoch_logs[ran[-1]]))
    return ran


def _read(path):
    with open(path, newline="") as f:
        return f.read()


def vl(values, key="val_loss"):
    return [{key: v} for v in values]


# --------------------------------------------------------------------------- base classes


def test_callback_list_params_model_history_and_logs():
    seen = []

    class Recorder(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(("batch", batch, logs))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", epoch, logs))

    model = FakeModel()
    rec = Recorder()
    cbs = callbacks.CallbackList(
        [[rec]], add_history=True, add_progbar=True, model=model, verbose=0, epochs=1, steps=1
    )
    assert [type(c) for c in cbs.callbacks] == [
        Recorder,
        callbacks.History,
        callbacks.ProgbarLogger,
    ]
    assert rec.params == {"verbose": 0, "epochs": 1, "steps": 1} and rec.model is model
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_end(0, {"loss": np.float32(0.5), "acc": np.float64(0.25)})
    cbs.on_epoch_end(0, {"loss": 0.5, "nested": {"val_loss": np.float32(0.75)}})
    cbs.on_train_end()
    assert seen[0] == ("batch", 0, {"acc": 0.25, "loss": 0.5})
    assert list(seen[0][2]) == ["acc", "loss"] and type(seen[0][2]["loss"]) is float
    assert seen[1] == ("epoch", 0, {"loss": 0.5, "val_loss": 0.75})
    assert model.history is cbs.callbacks[1]
    assert model.history.history == {"loss": [0.5], "val_loss": [0.75]}
    assert model.history.epoch == [0]


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="`Callback` instance"):
        callbacks.CallbackList([object()])


def test_lambda_callback():
    events = []
    cb = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: events.append(("end", epoch, logs["val_loss"])),
        on_train_batch_begin=lambda batch, logs: events.append(("batch", batch)),
        on_test_begin=lambda logs: events.append("test"),
    )
    run_epochs([cb], FakeModel(), vl([0.5]), steps=2)
    callbacks.CallbackList([cb]).on_test_begin()
    assert events == [("batch", 0), ("batch", 1), ("end", 0, 0.5), "test"]


# --------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_patience():
    model = FakeModel()
    cb = callbacks.EarlyStopping(patience=2)
    # best 0.9 at epoch 1; epochs 2 and 3 do not improve -> stop after epoch 3
    assert run_epochs([cb], model, vl([1.0, 0.9, 0.95, 0.93, 0.8])) == [0, 1, 2, 3]
    assert cb.stopped_epoch == 3 and cb.best == 0.9
    np.testing.assert_array_equal(model.weights[0], [4, 4])  # not restored


def test_early_stopping_min_delta():
    cb = callbacks.EarlyStopping(monitor="loss", min_delta=0.05, patience=1)
    # 0.97 is not 0.05 below 1.0 -> no improvement at epoch 1 -> stop
    assert run_epochs([cb], FakeModel(), vl([1.0, 0.97, 0.5], "loss")) == [0, 1]


def test_early_stopping_max_mode_and_auto_accuracy():
    for mode in ("max", "auto"):
        cb = callbacks.EarlyStopping(monitor="val_accuracy", mode=mode, patience=1)
        logs = vl([0.5, 0.6, 0.55, 0.9], "val_accuracy")
        assert run_epochs([cb], FakeModel(), logs) == [0, 1, 2]


def test_early_stopping_auto_unknown_metric_raises():
    cb = callbacks.EarlyStopping(monitor="val_mystery")
    with pytest.raises(ValueError, match="isn't able to automatically determine"):
        run_epochs([cb], FakeModel(), vl([0.5], "val_mystery"))


def test_early_stopping_baseline():
    # epoch 0 sets best but does not beat the baseline, so wait keeps counting; epoch 1 does not
    # improve: wait == 2 >= patience -> stop.
    cb = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert run_epochs([cb], FakeModel(), vl([0.9, 0.95, 0.96, 0.97])) == [0, 1]
    # reaching the baseline resets the wait
    cb = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert run_epochs([cb], FakeModel(), vl([0.9, 0.4, 0.45, 0.46, 0.47])) == [0, 1, 2, 3]


def test_early_stopping_restore_best_weights_and_messages():
    model = FakeModel()
    cb = callbacks.EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ran = run_epochs([cb], model, vl([1.0, 0.7, 0.8, 0.9, 0.1]))
    assert ran == [0, 1, 2, 3]
    np.testing.assert_array_equal(model.weights[0], [2, 2])  # the weights after epoch 1
    assert buf.getvalue() == (
        "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n"
    )


def test_early_stopping_start_from_epoch():
    cb = callbacks.EarlyStopping(patience=0, start_from_epoch=2)
    # epochs 0 and 1 are ignored even though they are worse than nothing; epoch 3 does not improve
    assert run_epochs([cb], FakeModel(), vl([0.1, 5.0, 1.0, 1.5, 0.5])) == [0, 1, 2, 3]


def test_early_stopping_missing_monitor_warns():
    cb = callbacks.EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="Available metrics are: loss"):
        assert run_epochs([cb], FakeModel(), vl([1.0, 2.0], "loss")) == [0, 1]


# --------------------------------------------------------------------------- ReduceLROnPlateau


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    model = FakeModel(learning_rate=0.1)
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.03, min_delta=0)
    rates = []

    def record(epoch, logs):
        rates.append((logs["learning_rate"], model.optimizer.learning_rate))

    recorder = callbacks.LambdaCallback(on_epoch_end=record)
    run_epochs([cb, recorder], model, vl([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    # e0 best; e1 wait 1 -> 0.05, cooldown 2; e2 cooldown 2 -> 1, skipped; e3 cooldown 1 -> 0,
    # wait 1 -> max(0.025, 0.03) = 0.03; e4 skipped; e5, e6: 0.03 is not above min_lr -> stays.
    f = lambda v: float(np.float32(v))  # noqa: E731
    assert [r[1] for r in rates] == [f(0.1), f(0.05), f(0.05), f(0.03), f(0.03), f(0.03), f(0.03)]
    # logs["learning_rate"] holds the rate the epoch trained with
    assert [r[0] for r in rates][:5] == [f(0.1), f(0.1), f(0.05), f(0.05), f(0.03)]


def test_reduce_lr_rejects_factor():
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


# --------------------------------------------------------------------------- LearningRateScheduler


def test_learning_rate_scheduler_two_and_one_argument_schedules():
    model = FakeModel(learning_rate=0.2)
    history = callbacks.History()
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    run_epochs([cb, history], model, vl([1.0, 1.0, 1.0]))
    f = lambda v: float(np.float32(v))  # noqa: E731
    assert history.history["learning_rate"] == [f(0.1), f(f(0.1) * 0.5), f(f(f(0.1) * 0.5) * 0.5)]

    cb = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1), verbose=1)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        run_epochs([cb], model, vl([1.0, 1.0]))
    assert model.optimizer.learning_rate == f(0.02)
    assert buf.getvalue() == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.01.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.02.\n"
    )


def test_learning_rate_scheduler_requires_float():
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: 1)
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        run_epochs([cb], FakeModel(), vl([1.0]))


# --------------------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_filename_formatting(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "sub" / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    cb = callbacks.ModelCheckpoint(pattern)
    run_epochs([cb], model, vl([0.5, 0.25]))
    assert model.saved == [
        ("model", str(tmp_path / "sub" / "ckpt-01-0.50.keras")),
        ("model", str(tmp_path / "sub" / "ckpt-02-0.25.keras")),
    ]


def test_checkpoint_best_only_weights(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "best.weights.h5")
    cb = callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True, verbose=1)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        run_epochs([cb], model, vl([0.5, 0.6, 0.4]))
    assert [kind for kind, _ in model.saved] == ["weights", "weights"]  # epochs 1 and 3
    assert buf.getvalue() == (
        f"\nEpoch 1: val_loss improved from None to 0.50000, saving model to {path}\n"
        f"\nEpoch 1: finished saving model to {path}\n"
        "\nEpoch 2: val_loss did not improve from 0.50000\n"
        f"\nEpoch 3: val_loss improved from 0.50000 to 0.40000, saving model to {path}\n"
        f"\nEpoch 3: finished saving model to {path}\n"
    )


def test_checkpoint_initial_value_threshold_and_max_mode(tmp_path):
    model = FakeModel()
    cb = callbacks.ModelCheckpoint(
        str(tmp_path / "m.keras"),
        monitor="val_acc",
        mode="max",
        save_best_only=True,
        initial_value_threshold=0.7,
    )
    run_epochs([cb], model, vl([0.6, 0.8, 0.75], "val_acc"))
    assert len(model.saved) == 1


def test_checkpoint_batch_frequency(tmp_path):
    model = FakeModel()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}b{batch}.keras"), save_freq=3)
    run_epochs([cb], model, vl([0.5, 0.5]), steps=4)
    # batches counted across epochs: saves after the 3rd and 6th batches
    assert [p.rsplit("/", 1)[-1] for _, p in model.saved] == ["e1b3.keras", "e2b2.keras"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filepath": "m.h5x"}, "must end in `.keras`"),
        ({"filepath": "m.keras", "save_weights_only": True}, "must end in `.weights.h5`"),
        ({"filepath": "m.keras", "save_freq": "batch"}, "Unrecognized save_freq"),
    ],
)
def test_checkpoint_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.ModelCheckpoint(**kwargs)


def test_checkpoint_missing_format_key(tmp_path):
    cb = callbacks.ModelCheckpoint(str(tmp_path / "{nope}.keras"))
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        run_epochs([cb], FakeModel(), vl([0.5]))


# --------------------------------------------------------------------------- CSVLogger


def test_csv_logger_content_and_append(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "acc": 0.25}, {"loss": 0.125, "acc": 0.75}]
    run_epochs([callbacks.CSVLogger(str(path))], FakeModel(), logs)
    expected = "epoch,acc,loss,val_acc,val_loss\r\n0,0.25,0.5,NA,NA\r\n1,0.75,0.125,NA,NA\r\n"
    assert _read(path) == expected
    run_epochs([callbacks.CSVLogger(str(path), separator=";", append=True)], FakeModel(), logs[:1])
    assert _read(path) == expected + "0;0.25;0.5;NA;NA\r\n"


def test_csv_logger_with_validation_keys(tmp_path):
    path = tmp_path / "log.csv"
    run_epochs([callbacks.CSVLogger(path)], FakeModel(), [{"loss": 1.0, "val_loss": 2.0}])
    assert _read(path) == "epoch,loss,val_loss\r\n0,1.0,2.0\r\n"


# --------------------------------------------------------------------------- TerminateOnNaN


def test_terminate_on_nan():
    model = FakeModel()
    cb = callbacks.TerminateOnNaN()
    cbs = callbacks.CallbackList([cb], model=model)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cbs.on_train_batch_end(0, {"loss": 1.0})
        assert not model.stop_training
        cbs.on_train_batch_end(3, {"loss": float("nan")})
    assert model.stop_training
    assert buf.getvalue() == "Batch 3: Invalid loss, terminating training\n"

    strict = callbacks.CallbackList([callbacks.TerminateOnNaN(raise_error=True)], model=model)
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        strict.on_train_batch_end(2, {"loss": float("inf")})


# --------------------------------------------------------------------------- ProgbarLogger


def test_progbar_logger_verbose2(monkeypatch):
    clock = [10.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    model = FakeModel()
    cbs = callbacks.CallbackList(None, add_progbar=True, model=model, verbose=2, epochs=2, steps=2)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cbs.on_train_begin()
        for epoch in range(2):
            cbs.on_epoch_begin(epoch)
            for step in range(2):
                clock[0] += 0.5
                cbs.on_train_batch_end(step, {"loss": 1.0 / (step + 1)})
            cbs.on_epoch_end(epoch, {"loss": 0.25, "val_loss": 0.5})
        cbs.on_train_end()
    assert buf.getvalue() == (
        "Epoch 1/2\n2/2 - 1s - 500ms/step - loss: 0.2500 - val_loss: 0.5000\n"
        "Epoch 2/2\n2/2 - 1s - 500ms/step - loss: 0.2500 - val_loss: 0.5000\n"
    )


def test_progbar_logger_verbose_auto_and_single_epoch(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 5.0)
    logger = callbacks.ProgbarLogger()
    logger.set_params({"verbose": "auto", "epochs": 1, "steps": 1})
    assert logger.verbose == 1
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), warnings.catch_warnings():
        logger.on_train_begin()
        logger.on_epoch_begin(0)
        logger.progbar._dynamic_display = False
        logger.on_train_batch_end(0, {"loss": 0.5})
        logger.on_epoch_end(0, {"loss": 0.5})
    text = buf.getvalue()
    assert "Epoch" not in text and text.endswith(" - loss: 0.5000\n")
    assert text.count("1/1") == 2  # one live redraw, then the final line
