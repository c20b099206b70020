"""All numerical tolerances used by the test suite, in one place.

Conformance tests compare numpykeras with TensorFlow/Keras; unit tests compare fast kernels with
plain loops and analytic gradients with finite differences. Never widen a value here to make a
failure pass.
"""

import numpy as np

# Forward outputs vs TensorFlow (float32): absolute, or relative for large values.
FORWARD_ATOL = 1e-5
FORWARD_RTOL = 1e-5

# Gradients (dx and weight gradients) vs tf.GradientTape, float32 accumulation over many terms.
GRAD_ATOL = 1e-4
GRAD_RTOL = 1e-4

# Optimizer updates vs Keras optimizers over 10 steps.
OPTIMIZER_ATOL = 1e-6
OPTIMIZER_RTOL = 1e-5

# Loss and metric values vs Keras.
LOSS_ATOL = 1e-6
LOSS_RTOL = 1e-5

# Whole training runs vs Keras (Keras's own cross-backend numerical tests use 1e-3).
TRAINING_ATOL = 1e-3
TRAINING_RTOL = 1e-3

# Whole pretrained-architecture forward passes (50+ float32 layers) vs Keras, relative to the
# largest output magnitude.
APPLICATIONS_RTOL = 1e-4

# Fast kernels vs plain-loop reference implementations, float64 inputs.
REFERENCE_ATOL = 1e-10
REFERENCE_RTOL = 1e-10

# Central finite differences in float64.
FINITE_DIFF_EPS = 1e-6
FINITE_DIFF_ATOL = 1e-6
FINITE_DIFF_RTOL = 1e-5

# Weights that go through a file and back: bit-identical.
FILE_ROUND_TRIP_ATOL = 0.0

# Empirical mean / std of random initializer draws vs their analytic values, in standard errors
# of the estimate (fixed seeds, so the tests are deterministic; 6 sigma would fail by chance ~1e-9).
SAMPLE_STATS_SIGMAS = 6.0


def assert_close(actual, expected, atol, rtol, what=""):
    """``|a - e| <= atol + rtol * |e|`` elementwise, with a message naming what differed."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)


def assert_forward_close(actual, expected, what="forward"):
    assert_close(actual, expected, FORWARD_ATOL, FORWARD_RTOL, what)


def assert_grad_close(actual, expected, what="gradient"):
    assert_close(actual, expected, GRAD_ATOL, GRAD_RTOL, what)
