"""``Trainer``: ``compile``, ``fit``, ``evaluate``, ``predict`` and the steps they run
(``train_step``, ``test_step``, ``predict_step``), as Keras 3's ``keras.src.trainers.trainer``.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import (
    has_activity_regularizers,
    penalty_and_gradient,
    unknown_batch,
    without_activity_losses,
)
from numpykeras.ops._parallel import single_threaded_blas
from numpykeras.trainers.compile_utils import (
    CompileSpec,
    _check_loss_identifier,
    _class_weights_to_sample_weights,
    _leaves,
    _metric_leaves,
    _OutputLayout,
    _short_repr,
    _single_loss_weight,
)
from numpykeras.trainers.data_adapters import (
    is_generator,
    is_py_dataset,
    is_tf_dataset,
    is_torch_dataloader,
)
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter
from numpykeras.trainers.epoch_iterator import EpochIterator

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


def _is_array_like(value) -> bool:
    """What Keras's array data adapter slices: arrays, tensors (``.numpy()``), objects with
    ``__array__`` (pandas DataFrame and Series among them)."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple, dict, str, bytes, numbers.Number)):
        return False
    return hasattr(value, "__array__") or callable(getattr(value, "numpy", None))


def _standardize_data(value, name, dtype=None):
    """``x``, ``y`` or ``sample_weight`` as NumPy arrays, in the same list/tuple/dict structure.

    Leaves may be arrays or array-likes (see :func:`_is_array_like`) or ``None``; as in Keras 3,
    anything else (a nested list of numbers, a string, a scalar) raises Keras's "Unrecognized
    data type" ``ValueError``, and so does an array without a batch axis.
    """
    if value is None:
        return None

    def convert(leaf):
        if leaf is None:
            return None
        if not _is_array_like(leaf):
            hint = ""
            if isinstance(value, (list, tuple)) and isinstance(leaf, numbers.Number):
                hint = (
                    f" A Python list of numbers is not accepted: pass `np.asarray({name})` "
                    "for one array, or a list of arrays for several inputs or outputs."
                )
            raise ValueError(
                f"Unrecognized data type: {name}={_short_repr(value)} (of type {type(value)})."
                + hint
            )
        arr = _to_array(leaf, dtype)
        if arr.ndim == 0:
            raise ValueError(
                f"Argument `{name}` must be an array with a batch axis (one entry per sample). "
                f"Received a scalar: {name}={_short_repr(value)} (of type {type(leaf)})"
            )
        return arr

    if isinstance(value, (list, tuple, dict)):
        return _map(convert, value)
    return convert(value)


def _positive_int(value, name, default=None, minimum=1, optional=True):
    """``value`` as an int, checked to be an integer >= ``minimum`` (``None`` gives ``default``
    when ``optional``)."""
    if value is None and optional:
        return default
    kind = "a positive integer" if minimum == 1 else "a non-negative integer"
    kind += " (or None)" if optional else ""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Argument `{name}` must be {kind}. Received: {name}="
            f"{value!r} (of type {type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be {kind}. Received: {name}={value}")
    return int(value)


def _verbosity(verbose) -> int:
    """``verbose`` (``"auto"``, or a number: 0 silent, 1 progress bar, 2 one line per epoch)."""
    if verbose == "auto":
        return 1
    if not isinstance(verbose, (int, np.integer)):
        raise ValueError(
            "Argument `verbose` must be 'auto', 0, 1 or 2. "
            f"Received: verbose={verbose!r} (of type {type(verbose).__name__})"
        )
    return int(verbose)


def _check_not_empty(n, x, where):
    """A clear error for data with 0 samples (instead of a failure deep inside a layer).

    ``where`` names the call, e.g. ``"`predict()`"``.
    """
    if n == 0:
        shapes = [tuple(a.shape) for a in _flatten(x) if a is not None]
        if not shapes:
            raise ValueError(f"{where} received no input data: x={x!r}.")
        raise ValueError(
            f"{where} received no data: the input has 0 samples (x shape"
            f"{'s' if len(shapes) > 1 else ''} {', '.join(str(s) for s in shapes)}). "
            "Pass at least one sample."
        )


def _num_samples(structure, what="x"):
    sizes = {len(a) for a in _flatten(structure) if a is not None}
    if len(sizes) > 1:
        raise ValueError(f"All arrays in `{what}` must have the same number of samples: {sizes}")
    return sizes.pop() if sizes else 0


def _check_cardinality(x, y, sample_weight):
    """The number of samples; ``ValueError`` (Keras's wording) unless every array agrees."""
    parts = []
    for name, structure in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        if _has_arrays(structure):
            parts.append((name, [len(a) for a in _flatten(structure) if a is not None]))
    sizes = {n for _, part in parts for n in part}
    if len(sizes) > 1:
        msg = (
            "Data cardinality is ambiguous. Make sure all arrays contain the same number of "
            "samples."
        )
        for name, part in parts:
            msg += f"'{name}' sizes: {', '.join(str(n) for n in part)}\n"
        raise ValueError(msg)
    return sizes.pop() if sizes else 0


