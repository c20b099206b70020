"""The keras.ops added to reach Keras 3's namespace: float64 finite-difference checks of every
differentiable one, and the semantics the TensorFlow comparison cannot check (ours follow NumPy
where Keras's TensorFlow backend is wrong or unsupported; invariants of decompositions whose signs
or orders are not unique; vectorised special functions against ``math``)."""

import math

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import ops
from numpykeras.ops import _special

import tolerances as tol
from gradcheck import numerical_gradient


def _close(actual, expected, what=""):
    tol.assert_close(actual, expected, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, what)


def _exact(actual, expected, what=""):
    tol.assert_close(actual, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, what)


def _r(*shape):
    return lambda rng: rng.standard_normal(shape)


def _pos(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _unit(*shape):
    return lambda rng: rng.uniform(-0.8, 0.8, shape)


def _pixels(*shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def _away(*shape, low=0.2):  # |x| in [low, 2]: no kink at 0 within the finite-difference step
    return lambda rng: rng.uniform(low, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _nan(*shape):
    def draw(rng):
        x = rng.standard_normal(shape)
        x.reshape(-1, shape[-1])[:, 0] = np.nan
        return x

    return draw


def _spd(a):
    return ops.matmul(a, ops.transpose(a)) + 2.0 * np.eye(np.shape(a)[-2])


def _tri(n, lower=True):
    def draw(rng):
        a = rng.standard_normal((n, n)) * 0.3 + np.eye(n) * 1.5
        return np.tril(a) if lower else np.triu(a)

    return draw


def _not_nan(fn):
    """``fn`` with NaN outputs zeroed (their finite differences are NaN too)."""
    return lambda *xs: ops.where(ops.isnan(fn(*xs)), 0.0, fn(*xs))


_SEG = np.array([0, 0, 2, 2, 1, 3])
_T = np.array([[1.1, 0.2, -0.45, -0.1, 0.9, 0.65, 0.01, -0.02]])
_COORDS = np.array([[[0.2, 1.7, 3.6], [2.5, 0.6, 1.1]], [[1.3, 3.2, 0.4], [2.8, 3.3, 0.9]]])

# (id, function of the float64 inputs, input makers)
GRAD_CASES = [
    # numpy
    *[
        (n, getattr(ops, n), [_r(2, 3)])
        for n in ["deg2rad", "rad2deg", "i0", "fliplr", "flipud", "rot90", "tanh_shrink"]
    ],
    ("sinc", ops.sinc, [_away(2, 3)]),
    ("heaviside", lambda a: ops.heaviside(np.array([-1.0, 0.0, 2.0]), a), [_r(3)]),
    ("fmax", ops.fmax, [_r(2, 3), _r(3)]),
    ("fmin", ops.fmin, [_r(2, 3), _r(3)]),
    ("fmod", ops.fmod, [_away(2, 3), _pos(3)]),
    ("ldexp", lambda a: ops.ldexp(a, np.array([1, -2, 3])), [_r(2, 3)]),
    ("logaddexp2", ops.logaddexp2, [_r(2, 3), _r(3)]),
    ("divide_no_nan", lambda a: ops.divide_no_nan(a, np.array([1.5, 0.0, -2.0])), [_r(2, 3)]),
    ("divide_no_nan-x2", lambda b: ops.divide_no_nan(np.ones(3), b), [_away(3)]),
    (
        "nan_to_num",
        lambda a: ops.nan_to_num(a, nan=0.5, posinf=5.0, neginf=-5.0),
        [lambda rng: np.concatenate([rng.standard_normal(3), [np.inf, np.nan, -np.inf]])],
    ),
    ("rot90-axes", lambda a: ops.rot90(a, 3, (2, 0)), [_r(2, 3, 4)]),
    ("dstack", lambda a, b: ops.dstack([a, b]), [_r(2, 3), _r(2, 3)]),
    ("hsplit", lambda a: ops.hsplit(a, 2)[1], [_r(2, 4)]),
    ("dsplit", lambda a: ops.dsplit(a, [1])[1], [_r(2, 2, 3)]),
    ("diagflat", lambda a: ops.diagflat(a, 1), [_r(2, 2)]),
    ("kron", ops.kron, [_r(2, 2), _r(3, 2)]),
    ("vander", lambda a: ops.vander(a, 4), [_r(3)]),
    ("cross", ops.cross, [_r(2, 3), _r(2, 3)]),
    ("cross-2d", ops.cross, [_r(3, 2), _r(3, 2)]),
    ("select", lambda a, b: ops.select([a > 0, b > 0], [a, b], 0.5), [_away(2, 3), _away(2, 3)]),
    ("ptp", lambda a: ops.ptp(a, axis=1), [_r(3, 4)]),
    ("percentile", lambda a: ops.percentile(a, np.array([30.0, 80.0]), axis=0), [_r(5, 2)]),
    *[
        (f"quantile-{m}", lambda a, m=m: ops.quantile(a, 0.35, axis=1, method=m), [_r(3, 5)])
        for m in ["lower", "higher", "nearest", "midpoint"]
    ],
    ("trapezoid", lambda a, x: ops.trapezoid(a, x), [_r(2, 4), _r(4)]),
    ("corrcoef", ops.corrcoef, [_r(3, 5)]),
    *[
        (f"correlate-{m}", lambda a, b, m=m: ops.correlate(a, b, m), [_r(6), _r(3)])
        for m in ["valid", "same", "full"]
    ],
    *[
        (n, lambda a, n=n: getattr(ops, n)(a, axis=1), [_nan(3, 4)])
        for n in [
            "nansum",
            "nanmean",
            "nanvar",
            "nanstd",
            "nanmax",
            "nanmin",
            "nanprod",
            "nanmedian",
            "nancumsum",
            "nancumprod",
        ]
    ],
    ("nanquantile", lambda a: ops.nanquantile(a, np.array([0.2, 0.7]), axis=1), [_nan(3, 5)]),
    ("nanpercentile", lambda a: ops.nanpercentile(a, 40.0), [_nan(2, 5)]),
    ("pad-reflect", lambda a: ops.pad(a, ((1, 2), (2, 1)), mode="reflect"), [_r(3, 4)]),
    ("pad-wrap-edge", lambda a: ops.pad(ops.pad(a, 2, "wrap"), 1, "edge"), [_r(2, 3)]),
    ("vectorize", lambda a, b: ops.vectorize(lambda u, v: u * ops.sin(v))(a, b), [_r(2, 3), _r(3)]),
    (
        "vectorize-signature",
        lambda a: ops.vectorize(lambda v: ops.sum(v * v), signature="(n)->()")(a),
        [_r(3, 2)],
    ),
    ("slogdet", lambda a: ops.slogdet(a)[1], [lambda rng: rng.standard_normal((3, 3)) + np.eye(3)]),
    # math
    ("erfc", ops.erfc, [_r(2, 3)]),
    ("erfinv", ops.erfinv, [_unit(2, 3)]),
    ("cdist", ops.cdist, [_r(3, 2), _r(4, 2)]),
    *[
        (n, lambda d, n=n: getattr(ops, n)(d, _SEG, num_segments=5), [_r(6, 2)])
        for n in ["segment_sum", "segment_prod"]
    ],
    # (an empty segment of max / min holds the dtype's extreme: no finite differences)
    *[
        (n, lambda d, n=n: getattr(ops, n)(d, _SEG), [_r(6, 2)])
        for n in ["segment_max", "segment_min"]
    ],
    (
        "segment_prod-zero",
        lambda d: ops.segment_prod(
            ops.multiply(d, np.array([[0.0], [1], [1], [1], [1], [1]])), _SEG
        ),
        [_r(6, 2)],
    ),
    ("extract_sequences", lambda a: ops.extract_sequences(a, 4, 3), [_r(2, 10)]),
    ("fft", lambda a, b: ops.fft((a, b))[0] * ops.fft((a, b))[1], [_r(2, 5), _r(2, 5)]),
    ("fft2", lambda a, b: ops.sum(ops.fft2((a, b))[1], axis=0), [_r(3, 4), _r(3, 4)]),
    ("ifft2", lambda a, b: ops.ifft2((a, b))[0], [_r(3, 4), _r(3, 4)]),
    ("rfft", lambda a: ops.rfft(a)[1], [_r(2, 7)]),
    ("rfft-short", lambda a: ops.rfft(a, 5)[0], [_r(2, 8)]),
    ("rfft-long", lambda a: ops.rfft(a, 10)[1], [_r(2, 7)]),
    ("irfft", lambda a, b: ops.irfft((a, b)), [_r(2, 5), _r(2, 5)]),
    ("irfft-odd", lambda a, b: ops.irfft((a, b), 7), [_r(2, 4), _r(2, 4)]),
    ("irfft-short", lambda a, b: ops.irfft((a, b), 6), [_r(2, 5), _r(2, 5)]),
    ("irfft-long", lambda a, b: ops.irfft((a, b), 9), [_r(2, 3), _r(2, 3)]),
    ("stft", lambda a: ops.stft(a, 6, 3, 8)[0], [_r(2, 16)]),
    ("istft", lambda a, b: ops.istft((a, b), 6, 3, 8), [_r(5, 5), _r(5, 5)]),
    ("logdet", lambda a: ops.logdet(_spd(a)), [_r(3, 3)]),
    # linalg
    ("solve", ops.solve, [lambda rng: _spd(rng.standard_normal((3, 3))), _r(3, 2)]),
    ("solve_triangular", lambda a, b: ops.solve_triangular(a, b, lower=True), [_tri(3), _r(3)]),
    ("solve_triangular-up", ops.solve_triangular, [_tri(3, lower=False), _r(3, 2)]),
    ("cholesky", lambda a: ops.cholesky(_spd(a)), [_r(3, 3)]),
    ("cholesky_inverse", ops.cholesky_inverse, [_tri(3)]),
    ("eigh", lambda a: ops.eigh(_spd(a))[0] + ops.sum(ops.eigh(_spd(a))[1] ** 2, 0), [_r(3, 3)]),
    ("svd-values", lambda a: ops.svd(a, compute_uv=False), [_r(4, 3)]),
    ("svd-vectors", lambda a: [ops.abs(t) for t in ops.svd(a, full_matrices=False)][0], [_r(3, 4)]),
    ("svd-vh", lambda a: ops.abs(ops.svd(a, full_matrices=False)[2]), [_r(4, 3)]),
    ("qr", lambda a: ops.qr(a)[0] * 2 + ops.sum(ops.qr(a)[1]), [_r(4, 3)]),
    ("qr-wide", lambda a: ops.qr(a)[1], [_r(3, 4)]),
    ("pinv", ops.pinv, [_r(4, 3)]),
    ("lu_factor", lambda a: ops.lu_factor(a)[0], [_r(2, 3, 3)]),
    ("lstsq", ops.lstsq, [_r(4, 3), _r(4, 2)]),
    ("norm-2", lambda a: ops.norm(a, 2), [_r(3, 4)]),
    ("norm-nuc", lambda a: ops.norm(a, "nuc", axis=(0, 1)), [_r(3, 4)]),
    # nn
    *[
        (n, getattr(ops, n), [_away(2, 3, low=0.1)])
        for n in ["hard_tanh", "sparse_plus", "sparse_sigmoid"]
    ],
    ("hard_shrink", ops.hard_shrink, [lambda rng: rng.uniform(0.6, 2.0, (2, 3))]),
    ("soft_shrink", ops.soft_shrink, [lambda rng: rng.uniform(0.6, 2.0, (2, 3))]),
    ("threshold", lambda a: ops.threshold(a, 0.3, -1.0), [lambda rng: rng.uniform(0.5, 2, (4,))]),
    ("sparsemax", ops.sparsemax, [_r(3, 4)]),
    ("layer_normalization", ops.layer_normalization, [_r(2, 3, 4), _r(4), _r(4)]),
    (
        "layer_normalization-axes",
        lambda a, g: ops.layer_normalization(a, g, None, axis=(1, 2)),
        [_r(2, 3, 4), _r(3, 4)],
    ),
    ("psnr", lambda a, b: ops.psnr(a, b, 1.0), [_pixels(2, 3), _pixels(2, 3)]),
    ("dot_product_attention", ops.dot_product_attention, [_r(1, 3, 2, 2)] * 3),
    (
        "attention-causal-bias",
        lambda q, k, v, b: ops.dot_product_attention(q, k, v, b, is_causal=True),
        [_r(1, 3, 1, 2), _r(1, 3, 1, 2), _r(1, 3, 1, 2), _r(1, 1, 3, 3)],
    ),
    ("depth_to_space", lambda a: ops.depth_to_space(a, 2), [_r(1, 2, 2, 4)]),
    ("space_to_depth", lambda a: ops.space_to_depth(a, 2, "channels_first"), [_r(1, 2, 2, 4)]),
    ("unfold", lambda a: ops.unfold(a, 2, padding=1, stride=2), [_r(1, 2, 3, 3)]),
    ("fold", lambda a: ops.fold(a, (3, 4), 2, stride=1), [_r(1, 8, 6)]),
    ("adaptive_average_pool", lambda a: ops.adaptive_average_pool(a, (2, 3)), [_r(1, 5, 4, 1)]),
    ("adaptive_max_pool", lambda a: ops.adaptive_max_pool(a, 2), [_r(1, 5, 1)]),
    ("conv-3d", lambda x, k: ops.conv(x, k, 2, "same"), [_r(1, 3, 4, 3, 2), _r(2, 2, 2, 2, 2)]),
    ("conv-grouped", lambda x, k: ops.conv(x, k, padding="same"), [_r(1, 3, 3, 4), _r(2, 2, 2, 2)]),
    (
        "separable_conv",
        lambda x, d, p: ops.separable_conv(x, d, p, padding="same"),
        [_r(1, 3, 3, 2), _r(2, 2, 2, 2), _r(1, 1, 4, 2)],
    ),
    ("conv_transpose", lambda x, k: ops.conv_transpose(x, k, 2), [_r(1, 2, 3, 2), _r(2, 2, 3, 2)]),
    (
        "conv_transpose-1d",
        lambda x, k: ops.conv_transpose(x, k, 2, "same", output_padding=1),
        [_r(1, 3, 2), _r(3, 1, 2)],
    ),
    (
        "conv_transpose-3d",
        lambda x, k: ops.conv_transpose(x, k, 2, "same"),
        [_r(1, 2, 2, 2, 1), _r(2, 2, 2, 2, 1)],
    ),
    ("max_pool-3d", lambda x: ops.max_pool(x, 2, 1, "same"), [_r(1, 3, 3, 2, 1)]),
    ("average_pool-3d", lambda x: ops.average_pool(x, 2, 2, "same"), [_r(1, 3, 3, 3, 1)]),
    (
        "ctc_loss",
        lambda z: ops.ctc_loss(np.array([[1, 2], [3, 3]]), z, np.array([2, 2]), np.array([5, 4])),
        [_r(2, 5, 4)],
    ),
    # core and einops
    ("associative_scan", lambda a: ops.associative_scan(lambda u, v: u * v + u, a), [_r(5, 2)]),
    (
        "associative_scan-dict",
        lambda a: ops.associative_scan(
            lambda u, v: {"s": u["s"] + v["s"], "m": ops.maximum(u["m"], v["m"])},
            {"s": a, "m": a * 2.0},
            reverse=True,
        )["s"],
        [_r(4, 2)],
    ),
    ("rearrange", lambda a: ops.rearrange(a, "b (h w) c -> (b c) w h", w=2), [_r(2, 4, 3)]),
    # image
    ("rgb_to_grayscale", ops.image.rgb_to_grayscale, [_pixels(1, 2, 3, 3)]),
    ("rgb_to_hsv", ops.image.rgb_to_hsv, [_pixels(2, 2, 3)]),
    ("hsv_to_rgb", ops.image.hsv_to_rgb, [_pixels(2, 2, 3)]),
    *[
        (f"resize-{m}", lambda a, m=m: ops.image.resize(a, (3, 4), m), [_r(1, 4, 3, 1)])
        for m in ["bilinear", "nearest", "bicubic", "area", "lanczos3"]
    ],
    ("resize-antialias", lambda a: ops.image.resize(a, (2, 2), antialias=True), [_r(1, 4, 3, 1)]),
    (
        "affine_transform",
        lambda a: ops.image.affine_transform(a, _T, fill_mode="reflect"),
        [_r(1, 4, 5, 1)],
    ),
    (
        "perspective_transform",
        lambda a: ops.image.perspective_transform(
            a, [[0, 0], [4, 0], [0, 3], [4, 3]], [[0.3, 0.2], [3.6, 0.1], [0.4, 2.8], [4.1, 3.1]]
        ),
        [_r(4, 5, 1)],
    ),
    (
        "map_coordinates",
        lambda a: ops.image.map_coordinates(a, _COORDS, 1, fill_mode="mirror"),
        [_r(4, 5)],
    ),
    ("gaussian_blur", lambda a: ops.image.gaussian_blur(a, (3, 5), (0.7, 1.2)), [_r(1, 3, 4, 1)]),
    ("sobel_edges", ops.image.sobel_edges, [_r(1, 3, 3, 1)]),
    ("ssim", lambda a, b: ops.image.ssim(a, b, filter_size=3), [_pixels(4, 4, 1)] * 2),
    ("extract_patches", lambda a: ops.image.extract_patches(a, 2), [_r(1, 4, 4, 1)]),
    ("pad_images", lambda a: ops.image.pad_images(a, 1, 0, 1, 2), [_r(2, 2, 1)]),
    ("crop_images", lambda a: ops.image.crop_images(a, 1, 0, 1, 1), [_r(1, 4, 4, 1)]),
    (
        "scale_and_translate",
        lambda a: ops.image.scale_and_translate(
            a, (1, 3, 5, 1), [0.8, 1.7], [0.2, -0.4], (1, 2), "cubic"
        ),
        [_r(1, 4, 3, 1)],
    ),
]


@pytest.mark.parametrize("name, fn, makers", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradient_matches_finite_differences(name, fn, makers):
    rng = np.random.default_rng(len(name))
    xs = [np.asarray(make(rng), dtype=np.float64) for make in makers]
    fn = _not_nan(fn) if name.startswith("nan") else fn
    y = fn(*xs)
    assert type(y) is np.ndarray, f"{name} did not return an ndarray without a tape"
    assert y.dtype == np.float64, f"{name} computed in {y.dtype}, not float64"
    dy = rng.standard_normal(np.shape(y))
    with keras.GradientTape() as tape:
        tape.watch(xs)
        loss = ops.sum(ops.multiply(fn(*xs), dy))
    grads = tape.gradient(loss, xs)
    for i, (x, g) in enumerate(zip(xs, grads)):
        numeric = numerical_gradient(lambda: float(np.nansum(fn(*xs) * dy)), x)
        numeric = np.where(np.isnan(x), 0.0, numeric)
        assert g is not None, f"{name}: no gradient for input {i}"
        assert g.dtype == np.float64 and g.shape == x.shape
        _close(np.where(np.isnan(x), 0.0, g), numeric, f"{name} d/dx{i}")


# Bilinear ops whose VJPs are made of the same primitives: gradients of gradients.
SECOND_ORDER = [
    (
        "conv-3d",
        lambda x: ops.conv(ops.reshape(x, (1, 2, 3, 1, 1)), ops.reshape(x, (2, 3, 1, 1, 1))),
    ),
    (
        "conv_transpose",
        lambda x: ops.conv_transpose(ops.reshape(x, (1, 2, 3, 1)), ops.reshape(x, (2, 3, 1, 1)), 2),
    ),
    ("fft", lambda x: ops.square(ops.fft((x, ops.sin(x)))[0])),
    ("rfft-irfft", lambda x: ops.irfft(ops.rfft(ops.square(x)), 3)),
    ("cholesky", lambda x: ops.cholesky(_spd(ops.reshape(x, (2, 3))))),
    ("eigh", lambda x: ops.eigh(_spd(ops.reshape(x, (2, 3))))[0]),
    ("lu_factor", lambda x: ops.lu_factor(_spd(ops.reshape(x, (2, 3))))[0]),
    (
        "solve_triangular",
        lambda x: ops.solve_triangular(
            3.0 * np.eye(2) + ops.get_item(x, (slice(None), slice(0, 2))) * 0.3,
            ops.get_item(x, (slice(None), slice(2, 3))),
            lower=True,
        ),
    ),
    ("associative_scan", lambda x: ops.associative_scan(lambda a, b: a * b, x)),
]


@pytest.mark.parametrize("name, fn", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_gradient_of_gradient_matches_finite_differences(name, fn):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3))
    dy = rng.standard_normal(np.shape(fn(x)))
    v = rng.standard_normal((2, 3))

    def directional(x_):
        with keras.GradientTape() as inner:
            inner.watch(x_)
            loss = ops.sum(fn(x_) * dy)
        return ops.sum(inner.gradient(loss, x_) * v)

    with keras.GradientTape() as outer:
        outer.watch(x)
        d = directional(x)
    hv = outer.gradient(d, x)
    _close(hv, numerical_gradient(lambda: float(directional(x)), x), f"{name} second order")


# --------------------------------------------------------------------------- semantics


def test_erf_family_is_vectorised_and_accurate():
    x = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 1e-30, 2.5, 26.0, -np.inf, np.inf]])
    _exact(_special.erf(x), [math.erf(v) for v in x], "erf")
    erfc = _special.erfc(x)
    ref = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erfc, ref, rtol=1e-11, atol=0, err_msg="erfc (relative)")
    y = np.linspace(-0.999999, 0.999999, 2001)
    _exact(_special.erf(_special.erfinv(y)), y, "erf(erfinv)")
    tail = 1 - np.logspace(-12, -1, 12)
    back = 1 - _special.erfc(_special.erfinv(tail))
    np.testing.assert_allclose(back, tail, rtol=1e-13, err_msg="erfinv near 1")
    assert _special.erfinv(np.array([1.0]))[0] == np.inf
    assert np.isnan(_special.erfinv(np.array([1.5, np.nan]))).all()
    assert ops.erf(np.float32(0.5)).dtype == np.float32


