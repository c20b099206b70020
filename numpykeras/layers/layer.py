"""The ``Layer`` base class: weights, building, calling, and the forward/backward contract.

A layer computes ``outputs = call(inputs)`` with NumPy. For training, ``forward`` returns the
outputs and a *cache* of what ``backward`` needs; ``backward(dy, cache)`` returns the input gradient
and the gradients of the layer's weights. Nothing per call is kept on the layer object, so inference
is thread-safe and one layer can be used several times in a graph (each use has its own cache on the
training step's tape).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections import defaultdict

import numpy as np

from numpykeras import backend, regularizers
from numpykeras.backend import Variable
from numpykeras.layers.node import KerasTensor
from numpykeras.ops import autodiff
from numpykeras.ops.autodiff import Tensor
from numpykeras.ops.autodiff import _stack as _tapes
from numpykeras.saving.object_registration import to_snake_case  # noqa: F401  (re-exported)

# --------------------------------------------------------------------------- naming

_NAME_UIDS: defaultdict = defaultdict(int)
_NAME_LOCK = threading.Lock()
_NAME_SCOPE = threading.local()


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (session-wide, as Keras)."""
    with _NAME_LOCK:
        uid = _NAME_UIDS[prefix]
        _NAME_UIDS[prefix] += 1
    return prefix if uid == 0 else f"{prefix}_{uid}"


def clear_session() -> None:
    """Reset the automatic layer-name counters (``keras.backend.clear_session``)."""
    with _NAME_LOCK:
        _NAME_UIDS.clear()


