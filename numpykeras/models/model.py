"""``Model``: a layer made of layers, with ``summary`` and saving; training (``compile``, ``fit``,
``evaluate``, ``predict`` and their steps) comes from ``trainers/trainer.py``'s ``Trainer``, as in
Keras 3."""

from __future__ import annotations

import contextlib
import inspect
import json
import warnings

import numpy as np

from numpykeras.layers.layer import Layer
from numpykeras.trainers.trainer import Trainer


class Model(Trainer, Layer):
    """A model groups layers into an object with training and inference features.

    ``Model(inputs, outputs)`` builds a Functional model (a graph of layers); ``Sequential`` is the
    simplest case. Compile with an optimizer, a loss and metrics, then ``fit``, ``evaluate`` and
    ``predict`` on NumPy arrays.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_init_arguments(args, kwargs):
            from numpykeras.models.functional import Functional

            # Python then runs Functional.__init__ with the same arguments.
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, trainable=True, name=None, **kwargs):
        if _functional_init_arguments(args, kwargs):
            # A subclass of Model given `inputs` and `outputs` (`super().__init__(inputs=...,
            # outputs=...)` in its `__init__`, or `MyModel(inputs, outputs)`) becomes a
            # subclass of Functional, as in Keras 3.
            from numpykeras.models.functional import Functional

            _inject_functional_class(type(self))
            Functional.__init__(self, *args, trainable=trainable, name=name, **kwargs)
            return
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                "A functional model needs both `inputs` and `outputs`: `Model(inputs, outputs)` "
                f"or `Model(inputs=..., outputs=...)`. Received {len(args)} positional "
                f"argument(s) and keyword arguments {sorted(kwargs)}."
            )
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._loss_tracker = None
        self._spec = None  # CompileSpec: the compiled losses and metrics, matched to the outputs

    @property
    def layers(self) -> list:
        """The layers assigned to the model's attributes, in assignment order (a subclassed
        model); Sequential and Functional list their graph's layers."""
        return self._sublayers()

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
                f"No such layer: {name}. Existing layers are: "
                f"{[layer.name for layer in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _check_inputs(self, inputs):
        layers = getattr(self, "_layers", None)
        from numpykeras.layers.input_layer import InputLayer

        if layers and isinstance(layers[0], InputLayer) and hasattr(self, "_check_model_input"):
            if isinstance(inputs, np.ndarray):
                self._check_model_input(inputs)

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Prints a table of the layers, their output shapes and parameter counts (Keras 3
        layout)."""
        from numpykeras.models.summary import print_summary

        print_summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            show_trainable=show_trainable,
        )

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

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A model from its ``get_config()``: a functional config (``layers``,
        ``input_layers``, ``output_layers``) rebuilds the graph, as in Keras; any other config
        is passed to the class's constructor."""
        from numpykeras.models.functional import Functional, functional_from_config

        functional_keys = ("name", "layers", "input_layers", "output_layers")
        if all(key in config for key in functional_keys):
            init = inspect.getfullargspec(cls.__init__)
            functional_args = inspect.getfullargspec(Functional.__init__).args[1:]
            if (
                cls in (Model, Functional)
                or init.args[1:] == functional_args
                or (init.varargs == "args" and init.varkw == "kwargs")
            ):
                return functional_from_config(cls, config, custom_objects=custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Unable to revive model from config. When overriding the `get_config()` "
                f"method, make sure that the returned config contains all items used as "
                f"arguments in the constructor to {cls}, which is the default behavior. You "
                f"can override this default behavior by defining a `from_config(cls, config)` "
                f"class method to specify how to create an instance of {cls.__name__} from "
                f"its config.\n\nReceived config={config}\n\nError encountered during "
                f"deserialization: {e}"
            ) from e

    def build_from_config(self, config) -> None:
        """Build from ``get_build_config()``'s dict. A subclassed model that does not override
        ``build`` is built as Keras builds it: by running its ``call`` once (here on zeros of
        the saved input shapes, batch size 1, in inference mode), which builds its layers; it
        warns and stays unbuilt when that run fails."""
        if not config or not is_subclassed_model(self) or type(self).build is not Layer.build:
            return super().build_from_config(config)
        from numpykeras.layers.layer import _shape_from_config, unknown_batch

        shapes = config.get("input_shape")
        if shapes is None:
            return super().build_from_config(config)
        shapes = _shape_from_config(shapes)

        def zeros(shape):
            return np.zeros(tuple(1 if d is None else d for d in shape), dtype=self.dtype)

        if isinstance(shapes, dict):
            inputs = {k: zeros(v) for k, v in shapes.items()}
        elif isinstance(shapes, list):
            inputs = [zeros(v) for v in shapes]
        else:
            inputs = zeros(shapes)
        # Zeros stand in for a batch size the config leaves unknown: layers the run builds
        # record `None` there, as Keras's symbolic build does.
        unknown = _first_dim_unknown(shapes)
        try:
            with unknown_batch() if unknown else contextlib.nullcontext():
                self(inputs, training=False)
        except Exception as e:  # any failure of the user's `call` means "not built"
            self.built = False
            warnings.warn(
                f"Model '{self.name}' had a build config, but the model cannot be built "
                "automatically in `build_from_config(config)`: running its `call` on inputs "
                f"of shape {shapes} failed ({type(e).__name__}: {e}). You should implement "
                "`def build_from_config(self, config)` (and `def get_build_config(self)`).",
                stacklevel=2,
            )
            return
        self._build_shapes_dict = dict(config)

    def _summary_rows(self):
        return [(layer, None, None) for layer in self.layers]


def _first_dim_unknown(shapes) -> bool:
    """Whether a shape (or list or dict of shapes) has an unknown (``None``) batch size."""
    if isinstance(shapes, dict):
        shapes = list(shapes.values())
    if isinstance(shapes, list):
        return any(_first_dim_unknown(s) for s in shapes)
    return bool(shapes) and shapes[0] is None


def is_subclassed_model(model) -> bool:
    """Whether ``model`` is a subclassed model (a ``Model`` that is neither Sequential nor
    Functional, whose layers come from its attributes and whose ``call`` is Python code)."""
    from numpykeras.models.functional import Functional
    from numpykeras.models.sequential import Sequential

    return isinstance(model, Model) and not isinstance(model, (Functional, Sequential))


def _functional_init_arguments(args, kwargs) -> bool:
    """Whether ``Model(...)`` was given ``inputs`` and ``outputs`` (Keras's test)."""
    return (
        len(args) == 2
        or (len(args) == 1 and "outputs" in kwargs)
        or ("inputs" in kwargs and "outputs" in kwargs)
    )


def _inject_functional_class(cls):
    """Put ``Functional`` in place of ``Model`` among the bases of ``cls`` (and of its bases),
    as Keras 3 does for a ``Model`` subclass built from ``inputs`` and ``outputs``."""
    from numpykeras.models.functional import Functional

    if cls is Model:
        return Functional
    if cls is object or issubclass(cls, Functional) or not issubclass(cls, Model):
        return cls
    cls.__bases__ = tuple(_inject_functional_class(base) for base in cls.__bases__)
    return cls


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