def test_dtype_promotion_is_cached_per_dtype():
    from numpykeras.ops import dtypes

    dtypes._result_type.cache_clear()
    for _ in range(3):
        assert ops.add(np.ones(2, np.float32), 2.0).dtype == np.float32
        assert ops.add(np.ones(2, np.int8), np.ones(2, np.uint8)).dtype == np.int16
    assert dtypes._result_type.cache_info().hits >= 4
    keras.backend.set_floatx("float64")
    try:
        assert ops.add(np.ones(2, np.int32), 2.0).dtype == np.float64  # floatx is in the key
    finally:
        keras.backend.set_floatx("float32")
    assert ops.add(np.ones(2, np.int32), 2.0).dtype == np.float32


def test_vectorize_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    _exact(
        ops.vectorize(lambda u, v: u * v + 1.0)(a, b), np.vectorize(lambda u, v: u * v + 1.0)(a, b)
    )
    stacked = ops.vectorize(lambda v: ops.sum(v), signature="(n)->()")(a)
    _exact(stacked, a.sum(axis=1))
    pair = ops.vectorize(lambda v: (v * 2, v - 1))(a)
    _exact(pair[0], a * 2)
    _exact(pair[1], a - 1)
    scale = ops.vectorize(lambda v, s: v * s, excluded={1})(a, 3.0)
    _exact(scale, a * 3.0)
    with pytest.raises(ValueError, match="gufunc signature"):
        ops.vectorize(lambda v: v, signature="(n)->")