class name_scope:
    """Context manager prefixing the paths of variables created inside it (``sequential/...``)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        stack = getattr(_NAME_SCOPE, "stack", None)
        if stack is None:
            stack = _NAME_SCOPE.stack = []
        stack.append(self.name)
        return self

    def __exit__(self, *exc):
        _NAME_SCOPE.stack.pop()


def current_path() -> str:
    return "/".join(getattr(_NAME_SCOPE, "stack", None) or [])


# --------------------------------------------------------------------------- input specs


def standardize_shape(shape) -> tuple:
    """A tuple of ints and ``None``; raises on anything else."""
    if shape is None:
        raise ValueError("Undefined shapes are not supported.")
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"Cannot convert '{shape}' to a shape.") from None
    out = []
    for dim in shape:
        if dim is None:
            out.append(None)
        elif isinstance(dim, (int, np.integer)) and not isinstance(dim, bool):
            if dim < 0:
                raise ValueError(
                    f"Negative dimensions are not allowed. Received: input_shape={shape}"
                )
            out.append(int(dim))
        else:
            raise ValueError(
                f"Cannot convert '{shape}' to a shape. Found invalid entry '{dim}' "
                f"of type '{type(dim)}'."
            )
    return tuple(out)


class InputSpec:
    """What a layer accepts: a rank (``ndim``/``min_ndim``) and fixed sizes on some axes."""

    def __init__(self, ndim=None, min_ndim=None, max_ndim=None, axes=None, shape=None):
        self.ndim = ndim
        self.min_ndim = min_ndim
        self.max_ndim = max_ndim
        self.axes = dict(axes or {})
        self.shape = shape

    def check(self, shape, layer_name, index=0):
        ndim = len(shape)
        prefix = f'Input {index} of layer "{layer_name}" is incompatible with the layer:'
        if self.ndim is not None and ndim != self.ndim:
            raise ValueError(
                f"{prefix} expected ndim={self.ndim}, found ndim={ndim}. "
                f"Full shape received: {shape}"
            )
        if self.min_ndim is not None and ndim < self.min_ndim:
            raise ValueError(
                f"{prefix} expected min_ndim={self.min_ndim}, found ndim={ndim}. "
                f"Full shape received: {shape}"
            )
        if self.max_ndim is not None and ndim > self.max_ndim:
            raise ValueError(f"{prefix} expected max_ndim={self.max_ndim}, found ndim={ndim}")
        for axis, value in self.axes.items():
            if value is not None and -ndim <= axis < ndim and shape[axis] not in (value, None):
                raise ValueError(
                    f"{prefix} expected axis {axis} of input shape to have value {value}, "
                    f"but received input with shape {shape}"
                )
        if self.shape is not None:
            if len(self.shape) != ndim or any(
                s is not None and d is not None and s != d for s, d in zip(self.shape, shape)
            ):
                raise ValueError(f"{prefix} expected shape={self.shape}, found shape={shape}")


# --------------------------------------------------------------------------- the base class


class UnknownArgumentsError(ValueError):
    """A layer was given keyword arguments it does not know (``.unknown`` holds them)."""

    def __init__(self, message, unknown):
        super().__init__(message)
        self.unknown = unknown


_LAYER_KWARGS = {
    "input_shape",
    "batch_input_shape",
    "batch_shape",
    "batch_size",
    "input_dim",
    "weights",
}


_init_state = threading.local()


@contextlib.contextmanager
def skip_initializers(skip: bool = True):
    """Within this block (in this thread), ``add_weight`` fills new weights with zeros instead
    of calling their initializers.

    For loaders that assign every weight right after building the model (``load_model`` of a
    file with weights; a load that does not cover every weight fails and discards the model):
    drawing 25 million random numbers for ResNet50 only to overwrite them took a third of its
    cold start. Keras's initializers still run for models built in code.
    """
    previous = getattr(_init_state, "skip", False)
    _init_state.skip = bool(skip)
    try:
        yield
    finally:
        _init_state.skip = previous


class Layer:
    """Base class of all layers (and of models).

    Subclasses implement ``build(input_shape)``, ``call(inputs, training=False)``,
    ``compute_output_shape(input_shape)``, and for training ``forward``/``backward``
    (the defaults below suit weightless layers whose gradient is computed from the saved input).

    Args:
        trainable: whether the layer's weights are updated by training.
        name: the layer's name; by default the snake_case class name made unique (``dense_1``).
        dtype: the dtype of the weights and computations; float32 by default.
    """

    # Layers that only reshape or select (no arithmetic) set this to True.
    _is_stateless_reshape = False

    def __init__(
        self, *, activity_regularizer=None, trainable=True, name=None, dtype=None, **kwargs
    ):
        unknown = {k: v for k, v in kwargs.items() if k not in _LAYER_KWARGS}
        if unknown:
            raise UnknownArgumentsError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {unknown}",
                unknown,
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        if "/" in self.name:
            raise ValueError(
                f"Argument `name` must be a string and cannot contain character `/`. "
                f"Received: name={self.name} (of type {type(self.name)})"
            )
        self._trainable_vars: list[Variable] = []
        self._non_trainable_vars: list[Variable] = []
        self._trainable = bool(trainable)
        self.dtype = backend.standardize_dtype(dtype)
        self.built = False
        self.input_spec = None
        self._build_shapes_dict = None
        self._build_lock = threading.Lock()
        self._inbound_nodes: list = []
        self._initial_weights = kwargs.get("weights")
        # Keras's: a penalty on the layer's outputs, added to its losses on every call.
        self.activity_regularizer = regularizers.get(activity_regularizer)

        # Input shape given to the first layer of a Sequential model.
        batch_shape = kwargs.get("batch_input_shape", kwargs.get("batch_shape"))
        if kwargs.get("input_dim") is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (kwargs["input_dim"],)
        if batch_shape is None and kwargs.get("input_shape") is not None:
            batch_shape = (kwargs.get("batch_size"),) + standardize_shape(kwargs["input_shape"])
        self._batch_input_shape = None if batch_shape is None else standardize_shape(batch_shape)

    # -- weights ----------------------------------------------------------------------------
    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        regularizer=None,
        constraint=None,
        name=None,
        **kwargs,
    ) -> Variable:
        """Create a weight, initialise it and track it (Keras's ``add_weight``)."""
        from numpykeras import constraints, initializers, regularizers

        shape = standardize_shape(() if shape is None else shape)
        dtype = backend.standardize_dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        initializer = initializers.get(initializer)
        skip = getattr(_init_state, "skip", False)
        if skip:
            value = np.zeros(shape, dtype=dtype)  # a loader assigns every value (see below)
        else:
            value = np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
        name = name or f"variable_{len(self._trainable_vars) + len(self._non_trainable_vars)}"
        scope = current_path()
        path = f"{scope}/{self.name}/{name}" if scope else f"{self.name}/{name}"
        variable = Variable(
            value,
            name=name,
            trainable=trainable and self.trainable,
            dtype=dtype,
            path=path,
            copy=not skip,  # an initializer may hand out an array it keeps; zeros are ours
        )
        variable._adopt_on_load = skip
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        (self._trainable_vars if trainable else self._non_trainable_vars).append(variable)
        return variable

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Freezing a layer freezes its weights and those of its sub-layers (as in Keras)."""
        self._trainable = bool(value)
        for variable in getattr(self, "_trainable_vars", []):
            variable.trainable = self._trainable
        for layer in self._sublayers():
            layer.trainable = self._trainable

    def __setattr__(self, name, value):
        # Keras's automatic tracking: a layer, variable or metric assigned to an attribute (or a
        # list, tuple or dict of them) belongs to this layer: its weights are this layer's
        # weights, in the order the attributes were first set.
        if not name.startswith("__") and value is not self:
            _track(self, value, metrics=not name.startswith("_"))
            if name == "activity_regularizer" and value is not None:
                # its penalties are losses: from now on, outermost calls clear the previous ones
                # (before the layer's first call, which may be inside another)
                _LossScope.active = True
        object.__setattr__(self, name, value)

    def _sublayers(self) -> list:
        """Layers this layer owns: those assigned to its attributes (a model's layers)."""
        return list(self.__dict__.get("_tracked_layers", ()))

    # -- losses and metrics added in `call` ---------------------------------------------------
    def add_loss(self, loss):
        """Adds a loss tensor (or a list of them) computed in ``call``, as Keras's ``add_loss``.

        The losses of a call are those added during the latest outermost layer call; a model's
        ``compute_loss`` adds them to the compiled loss.
        """
        losses = autodiff.flatten(loss)
        for x in losses:
            if not isinstance(x, (Tensor, np.ndarray, np.generic, Variable, float, int)):
                raise ValueError(
                    "`add_loss()` can only be called from inside `build()` or `call()`, on a "
                    f"tensor input. Received invalid value: {x!r}"
                )
        _LOSSES.active = True
        self.__dict__.setdefault("_own_losses", []).extend(losses)

    def _get_own_losses(self) -> list:
        return list(self.__dict__.get("_own_losses", ()))

    def _clear_losses(self) -> None:
        if self.__dict__.get("_own_losses"):
            self._own_losses.clear()
        for layer in self._sublayers():
            layer._clear_losses()

    def _get_regularization_losses(self) -> list:
        losses = []
        for v in self.trainable_weights:
            reg = getattr(v, "regularizer", None)
            if reg is not None:
                losses.append(record_regularization(reg, v))
        return losses

    @property
    def losses(self) -> list:
        """The losses added in the latest call (``add_loss``), of this layer and its sub-layers,
        then the weights' regularization penalties."""
        losses = self._get_own_losses()
        for layer in _all_sublayers(self):
            losses.extend(layer._get_own_losses())
        return losses + self._get_regularization_losses()

    @property
    def metrics(self) -> list:
        """Metrics assigned to this layer's attributes, then its sub-layers'."""
        out = list(self.__dict__.get("_tracked_metrics", ()))
        for layer in self._sublayers():
            out.extend(layer.metrics)
        return out

    @property
    def weights(self) -> list:
        """This layer's weights (those created trainable first), then its sub-layers', in order."""
        seen, out = set(), []
        for v in self._trainable_vars + self._non_trainable_vars:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._sublayers():
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_variables(self) -> list:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        return self.non_trainable_weights

    def get_weights(self) -> list:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays in ``get_weights()`` order; all or nothing."""
        targets = self.weights
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(targets)} weights."
            )
        arrays = []
        for variable, value in zip(targets, weights):
            value = np.asarray(value)
            if value.shape != variable.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {variable.shape} is not compatible with "
                    f"provided weight shape {value.shape}."
                )
            arrays.append(value)
        for variable, value in zip(targets, arrays):
            variable.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                "You tried to call `count_params` on layer '"
                + self.name
                + "', but the layer isn't built. You can build it manually via: "
                "`layer.build(input_shape)`."
            )
        return int(sum(v.size for v in self.weights))

    # -- building ---------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if callable(build) and not getattr(build, "_records_build", False):
            cls.build = _recording_build(build)

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""
        self.built = True

    def _maybe_build(self, input_shape) -> None:
        if self.built:
            return
        with self._build_lock:
            if self.built:
                return
            self.build(input_shape)
            self.built = True
            self._build_shapes_dict = {"input_shape": _shape_to_config(input_shape)}
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)
                self._initial_weights = None

    def build_from_config(self, config) -> None:
        """Build the layer from ``get_build_config()``'s dict (Keras's ``{"input_shape": ...}``
        or ``{"shapes_dict": {"<argument>_shape": ...}}``; also the flat
        ``{"<argument>_shape": ...}`` earlier numpykeras versions wrote)."""
        if not config:
            return
        if config.get("input_shape") is not None:
            self._maybe_build(_shape_from_config(config["input_shape"]))
            return
        if isinstance(config.get("shapes_dict"), dict):
            shapes = config["shapes_dict"]
        elif "input_shape" not in config and all(k.endswith("_shape") for k in config):
            shapes = config
        else:
            return
        shapes = {k: _shape_from_config(v) for k, v in shapes.items()}
        if _call_signature(type(self)).build_shape_args is None:
            # A `build` taking one shape gets the first (as Keras's).
            self._maybe_build(next(iter(shapes.values()), None))
        else:
            self._maybe_build_named(shapes)

    def get_build_config(self):
        """The shapes the layer was built for, as Keras writes them: ``{"input_shape": shape}``
        when ``build`` received one shape, else ``{"shapes_dict": {"<argument>_shape":
        shape, ...}}`` (the arguments given); ``None`` if ``build`` never ran.

        As in Keras, a layer built by an eager call records that call's shapes, batch size
        included (``(2, 4)``); built by a symbolic call, the symbolic shapes (``(None, 4)``);
        built by calling ``build(shape)`` directly, the shapes given."""
        shapes = self._build_shapes_dict
        if shapes is None:
            return None
        if len(shapes) == 1:
            return {"input_shape": next(iter(shapes.values()))}
        return {"shapes_dict": dict(shapes)}

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, *args, **kwargs):
        """The symbolic outputs (``KerasTensor`` s with shape and dtype) of a call of this layer
        on the symbolic arguments ``args`` and ``kwargs``, as Keras's default gives them.

        They are the ones a symbolic call records: from ``compute_output_shape`` (with the first
        argument's shape, or with each ``<argument>_shape`` it takes), in the layer's dtype; for
        a layer defined outside numpykeras without its own ``compute_output_shape``, from
        running the layer once on zeros of the arguments' shapes (Keras traces its ``call``).
        Subclasses may override it and call ``super().compute_output_spec(...)``.
        """
        from numpykeras.layers.node import _output_shapes, _spec_from_shapes

        sig = type(self).__dict__.get("_call_signature_cache") or _call_signature(type(self))
        shapes, dtype = _output_shapes(self, sig, args, kwargs)
        return _spec_from_shapes(shapes, dtype, self)

    # Whether this layer passes a mask on (Keras's attribute): the mask of its first input
    # reaches its outputs through `compute_mask`. Layers that cannot use a mask drop it.
    supports_masking = False

    def compute_mask(self, inputs, previous_mask):
        """The mask of this layer's outputs given its inputs' mask (default: unchanged)."""
        return previous_mask

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        """Calls the layer: ``layer(x)``, ``layer(x, y)``, ``layer(x, training=True)``, ...

        As in Keras 3, ``training`` reaches ``call()`` only if ``call`` has a ``training``
        argument (when not given, it is inherited from the layer call this one runs inside, if
        any); ``mask`` only if ``call`` has a ``mask`` argument (or ``**kwargs``). Further
        positional arguments and keyword arguments go to ``call`` as given. On symbolic tensors
        (``keras.Input``) the call is recorded as a node of a graph instead.
        """
        sig = type(self).__dict__.get("_call_signature_cache") or _call_signature(type(self))
        training = kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        if args:
            inputs, rest = args[0], args[1:]
        elif sig.first in kwargs:
            inputs, rest = kwargs.pop(sig.first), ()
        else:
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}) was called without inputs: "
                f"missing a required argument: '{sig.first}'."
            )
        if mask is not None and not sig.accepts_mask:
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}) got an unexpected keyword argument "
                "'mask': its `call()` method takes no `mask` argument."
            )
        if type(inputs) is not np.ndarray:
            _check_positional_tensors((inputs,))
        if rest:
            _check_positional_tensors(rest)
        if (
            _any_symbolic(inputs)
            or (rest and _any_symbolic(rest))
            or (kwargs and _any_symbolic(list(kwargs.values())))
            or (mask is not None and _any_symbolic(mask))
        ):
            from numpykeras.layers.node import call_symbolic

            if training is not None:  # recorded: the graph always runs this call so (Keras)
                kwargs["training"] = bool(training)
            if mask is not None:
                kwargs["mask"] = mask
            return call_symbolic(self, (inputs,) + tuple(rest), kwargs)
        if rest:
            rest = tuple(_autocast(a, self.dtype) for a in rest)
        if kwargs:
            kwargs = {k: _autocast(v, self.dtype) for k, v in kwargs.items()}
        if not self.built and sig.build_shape_args is not None:
            inputs = self._convert_inputs(inputs)
            self._maybe_build_named(_named_shapes(sig, (inputs,) + rest, kwargs))
        inputs = self._prepare_inputs(inputs)
        if mask is not None:
            kwargs["mask"] = mask
        if training is None:
            training = getattr(_CALL_CONTEXT, "training", None)
        if _LOSSES.active:
            return _with_loss_scope(
                self, self._call_and_regularize, sig, inputs, rest, kwargs, training
            )
        return self._call_and_regularize(sig, inputs, rest, kwargs, training)

    def _call_and_regularize(self, sig, inputs, rest, kwargs, training):
        """``_run_call``, then the activity regularizer's penalty of each output added to the
        layer's losses, as Keras's ``__call__`` does (in training and at inference alike)."""
        outputs = self._run_call(sig, inputs, rest, kwargs, training)
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is not None and activity_losses_enabled():
            self.add_loss(activity_losses(regularizer, outputs))
        return outputs

    def _run_call(self, sig, inputs, rest, kwargs, training):
        if (
            _tapes.tapes
            and not rest
            and not kwargs
            and self._trains_by_kernel()
            and not sublayers_have_activity_regularizers(self)
        ):
            recorded = record_kernel_call(self, inputs, training)
            if recorded is not None:
                return recorded
        return self._invoke(sig, inputs, rest, kwargs, training)

    def _invoke(self, sig, inputs, rest, kwargs, training):
        """``self.call(inputs, *rest, **kwargs)``, with ``training`` if ``call`` takes it and it
        is not ``None``; layers called inside inherit ``training`` (Keras's call context)."""
        if training is not None:
            training = bool(training)
            if sig.accepts_training:
                kwargs["training"] = training
        outer = getattr(_CALL_CONTEXT, "training", None)
        if training is None or training is outer:
            return self.call(inputs, *rest, **kwargs)
        _CALL_CONTEXT.training = training
        try:
            return self.call(inputs, *rest, **kwargs)
        finally:
            _CALL_CONTEXT.training = outer

    def _call_with_training(self, inputs, training):
        """``call(inputs)`` with ``training`` passed as ``__call__`` passes it (for ``forward``)."""
        sig = type(self).__dict__.get("_call_signature_cache") or _call_signature(type(self))
        return self._invoke(sig, inputs, (), {}, training)

    def _maybe_build_named(self, shapes: dict) -> None:
        """``build(x_shape=..., y_shape=...)`` for a ``build`` taking the shape of each of
        several ``call`` arguments (Keras's convention: ``<argument>_shape``)."""
        if self.built:
            return
        with self._build_lock:
            if self.built:
                return
            self.build(**shapes)
            self.built = True
            # As Keras's, the build config records the shapes of the arguments given only.
            self._build_shapes_dict = {
                k: _shape_to_config(v) for k, v in shapes.items() if v is not None
            }

    def _prepare_inputs(self, inputs):
        """The call preamble, shared by every way of running a layer (``__call__``, a model's
        ``forward``, a fused inference step): ``inputs`` converted to the layer's dtype, the
        layer built for their shapes, and checked against its ``input_spec``."""
        inputs = self._convert_inputs(inputs)
        if not self.built or self._initial_weights is not None:
            self._maybe_build(_shapes_of(inputs))
        self._check_inputs(inputs)
        return inputs

    def _convert_inputs(self, inputs):
        if isinstance(inputs, np.ndarray) and inputs.dtype == self.dtype:
            return inputs
        if isinstance(inputs, Variable):  # a Variable a tape tracks: its leaf Tensor
            inputs = autodiff.tracked_value(inputs)
        if type(inputs) is Tensor:  # recorded on a GradientTape: cast as an op, keep the graph
            return inputs if inputs.dtype == self.dtype else ops_cast(inputs, self.dtype)
        if isinstance(inputs, (list, tuple)):
            return [self._convert_inputs(x) for x in inputs]
        if isinstance(inputs, dict):
            return {k: self._convert_inputs(v) for k, v in inputs.items()}
        if isinstance(inputs, _PYTHON_SCALARS):
            raise ValueError(_positional_message(inputs))
        try:
            return backend.to_float_array(inputs, self.dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Layer '{self.name}' expected a numeric array as input. Received: "
                f"{type(inputs).__name__} ({e})"
            ) from None

    def _check_inputs(self, inputs) -> None:
        specs = self.input_spec
        if specs is None:
            return
        if not isinstance(specs, (list, tuple)):
            specs = [specs]
        xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(xs) != len(specs):
            raise ValueError(
                f'Layer "{self.name}" expects {len(specs)} input(s), but it received '
                f"{len(xs)} input tensors."
            )
        for i, (x, spec) in enumerate(zip(xs, specs)):
            if spec is not None:
                spec.check(tuple(np.shape(x)), self.name, i)

    def call(self, inputs, training=False):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `call()` method implemented."
        )

    # -- training ---------------------------------------------------------------------------
    def forward(self, inputs, training=False):
        """Training forward pass: ``(outputs, cache)``; the default cache is the inputs."""
        return self._call_with_training(inputs, training), inputs

    def backward(self, dy, cache, need_dx=True):
        """Given ``dy = dL/doutputs`` and the cache from ``forward``, return ``(dx, grads)``.

        ``grads`` maps each of this layer's variables to its gradient. Layers without weights
        return an empty dict.
        """
        raise NotImplementedError(
            f"Layer {type(self).__name__} ('{self.name}') has no backward pass, so models that "
            "contain it cannot be trained."
        )

    def _call_with_ops(self, inputs, training=False):
        """For layers with a backward kernel: ``call`` written with ``ops``, which a tape can
        differentiate to any order; ``None`` when the layer has no such form."""
        return None

    def _trains_by_kernel(self) -> bool:
        """True when the layer trains through its own ``forward``/``backward`` pair (a
        hand-written kernel), which a ``GradientTape`` then records as one primitive."""
        return type(self).backward is not Layer.backward

    def output_logits(self, cache):
        """``(logits, "softmax" | "sigmoid")`` if this layer ends in one of those, else ``None``.

        Crossentropy losses use the logits as Keras does (computing from logits is exact and
        stable).
        """
        return None

    def backward_from_logits(self, dlogits, cache, need_dx=True):
        """``backward`` for a gradient taken with respect to ``output_logits(cache)``."""
        raise NotImplementedError

    # -- serialisation ----------------------------------------------------------------------
    def __reduce__(self):
        """``pickle`` and ``copy.deepcopy`` go through an in-memory ``.keras`` archive (config,
        build and compile configs, weights, optimizer variables), as in Keras 3: the copy is a
        fresh layer or model, as ``load_model`` would give it (see ``saving/pickling.py``)."""
        from numpykeras.saving.pickling import reduce_layer

        return reduce_layer(self)

    def get_config(self) -> dict:
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": self.dtype},
                "registered_name": None,
            },
        }
        if getattr(self, "activity_regularizer", None) is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        # As in Keras 3, an `input_shape=` given to a layer lives on the model's InputLayer.
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- inspection -------------------------------------------------------------------------
    def _input_shape_from_nodes(self):
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined input."
            )
        shapes = [t.shape for t in self._inbound_nodes[0].input_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined input."
            )
        tensors = self._inbound_nodes[0].input_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined output."
            )
        tensors = self._inbound_nodes[0].output_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# --------------------------------------------------------------------------- helpers


