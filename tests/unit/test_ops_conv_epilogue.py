"""The fused epilogue of ``ops.conv2d`` / ``ops.depthwise_conv2d`` (``activation(conv(x) * scale +
bias + residual)``, ``out=``) vs plain-loop references in float64, on every forward path of the
kernels: sample blocks, row bands of one sample, the column split between threads, the folded and
unfolded scale, 1x1 convolutions, the channel-major columns of few input channels and groups.
Also ``ops.padding.pad_zeros`` vs ``np.pad``."""

import itertools
import zlib

import numpy as np
import pytest

from numpykeras import ops
from numpykeras.ops import conv as conv_module
from numpykeras.ops.padding import pad_zeros

import reference_ops as ref
from tolerances import FORWARD_ATOL, FORWARD_RTOL, REFERENCE_ATOL, REFERENCE_RTOL, assert_close


def close(actual, expected, what):
    assert_close(actual, expected, REFERENCE_ATOL, REFERENCE_RTOL, what)


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _epilogue(z, scale=None, bias=None, residual=None, activation=None):
    """The reference epilogue, on the reference convolution's output ``z``."""
    if scale is not None:
        z = z * scale
    if bias is not None:
        z = z + bias
    if residual is not None:
        z = z + residual
    if activation == "relu":
        z = np.maximum(z, 0.0)
    elif activation == "relu6":
        z = np.minimum(np.maximum(z, 0.0), 6.0)
    return z


def _assert_clips_exercised(expected, activation, what):
    """Both sides of each clip are reached, so a missing or misplaced clip cannot pass."""
    if activation is None:
        return
    assert (expected == 0).any(), f"{what}: no value clipped at 0"
    inside = (expected > 0) & (expected < 6) if activation == "relu6" else expected > 0
    assert inside.any(), f"{what}: no value passes the activation unchanged"
    if activation == "relu6":
        assert (expected == 6).any(), f"{what}: no value clipped at 6"


# --------------------------------------------------------------------------- conv2d cases

# name: (input height and width, input channels, kernel size, filters, strides, padding,
# dilation, groups). Every map has 7 output rows, so row bands of 2 leave a smaller last band.
CONV_CASES = {
    "3x3-same": ((7, 7), 4, (3, 3), 5, 1, "same", 1, 1),
    "3x3-valid": ((9, 9), 4, (3, 3), 5, 1, "valid", 1, 1),
    "3x3-stride2": ((13, 14), 4, (3, 3), 5, 2, "same", 1, 1),  # odd extra padding pixel
    "3x3-dilation2": ((7, 7), 4, (3, 3), 5, 1, "same", 2, 1),
    "1x1": ((7, 7), 4, (1, 1), 5, 1, "valid", 1, 1),
    "1x1-stride2": ((13, 13), 4, (1, 1), 5, 2, "valid", 1, 1),
    "rgb-channel-major": ((7, 7), 3, (3, 3), 5, 1, "same", 1, 1),  # Cin < 8, Wo >= 2 * Cin
    "groups2": ((7, 7), 4, (3, 3), 6, 1, "same", 1, 2),
}

# Where the output is small: N * Ho * Wo against Cout (column split when fewer) and against
# K = kh * kw * Cin (scale folded into the kernel when not fewer).
# name: (input shape, kernel size, filters, padding)
BRANCH_CASES = {
    "column-split-unfolded": ((1, 3, 3, 9), (3, 3), 12, "valid"),  # 1 pixel < K = 81, < 12
    "column-split-folded": ((2, 5, 5, 2), (3, 3), 20, "valid"),  # 18 pixels = K, < 20
    "column-split-1x1-folded": ((1, 2, 3, 4), (1, 1), 10, "valid"),  # 6 pixels >= K = 4, < 10
    "blocks-unfolded": ((1, 4, 4, 9), (3, 3), 3, "valid"),  # 4 pixels < K = 81, >= 3
}

_reference_cache = {}


