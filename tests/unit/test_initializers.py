"""Initializers: shapes, dtypes, sample statistics against analytic values, fans, seeding,
configs and name resolution. No TensorFlow here."""

import math

import numpy as np
import pytest

from numpykeras import backend, initializers
from numpykeras.saving.object_registration import register_keras_serializable

import tolerances as tol

SIGMAS = tol.SAMPLE_STATS_SIGMAS
TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def _check_mean_std(values, mean, std, what):
    """Sample mean and std within SIGMAS standard errors of the analytic values."""
    v = values.astype(np.float64).ravel()
    n = v.size
    m, s = v.mean(), v.std()
    se_mean = s / math.sqrt(n)
    m4 = np.mean((v - m) ** 4)
    se_std = math.sqrt(max(m4 - s**4, 0.0) / n) / (2 * s)  # delta method on the sample variance
    assert abs(m - mean) <= SIGMAS * se_mean, f"{what}: mean {m} vs {mean} (se {se_mean})"
    assert abs(s - std) <= SIGMAS * se_std, f"{what}: std {s} vs {std} (se {se_std})"


ALL_CLASSES = [
    initializers.Zeros,
    initializers.Ones,
    initializers.Constant,
    initializers.RandomNormal,
    initializers.RandomUniform,
    initializers.TruncatedNormal,
    initializers.VarianceScaling,
    initializers.GlorotUniform,
    initializers.GlorotNormal,
    initializers.HeUniform,
    initializers.HeNormal,
    initializers.LecunUniform,
    initializers.LecunNormal,
    initializers.Orthogonal,
    initializers.Identity,
]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [None, "float32", "float64"])
def test_shape_and_dtype(cls, dtype):
    init = cls()
    shape = (5, 7)
    out = init(shape, dtype=dtype)
    assert isinstance(out, np.ndarray)
    assert out.shape == shape
    assert out.dtype == (dtype or "float32")
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "cls", [initializers.RandomNormal, initializers.GlorotUniform], ids=lambda c: c.__name__
)
def test_conv_and_vector_shapes(cls):
    assert cls(seed=1)((3, 3, 4, 8)).shape == (3, 3, 4, 8)
    assert cls(seed=1)([10]).shape == (10,)
    assert cls(seed=1)(6).shape == (6,)


def test_deterministic_values():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2, 3)), np.ones((2, 3)))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 3)), np.full((2, 3), 2.5))
    row = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(initializers.Constant(row)((2, 3)), [row, row])
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((3, 4)), 3.0 * np.eye(3, 4))
    assert initializers.Zeros()((2,), dtype="int32").dtype == np.int32


def test_constant_bad_broadcast_raises():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        initializers.Constant([1.0, 2.0])((3, 3))


def test_identity_needs_2d():
    with pytest.raises(ValueError, match="only be used for 2D matrices"):
        initializers.Identity()((2, 2, 2))


# --------------------------------------------------------------------------- statistics


def test_random_normal_statistics():
    out = initializers.RandomNormal(mean=0.3, stddev=2.0, seed=11)((200, 300))
    _check_mean_std(out, 0.3, 2.0, "RandomNormal")


def test_random_uniform_statistics_and_bounds():
    out = initializers.RandomUniform(minval=-1.0, maxval=3.0, seed=12)((200, 300))
    assert out.min() >= -1.0 and out.max() <= 3.0
    assert out.min() < -0.99 and out.max() > 2.99  # fills the range
    _check_mean_std(out, 1.0, 4.0 / math.sqrt(12), "RandomUniform")


def test_truncated_normal_statistics_and_bounds():
    mean, stddev = -0.5, 1.5
    out = initializers.TruncatedNormal(mean=mean, stddev=stddev, seed=13)((200, 300))
    assert np.all(np.abs(out - mean) <= 2 * stddev * (1 + 1e-6))
    assert np.abs(out - mean).max() > 1.99 * stddev
    _check_mean_std(out, mean, stddev * TRUNCATED_STD, "TruncatedNormal")


def _fans_by_hand(shape):
    # Dense (in, out); conv (*spatial, in, out) multiplies both by the receptive field.
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


