"""Progbar and callbacks vs Keras 3: same update / log sequences, same text and decisions.

Both libraries read ``time.time()``; most tests replace it with a fake clock so that the printed
text (times, ETAs, redraw widths) can be compared character for character.
"""

import contextlib
import io
import re
import time

import numpy as np
import pytest

from numpykeras import callbacks as nk_callbacks
from numpykeras.utils import Progbar


class FakeOptimizer:
    def __init__(self, learning_rate):
        self._lr = np.float32(learning_rate)

    @property
    def learning_rate(self):
        return float(self._lr)

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = np.float32(value)


class FakeModel:
    """The model interface the callbacks use (no `metrics`, so "auto" mode relies on names)."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros(3, np.float32)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path, overwrite=True):
        self.saved.append(("model", path))

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", path))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    return fake


def _captured(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = fn()
    return buf.getvalue(), result


def _drive(cbs, model, epoch_logs, steps, clock=None, batch_logs=None):
    """A fit-like loop over plain callbacks (no CallbackList: Keras may dispatch it async)."""
    ran = []
    for cb in cbs:
        cb.set_model(model)
        cb.set_params({"verbose": 1, "epochs": len(epoch_logs), "steps": steps})
    for cb in cbs:
        cb.on_train_begin({})
    for epoch, logs in enumerate(epoch_logs):
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        for step in range(steps):
            if clock is not None:
                clock.now += 0.013 * (step + 1) + 0.2 * epoch
            blogs = batch_logs(epoch, step) if batch_logs else {"loss": logs.get("loss", 1.0)}
            for cb in cbs:
                cb.on_train_batch_begin(step, {})
                cb.on_train_batch_end(step, dict(blogs))
            if model.stop_training:
                break
        model.weights = [np.full(3, epoch + 1, np.float32)]
        logs = dict(logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        ran.append((epoch, logs))
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end(dict(ran[-1][1]))
    return ran


def _compare(make_keras, make_ours, epoch_logs, steps=0, clock=None, batch_logs=None, lr=0.1):
    """Run the same sequence through Keras's and our callbacks; return both outcomes."""
    outcomes = []
    for make in (make_keras, make_ours):
        if clock is not None:
            clock.now = 1000.0
        model = FakeModel(lr)
        cbs = make()
        text, ran = _captured(
            lambda cbs=cbs, model=model: _drive(cbs, model, epoch_logs, steps, clock, batch_logs)
        )
        outcomes.append(
            {
                "text": text,
                "epochs": [e for e, _ in ran],
                "logs": [logs for _, logs in ran],
                "weights": model.weights[0].tolist(),
                "lr": model.optimizer.learning_rate,
                "saved": model.saved,
                "stop": model.stop_training,
            }
        )
    return outcomes


def _assert_same(keras_outcome, our_outcome):
    for key in keras_outcome:
        assert our_outcome[key] == keras_outcome[key], f"{key} differs"


# --------------------------------------------------------------------------- Progbar


def _progbar_run(cls, clock, target, verbose, updates, dynamic=None, **kwargs):
    clock.now = 1000.0

    def run():
        bar = cls(target, verbose=verbose, **kwargs)
        if dynamic is not None:
            bar._dynamic_display = dynamic
        for dt, current, values, finalize in updates:
            clock.now += dt
            bar.update(current, values, finalize=finalize)

    return _captured(run)[0]


def _updates(rng, target, n_metrics=2, final=True, skip=1):
    names = ["loss", "accuracy", "val_loss", "mae"][:n_metrics]
    steps = list(range(skip, (target or 9) + 1, skip))
    out = []
    for step in steps:
        scale = 10.0 ** rng.integers(-5, 2)
        values = [(n, float(rng.normal() * scale)) for n in names]
        out.append((float(rng.uniform(0.0005, 3.0)), step, values, None if target else False))
    if final and target is None:
        out.append((0.5, steps[-1], [(names[0], 0.25)], True))
    return out


PROGBAR_CASES = [
    dict(target=10, verbose=1, dynamic=True),
    dict(target=10, verbose=1, dynamic=False),
    dict(target=10, verbose=2),
    dict(target=7, verbose=1, dynamic=True, width=30, stateful_metrics=["loss"]),
    dict(target=7, verbose=2, stateless_metrics=["accuracy"], unit_name="sample"),
    dict(target=None, verbose=1, dynamic=True),
    dict(target=None, verbose=1, dynamic=False, interval=0.0),
    dict(target=1200, verbose=1, dynamic=True, skip=150),
    dict(target=1200, verbose=2, skip=300),
]


