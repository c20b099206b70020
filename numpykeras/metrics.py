"""Keras 3 metrics in NumPy: stateful objects that accumulate over the batches of an epoch.

A metric keeps its state in float32 :class:`~numpykeras.backend.Variable` objects (``total``,
``count``, ``true_positives``, ...) and updates them exactly as Keras does, so that the value
logged after an epoch of batches of unequal sizes equals Keras's.

``resolve_metric`` implements the rule ``compile(metrics=[...])`` uses to turn a user's identifier
(``"accuracy"``, ``"mse"``, a function, an instance) into a metric with the right log name.
"""

from __future__ import annotations

import inspect

import numpy as np

from numpykeras import backend, losses
from numpykeras.losses import (
    _as_float,
    _auto_name,
    _object_name,
    _to_snake_case,
    squeeze_or_expand_to_same_rank,
)
from numpykeras.ops import autodiff
from numpykeras.saving import object_registration

NEG_INF = -1e10


def _divide_no_nan(x, y):
    """``x / y`` with 0 wherever ``y == 0``."""
    x, y = np.asarray(x), np.asarray(y)
    safe = np.where(y == 0, np.ones_like(y), y)
    return np.where(y == 0, np.zeros_like(x * y), x / safe)


def _to_result(x):
    """A Python float for a scalar result, a float32 array otherwise."""
    x = np.asarray(x, dtype=np.float32)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------- base class


class Metric:
    """Base class of stateful metrics, as ``keras.metrics.Metric``.

    Subclasses create their state with :meth:`add_variable` in ``__init__`` and implement
    ``update_state(...)`` and ``result()``.

    Args:
        dtype: dtype of the state and of the computations, ``floatx()`` by default.
        name: name of the metric (the log key in ``fit``).
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = backend.standardize_dtype(dtype)
        self._variables = []

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def variables(self) -> list:
        return list(self._variables)

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """A zero-initialised non-trainable state variable."""
        if initializer not in ("zeros", "Zeros", None):
            raise ValueError(
                f"Metric variables are initialised with zeros. Received: initializer={initializer}"
            )
        variable = backend.Variable(
            np.zeros(shape, dtype=backend.standardize_dtype(dtype or self.dtype)),
            name=name or "variable",
            trainable=False,
            path=f"{self.name}/{name}",
        )
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    def reset_state(self):
        """Set every state variable back to zero."""
        for variable in self._variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


# --------------------------------------------------------------------------- reduction metrics


def _reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype, mask=None):
    """Reduce ``values`` to one value per sample, weighted (Keras's helper of the same name).

    Returns:
        ``(values, sample_weight)``: per-sample weighted values and the per-sample weights
        (``None`` when no weights were given).
    """
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = _as_float(sample_weight, dtype)
        if mask is not None:
            sample_weight = losses._mask_to_weights(mask, sample_weight, dtype, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of the values it is given."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _reduce_to_samplewise_values(values, sample_weight, np.sum, self.dtype)
        self.total.assign_add(np.sum(values, dtype=self.dtype))

    def result(self):
        return _to_result(self.total.value)


class Mean(Metric):
    """Running (weighted) mean: ``total / count`` over everything seen since the last reset.

    Each call adds the per-sample values to ``total`` and the number of samples (or the sum of
    the sample weights) to ``count``, so batches of unequal size are weighted by their size.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None, _mask=None):
        values, sample_weight = _reduce_to_samplewise_values(
            values, sample_weight, np.mean, self.dtype, mask=_mask
        )
        self.total.assign_add(np.sum(values, dtype=self.dtype))
        if sample_weight is not None:
            num_samples = np.sum(sample_weight, dtype=self.dtype)
        elif values.ndim >= 1:
            num_samples = values.shape[0]
        else:
            num_samples = 1
        self.count.assign_add(num_samples)

    def result(self):
        return _to_result(_divide_no_nan(self.total.value, self.count.value))