# Layer calls in progress in this thread: the `training` value nested calls inherit.
_CALL_CONTEXT = threading.local()


class _LossScope(threading.local):
    """``add_loss`` bookkeeping: once any layer has added a loss (``active``), the outermost
    layer call of a thread (``depth`` 0) clears the losses of the previous call first."""

    active = False  # class attribute: set for every thread by the first add_loss

    def __init__(self):
        self.depth = 0


_LOSSES = _LossScope()


def _with_loss_scope(layer, fn, *args):
    if _LOSSES.depth == 0:
        layer._clear_losses()
    _LOSSES.depth += 1
    try:
        return fn(*args)
    finally:
        _LOSSES.depth -= 1


def _track(owner, value, metrics=True) -> None:
    """Adds the layers, variables and metrics in ``value`` to ``owner``'s tracked lists (metrics
    only from public attributes: a model's compiled metrics live in private ones)."""
    from numpykeras.metrics import Metric

    if isinstance(value, Layer):
        tracked = owner.__dict__.setdefault("_tracked_layers", [])
        if not any(layer is value for layer in tracked):
            tracked.append(value)
    elif isinstance(value, Variable):
        lists = owner.__dict__.get("_trainable_vars"), owner.__dict__.get("_non_trainable_vars")
        if lists[0] is not None and not any(v is value for v in lists[0] + lists[1]):
            (lists[0] if value.trainable else lists[1]).append(value)
    elif isinstance(value, Metric):
        if not metrics:
            return
        tracked = owner.__dict__.setdefault("_tracked_metrics", [])
        if not any(m is value for m in tracked):
            tracked.append(value)
    elif isinstance(value, (list, tuple)) and value and len(value) < 10000:
        if any(isinstance(v, (Layer, Variable, Metric, list, tuple, dict)) for v in value):
            for v in value:
                _track(owner, v, metrics)
    elif isinstance(value, dict) and value:
        for v in value.values():
            if isinstance(v, (Layer, Variable, Metric, list, tuple, dict)):
                _track(owner, v, metrics)