@pytest.mark.parametrize("case", range(len(PROGBAR_CASES)))
def test_progbar_text_matches_keras(keras, clock, case):
    kwargs = dict(PROGBAR_CASES[case])
    target, verbose = kwargs.pop("target"), kwargs.pop("verbose")
    dynamic, skip = kwargs.pop("dynamic", None), kwargs.pop("skip", 1)
    updates = _updates(np.random.default_rng(case), target, n_metrics=1 + case % 3, skip=skip)
    ours = _progbar_run(Progbar, clock, target, verbose, updates, dynamic, **kwargs)
    theirs = _progbar_run(keras.utils.Progbar, clock, target, verbose, updates, dynamic, **kwargs)
    assert ours == theirs
    assert ours  # something was printed


def test_progbar_default_display_mode_matches_keras(keras):
    assert Progbar(3)._dynamic_display == keras.utils.Progbar(3)._dynamic_display


def _mask(text):
    """Mask times (``12ms``, ``3s``, ``1:05``) and the padding after them."""
    text = re.sub(r"\d+(?:ms|us|s)/", "T/", text)
    text = re.sub(r"\x1b\[1m[0-9:]+s?\x1b\[0m", "\x1b[1mT\x1b[0m", text)
    text = re.sub(r" - \d+s - ", " - T - ", text)
    return re.sub(r" +(?=\n|$)", "", text)


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_real_time_masked(keras, verbose):
    updates = _updates(np.random.default_rng(7), 6)

    def run(cls):
        def go():
            bar = cls(6, verbose=verbose, interval=0.0)
            bar._dynamic_display = False
            for _, step, values, _ in updates:
                time.sleep(0.002)
                bar.update(step, values)

        return _mask(_captured(go)[0])

    assert run(Progbar) == run(keras.utils.Progbar)


# --------------------------------------------------------------------------- ProgbarLogger


@pytest.mark.parametrize("verbose, epochs", [(1, 2), (2, 3), (1, 1), ("auto", 2)])
def test_progbar_logger_matches_keras(keras, clock, verbose, epochs):
    rng = np.random.default_rng(11)
    epoch_logs = [
        {"accuracy": float(rng.uniform()), "loss": float(rng.uniform()), "val_loss": 0.5}
        for _ in range(epochs)
    ]

    def batch_logs(epoch, step):
        return {"accuracy": 0.1 * step, "loss": 1.0 / (step + 1 + epoch)}

    def make(module):
        def build():
            logger = module.ProgbarLogger()
            return [logger]

        return build

    outcomes = []
    for module in (keras.callbacks, nk_callbacks):
        clock.now = 1000.0
        model = FakeModel()
        cbs = make(module)()

        def go(cbs=cbs, model=model):
            for cb in cbs:
                cb.set_model(model)
                cb.set_params({"verbose": verbose, "epochs": epochs, "steps": 4})
            _drive_no_params(cbs, epoch_logs, 4, clock, batch_logs)

        outcomes.append(_captured(go)[0])
    assert outcomes[1] == outcomes[0]


def _drive_no_params(cbs, epoch_logs, steps, clock, batch_logs):
    for cb in cbs:
        cb.on_train_begin({})
    for epoch, logs in enumerate(epoch_logs):
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        for step in range(steps):
            clock.now += 0.02 * (step + 1)
            for cb in cbs:
                cb.on_train_batch_end(step, batch_logs(epoch, step))
        for cb in cbs:
            cb.on_epoch_end(epoch, dict(logs))
    for cb in cbs:
        cb.on_train_end({})


def test_log_normalisation_matches_keras(keras):
    from keras.src.utils.python_utils import pythonify_logs

    logs = {"z": np.float32(0.5), "a": 2, "m": {"val_b": np.float64(0.25), "c": "text"}}
    assert nk_callbacks._pythonify_logs(logs) == pythonify_logs(logs)
    assert list(nk_callbacks._pythonify_logs(logs)) == list(pythonify_logs(logs))


# --------------------------------------------------------------------------- EarlyStopping


def _loss_sequence(seed, n=12):
    rng = np.random.default_rng(seed)
    # a noisy decreasing curve with plateaus, rounded so that ties occur
    return [round(float(v), 2) for v in 1.0 / np.arange(1, n + 1) ** 0.3 + rng.normal(0, 0.04, n)]


