"""Keras 3 callbacks: hooks into ``fit`` / ``evaluate`` / ``predict``.

A callback works against a small model interface: ``model.stop_training`` (bool),
``model.get_weights()`` / ``model.set_weights(list)``, ``model.optimizer.learning_rate`` (a float
that can be read and assigned), ``model.save(path, overwrite=True)`` and
``model.save_weights(path, overwrite=True)``. ``fit`` calls the hooks with ``logs`` dicts of Python
floats; epoch logs carry ``val_``-prefixed validation keys.
"""

from __future__ import annotations

import collections.abc
import contextlib
import csv
import hashlib
import json
import os
import re
import warnings

import numpy as np

from numpykeras.utils.progbar import Progbar, print_msg

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]


class Callback:
    """Base class of callbacks; subclasses override the ``on_*`` hooks they need.

    Attributes:
        params: dict of training parameters (``verbose``, ``epochs``, ``steps``).
        model: the model being trained (set by :meth:`set_model`).
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Backwards-compatible alias of :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Backwards-compatible alias of :meth:`on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch ``epoch`` (0-based) of ``fit``."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with its metrics (``val_`` keys for validation)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch``; calls :meth:`on_batch_begin` by default."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch with the running metrics; calls :meth:`on_batch_end`."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before an ``evaluate`` (or validation) batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after an ``evaluate`` (or validation) batch with the running metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a ``predict`` batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a ``predict`` batch."""

    def on_train_begin(self, logs=None):
        """Called at the start of ``fit``."""

    def on_train_end(self, logs=None):
        """Called at the end of ``fit`` with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called at the start of ``evaluate`` or of a validation pass."""

    def on_test_end(self, logs=None):
        """Called at the end of ``evaluate`` or of a validation pass."""

    def on_predict_begin(self, logs=None):
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs=None):
        """Called at the end of ``predict``."""


def _pythonify_logs(logs):
    """A new dict, keys sorted, nested dicts flattened, values converted to float when possible."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


class CallbackList(Callback):
    """Calls every callback of a list, in order, for each hook.

    Args:
        callbacks: list of :class:`Callback` (nested lists are flattened).
        add_history: append a :class:`History` unless the list has one.
        add_progbar: append a :class:`ProgbarLogger` unless the list has one.
        model: the model, passed to every callback's ``set_model``.
        **params: if given, passed to every callback's ``set_params`` (``verbose``, ``epochs``,
            ``steps``).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(_flatten(callbacks)) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "Expected every element of `callbacks` to be a `Callback` instance. "
                    f"Received: {cb!r} of type {type(cb)}"
                )
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook, *args, logs=None):
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            if args and "batch" in hook:  # Keras passes `logs=` by keyword to batch hooks only
                getattr(callback, hook)(*args, logs=logs)
            else:
                getattr(callback, hook)(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)


class History(Callback):
    """Records every epoch's logs; ``fit`` returns this object.

    Attributes:
        history: dict from log key to the list of its per-epoch values.
        epoch: list of the epoch indices seen.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints progress to stdout: ``"Epoch 1/10"`` then a live bar (``verbose=1``) or one line
    per epoch (``verbose=2``), exactly as Keras 3.

    Reads ``verbose`` (``"auto"`` means 1), ``epochs`` and ``steps`` from the params.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs=None):
        # Validation inside fit must not draw its own bar.
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            # Logs hold running averages already: show them as given (nothing averaged).
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
            )

    def _update_progbar(self, batch, logs=None):
        self._maybe_init_progbar()
        self.seen = batch + 1  # one-based
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


# --------------------------------------------------------------------------- monitoring

# Keras metric names whose value should go up (their `_direction` is "up").
_MAXIMIZED_NAME_PARTS = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "iou",
    "r2",
)


def _metric_direction(model, name):
    """``"up"``/``"down"`` from a model metric called ``name`` with a ``_direction``, or None."""
    stack = list(getattr(model, "metrics", None) or [])
    while stack:
        metric = stack.pop(0)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)
        if getattr(metric, "name", None) == name and getattr(metric, "_direction", None):
            return metric._direction
    return None


class MonitorCallback(Callback):
    """Base of callbacks that watch one logged quantity for improvement.

    Args:
        monitor: the log key to watch.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (``loss`` -> min; otherwise the direction of the
            model metric of that name, else accuracy/AUC-like names -> max).
        baseline: initial best value (``None``: the first value seen).
        min_delta: smallest change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            direction = _metric_direction(self.model, name)
            if direction is None:
                if name == "loss" or name.endswith("_loss"):
                    direction = "down"
                elif any(part in name for part in _MAXIMIZED_NAME_PARTS):
                    direction = "up"
            if direction is None:
                self.monitor_op = None
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "Keras isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value."
                )
            self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta *= -1  # improvement means current + |min_delta| < best

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving.

    Args:
        monitor: the log key to watch.
        min_delta: smallest change that counts as an improvement.
        patience: number of epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping / restoring.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        baseline: training stops if the quantity does not improve on this value within
            ``patience`` epochs.
        restore_best_weights: at the end of training, restore the weights of the best epoch.
        start_from_epoch: epochs of warm-up during which the quantity is not watched.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Something to restore even if no epoch beats the baseline.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs.keys())}",
                stacklevel=2,
            )
        return value


