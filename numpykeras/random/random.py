"""Random draws with Keras's signatures. Values come from NumPy's generators, so they differ from
TensorFlow's for the same seed; distributions, shapes and dtypes match."""

from __future__ import annotations

import numpy as np

from numpykeras.ops import dtypes
from numpykeras.ops import numpy as nops
from numpykeras.ops.autodiff import unwrap
from numpykeras.random.seed_generator import draw_generator


def _float_dtype(dtype):
    dtype = dtypes.standardize_dtype(dtype)
    if not dtypes.is_float(dtype):
        raise ValueError(f"`dtype` must be a float dtype. Received: dtype={dtype}")
    return dtype


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution ``N(mean, stddev**2)``."""
    dtype = _float_dtype(dtype)
    rng = draw_generator(seed)
    return (rng.standard_normal(_shape(shape)) * stddev + mean).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from the uniform distribution on ``[minval, maxval)``."""
    dtype = _float_dtype(dtype)
    rng = draw_generator(seed)
    return rng.uniform(minval, maxval, _shape(shape)).astype(dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws beyond two standard deviations redrawn."""
    dtype = _float_dtype(dtype)
    rng = draw_generator(seed)
    z = rng.standard_normal(_shape(shape))
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return (z * stddev + mean).astype(dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from ``[minval, maxval)``."""
    dtype = dtypes.standardize_dtype(dtype)
    if "int" not in dtype:
        raise ValueError(f"`dtype` must be an integer dtype. Received: dtype={dtype}")
    rng = draw_generator(seed)
    return rng.integers(minval, maxval, _shape(shape)).astype(dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes)."""
    logits = np.asarray(unwrap(logits), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(
            f"`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
            f"Received: logits.shape={logits.shape}"
        )
    rng = draw_generator(seed)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)  # (batch, classes)
    u = rng.random((logits.shape[0], int(num_samples)))
    out = np.minimum((u[:, :, None] > cdf[:, None, :]).sum(-1), logits.shape[1] - 1)
    return out.astype(dtypes.standardize_dtype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs / (1 - rate)`` where a uniform draw keeps them, else 0 (differentiable in
    ``inputs``)."""
    if not 0 <= rate < 1:
        raise ValueError(f"`rate` must be in [0, 1). Received: rate={rate}")
    shape = (
        np.shape(unwrap(inputs))
        if noise_shape is None
        else tuple(
            np.shape(unwrap(inputs))[i] if n is None else n for i, n in enumerate(noise_shape)
        )
    )
    keep = draw_generator(seed).random(shape) >= rate
    return nops.where(keep, nops.divide(inputs, 1.0 - rate), 0.0)


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` permuted."""
    n = np.shape(unwrap(x))[axis]
    return nops.take(x, draw_generator(seed).permutation(n), axis=axis)


def gamma(shape, alpha, dtype=None, seed=None):
    """Draws from a gamma distribution of shape ``alpha`` and scale 1."""
    dtype = _float_dtype(dtype)
    return draw_generator(seed).gamma(alpha, 1.0, _shape(shape)).astype(dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Draws from a beta distribution."""
    dtype = _float_dtype(dtype)
    return draw_generator(seed).beta(alpha, beta, _shape(shape)).astype(dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Draws from a binomial distribution (as floats, like Keras)."""
    dtype = _float_dtype(dtype)
    rng = draw_generator(seed)
    return rng.binomial(np.asarray(counts), np.asarray(probabilities), _shape(shape)).astype(dtype)