def _conv_case(name, batch):
    """``(x, kernel, conv args, z)``: inputs and the plain-loop convolution (computed once)."""
    key = (name, batch)
    if key not in _reference_cache:
        rng = _rng(name, batch)
        if name in CONV_CASES:
            (h, w), cin, ksize, cout, strides, padding, dilation, groups = CONV_CASES[name]
            x = 3.0 * rng.standard_normal((batch, h, w, cin))  # outputs well past 6
        else:
            shape, ksize, cout, padding = BRANCH_CASES[name]
            x = 3.0 * rng.standard_normal(shape)
            cin, strides, dilation, groups = shape[3], 1, 1, 1
        kernel = rng.standard_normal(ksize + (cin // groups, cout))
        args = dict(strides=strides, padding=padding, dilation_rate=dilation, groups=groups)
        z = ref.conv2d(x, kernel, strides, padding, dilation, groups)
        _reference_cache[key] = (x, kernel, args, z)
    return _reference_cache[key]


def _extras(rng, z):
    """Random scale (both signs), bias and residual for an output like ``z``."""
    cout = z.shape[-1]
    scale = rng.uniform(0.5, 1.5, cout) * rng.choice([-1.0, 1.0], cout)
    scale[0] = 1.0  # a channel whose sign is kept: the activations clip it on both sides
    return {
        "scale": scale,
        "bias": rng.uniform(-2.0, 2.0, cout),
        "residual": 2.0 * rng.standard_normal(z.shape),
    }


EXTRA_COMBOS = [
    combo for n in range(4) for combo in itertools.combinations(("scale", "bias", "residual"), n)
]


def _combo_values(name, batch, z, combo):
    values = _extras(_rng("extras", name, batch), z)
    return {key: values[key] for key in combo}


def _row_bytes(name, itemsize=8):
    """Bytes of column matrix per output row, as ``ops/conv.py`` budgets its forward blocks
    (the 1x1 path counts its input and output rows, the others K + 1 columns)."""
    (h, w), cin, ksize, cout, strides, padding, dilation, groups = CONV_CASES[name]
    wo = ref.out_len_and_pad(w, ksize[1], strides, dilation, padding)[0]
    if ksize == (1, 1):
        return wo * (cin + cout) * itemsize
    return wo * (ksize[0] * ksize[1] * cin + 1) * itemsize


def _uses_row_blocks(name):
    """The regular NHWC column path (not groups, not the channel-major columns of few input
    channels on wide enough maps)."""
    (h, w), cin, ksize, cout, strides, padding, dilation, groups = CONV_CASES[name]
    wo = ref.out_len_and_pad(w, ksize[1], strides, dilation, padding)[0]
    return groups == 1 and (ksize == (1, 1) or cin >= 8 or wo < 2 * cin)


@pytest.fixture
def record_units(monkeypatch):
    """The blocks ``(n0, b, r0, r1)`` that each forward pass is cut into."""
    seen = []
    original = conv_module._forward_units

    def recording(geo, row_bytes):
        units = original(geo, row_bytes)
        seen.append((geo.ho, units))
        return units

    monkeypatch.setattr(conv_module, "_forward_units", recording)
    return seen


def _tiny_chunks(monkeypatch, row_bytes):
    """Forward blocks of about 2.5 output rows of one sample (so 7 rows become bands of 2, 2, 2
    and 1), and backward/grouped chunks of a few KiB."""
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 3000)
    threads = conv_module.kernel_threads()
    monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", threads * row_bytes * 5 // 2)


def _assert_row_bands(seen, batch, what):
    assert seen, f"{what}: no forward blocks recorded"
    for ho, units in seen:
        bands = [u for u in units if u[1] == 1 and u[3] - u[2] < ho]
        assert bands, f"{what}: no row bands of one sample in {units}"
        assert {u[0] for u in bands} == set(range(batch)), f"{what}: {units}"
        first = [u for u in bands if u[0] == 0]
        assert first[-1][3] - first[-1][2] < first[0][3] - first[0][2], f"{what}: {units}"


def _check_conv_combos(name, batch, activation):
    x, kernel, args, z = _conv_case(name, batch)
    for combo in EXTRA_COMBOS:
        extras = _combo_values(name, batch, z, combo)
        what = f"conv2d {name} batch {batch} {activation} with {'+'.join(combo) or 'nothing'}"
        expected = _epilogue(z, activation=activation, **extras)
        _assert_clips_exercised(expected, activation, what)
        y = ops.conv2d(x, kernel, activation=activation, **args, **extras)
        assert y.dtype == np.float64, what
        close(y, expected, what)


@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_epilogue_default_blocks(name, batch, activation):
    _check_conv_combos(name, batch, activation)


@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_epilogue_row_bands(monkeypatch, record_units, name, batch, activation):
    _tiny_chunks(monkeypatch, _row_bytes(name))
    _check_conv_combos(name, batch, activation)
    if _uses_row_blocks(name):
        _assert_row_bands(record_units, batch, f"conv2d {name} batch {batch}")


@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_epilogue_split_threads(kernel_split_threads, name, batch, activation):
    _check_conv_combos(name, batch, activation)


@pytest.fixture
def record_paths(monkeypatch):
    """What each conv2d call did: how its work was split (``map_chunks`` offsets: ints for the
    column split or channel-major chunks, block tuples for row blocks) and whether its epilogue
    still had the scale (``False``: folded into the kernel)."""
    seen = {"starts": [], "epilogue_scale": []}
    original_map, original_epilogue = conv_module.map_chunks, conv_module._Epilogue

    def map_chunks(work, starts):
        seen["starts"].append(list(starts))
        return original_map(work, starts)

    def epilogue(scale, bias, residual, activation):
        seen["epilogue_scale"].append(scale is not None)
        return original_epilogue(scale, bias, residual, activation)

    monkeypatch.setattr(conv_module, "map_chunks", map_chunks)
    monkeypatch.setattr(conv_module, "_Epilogue", epilogue)
    return seen


@pytest.mark.parametrize("setting", ["default", "tiny", "split"])
@pytest.mark.parametrize("name", list(BRANCH_CASES))
def test_conv2d_epilogue_small_outputs(request, monkeypatch, record_paths, name, setting):
    if setting == "tiny":
        monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 3000)
        monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 500)
    elif setting == "split":
        request.getfixturevalue("kernel_split_threads")
    x, kernel, args, z = _conv_case(name, None)
    n, ho, wo, cout = z.shape
    pixels, k = n * ho * wo, kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    for activation in (None, "relu", "relu6"):
        for combo in EXTRA_COMBOS:
            extras = _combo_values(name, None, z, combo)
            what = f"conv2d {name} ({setting}) {activation} with {'+'.join(combo) or 'nothing'}"
            record_paths["starts"].clear()
            record_paths["epilogue_scale"].clear()
            y = ops.conv2d(x, kernel, activation=activation, **args, **extras)
            close(y, _epilogue(z, activation=activation, **extras), what)
            if "scale" in extras:  # folded exactly when there are at least K output pixels
                assert record_paths["epilogue_scale"] == [pixels < k], what
            if setting == "split":  # the threads split the output channels when they outnumber
                # the output pixels
                by_columns = any(s and isinstance(s[0], int) for s in record_paths["starts"])
                assert by_columns == (pixels < cout), what


