"""``Model``: a layer made of layers, with ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``
and saving.

Training a batch is: ``y_pred, tape = model.forward(x, training=True)``; the loss gives ``dL/dy_pred``
(or ``dL/dlogits`` when the model ends in a softmax/sigmoid and the loss is a crossentropy, as Keras
does); ``model.backward`` walks the tape back to a gradient for every trainable weight; the optimizer
applies them.
"""

from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import Layer

# --------------------------------------------------------------------------- data helpers


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            out.extend(_flatten(s))
        return out
    if isinstance(structure, dict):
        out = []
        for k in structure:
            out.extend(_flatten(structure[k]))
        return out
    return [structure]


def _map(fn, structure):
    if structure is None:
        return None
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    return fn(structure)


def _to_array(x, dtype=None):
    if x is None:
        return None
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    arr = np.asarray(x)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float64 or arr.dtype.kind in "iub":
        return arr.astype(backend.floatx(), copy=False) if arr.dtype.kind == "f" else arr
    return arr


def _num_samples(structure, what="x"):
    sizes = {len(a) for a in _flatten(structure) if a is not None}
    if len(sizes) > 1:
        raise ValueError(f"All arrays in `{what}` must have the same number of samples: {sizes}")
    return sizes.pop() if sizes else 0


def _check_cardinality(x, y, sample_weight):
    nx = _num_samples(x, "x")
    parts = [("x", nx)]
    if y is not None:
        parts.append(("y", _num_samples(y, "y")))
    if sample_weight is not None:
        parts.append(("sample_weight", _num_samples(sample_weight, "sample_weight")))
    if len({n for _, n in parts}) > 1:
        msg = "Data cardinality is ambiguous. Make sure all arrays contain the same number of samples."
        for name, n in parts:
            msg += f"'{name}' sizes: {n}\n"
        raise ValueError(msg)
    return nx


def _take(structure, index):
    return _map(lambda a: a[index], structure)