def _all_sublayers(layer) -> list:
    """Every layer below ``layer`` (depth first, each once)."""
    out, seen, stack = [], {id(layer)}, list(reversed(layer._sublayers()))
    while stack:
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        out.append(sub)
        stack.extend(reversed(sub._sublayers()))
    return out


# Python values that are not tensors: never converted when passed positionally (Keras).
_PYTHON_SCALARS = (bool, int, float, complex, str, bytes)


class _CallSignature:
    """What a layer class's ``call`` (and ``build``) accept, inspected once per class.

    Attributes:
        first: the name of ``call``'s first argument (the inputs).
        accepts_training: ``call`` has a ``training`` argument (Keras passes ``training`` to
            no other ``call``, not even one with ``**kwargs``).
        accepts_mask: ``call`` has a ``mask`` argument or ``**kwargs``.
        arg_names: ``call``'s named arguments, in order.
        build_shape_args: ``None`` when ``build`` takes one shape (that of the first
            argument); else the names of its ``<argument>_shape`` parameters.
    """

    __slots__ = ("first", "accepts_training", "accepts_mask", "arg_names", "build_shape_args")

    def __init__(self, cls):
        params = _method_parameters(cls.call)
        named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        var_keyword = any(p.kind == p.VAR_KEYWORD for p in params)
        self.first = named[0] if named else "inputs"
        self.arg_names = named
        self.accepts_training = "training" in named
        self.accepts_mask = "mask" in named or var_keyword
        self.build_shape_args = None
        build_names = [
            p.name
            for p in _method_parameters(cls.build)
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if len(build_names) > 1:
            for name in build_names:
                if not name.endswith("_shape") or name[: -len("_shape")] not in named:
                    raise ValueError(
                        "For a `build()` method with more than one argument, all arguments "
                        "should have a `_shape` suffix and match an argument from `call()`. "
                        f"E.g. `build(self, foo_shape, bar_shape)` For layer '{cls.__name__}', "
                        f"received `build()` argument `{name}`, which does not match an "
                        f"argument of `call()` ({named})."
                    )
            self.build_shape_args = build_names


def _method_parameters(fn) -> list:
    """The parameters of an unbound method, without ``self``."""
    params = list(inspect.signature(fn).parameters.values())
    return params[1:] if params and params[0].kind != params[0].VAR_POSITIONAL else params


def _call_signature(cls) -> _CallSignature:
    """``cls``'s :class:`_CallSignature`, computed on first use and kept on the class."""
    sig = cls.__dict__.get("_call_signature_cache")
    if sig is None:
        sig = _CallSignature(cls)
        cls._call_signature_cache = sig
    return sig


def _positional_message(value) -> str:
    return (
        "Only input tensors may be passed as positional arguments. The following argument value "
        f"should be passed as a keyword argument: {value} (of type {type(value)})"
    )


def _check_positional_tensors(args) -> None:
    """Positional arguments after the first must be arrays (or ``None``), as in Keras."""
    for value in args:
        if isinstance(value, (list, tuple)):
            _check_positional_tensors(value)
        elif isinstance(value, dict):
            _check_positional_tensors(list(value.values()))
        elif isinstance(value, _PYTHON_SCALARS):
            raise ValueError(_positional_message(value))


def _autocast(value, dtype):
    """A further argument of a call: arrays (in lists, tuples, dicts) as NumPy arrays, floating
    ones in the layer's ``dtype``; integer and boolean arrays and other values as given (Keras
    casts only floating inputs)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_autocast(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _autocast(v, dtype) for k, v in value.items()}
    if isinstance(value, Variable):
        value = autodiff.tracked_value(value)
        if isinstance(value, Variable):
            value = value.value
    if type(value) is Tensor:
        kind = np.dtype(value.dtype).kind
        return value if kind != "f" or value.dtype == dtype else ops_cast(value, dtype)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != dtype:
        return value.astype(dtype)
    return value


def _named_shapes(sig, args, kwargs, shape_of=None) -> dict:
    """``{"<argument>_shape": shape}`` for a ``build`` taking several shapes (see
    :class:`_CallSignature`); arguments not given are ``None``. ``shape_of`` gives the shape
    (structure) of an argument; by default that of arrays, batch axis ``None``."""
    shape_of = shape_of or _shapes_of
    values = dict(zip(sig.arg_names, args))
    values.update(kwargs)
    shapes = {}
    for name in sig.build_shape_args:
        value = values.get(name[: -len("_shape")])
        shapes[name] = None if value is None else shape_of(value)
    return shapes


def _any_symbolic(inputs) -> bool:
    """Whether ``inputs`` (an array, a KerasTensor, or a list/tuple/dict of them) holds a
    ``KerasTensor``."""
    if type(inputs) is np.ndarray:
        return False
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple)):
        return any(_any_symbolic(x) for x in inputs)
    if isinstance(inputs, dict):
        return any(_any_symbolic(x) for x in inputs.values())
    return False


def _shapes_of(inputs):
    """The shape (structure) of arrays a layer is built for: their real shapes, as Keras
    builds a layer called eagerly; batch axis ``None`` inside :func:`unknown_batch`."""
    if isinstance(inputs, (list, tuple)):
        return [_shapes_of(x) for x in inputs]
    if isinstance(inputs, dict):
        return {k: _shapes_of(v) for k, v in inputs.items()}
    shape = tuple(int(d) for d in inputs.shape)
    if shape and getattr(_BUILD_STATE, "unknown_batch", False):
        return (None,) + shape[1:]
    return shape


_BUILD_STATE = threading.local()


@contextlib.contextmanager
def unknown_batch():
    """Within this block (in this thread), layers built by calls on arrays record batch size
    ``None`` (in ``build``'s shapes and the build config), not the arrays' batch size.

    For runs on stand-in arrays whose batch size means nothing: finding an output shape by
    running a layer on zeros, or building a subclassed model from a build config by running
    it on zeros, where Keras traces with the symbolic batch size ``None``.
    """
    previous = getattr(_BUILD_STATE, "unknown_batch", False)
    _BUILD_STATE.unknown_batch = True
    try:
        yield
    finally:
        _BUILD_STATE.unknown_batch = previous


def _recording_build(build):
    """``build`` wrapped as Keras wraps every layer's ``build``: called directly
    (``layer.build((None, 4))``) or by the first call, it records the shapes it received as
    the build config (``{"input_shape": (None, 4)}``) and marks the layer built. Only the
    outermost ``build`` of a layer records (a ``super().build(...)`` inside does not); a
    ``build`` that sets ``_build_shapes_dict`` itself keeps what it set."""
    signature = inspect.signature(build)

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        state = self.__dict__
        if state.get("_in_build"):
            return build(self, *args, **kwargs)
        previous = state.get("_build_shapes_dict")
        try:
            arguments = dict(signature.bind(self, *args, **kwargs).arguments)
        except TypeError:  # arguments `build` does not take: its own error
            return build(self, *args, **kwargs)
        arguments.pop(next(iter(signature.parameters)), None)  # `self`
        state["_build_shapes_dict"] = arguments
        state["_in_build"] = True
        try:
            build(self, *args, **kwargs)
        except BaseException:
            state["_build_shapes_dict"] = previous
            raise
        finally:
            state["_in_build"] = False
        self.built = True

    wrapper._records_build = True
    return wrapper


Layer.build = _recording_build(Layer.build)


def _shape_to_config(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_shape_to_config(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _shape_to_config(v) for k, v in shape.items()}
    return tuple(shape) if shape is not None else None


def _shape_from_config(shape):
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    if isinstance(shape, dict):
        return {k: tuple(v) for k, v in shape.items()}
    return tuple(shape)


def normalize_tuple(value, n, name, allow_zero=False) -> tuple:
    """``3`` -> ``(3, 3)``; validates positivity with Keras's wording."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value_tuple = (int(value),) * n
    else:
        try:
            value_tuple = tuple(value)
        except TypeError:
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
            ) from None
        if len(value_tuple) != n:
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}, "
                f"including element {value_tuple} of length {len(value_tuple)}"
            )
        for v in value_tuple:
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ValueError(
                    f"The `{name}` argument must be a tuple of {n} integers. "
                    f"Received {name}={value} including element {v} of type {type(v)}"
                )
        value_tuple = tuple(int(v) for v in value_tuple)
    bad = [v for v in value_tuple if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        req = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value} "
            f"including values {set(bad)} that do not satisfy `value {req}`"
        )
    return value_tuple