def test_jvp_matches_directional_finite_differences():
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal(3), rng.standard_normal(3)

    def f(v):
        return ops.sin(v) * v, ops.sum(v * v)

    out, tangents = ops.jvp(f, (x,), (t,))
    _exact(out[0], np.sin(x) * x)
    eps = tol.FINITE_DIFF_EPS
    up, down = f(x + eps * t), f(x - eps * t)
    for j, (a, b) in enumerate(zip(up, down)):
        _close(tangents[j], (np.asarray(a) - np.asarray(b)) / (2 * eps), f"jvp output {j}")
    _, tangent, aux = ops.jvp(lambda v: (ops.exp(v), "aux"), (x,), (t,), has_aux=True)
    _exact(tangent, np.exp(x) * t)
    assert aux == "aux"


def test_semantics_where_keras_tensorflow_is_wrong():
    x = np.arange(12.0).reshape(3, 4)
    _exact(ops.rot90(x, 2), np.rot90(x, 2))  # Keras's TF rot90(k=2) mixes up rows for 3x4
    _exact(
        ops.rot90(np.arange(24.0).reshape(2, 3, 4), 2, (1, 2)),
        np.rot90(np.arange(24.0).reshape(2, 3, 4), 2, (1, 2)),
    )
    idx = np.array([[1, 5], [7, 11]])
    for ours, ref in zip(ops.unravel_index(idx, (3, 4)), np.unravel_index(idx, (3, 4))):
        _exact(ours, ref)  # Keras's TF backend unravels N-D indices in the wrong axis order
    # map_coordinates folds as scipy.ndimage (Keras's TF backend indexes out of range for
    # "mirror" and reflects -1 to 1 for "reflect")
    line = np.arange(5.0)
    coords = np.array([[-6.0, -2.0, -1.0, 0.0, 4.0, 5.0, 6.0, 9.0, 11.0]])
    expected = {
        "reflect": [4, 1, 0, 0, 4, 4, 3, 0, 1],  # d c b a | a b c d e | e d c b a
        "mirror": [2, 2, 1, 0, 4, 3, 2, 1, 3],  # e d c b | a b c d e | d c b a
        "wrap": [4, 3, 4, 0, 4, 0, 1, 4, 1],
        "nearest": [0, 0, 0, 0, 4, 4, 4, 4, 4],
    }
    for mode, want in expected.items():
        _exact(ops.image.map_coordinates(line, coords, 0, mode), np.array(want, float), mode)


