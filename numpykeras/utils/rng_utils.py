"""``set_random_seed``: one call that makes a numpykeras program reproducible."""

from __future__ import annotations

import random

import numpy as np

from numpykeras import backend

__all__ = ["get_random_seed", "set_random_seed"]

_GLOBAL_RANDOM_SEED = None


def set_random_seed(seed):
    """Seed every random generator numpykeras and the user's code typically use.

    Seeds Python's ``random``, NumPy's legacy global state (``np.random.seed``) and numpykeras's
    global generator (``backend.set_seed``), which initializers without a seed, dropout and
    shuffling draw from.

    Args:
        seed: a Python integer.

    Raises:
        ValueError: if ``seed`` is not a Python ``int``.
    """
    if not isinstance(seed, int):
        raise ValueError(  # noqa: TRY004  Keras raises ValueError
            "Expected `seed` argument to be an integer. "
            f"Received: seed={seed} (of type {type(seed)})"
        )
    global _GLOBAL_RANDOM_SEED
    _GLOBAL_RANDOM_SEED = seed
    random.seed(seed)
    np.random.seed(seed)
    backend.set_seed(seed)


def get_random_seed():
    """The seed last passed to :func:`set_random_seed`, or ``None``."""
    return _GLOBAL_RANDOM_SEED
