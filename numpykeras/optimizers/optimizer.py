"""The optimizer base class, with Keras 3's arguments, variables, clipping and weight decay.

An optimizer owns an ``iteration`` counter (int64), a ``learning_rate`` variable (float32; absent
when the learning rate is a schedule or a callable) and, once built on a list of trainable
variables, per-variable slot variables (momentum, velocity, ...). ``variables`` lists them in
Keras 3's order, which the saving code relies on.

Each training step runs, as in Keras: drop ``None`` gradients, undo the loss scale, (accumulate),
clip, apply decoupled weight decay, call ``update_step`` for each variable, apply constraints,
update the EMA, and count the iteration. Updates are in place on ``variable.value``.
"""

from __future__ import annotations

import collections
import re
import threading
import warnings

import numpy as np

from numpykeras import backend
from numpykeras.optimizers import schedules
from numpykeras.saving import object_registration

_F32 = np.float32

# ----------------------------------------------------------------------------- naming

_name_uids: collections.defaultdict = collections.defaultdict(int)
_name_lock = threading.Lock()


def _to_snake_case(name: str) -> str:
    """``"RMSprop"`` -> ``"rm_sprop"``, ``"AdamW"`` -> ``"adam_w"``, as Keras names objects."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(class_name: str) -> str:
    """A unique default name: ``"adam"``, then ``"adam_1"``, ``"adam_2"``..."""
    prefix = _to_snake_case(class_name)
    with _name_lock:
        count = _name_uids[prefix]
        _name_uids[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _serialize_function(fn):
    """The Keras config of a named (registered) function used as a learning rate."""
    name = object_registration.get_registered_name(fn)
    if getattr(fn, "__name__", "") == "<lambda>":
        raise ValueError(
            "Cannot serialize a `lambda` used as the learning rate: define a named function "
            "and register it with `register_keras_serializable()` instead."
        )
    return {
        "module": getattr(fn, "__module__", None),
        "class_name": "function",
        "config": name,
        "registered_name": name,
    }


def _is_float(value) -> bool:
    return isinstance(value, (float, np.floating))


class Optimizer:
    """Base class of all optimizers.

    Subclasses override ``build(var_list)`` (create slots with ``add_optimizer_variables``),
    ``update_step(gradient, variable, learning_rate)`` (update ``variable.value`` in place) and
    ``get_config()``.

    Args:
        learning_rate: a float, a :class:`~numpykeras.optimizers.schedules.LearningRateSchedule`,
            or a callable taking no arguments that returns the learning rate.
        weight_decay: if set, decoupled weight decay ``w -= w * weight_decay * lr`` is applied
            before each update.
        clipnorm: if set, each gradient is rescaled so that its L2 norm is at most this value.
        clipvalue: if set, each gradient is clipped elementwise to ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients are rescaled together so that their global L2
            norm is at most this value.
        use_ema: if True, keep an exponential moving average of the model's weights.
        ema_momentum: momentum of that average (``use_ema`` only).
        ema_overwrite_frequency: if set, overwrite the weights with their average every this many
            iterations (``use_ema`` only).
        loss_scale_factor: if set, the loss is multiplied by it (``scale_loss``) and gradients are
            divided by it before use.
        gradient_accumulation_steps: if set (an int >= 2), variables are updated only every this
            many steps, with the mean of the gradients accumulated since the last update.
        name: name of the optimizer, the prefix of its variables' paths.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.",
                stacklevel=2,
            )
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

        self.name = name if name is not None else _auto_name(self.__class__.__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps

        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(
                    "`ema_momentum` must be in the range [0, 1]. "
                    f"Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency

        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )

        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._scratch = {}  # (dtype, k) -> flat work buffer reused by every update

        self._iterations = backend.Variable(
            0,
            name="iteration",
            dtype="int64",
            trainable=False,
            path=f"{self.name}/iteration",
        )
        self._variables.append(self._iterations)

        if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            if not _is_float(learning_rate):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance "
                    "of LearningRateSchedule, or a callable "
                    "(that takes in the current iteration value "
                    "and returns the corresponding learning rate value). "
                    f"Received instead: learning_rate={learning_rate}"
                )
            self._learning_rate = backend.Variable(
                learning_rate,
                name="learning_rate",
                dtype=backend.floatx(),
                trainable=False,
                path=f"{self.name}/learning_rate",
            )
            self._variables.append(self._learning_rate)

    # ------------------------------------------------------------------------- state

    @property
    def iterations(self):
        """The step counter: the ``iteration`` Variable, or with gradient accumulation the
        number of actual updates (``iteration // gradient_accumulation_steps``) as an int."""
        if self.gradient_accumulation_steps:
            return int(self._iterations.value) // self.gradient_accumulation_steps
        return self._iterations

    def _step(self) -> int:
        """The update count that bias corrections and the EMA use (``iterations`` as an int)."""
        return int(self.iterations if self.gradient_accumulation_steps else self._iterations.value)

    @property
    def variables(self) -> list:
        """All optimizer variables in Keras 3's order: iteration, learning_rate, then slots."""
        return self._variables[:]

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a float (a schedule is evaluated at ``iterations``)."""
        return float(self._current_learning_rate())

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        previous = self._learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
            if isinstance(previous, backend.Variable):
                self._variables.remove(previous)
            return
        if isinstance(previous, schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule`"
                " object as its `learning_rate` constructor argument, "
                "hence its learning rate is not settable. If you need the"
                " learning rate to be settable, you should instantiate "
                "the optimizer with a float `learning_rate` argument."
            )
        if not isinstance(previous, backend.Variable):
            raise TypeError(
                "This optimizer was created with a callable as its `learning_rate` constructor "
                "argument, hence its learning rate is not settable to a number. Received: "
                f"learning_rate={learning_rate}"
            )
        previous.assign(np.asarray(learning_rate, dtype=previous.dtype))

    def _current_learning_rate(self):
        """The learning rate for this iteration as a float32 scalar."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            value = lr(self._iterations.value[()])
        elif isinstance(lr, backend.Variable):
            value = lr.value
        else:
            value = lr()
        return _F32(np.asarray(value))

    # ------------------------------------------------------------------------- building

    def build(self, variables):
        """Create the optimizer's variables for ``variables`` (the model's trainable weights).

        The base class records the variables and creates the EMA averages and gradient
        accumulators; subclasses create their slots after calling ``super().build``.
        """
        variables = list(variables)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                variables, "average"
            )
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = []
        for i, variable in enumerate(variables):
            self._trainable_variables_indices[self._var_key(variable)] = i
            if self.gradient_accumulation_steps:
                self._accumulated_gradients.append(
                    self.add_variable_from_reference(variable, name="gradient_accumulator")
                )
        self._trainable_variables = variables[:]
        self.built = True

    def _var_key(self, variable):
        return id(variable)

    def _get_variable_index(self, variable) -> int:
        return self._trainable_variables_indices[self._var_key(variable)]

    def add_variable(
        self,
        shape,
        initializer="zeros",
        dtype=None,
        aggregation="none",
        layout=None,
        name=None,
    ):
        """Create and track a non-trainable optimizer variable named ``<optimizer>/<name>``.

        Args:
            shape: shape tuple.
            initializer: ``"zeros"``, ``"ones"``, a number, or a callable ``(shape, dtype)``.
            dtype: dtype name; floatx by default.
            aggregation: accepted for Keras compatibility; unused.
            layout: accepted for Keras compatibility; unused.
            name: the variable's short name.

        Returns:
            The new :class:`~numpykeras.backend.Variable`.
        """
        dtype = backend.standardize_dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if isinstance(initializer, str):
            kind = initializer.lower()
            if kind not in ("zeros", "ones"):
                raise ValueError(
                    "Optimizer variables support the initializers 'zeros', 'ones', a number or a "
                    f"callable(shape, dtype). Received: initializer={initializer!r}"
                )
            value = np.zeros(shape, dtype) if kind == "zeros" else np.ones(shape, dtype)
        elif callable(initializer):
            value = np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
        else:
            value = np.full(shape, initializer, dtype=dtype)
        name = name or "variable"
        variable = backend.Variable(
            value, name=name, dtype=dtype, trainable=False, path=f"{self.name}/{name}"
        )
        self._variables.append(variable)
        return variable

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot shaped like ``reference_variable``, named ``<path with '/'->'_'>_<name>``."""
        name = name or "var"
        ref_name = getattr(reference_variable, "path", None)
        if ref_name is None:
            ref_name = str(reference_variable.name).replace(":", "_")
        return self.add_variable(
            shape=reference_variable.shape,
            initializer=initializer,
            dtype=reference_variable.dtype,
            name=f"{ref_name.replace('/', '_')}_{name}",
        )

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """Slots for each variable; with a list of names, the slots of one variable are created
        together (Keras's interleaved order) and a tuple of lists is returned."""
        names = [name] if isinstance(name, str) else list(name)
        if isinstance(initializer, (list, tuple)):
            inits = list(initializer)
        else:
            inits = [initializer] * len(names)
        if len(names) != len(inits):
            raise ValueError(
                "The number of provided names must match the number of "
                f"provided initializers.  Received name='{name}', "
                f"initializer='{initializer}'"
            )
        slots = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot_name, init) in enumerate(zip(names, inits)):
                slots[i].append(
                    self.add_variable_from_reference(variable, name=slot_name, initializer=init)
                )
        return slots[0] if isinstance(name, str) else slots

    # ------------------------------------------------------------------------- applying

    def _buffer(self, like: np.ndarray, k: int = 0) -> np.ndarray:
        """A work array shaped like ``like``, a view of a reused flat buffer (``k`` picks one)."""
        key = (like.dtype.str, k)
        flat = self._scratch.get(key)
        if flat is None or flat.size < like.size:
            flat = np.empty(like.size, dtype=like.dtype)
            self._scratch[key] = flat
        return flat[: like.size].reshape(like.shape)

    def apply_gradients(self, grads_and_vars):
        """Apply ``[(gradient, variable), ...]``; returns the ``iterations`` variable."""
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(grads, trainable_variables)
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update the variables with ``grads`` (one per variable; ``None`` skips a variable).

        Args:
            grads: list of gradient arrays.
            trainable_variables: the variables, in the order of ``grads``. May be omitted once the
                optimizer is built, in which case ``grads`` match the variables it was built on.
                The first call builds the optimizer.
        """
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. "
                    "Call `optimizer.build(trainable_variables)` first. "
                )
            if len(grads) != len(self._trainable_variables_indices):
                raise ValueError(
                    "When passing `grads` as a list of gradient tensors, the "
                    "gradients must match `optimizer.variables` one-to-one. "
                    f"Received a list of {len(grads)} gradients, but the "
                    f"optimizer is tracking {len(self._trainable_variables)} "
                    "trainable variables."
                )
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if len(grads) != len(trainable_variables):
                raise ValueError(
                    "The number of gradients must match the number of variables. Received "
                    f"{len(grads)} gradients and {len(trainable_variables)} variables."
                )
            if not self.built:
                self.build(trainable_variables)
                self.built = True
            self._check_variables_are_known(trainable_variables)

        grads, trainable_variables = self._filter_empty_gradients(grads, trainable_variables)
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
        self._backend_apply_gradients(grads, trainable_variables)
        for variable in trainable_variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable.value))
        self._iterations.value[...] += 1

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """``apply`` on given values instead of the variables' own (Keras 3's stateless API).

        Args:
            optimizer_variables: values for ``self.variables``, in that order.
            grads: one gradient per trainable variable.
            trainable_variables: values for the variables the optimizer was built on.

        Returns:
            ``(trainable_variables, optimizer_variables)``: the updated values, as lists of
            arrays; the optimizer's and the model's own variables are left unchanged.
        """
        if not self.built:
            raise ValueError(
                "To call `stateless_apply`, the optimizer must be built: call "
                "`optimizer.build(trainable_variables)` first."
            )
        own_vars, targets = list(self.variables), list(self._trainable_variables)
        for given, own, what in (
            (optimizer_variables, own_vars, "optimizer_variables"),
            (trainable_variables, targets, "trainable_variables"),
        ):
            if len(given) != len(own):
                raise ValueError(
                    f"Argument `{what}` must be a list of {len(own)} values (one per variable). "
                    f"Received a list of {len(given)}."
                )
        saved = [v._value for v in own_vars + targets]
        try:
            for v, value in zip(
                own_vars + targets, list(optimizer_variables) + list(trainable_variables)
            ):
                v._value = np.array(np.asarray(value), dtype=v.dtype)
            self.apply(grads, targets)
            return [v._value for v in targets], [v._value for v in own_vars]
        finally:
            for v, value in zip(own_vars + targets, saved):
                v._value = value

    def _check_variables_are_known(self, variables):
        for v in variables:
            if self._var_key(v) not in self._trainable_variables_indices:
                raise ValueError(
                    f"Unknown variable: {v}. This optimizer can only "
                    "be called for the variables it was originally built with. "
                    "When working with a new set of variables, you should "
                    "recreate a new optimizer instance."
                )

    def _filter_empty_gradients(self, grads, variables):
        """Drop ``None`` gradients (warning which variables had none) and convert the rest to
        arrays of their variable's dtype (no copy when they already are)."""
        kept_grads, kept_vars, missing = [], [], []
        for g, v in zip(grads, variables):
            if g is None:
                missing.append(getattr(v, "path", getattr(v, "name", repr(v))))
                continue
            g = np.asarray(g.value if isinstance(g, backend.Variable) else g, dtype=v.dtype)
            if g.shape != v.shape:
                raise ValueError(
                    f"The gradient of variable '{v.path}' must have the variable's shape "
                    f"{v.shape}. Received: gradient.shape={g.shape}"
                )
            kept_grads.append(g)
            kept_vars.append(v)
        if not kept_grads:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss."
                " If using `model.compile()`, did you forget to provide a "
                "`loss` argument?",
                stacklevel=3,
            )
        return kept_grads, kept_vars

    def _backend_apply_gradients(self, grads, trainable_variables):
        """Accumulate or clip, decay and update; then update the EMA."""
        steps = self.gradient_accumulation_steps
        if steps:
            accumulators = [
                self._accumulated_gradients[self._get_variable_index(v)]
                for v in trainable_variables
            ]
            if (int(self._iterations.value) + 1) % steps == 0:
                # Update with the mean gradient over the last `steps` calls; reset the sums.
                grads = [
                    (g + acc.value) / g.dtype.type(steps) for g, acc in zip(grads, accumulators)
                ]
                grads = self._clip_gradients(grads)
                self._apply_weight_decay(trainable_variables)
                self._backend_update_step(grads, trainable_variables, self._current_learning_rate())
                for acc in self._accumulated_gradients:
                    acc.value[...] = 0
            else:
                for g, acc in zip(grads, accumulators):
                    total = acc.value
                    total += g
        else:
            grads = self._clip_gradients(grads)
            self._apply_weight_decay(trainable_variables)
            self._backend_update_step(grads, trainable_variables, self._current_learning_rate())

        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            if (
                self.ema_overwrite_frequency
                and (self._step() + 1) % (self.ema_overwrite_frequency) == 0
            ):
                self._overwrite_model_variables_with_average_value(self._trainable_variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        for grad, variable in zip(grads, trainable_variables):
            self.update_step(grad, variable, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        """Update ``variable.value`` (and its slots) in place.

        Args:
            gradient: array of the variable's shape and dtype. Read only: it may be the caller's.
            variable: the :class:`~numpykeras.backend.Variable` to update.
            learning_rate: float32 scalar.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------------- clipping

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [np.clip(g, -v, v) for g in grads]
        return grads

    def _clip_by_norm(self, g):
        # g * c / max(||g||, c): unchanged when ||g|| <= c, rescaled to norm c otherwise.
        norm = np.sqrt(np.sum(np.square(g, dtype=np.float64)))
        c = self.clipnorm
        return (g * g.dtype.type(c)) / g.dtype.type(max(norm, c))

    # ------------------------------------------------------------------------- weight decay

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay: those in ``var_list``, and those whose name
        contains any of the strings in ``var_names``. Call before the optimizer is built."""
        self._exclude_from_weight_decay_vars = list(var_list or [])
        self._exclude_from_weight_decay = {self._var_key(v) for v in (var_list or [])}
        if var_names:
            self._exclude_from_weight_decay_pattern = re.compile("|".join(set(var_names)))
        else:
            self._exclude_from_weight_decay_pattern = None
        self._exclude_from_weight_decay_cache = {}

    def _use_weight_decay(self, variable) -> bool:
        cache = self.__dict__.setdefault("_exclude_from_weight_decay_cache", {})
        key = self._var_key(variable)
        if key not in cache:
            excluded = key in getattr(self, "_exclude_from_weight_decay", set())
            pattern = getattr(self, "_exclude_from_weight_decay_pattern", None)
            if not excluded and pattern is not None:
                excluded = re.search(pattern, variable.name) is not None
            cache[key] = not excluded
        return cache[key]

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return
        lr = self._current_learning_rate()
        for variable in variables:
            if self._use_weight_decay(variable):
                w = variable.value
                scale = w.dtype.type(self.weight_decay) * w.dtype.type(lr)
                tmp = self._buffer(w)
                np.multiply(w, scale, out=tmp)  # w * wd * lr
                w -= tmp

    # ------------------------------------------------------------------------- EMA

    def _update_model_variables_moving_average(self, trainable_variables):
        """``average = m * average + (1 - m) * w``, with ``m = 0`` on the first step."""
        momentum = self.ema_momentum if self._step() != 0 else 0.0
        for variable, average in zip(trainable_variables, self._model_variables_moving_average):
            a = average.value
            m = a.dtype.type(momentum)
            tmp = self._buffer(a)
            a *= m
            np.multiply(variable.value, a.dtype.type(1) - m, out=tmp)
            a += tmp

    def _overwrite_model_variables_with_average_value(self, trainable_variables):
        if len(trainable_variables) != len(self._model_variables_moving_average):
            raise ValueError(
                f"The length of model variables ({len(trainable_variables)}) "
                "to override does not match the length of model variables "
                "stored in the optimizer "
                f"({len(self._model_variables_moving_average)}). Please "
                "check if the optimizer was called on your model."
            )
        for variable, average in zip(trainable_variables, self._model_variables_moving_average):
            variable.assign(average.value)

    def finalize_variable_values(self, var_list):
        """At the end of training: with ``use_ema``, replace the weights by their averages."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    # ------------------------------------------------------------------------- misc

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` if set, else ``loss``."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def set_weights(self, weights):
        """Assign ``weights`` (arrays in ``variables`` order) to the optimizer's variables."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not "
                "yet been built. Please call "
                "`optimizer.build(trainable_variables)` to create the "
                "optimizer weights before calling `set_weights()`."
            )
        for variable, weight in zip(self._variables, weights):
            weight = np.asarray(weight)
            if variable.shape != weight.shape:
                raise ValueError(
                    f"Optimizer variable {variable.path} has shape "
                    f"{variable.shape} not compatible with provided "
                    f"weight shape {weight.shape}."
                )
            variable.assign(weight)

    def save_own_variables(self, store):
        """Write the variables to ``store`` under keys ``"0"``, ``"1"``, ... (Keras's layout)."""
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        """Read the variables written by ``save_own_variables`` (skipped, with a warning, when
        the counts differ, as Keras does)."""
        if len(store.keys()) != len(self.variables):
            msg = (
                f"Skipping variable loading for optimizer '{self.name}', "
                f"because it has {len(self.variables)} variables whereas "
                f"the saved optimizer has {len(store.keys())} variables. "
            )
            if len(self.variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, variable in enumerate(self.variables):
            variable.assign(np.asarray(store[str(i)]))

    def get_config(self) -> dict:
        """Keras 3's config keys; a schedule learning rate is serialized as a nested dict."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(lr)
        elif isinstance(lr, backend.Variable):
            learning_rate = float(lr.value)
        else:
            learning_rate = _serialize_function(lr)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild an optimizer (without its state) from ``get_config()``'s dict."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            if lr.get("class_name") == "function":
                name = lr.get("registered_name") or lr.get("config")
                fn = object_registration.get_registered_object(name, custom_objects)
                if fn is None:
                    raise ValueError(f"Could not find the learning rate function '{name}'.")
                config["learning_rate"] = fn
            else:
                config["learning_rate"] = schedules.deserialize(lr, custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} name={self.name}>"

    # ------------------------------------------------------------------------- pickling

    def __getstate__(self) -> dict:
        """The optimizer's attributes for ``pickle`` and ``copy.deepcopy``, without its
        scratch buffers and the tables keyed by the ``id()`` of variables (rebuilt by
        ``__setstate__`` for the copies of those variables).

        A built optimizer copied on its own carries copies of the variables it was built on
        (and its slots): it can go on updating those, but not the original model's variables
        (a model copied as a whole gets its own optimizer, built on its own variables).
        """
        state = dict(self.__dict__)
        state["_scratch"] = {}
        state["_trainable_variables_indices"] = None
        state.pop("_exclude_from_weight_decay", None)
        state.pop("_exclude_from_weight_decay_cache", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._trainable_variables_indices = {
            self._var_key(v): i for i, v in enumerate(self._trainable_variables)
        }
        if "_exclude_from_weight_decay_vars" in state:
            self._exclude_from_weight_decay = {
                self._var_key(v) for v in self._exclude_from_weight_decay_vars
            }
        self._exclude_from_weight_decay_cache = {}


def global_norm(value_list):
    """``sqrt(sum of squares)`` over all the (non-None) arrays."""
    total = sum(float(np.sum(np.square(v, dtype=np.float64))) for v in value_list if v is not None)
    return np.sqrt(total)


def clip_by_global_norm(value_list, clip_norm):
    """Scale all arrays by ``clip_norm / max(global_norm, clip_norm)``; NaN if the norm isn't
    finite, as in Keras."""
    norm = global_norm(value_list)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = clip_norm * min(1.0 / norm, 1.0 / clip_norm) + (norm - norm)
    return [v * v.dtype.type(scale) if v is not None else v for v in value_list]