class ModelCheckpoint(MonitorCallback):
    """Save the model (``.keras``) or its weights (``.weights.h5``) during training.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based), ``batch``
    (1-based, with an integer ``save_freq``) and the log keys, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.

    Args:
        filepath: where to save; must end in ``.keras`` (or legacy ``.h5``), or in
            ``.weights.h5`` when ``save_weights_only=True``.
        monitor: the log key compared when ``save_best_only``.
        verbose: 1 prints a message on every save decision.
        save_best_only: save only when ``monitor`` improves on the best value so far.
        save_weights_only: call ``model.save_weights`` instead of ``model.save``.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        save_freq: ``"epoch"`` or a number of batches between saves.
        initial_value_threshold: initial best value for ``save_best_only``.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. "
                "Expected save_freq are 'epoch' or integer values"
            )
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}"
                )
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). Received: "
                f"filepath={self.filepath}"
            )

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started; batches are 0-based
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. "
                f"Received: {current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}'
            ) from e


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when a quantity has stopped improving.

    Args:
        monitor: the log key to watch.
        factor: multiplier applied to the learning rate, below 1.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound of the learning rate.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        if kwargs:
            warnings.warn(
                f"ReduceLROnPlateau ignores these unknown arguments: {sorted(kwargs)}",
                stacklevel=2,
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _reduce_lr(self, epoch):
        optimizer = self.model.optimizer
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):  # stored lrs are float32, compare like Keras
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}."
                )
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)  # seen by History
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs.keys())}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)``.

    Args:
        schedule: function of ``(epoch, lr)`` (0-based epoch, current rate as a float) returning
            the new rate as a float; a one-argument ``schedule(epoch)`` also works.
        verbose: 1 prints the new rate each epoch.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one-argument signature
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(  # noqa: TRY004  Keras raises ValueError
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)  # seen by History


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file (``epoch`` column first, then sorted keys).

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (its header is kept) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)  # noqa: SIM115  closed in on_train_end
        self.writer = None
        self.keys = None

    @staticmethod
    def _handle_value(value):
        if isinstance(value, str):
            return value
        if isinstance(value, collections.abc.Iterable) and not (
            isinstance(value, np.ndarray) and value.ndim == 0
        ):
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            # Without validation keys in the first epoch, reserve columns for them anyway.
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if self.writer is None:

            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=CustomDialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, self._handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite.

    Args:
        raise_error: raise a ``RuntimeError`` at once instead of stopping gracefully (which
            still runs every callback's ``on_train_end``).
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if np.isnan(loss) or np.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from plain functions.

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, ``on_train_begin``/
    ``on_train_end`` take ``(logs)``, ``on_train_batch_begin``/``on_train_batch_end`` take
    ``(batch, logs)``; any other hook can be given by name in ``kwargs``.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


# --------------------------------------------------------------------------- BackupAndRestore

_BACKUP_FORMAT = "numpykeras.callbacks.BackupAndRestore"
_BACKUP_VERSION = 1
_CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)\.weights\.h5")
# The temporary files of the saves (see saving/atomic.py) of the backup's files.
_BACKUP_TEMPORARY = re.compile(
    r"\.(training_metadata\.json(\.bkp)?|checkpoint-\d+\.weights\.h5)"
    r"\.numpykeras-tmp-\d+-[a-z0-9_]+"
)


class _UnreadableBackup(OSError):
    """A backup that can't be read, is not a backup, or fails its checksum."""