EARLY_STOPPING_CASES = [
    dict(patience=0),
    dict(patience=2),
    dict(patience=3, min_delta=0.02),
    dict(patience=2, baseline=0.6),
    dict(patience=2, restore_best_weights=True),
    dict(patience=1, restore_best_weights=True, baseline=0.3),
    dict(patience=1, start_from_epoch=4, restore_best_weights=True),
    dict(patience=2, monitor="val_accuracy", mode="max", restore_best_weights=True),
    dict(patience=2, monitor="loss", mode="min", min_delta=-0.01),
]


@pytest.mark.parametrize("case", range(len(EARLY_STOPPING_CASES)))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_early_stopping_matches_keras(keras, case, seed):
    kwargs = dict(EARLY_STOPPING_CASES[case], verbose=1)
    values = _loss_sequence(seed)
    key = kwargs.get("monitor", "val_loss")
    if key == "val_accuracy":
        values = [1.0 - v for v in values]
    epoch_logs = [{key: v, "loss": v + 0.1} if key != "loss" else {"loss": v} for v in values]
    keras_out, our_out = _compare(
        lambda: [keras.callbacks.EarlyStopping(**kwargs)],
        lambda: [nk_callbacks.EarlyStopping(**kwargs)],
        epoch_logs,
    )
    _assert_same(keras_out, our_out)


# --------------------------------------------------------------------------- ReduceLROnPlateau


REDUCE_LR_CASES = [
    dict(patience=1, factor=0.5),
    dict(patience=2, factor=0.2, cooldown=1, min_lr=0.002),
    dict(patience=1, factor=0.5, cooldown=2, min_delta=0.05),
    dict(patience=0, factor=0.9, min_lr=0.05, monitor="loss"),
]


@pytest.mark.parametrize("case", range(len(REDUCE_LR_CASES)))
@pytest.mark.parametrize("seed", [3, 4])
def test_reduce_lr_on_plateau_matches_keras(keras, case, seed):
    kwargs = dict(REDUCE_LR_CASES[case], verbose=1)
    epoch_logs = [{"loss": v + 0.1, "val_loss": v} for v in _loss_sequence(seed)]

    rates = {}

    def recorder(tag):
        def on_epoch_end(epoch, logs):
            rates.setdefault(tag, []).append(dict(logs))

        return on_epoch_end

    keras_out, our_out = _compare(
        lambda: [
            keras.callbacks.ReduceLROnPlateau(**kwargs),
            keras.callbacks.LambdaCallback(on_epoch_end=recorder("keras")),
        ],
        lambda: [
            nk_callbacks.ReduceLROnPlateau(**kwargs),
            nk_callbacks.LambdaCallback(on_epoch_end=recorder("ours")),
        ],
        epoch_logs,
    )
    _assert_same(keras_out, our_out)
    assert rates["ours"] == rates["keras"]  # includes logs["learning_rate"] per epoch
    assert "reducing learning rate" in our_out["text"] or case == 3


# --------------------------------------------------------------------------- LearningRateScheduler


def _halve(epoch, lr):
    return lr * 0.5 if epoch % 2 else lr


def _one_arg(epoch):
    return 0.05 / (epoch + 1)


def _two_arg_numpy(epoch, lr):
    return np.float32(lr * 0.9)


@pytest.mark.parametrize("schedule", [_halve, _one_arg, _two_arg_numpy])
def test_learning_rate_scheduler_matches_keras(keras, schedule):
    epoch_logs = [{"loss": 1.0}] * 5
    keras_out, our_out = _compare(
        lambda: [keras.callbacks.LearningRateScheduler(schedule, verbose=1)],
        lambda: [nk_callbacks.LearningRateScheduler(schedule, verbose=1)],
        epoch_logs,
    )
    _assert_same(keras_out, our_out)


# --------------------------------------------------------------------------- CSVLogger


@pytest.mark.parametrize("with_val", [True, False])
def test_csv_logger_file_matches_keras(keras, tmp_path, with_val):
    rng = np.random.default_rng(5)
    epoch_logs = []
    for _ in range(3):
        logs = {"loss": float(rng.uniform()), "accuracy": float(rng.uniform())}
        if with_val:
            logs.update(val_loss=float(rng.uniform()), val_accuracy=float(rng.uniform()))
        epoch_logs.append(logs)
    texts = []
    for tag, module in (("keras", keras.callbacks), ("ours", nk_callbacks)):
        path = tmp_path / f"{tag}.csv"
        _drive([module.CSVLogger(str(path))], FakeModel(), epoch_logs, 0)
        _drive(
            [module.CSVLogger(str(path), separator="\t", append=True)],
            FakeModel(),
            epoch_logs[:2],
            0,
        )
        with open(path, newline="") as f:
            texts.append(f.read())
    assert texts[1] == texts[0]