def _values_and_mask(fn, y_true, y_pred, kwargs):
    """Per-sample values of ``fn`` and, for our loss functions, the mask Keras attaches."""
    impl = losses._IMPLEMENTATIONS.get(fn)
    if impl is not None:
        values, _, mask = impl(y_true, y_pred, **kwargs)
        return values, mask
    return fn(y_true, y_pred, **kwargs), None


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the function, e.g. ``losses.mean_squared_error`` or a user function.
        name: metric name.
        dtype: state dtype.
        **kwargs: passed to ``fn``.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        in_mask = autodiff.get_keras_mask(y_pred)
        values, mask = _values_and_mask(self._fn, y_true, y_pred, self._fn_kwargs)
        if in_mask is not None:
            # An output's mask weights the metric (0 at masked steps), with the sample weights.
            m = np.asarray(in_mask, dtype=self.dtype)
            if sample_weight is None:
                sample_weight = m
            else:
                weights = np.asarray(sample_weight, dtype=self.dtype)
                m, weights = losses.squeeze_or_expand_to_same_rank(m, weights)
                sample_weight = weights * m
        return super().update_state(values, sample_weight=sample_weight, _mask=mask)

    def get_config(self) -> dict:
        config = super().get_config()
        config["fn"] = losses.serialize(self._fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)


