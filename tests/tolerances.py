"""All numerical tolerances used by the test suite, in one place, each derived from float32 error
analysis. Never widen a value here to make a failure pass.

The error model
---------------
``U = 2**-24`` is the unit roundoff of float32: every correctly rounded operation returns
``x (1 + d)`` with ``|d| <= U``. A sum of ``n`` terms ``t_i`` evaluated in some order rounds each
partial sum ``s_k``, so its error is ``sum_k d_k s_k`` (plus ``d_i t_i`` for the products when no
fused multiply-add is used). Whichever order and kernel OpenBLAS, Eigen or oneDNN picks on an
Intel or AMD CPU, the bound therefore scales with the size of the terms summed and the length of
the reduction, not with the size of the result: a logit of -0.23 that is the sum of 1,024 terms
of size 80 carries their rounding.

The worst case, ``|error| <= n U sum|t_i|`` (Higham, *Accuracy and Stability of Numerical
Algorithms*, Lemma 3.1), compounds through a network to bounds millions of times the real
differences (150 on logits of size 80 that differ by 3e-5), which no wrong result could exceed.
So the suite uses the probabilistic model of Higham and Mary (SIAM J. Sci. Comput. 41(5), 2019):
the ``d_k`` are independent with mean zero. Then, by Hoeffding's inequality, one evaluation's
error exceeds ``LAMBDA * sigma`` with probability at most ``2 exp(-LAMBDA**2 / 2)``, where
``sigma**2 = U**2 (sum_k s_k**2 + sum_i t_i**2)`` (``reduction_sigma``). With ``LAMBDA = 7`` that
is 4.6e-11 per compared element. The partial sums of random-signed terms grow like a random walk
with drift ``mean(t)``: ``E s_k**2 = k var(t) + k**2 mean(t)**2``, which gives ``sum_k s_k**2``
from the number of terms, the sum of their squares and their sum (the exact result).

Errors of independent roundings add in quadrature (a linear map ``W`` takes the input errors'
``sigma**2`` to ``W**2 sigma**2``). Two float32 implementations (numpykeras and TensorFlow) round
independently, so their difference has ``sigma * sqrt(2)`` (``COMPARED``).

Elementwise functions (exp, log, tanh, sqrt, division) are not correctly rounded in every libm;
glibc, Eigen and NumPy's SIMD loops are within ``ELEMENTWISE_ULPS`` units in the last place: a
bounded error, which enters ``sigma`` as its bound (a bounded variable is sub-Gaussian with that
scale).

Bounds for whole models are propagated layer by layer with these primitives by
``tests/conformance/error_bounds.py``.
"""

import numpy as np

# --------------------------------------------------------------------------- the model

U = 2.0**-24  # float32 unit roundoff
LAMBDA = 7.0  # P(|error| > LAMBDA sigma) <= 2 exp(-LAMBDA**2 / 2) = 4.6e-11 per element
COMPARED = np.sqrt(2.0)  # two independent float32 evaluations: their difference's sigma
# glibc's float32 exp/log/tanh/sin are within 1 ulp, Eigen's vectorised ones within 2-3 (its own
# test suite), NumPy's SIMD ones within 4 (NumPy's documented ULP limits for float32 AVX512F).
ELEMENTWISE_ULPS = 4


def reduction_sigma(n, sum_squares, total):
    """The error scale ``sigma`` of one float32 evaluation of sums of ``n`` terms whose squares
    add up to ``sum_squares`` and which add up to ``total`` (all broadcast elementwise): the
    partial sums' expected ``sum_k s_k**2`` for terms of mean ``total / n`` and variance
    ``sum_squares / n - mean**2``, plus the products' own rounding ``sum t**2``."""
    n = np.maximum(np.asarray(n, dtype=np.float64), 1.0)
    sum_squares = np.asarray(sum_squares, dtype=np.float64)
    mean = np.asarray(total, dtype=np.float64) / n
    variance = np.maximum(sum_squares / n - mean**2, 0.0)
    partial = variance * n * (n + 1) / 2 + mean**2 * n * (n + 1) * (2 * n + 1) / 6
    return U * np.sqrt(partial + sum_squares)


def elementwise_sigma(value, ops=1, ulps=ELEMENTWISE_ULPS):
    """The error scale of ``ops`` chained elementwise functions, each within ``ulps`` ulps, on a
    result of absolute value ``value`` (first order)."""
    return ops * ulps * U * np.abs(np.asarray(value, dtype=np.float64))