def normalize_padding(value, allowed=("valid", "same")) -> str:
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise ValueError(
        f"The `padding` argument must be a list/tuple or one of {set(allowed)}. Received: {value}"
    )


def normalize_data_format(value) -> str:
    if value is None:
        return "channels_last"
    value = str(value).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={value}"
        )
    return value


# --------------------------------------------------------------------------- layers on a tape


def ops_cast(x, dtype):
    from numpykeras.ops import core

    return core.cast(x, dtype)


def record_kernel_call(layer, inputs, training):
    """Runs ``layer`` on ``inputs`` under a recording ``GradientTape`` as one primitive.

    The layer's ``forward`` computes the outputs and the cache its hand-written ``backward``
    needs; the recorded VJP calls that ``backward``, giving the gradient of each input and of
    each of the layer's trainable variables. A Sequential or Functional model of such layers is
    recorded the same way, as one primitive, so ``fit`` and a custom ``train_step`` run the same
    fused kernels.

    Returns:
        The outputs (Tensors where differentiable), or ``None`` when no tape tracks the inputs
        or the variables (the caller then runs ``call`` on plain arrays).
    """
    tapes = _tapes.tapes
    live = {t._id for t in tapes}
    flat = autodiff.flatten(inputs)
    tracked = set()
    node_inputs = []
    for x in flat:
        if type(x) is Tensor:
            tracked |= x._node.tapes & live
        elif isinstance(x, (np.ndarray, Variable)):
            leaf = autodiff._leaf(x, tapes)
            if leaf is not None:
                x = leaf
                tracked |= leaf._node.tapes
        node_inputs.append(x)
    variables, leaves = [], []
    for v in layer.trainable_weights:
        leaf = autodiff._leaf(v, tapes)
        if leaf is not None:
            variables.append(v)
            leaves.append(leaf)
            tracked |= leaf._node.tapes
    if not tracked:
        return None
    values = [autodiff.unwrap(x) for x in node_inputs]
    structured = (
        autodiff.pack_as(inputs, values) if isinstance(inputs, (list, tuple, dict)) else values[0]
    )
    out, cache = layer.forward(structured, training=bool(training))
    outs = autodiff.flatten(out)
    need_dx = any(type(x) is Tensor for x in node_inputs)
    all_inputs = tuple(node_inputs) + tuple(leaves)
    several_inputs = isinstance(inputs, (list, tuple, dict))
    tracked = frozenset(tracked)

    def make_vjp(i):
        def vjp(g, ans, *xs):
            if _tapes.tapes and _recorded_by_live_tape((g,) + xs):
                # The gradient itself is being recorded (a gradient penalty): differentiate the
                # layer's ops form instead, so that an outer tape sees how it was computed.
                recorded = _recorded_vjp(layer, inputs, xs, len(node_inputs), variables, i, g)
                if recorded is not None:
                    return recorded
                _warn_second_order(layer)
            g = np.asarray(autodiff.unwrap(g))
            if len(outs) == 1:
                dy = g
            else:  # one output's gradient; the others get zeros (backward is linear in dy)
                dy = autodiff.pack_as(
                    out, [g if j == i else np.zeros_like(o) for j, o in enumerate(outs)]
                )
            dx, grads = layer.backward(dy, cache, need_dx=need_dx)
            if not need_dx:
                dxs = [None] * len(node_inputs)
            elif several_inputs:
                dxs = list(autodiff.flatten(dx)) if not isinstance(dx, list) else dx
            else:
                dxs = [dx]
            return list(dxs) + [grads.get(v) for v in variables]

        return vjp

    fusable = layer.output_logits(cache) if len(outs) == 1 else None
    if fusable is not None:
        # A final softmax/sigmoid: record the logits with the kernel's backward_from_logits and
        # the activation as its own op, so that a crossentropy computes from the logits (as
        # Keras's TensorFlow backend does) and differentiates into the kernel directly.
        return _record_with_logits(
            layer,
            out,
            cache,
            fusable,
            all_inputs,
            tracked,
            need_dx,
            several_inputs,
            len(node_inputs),
            variables,
        )
    results = []
    for i, o in enumerate(outs):
        o = np.asarray(o)
        if o.dtype.kind == "f":
            results.append(Tensor(o, autodiff.Node(make_vjp(i), all_inputs, {}, tracked)))
        else:
            results.append(o)
    if isinstance(out, (list, tuple, dict)):
        return autodiff.pack_as(out, results)
    return results[0]