# --------------------------------------------------------------------------- conv2d out= and errors

OUT_CASES = ["3x3-same", "1x1-stride2", "rgb-channel-major", "groups2"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", OUT_CASES)
def test_conv2d_writes_into_out(name, dtype):
    x, kernel, args, z = _conv_case(name, 3)
    extras = _combo_values(name, 3, z, ("scale", "bias", "residual"))
    expected = _epilogue(z, activation="relu6", **extras)
    if dtype == np.float32:
        extras = {key: v.astype(np.float32) for key, v in extras.items()}
    out = np.full(z.shape, np.nan, dtype=dtype)
    y = ops.conv2d(
        x.astype(dtype), kernel.astype(dtype), activation="relu6", out=out, **args, **extras
    )
    assert y is out
    if dtype == np.float64:
        close(out, expected, f"conv2d {name} into out")
    else:
        assert_close(out, expected, FORWARD_ATOL, FORWARD_RTOL, f"float32 conv2d {name} into out")


BAD_OUTS = [
    "wrong channels",
    "wrong batch",
    "wrong dtype",
    "strided view",
    "fortran order",
    "read-only",
    "a list",
]


def _bad_out(kind, shape, dtype):
    if kind == "wrong channels":
        return np.empty(shape[:-1] + (shape[-1] + 1,), dtype=dtype)
    if kind == "wrong batch":
        return np.empty((shape[0] + 1,) + shape[1:], dtype=dtype)
    if kind == "wrong dtype":
        return np.empty(shape, dtype=np.float32 if dtype == np.float64 else np.float64)
    if kind == "strided view":
        return np.empty(shape[:-1] + (2 * shape[-1],), dtype=dtype)[..., ::2]
    if kind == "fortran order":
        return np.empty(shape, dtype=dtype, order="F")
    if kind == "read-only":
        out = np.empty(shape, dtype=dtype)
        out.flags.writeable = False
        return out
    return np.zeros(shape).tolist()


@pytest.mark.parametrize("kind", BAD_OUTS)
@pytest.mark.parametrize("name", OUT_CASES)
def test_conv2d_rejects_bad_out(name, kind):
    x, kernel, args, z = _conv_case(name, 3)
    with pytest.raises(ValueError, match="out"):
        ops.conv2d(x, kernel, out=_bad_out(kind, z.shape, x.dtype), **args)


def test_conv2d_rejects_bad_residual_scale_bias_and_activation():
    x, kernel, args, z = _conv_case("3x3-same", 3)
    cout = z.shape[-1]
    bad_residuals = [
        np.zeros(z.shape[:-1] + (cout + 1,)),
        np.zeros((1,) + z.shape[1:]),  # broadcastable, still not the output's shape
        np.zeros(cout),
    ]
    for residual in bad_residuals:
        with pytest.raises(ValueError, match="residual"):
            ops.conv2d(x, kernel, residual=residual, **args)
    for scale in (np.ones(cout + 1), np.ones((1, cout)), np.ones(())):
        with pytest.raises(ValueError, match="scale"):
            ops.conv2d(x, kernel, scale=scale, **args)
    with pytest.raises(ValueError, match="bias"):
        ops.conv2d(x, kernel, bias=np.ones(cout - 1), **args)
    with pytest.raises(ValueError, match="activation"):
        ops.conv2d(x, kernel, activation="tanh", **args)
    with pytest.raises(ValueError, match="scale"):
        ops.depthwise_conv2d(x, kernel[..., :1], scale=np.ones(3))
    with pytest.raises(ValueError, match="bias"):
        ops.depthwise_conv2d(x, kernel[..., :2], bias=np.ones(4))  # needs Cin * 2 = 8


# --------------------------------------------------------------------------- depthwise_conv2d

# name: (input height and width, depth multiplier, strides, padding); 7 or 9 output rows.
DEPTHWISE_CASES = {
    "m1-s1-same": ((9, 9), 1, 1, "same"),
    "m1-s1-valid": ((9, 10), 1, 1, "valid"),
    "m1-s2-same": ((13, 13), 1, 2, "same"),
    "m1-s2-valid": ((15, 14), 1, 2, "valid"),
    "m2-s1-same": ((9, 9), 2, 1, "same"),
    "m2-s1-valid": ((9, 10), 2, 1, "valid"),
    "m2-s2-same": ((13, 13), 2, 2, "same"),
    "m2-s2-valid": ((15, 14), 2, 2, "valid"),
}
DEPTHWISE_CIN = 3


def _depthwise_case(name, batch):
    key = ("depthwise", name, batch)
    if key not in _reference_cache:
        (h, w), mult, strides, padding = DEPTHWISE_CASES[name]
        rng = _rng(*key)
        x = 2.0 * rng.standard_normal((batch, h, w, DEPTHWISE_CIN))
        kernel = rng.standard_normal((3, 3, DEPTHWISE_CIN, mult))
        args = dict(strides=strides, padding=padding)
        _reference_cache[key] = (x, kernel, args, ref.depthwise_conv2d(x, kernel, strides, padding))
    return _reference_cache[key]


def _check_depthwise_combos(name, batch):
    x, kernel, args, z = _depthwise_case(name, batch)
    values = _extras(_rng("depthwise extras", name, batch), z)
    for activation in (None, "relu", "relu6"):
        for combo in ((), ("scale",), ("bias",), ("scale", "bias")):
            extras = {key: values[key] for key in combo}
            what = f"depthwise {name} batch {batch} {activation} with {'+'.join(combo) or '-'}"
            expected = _epilogue(z, activation=activation, **extras)
            _assert_clips_exercised(expected, activation, what)
            y = ops.depthwise_conv2d(x, kernel, activation=activation, **args, **extras)
            close(y, expected, what)
            out = np.full(z.shape, np.nan)
            y = ops.depthwise_conv2d(x, kernel, activation=activation, out=out, **args, **extras)
            assert np.shares_memory(y, out), what  # (identity: test_depthwise_returns_out)
            close(out, expected, what + " into out")


@pytest.fixture(params=["passes", "einsum"])
def depthwise_path(request, monkeypatch):
    """Both depthwise forward paths: kh * kw multiply-add passes (few channels) and one einsum
    per block (many channels), chosen by ``_DEPTHWISE_EINSUM_MIN_CHANNELS``."""
    threshold = 10**9 if request.param == "passes" else 1
    monkeypatch.setattr(conv_module, "_DEPTHWISE_EINSUM_MIN_CHANNELS", threshold)
    return request.param


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(DEPTHWISE_CASES))
def test_depthwise_epilogue_default(depthwise_path, name, batch):
    _check_depthwise_combos(name, batch)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(DEPTHWISE_CASES))