class _FnMetric(MeanMetricWrapper):
    """A Keras metric class: a mean of a fixed function; config is name, dtype and its options."""

    _fn_static = None
    _config_keys: tuple = ()

    def __init__(self, name, dtype=None, **kwargs):
        super().__init__(type(self)._fn_static, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        config = {"name": self.name, "dtype": self.dtype}
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# --------------------------------------------------------------------------- accuracy functions


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly, else 0.0."""
    y_pred = _as_float(y_pred)
    y_true = _as_float(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return np.equal(y_true, y_pred).astype(backend.floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold) == y_true``, else 0.0."""
    y_pred = _as_float(y_pred)
    y_true = np.asarray(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = np.greater(y_pred, threshold).astype(y_true.dtype)
    return np.equal(y_true, y_pred).astype(backend.floatx())


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` (one-hot labels), else 0.0."""
    y_pred = _as_float(y_pred)
    y_true = np.argmax(np.asarray(y_true), axis=-1).astype(y_pred.dtype)
    original_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim:
        y_true = np.squeeze(y_true, -1)
        reshape = True
    predicted = np.argmax(y_pred, axis=-1).astype(y_true.dtype)
    matches = np.equal(y_true, predicted).astype(backend.floatx())
    return matches.reshape(original_shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals ``argmax(y_pred)``, else 0.0."""
    y_pred = _as_float(y_pred)
    y_true = _as_float(y_true, y_pred.dtype)
    original_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = np.squeeze(y_true, -1)
        reshape = True
    predicted = np.argmax(y_pred, axis=-1).astype(y_true.dtype)
    matches = np.equal(y_true, predicted).astype(backend.floatx())
    if reshape:
        matches = matches.reshape(original_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


def _in_top_k(targets, predictions, k):
    """``tf.math.in_top_k``: the target's score is among the ``k`` largest (ties count in)."""
    targets = np.asarray(targets, dtype=np.int64)
    num_classes = predictions.shape[-1]
    valid = (targets >= 0) & (targets < num_classes)
    safe = np.where(valid, targets, 0)
    target_score = np.take_along_axis(predictions, safe[:, None], axis=-1)  # (n, 1)
    num_greater = np.sum(predictions > target_score, axis=-1)
    return valid & np.isfinite(target_score[:, 0]) & (num_greater < k)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot label's class is among the ``k`` highest predictions."""
    y_pred = _as_float(y_pred)
    y_true = np.argmax(np.asarray(y_true), axis=-1)
    original_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    y_true = y_true.reshape(-1)
    matches = _in_top_k(y_true, y_pred, k).astype(backend.floatx())
    return matches.reshape(original_shape) if reshape else matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` highest predictions.

    With ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score instead.
    """
    y_pred = _as_float(y_pred) if not from_sorted_ids else np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype if from_sorted_ids else np.int32)
    original_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    y_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = np.any(y_true[:, None] == y_pred[:, :k], axis=1)
    else:
        matches = _in_top_k(y_true, y_pred, k)
    matches = matches.astype(backend.floatx())
    return matches.reshape(original_shape) if reshape else matches


# Loss functions double as metric functions, as in keras.metrics.
mean_squared_error = losses.mean_squared_error
mean_absolute_error = losses.mean_absolute_error
mean_absolute_percentage_error = losses.mean_absolute_percentage_error
mean_squared_logarithmic_error = losses.mean_squared_logarithmic_error
binary_crossentropy = losses.binary_crossentropy
categorical_crossentropy = losses.categorical_crossentropy
sparse_categorical_crossentropy = losses.sparse_categorical_crossentropy
kl_divergence = losses.kl_divergence
poisson = losses.poisson
hinge = losses.hinge
squared_hinge = losses.squared_hinge
categorical_hinge = losses.categorical_hinge
huber = losses.huber
log_cosh = losses.log_cosh


# --------------------------------------------------------------------------- accuracy metrics


class Accuracy(_FnMetric):
    """How often predictions exactly equal labels."""

    _fn_static = staticmethod(accuracy)

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(_FnMetric):
    """How often ``y_pred > threshold`` matches binary labels."""

    _fn_static = staticmethod(binary_accuracy)
    _config_keys = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_FnMetric):
    """How often ``argmax(y_pred)`` matches one-hot labels."""

    _fn_static = staticmethod(categorical_accuracy)

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(_FnMetric):
    """How often ``argmax(y_pred)`` matches integer labels."""

    _fn_static = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class TopKCategoricalAccuracy(_FnMetric):
    """How often the one-hot label is in the top ``k`` predictions."""

    _fn_static = staticmethod(top_k_categorical_accuracy)
    _config_keys = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_FnMetric):
    """How often the integer label is in the top ``k`` predictions."""

    _fn_static = staticmethod(sparse_top_k_categorical_accuracy)
    _config_keys = ("k",)

    def __init__(
        self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False
    ):
        super().__init__(name=name, dtype=dtype, k=k, from_sorted_ids=from_sorted_ids)

    def get_config(self) -> dict:
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


# --------------------------------------------------------------------------- regression metrics


class MeanSquaredError(_FnMetric):
    """Running mean of the mean squared error."""

    _fn_static = staticmethod(losses.mean_squared_error)

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_FnMetric):
    """Running mean of the mean absolute error."""

    _fn_static = staticmethod(losses.mean_absolute_error)

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_FnMetric):
    """Running mean of the mean absolute percentage error."""

    _fn_static = staticmethod(losses.mean_absolute_percentage_error)

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_FnMetric):
    """Running mean of the mean squared logarithmic error."""

    _fn_static = staticmethod(losses.mean_squared_logarithmic_error)

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CosineSimilarity(_FnMetric):
    """Running mean of the cosine similarity between labels and predictions."""

    _config_keys = ("axis",)

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)

    @staticmethod
    def _fn_static(y_true, y_pred, axis=-1):
        return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class LogCoshError(_FnMetric):
    """Running mean of the logarithm of the hyperbolic cosine of the error."""

    _fn_static = staticmethod(losses.log_cosh)

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """Square root of the running mean of squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _as_float(y_true, self.dtype)
        y_pred = _as_float(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        mean = _divide_no_nan(self.total.value, self.count.value)
        return _to_result(np.sqrt(mean))


# --------------------------------------------------------------------------- loss-like metrics


class Hinge(_FnMetric):
    """Running mean of the hinge loss."""

    _fn_static = staticmethod(losses.hinge)

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_FnMetric):
    """Running mean of the squared hinge loss."""

    _fn_static = staticmethod(losses.squared_hinge)

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_FnMetric):
    """Running mean of the categorical hinge loss."""

    _fn_static = staticmethod(losses.categorical_hinge)

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class KLDivergence(_FnMetric):
    """Running mean of the Kullback-Leibler divergence."""

    _fn_static = staticmethod(losses.kl_divergence)

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Poisson(_FnMetric):
    """Running mean of the Poisson loss."""

    _fn_static = staticmethod(losses.poisson)

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryCrossentropy(_FnMetric):
    """Running mean of the binary crossentropy."""

    _fn_static = staticmethod(losses.binary_crossentropy)
    _config_keys = ("from_logits", "label_smoothing")

    def __init__(
        self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0
    ):
        super().__init__(
            name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing
        )


class CategoricalCrossentropy(_FnMetric):
    """Running mean of the categorical crossentropy."""

    _fn_static = staticmethod(losses.categorical_crossentropy)
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        name="categorical_crossentropy",
        dtype=None,
        from_logits=False,
        label_smoothing=0,
        axis=-1,
    ):
        super().__init__(
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_FnMetric):
    """Running mean of the sparse categorical crossentropy."""

    _fn_static = staticmethod(losses.sparse_categorical_crossentropy)
    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        name="sparse_categorical_crossentropy",
        dtype=None,
        from_logits=False,
        ignore_class=None,
        axis=-1,
    ):
        super().__init__(
            name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis
        )


