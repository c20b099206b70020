"""``SeedGenerator``: a seed whose state advances with each draw, as ``keras.random``'s.

Keras's random functions are stateless: ``seed=42`` gives the same values on every call. A
:class:`SeedGenerator` gives a new stream per draw while staying reproducible: its state is
``[seed, counter]`` and each draw uses a NumPy generator seeded with that pair, then advances the
counter. ``seed=None`` draws from numpykeras's global generator (reseeded by
``utils.set_random_seed``).
"""

from __future__ import annotations

import itertools

import numpy as np

from numpykeras import backend

_names = itertools.count()


class SeedGenerator:
    """A reproducible source of seeds for ``numpykeras.random`` functions.

    Args:
        seed: an int (a random one when None).
        name: optional name.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        n = next(_names)
        self.name = name or ("seed_generator" if n == 0 else f"seed_generator_{n}")
        self._initial_seed = seed
        if seed is None:
            seed = int(backend.global_generator().integers(0, 2**31 - 1))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = backend.Variable(
            np.array([seed, 0], dtype="int64"),
            name="seed_generator_state",
            trainable=False,
            dtype="int64",
        )

    def next(self, ordered=True) -> np.random.Generator:
        """A generator for the current state; advances the state."""
        seed, counter = (int(v) for v in self.state.value)
        self.state.value[1] += 1
        return np.random.default_rng([seed & 0xFFFFFFFF, counter])

    def get_config(self) -> dict:
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def draw_generator(seed) -> np.random.Generator:
    """The generator for a ``seed`` argument: an int (the same stream each call), a
    :class:`SeedGenerator` (advanced), or None (the global generator)."""
    if seed is None:
        return backend.global_generator()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    if isinstance(seed, np.random.Generator):
        return seed
    raise ValueError(
        "Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
        f"Received: seed={seed} (of type {type(seed)})"
    )