def test_depthwise_epilogue_row_bands(depthwise_path, monkeypatch, record_units, name, batch):
    (h, w), mult, strides, padding = DEPTHWISE_CASES[name]
    wo = ref.out_len_and_pad(w, 3, strides, 1, padding)[0]
    wp = w + sum(ref.out_len_and_pad(w, 3, strides, 1, padding)[1])
    # per output row, as ops/conv.py budgets depthwise blocks: the input rows it reads, a
    # temporary and the output
    _tiny_chunks(monkeypatch, (strides * wp + 2 * wo) * DEPTHWISE_CIN * 8)
    _check_depthwise_combos(name, batch)
    _assert_row_bands(record_units, batch, f"depthwise {name} batch {batch}")


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(DEPTHWISE_CASES))
def test_depthwise_epilogue_split_threads(depthwise_path, kernel_split_threads, name, batch):
    _check_depthwise_combos(name, batch)


@pytest.mark.parametrize("name", ["m1-s1-same", "m2-s1-same"])
def test_depthwise_returns_out(name):
    # as conv2d: the result is `out` itself (a view of it would also keep the inference
    # BufferPool from taking the array back: it only takes arrays that own their memory)
    x, kernel, args, z = _depthwise_case(name, 1)
    out = np.empty(z.shape)
    y = ops.depthwise_conv2d(x, kernel, out=out, **args)
    assert y is out
    close(out, z, f"depthwise {name} into out")