# --------------------------------------------------------------------------- confusion metrics


def _parse_thresholds(thresholds, default):
    if thresholds is not None:
        listed = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
        invalid = [t for t in listed if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
        return listed
    return [default]


def _is_evenly_distributed(thresholds) -> bool:
    """Whether the thresholds are ``i / (n - 1)`` for ``i = 0..n-1`` (up to epsilon)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=backend.epsilon()))


def _filter_top_k(x, k):
    """Keep the ``k`` largest entries of the last axis, set the rest to ``NEG_INF``."""
    # Stable sort on -x picks the lower index first among ties, as tf.math.top_k.
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, x, np.asarray(NEG_INF, dtype=x.dtype)).astype(x.dtype)


def _update_confusion_matrix(
    variables,
    y_true,
    y_pred,
    thresholds,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label=False,
    label_weights=None,
    evenly=False,
):
    """Add this batch's weighted tp/fp/tn/fn counts per threshold to ``variables``.

    ``variables`` maps ``"tp"``/``"fp"``/``"tn"``/``"fn"`` to state variables of shape
    ``(num_thresholds,)`` (``(num_thresholds, num_labels)`` when ``multi_label``). A prediction
    counts as positive when it is strictly greater than the threshold. With evenly spaced
    thresholds the counts are made with Keras's bucketing shortcut, which it uses there.
    """
    dtype = next(iter(variables.values())).dtype
    y_true = _as_float(y_true, dtype)
    y_pred = _as_float(y_pred, dtype)
    with_epsilon = evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    thresholds = np.asarray(thresholds, dtype=dtype)
    num_thresholds = thresholds.shape[0]
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = np.expand_dims(_as_float(sample_weight, dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(
            y_true, sample_weight, expand_rank_1=False
        )
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]

    weights = np.ones(y_pred.shape, dtype=dtype)
    if sample_weight is not None:
        weights = weights * np.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, dtype), y_pred.shape)
    is_true = y_true.astype(bool)

    if evenly:
        # Bucket k holds predictions in (k / (n-1), (k+1) / (n-1)]; a reversed cumulative sum
        # then gives, for each threshold, the weight of predictions above it.
        clipped = np.clip(y_pred, 0, 1)
        buckets = np.ceil(clipped * np.asarray(num_thresholds - 1, dtype)) - 1
        if with_epsilon:
            buckets = np.maximum(buckets, 0)
        buckets = buckets.astype(np.int64)
        true_w = np.where(is_true, weights, 0).astype(dtype)
        false_w = np.where(is_true, 0, weights).astype(dtype)
        if multi_label:
            labels = np.broadcast_to(np.arange(y_pred.shape[-1]), y_pred.shape)
            index = labels * num_thresholds + buckets  # (n, L)
            size, shape = y_pred.shape[-1] * num_thresholds, (y_pred.shape[-1], num_thresholds)
        else:
            index, size, shape = buckets, num_thresholds, (num_thresholds,)
        keep = (buckets >= 0).ravel()  # unsorted_segment_sum drops negative ids
        index = index.ravel()[keep]

        def bucket_sum(w):
            counts = np.bincount(index, weights=w.ravel()[keep], minlength=size)
            counts = counts.reshape(shape)[..., ::-1].cumsum(axis=-1)[..., ::-1]
            return counts.astype(dtype).T  # (T,) or (T, L)

        tp, fp = bucket_sum(true_w), bucket_sum(false_w)
        axis = 0 if multi_label else None
        total_true = np.sum(true_w.reshape(-1, y_pred.shape[-1]) if multi_label else true_w, axis)
        total_false = np.sum(
            false_w.reshape(-1, y_pred.shape[-1]) if multi_label else false_w, axis
        )
        counts = {"tp": tp, "fp": fp, "fn": total_true - tp, "tn": total_false - fp}
    else:
        if multi_label:
            preds, truth, w = y_pred[None], is_true[None], weights[None]
            shape = (num_thresholds,) + (1,) * y_pred.ndim
        else:
            preds, truth, w = y_pred.reshape(1, -1), is_true.reshape(1, -1), weights.reshape(1, -1)
            shape = (num_thresholds, 1)
        pred_pos = preds > thresholds.reshape(shape)  # (T, ...)

        def weighted_count(cond):
            return np.sum(np.where(cond, w, 0), axis=1, dtype=dtype)

        counts = {
            "tp": lambda: weighted_count(truth & pred_pos),
            "fp": lambda: weighted_count(~truth & pred_pos),
            "fn": lambda: weighted_count(truth & ~pred_pos),
            "tn": lambda: weighted_count(~truth & ~pred_pos),
        }
        counts = {key: counts[key]() for key in variables}
    for key, variable in variables.items():
        variable.assign(variable.value + counts[key])


class _ConfusionBase(Metric):
    """Shared set-up of Precision/Recall/TruePositives...: one counter per threshold."""

    _counters: tuple = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._thresholds_distributed_evenly = _is_evenly_distributed(self.thresholds)
        for _, attr in self._counters:
            setattr(self, attr, self.add_variable((len(self.thresholds),), name=attr))

    def update_state(self, y_true, y_pred, sample_weight=None):
        _update_confusion_matrix(
            {counter: getattr(self, attr) for counter, attr in self._counters},
            y_true,
            y_pred,
            thresholds=self.thresholds,
            top_k=self.top_k,
            class_id=self.class_id,
            sample_weight=sample_weight,
            evenly=self._thresholds_distributed_evenly,
        )

    def _finish(self, value):
        value = np.asarray(value, dtype=self.dtype)
        return _to_result(value[0] if len(self.thresholds) == 1 else value)

    def get_config(self) -> dict:
        config = {
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }
        return {**super().get_config(), **config}


class Precision(_ConfusionBase):
    """``true_positives / (true_positives + false_positives)`` at each threshold.

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5; with ``top_k``, any
            prediction in the top k counts as positive).
        top_k: only the ``k`` highest predictions of each sample count as positive.
        class_id: restrict the metric to this class.
        name: metric name.
        dtype: state dtype.
    """

    _counters = (("tp", "true_positives"), ("fp", "false_positives"))

    def result(self):
        tp = self.true_positives.value
        return self._finish(_divide_no_nan(tp, tp + self.false_positives.value))


class Recall(_ConfusionBase):
    """``true_positives / (true_positives + false_negatives)`` at each threshold.

    Arguments as :class:`Precision`.
    """

    _counters = (("tp", "true_positives"), ("fn", "false_negatives"))

    def result(self):
        tp = self.true_positives.value
        return self._finish(_divide_no_nan(tp, tp + self.false_negatives.value))


class _SingleCounter(Metric):
    _counter = ""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._thresholds_distributed_evenly = _is_evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _update_confusion_matrix(
            {self._counter: self.accumulator},
            y_true,
            y_pred,
            thresholds=self.thresholds,
            sample_weight=sample_weight,
            evenly=self._thresholds_distributed_evenly,
        )

    def result(self):
        value = self.accumulator.value
        return _to_result(value[0] if len(self.thresholds) == 1 else value)

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_SingleCounter):
    """Weighted count of true positives (prediction above threshold, label 1)."""

    _counter = "tp"


class FalsePositives(_SingleCounter):
    """Weighted count of false positives (prediction above threshold, label 0)."""

    _counter = "fp"


class TrueNegatives(_SingleCounter):
    """Weighted count of true negatives (prediction not above threshold, label 0)."""

    _counter = "tn"


class FalseNegatives(_SingleCounter):
    """Weighted count of false negatives (prediction not above threshold, label 1)."""

    _counter = "fn"


_AUC_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_AUC_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or PR curve, approximated on ``num_thresholds`` thresholds.

    Args:
        num_thresholds: number of thresholds (> 1), evenly spaced in [0, 1].
        curve: ``"ROC"``, ``"PR"`` or ``"PRGAIN"``.
        summation_method: ``"interpolation"`` (trapezoids; for PR, Davis & Goadrich's
            interpolation), ``"minoring"`` or ``"majoring"``.
        name: metric name.
        dtype: state dtype.
        thresholds: explicit thresholds in [0, 1] instead of ``num_thresholds``.
        multi_label: compute one AUC per label column and average them.
        num_labels: number of labels when ``multi_label`` (else inferred on first update).
        label_weights: per-label weights for the average (or for the counts when not
            ``multi_label``).
        from_logits: apply a sigmoid to predictions first.
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        if str(curve).lower() not in _AUC_CURVES:
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        if summation_method not in _AUC_SUMMATIONS + ("Interpolation", "Majoring", "Minoring"):
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". '
                'Expected values are ["interpolation", "majoring", "minoring"]'
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = _is_evenly_distributed(
                np.array([0.0] + thresholds + [1.0])
            )
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        eps = backend.epsilon()
        self._thresholds = np.array([0.0 - eps] + list(thresholds) + [1.0 + eps])
        self.curve = _AUC_CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = (
            None if label_weights is None else np.asarray(label_weights, dtype=self.dtype)
        )
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    "`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{len(shape)}. Full shape received for `y_pred`: {shape}"
                )
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self._variables = []
        self.true_positives = self.add_variable(variable_shape, name="true_positives")
        self.false_positives = self.add_variable(variable_shape, name="false_positives")
        self.true_negatives = self.add_variable(variable_shape, name="true_negatives")
        self.false_negatives = self.add_variable(variable_shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_float(y_pred, self.dtype)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = losses._sigmoid(y_pred)
        _update_confusion_matrix(
            {
                "tp": self.true_positives,
                "tn": self.true_negatives,
                "fp": self.false_positives,
                "fn": self.false_negatives,
            },
            y_true,
            y_pred,
            self._thresholds,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            evenly=self._thresholds_distributed_evenly,
        )

    def _average_labels(self, by_threshold):
        """Sum over thresholds, then (multi-label) average the per-label areas."""
        if not self.multi_label:
            return np.sum(by_threshold)
        by_label = np.sum(by_threshold, axis=0)
        if self.label_weights is None:
            return np.mean(by_label)
        return _divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights))

    def _interpolate_pr_auc(self):
        """PR-AUC with Davis & Goadrich's interpolation between thresholds."""
        n = self.num_thresholds
        tp, fp, fn = (
            self.true_positives.value,
            self.false_positives.value,
            self.false_negatives.value,
        )
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both_positive = (p[: n - 1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(
            both_positive, _divide_no_nan(p[: n - 1], np.maximum(p[1:], 0)), np.ones_like(p[1:])
        )
        with np.errstate(divide="ignore"):
            log_ratio = np.log(safe_p_ratio)
        increment = _divide_no_nan(
            prec_slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0)
        )
        return self._average_labels(increment)

    def result(self):
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _to_result(self._interpolate_pr_auc())
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        n = self.num_thresholds
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scaling = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scaling * _divide_no_nan(fp, tp)
            recall_gain = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = np.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[: n - 1], y[1:])
        else:
            heights = np.maximum(y[: n - 1], y[1:])
        return _to_result(self._average_labels((x[: n - 1] - x[1:]) * heights))

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        label_weights = self.label_weights
        config = {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if label_weights is None else label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return {**super().get_config(), **config}


# --------------------------------------------------------------------------- get / serialize

_ALL_CLASSES = (
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    MeanSquaredError,
    RootMeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCoshError,
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _ALL_CLASSES}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in _ALL_CLASSES})
ALL_OBJECTS_DICT.update(
    {
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "MAPE": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "MSLE": MeanSquaredLogarithmicError,
    }
)