def _encode_state(value):
    """``value`` (dicts, lists, NumPy arrays and scalars) as JSON-serialisable data."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": value.shape}
    if isinstance(value, dict):
        return {str(k): _encode_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_state(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_state(value):
    """The inverse of :func:`_encode_state`."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            array = np.asarray(value["__ndarray__"], dtype=value["dtype"])
            return array.reshape(value["shape"])
        return {k: _decode_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_state(v) for v in value]
    return value


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _layer_generators(model) -> list:
    """``(key, generator)`` for every random generator the layers of ``model`` own (a layer
    given a ``seed`` draws from its own NumPy generator or ``SeedGenerator``), in a stable
    order; the global generator is not among them."""
    from numpykeras import backend
    from numpykeras.layers.layer import _all_sublayers
    from numpykeras.random.seed_generator import SeedGenerator

    layers = [model] + (_all_sublayers(model) if hasattr(model, "_sublayers") else [])
    out, seen = [], {id(backend.global_generator())}
    for i, layer in enumerate(layers):
        for attr, value in sorted(vars(layer).items()):
            if isinstance(value, (np.random.Generator, SeedGenerator)) and id(value) not in seen:
                seen.add(id(value))
                out.append((f"{i}/{type(layer).__name__}/{attr}", value))
    return out


def _generator_state(generator):
    if isinstance(generator, np.random.Generator):
        return generator.bit_generator.state
    return generator.state.numpy()  # a SeedGenerator: [seed, counter]


def _set_generator_state(generator, state) -> None:
    if isinstance(generator, np.random.Generator):
        generator.bit_generator.state = state
    else:
        generator.state.assign(np.asarray(state, dtype="int64"))


def _metric_variables(model) -> list:
    return [v for m in getattr(model, "metrics", None) or () for v in m.variables]