def test_depthwise_float32_out():
    x, kernel, args, z = _depthwise_case("m2-s2-same", 3)
    scale = np.linspace(-1.5, 1.5, z.shape[-1])
    bias = np.linspace(1.0, -1.0, z.shape[-1])
    expected = _epilogue(z, scale, bias, activation="relu6")
    x32, k32 = x.astype(np.float32), kernel.astype(np.float32)
    out = np.empty(z.shape, np.float32)
    y = ops.depthwise_conv2d(x32, k32, scale=scale, bias=bias, activation="relu6", out=out, **args)
    assert y is out
    assert_close(out, expected, FORWARD_ATOL, FORWARD_RTOL, "float32 depthwise into out")


@pytest.mark.parametrize("kind", BAD_OUTS)
@pytest.mark.parametrize("name", ["m1-s1-same", "m2-s2-same"])  # out is the result / a copy's
def test_depthwise_rejects_bad_out(name, kind):
    x, kernel, args, z = _depthwise_case(name, 3)
    with pytest.raises(ValueError, match="out"):
        ops.depthwise_conv2d(x, kernel, out=_bad_out(kind, z.shape, x.dtype), **args)


# --------------------------------------------------------------------------- explicit_padding

# A ZeroPadding2D folded into the next "valid" convolution: name: (input height and width,
# input channels, kernel size, filters or depth multiplier, strides, groups, pads).
EXPLICIT_PAD_CASES = {
    "3x3-s2": ((12, 13), 4, (3, 3), 5, 2, 1, ((1, 2), (0, 1))),
    "7x7-s2-rgb": ((13, 13), 3, (7, 7), 4, 2, 1, ((3, 3), (3, 3))),  # ResNet's stem
    "1x1": ((7, 6), 4, (1, 1), 5, 1, 1, ((1, 0), (0, 1))),
    "1x1-s2": ((7, 6), 4, (1, 1), 5, 2, 1, ((2, 1), (1, 2))),
    "groups2": ((7, 7), 4, (3, 3), 6, 1, 2, ((1, 1), (0, 2))),
    "depthwise-s2": ((13, 13), 3, (3, 3), 1, 2, None, ((0, 1), (0, 1))),  # MobileNetV2's
    "depthwise-m2": ((9, 8), 3, (3, 3), 2, 1, None, ((2, 0), (1, 1))),
}


