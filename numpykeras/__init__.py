"""numpykeras: the Keras API, running and training on NumPy alone.

``from numpykeras import layers, models`` in place of
``from tensorflow.keras import layers, models``; or ``import numpykeras as keras``.
"""

__version__ = "0.1.0"

from numpykeras import (  # noqa: E402
    activations,
    backend,
    constraints,
    initializers,
    layers,
    models,
    regularizers,
    saving,
)
from numpykeras.backend import Variable  # noqa: E402
from numpykeras.layers import Input, InputLayer, Layer  # noqa: E402
from numpykeras.models import Model, Sequential  # noqa: E402
from numpykeras.ops.autodiff import GradientTape  # noqa: E402


def __getattr__(name):
    # Submodules that pull in more code are imported on first use, keeping `import numpykeras` fast.
    import importlib

    if name in {
        "applications",
        "losses",
        "metrics",
        "optimizers",
        "callbacks",
        "datasets",
        "utils",
        "ops",
        "preprocessing",
        "random",
        "wrappers",
    }:
        module = importlib.import_module(f"numpykeras.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'numpykeras' has no attribute '{name}'")


__all__ = [
    "activations",
    "applications",
    "backend",
    "callbacks",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "saving",
    "utils",
    "Input",
    "InputLayer",
    "Layer",
    "Model",
    "Sequential",
    "Variable",
    "GradientTape",
    "ops",
    "preprocessing",
    "random",
    "wrappers",
]