def _has_arrays(structure) -> bool:
    return structure is not None and any(a is not None for a in _flatten(structure))


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
    """A step's logs as Python floats (Keras's ``pythonify_logs``); non-scalars stay arrays."""
    if not isinstance(logs, dict):
        raise TypeError(
            "`train_step`, `test_step` and the `metrics` results must give a dict of logs "
            f"(metric name -> value). Received: {type(logs).__name__}"
        )
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_float_logs(v))
            continue
        value = np.asarray(_values(v))
        out[k] = float(value) if value.ndim == 0 else value
    return out


def _is_dataset(x) -> bool:
    """A source of batches (not arrays): a generator, PyDataset, tf.data or torch DataLoader."""
    return (
        is_generator(x)
        or is_py_dataset(x)
        or is_tf_dataset(x)
        or is_torch_dataloader(x)
        or isinstance(x, DataAdapter)
    )


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (Keras's ``unpack_x_y_sample_weight``)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
        f"found: {data}"
    )


def _pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch a step receives: ``x`` alone (``(x,)`` if ``x`` is a list or tuple),
    ``(x, y)`` or ``(x, y, sample_weight)``, as Keras's ``pack_x_y_sample_weight``."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _values(structure):
    """``structure`` with recorded Tensors replaced by their NumPy values."""
    from numpykeras.ops.autodiff import Tensor

    if type(structure) is Tensor:
        return structure.value
    if isinstance(structure, (list, tuple)):
        return type(structure)(_values(v) for v in structure)
    if isinstance(structure, dict):
        return {k: _values(v) for k, v in structure.items()}
    return structure


def _batch_size_of(x) -> int:
    leaves = _flatten(x)
    for leaf in leaves:
        if leaf is not None and np.ndim(leaf):
            return int(np.shape(leaf)[0])
    return 1


class _values_swapped:
    """Gives ``variables`` the ``values`` (arrays or Tensors) for a ``with`` block, then puts
    their own arrays back."""

    def __init__(self, variables, values):
        self.variables = list(variables)
        self.values = list(values)

    def __enter__(self):
        self.saved = [v._value for v in self.variables]
        for v, value in zip(self.variables, self.values):
            array = np.asarray(_values(value), dtype=v.dtype)
            if array.shape != v.shape:
                raise ValueError(
                    f"The value given for variable '{v.path}' must have its shape {v.shape}. "
                    f"Received: shape={array.shape}"
                )
            v._value = array.copy()
        return self

    def __exit__(self, *exc):
        for v, saved in zip(self.variables, self.saved):
            v._value = saved
        return False


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