def _explicit_pad_case(name):
    key = ("explicit", name)
    if key not in _reference_cache:
        (h, w), cin, ksize, cout, strides, groups, pads = EXPLICIT_PAD_CASES[name]
        rng = _rng(*key)
        x = 3.0 * rng.standard_normal((3, h, w, cin))
        xp = np.pad(x, ((0, 0),) + pads + ((0, 0),))
        if groups is None:
            kernel = rng.standard_normal(ksize + (cin, cout))
            z = ref.depthwise_conv2d(xp, kernel, strides, "valid")
        else:
            kernel = rng.standard_normal(ksize + (cin // groups, cout))
            z = ref.conv2d(xp, kernel, strides, "valid", 1, groups)
        _reference_cache[key] = (x, kernel, strides, groups, pads, z)
    return _reference_cache[key]


@pytest.mark.parametrize("setting", ["default", "tiny", "split"])
@pytest.mark.parametrize("name", list(EXPLICIT_PAD_CASES))
def test_explicit_padding_is_a_zero_padding_in_front(request, monkeypatch, name, setting):
    if setting == "tiny":
        monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 3000)
        monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 3000)
    elif setting == "split":
        request.getfixturevalue("kernel_split_threads")
    x, kernel, strides, groups, pads, z = _explicit_pad_case(name)
    values = _extras(_rng("explicit extras", name), z)
    depthwise = groups is None
    for activation in (None, "relu6"):
        for combo in ((), ("scale", "bias") if depthwise else ("scale", "bias", "residual")):
            extras = {key: values[key] for key in combo}
            what = f"{name} ({setting}) {activation} with {'+'.join(combo) or 'nothing'}"
            expected = _epilogue(z, activation=activation, **extras)
            _assert_clips_exercised(expected, activation, what)
            if depthwise:
                y = ops.depthwise_conv2d(
                    x, kernel, strides, "valid", explicit_padding=pads, activation=activation,
                    **extras,
                )  # fmt: skip
            else:
                y = ops.conv2d(
                    x, kernel, strides, "valid", groups=groups, explicit_padding=pads,
                    activation=activation, **extras,
                )  # fmt: skip
            close(y, expected, what)


def test_explicit_padding_needs_valid_padding_and_non_negative_amounts():
    x, kernel, strides, groups, pads, z = _explicit_pad_case("3x3-s2")
    with pytest.raises(ValueError, match="explicit_padding"):
        ops.conv2d(x, kernel, strides, "same", explicit_padding=pads)
    with pytest.raises(ValueError, match="explicit_padding"):
        ops.conv2d(x, kernel, strides, "valid", explicit_padding=((1, -1), (0, 0)))
    x, kernel, strides, groups, pads, z = _explicit_pad_case("depthwise-s2")
    with pytest.raises(ValueError, match="explicit_padding"):
        ops.depthwise_conv2d(x, kernel, strides, "same", explicit_padding=pads)


# --------------------------------------------------------------------------- pad_zeros

PAD_CASES = [
    ((5,), ((0, 0),)),
    ((5,), ((2, 3),)),
    ((3, 4), ((0, 0), (0, 0))),
    ((3, 4), ((1, 0), (0, 2))),
    ((2, 3, 4), ((0, 1), (2, 2), (0, 0))),
    ((2, 5, 4, 3), ((0, 0), (1, 2), (3, 0), (0, 0))),  # NHWC image padding
    ((2, 5, 4, 3), ((1, 1), (1, 1), (1, 1), (1, 1))),
    ((2, 0, 4), ((1, 1), (0, 2), (0, 0))),  # an empty axis
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape, pad_width", PAD_CASES)
def test_pad_zeros_matches_np_pad(shape, pad_width, dtype):
    x = (np.arange(int(np.prod(shape))).reshape(shape) + 1).astype(dtype)
    y = pad_zeros(x, pad_width)
    expected = np.pad(x, pad_width)
    assert y.dtype == x.dtype and y.shape == expected.shape
    np.testing.assert_array_equal(y, expected)
    assert not np.shares_memory(y, x)


def test_pad_zeros_of_a_strided_view_and_numpy_ints():
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5) - 30
    x = base[::2, :, ::-2]  # not contiguous
    pad_width = ((np.int64(1), np.int64(0)), (0, 2), (3, 1))
    np.testing.assert_array_equal(pad_zeros(x, pad_width), np.pad(x, pad_width))
    assert pad_zeros(x, pad_width).dtype == np.float32