def keras_logits(y):
    """``(logits, activation)`` recorded for a Tensor that a final softmax/sigmoid produced on a
    tape (Keras's ``_keras_logits``), else ``None``."""
    return autodiff.keras_logits(y)


def _record_with_logits(
    layer, out, cache, fusable, all_inputs, tracked, need_dx, several_inputs, n_inputs, variables
):
    logits, activation = fusable

    def logits_vjp(g, ans, *xs):
        if _tapes.tapes and _recorded_by_live_tape((g,) + xs):
            _warn_second_order(layer)
        dx, grads = layer.backward_from_logits(
            np.asarray(autodiff.unwrap(g)), cache, need_dx=need_dx
        )
        if not need_dx:
            dxs = [None] * n_inputs
        elif several_inputs:
            dxs = list(autodiff.flatten(dx)) if not isinstance(dx, list) else dx
        else:
            dxs = [dx]
        return list(dxs) + [grads.get(v) for v in variables]

    z = Tensor(np.asarray(logits), autodiff.Node(logits_vjp, all_inputs, {}, tracked))
    y = Tensor(np.asarray(out), autodiff.Node(_activation_vjp, (z,), {"kind": activation}, tracked))
    return autodiff.set_keras_logits(y, z, activation)


def _activation_vjp(g, ans, z, kind):
    from numpykeras.ops import numpy as np_ops

    if kind == "softmax":
        return (ans * (g - np_ops.sum(g * ans, axis=-1, keepdims=True)),)
    return (g * ans * (1.0 - ans),)