class BackupAndRestore(Callback):
    """Back up the training state while ``fit`` runs, and resume an interrupted ``fit``.

    Each backup (at the end of every epoch, or every ``save_freq`` batches) replaces the
    previous one. A ``fit`` that starts while ``backup_dir`` holds a backup (because an
    earlier ``fit`` was killed, crashed or raised) first restores it and resumes where that
    backup was taken: at that epoch, and numpykeras also at that step inside the epoch. When
    ``fit`` completes, the backup is deleted (``delete_checkpoint``). The user brings the job
    back after the interruption, with the same model, ``compile`` and ``fit`` arguments.

    What is restored: the weights, the optimizer state (step count, learning rate, slots), the
    epoch and step, and (unlike Keras, which restores only weights, optimizer and epoch) the
    random state: numpykeras's global generator (``utils.set_random_seed``), which draws the
    shuffle order of array data and the dropout masks, the generators of layers given a
    ``seed``, and, for a backup taken inside an epoch, that epoch's shuffle order and the
    state of the metrics so far. So a resumed ``fit`` trains on the same batches, in the
    same order, with the same dropout masks, as one that was never interrupted, and its final
    weights are equal to that run's, bit for bit. This holds when every epoch is a full pass
    over array data (or over a deterministic ``PyDataset``/generator that restarts each
    epoch); with ``steps_per_epoch`` shorter than the data, or data that differ on the
    second run, the resumed run is correct but not identical. The state of other callbacks
    (``EarlyStopping``, ``ReduceLROnPlateau``, ``History``) is not backed up, as in Keras.

    Saves are atomic: each file is written to a temporary file, flushed to disk and renamed
    into place, and a backup is made of two files, the weights (``checkpoint-<n>.weights.h5``,
    a Keras 3 weights file with the optimizer state) and ``training_metadata.json`` (epoch,
    step, random state, the SHA-256 of the weights file), whose rename commits the backup.
    A process killed at any moment leaves the previous backup or the new one, never a mix.
    A backup that is unreadable or whose weights file fails its checksum (damaged after it
    was written) raises an ``OSError`` naming the file; with ``double_checkpoint=True`` the
    previous backup (``training_metadata.json.bkp`` and its weights file) is restored instead,
    with a warning, as Keras does.

    Example:

    ```python
    callback = keras.callbacks.BackupAndRestore(backup_dir="/tmp/backup")
    model.fit(x, y, epochs=10, callbacks=[callback])  # killed during epoch 5
    model.fit(x, y, epochs=10, callbacks=[callback])  # a new process: resumes in epoch 5
    ```

    Args:
        backup_dir: the directory of the backup (created if missing). Use it for one training
            run only: no other files, no other ``BackupAndRestore`` or ``ModelCheckpoint``.
        save_freq: ``"epoch"`` to back up at the end of every epoch, or an integer ``n`` to
            back up every ``n`` batches (a backup due at the last batch of an epoch is taken at
            the end of that epoch, after validation). ``False`` never backs up (restore only).
        double_checkpoint: keep the previous backup too, to fall back on when the latest
            can't be read. Uses twice the disk space.
        delete_checkpoint: delete the backup when ``fit`` completes (the files this callback
            writes, then ``backup_dir`` if that leaves it empty; Keras removes the whole
            directory). ``False`` keeps it, and a later ``fit`` resumes from it: after the last
            epoch, so it trains no further.

    Raises:
        ValueError: ``backup_dir`` is empty or ``save_freq`` is not ``"epoch"``, ``False`` or
            a positive integer (here); the backup does not fit the model or the data (in
            ``fit``).
        OSError: the backup can't be read and there is no previous one to fall back on (in
            ``fit``).
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__()
        if backup_dir is None or not os.fspath(backup_dir):
            raise ValueError("Empty `backup_dir` argument passed")
        valid = save_freq == "epoch" or save_freq is False
        if (
            not valid
            and isinstance(save_freq, (int, np.integer))
            and not isinstance(save_freq, bool)
        ):
            valid = save_freq >= 1
        if not valid:
            raise ValueError(
                "Invalid value for argument `save_freq`. "
                f"Received: save_freq={save_freq!r}. "
                "Expected either 'epoch' or a positive integer value."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq if save_freq in ("epoch", False) else int(save_freq)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"
        self._reset()

    def _reset(self):
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = -1
        self._save_at_epoch_end = False
        self._epoch_random_state = None
        self._generation = 0  # of the committed backup
        self._weights_file = None  # its weights file
        self._pending = None  # a backup taken inside an epoch, restored as fit reaches its step

    # -- restoring -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._reset()
        latest, previous = self._training_metadata_path, self._prev_training_metadata_path
        candidates = [p for p in (latest, previous) if os.path.isfile(p)]
        errors = []
        for path in candidates:
            try:
                metadata = self._read_backup(path)
                self._check_fits(metadata)
                self._load_weights(metadata)
            except _UnreadableBackup as e:
                errors.append(str(e))
                continue
            if path != latest:
                why = errors[0] if errors else f"'{latest}' is missing"
                warnings.warn(
                    f"BackupAndRestore: the latest backup can't be restored ({why}). "
                    f"Restoring the previous backup, '{path}'.",
                    stacklevel=2,
                )
                with open(path, "rb") as f:
                    self._write_file(latest, f.read())
            self._restore_state(metadata)
            return
        if errors:
            raise OSError(
                "BackupAndRestore cannot resume training: "
                + "; ".join(errors)
                + ". To start training from scratch instead, delete the directory "
                f"'{self.backup_dir}'. (With `double_checkpoint=True` a previous backup is kept "
                "to fall back on.)"
            )

    def _read_backup(self, path) -> dict:
        """The metadata of the backup committed in ``path``, checked, with its weights file
        (``"weights_path"``) checked against its SHA-256."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise _UnreadableBackup(f"cannot read '{path}' ({e})") from None
        try:
            metadata = json.loads(raw.decode("utf-8"))
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError among them
            raise _UnreadableBackup(f"'{path}' is corrupt: it is not valid JSON ({e})") from None
        if not isinstance(metadata, dict) or metadata.get("format") != _BACKUP_FORMAT:
            raise _UnreadableBackup(
                f"'{path}' is not a numpykeras BackupAndRestore backup (no "
                f"'format': '{_BACKUP_FORMAT}' entry)"
            )
        expected = {
            "version": int,
            "epoch": int,
            "step": int,
            "generation": int,
            "weights_file": str,
            "weights_sha256": str,
            "random_state": dict,
            "epoch_random_state": dict,
            "layer_random_states": dict,
        }
        for key, kind in expected.items():
            if not isinstance(metadata.get(key), kind) or isinstance(metadata.get(key), bool):
                raise _UnreadableBackup(
                    f"'{path}' is corrupt: its entry '{key}' is missing or not a {kind.__name__}"
                )
        if metadata["version"] > _BACKUP_VERSION:
            raise _UnreadableBackup(
                f"'{path}' was written by a newer numpykeras (backup format version "
                f"{metadata['version']}; this version reads up to {_BACKUP_VERSION})"
            )
        if not _CHECKPOINT_NAME.fullmatch(metadata["weights_file"]):
            raise _UnreadableBackup(
                f"'{path}' is corrupt: its weights file name {metadata['weights_file']!r} is "
                "not one this callback writes"
            )
        weights_path = os.path.join(self.backup_dir, metadata["weights_file"])
        try:
            digest = _sha256(weights_path)
        except OSError as e:
            raise _UnreadableBackup(
                f"cannot read the weights file '{weights_path}' of the backup '{path}' ({e})"
            ) from None
        if digest != metadata["weights_sha256"]:
            raise _UnreadableBackup(
                f"the weights file '{weights_path}' is corrupt: its SHA-256 differs from the one "
                f"recorded in '{path}' when it was written"
            )
        metadata = _decode_state(metadata)
        metadata["weights_path"] = weights_path
        metadata["metadata_path"] = path
        return metadata

    def _check_fits(self, metadata):
        """``ValueError`` unless the backup fits the model and the data (nothing restored
        yet)."""
        keys = sorted(key for key, _ in _layer_generators(self.model))
        saved = sorted(metadata["layer_random_states"])
        if keys != saved:
            raise ValueError(
                f"The backup '{metadata['metadata_path']}' was written for another model: its "
                f"layers' random generators are {saved}, this model's are {keys}. Use the "
                "model that was backed up, or delete the directory "
                f"'{self.backup_dir}' to start from scratch."
            )
        steps = (self.params or {}).get("steps")
        step = metadata["step"]
        if step and steps is not None and step >= steps:
            raise ValueError(
                f"The backup '{metadata['metadata_path']}' resumes at step {step} of epoch "
                f"{metadata['epoch'] + 1}, but an epoch of this `fit` has {steps} steps: the "
                "data or `batch_size` differ from the interrupted run's."
            )

    def _load_weights(self, metadata):
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_weights)  # so that its state is loaded
        try:
            model.load_weights(metadata["weights_path"])  # all or nothing
        except OSError as e:
            raise _UnreadableBackup(f"cannot read '{metadata['weights_path']}' ({e})") from None
        except ValueError as e:
            if type(e).__name__ == "CorruptFileError":
                raise _UnreadableBackup(str(e).rstrip(".")) from None
            raise ValueError(
                f"The backup '{metadata['weights_path']}' does not fit this model ({e}). Use "
                f"the model that was backed up, or delete the directory '{self.backup_dir}' to "
                "start from scratch."
            ) from e

    def _restore_state(self, metadata):
        from numpykeras import backend

        generators = dict(_layer_generators(self.model))
        for key, state in metadata["layer_random_states"].items():
            _set_generator_state(generators[key], state)
        epoch, step = metadata["epoch"], metadata["step"]
        self._generation = metadata["generation"]
        self._weights_file = metadata["weights_file"]
        self._current_epoch = epoch
        self._last_batch_seen = step - 1
        self.model._initial_epoch = epoch  # where Keras's fit starts
        if step:
            # fit draws the first `step` batches of the epoch again, from the epoch's random
            # state, without training on them, then calls `_resume`.
            backend.set_random_state(metadata["epoch_random_state"])
            self._pending = metadata
            self.model._resume_at = (step, self._resume)
        else:
            backend.set_random_state(metadata["random_state"])

    def _resume(self, batch):
        """Called by ``fit`` after it drew the batches trained before the backup (``batch``
        is the last of them): the random state and metrics of that moment come back."""
        from numpykeras import backend

        metadata, self._pending = self._pending, None
        saved = metadata.get("metrics") or []
        variables = _metric_variables(self.model)
        builder = getattr(self.model, "_build_compiled_metrics", None)
        if len(variables) < len(saved) and builder is not None and isinstance(batch, tuple):
            builder(batch[0], batch[1] if len(batch) > 1 else None)  # no random draw
            variables = _metric_variables(self.model)
        if [tuple(v.shape) for v in variables] == [np.shape(a) for a in saved]:
            for variable, value in zip(variables, saved):
                variable.assign(value)
        else:
            warnings.warn(
                "BackupAndRestore: the metrics of the interrupted epoch could not be restored "
                f"(the model has {len(variables)} metric variables, the backup "
                f"{len(saved)}); the logs of epoch {metadata['epoch'] + 1} cover only the "
                "batches trained after the restart.",
                stacklevel=2,
            )
        backend.set_random_state(metadata["random_state"])

    # -- backing up ----------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        from numpykeras import backend

        self._current_epoch = epoch
        self._epoch_random_state = backend.get_random_state()

    def on_train_batch_end(self, batch, logs=None):
        if not self._should_save_on_batch(batch):
            return
        steps = (self.params or {}).get("steps")
        if steps is not None and batch + 1 >= steps:
            self._save_at_epoch_end = True  # an epoch always has a step left to resume at
        else:
            self._save_model(self._current_epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = -1
        if self.save_freq == "epoch" or self._save_at_epoch_end:
            self._save_at_epoch_end = False
            self._save_model(epoch + 1, 0)

    def _should_save_on_batch(self, batch):
        """Counts the batches trained (``batch`` may skip some with ``steps_per_execution``)
        and tells whether ``save_freq`` of them have passed since the last backup."""
        if self.save_freq in ("epoch", False):
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self, epoch, step):
        """Backs up the training state: resume at ``step`` of ``epoch``."""
        from numpykeras import backend

        model = self.model
        os.makedirs(self.backup_dir, exist_ok=True)
        generation = self._generation + 1
        weights_file = f"checkpoint-{generation:06d}.weights.h5"
        weights_path = os.path.join(self.backup_dir, weights_file)
        model.save_weights(weights_path, overwrite=True)  # atomic: temp, fsync, rename
        random_state = backend.get_random_state()
        metadata = {
            "format": _BACKUP_FORMAT,
            "version": _BACKUP_VERSION,
            "epoch": epoch,
            "step": step,
            "steps": (self.params or {}).get("steps"),
            "generation": generation,
            "weights_file": weights_file,
            "weights_sha256": _sha256(weights_path),
            "random_state": random_state,
            "epoch_random_state": self._epoch_random_state if step else random_state,
            "layer_random_states": {
                key: _generator_state(g) for key, g in _layer_generators(model)
            },
            "metrics": [v.numpy() for v in _metric_variables(model)] if step else None,
        }
        data = json.dumps(_encode_state(metadata), indent=1).encode("utf-8")
        latest = self._training_metadata_path
        previous_file = self._weights_file
        if self.double_checkpoint and os.path.isfile(latest):
            with open(latest, "rb") as f:
                self._write_file(self._prev_training_metadata_path, f.read())
        self._write_file(latest, data)  # commits the backup
        self._generation, self._weights_file = generation, weights_file
        keep = {weights_file}
        if self.double_checkpoint and previous_file is not None:
            keep.add(previous_file)
        elif not self.double_checkpoint:
            with contextlib.suppress(OSError):
                os.remove(self._prev_training_metadata_path)  # of an earlier run
        self._remove_checkpoints(keep)

    @staticmethod
    def _write_file(path, data):
        from numpykeras.saving.atomic import atomic_write

        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)

    def on_train_end(self, logs=None):
        self._pending = None
        if not self.delete_checkpoint or not os.path.isdir(self.backup_dir):
            return
        for path in (self._training_metadata_path, self._prev_training_metadata_path):
            with contextlib.suppress(OSError):
                os.remove(path)
        self._remove_checkpoints()
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)  # only if empty

    def _remove_checkpoints(self, keep=()):
        """Removes this callback's weights files not in ``keep`` and, when ``keep`` is empty
        (the backup is deleted), the temporary files of its killed saves."""
        try:
            names = os.listdir(self.backup_dir)
        except OSError:
            return
        for name in names:
            ours = _CHECKPOINT_NAME.fullmatch(name) and name not in keep
            ours = ours or (not keep and _BACKUP_TEMPORARY.fullmatch(name))
            if ours:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.backup_dir, name))


from numpykeras.callbacks.tensorboard import TensorBoard  # noqa: E402
