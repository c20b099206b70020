"""``StackedRNNCells``: several cells run as one, each feeding the next at every step."""

from __future__ import annotations

from numpykeras.layers.layer import Layer, name_scope


class StackedRNNCells(Layer):
    """Wraps a list of cells so that ``RNN`` runs them as one deep cell.

    At each step cell ``k`` takes cell ``k-1``'s output; the states are the cells' states in
    order (``state_size`` lists them), and the output is the last cell's.

    Args:
        cells: a list of cells.

    Input shape:
        ``inputs`` ``(batch_size, input_dim)``, ``states`` one entry per cell.

    Output shape:
        ``(output, new_states)``.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if "call" not in dir(cell) or not hasattr(cell, "state_size"):
                raise ValueError(
                    "All cells must have a `call` method and a `state_size` attribute. "
                    f"Received cells={cells}"
                )
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is not None:
            return size
        return last.state_size[0] if isinstance(last.state_size, (list, tuple)) else last.state_size

    def get_initial_state(self, batch_size=None):
        import numpy as np

        states = []
        for cell in self.cells:
            get = getattr(cell, "get_initial_state", None)
            if get is not None:
                state = get(batch_size=batch_size)
            else:
                sizes = (
                    cell.state_size
                    if isinstance(cell.state_size, (list, tuple))
                    else [cell.state_size]
                )
                state = [np.zeros((batch_size, d), dtype=self.dtype) for d in sizes]
            if not isinstance(cell.state_size, (list, tuple)) and isinstance(state, (list, tuple)):
                state = state[0]
            states.append(state)
        return states

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                with name_scope(self.name):
                    cell._maybe_build(shape)
            out = getattr(cell, "output_size", None)
            if out is None:
                out = (
                    cell.state_size[0]
                    if isinstance(cell.state_size, (list, tuple))
                    else cell.state_size
                )
            shape = shape[:-1] + (out,)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            nested = isinstance(cell.state_size, (list, tuple))
            state = list(state) if nested and isinstance(state, (list, tuple)) else state
            if not nested and isinstance(state, (list, tuple)):
                state = state[0]
            inputs, state = cell(inputs, state, training=training)
            if not nested and isinstance(state, (list, tuple)):
                state = state[0]
            new_states.append(state)
        return inputs, new_states

    def _saveable_children(self):
        """Where Keras saves the cells' weights: ``cells/<snake_case class name>[_k]``."""
        from numpykeras.saving.keras_v3 import to_snake_case

        used, out = {}, []
        for cell in self.cells:
            if not isinstance(cell, Layer):
                continue
            base = to_snake_case(type(cell).__name__)
            used[base] = used.get(base, -1) + 1
            out.append((f"cells/{base}" + (f"_{used[base]}" if used[base] else ""), cell))
        return out

    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["cells"] = [serialize_keras_object(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numpykeras.saving.serialization import deserialize_layer

        config = dict(config)
        cells = [
            deserialize_layer(c, custom_objects=custom_objects, build=False)
            for c in config.pop("cells")
        ]
        return cls(cells, **config)