VS_CASES = [
    # (class or VarianceScaling kwargs, scale, mode, distribution)
    (initializers.GlorotUniform, 1.0, "fan_avg", "uniform"),
    (initializers.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    (initializers.HeUniform, 2.0, "fan_in", "uniform"),
    (initializers.HeNormal, 2.0, "fan_in", "truncated_normal"),
    (initializers.LecunUniform, 1.0, "fan_in", "uniform"),
    (initializers.LecunNormal, 1.0, "fan_in", "truncated_normal"),
    ({"scale": 3.0, "mode": "fan_out", "distribution": "untruncated_normal"}, 3.0, "fan_out",
     "untruncated_normal"),
    ({"scale": 0.5, "mode": "fan_out", "distribution": "normal"}, 0.5, "fan_out",
     "truncated_normal"),
]  # fmt: skip


@pytest.mark.parametrize("case", VS_CASES, ids=lambda c: str(c[0]))
@pytest.mark.parametrize("shape", [(150, 400), (3, 3, 40, 50)])
def test_variance_scaling_statistics(case, shape):
    factory, scale, mode, distribution = case
    init = (
        factory(seed=21)
        if isinstance(factory, type)
        else initializers.VarianceScaling(seed=21, **factory)
    )
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    fan_in, fan_out = _fans_by_hand(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    target_std = math.sqrt(scale / n)  # every distribution is scaled to this std
    out = init(shape)
    _check_mean_std(out, 0.0, target_std, f"{factory} {shape}")
    if distribution == "uniform":
        limit = math.sqrt(3 * scale / n)
        assert np.abs(out).max() <= limit
    elif distribution == "truncated_normal":
        assert np.abs(out).max() <= 2 * target_std / TRUNCATED_STD * (1 + 1e-6)


@pytest.mark.parametrize(
    "shape,fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((4, 5), (4, 5)),
        ((3, 3, 8, 16), (72, 144)),  # HWIO: 3*3*8, 3*3*16
        ((5, 2, 6), (10, 30)),  # Conv1D (width, in, out)
        ((2, 2, 2, 3, 4), (24, 32)),  # Conv3D
    ],
)
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_compute_fans_with_axes():
    assert initializers.compute_fans((2, 3, 4, 5), input_axes=(0, 1), output_axes=(2, 3)) == (6, 20)
    # The variance follows those fans: fan_in = 6 -> limit sqrt(3 / 6).
    init = initializers.LecunUniform(seed=3, input_axes=[0, 1], output_axes=[2, 3])
    assert np.abs(init((2, 3, 4, 5))).max() <= math.sqrt(0.5)


def test_orthogonal_is_orthogonal_with_gain():
    for shape in [(6, 4), (4, 6), (3, 3, 2, 5), (5, 5)]:
        q = initializers.Orthogonal(gain=2.0, seed=5)(shape, dtype="float64")
        flat = q.reshape(-1, shape[-1])
        gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        expected = 4.0 * np.eye(gram.shape[0])
        tol.assert_close(gram, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, str(shape))


def test_orthogonal_needs_2d():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((5,))


# --------------------------------------------------------------------------- seeding

RANDOM_CLASSES = [c for c in ALL_CLASSES if issubclass(c, initializers.RandomInitializer)]


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_int_seed_is_reproducible(cls):
    a = cls(seed=42)
    np.testing.assert_array_equal(a((8, 6)), a((8, 6)))  # same values on every call
    np.testing.assert_array_equal(a((8, 6)), cls(seed=42)((8, 6)))
    assert not np.array_equal(a((8, 6)), cls(seed=43)((8, 6)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_unseeded_draws_from_global_generator(cls):
    init = cls()
    backend.set_seed(7)
    first = init((8, 6))
    second = init((8, 6))
    backend.set_seed(7)
    again = init((8, 6))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_bad_seed_raises():
    with pytest.raises(ValueError, match="`seed` argument should be"):
        initializers.RandomNormal(seed="abc")


def test_random_initializer_rejects_int_dtype():
    with pytest.raises(ValueError, match="floating-point"):
        initializers.RandomNormal(seed=1)((2, 2), dtype="int32")


def test_unknown_dimension_raises():
    with pytest.raises(ValueError, match="fully defined shape"):
        initializers.GlorotUniform()((None, 3))


# --------------------------------------------------------------------------- configs


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="Argument `scale` must be positive float"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: fan_sum"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: gamma"):
        initializers.VarianceScaling(distribution="gamma")


CONFIG_CASES = [
    (initializers.Zeros(), {}),
    (initializers.Ones(), {}),
    (initializers.Constant(1.5), {"value": 1.5}),
    (initializers.Constant(np.array([1.0, 2.0])), {"value": [1.0, 2.0]}),
    (initializers.Identity(gain=2.0), {"gain": 2.0}),
    (initializers.RandomNormal(0.1, 0.2, seed=3), {"seed": 3, "mean": 0.1, "stddev": 0.2}),
    (initializers.TruncatedNormal(), {"seed": None, "mean": 0.0, "stddev": 0.05}),
    (initializers.RandomUniform(-1, 1), {"seed": None, "minval": -1, "maxval": 1}),
    (initializers.Orthogonal(gain=0.5, seed=1), {"seed": 1, "gain": 0.5}),
    (
        initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=4),
        {"seed": 4, "scale": 2.0, "mode": "fan_out", "distribution": "uniform",
         "input_axes": None, "output_axes": None},
    ),
    (initializers.GlorotUniform(), {"seed": None, "input_axes": None, "output_axes": None}),
    (initializers.HeNormal(seed=9), {"seed": 9, "input_axes": None, "output_axes": None}),
]  # fmt: skip


@pytest.mark.parametrize("init,config", CONFIG_CASES, ids=lambda v: type(v).__name__)
def test_get_config_and_round_trip(init, config):
    assert init.get_config() == config
    clone = type(init).from_config(init.get_config())
    assert type(clone) is type(init) and clone.get_config() == config
    restored = initializers.deserialize(initializers.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == config


def test_serialize_format():
    assert initializers.serialize(initializers.GlorotUniform()) == {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None, "input_axes": None, "output_axes": None},
        "registered_name": None,
    }
    assert initializers.serialize(None) is None


@pytest.mark.parametrize(
    "name,cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("glorot_normal", initializers.GlorotNormal),
        ("he_normal", initializers.HeNormal),
        ("he_uniform", initializers.HeUniform),
        ("lecun_normal", initializers.LecunNormal),
        ("lecun_uniform", initializers.LecunUniform),
        ("zeros", initializers.Zeros),
        ("zero", initializers.Zeros),
        ("ones", initializers.Ones),
        ("one", initializers.Ones),
        ("normal", initializers.RandomNormal),
        ("random_normal", initializers.RandomNormal),
        ("uniform", initializers.RandomUniform),
        ("random_uniform", initializers.RandomUniform),
        ("truncated_normal", initializers.TruncatedNormal),
        ("orthogonal", initializers.Orthogonal),
        ("OrthogonalInitializer", initializers.Orthogonal),
        ("identity", initializers.Identity),
        ("IdentityInitializer", initializers.Identity),
        ("constant", initializers.Constant),
        ("variance_scaling", initializers.VarianceScaling),
    ],
)
def test_string_names(name, cls):
    assert type(initializers.get(name)) is cls
    assert type(initializers.deserialize(name)) is cls