_warned_second_order: set = set()


def _recorded_by_live_tape(xs) -> bool:
    live = {t._id for t in _tapes.tapes}
    return any(type(x) is Tensor and x._node.tapes & live for x in xs)


def _recorded_vjp(layer, inputs, xs, n_inputs, variables, index, g):
    """The VJP of output ``index`` computed through ``layer._call_with_ops`` on a nested tape,
    so the recording outer tapes see it; ``None`` when the layer has no ops form."""
    xs_in = list(xs[:n_inputs])
    structured = (
        autodiff.pack_as(inputs, xs_in) if isinstance(inputs, (list, tuple, dict)) else xs_in[0]
    )
    with autodiff.GradientTape() as inner:
        for x in xs_in:
            if type(x) is Tensor:
                inner.watch(x)
        for v in variables:
            inner.watch(v)
        y = layer._call_with_ops(structured, training=False)
    if y is None:
        return None
    target = autodiff.flatten(y)[index]
    sources = [x if type(x) is Tensor else np.zeros(0) for x in xs_in] + list(variables)
    grads = inner.gradient(target, sources, output_gradients=g)
    return [gx if type(x) is Tensor else None for x, gx in zip(xs_in, grads)] + list(
        grads[n_inputs:]
    )


def _warn_second_order(layer) -> None:
    """A hand-written backward returns plain arrays: a tape still recording while this gradient
    is computed (a gradient penalty, WGAN-GP) gets no second derivative through the layer."""
    if type(layer) not in _warned_second_order:
        import warnings

        _warned_second_order.add(type(layer))
        warnings.warn(
            f"The gradient of layer '{layer.name}' ({type(layer).__name__}) is computed by its "
            "hand-written backward kernel, which a recording GradientTape cannot differentiate "
            "again: second-order gradients through this layer are taken as zero.",
            stacklevel=2,
        )


def record_regularization(regularizer, variable):
    """``regularizer(variable)`` as a scalar, recorded on a tape with its gradient: the
    regularizer's own ``gradient`` for a built-in one (``_has_own_gradient``); any other
    callable gets the variable itself, as in Keras, and its ops on it record themselves."""
    if not _has_own_gradient(regularizer):
        penalty = regularizer(variable)
        return penalty if type(penalty) is Tensor else np.asarray(penalty, dtype=variable.dtype)
    value = np.asarray(regularizer(variable.value), dtype=variable.dtype)
    if not _tapes.tapes:
        return value
    leaf = autodiff._leaf(variable, _tapes.tapes)
    if leaf is None:
        return value
    grad = np.asarray(regularizer.gradient(variable.value), dtype=variable.dtype)

    def vjp(g, ans, x):
        return (grad * autodiff.unwrap(g),)

    return Tensor(value, autodiff.Node(vjp, (leaf,), {}, leaf._node.tapes))