def test_decomposition_invariants():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 4, 3))
    u, s, vh = ops.svd(a, full_matrices=False)
    _exact(u @ (s[..., None] * vh), a, "svd")
    q, r = ops.qr(a, mode="complete")
    _exact(q @ r, a, "qr")
    m = rng.standard_normal((3, 3))
    w, v = ops.eig(m)
    assert w.dtype == np.complex128
    _exact(m @ v, v * w, "eig")
    mats = rng.standard_normal((2, 3, 3))
    lu, p = ops.lu_factor(mats)
    product = (np.tril(lu, -1) + np.eye(3)) @ np.triu(lu)
    _exact(np.take_along_axis(product, p[..., None].astype(np.int64), axis=1), mats, "lu")
    part = ops.argpartition(np.array([5, 1, 4, 2, 3]), 2)
    values = np.array([5, 1, 4, 2, 3])[part]
    assert values[2] == 3 and set(values[:2]) == {1, 2}


def test_conv_transpose_is_the_adjoint_of_conv():
    rng = np.random.default_rng(3)
    for rank in (1, 2, 3):
        x = rng.standard_normal((1,) + (5,) * rank + (2,))
        k = rng.standard_normal((3,) * rank + (2, 4))
        y = ops.conv(x, k, 2, "same")
        g = rng.standard_normal(y.shape)
        back = ops.conv_transpose(g, k, 2, "same", output_padding=0)
        assert back.shape == x.shape
        _exact(np.sum(y * g), np.sum(x * back), f"<conv x, g> = <x, conv_transpose g> ({rank}-D)")