def test_keras2_dicts():
    keras2 = {
        "class_name": "VarianceScaling",
        "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal", "seed": None},
    }
    init = initializers.deserialize(keras2)
    assert isinstance(init, initializers.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (2.0, "fan_in", "truncated_normal")
    old_tf = {"class_name": "Zeros", "config": {"dtype": "float32"}}  # tf.keras 1.x
    assert isinstance(initializers.deserialize(old_tf), initializers.Zeros)
    constant = {"class_name": "Constant", "config": {"value": 0.5}}
    np.testing.assert_array_equal(initializers.get(constant)((2,)), [0.5, 0.5])
    # Keras 3 stores an array value as a "__numpy__" object.
    array_value = {"class_name": "__numpy__", "config": {"value": [1.0, 2.0], "dtype": "float32"}}
    constant = {"module": "keras.initializers", "class_name": "Constant",
                "config": {"value": array_value}, "registered_name": None}  # fmt: skip
    np.testing.assert_array_equal(initializers.get(constant)((2, 2)), [[1.0, 2.0], [1.0, 2.0]])


def test_get_other_identifiers():
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.HeNormal), initializers.HeNormal)

    def fn(shape, dtype=None):
        return np.full(shape, 7.0)

    assert initializers.get(fn) is fn
    init = initializers.get(initializers.Ones())
    assert isinstance(init, initializers.Ones)
    direct = initializers.get(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(direct((2, 3)), np.arange(6.0).reshape(2, 3))
    assert direct((2, 3)).dtype == np.float32
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        direct((3, 2))


def test_unknown_identifiers_raise_keras_wording():
    with pytest.raises(ValueError, match="^Could not interpret initializer identifier: foo$"):
        initializers.get("foo")
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.deserialize({"class_name": "Foo", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 3"):
        initializers.get(3)


def test_registered_custom_initializer_round_trips():
    @register_keras_serializable(package="TestInits")
    class Halves(initializers.Initializer):
        def __init__(self, scale=0.5):
            self.scale = scale

        def __call__(self, shape, dtype=None):
            return np.full(shape, self.scale, dtype=backend.standardize_dtype(dtype))

        def get_config(self):
            return {"scale": self.scale}

    config = initializers.serialize(Halves(0.25))
    assert config["registered_name"] == "TestInits>Halves"
    restored = initializers.deserialize(config)
    assert isinstance(restored, Halves) and restored.scale == 0.25
    assert isinstance(initializers.deserialize({"class_name": "Halves", "config": {}}), Halves)