def _concat_outputs(batches):
    first = batches[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_concat_outputs([b[i] for b in batches]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concat_outputs([b[k] for b in batches]) for k in first}
    return np.concatenate(batches, axis=0)


def _float_logs(logs):
    return {k: float(v) for k, v in logs.items()}


# --------------------------------------------------------------------------- the Model class


class Model(Layer):
    """A model groups layers into an object with training and inference features.

    ``Model(inputs, outputs)`` builds a Functional model (a graph of layers); ``Sequential`` is the
    simplest case. Compile with an optimizer, a loss and metrics, then ``fit``, ``evaluate`` and
    ``predict`` on NumPy arrays.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from numpykeras.models.functional import Functional

            # Python then runs Functional.__init__ with the same arguments.
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, trainable=True, name=None, **kwargs):
        if args or "inputs" in kwargs:
            raise TypeError("Pass `inputs` and `outputs` to `Model` to build a Functional model.")
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._metrics = []
        self._weighted_metrics = []
        self._metric_specs = None
        self._loss_tracker = None

    # -- weights ------------------------------------------------------------------------------
    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by ``index`` (in ``model.layers`` order)."""
        if index is not None and name is not None:
            raise ValueError(
                f"Provide only a layer name or a layer index. Received: index={index}, name={name}."
            )
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _check_inputs(self, inputs):
        layers = getattr(self, "_layers", None)
        from numpykeras.layers.input_layer import InputLayer

        if layers and isinstance(layers[0], InputLayer) and hasattr(self, "_check_model_input"):
            if isinstance(inputs, np.ndarray):
                self._check_model_input(inputs)

    # -- compile ------------------------------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configures the model for training (Keras's signature and defaults)."""
        from numpykeras import losses as losses_module
        from numpykeras import metrics as metrics_module
        from numpykeras import optimizers

        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._loss_obj = self._resolve_loss(loss, losses_module)
        self.loss_weights = loss_weights
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(
                "Type of `metrics` argument not understood. Expected a list or dictionary, "
                f"found: {type(metrics).__name__}"
            )
        for identifier in _flatten(list(metrics or [])) + _flatten(list(weighted_metrics or [])):
            if isinstance(identifier, str) and identifier not in (
                "accuracy",
                "acc",
                "crossentropy",
                "ce",
            ):
                metrics_module.get(identifier)  # raises for unknown names now, not mid-fit
        self._metric_specs = (list(metrics or []), list(weighted_metrics or []))
        self._metrics = []
        self._weighted_metrics = []
        self._metrics_resolved = False
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
        }

    @staticmethod
    def _resolve_loss(loss, losses_module):
        """Checks the loss identifier now; the Loss object is made on the first data."""
        if loss is None:
            return None
        if isinstance(loss, (list, dict)):
            raise ValueError(
                "numpykeras supports a single loss for single-output models; received "
                f"{type(loss).__name__}: {loss}"
            )
        if not (isinstance(loss, str) and loss.lower() in ("crossentropy", "ce")):
            losses_module.get(loss)  # raises for unknown names
        return _PendingLoss(loss)

    def _ensure_loss(self, y, y_pred):
        if isinstance(self._loss_obj, _PendingLoss):
            from numpykeras import losses as losses_module

            self._loss_obj = losses_module.resolve_loss(self._loss_obj.identifier, y, y_pred)

    def _require_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")
        if self._loss_obj is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")

    def _resolve_metrics(self, y, y_pred):
        if self._metrics_resolved:
            return
        from numpykeras import metrics as metrics_module

        metrics, weighted = self._metric_specs
        self._metrics = [
            metrics_module.resolve_metric(m, y, y_pred, loss=self._loss_obj) for m in metrics
        ]
        self._weighted_metrics = [
            metrics_module.resolve_metric(m, y, y_pred, loss=self._loss_obj) for m in weighted
        ]
        self._metrics_resolved = True

    @property
    def metrics(self) -> list:
        out = []
        if self._loss_tracker is not None:
            out.append(self._loss_tracker)
        return out + list(self._metrics) + list(self._weighted_metrics)

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _metric_logs(self, prefix=""):
        # Fix (h9): log keys as Keras's CompileMetrics.result() names them: a repeated metric name
        # gets "_1", "_2", ...; a weighted metric whose name is taken is "weighted_<name>".
        logs = {}
        if self._loss_tracker is not None:
            logs[prefix + self._loss_tracker.name] = float(self._loss_tracker.result())
        taken = {}
        for weighted, group in ((False, self._metrics), (True, self._weighted_metrics)):
            for m in group:
                name = m.name
                if name in taken and weighted:
                    name = f"weighted_{m.name}"
                if name not in taken:
                    taken[name] = 1
                else:
                    taken[name] += 1
                    name = f"{name}_{taken[name] - 1}"
                logs[prefix + name] = float(m.result())
        return dict(sorted(logs.items()))

    def _logs_in_keras_order(self, logs):
        """``logs`` as a list (a scalar if single) in the order Keras's ``evaluate`` returns."""
        # Keras lists the metric objects' own names first (a name repeated in `metrics` and
        # `weighted_metrics` is listed twice), then any remaining log keys in sorted order.
        names = [m.name for m in self.metrics]
        values = [logs[n] for n in names if n in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # -- one step -----------------------------------------------------------------------------
    def _regularization(self):
        """The weights' regularization penalties: (total, {variable: gradient})."""
        total, grads = 0.0, {}
        for v in self.trainable_weights:
            reg = getattr(v, "regularizer", None)
            if reg is not None:
                total += float(reg(v.value))
                grads[v] = np.asarray(reg.gradient(v.value), dtype=v.dtype)
        return total, grads

    def _loss_and_gradients(self, x, y, sample_weight):
        """Forward, loss and backward for one batch: ``(loss, y_pred, {variable: gradient})``."""
        y_pred, tape = self.forward(x, training=True)
        fusable = self.output_logits(tape)  # (logits, "softmax" | "sigmoid") or None
        fused = fusable is not None and self._loss_obj.supports_logits
        if fused:
            loss, dy = self._loss_obj.value_and_grad(
                y, y_pred, sample_weight=sample_weight, logits=fusable[0], activation=fusable[1]
            )
        else:
            loss, dy = self._loss_obj.value_and_grad(y, y_pred, sample_weight=sample_weight)
        if fused:
            _, grads = self.backward_from_logits(dy, tape, need_dx=False)
        else:
            _, grads = self.backward(dy, tape, need_dx=False)
        reg_loss, reg_grads = self._regularization()
        for v, g in reg_grads.items():
            grads[v] = grads[v] + g if v in grads else g
        return float(loss) + reg_loss, y_pred, grads

    def _apply_gradients(self, grads):
        # The optimizer applies each variable's constraint after its update, as Keras does.
        trainable = self.trainable_weights
        self.optimizer.apply([grads.get(v) for v in trainable], trainable)

    def _train_batch(self, x, y, sample_weight):
        loss, y_pred, grads = self._loss_and_gradients(x, y, sample_weight)
        if not np.isfinite(loss):
            # Keep the weights as they are: TerminateOnNaN keeps the last good weights.
            self._last_loss_nonfinite = True
        self._apply_gradients(grads)
        self._update_metrics(loss, y, y_pred, sample_weight, _num_samples(x))
        return loss

    def _update_metrics(self, loss, y, y_pred, sample_weight, batch_size):
        self._resolve_metrics(y, y_pred)
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        for m in self._metrics:
            m.update_state(y, y_pred)
        for m in self._weighted_metrics:
            m.update_state(y, y_pred, sample_weight=sample_weight)

    def _test_batch(self, x, y, sample_weight):
        y_pred = self(x, training=False)
        self._ensure_loss(y, y_pred)
        loss = float(self._loss_obj(y, y_pred, sample_weight=sample_weight))
        reg_loss, _ = self._regularization()
        loss += reg_loss
        self._update_metrics(loss, y, y_pred, sample_weight, _num_samples(x))
        return loss

    # -- data preparation ---------------------------------------------------------------------
    def _prepare_xy(self, x, y, sample_weight, class_weight=None):
        x = _map(_to_array, x)
        y = _map(_to_array, y)
        if sample_weight is not None:
            sample_weight = _to_array(sample_weight, backend.floatx())
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            sample_weight = _class_weights_to_sample_weights(y, class_weight)
        n = _check_cardinality(x, y, sample_weight)
        return x, y, sample_weight, n

    def _validate_targets(self, x, y):
        """Check labels against the loss on a tiny forward pass, before any weight changes."""
        if y is None:
            raise ValueError(
                "Target data is missing. Your model has `loss`: "
                f"{self.loss}, and therefore expects target data to be passed in `fit()`."
            )
        probe = self(_take(x, slice(0, 1)), training=False)
        self._ensure_loss(y, probe)
        if isinstance(y, np.ndarray) and isinstance(probe, np.ndarray):
            # The loss checks label ranges and shapes on every label against a stand-in prediction.
            stand_in = np.broadcast_to(probe, (len(y),) + probe.shape[1:])
            self._loss_obj(y, stand_in)

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Trains the model for a fixed number of epochs; returns a ``History``."""
        from numpykeras import callbacks as callbacks_module

        self._require_compiled()
        if isinstance(x, tuple) and y is None and len(x) in (2, 3):
            x, y, *rest = x
            sample_weight = rest[0] if rest else sample_weight
        x, y, sample_weight, n = self._prepare_xy(x, y, sample_weight, class_weight)
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError(
                    "`validation_split` must be a float between 0 and 1. "
                    f"Received: validation_split={validation_split}"
                )
            split_at = int(math.floor(n * (1.0 - validation_split)))
            val = (_take(x, slice(split_at, None)), _take(y, slice(split_at, None)))
            val_sw = None if sample_weight is None else sample_weight[split_at:]
            x, y = _take(x, slice(0, split_at)), _take(y, slice(0, split_at))
            sample_weight = None if sample_weight is None else sample_weight[:split_at]
            n = split_at
            validation_data = val + (val_sw,)
        if validation_data is not None:
            vx, vy, vsw = _unpack_validation(validation_data)
            vx, vy, vsw, _ = self._prepare_xy(vx, vy, vsw)
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size}")
        if n == 0:
            raise ValueError("Expected input data to be non-empty.")
        self._maybe_build(_first_shape(x))
        self._validate_targets(x, y)
        if validation_data is not None:
            self._validate_targets(vx, vy)

        steps = steps_per_epoch or math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        self.stop_training = False
        self._last_good_weights = None
        callback_list.on_train_begin()
        logs = {}
        epoch = initial_epoch
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            order = backend.global_generator().permutation(n) if shuffle else np.arange(n)
            for step in range(steps):
                start = (step * batch_size) % n
                index = order[start : start + batch_size]
                callback_list.on_train_batch_begin(step)
                xb, yb = _take(x, index), _take(y, index)
                swb = None if sample_weight is None else sample_weight[index]
                guarded = None
                if _nan_guard(callback_list):
                    # Fix (h9): keep the optimizer's state (slots, step count) too, or the NaN
                    # step leaves it NaN and any later training makes the weights NaN.
                    if not self.optimizer.built:
                        self.optimizer.build(self.trainable_weights)
                    guarded = list(self.weights) + list(self.optimizer.variables)
                backup = None if guarded is None else [v.numpy() for v in guarded]
                loss = self._train_batch(xb, yb, swb)
                if backup is not None and not np.isfinite(loss):
                    for v, value in zip(guarded, backup):
                        v.assign(value)
                logs = self._metric_logs()
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self.evaluate(
                    vx,
                    vy,
                    sample_weight=vsw,
                    batch_size=validation_batch_size or batch_size,
                    steps=validation_steps,
                    verbose=0,
                    return_dict=True,
                    _internal=True,
                )
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        callback_list.on_train_end(logs)
        return self.history

    # -- evaluate / predict -------------------------------------------------------------------
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        _internal=False,
        **kwargs,
    ):
        """Returns the loss and metrics on ``(x, y)`` (a scalar, a list, or a dict)."""
        from numpykeras import callbacks as callbacks_module

        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        self._require_compiled()
        x, y, sample_weight, n = self._prepare_xy(x, y, sample_weight)
        batch_size = 32 if batch_size is None else int(batch_size)
        self._maybe_build(_first_shape(x))
        if not _internal:
            self._validate_targets(x, y)
        total_steps = steps or math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=1,
            steps=total_steps,
        )
        # Validation inside fit must not reset the training metrics' running logs.
        saved_states = None
        if _internal:
            saved_states = [copy.deepcopy(m.__dict__) for m in self.metrics]
        self.reset_metrics()
        callback_list.on_test_begin()
        logs = {}
        for step in range(total_steps):
            index = slice(step * batch_size, min((step + 1) * batch_size, n))
            callback_list.on_test_batch_begin(step)
            swb = None if sample_weight is None else sample_weight[index]
            self._test_batch(_take(x, index), _take(y, index), swb)
            logs = self._metric_logs()
            callback_list.on_test_batch_end(step, logs)
        callback_list.on_test_end(logs)
        logs = self._metric_logs()
        if saved_states is not None:
            for m, state in zip(self.metrics, saved_states):
                m.__dict__.update(state)
        if return_dict:
            return logs
        return self._logs_in_keras_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Runs inference in batches; returns float32 NumPy arrays."""
        from numpykeras import callbacks as callbacks_module

        if isinstance(x, tuple) and len(x) in (2, 3) and not isinstance(x[0], (int, float)):
            x = x[0] if len(x) else x
        x = _map(_to_array, x)
        n = _num_samples(x)
        batch_size = 32 if batch_size is None else int(batch_size)
        total_steps = steps or max(1, math.ceil(n / batch_size))
        verbose = 1 if verbose == "auto" else int(verbose)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=1,
            steps=total_steps,
        )
        callback_list.on_predict_begin()
        outputs = []
        for step in range(total_steps):
            callback_list.on_predict_batch_begin(step)
            index = slice(step * batch_size, min((step + 1) * batch_size, n))
            batch_out = self(_take(x, index), training=False)
            outputs.append(batch_out)
            callback_list.on_predict_batch_end(step, {"outputs": batch_out})
        callback_list.on_predict_end()
        return _concat_outputs(outputs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient update on one batch; returns the loss and metrics (as ``evaluate``)."""
        self._require_compiled()
        x, y, sample_weight, _ = self._prepare_xy(x, y, sample_weight, class_weight)
        self._maybe_build(_first_shape(x))
        self._validate_targets(x, y)
        self.reset_metrics()
        self._train_batch(x, y, sample_weight)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch, without updating weights."""
        self._require_compiled()
        x, y, sample_weight, _ = self._prepare_xy(x, y, sample_weight)
        self._maybe_build(_first_shape(x))
        self.reset_metrics()
        self._test_batch(x, y, sample_weight)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x):
        """Inference on one batch; returns float32 NumPy arrays."""
        return self(_map(_to_array, x), training=False)

    def _batch_result(self, return_dict):
        logs = self._metric_logs()
        return logs if return_dict else self._logs_in_keras_order(logs)

    # -- summary ------------------------------------------------------------------------------
    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Prints a table of the layers, their output shapes and parameter counts (Keras 3 layout)."""
        from numpykeras.models.summary import print_summary

        print_summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            show_trainable=show_trainable,
        )

    # -- saving -------------------------------------------------------------------------------
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the model: ``.keras`` (Keras 3 zip) or ``.h5``/``.hdf5`` (legacy HDF5)."""
        from numpykeras import saving

        saving.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves the weights: ``.weights.h5`` (Keras 3) or ``.h5`` (legacy layout)."""
        from numpykeras import saving

        saving.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, **kwargs):
        """Loads weights saved by Keras or numpykeras; on any error the weights are unchanged."""
        from numpykeras import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name, **kwargs)

    def to_json(self, **kwargs) -> str:
        """The model's architecture as Keras JSON."""
        from numpykeras.saving.serialization import serialize_keras_object

        return json.dumps(serialize_keras_object(self), default=_json_default, **kwargs)

    def get_compile_config(self):
        return copy.deepcopy(self._compile_config) if self.compiled else None

    def _summary_rows(self):
        return [(layer, None, None) for layer in self.layers]