# --------------------------------------------------------------------------- activity regularizers
#
# Keras's `Layer.__call__` adds `activity_regularizer(output) / batch_size` (no division for an
# output without a batch axis; 0 for an empty batch) to the layer's losses for every output
# tensor of every call, training or not. `Layer.__call__` does the same here (`activity_losses`);
# the fused training step, which runs `forward`/`backward` without `__call__`, takes each
# penalty and its gradient with respect to the output from `activity_penalty_and_gradient` (see
# `models/functional.py`'s `KernelTape`).


class _ActivityState(threading.local):
    off = 0  # > 0 inside `without_activity_losses` (in this thread)


_ACTIVITY = _ActivityState()


def activity_losses_enabled() -> bool:
    return _ACTIVITY.off == 0


def without_activity_losses(fn):
    """Decorator: ``fn`` runs with the activity regularizers off in this thread (``predict``:
    it returns outputs only, and keeps nothing on the layers)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _ACTIVITY.off += 1
        try:
            return fn(*args, **kwargs)
        finally:
            _ACTIVITY.off -= 1

    return wrapper


def has_activity_regularizers(layer) -> bool:
    """Whether ``layer`` or a layer below it has an activity regularizer."""
    if getattr(layer, "activity_regularizer", None) is not None:
        return True
    return sublayers_have_activity_regularizers(layer)


def sublayers_have_activity_regularizers(layer) -> bool:
    """Whether a layer below ``layer`` has one: a model of such layers is then not recorded on a
    tape as one primitive (its ``forward`` runs its layers without ``__call__``), but layer by
    layer, each adding its penalties."""
    if not layer._sublayers():
        return False
    return any(
        getattr(sub, "activity_regularizer", None) is not None for sub in _all_sublayers(layer)
    )


def _has_own_gradient(regularizer) -> bool:
    """Whether ``regularizer.gradient`` is written for its ``__call__``: a built-in
    regularizer, or a subclass that overrides both. A subclass of ``L2`` overriding only
    ``__call__`` (or any other callable) is differentiated through its ops instead."""
    if not isinstance(regularizer, regularizers.Regularizer):
        return False
    mro = type(regularizer).__mro__
    call_owner = next(c for c in mro if "__call__" in c.__dict__)
    grad_owner = next(c for c in mro if "gradient" in c.__dict__)
    return grad_owner is not regularizers.Regularizer and issubclass(grad_owner, call_owner)


def _batch_of(y):
    """The batch size an output's penalty is divided by, or ``None`` for a scalar output."""
    return int(y.shape[0]) if y.ndim else None


def _float_type(y):
    kind = np.dtype(y.dtype)
    return kind.type if kind.kind == "f" else np.float32


@autodiff.primitive
def _scaled_penalty(y, regularizer=None, batch=None):
    """``regularizer(y) / batch`` in ``y``'s dtype (``batch`` ``None``: not divided)."""
    dtype = _float_type(y)
    value = dtype(regularizer(y))
    return value if batch is None else value / dtype(batch)


@_scaled_penalty.defvjp
def _scaled_penalty_vjp(g, ans, y, regularizer=None, batch=None):
    y = autodiff.unwrap(y)
    dtype = _float_type(y)
    scale = np.asarray(autodiff.unwrap(g), dtype=dtype)
    if batch is not None:
        scale = scale / dtype(batch)
    return (np.asarray(regularizer.gradient(y), dtype=dtype) * scale,)


def activity_penalty(regularizer, y):
    """Keras's activity loss of one output ``y`` (an array, or a Tensor on a recording tape):
    ``regularizer(y) / batch_size``, recorded with its gradient where ``y`` is."""
    batch = _batch_of(y)
    if batch == 0:
        return np.float32(0.0)  # Keras's divide_no_nan
    if _has_own_gradient(regularizer):
        return _scaled_penalty(y, regularizer=regularizer, batch=batch)
    value = regularizer(y)  # a custom callable: ops on the Tensor record themselves
    return value if batch is None else value / _float_type(y)(batch)


def activity_losses(regularizer, outputs) -> list:
    """The penalties of each floating output of one call (Keras: every output tensor)."""
    losses = []
    for y in autodiff.flatten(outputs):
        if isinstance(y, (np.ndarray, Tensor)) and np.dtype(y.dtype).kind == "f":
            losses.append(activity_penalty(regularizer, y))
    return losses


def penalty_and_gradient(regularizer, x):
    """``(penalty, d penalty / d x)`` of an array or a ``Variable`` ``x``, without an outer
    tape (the fused training step): the regularizer's own ``gradient`` for the built-in ones
    (``_has_own_gradient``), else a small ``GradientTape`` over the callable (given the
    ``Variable`` itself, as Keras gives it). The penalty is a scalar of ``x``'s dtype."""
    value = x.value if isinstance(x, Variable) else np.asarray(x)
    dtype = value.dtype.type
    if _has_own_gradient(regularizer):
        penalty = dtype(regularizer(value))
        return penalty, np.asarray(regularizer.gradient(value), dtype=value.dtype)
    with autodiff.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        penalty = regularizer(x)
    grad = tape.gradient(penalty, x) if type(penalty) is Tensor else None
    grad = np.zeros_like(value) if grad is None else np.asarray(autodiff.unwrap(grad))
    return dtype(np.sum(autodiff.unwrap(penalty))), grad.astype(value.dtype, copy=False)


def activity_penalty_and_gradient(regularizer, y):
    """``(penalty, d penalty / d y)`` of one output array ``y``, for kernels that run
    ``forward``/``backward`` themselves (``penalty_and_gradient``, divided by the batch size)."""
    y = np.asarray(y)
    batch = _batch_of(y)
    if batch == 0:
        return 0.0, np.zeros_like(y)
    dtype = y.dtype.type
    value, grad = penalty_and_gradient(regularizer, y)
    if batch is not None:
        value = value / dtype(batch)
        grad = grad / dtype(batch)
    return float(value), grad