# --------------------------------------------------------------------------- ModelCheckpoint


CHECKPOINT_CASES = [
    dict(filepath="ckpt-{epoch:02d}-{val_loss:.3f}.keras"),
    dict(filepath="best.keras", save_best_only=True),
    dict(filepath="best.weights.h5", save_best_only=True, save_weights_only=True),
    dict(
        filepath="acc.keras",
        monitor="val_accuracy",
        mode="max",
        save_best_only=True,
        initial_value_threshold=0.2,
    ),
    dict(filepath="b{epoch}-{batch}.weights.h5", save_weights_only=True, save_freq=3),
]


@pytest.mark.parametrize("case", range(len(CHECKPOINT_CASES)))
def test_model_checkpoint_matches_keras(keras, tmp_path, case):
    kwargs = dict(CHECKPOINT_CASES[case], verbose=1)
    kwargs["filepath"] = str(tmp_path / kwargs["filepath"])
    values = _loss_sequence(case, n=6)
    epoch_logs = [{"loss": v, "val_loss": v, "val_accuracy": 1.0 - v} for v in values]
    keras_out, our_out = _compare(
        lambda: [keras.callbacks.ModelCheckpoint(**kwargs)],
        lambda: [nk_callbacks.ModelCheckpoint(**kwargs)],
        epoch_logs,
        steps=4,
    )
    _assert_same(keras_out, our_out)
    assert our_out["saved"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(filepath="model.ckpt"),
        dict(filepath="model.keras", save_weights_only=True),
        dict(filepath="model.keras", save_freq="batch"),
    ],
)
def test_model_checkpoint_errors_match_keras(keras, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.callbacks.ModelCheckpoint(**kwargs)
    with pytest.raises(ValueError) as ours:
        nk_callbacks.ModelCheckpoint(**kwargs)
    assert str(ours.value) == str(theirs.value)


# --------------------------------------------------------------------------- TerminateOnNaN


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_terminate_on_nan_matches_keras(keras, bad):
    def batch_logs(epoch, step):
        return {"loss": bad if (epoch, step) == (1, 2) else 0.5}

    keras_out, our_out = _compare(
        lambda: [keras.callbacks.TerminateOnNaN()],
        lambda: [nk_callbacks.TerminateOnNaN()],
        [{"loss": 0.5}] * 4,
        steps=4,
        batch_logs=batch_logs,
    )
    _assert_same(keras_out, our_out)
    assert our_out["epochs"] == [0, 1] and our_out["stop"]


def _hook_recorder(base):
    """A callback class (subclassing ``base``) that records every hook it is given."""
    names = [
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_begin",
        "on_test_end",
        "on_test_batch_begin",
        "on_test_batch_end",
    ]

    def make(name):
        def hook(self, *args, **kwargs):
            logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict) else None)
            index = args[0] if args and not isinstance(args[0], dict) else None
            self.events.append((name, index, tuple(sorted(logs or {}))))

        return hook

    namespace = {name: make(name) for name in names}
    namespace["__init__"] = lambda self: (base.__init__(self), setattr(self, "events", []))[0]
    return type("Recorder", (base,), namespace)


@pytest.mark.parametrize("validation_freq", [1, 2])
def test_fit_calls_the_hooks_keras_calls(keras, validation_freq):
    """fit's validation runs the test hooks of the user's callbacks (batch indices and log keys
    included), as Keras's fit does."""
    import numpykeras as nk

    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.integers(0, 2, (10, 1)).astype(np.float32)
    vx, vy = x[:5], y[:5]
    events = []
    for module, base in ((keras, keras.callbacks.Callback), (nk, nk.callbacks.Callback)):
        model = module.Sequential(
            [module.Input((3,)), module.layers.Dense(1, activation="sigmoid")]
        )
        model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
        recorder = _hook_recorder(base)()
        model.fit(
            x,
            y,
            batch_size=4,
            epochs=2,
            validation_data=(vx, vy),
            validation_batch_size=2,
            validation_freq=validation_freq,
            shuffle=False,
            verbose=0,
            callbacks=[recorder],
        )
        events.append(recorder.events)
    k_events, events = events
    assert any(name == "on_test_batch_end" for name, _, _ in k_events)
    assert events == k_events
