"""Initializers vs Keras 3: configs and serialized dicts for the same arguments, names, exact
values of the deterministic initializers, orthogonality, and variance-scaling statistics (Keras's
draws and ours both checked against the same analytic value)."""

import math

import numpy as np
import pytest

from numpykeras import initializers

import tolerances as tol

CONFIG_CASES = [
    ("Zeros", {}),
    ("Ones", {}),
    ("Constant", {"value": 1.5}),
    ("Constant", {"value": [1.0, 2.0]}),
    ("RandomNormal", {}),
    ("RandomNormal", {"mean": 0.2, "stddev": 0.3, "seed": 7}),
    ("RandomUniform", {}),
    ("RandomUniform", {"minval": -1.0, "maxval": 2.0, "seed": 3}),
    ("TruncatedNormal", {}),
    ("TruncatedNormal", {"mean": 1.0, "stddev": 2.0, "seed": 5}),
    ("VarianceScaling", {}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform", "seed": 1}),
    ("VarianceScaling", {"distribution": "normal"}),
    ("VarianceScaling", {"mode": "fan_out", "distribution": "untruncated_normal"}),
    ("GlorotUniform", {}),
    ("GlorotUniform", {"seed": 4}),
    ("GlorotNormal", {}),
    ("HeUniform", {"seed": 2}),
    ("HeNormal", {}),
    ("LecunUniform", {}),
    ("LecunNormal", {"seed": 9}),
    ("Orthogonal", {}),
    ("Orthogonal", {"gain": 2.0, "seed": 3}),
]
IDS = [c + "".join(f"-{k}={v}" for k, v in p.items()) for c, p in CONFIG_CASES]


@pytest.mark.parametrize("class_name,kwargs", CONFIG_CASES, ids=IDS)
def test_config_and_serialized_dict_match_keras(keras, class_name, kwargs):
    theirs = getattr(keras.initializers, class_name)(**kwargs)
    ours = getattr(initializers, class_name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert initializers.serialize(ours) == keras.initializers.serialize(theirs)
    # Keras's dict deserializes to ours with the same config.
    restored = initializers.deserialize(keras.initializers.serialize(theirs))
    assert type(restored) is type(ours) and restored.get_config() == ours.get_config()


def test_identity_config_keeps_gain(keras):
    # Keras 3's Identity.get_config() returns {} (it drops `gain`); we keep it so a file written by
    # numpykeras round-trips, and read Keras's empty config as gain=1.0 like Keras does.
    assert keras.initializers.Identity(gain=2.0).get_config() == {}
    assert initializers.Identity(gain=2.0).get_config() == {"gain": 2.0}
    restored = initializers.deserialize(keras.initializers.serialize(keras.initializers.Identity()))
    assert isinstance(restored, initializers.Identity) and restored.gain == 1.0


def _keras_names(keras):
    from keras.src.initializers import ALL_OBJECTS_DICT

    skip = {"STFT", "stft", "STFTInitializer", "Initializer", "initializer"}
    return sorted(n for n in ALL_OBJECTS_DICT if n not in skip)


def test_every_keras_name_resolves_to_the_same_class(keras):
    from keras.src.initializers import ALL_OBJECTS_DICT

    for name in _keras_names(keras):
        ours = initializers.get(name)
        assert type(ours).__name__ == ALL_OBJECTS_DICT[name].__name__, name


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (3, 3, 2, 4)])
def test_deterministic_values_equal_keras(keras, shape):
    for class_name, kwargs in [("Zeros", {}), ("Ones", {}), ("Constant", {"value": -0.75})]:
        theirs = np.asarray(getattr(keras.initializers, class_name)(**kwargs)(shape))
        ours = getattr(initializers, class_name)(**kwargs)(shape)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (6, 2)])
def test_identity_equals_keras(keras, shape):
    theirs = np.asarray(keras.initializers.Identity(gain=1.5)(shape))
    ours = initializers.Identity(gain=1.5)(shape)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def _gram(q, shape):
    flat = q.reshape(-1, shape[-1]).astype(np.float64)
    return flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T


@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (3, 3, 4, 6), (6, 6)])
def test_orthogonal_like_keras(keras, shape):
    gain = 1.7
    theirs = np.asarray(keras.initializers.Orthogonal(gain=gain, seed=1)(shape))
    ours = initializers.Orthogonal(gain=gain, seed=1)(shape)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    expected = gain**2 * np.eye(min(math.prod(shape[:-1]), shape[-1]))
    tol.assert_forward_close(_gram(theirs, shape), expected, "keras gram")
    tol.assert_forward_close(_gram(ours, shape), expected, "our gram")


def _within_sigmas(values, target_std, what):
    v = values.astype(np.float64).ravel()
    n = v.size
    s = v.std()
    se_mean = s / math.sqrt(n)
    se_std = math.sqrt(max(np.mean((v - v.mean()) ** 4) - s**4, 0.0) / n) / (2 * s)
    assert abs(v.mean()) <= tol.SAMPLE_STATS_SIGMAS * se_mean, f"{what}: mean {v.mean()}"
    assert abs(s - target_std) <= tol.SAMPLE_STATS_SIGMAS * se_std, f"{what}: {s} vs {target_std}"


VS_CASES = [
    ("GlorotUniform", 1.0, "fan_avg", "uniform"),
    ("GlorotNormal", 1.0, "fan_avg", "truncated_normal"),
    ("HeUniform", 2.0, "fan_in", "uniform"),
    ("HeNormal", 2.0, "fan_in", "truncated_normal"),
    ("LecunUniform", 1.0, "fan_in", "uniform"),
    ("LecunNormal", 1.0, "fan_in", "truncated_normal"),
]


@pytest.mark.parametrize("case", VS_CASES, ids=[c[0] for c in VS_CASES])
@pytest.mark.parametrize("shape", [(120, 300), (3, 3, 32, 48), (5, 40, 60)])
def test_variance_scaling_statistics_like_keras(keras, case, shape):
    class_name, scale, mode, distribution = case
    receptive = math.prod(shape[:-2])
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    target_std = math.sqrt(scale / n)
    theirs = np.asarray(getattr(keras.initializers, class_name)(seed=11)(shape))
    ours = getattr(initializers, class_name)(seed=11)(shape)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    _within_sigmas(theirs, target_std, f"keras {class_name}")  # the analytic value is Keras's
    _within_sigmas(ours, target_std, f"ours {class_name}")
    if distribution == "uniform":
        limit = math.sqrt(3 * scale / n)
        assert np.abs(theirs).max() <= limit and np.abs(ours).max() <= limit
    else:
        bound = 2 * target_std / 0.87962566103423978 * (1 + 1e-6)
        assert np.abs(theirs).max() <= bound and np.abs(ours).max() <= bound


@pytest.mark.parametrize(
    "class_name,kwargs,mean,std",
    [
        ("RandomNormal", {"mean": 0.5, "stddev": 2.0}, 0.5, 2.0),
        ("RandomUniform", {"minval": -2.0, "maxval": 1.0}, -0.5, 3.0 / math.sqrt(12)),
        ("TruncatedNormal", {"mean": 0.0, "stddev": 1.0}, 0.0, 0.87962566103423978),
    ],
)
def test_plain_random_statistics_like_keras(keras, class_name, kwargs, mean, std):
    shape = (150, 200)
    theirs = np.asarray(getattr(keras.initializers, class_name)(seed=5, **kwargs)(shape))
    ours = getattr(initializers, class_name)(seed=5, **kwargs)(shape)
    for values, who in [(theirs, "keras"), (ours, "ours")]:
        _within_sigmas(values - mean, std, f"{who} {class_name}")
