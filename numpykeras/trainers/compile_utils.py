"""What ``compile`` configures: the losses, loss weights and metrics matched to a model's outputs
(Keras's ``CompileLoss`` / ``CompileMetrics``), and class weights turned into sample weights."""

from __future__ import annotations

import copy
import functools
import math
import numbers

import numpy as np

from numpykeras import backend


def _short_repr(value, limit=200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_loss_identifier(loss, losses_module, single=False) -> None:
    """Checks a compiled loss identifier now (unknown names raise at ``compile``); the Loss
    object itself is made on the first data, which decides its exact form."""
    if loss is None:
        return
    if single and (
        isinstance(loss, (list, tuple)) or (isinstance(loss, dict) and "class_name" not in loss)
    ):
        raise ValueError(
            "A single-output model takes one loss (or a list with one loss); received "
            f"{type(loss).__name__}: {loss}"
        )
    if not (isinstance(loss, str) and loss.lower() in ("crossentropy", "ce")):
        losses_module.get(loss)  # raises for unknown names


def _class_index(key):
    """A ``class_weight`` key as an int, or ``None`` if it is not an integer."""
    if isinstance(key, (bool, np.bool_)):
        return None
    if isinstance(key, (int, np.integer)):
        return int(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)  # {1.0: w} matches label 1 in Keras's dict lookup too
    return None


def _class_weights_to_sample_weights(y, class_weight, num_classes):
    """One weight per sample from ``class_weight`` (``{class index: weight}``); a class not in
    it weighs 1, as in Keras. Keys are checked against the model's ``num_classes``."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            "Argument `class_weight` must be a dict mapping class indices to weights. "
            f"Received: class_weight={_short_repr(class_weight)} (of type "
            f"{type(class_weight).__name__})"
        )
    bad = [
        k for k in class_weight if _class_index(k) is None or not 0 <= _class_index(k) < num_classes
    ]
    if bad:
        raise ValueError(
            f"Invalid `class_weight` key(s) {bad}: keys must be class indices, integers in "
            f"[0, {num_classes}) for this model (its output has "
            f"{1 if num_classes == 2 else num_classes} unit(s)). "
            f"Received: class_weight={_short_repr(class_weight)}"
        )
    table = np.ones(num_classes, dtype=backend.floatx())
    for key, weight in class_weight.items():
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real):
            raise TypeError(
                f"`class_weight` values must be numbers. Received: class_weight[{key!r}]="
                f"{weight!r} (of type {type(weight).__name__})"
            )
        if not math.isfinite(weight):
            raise ValueError(
                f"`class_weight` values must be finite. Received: class_weight[{key!r}]={weight}"
            )
        table[_class_index(key)] = weight
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        classes = np.argmax(y, axis=1)
    else:
        classes = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    inside = (classes >= 0) & (classes < num_classes)
    # Labels outside the classes weigh 1 (the loss reports them).
    return np.where(inside, table[np.where(inside, classes, 0)], 1).astype(backend.floatx())


def _is_structure_dict(value) -> bool:
    """A dict of per-output entries (not a serialized object's ``{"class_name": ...}`` config)."""
    return isinstance(value, dict) and "class_name" not in value


def _leaves(structure):
    """Leaves of nested lists/tuples/dicts; dict entries in sorted key order (as Keras's
    ``tree.flatten``); a serialized object's config dict is one leaf."""
    if structure is None:
        return []
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            out.extend(_leaves(s))
        return out
    if _is_structure_dict(structure):
        out = []
        for k in sorted(structure):
            out.extend(_leaves(structure[k]))
        return out
    return [structure]


def _metric_leaves(metrics) -> list:
    """All metric identifiers of a ``metrics=`` argument, flattened (``None`` entries dropped)."""
    return [m for m in _leaves(metrics) if m is not None]


def _single_loss_weight(loss_weights):
    """The weight of a single-output model's loss: a number, or a one-element list/dict."""
    if loss_weights is None:
        return None
    leaves = _leaves(loss_weights)
    if len(leaves) != 1:
        raise ValueError(
            "`loss_weights` must match the number of losses, got 1 losses and "
            f"{len(leaves)} weights."
        )
    return None if leaves[0] is None else float(leaves[0])


def _stars(structure):
    """``structure`` with every leaf replaced by ``"*"`` (for error messages, as Keras)."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_stars(s) for s in structure)
    if isinstance(structure, dict):
        return {k: _stars(v) for k, v in structure.items()}
    return "*"


class _OutputLayout:
    """How a model's outputs are named.

    Attributes:
        names: ``model.output_names``: the layer producing each output, in output order.
        prefixes: the log-key prefix of each output (``<prefix>_loss``): the dict keys for a
            dict of outputs (sorted, Keras's flat order), else the layer names.
        is_dict: whether ``outputs=`` was a dict.
        struct: the model's output structure.
    """

    def __init__(self, names, prefixes, is_dict, struct):
        self.names = names
        self.prefixes = prefixes
        self.is_dict = is_dict
        self.struct = struct


class CompileSpec:
    """``compile``'s losses, loss weights and metrics matched to a model's outputs.

    Keras 3 semantics (``keras/src/trainers/compile_utils.py``): ``loss`` is one loss for every
    output, a list aligned with the outputs, or a dict keyed by output name (the dict keys of
    a dict of outputs, else the layer names; for a list of outputs the dict must name every
    output, ``None`` for an untrained one). ``metrics`` / ``weighted_metrics`` for several
    outputs are a list with one entry per output or a dict keyed by (some) output names, each
    entry a metric or a list of metrics. The structure is checked on the first data (``fit``,
    ``evaluate``, ...), as Keras builds its compiled loss then, before any weight changes.
    """

    def __init__(self, layout, loss, loss_weights, metrics, weighted_metrics):
        self.layout = layout
        self.n = len(layout.names)
        self.user_loss = loss
        self.user_loss_weights = loss_weights
        self.user_metrics = metrics
        self.user_weighted_metrics = weighted_metrics
        self._structure = None  # (loss identifiers, weights) per output, once checked
        self.built = False
        self.losses = [None] * self.n
        self.weights = [None] * self.n
        self.loss_trackers = [None] * self.n
        self.metric_groups = [[] for _ in range(self.n)]
        self.weighted_groups = [[] for _ in range(self.n)]
        self.tracker_order = list(range(self.n))

    @property
    def single(self) -> bool:
        """One output that is not in a dict: its targets are given as one array."""
        return self.n == 1 and not self.layout.is_dict

    # -- structure ----------------------------------------------------------------------------
    def _model_structure_text(self):
        if self.layout.is_dict:
            return {k: "X" for k in self.layout.struct}
        return ["X"] * self.n

    def _loss_identifiers(self):
        """The loss identifier of each output (``None``: not trained), and the indices of the
        outputs in the flattened ``loss`` structure (for a list of ``loss_weights``)."""
        loss, layout = self.user_loss, self.layout
        if isinstance(loss, (list, tuple)):
            if len(loss) != self.n:
                raise ValueError(
                    f"`loss` has {len(loss)} entries but the model has {self.n} outputs "
                    f"{layout.names}: pass one loss per output (`None` for an output that is "
                    "not trained), a dict keyed by output name, or a single loss for all outputs."
                    f"\nReceived: loss={loss}"
                )
            for entry in loss:
                if isinstance(entry, (list, tuple)) or _is_structure_dict(entry):
                    raise ValueError(
                        "Each entry of a `loss` list must be a single loss (or `None`). "
                        f"Received: loss={loss}"
                    )
            return list(loss), list(range(self.n))
        if _is_structure_dict(loss):
            if layout.is_dict:
                for key in loss:
                    if key not in layout.prefixes:
                        raise ValueError(
                            f"The path: ({key!r},) in the `loss` argument, can't be found in "
                            "either the model's output (`y_pred`) or in the labels (`y_true`). "
                            f"The model's outputs are {list(layout.struct)}."
                        )
                ids = [loss.get(p) for p in layout.prefixes]
                return ids, [i for i, p in enumerate(layout.prefixes) if p in loss]
            if set(loss) != set(layout.names):
                raise ValueError(
                    f"Expected keys {layout.names} in loss dict, but found "
                    f"loss.keys()={list(loss.keys())}"
                )
            return [loss[name] for name in layout.names], list(range(self.n))
        return [loss] * self.n, None  # one loss for every output

    def _weights(self, positions):
        """Each output's loss weight (``None``: 1). ``positions`` as from ``_loss_identifiers``."""
        weights, layout = self.user_loss_weights, self.layout
        if weights is None:
            return [None] * self.n
        n_losses = 1 if positions is None else len(positions)
        if _is_structure_dict(weights) and positions is not None:
            keys = layout.prefixes if layout.is_dict else layout.names
            unknown = [k for k in weights if k not in keys]
            if unknown:
                raise ValueError(
                    f"Unknown output name {unknown[0]!r} in `loss_weights`. Expected keys among "
                    f"{keys}. Received: loss_weights={weights}"
                )
            return [None if weights.get(k) is None else float(weights[k]) for k in keys]
        flat = _leaves(weights)
        if len(flat) != n_losses:
            raise ValueError(
                f"`loss_weights` must match the number of losses, got {n_losses} losses "
                f"and {len(flat)} weights."
            )
        if positions is None:  # one loss (and one weight) for every output
            return [None if flat[0] is None else float(flat[0])] * self.n
        out = [None] * self.n
        for i, w in zip(positions, flat):
            out[i] = None if w is None else float(w)
        return out

    def _metric_identifiers(self, metrics, argument_name):
        """Per output, the list of metric identifiers from a ``metrics=`` argument."""
        if not metrics:
            return [[] for _ in range(self.n)]
        if self.n == 1:
            return [_metric_leaves(metrics)]
        layout = self.layout
        entries = None
        problem = None
        if isinstance(metrics, (list, tuple)):
            if len(metrics) == self.n:
                entries = list(metrics)
            else:
                problem = f"The model has {self.n} outputs but `{argument_name}` has "
                problem += f"{len(metrics)} entries."
        elif _is_structure_dict(metrics):
            unknown = [k for k in metrics if k not in layout.prefixes]
            if unknown:
                problem = f"Unknown output name {unknown[0]!r} in `{argument_name}`."
            else:
                entries = [metrics.get(p) for p in layout.prefixes]
        else:
            problem = f"`{argument_name}` must be a list or a dict."
        if entries is None:
            raise ValueError(
                f"{problem}\nInvalid `{argument_name}`. `{argument_name}` should contain metrics "
                "objects and either be a dict or a list matching the output names of the "
                f"functional model {layout.names} or match the output structure of the model: "
                f"{self._model_structure_text()}.\nReceived: {argument_name}={metrics}"
            )
        return [_metric_leaves(entry) for entry in entries]

    def structure(self):
        """Checks the compiled structure against the outputs (once); raises ``ValueError``."""
        if self._structure is None:
            ids, positions = self._loss_identifiers()
            weights = self._weights(positions)
            metric_ids = self._metric_identifiers(self.user_metrics, "metrics")
            weighted_ids = self._metric_identifiers(self.user_weighted_metrics, "weighted_metrics")
            self._structure = (ids, weights, metric_ids, weighted_ids)
        return self._structure

    def has_loss(self) -> bool:
        return any(i is not None for i in self.structure()[0])

    def losses_have_kernels(self) -> bool:
        """Whether every compiled loss has a hand-written gradient (the fused step needs one;
        any other loss is differentiated on a tape)."""
        from numpykeras import losses as losses_module

        if self.built:
            return all(loss is None or loss._has_kernel_gradient() for loss in self.losses)
        for identifier in self.structure()[0]:
            if identifier is None or isinstance(identifier, (str, dict)):
                continue
            if isinstance(identifier, losses_module.Loss):
                if not identifier._has_kernel_gradient():
                    return False
            elif identifier not in losses_module._IMPLEMENTATIONS:
                return False
        return True

    # -- data ---------------------------------------------------------------------------------
    def flat_preds(self, y_pred):
        """The model's prediction(s) as a list in output order."""
        if isinstance(y_pred, dict):
            return [y_pred[k] for k in sorted(y_pred)]
        if isinstance(y_pred, (list, tuple)):
            return list(y_pred)
        return [y_pred]

    def _structure_error(self, y):
        return ValueError(
            "y_true and y_pred have different structures.\n"
            f"y_true: {_stars(y)}\ny_pred: {_stars(self.layout.struct)}\n"
        )

    def flat_targets(self, y, what="y"):
        """``y`` (a list, a dict or one array) as a list in output order, ``None`` where an
        output has no targets. Raises ``ValueError`` for a structure that doesn't fit."""
        layout = self.layout
        ids = self.structure()[0]
        trained = [i for i, loss_id in enumerate(ids) if loss_id is not None]
        if _is_structure_dict(y):
            keys = layout.prefixes if layout.is_dict else layout.names
            if any(k not in keys for k in y):
                raise self._structure_error(y)
            flat = [y.get(k) for k in keys]
        elif isinstance(y, (list, tuple)):
            if len(y) == self.n:
                flat = list(y)
            elif len(y) == len(trained):
                # Targets only for the outputs that have a loss, as Keras allows.
                flat = [None] * self.n
                for i, value in zip(trained, y):
                    flat[i] = value
            else:
                raise self._structure_error(y)
        elif self.n == 1 or len(trained) == 1:
            flat = [None] * self.n
            flat[trained[0] if self.n > 1 else 0] = y
        else:
            raise self._structure_error(y)
        if what == "y":
            missing = [layout.prefixes[i] for i in trained if flat[i] is None]
            if missing:
                raise ValueError(
                    f"Target data is missing for output {missing[0]!r}, which has a loss. "
                    f"Received: y={_stars(y)}"
                )
        return flat

    def flat_sample_weights(self, sample_weight, y):
        """Per-output sample weights: one array applies to every output; a list or dict must
        have ``y``'s structure (one ``sample_weight`` array per output in ``y``)."""
        if sample_weight is None:
            return [None] * self.n
        if not isinstance(sample_weight, (list, tuple, dict)) or y is None:
            return [sample_weight] * self.n
        same = (
            isinstance(sample_weight, dict) == isinstance(y, dict)
            and isinstance(y, (list, tuple, dict))
            and len(sample_weight) == len(y)
            and (not isinstance(y, dict) or set(sample_weight) == set(y))
        )
        if not same:
            raise ValueError(
                "You should provide one `sample_weight` array per output in `y`. The two "
                f"structures did not match:\n- y: {_stars(y)}\n"
                f"- sample_weight: {_stars(sample_weight)}\n"
            )
        return self.flat_targets(sample_weight, what="sample_weight")

    # -- objects ------------------------------------------------------------------------------
    def build(self, ys, preds):
        """Creates the Loss and Metric objects from the first targets and predictions."""
        if self.built:
            return
        from numpykeras import losses as losses_module
        from numpykeras import metrics as metrics_module

        ids, weights, metric_ids, weighted_ids = self.structure()
        for i in range(self.n):
            if (ids[i] is not None or metric_ids[i] or weighted_ids[i]) and ys[i] is None:
                raise ValueError(
                    f"Target data is missing for output {self.layout.prefixes[i]!r}, which has "
                    "a loss or metrics."
                )
        losses = [
            None if ids[i] is None else losses_module.resolve_loss(ids[i], ys[i], preds[i])
            for i in range(self.n)
        ]
        metric_groups = [
            [metrics_module.resolve_metric(m, ys[i], preds[i]) for m in metric_ids[i]]
            for i in range(self.n)
        ]
        weighted_groups = [
            [metrics_module.resolve_metric(m, ys[i], preds[i]) for m in weighted_ids[i]]
            for i in range(self.n)
        ]
        trackers = [None] * self.n
        if sum(loss is not None for loss in losses) > 1:
            # Keras tracks each output's (unweighted) loss when there are several losses.
            trackers = [
                None if loss is None else metrics_module.Mean(name=f"{prefix}_loss")
                for loss, prefix in zip(losses, self.layout.prefixes)
            ]
        # Keras creates the trackers as it walks the losses: a dict of outputs in the order of
        # the `loss` dict's keys (or of `outputs=`), otherwise in output order.
        order = list(range(self.n))
        if self.layout.is_dict:
            keys = self.user_loss if _is_structure_dict(self.user_loss) else self.layout.struct
            order = [self.layout.prefixes.index(k) for k in keys]
        self.tracker_order = order
        self.losses, self.weights = losses, weights
        self.metric_groups, self.weighted_groups = metric_groups, weighted_groups
        self.loss_trackers = trackers
        self.built = True

    def check_targets(self, ys, probe_preds, sample_weights=None):
        """Builds, then runs every label (and sample weight) through its loss against a
        stand-in prediction (label ranges and shapes), before any weight changes."""
        self.build(ys, probe_preds)
        try:
            self._check_targets(ys, probe_preds, sample_weights or [None] * self.n)
        except ValueError:
            self.built = False  # objects chosen from bad targets: choose again from the next
            raise

    def _check_targets(self, ys, probe_preds, sample_weights):
        for i, (y, p) in enumerate(zip(ys, probe_preds)):
            if not (isinstance(y, np.ndarray) and isinstance(p, np.ndarray)):
                continue
            stand_in = np.broadcast_to(p, (len(y),) + p.shape[1:])
            sw = sample_weights[i] if isinstance(sample_weights[i], np.ndarray) else None
            checks = []
            if self.losses[i] is not None:
                checks.append(
                    ("loss", functools.partial(self.losses[i], sample_weight=sw), y, stand_in)
                )
            # Metrics keep state: try copies on a few labels.
            for m in self.metric_groups[i] + self.weighted_groups[i]:
                checks.append(("metric", copy.deepcopy(m).update_state, y[:8], stand_in[:8]))
            for kind, fn, y_part, p_part in checks:
                try:
                    fn(y_part, p_part)
                except ValueError as e:
                    if self.single:
                        raise  # one output: the loss's or metric's own message

                    owner = getattr(fn, "func", None) or getattr(fn, "__self__", None)
                    name = getattr(owner, "name", "")
                    raise ValueError(
                        f"Invalid targets for output {self.layout.prefixes[i]!r} "
                        f"({kind} {name!r}): targets of shape {y.shape[1:]} per sample, "
                        f"predictions of shape {p.shape[1:]} per sample. {e}"
                    ) from e

    def loss_values(self, ys, preds, sample_weights, logits=None):
        """``(per-output losses, weighted total)`` without gradients; a crossentropy uses the
        output's logits when ``logits[i]`` gives them (``(logits, activation)``)."""
        values = [None] * self.n
        total = 0.0
        for i, (loss, weight) in enumerate(zip(self.losses, self.weights)):
            if loss is None:
                continue
            fusable = None if logits is None else logits[i]
            if fusable is not None and loss.supports_logits:
                value = loss.call_from_logits(
                    ys[i], preds[i], fusable[0], fusable[1], sample_weight=sample_weights[i]
                )
            else:
                value = loss(ys[i], preds[i], sample_weight=sample_weights[i])
            values[i] = float(value)
            total += values[i] * (1.0 if weight is None else weight)
        return values, total

    def update_metrics(self, values, ys, preds, sample_weights, batch_size):
        # Keras's CompileLoss weights each batch's loss by `y_pred.shape[0]`, the *static*
        # batch size, which is unknown (None) in the compiled fit/evaluate step of the
        # TensorFlow backend: each batch counts once, a short last batch as much as a full one.
        del batch_size
        for tracker, value in zip(self.loss_trackers, values):
            if tracker is not None:
                tracker.update_state(value)
        for i in range(self.n):
            for m in self.metric_groups[i]:
                m.update_state(ys[i], preds[i])
            for m in self.weighted_groups[i]:
                m.update_state(ys[i], preds[i], sample_weight=sample_weights[i])

    def metric_objects(self) -> list:
        """Compiled metrics (per output, then weighted per output), then per-output loss
        trackers."""
        out = [m for group in self.metric_groups for m in group]
        out += [m for group in self.weighted_groups for m in group]
        trackers = [self.loss_trackers[i] for i in self.tracker_order]
        return out + [t for t in trackers if t is not None]

    def logs(self) -> dict:
        """Log keys as Keras's ``CompileMetrics.result()`` and ``CompileLoss`` name them."""
        logs = {}
        taken = {}
        prefixes = self.layout.prefixes if self.n > 1 else [None]
        for weighted, groups in ((False, self.metric_groups), (True, self.weighted_groups)):
            for prefix, group in zip(prefixes, groups):
                for m in group:
                    name = m.name if prefix is None else f"{prefix}_{m.name}"
                    if name in taken and weighted:
                        name = f"weighted_{m.name}"
                        name = name if prefix is None else f"{prefix}_{name}"
                    if name not in taken:
                        taken[name] = 1
                    else:
                        taken[name] += 1
                        name = f"{name}_{taken[name] - 1}"
                    logs[name] = float(m.result())
        for tracker in self.loss_trackers:
            if tracker is not None:
                logs[tracker.name] = float(tracker.result())
        return logs