def assert_within(actual, expected, bound, what=""):
    """``|actual - expected| <= bound`` elementwise, with a message naming the worst element."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), actual.shape)
    diff = np.abs(actual - expected)
    bad = ~(diff <= bound)  # NaN differences fail too
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, diff - bound, -np.inf)), actual.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {actual.size} elements differ by more than their "
            f"float32 error bound; worst at {i}: actual {actual[i]!r}, expected {expected[i]!r}, "
            f"difference {diff[i]:.3g} > bound {bound[i]:.3g}"
        )


def assert_sigma_close(actual, expected, sigma, what=""):
    """Two float32 evaluations, each with error scale ``sigma``, agree within
    ``LAMBDA * COMPARED * sigma``."""
    assert_within(actual, expected, LAMBDA * COMPARED * np.asarray(sigma), what)


# --------------------------------------------------------------------------- fixed tolerances
# Comparisons without a long reduction to scale by: the model above evaluated once, for the
# magnitudes the tests use. Every result that sums many terms (a layer with a kernel, a model)
# is compared with a per-element bound instead (error_bounds.py, the layer harness).

# Elementwise results (activations and their layers, reshapes, pooling selections, rescaling):
# at most 4 chained functions, each within ELEMENTWISE_ULPS ulps of the result, so
# sigma = 4 ELEMENTWISE_ULPS U |y|; the absolute floor is the same bound on |y| = 1, for results
# near zero computed from inputs of size O(1) (x * sigmoid(x), log(1 + exp(x)) - x, ...).
ELEMENTWISE_OPS = 4
FORWARD_RTOL = LAMBDA * COMPARED * ELEMENTWISE_OPS * ELEMENTWISE_ULPS * U  # 9.4e-6
FORWARD_ATOL = FORWARD_RTOL

# Their gradients: the derivative's own functions as many again (8 chained functions).
GRAD_RTOL = 2 * FORWARD_RTOL
GRAD_ATOL = 2 * FORWARD_ATOL

# Optimizer updates vs Keras with the same gradients, over OPTIMIZER_STEPS steps: a step of Adam
# (the longest) is about 12 correctly rounded operations (moment updates, square, sqrt, divide,
# multiply, subtract) and 2 powers (bias corrections, ELEMENTWISE_ULPS each), relative to the
# magnitudes involved; the steps' errors add in quadrature. The absolute floor is the same bound
# on updates of size 1/16 (learning rates <= 0.1) for weights that pass near zero.
OPTIMIZER_STEPS = 10
OPTIMIZER_RTOL = (
    LAMBDA * COMPARED * U * np.sqrt(OPTIMIZER_STEPS * (12 + 2 * ELEMENTWISE_ULPS**2))
)  # 1.2e-5
OPTIMIZER_ATOL = OPTIMIZER_RTOL * 2**-4

# Loss and metric values vs Keras: a mean over a batch (<= 64 samples) of per-sample sums over
# classes (<= 16), LOSS_TERMS = 80 terms of one sign, whose partial sums grow linearly:
# reduction_sigma ~ U sqrt(n / 3) |total|; each term is at most 4 chained elementwise functions.
LOSS_TERMS = 80
LOSS_RTOL = (
    LAMBDA * COMPARED * U * np.sqrt(LOSS_TERMS / 3 + (ELEMENTWISE_OPS * ELEMENTWISE_ULPS) ** 2)
)  # 1.0e-5
LOSS_ATOL = LOSS_RTOL * 2**-4  # losses near zero whose terms are still ~1/16

# Whole training runs vs Keras, compared per epoch. No first-order bound holds over hundreds of
# optimizer steps: rounding differences are fed back through the data and can grow. This is the
# tolerance Keras itself uses for its cross-backend training tests (keras/src/testing); it is a
# statement of agreement, not an error bound, and every run is also checked step by step by the
# gradient and optimizer conformance tests above.
TRAINING_ATOL = 1e-3
TRAINING_RTOL = 1e-3

# Recurrent layers (SimpleRNN, LSTM, GRU, their cells) vs Keras on the conformance shapes: at most
# RECURRENT_STEPS timesteps, each a matmul reduction of at most RECURRENT_REDUCTION terms (input and
# state sizes) of size O(1) followed by at most ELEMENTWISE_OPS elementwise functions; the state
# carries each step's error into the next through contractive gates (|d h_t / d h_{t-1}| <= 1),
# so the steps' errors add: RECURRENT_FORWARD_BOUND, about 1.3e-5 per unit of |h|. The issue asks
# for 1e-5, which is tighter, and that is the tolerance (the differences seen are about 1e-7);
# gradients, which run through the same steps twice over, are held to the 1e-4.
RECURRENT_STEPS = 6
RECURRENT_REDUCTION = 16
RECURRENT_FORWARD_BOUND = (
    LAMBDA
    * COMPARED
    * np.sqrt(RECURRENT_STEPS * (RECURRENT_REDUCTION + ELEMENTWISE_OPS * ELEMENTWISE_ULPS**2))
    * U
)
RECURRENT_FORWARD_RTOL = RECURRENT_FORWARD_ATOL = 1e-5
RECURRENT_GRAD_RTOL = RECURRENT_GRAD_ATOL = 1e-4

# Convolutional LSTMs (ConvLSTM1D/2D/3D) vs Keras on the conformance shapes: the same model as
# the recurrent layers above, with convolutions for matmuls. Forward: at most RECURRENT_STEPS
# steps, each gate pre-activation a sum over a window of both convolutions, at most
# CONV_RECURRENT_REDUCTION = 3*3*3 * (2 input + 4 state channels) = 162 terms of size O(1), then
# the gates' elementwise functions: about 2.2e-5 per unit of |h|.
CONV_RECURRENT_REDUCTION = 162
CONV_RECURRENT_FORWARD_RTOL = CONV_RECURRENT_FORWARD_ATOL = (
    LAMBDA
    * COMPARED
    * np.sqrt(RECURRENT_STEPS * (CONV_RECURRENT_REDUCTION + ELEMENTWISE_OPS * ELEMENTWISE_ULPS**2))
    * U
)
# Gradients: each is a long sum of random-signed terms of size O(1) (the upstream gradient is
# standard normal): d kernel sums over batch x steps x output positions (<= 2 * 5 * 42 = 420
# terms), d x over a 3*3*3 window of 4 gates x 4 filters (432 terms, the longest,
# CONV_RECURRENT_GRAD_REDUCTION), carried back through RECURRENT_STEPS steps whose errors add in
# quadrature. The absolute bound is reduction_sigma of such a sum (partial sums growing like a
# random walk); gradients are O(10), so most elements are held to the relative bound, the
# forward one for twice the steps (the backward pass runs through every step again).
CONV_RECURRENT_GRAD_REDUCTION = 432
CONV_RECURRENT_GRAD_ATOL = (
    LAMBDA
    * COMPARED
    * np.sqrt(RECURRENT_STEPS)
    * reduction_sigma(CONV_RECURRENT_GRAD_REDUCTION, CONV_RECURRENT_GRAD_REDUCTION, 0.0)
)  # 4.4e-4
CONV_RECURRENT_GRAD_RTOL = CONV_RECURRENT_FORWARD_RTOL * np.sqrt(2.0)  # 3.1e-5

# Custom training code vs Keras (custom layers, subclassed models, compute_loss / train_step
# overrides, GradientTape loops, GANs, a VAE, add_loss, a gradient penalty), compared after each
# of a few (<= 5) optimizer steps: logs and every weight. 1e-4 is the agreement the issue states
# for a few steps of SGD or Adam at fixed learning rates; it is not a float32 error bound (none is
# derived for arbitrary user code). The absolute floor is the same agreement on values of size 0.1:
# weights of order 0.1-1 that pass near zero, and losses or metrics near zero. For scale: Keras's
# own float32 runs of these cases stay within 1e-6 (relative, floor 0.1) of the same runs in
# float64, so the cases are well conditioned (no Adam step on a gradient lost in rounding).
CUSTOM_TRAINING_RTOL = 1e-4
CUSTOM_TRAINING_ATOL = CUSTOM_TRAINING_RTOL * 0.1  # 1e-5

# Fast kernels vs plain-loop reference implementations in float64: reductions of at most 2**12
# terms of size <= 2**6 each; gamma(4096, U64) * 4096 * 64 ~ 1.2e-7 absolute is the worst case,
# 1e-10 holds for the tests' smaller shapes (<= 600 terms of size <= 4: 2.7e-13) with margin.
REFERENCE_ATOL = 1e-10
REFERENCE_RTOL = 1e-10

# Central finite differences in float64: truncation error O(eps**2 f''') ~ 1e-12 plus rounding
# U64 |f| / eps ~ 1e-10 for |f| ~ 1; the tolerances leave four orders of margin for larger f.
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


# Attention layers (Attention, AdditiveAttention, MultiHeadAttention) vs Keras on the conformance
# shapes: at most ATTENTION_STAGES chained stages (query/key/value projections, scores, softmax,
# weighted sum of values, output projection, gate), each a reduction of at most
# ATTENTION_REDUCTION terms of size O(1) (feature sizes, sequence lengths), whose errors add in
# quadrature, plus ELEMENTWISE_OPS elementwise functions (exp, tanh, division, sigmoid): about
# 2.2e-5 per unit of the output.
ATTENTION_STAGES = 7
ATTENTION_REDUCTION = 16
ATTENTION_FORWARD_RTOL = ATTENTION_FORWARD_ATOL = float(
    LAMBDA
    * COMPARED
    * np.sqrt(
        ATTENTION_STAGES * (reduction_sigma(ATTENTION_REDUCTION, ATTENTION_REDUCTION, 0.0) / U) ** 2
        + (ELEMENTWISE_OPS * ELEMENTWISE_ULPS) ** 2
    )
    * U
)
# Gradients run through every stage again (twice the stages) and a weight's gradient sums over
# batch x positions as well: at most ATTENTION_GRAD_REDUCTION = 64 random-signed terms of size
# O(1) (the upstream gradient is standard normal) per stage: about 1e-4 per unit.
ATTENTION_GRAD_REDUCTION = 64
ATTENTION_GRAD_RTOL = ATTENTION_GRAD_ATOL = float(
    LAMBDA
    * COMPARED
    * np.sqrt(
        2
        * ATTENTION_STAGES
        * (reduction_sigma(ATTENTION_GRAD_REDUCTION, ATTENTION_GRAD_REDUCTION, 0.0) / U) ** 2
        + 2 * (ELEMENTWISE_OPS * ELEMENTWISE_ULPS) ** 2
    )
    * U
)
