"""numpykeras optimizers and schedules vs Keras 3 (TensorFlow backend).

Each case runs 10 steps of Keras's optimizer and ours from the same initial weights with the same
random gradients (three variables of different shapes, one gradient ``None`` at one step), and
compares every model variable and every optimizer variable after every step.
"""

import re
import zlib

import numpy as np
import pytest

from numpykeras import optimizers
from numpykeras.backend import Variable
from numpykeras.optimizers import schedules

from tolerances import OPTIMIZER_ATOL, OPTIMIZER_RTOL, assert_close

STEPS = 10
# (layer scope, weight name, shape): paths like "dense/kernel", as in a model.
WEIGHTS = [("dense", "kernel", (4, 3)), ("dense", "bias", (3,)), ("conv2d", "kernel", (2, 2, 1, 2))]
NONE_STEP = 4  # the step at which the second variable gets no gradient


def _schedule(module, kind):
    """The same schedule built from Keras's module or ours."""
    if kind == "exponential":
        return module.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=True)
    if kind == "cosine_warmup":
        return module.CosineDecay(0.01, decay_steps=6, alpha=0.1, warmup_target=0.1, warmup_steps=3)
    if kind == "piecewise":
        return module.PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.01])
    raise ValueError(kind)


def _kwargs(module, kwargs):
    """Resolve a ("schedule", kind) learning rate into a schedule of ``module``."""
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, tuple):
        kwargs["learning_rate"] = _schedule(module.schedules, lr[1])
    return kwargs


CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "clipnorm": 0.5}),
    ("SGD", {"learning_rate": 0.1, "clipvalue": 0.3}),
    ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.7}),
    ("SGD", {"learning_rate": ("schedule", "exponential"), "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "gradient_accumulation_steps": 3}),
    ("SGD", {"learning_rate": 0.1, "loss_scale_factor": 8.0}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.05, "clipnorm": 0.5}),
    ("Adam", {"learning_rate": 0.05, "global_clipnorm": 0.5}),
    ("Adam", {"learning_rate": ("schedule", "cosine_warmup")}),
    ("Adam", {"learning_rate": 0.05, "use_ema": True, "ema_overwrite_frequency": 3}),
    ("Adam", {"learning_rate": 0.05, "gradient_accumulation_steps": 2}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ("AdamW", {"learning_rate": ("schedule", "piecewise"), "clipvalue": 0.5}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "epsilon": 1e-3}),
    ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.1, "global_clipnorm": 1.0}),
    ("RMSprop", {"learning_rate": ("schedule", "exponential")}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-4}),
    ("Adagrad", {"learning_rate": 0.1, "clipvalue": 0.4, "weight_decay": 0.1}),
    ("Adagrad", {"learning_rate": ("schedule", "piecewise")}),
    ("Nadam", {}),
    ("Nadam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99}),
    ("Nadam", {"learning_rate": 0.05, "weight_decay": 0.1, "clipnorm": 1.0}),
    ("Nadam", {"learning_rate": ("schedule", "cosine_warmup")}),
]


def _case_id(case):
    name, kwargs = case
    parts = [f"{k}={v[1] if isinstance(v, tuple) else v}" for k, v in kwargs.items()]
    return "-".join([name, *parts])


def _make_variables(keras, values):
    keras_vars, our_vars = [], []
    for (scope, name, _), value in zip(WEIGHTS, values):
        with keras.name_scope(scope):
            keras_vars.append(keras.Variable(value.copy(), name=name))
        our_vars.append(Variable(value.copy(), name=name, path=f"{scope}/{name}"))
    return keras_vars, our_vars


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_updates_match_keras(keras, case):
    class_name, kwargs = case
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    values = [rng.normal(size=shape).astype("float32") for _, _, shape in WEIGHTS]
    keras_vars, our_vars = _make_variables(keras, values)
    keras_opt = getattr(keras.optimizers, class_name)(**_kwargs(keras.optimizers, kwargs))
    ours = getattr(optimizers, class_name)(**_kwargs(optimizers, kwargs))

    for step in range(STEPS):
        grads = [rng.normal(size=shape).astype("float32") for _, _, shape in WEIGHTS]
        if step == NONE_STEP:
            grads[1] = None
        with pytest.warns(UserWarning) if step == NONE_STEP else _no_context():
            keras_opt.apply([None if g is None else g.copy() for g in grads], keras_vars)
        kept = [None if g is None else g.copy() for g in grads]
        with pytest.warns(UserWarning) if step == NONE_STEP else _no_context():
            ours.apply(kept, our_vars)
        # The caller's gradients are not modified.
        for g, k in zip(grads, kept):
            if g is not None:
                np.testing.assert_array_equal(k, g)

        for kv, ov in zip(keras_vars, our_vars):
            assert_close(
                ov.numpy(), kv.numpy(), OPTIMIZER_ATOL, OPTIMIZER_RTOL, f"step {step} {ov.path}"
            )
        assert len(ours.variables) == len(keras_opt.variables)
        for kv, ov in zip(keras_opt.variables, ours.variables):
            assert_close(
                ov.numpy(), kv.numpy(), OPTIMIZER_ATOL, OPTIMIZER_RTOL, f"step {step} {kv.path}"
            )
        assert ours.learning_rate == pytest.approx(
            float(keras_opt.learning_rate), rel=OPTIMIZER_RTOL, abs=OPTIMIZER_ATOL
        )

    if kwargs.get("use_ema"):
        keras_opt.finalize_variable_values(keras_vars)
        ours.finalize_variable_values(our_vars)
        for kv, ov in zip(keras_vars, our_vars):
            assert_close(ov.numpy(), kv.numpy(), OPTIMIZER_ATOL, OPTIMIZER_RTOL, ov.path)