# Functions a serialized MeanMetricWrapper may name.
_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
    )
}


def _lookup(name, custom_objects=None):
    module_objects = {**losses.ALL_OBJECTS_DICT, **_FUNCTIONS, **ALL_OBJECTS_DICT}
    return object_registration.get_registered_object(
        name, custom_objects=custom_objects, module_objects=module_objects
    )


def serialize(metric):
    """Keras 3 config dict of a ``Metric`` instance or a metric function."""
    if metric is None:
        return None
    if isinstance(metric, Metric):
        builtin = ALL_OBJECTS_DICT.get(type(metric).__name__) is type(metric)
        return {
            "module": "keras.metrics" if builtin else type(metric).__module__,
            "class_name": type(metric).__name__,
            "config": metric.get_config(),
            "registered_name": (
                None if builtin else object_registration.get_registered_name(type(metric))
            ),
        }
    return losses.serialize(metric)


def deserialize(config, custom_objects=None):
    """A ``Metric`` instance or metric function from a config dict or a name."""
    if isinstance(config, str):
        obj = _lookup(config, custom_objects)
        if obj is None:
            raise ValueError(f"Could not interpret metric identifier: {config}")
        return obj
    if isinstance(config, dict):
        class_name = config.get("class_name")
        inner = config.get("config")
        if class_name == "function":
            obj = _lookup(inner, custom_objects)
            if obj is None:
                raise ValueError(
                    f"Could not locate function '{inner}'. Make sure custom functions are "
                    "decorated with `@keras.saving.register_keras_serializable()`. "
                    f"Full object config: {config}"
                )
            return obj
        cls = _lookup(config.get("registered_name") or class_name, custom_objects)
        if cls is None:
            cls = _lookup(class_name, custom_objects)
        if not (isinstance(cls, type) and issubclass(cls, Metric)):
            raise ValueError(
                f"Could not locate class '{class_name}'. Make sure custom classes are decorated "
                f"with `@keras.saving.register_keras_serializable()`. Full object config: {config}"
            )
        return cls.from_config(inner or {})
    raise ValueError(f"Could not interpret metric identifier: {config}")