class _PendingLoss:
    """A compiled loss identifier waiting for the first data to pick its exact form."""

    def __init__(self, identifier):
        self.identifier = identifier


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _first_shape(x):
    first = _flatten(x)[0]
    return (None,) + tuple(np.shape(first)[1:])


def _unpack_validation(validation_data):
    if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "When passing a `validation_data` argument, it must contain either 2 items (x_val, "
            f"y_val), or 3 items (x_val, y_val, val_sample_weights). Received: {validation_data}"
        )
    vx, vy = validation_data[0], validation_data[1]
    vsw = validation_data[2] if len(validation_data) == 3 else None
    return vx, vy, vsw


def _class_weights_to_sample_weights(y, class_weight):
    if isinstance(y, (list, tuple, dict)):
        raise ValueError("`class_weight` is only supported for models with a single output.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        classes = np.argmax(y, axis=1)
    else:
        classes = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    max_class = max(class_weight) if class_weight else -1
    table = np.ones(max(max_class, classes.max(initial=0)) + 1, dtype=backend.floatx())
    for cls, weight in class_weight.items():
        table[int(cls)] = weight
    return table[classes]


def _nan_guard(callback_list) -> bool:
    from numpykeras.callbacks import TerminateOnNaN

    return any(isinstance(c, TerminateOnNaN) for c in callback_list.callbacks)


warnings.filterwarnings("default", module="numpykeras")