class _no_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_variables_order_and_paths_match_keras(keras, case):
    class_name, kwargs = case
    values = [np.zeros(shape, "float32") for _, _, shape in WEIGHTS]
    keras_vars, our_vars = _make_variables(keras, values)
    name = f"opt_{class_name.lower()}"
    keras_opt = getattr(keras.optimizers, class_name)(
        name=name, **_kwargs(keras.optimizers, kwargs)
    )
    ours = getattr(optimizers, class_name)(name=name, **_kwargs(optimizers, kwargs))
    keras_opt.build(keras_vars)
    ours.build(our_vars)
    our_paths = [v.path for v in ours.variables]
    keras_paths = [v.path for v in keras_opt.variables]
    our_names = [v.name for v in ours.variables]
    keras_names = [v.name for v in keras_opt.variables]
    if class_name == "Nadam":
        # Keras makes Nadam's u_product last, as an unnamed Variable: "variable" plus a suffix
        # from a process-wide counter of unnamed variables, which numpykeras does not keep.
        for paths in (keras_paths, keras_names):
            assert re.fullmatch(r"variable(_\d+)?", paths[-1]), paths[-1]
            paths[-1] = "variable"
    assert our_paths == keras_paths
    assert our_names == keras_names
    assert [tuple(v.shape) for v in ours.variables] == [tuple(v.shape) for v in keras_opt.variables]
    assert [v.dtype for v in ours.variables] == [v.dtype for v in keras_opt.variables]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_config_matches_keras(keras, case):
    class_name, kwargs = case
    keras_opt = getattr(keras.optimizers, class_name)(
        name="opt", **_kwargs(keras.optimizers, kwargs)
    )
    ours = getattr(optimizers, class_name)(name="opt", **_kwargs(optimizers, kwargs))
    assert optimizers.serialize(ours) == keras.optimizers.serialize(keras_opt)
    # Our serialized config loads in Keras, and Keras's in ours.
    back = keras.optimizers.deserialize(optimizers.serialize(ours))
    assert back.get_config() == keras_opt.get_config()
    assert optimizers.deserialize(keras.optimizers.serialize(keras_opt)).get_config() == (
        ours.get_config()
    )


def test_default_names_match_keras(keras):
    for class_name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"):
        expected = getattr(keras.optimizers, class_name)().name.split("_")
        ours = getattr(optimizers, class_name)().name.split("_")
        # The counter suffix depends on how many were made before; the stem must match.
        stem = [p for p in expected if not p.isdigit()]
        assert [p for p in ours if not p.isdigit()] == stem


@pytest.mark.parametrize("class_name", ["Adam", "SGD", "RMSprop", "Adagrad", "AdamW", "Nadam"])
def test_tf_keras_configs_deserialize(tf_keras, class_name):
    """Keras 2 (tf_keras) optimizer configs, as legacy HDF5 files hold them."""
    opt = getattr(tf_keras.optimizers, class_name)(learning_rate=0.02)
    config = {"class_name": f"Custom>{class_name}", "config": opt.get_config()}
    ours = optimizers.get(config)
    assert type(ours).__name__ == class_name
    assert ours.learning_rate == pytest.approx(0.02)
    plain = optimizers.deserialize(tf_keras.optimizers.serialize(opt))
    assert plain.get_config() == ours.get_config()


def test_tf_keras_schedule_config_deserializes(tf_keras):
    sched = tf_keras.optimizers.schedules.CosineDecay(0.1, 10, alpha=0.2)
    opt = tf_keras.optimizers.Adam(learning_rate=sched)
    ours = optimizers.get({"class_name": "Custom>Adam", "config": opt.get_config()})
    for step in (0, 3, 12):
        assert float(ours._learning_rate(step)) == pytest.approx(float(sched(step)), rel=1e-6)


SCHEDULE_CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.3}),
    (
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.3, "staircase": True},
    ),
    ("PiecewiseConstantDecay", {"boundaries": [3, 10, 20], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 15}),
    (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 9, "power": 2.0, "cycle": True},
    ),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5, "staircase": True},
    ),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "alpha": 0.05}),
    (
        "CosineDecay",
        {"initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.2, "warmup_steps": 5},
    ),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4}),
    (
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 3,
            "t_mul": 1.0,
            "m_mul": 0.5,
            "alpha": 0.1,
        },
    ),
]


@pytest.mark.parametrize(
    "class_name, kwargs",
    SCHEDULE_CASES,
    ids=[f"{c}-{i}" for i, (c, _) in enumerate(SCHEDULE_CASES)],
)
def test_schedules_match_keras(keras, class_name, kwargs):
    expected = getattr(keras.optimizers.schedules, class_name)(**kwargs)
    ours = getattr(schedules, class_name)(**kwargs)
    for step in [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 15, 20, 21, 30, 45, 100]:
        assert_close(
            ours(step),
            keras.ops.convert_to_numpy(expected(step)),
            OPTIMIZER_ATOL,
            OPTIMIZER_RTOL,
            f"{class_name} at step {step}",
        )
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(expected)