def _single_output_data(value, name):
    """``y`` or ``sample_weight`` of a single-output model: a one-element list, tuple is its
    element, as in Keras."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                f"The model has a single output, but `{name}` is a {type(value).__name__} of "
                f"{len(value)} arrays. Pass one array (or a list holding one array)."
            )
        return value[0]
    if isinstance(value, dict):
        raise ValueError(
            f"The model has a single output, but `{name}` is a dict with keys "
            f"{list(value)}. Pass one array."
        )
    return value


def _nan_guard(callback_list) -> bool:
    from numpykeras.callbacks import TerminateOnNaN

    return any(isinstance(c, TerminateOnNaN) for c in callback_list.callbacks)


class Trainer:
    """The training half of ``Model``: compile, the fit/evaluate/predict loops and their steps."""

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
        """Configures the model for training (Keras's signature and defaults).

        Losses, loss weights and metrics are matched to the model's outputs by one
        ``CompileSpec`` (``trainers/compile_utils.py``), a single output being a structure of one.
        """
        from numpykeras import losses as losses_module
        from numpykeras import metrics as metrics_module
        from numpykeras import optimizers

        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self.loss_weights = loss_weights
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(
                "Type of `metrics` argument not understood. Expected a list or dictionary, "
                f"found: {type(metrics).__name__}"
            )
        if loss_weights is not None and (
            not isinstance(loss_weights, (list, tuple, dict, numbers.Real))
            or isinstance(loss_weights, bool)
        ):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a list, "
                "tuple, or dict (multiple output case). Received instead: "
                f"loss_weights={loss_weights} of type {type(loss_weights)}"
            )
        for identifier in _metric_leaves(metrics) + _metric_leaves(weighted_metrics):
            if isinstance(identifier, str) and identifier not in (
                "accuracy",
                "acc",
                "crossentropy",
                "ce",
            ):
                metrics_module.get(identifier)  # raises for unknown names now, not mid-fit
        layout = self._output_layout()
        if len(layout.names) == 1 and not layout.is_dict:
            loss = self._single_output_loss(loss)
            _check_loss_identifier(loss, losses_module, single=True)
            _single_loss_weight(loss_weights)  # raises now for weights that can't fit one loss
        else:
            for identifier in _leaves(loss):
                _check_loss_identifier(identifier, losses_module)
        # Losses, weights and metrics are matched to the outputs on the first data, as Keras's
        # CompileLoss / CompileMetrics do.
        self._spec = CompileSpec(layout, loss, loss_weights, metrics, weighted_metrics)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer,
            "loss": self.loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
        }

    def _output_layout(self):
        """The ``_OutputLayout`` of the model's outputs: their names, and whether they are a dict
        (one output, named ``"output"`` when the model does not know it, is a layout of one)."""
        outputs = getattr(self, "_outputs", None)
        struct = getattr(self, "_output_struct", None)
        if outputs is None:
            return _OutputLayout(names=["output"], prefixes=["output"], is_dict=False, struct=None)
        names = list(self.output_names)
        keys = sorted(struct) if isinstance(struct, dict) else None
        return _OutputLayout(
            names=names,
            prefixes=list(keys) if keys is not None else names,
            is_dict=keys is not None,
            struct=struct,
        )

    def _single_output_loss(self, loss):
        """A one-element list, or a dict keyed by the output's name, gives its only loss."""
        if isinstance(loss, (list, tuple)) and len(loss) == 1:
            return loss[0]
        if isinstance(loss, dict) and "class_name" not in loss:
            names = list(getattr(self, "output_names", None) or [])
            if len(names) == 1 and set(loss) == set(names):
                return loss[names[0]]
            raise ValueError(
                f"Expected keys {names} in loss dict, but found loss.keys()={list(loss.keys())}"
            )
        return loss

    def _require_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")
        if not self._has_compiled_loss() and self._trains_by_kernel() and not self._custom_steps():
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")

    def _custom_steps(self) -> bool:
        """Whether a subclass overrides how a batch is trained or its loss computed."""
        cls = type(self)
        return (
            cls.train_step is not Trainer.train_step
            or cls.test_step is not Trainer.test_step
            or cls.compute_loss is not Trainer.compute_loss
        )

    def _has_compiled_loss(self) -> bool:
        return self.compiled and self._spec is not None and self._spec.has_loss()

    # -- metrics ------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, then the compiled metrics (then, for several losses, the
        per-output loss trackers), then metrics assigned to the model's attributes and those of
        its layers (not of nested models): Keras's order."""
        out = []
        if self._loss_tracker is not None:
            out.append(self._loss_tracker)
        if self._spec is not None:
            out += self._spec.metric_objects()
        return out + self._tracked_metric_objects()

    def _tracked_metric_objects(self) -> list:
        out = list(self.__dict__.get("_tracked_metrics", ()))
        for layer in self._sublayers():
            if not isinstance(layer, Trainer):
                out.extend(layer.metrics)
        return out

    def get_metrics_result(self) -> dict:
        """``{name: value}`` of every metric in ``self.metrics`` (Python floats)."""
        if type(self).metrics is not Trainer.metrics:  # overridden: the listed metrics
            logs = {}
            for m in self.metrics:
                result = m.result()
                if isinstance(result, dict):
                    logs.update(result)
                else:
                    logs[m.name] = result
            return _float_logs(logs)
        logs = self._metric_logs()
        for m in self._tracked_metric_objects():
            logs[m.name] = float(np.asarray(m.result()))
        return logs

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _metric_logs(self):
        """The loss and compiled metrics under Keras's log keys, sorted."""
        logs = {}
        if self._loss_tracker is not None:
            logs[self._loss_tracker.name] = float(self._loss_tracker.result())
        if self._spec is not None:
            logs.update(self._spec.logs())
        return dict(sorted(logs.items()))

    def _logs_in_keras_order(self, logs):
        """``logs`` as a list (a scalar if single) in the order Keras's ``evaluate`` returns."""
        # Keras lists the metric objects' own names first (a name repeated in `metrics` and
        # `weighted_metrics` is listed twice), then any remaining log keys in sorted order.
        names = [m.name for m in self.metrics]
        values = [logs[n] for n in names if n in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # -- the fused step -----------------------------------------------------------------------
    def _regularization(self):
        """The weights' regularization penalties: (total, {variable: gradient}); a custom
        regularizer (any callable) is differentiated through its ops (``penalty_and_gradient``)."""
        total, grads = 0.0, {}
        for v in self.trainable_weights:
            reg = getattr(v, "regularizer", None)
            if reg is not None:
                penalty, grads[v] = penalty_and_gradient(reg, v)
                total += float(penalty)
        return total, grads

    def _fused_step_ok(self) -> bool:
        """Whether the default steps may run the fused path: a graph of layers with backward
        kernels, the compiled loss and nothing overriding how the loss is computed."""
        return (
            self._trains_by_kernel()
            and type(self).compute_loss is Trainer.compute_loss
            and self._has_compiled_loss()
            and self._spec.losses_have_kernels()
        )

    def _train_batch(self, x, y, sample_weight):
        """The default ``train_step`` of a graph of kernel layers; returns the loss."""
        loss, values, ys, preds, sample_weights, grads = self._loss_and_gradients(
            x, y, sample_weight
        )
        # The optimizer applies each variable's constraint after its update, as Keras does.
        trainable = self.trainable_weights
        self.optimizer.apply([grads.get(v) for v in trainable], trainable)
        batch_size = _num_samples(x)
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        self._spec.update_metrics(values, ys, preds, sample_weights, batch_size)
        return loss

    def _loss_and_gradients(self, x, y, sample_weight):
        """The model's own forward and backward passes: each output's loss gives
        ``dL_i/dy_i`` (or ``dL_i/dlogits_i`` for a crossentropy after a softmax/sigmoid, as
        Keras's TensorFlow backend computes it) scaled by its loss weight, and one backward pass
        takes them all.

        Returns:
            ``(loss, per-output losses, targets, predictions, sample weights, grads)``, the
            middle four as lists in output order, ``grads`` a dict from variable to gradient.
        """
        spec = self._spec
        ys, sample_weights = spec.flat_targets(y), spec.flat_sample_weights(sample_weight, y)
        y_pred, tape = self.forward(x, training=True)
        preds = spec.flat_preds(y_pred)
        spec.build(ys, preds)
        fusable = self.outputs_logits(tape)  # per output: (logits, activation) or None
        total = 0.0
        values = [None] * spec.n
        dys = [None] * spec.n
        dlogits = [None] * spec.n
        for i, (loss_obj, weight) in enumerate(zip(spec.losses, spec.weights)):
            if loss_obj is None:
                continue
            fused = fusable[i] is not None and loss_obj.supports_logits
            logits, activation = fusable[i] if fused else (None, None)
            value, grad = loss_obj.value_and_grad(
                ys[i],
                preds[i],
                sample_weight=sample_weights[i],
                logits=logits,
                activation=activation,
            )
            values[i] = float(value)
            scale = 1.0 if weight is None else weight
            total += values[i] * scale
            grad = grad * np.asarray(scale, dtype=grad.dtype)  # dL/dy_i = w_i * dL_i/dy_i
            if fused:
                dlogits[i] = grad
            else:
                dys[i] = grad
        grads = self.backward_outputs(dys, dlogits, tape)
        reg_loss, reg_grads = self._regularization()
        for v, g in reg_grads.items():
            grads[v] = grads[v] + g if v in grads else g
        # The layers' activity penalties (their gradients went into `backward` via the tape).
        total += getattr(tape, "activity_loss", 0.0)
        return total + reg_loss, values, ys, preds, sample_weights, grads

    def _outputs_and_logits(self, x):
        """Inference outputs, and per output the logits of a final softmax/sigmoid
        (``(logits, activation)``) or ``None``. Subclasses that can see their last layers
        override this; by default there are none."""
        y_pred = self(x, training=False)
        return y_pred, [None] * len(self._spec.flat_preds(y_pred))

    def _test_batch(self, x, y, sample_weight):
        """The default ``test_step`` of a graph of kernel layers: crossentropies computed from
        the logits of a final softmax/sigmoid, as in training (Keras's TensorFlow backend does
        so in ``fit`` and ``evaluate`` alike); returns the loss."""
        spec = self._spec
        ys, sample_weights = spec.flat_targets(y), spec.flat_sample_weights(sample_weight, y)
        wants_logits = not spec.built or any(
            loss is not None and loss.supports_logits for loss in spec.losses
        )
        activity = 0.0
        if has_activity_regularizers(self):
            # the training forward at inference: the layers' activity penalties (Keras adds
            # them in evaluate too) come with it, and nothing is kept on the layers
            y_pred, tape = self.forward(x, training=False)
            logits = self.outputs_logits(tape) if wants_logits else None
            activity = tape.activity_loss
        elif wants_logits:
            y_pred, logits = self._outputs_and_logits(x)
        else:
            y_pred, logits = self(x, training=False), None
        preds = spec.flat_preds(y_pred)
        spec.build(ys, preds)
        values, loss = spec.loss_values(ys, preds, sample_weights, logits)
        loss += self._regularization()[0] + activity
        batch_size = _num_samples(x)
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        spec.update_metrics(values, ys, preds, sample_weights, batch_size)
        return loss

    # -- the steps, as Keras 3's Trainer --------------------------------------------------------
    def train_step(self, data):
        """One training step on a batch ``data`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``):
        forward on a ``GradientTape``, ``compute_loss``, gradients, ``optimizer.apply``; returns
        ``compute_metrics``'s logs. Override it for GANs and other custom training."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if self._fused_step_ok():
            self._last_batch_loss = self._train_batch(x, y, sample_weight)
            return self.get_metrics_result()
        from numpykeras.ops.autodiff import GradientTape, unwrap

        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
        loss_value = float(np.asarray(unwrap(loss)))
        self._last_batch_loss = loss_value
        if self._loss_tracker is not None:
            self._loss_tracker.update_state(loss_value, sample_weight=_batch_size_of(x))
        trainable = self.trainable_weights
        if trainable:
            grads = tape.gradient(loss, trainable)
            if np.isfinite(loss_value):
                self.optimizer.apply(grads, trainable)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, _values(y_pred), sample_weight)

    def test_step(self, data):
        """One evaluation step on a batch: ``compute_loss`` on the inference outputs, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if self._fused_step_ok():
            self._test_batch(x, y, sample_weight)
            return self.get_metrics_result()
        y_pred = self(x, training=False)
        loss = self.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        if self._loss_tracker is not None:
            self._loss_tracker.update_state(
                float(np.asarray(_values(loss))), sample_weight=_batch_size_of(x)
            )
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for a batch (``training=False``)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss (with its loss weights) plus ``self.losses`` (``add_loss`` and the
        weights' regularization penalties), as Keras 3's ``compute_loss``; differentiable under
        a ``GradientTape``."""
        from numpykeras import ops

        del x, training
        losses = []
        if self._has_compiled_loss():
            losses.append(self._compiled_loss(y, y_pred, sample_weight))
        for extra in self.losses:
            losses.append(
                ops.cast(extra, "float32") if np.ndim(_values(extra)) == 0 else ops.sum(extra)
            )
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total

    def _compiled_loss(self, y, y_pred, sample_weight):
        """Each output's compiled loss times its weight, summed (recorded on a tape)."""
        spec = self._spec
        preds = spec.flat_preds(y_pred)
        ys, sample_weights = spec.flat_targets(y), spec.flat_sample_weights(sample_weight, y)
        spec.build(ys, [_values(p) for p in preds])
        total, values = None, [None] * spec.n
        for i, (loss_obj, weight) in enumerate(zip(spec.losses, spec.weights)):
            if loss_obj is None:
                continue
            value = loss_obj(ys[i], preds[i], sample_weight=sample_weights[i])
            values[i] = float(np.asarray(_values(value)))
            if weight is not None:
                value = value * np.float32(weight)
            total = value if total is None else total + value
        self._last_output_losses = values
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with a batch; returns ``get_metrics_result()``."""
        del x
        spec = self._spec
        if self.compiled and spec is not None and y is not None:
            preds = spec.flat_preds(_values(y_pred))
            ys, sample_weights = spec.flat_targets(y), spec.flat_sample_weights(sample_weight, y)
            spec.build(ys, preds)
            values = getattr(self, "_last_output_losses", None) or [None] * spec.n
            spec.update_metrics(values, ys, preds, sample_weights, _batch_size_of(preds))
        return self.get_metrics_result()

    def compute_loss_and_updates(
        self,
        trainable_variables,
        non_trainable_variables,
        metrics_variables=None,
        x=None,
        y=None,
        sample_weight=None,
        training=False,
        optimizer_variables=None,
    ):
        """Keras 3's stateless loss: ``(loss, (y_pred, non_trainable_variables))`` for the given
        variable values, leaving the model's own values as they were."""
        y_pred, non_trainable = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training
        )
        with (
            _values_swapped(self.trainable_variables, trainable_variables),
            _values_swapped(self.non_trainable_variables, non_trainable),
        ):
            loss = self.compute_loss(x, y, y_pred, sample_weight, training)
        return loss, (y_pred, non_trainable)

    def stateless_call(
        self, trainable_variables, non_trainable_variables, *args, return_losses=False, **kwargs
    ):
        """Calls the model with the given variable values (lists in ``trainable_variables`` /
        ``non_trainable_variables`` order) instead of its own; returns ``(outputs,
        non_trainable_variables)`` after the call (updated moving statistics in training), and
        the losses with ``return_losses=True``. The model's variables are left unchanged."""
        if not self.built:
            raise ValueError(
                f"To call stateless_call, {type(self).__name__} must be built (i.e. its variables "
                "must have been already created). You can build it by calling it on some data."
            )
        trainable, non_trainable = self.trainable_variables, self.non_trainable_variables
        for given, own, what in (
            (trainable_variables, trainable, "trainable_variables"),
            (non_trainable_variables, non_trainable, "non_trainable_variables"),
        ):
            if len(given) != len(own):
                raise ValueError(
                    f"Argument `{what}` must be a list of tensors corresponding 1:1 to "
                    f"{type(self).__name__}().{what}. Received list with length {len(given)}, "
                    f"but expected {len(own)} variables."
                )
        with (
            _values_swapped(trainable, trainable_variables),
            _values_swapped(non_trainable, non_trainable_variables),
        ):
            outputs = self(*args, **kwargs)
            new_non_trainable = [v.value.copy() for v in non_trainable]
            losses = self.losses if return_losses else None
        if return_losses:
            return outputs, new_non_trainable, losses
        return outputs, new_non_trainable

    def _input_count(self):
        """The number of inputs the model takes, or ``None`` if it is not known (a subclassed
        model)."""
        return None

    def _standardize_x(self, x):
        """``x`` as arrays; a one-element list or tuple given to a single-input model is that
        element (Keras accepts ``[x]`` wherever it accepts ``x``)."""
        x = _standardize_data(x, "x")
        if isinstance(x, (list, tuple)) and self._input_count() == 1:
            if len(x) != 1:
                raise ValueError(
                    f'Model "{self.name}" has 1 input, but `x` is a {type(x).__name__} of '
                    f"{len(x)} arrays. Pass one array (or a list holding one array)."
                )
            x = x[0]
        return x

    def _prepare_xy(self, x, y, sample_weight, class_weight=None, where="`fit()`"):
        """``(x, y, sample_weight, number of samples)`` as arrays, checked, with the model built.

        ``where`` names the call in the error for empty data.
        """
        x = self._standardize_x(x)
        if not _has_arrays(x):
            raise ValueError(f"{where} received no input data: x={x!r}.")
        if class_weight is not None and not self._spec.single:
            raise ValueError("`class_weight` is only supported for Models with a single output.")
        y, sample_weight = self._standardize_targets(y, sample_weight)
        n = _check_cardinality(x, y, sample_weight)
        _check_not_empty(n, x, where)
        self._maybe_build(_first_shape(x))
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            sample_weight = _class_weights_to_sample_weights(y, class_weight, self._class_count(x))
        return x, y, sample_weight, n

    def _class_count(self, x):
        """The number of classes ``class_weight`` keys may name: the size of the output's last
        axis, or 2 when it is 1 (one sigmoid unit)."""
        units = None
        try:
            outputs = self.outputs
            if len(outputs) == 1 and outputs[0].shape:
                units = outputs[0].shape[-1]
        except (AttributeError, TypeError):
            pass
        if units is None:
            probe = self._probe(x)
            units = np.shape(probe)[-1] if np.ndim(probe) > 1 else 1
        return 2 if units == 1 else int(units)

    def _probe(self, x):
        """The model's outputs for the first sample of ``x`` (inference mode). The probe
        stands in for Keras's symbolic build, so layers it builds record batch size ``None``."""
        with unknown_batch():
            return self(_take(x, slice(0, 1)), training=False)

    def _validate_targets(self, x, y, sample_weight=None):
        """Check labels (and sample weights) against the loss on a tiny forward pass, before
        any weight changes."""
        if not self._has_compiled_loss() or self._custom_steps():
            self._build_compiled_metrics(x, y)
            return  # the steps decide what the data means
        if y is None:
            raise ValueError(
                "Target data is missing. Your model has `loss`: "
                f"{self.loss}, and therefore expects target data to be passed in `fit()`."
            )
        probe = self._probe(x)
        spec = self._spec
        spec.check_targets(
            spec.flat_targets(y), spec.flat_preds(probe), spec.flat_sample_weights(sample_weight, y)
        )

    def _build_compiled_metrics(self, x, y):
        """Creates the compiled metric objects from the first data when a custom step will
        update them, so ``self.metrics`` lists them from the first step (Keras's compiled
        metrics container builds itself on its first update). Targets that don't fit the
        outputs (a step giving ``y`` its own meaning) leave them to the step."""
        spec = self._spec
        if spec is None or spec.built or y is None:
            return
        _, _, metric_ids, weighted_ids = spec.structure()
        if not any(metric_ids) and not any(weighted_ids):
            return
        try:
            ys = spec.flat_targets(y)
            spec.build(ys, spec.flat_preds(_values(self._probe(x))))
        except (ValueError, TypeError, IndexError, NotImplementedError):
            spec.built = False

    def _standardize_targets(self, y, sample_weight):
        """``y`` and ``sample_weight`` as arrays in the structure the model's outputs have (a
        single output's ``[y]`` is ``y``, as in Keras); checked against that structure."""
        y = _standardize_data(y, "y")
        sample_weight = _standardize_data(sample_weight, "sample_weight", backend.floatx())
        spec = self._spec
        if spec is None or spec.single:
            return _single_output_data(y, "y"), _single_output_data(sample_weight, "sample_weight")
        if y is not None:
            spec.flat_sample_weights(sample_weight, y)  # raises for a structure that doesn't fit
        return y, sample_weight

    @single_threaded_blas
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
        """Trains the model for a fixed number of epochs; returns a ``History``.

        ``x`` may be arrays (or nested lists/dicts of them, with ``y`` and ``sample_weight``),
        a Python generator, a ``keras.utils.PyDataset``, a ``tf.data.Dataset`` or a
        ``torch.utils.data.DataLoader`` yielding ``x``, ``(x, y)`` or ``(x, y, sample_weight)``
        batches (``trainers/data_adapters``).
        """
        from numpykeras import callbacks as callbacks_module

        self._require_compiled()
        batch_size = _positive_int(batch_size, "batch_size")
        epochs = _positive_int(epochs, "epochs", minimum=0, optional=False)
        initial_epoch = _positive_int(initial_epoch, "initial_epoch", minimum=0, optional=False)
        validation_batch_size = _positive_int(validation_batch_size, "validation_batch_size")
        steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = _positive_int(validation_steps, "validation_steps")
        if _is_dataset(x):
            if validation_split:
                raise ValueError(
                    "`validation_split` is only supported for Tensors or NumPy arrays. "
                    f"Found: x={type(x).__name__}"
                )
            iterator = EpochIterator(
                x,
                y,
                sample_weight,
                steps_per_epoch=steps_per_epoch,
                shuffle=shuffle,
                class_weight=class_weight,
            )
            self._prepare_from_batch(iterator.first_batch())
            streamed = True
        else:
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
                if split_at == 0:
                    raise ValueError(
                        f"`validation_split={validation_split}` leaves no training data: "
                        f"{n} sample(s) in total, 0 for training. Use a smaller "
                        "`validation_split`."
                    )
                val = (_take(x, slice(split_at, None)), _take(y, slice(split_at, None)))
                val_sw = _take(sample_weight, slice(split_at, None))
                x, y = _take(x, slice(0, split_at)), _take(y, slice(0, split_at))
                sample_weight = _take(sample_weight, slice(0, split_at))
                validation_data = val + (val_sw,)
            self._validate_targets(x, y, sample_weight)
            iterator = EpochIterator(
                x,
                y,
                sample_weight,
                batch_size=batch_size,
                steps_per_epoch=steps_per_epoch,
                shuffle=shuffle,
            )
            streamed = False
        val_x = val_y = val_sw = None
        if validation_data is not None:
            if _is_dataset(validation_data):
                val_x = validation_data
            else:
                val_x, val_y, val_sw = _unpack_validation(validation_data)
                val_x, val_y, val_sw, _ = self._prepare_xy(
                    val_x, val_y, val_sw, where="The `validation_data` of `fit()`"
                )
                self._validate_targets(val_x, val_y, val_sw)

        verbose = _verbosity(verbose)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=iterator.num_batches,
        )
        self.stop_training = False
        self._last_good_weights = None
        # Set by `callbacks.BackupAndRestore.on_train_begin`: the epoch to resume at (Keras's
        # `_initial_epoch`) and, numpykeras only, `(step, hook)`: resume at `step` of that epoch.
        self._initial_epoch, self._resume_at = None, None
        callback_list.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch
        resume_step, resume_hook = self._resume_at or (0, None)
        self._initial_epoch, self._resume_at = None, None
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            for step, batch in iterator.enumerate_epoch():
                if step < resume_step:
                    # Trained before the backup: drawn (same shuffle) but not trained; after
                    # the last of them the hook restores the state saved at that point.
                    if step == resume_step - 1:
                        if streamed:
                            batch = self._standardize_batch(*unpack_x_y_sample_weight(batch))
                        resume_hook(batch)
                    continue
                callback_list.on_train_batch_begin(step)
                if streamed:
                    batch = self._standardize_batch(*unpack_x_y_sample_weight(batch))
                guarded = None
                if _nan_guard(callback_list):
                    # Keep the optimizer's state (slots, step count) too, or the NaN step leaves
                    # it NaN and any later training makes the weights NaN.
                    if not self.optimizer.built:
                        self.optimizer.build(self.trainable_weights)
                    guarded = list(self.weights) + list(self.optimizer.variables)
                backup = None if guarded is None else [v.numpy() for v in guarded]
                self._last_batch_loss = None
                logs = _float_logs(self.train_step(_pack_x_y_sample_weight(*batch)))
                loss = self._last_batch_loss
                if loss is None:  # a custom train_step: its reported loss
                    loss = logs.get("loss", 0.0)
                if backup is not None and not np.isfinite(loss):
                    for v, value in zip(guarded, backup):
                        v.assign(value)
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            resume_step = 0
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self.evaluate(
                    val_x,
                    val_y,
                    sample_weight=val_sw,
                    batch_size=validation_batch_size or batch_size or 32,
                    steps=validation_steps,
                    verbose=0,
                    callbacks=callback_list,
                    return_dict=True,
                    _internal=True,
                )
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        iterator.reset()
        callback_list.on_train_end(logs)
        return self.history

    def _standardize_batch(self, x, y=None, sample_weight=None):
        """One batch from a generator or dataset as the steps take it: ``(x, y, sample_weight)``
        as arrays, the targets of several outputs as a list in output order."""
        x = self._standardize_x(x)
        y, sample_weight = self._standardize_targets(y, sample_weight)
        return x, y, sample_weight

    def _prepare_from_batch(self, batch):
        """Builds the model and checks the targets on the first batch of a generator or
        dataset (before any weight changes)."""
        if batch is None:
            return
        x, y, sample_weight = self._standardize_batch(*unpack_x_y_sample_weight(batch))
        self._maybe_build(_first_shape(x))
        if y is not None or not self._custom_steps():
            self._validate_targets(x, y, sample_weight)

    # -- evaluate / predict -------------------------------------------------------------------
    @single_threaded_blas
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
        """Returns the loss and metrics on ``(x, y)`` (a scalar, a list, or a dict); ``x`` as
        in ``fit``."""
        from numpykeras import callbacks as callbacks_module

        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        self._require_compiled()
        batch_size = _positive_int(batch_size, "batch_size")
        steps = _positive_int(steps, "steps")
        streamed = _is_dataset(x)
        if streamed:
            iterator = EpochIterator(x, y, sample_weight, steps_per_epoch=steps)
            if not _internal:
                self._prepare_from_batch(iterator.first_batch())
        else:
            x, y, sample_weight, n = self._prepare_xy(x, y, sample_weight, where="`evaluate()`")
            if not _internal:
                self._validate_targets(x, y, sample_weight)
            iterator = EpochIterator(
                x, y, sample_weight, batch_size=batch_size or 32, steps_per_epoch=steps
            )
        verbose = _verbosity(verbose)
        if isinstance(callbacks, callbacks_module.CallbackList):
            # fit's own list: its callbacks see the validation's on_test_* hooks, as in Keras.
            callback_list = callbacks
        else:
            callback_list = callbacks_module.CallbackList(
                callbacks,
                add_progbar=verbose != 0,
                model=self,
                verbose=verbose,
                epochs=1,
                steps=iterator.num_batches,
            )
        # Validation inside fit must not reset the training metrics' running logs.
        saved_states = None
        if _internal:
            saved_states = [copy.deepcopy(m.__dict__) for m in self.metrics]
        self.reset_metrics()
        callback_list.on_test_begin()
        logs = {}
        for step, batch in iterator.enumerate_epoch():
            callback_list.on_test_batch_begin(step)
            if streamed:
                batch = self._standardize_batch(*unpack_x_y_sample_weight(batch))
            logs = _float_logs(self.test_step(_pack_x_y_sample_weight(*batch)))
            callback_list.on_test_batch_end(step, logs)
        iterator.reset()
        callback_list.on_test_end(logs)
        if saved_states is not None:
            for m, state in zip(self.metrics, saved_states):
                m.__dict__.update(state)
        if return_dict:
            return logs
        return self._logs_in_keras_order(logs)

    @single_threaded_blas
    @without_activity_losses
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Runs inference in batches; returns float32 NumPy arrays. ``x`` as in ``fit`` (the
        targets of ``(x, y)`` batches are ignored)."""
        from numpykeras import callbacks as callbacks_module

        batch_size = _positive_int(batch_size, "batch_size")
        steps = _positive_int(steps, "steps")
        streamed = _is_dataset(x)
        if streamed:
            iterator = EpochIterator(x, steps_per_epoch=steps)
        else:
            if (
                isinstance(x, tuple)
                and len(x) in (2, 3)
                and self._input_count() == 1
                and _is_array_like(x[0])
            ):
                x = x[0]  # (x, y) or (x, y, sample_weight): Keras predicts from x
            x = self._standardize_x(x)
            n = _num_samples(x)
            _check_not_empty(n, x, "`predict()`")
            iterator = EpochIterator(x, batch_size=batch_size or 32, steps_per_epoch=steps)
        verbose = _verbosity(verbose)
        callback_list = callbacks_module.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=1,
            steps=iterator.num_batches,
        )
        callback_list.on_predict_begin()
        outputs = []
        for step, batch in iterator.enumerate_epoch():
            callback_list.on_predict_batch_begin(step)
            xb, _, _ = unpack_x_y_sample_weight(batch)
            if streamed:
                xb = self._standardize_x(xb)
            batch_out = _values(self.predict_step(_pack_x_y_sample_weight(xb)))
            outputs.append(batch_out)
            callback_list.on_predict_batch_end(step, {"outputs": batch_out})
        iterator.reset()
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError(
                "Unexpected result of `predict_function` (Empty batch_outputs). Please use "
                "`Model.compile(..., run_eagerly=True)`, or `tf.config.run_functions_eagerly("
                "True)` for more information of where went wrong, or file a issue/bug to "
                "`keras`."
            )
        return _concat_outputs(outputs)

    @single_threaded_blas
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient update on one batch; returns the loss and metrics (as ``evaluate``)."""
        self._require_compiled()
        x, y, sample_weight, _ = self._prepare_xy(
            x, y, sample_weight, class_weight, where="`train_on_batch()`"
        )
        self._validate_targets(x, y, sample_weight)
        self.reset_metrics()
        logs = _float_logs(self.train_step(_pack_x_y_sample_weight(x, y, sample_weight)))
        return self._batch_result(logs, return_dict)

    @single_threaded_blas
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch, without updating weights."""
        self._require_compiled()
        x, y, sample_weight, _ = self._prepare_xy(x, y, sample_weight, where="`test_on_batch()`")
        self.reset_metrics()
        logs = _float_logs(self.test_step(_pack_x_y_sample_weight(x, y, sample_weight)))
        return self._batch_result(logs, return_dict)

    @single_threaded_blas
    @without_activity_losses
    def predict_on_batch(self, x):
        """Inference on one batch; returns float32 NumPy arrays."""
        return _values(self.predict_step(_pack_x_y_sample_weight(self._standardize_x(x))))

    def _batch_result(self, logs, return_dict):
        return logs if return_dict else self._logs_in_keras_order(logs)

    def get_compile_config(self):
        return copy.deepcopy(self._compile_config) if self.compiled else None