def get(identifier):
    """A metric instance or function from a name, config dict, class, function or instance."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret metric identifier: {identifier}")


def resolve_metric(identifier, y_true, y_pred, loss=None) -> Metric:
    """The metric ``compile(metrics=[identifier])`` builds, as Keras 3's ``get_metric``.

    ``"accuracy"``/``"acc"`` (any case) become :class:`BinaryAccuracy` when ``y_pred``'s last
    dimension is 1, else :class:`SparseCategoricalAccuracy` when ``y_true`` has fewer dimensions
    than ``y_pred`` (or a last dimension of 1 while ``y_pred``'s is larger), else
    :class:`CategoricalAccuracy`. Any other identifier goes through :func:`get`; functions are
    wrapped in :class:`MeanMetricWrapper`. The metric is named after the string the user gave
    (so ``"mse"`` logs as ``"mse"``), or after the object's own name.

    Args:
        identifier: a string, function, ``Metric`` instance or config dict.
        y_true: the targets (an array or anything with ``.shape``) of the first batch.
        y_pred: the model's predictions for it.
        loss: the compiled loss. Keras 3 does not look at it for this choice (Keras 2 did);
            accepted so callers can pass it, and ignored to match Keras 3.

    Returns:
        A :class:`Metric`.
    """
    del loss  # Keras 3 decides from the shapes alone.
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if str(identifier).lower() not in ("accuracy", "acc"):
        metric_obj = get(identifier)
    else:
        is_binary, is_sparse = losses.is_binary_or_sparse_categorical(y_true, y_pred)
        if is_binary:
            metric_obj = BinaryAccuracy(name=str(identifier))
        elif is_sparse:
            metric_obj = SparseCategoricalAccuracy(name=str(identifier))
        else:
            metric_obj = CategoricalAccuracy(name=str(identifier))
    name = identifier if isinstance(identifier, str) else _object_name(metric_obj)
    if not isinstance(metric_obj, Metric):
        metric_obj = MeanMetricWrapper(metric_obj)
    metric_obj.name = name
    return metric_obj