def test_user_errors_raise_value_or_type_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="rank"):
        ops.conv(np.ones((2, 3)), np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match="padding"):
        ops.max_pool(np.ones((1, 4, 4, 1)), 2, padding="full")
    with pytest.raises(TypeError, match="integer"):
        ops.ldexp(x, x)
    with pytest.raises(TypeError, match="integers"):
        ops.gcd(x, x)
    with pytest.raises(ValueError, match="square"):
        ops.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="tuple of two tensors"):
        ops.fft(x)
    with pytest.raises(ValueError, match="interpolation"):
        ops.image.resize(np.ones((4, 4, 1)), (2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="exactly two"):
        ops.image.pad_images(np.ones((4, 4, 1)), 1, 1)
    with pytest.raises(ValueError, match="same axes"):
        ops.rearrange(x, "a b -> a c")
    with pytest.raises(ValueError, match="method"):
        ops.quantile(x, 0.5, method="weird")
    with pytest.raises(TypeError, match="callable"):
        ops.associative_scan(1, x)


def test_variables_stay_tracked_through_float_conversions():
    v = keras.Variable(np.random.default_rng(4).uniform(0.5, 1.5, (3, 3)))
    image = keras.Variable(np.random.default_rng(5).uniform(0, 1, (1, 4, 5, 2)))
    for name, fn in [
        ("softplus", lambda: ops.softplus(v)),
        ("var", lambda: ops.var(v)),
        ("hard_tanh", lambda: ops.hard_tanh(v)),
        ("sparsemax", lambda: ops.sparsemax(v)),
        ("svd", lambda: ops.svd(v)[1]),
        ("lu_factor", lambda: ops.lu_factor(v)[0]),
        ("resize", lambda: ops.image.resize(image, (3, 3))),
        ("affine_transform", lambda: ops.image.affine_transform(image, _T[0])),
    ]:
        with keras.GradientTape() as tape:
            loss = ops.sum(fn())
        grads = tape.gradient(loss, [v, image])
        assert any(g is not None for g in grads), f"{name}: the Variable lost its gradient"
