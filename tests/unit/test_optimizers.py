"""Unit tests for numpykeras.optimizers (no TensorFlow).

The vectorised in-place updates are checked against plain per-element loops of the published
update rules in float64; the rest covers variables, clipping, weight decay, EMA, accumulation,
errors, configs and schedules.
"""

import math
import warnings

import numpy as np
import pytest

from numpykeras import optimizers
from numpykeras.backend import Variable
from numpykeras.optimizers import schedules
from numpykeras.saving.object_registration import register_keras_serializable

from tolerances import (
    OPTIMIZER_ATOL,
    OPTIMIZER_RTOL,
    REFERENCE_ATOL,
    REFERENCE_RTOL,
    assert_close,
)

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def _variables(rng, dtype="float64"):
    return [
        Variable(rng.normal(size=s), name=f"w{i}", path=f"layer/w{i}", dtype=dtype)
        for i, s in enumerate(SHAPES)
    ]


def _grads(rng, dtype="float64"):
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


# ----------------------------------------------------------------------------- references
# Plain per-element loops of each rule, on Python floats, keeping their own state.


def _ref_sgd(w, g, state, lr, t, momentum=0.0, nesterov=False):
    m = state.setdefault("m", [0.0] * len(w))
    for i in range(len(w)):
        if momentum == 0:
            w[i] -= lr * g[i]
            continue
        m[i] = momentum * m[i] - lr * g[i]
        w[i] += momentum * m[i] - lr * g[i] if nesterov else m[i]


def _ref_adam(w, g, state, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = state.setdefault("m", [0.0] * len(w))
    v = state.setdefault("v", [0.0] * len(w))
    vmax = state.setdefault("vmax", [0.0] * len(w))
    for i in range(len(w)):
        m[i] = beta_1 * m[i] + (1 - beta_1) * g[i]
        v[i] = beta_2 * v[i] + (1 - beta_2) * g[i] ** 2
        vmax[i] = max(vmax[i], v[i])
        v_used = vmax[i] if amsgrad else v[i]
        # Keras's epsilon is the paper's "epsilon hat", added to sqrt(v) before bias correction.
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w[i] -= alpha * m[i] / (math.sqrt(v_used) + epsilon)


def _ref_rmsprop(w, g, state, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    ms = state.setdefault("ms", [0.0] * len(w))
    mg = state.setdefault("mg", [0.0] * len(w))
    mom = state.setdefault("mom", [0.0] * len(w))
    for i in range(len(w)):
        ms[i] = rho * ms[i] + (1 - rho) * g[i] ** 2
        mg[i] = rho * mg[i] + (1 - rho) * g[i]
        denom = ms[i] - mg[i] ** 2 + epsilon if centered else ms[i] + epsilon
        inc = lr * g[i] / math.sqrt(denom)
        if momentum > 0:
            mom[i] = momentum * mom[i] + inc
            w[i] -= mom[i]
        else:
            w[i] -= inc


def _ref_adagrad(w, g, state, lr, t, initial_accumulator_value=0.1, epsilon=1e-7):
    acc = state.setdefault("acc", [initial_accumulator_value] * len(w))
    for i in range(len(w)):
        acc[i] += g[i] ** 2
        w[i] -= lr * g[i] / math.sqrt(acc[i] + epsilon)


def _ref_nadam(w, g, state, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = state.setdefault("m", [0.0] * len(w))
    v = state.setdefault("v", [0.0] * len(w))

    def mu(k):  # Dozat's momentum schedule
        return beta_1 * (1 - 0.5 * 0.96**k)

    prod_t = math.prod(mu(k) for k in range(1, t + 1))
    for i in range(len(w)):
        m[i] = beta_1 * m[i] + (1 - beta_1) * g[i]
        v[i] = beta_2 * v[i] + (1 - beta_2) * g[i] ** 2
        m_hat = mu(t + 1) * m[i] / (1 - prod_t * mu(t + 1)) + (1 - mu(t)) * g[i] / (1 - prod_t)
        v_hat = v[i] / (1 - beta_2**t)
        w[i] -= lr * m_hat / (math.sqrt(v_hat) + epsilon)


REFERENCE_CASES = [
    ("SGD", _ref_sgd, {"learning_rate": 0.1}),
    ("SGD", _ref_sgd, {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", _ref_sgd, {"learning_rate": 0.1, "momentum": 0.7, "nesterov": True}),
    ("Adam", _ref_adam, {"learning_rate": 0.05}),
    ("Adam", _ref_adam, {"learning_rate": 0.05, "beta_1": 0.5, "epsilon": 0.1, "amsgrad": True}),
    ("RMSprop", _ref_rmsprop, {"learning_rate": 0.01}),
    ("RMSprop", _ref_rmsprop, {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("RMSprop", _ref_rmsprop, {"learning_rate": 0.01, "rho": 0.5, "epsilon": 0.01}),
    ("Adagrad", _ref_adagrad, {"learning_rate": 0.1}),
    ("Adagrad", _ref_adagrad, {"learning_rate": 0.1, "initial_accumulator_value": 1.0}),
    ("Nadam", _ref_nadam, {"learning_rate": 0.05}),
    ("Nadam", _ref_nadam, {"learning_rate": 0.05, "beta_1": 0.6, "beta_2": 0.9, "epsilon": 0.1}),
]


@pytest.mark.parametrize(
    "class_name, reference, kwargs",
    REFERENCE_CASES,
    ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(REFERENCE_CASES)],
)
def test_update_matches_plain_loop_reference(class_name, reference, kwargs):
    rng = np.random.default_rng(0)
    variables = _variables(rng)
    opt = getattr(optimizers, class_name)(**kwargs)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "learning_rate"}
    lr = float(np.float32(kwargs["learning_rate"]))  # the learning_rate variable is float32
    ref_w = [list(v.numpy().ravel()) for v in variables]
    ref_state = [{} for _ in variables]
    for t in range(1, 6):
        grads = _grads(rng)
        opt.apply(grads, variables)
        for w, g, state in zip(ref_w, grads, ref_state):
            reference(w, list(g.ravel()), state, lr, t, **ref_kwargs)
        for v, w in zip(variables, ref_w):
            assert_close(
                v.value.ravel(), np.array(w), REFERENCE_ATOL, REFERENCE_RTOL, f"step {t} {v.path}"
            )


@pytest.mark.parametrize("class_name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"])
def test_float32_updates_in_place_and_gradients_untouched(class_name):
    rng = np.random.default_rng(1)
    variables = _variables(rng, "float32")
    arrays = [v.value for v in variables]
    opt = getattr(optimizers, class_name)(learning_rate=0.1)
    for _ in range(3):
        grads = _grads(rng, "float32")
        copies = [g.copy() for g in grads]
        opt.apply(grads, variables)
        for g, c in zip(grads, copies):
            np.testing.assert_array_equal(g, c)
    for v, a in zip(variables, arrays):
        assert v.value is a  # updated in place
        assert v.dtype == "float32"
    for v in opt.variables[2:]:
        assert v.dtype == "float32"


# ----------------------------------------------------------------------------- variables


def test_variables_order_names_and_paths():
    a = Variable(np.zeros((2, 3)), name="kernel", path="sequential/dense/kernel")
    b = Variable(np.zeros(3), name="bias", path="sequential/dense/bias")
    opt = optimizers.Adam(name="adam", amsgrad=True)
    opt.build([a, b])
    assert [v.path for v in opt.variables] == [
        "adam/iteration",
        "adam/learning_rate",
        "adam/sequential_dense_kernel_momentum",
        "adam/sequential_dense_kernel_velocity",
        "adam/sequential_dense_bias_momentum",
        "adam/sequential_dense_bias_velocity",
        "adam/sequential_dense_kernel_velocity_hat",
        "adam/sequential_dense_bias_velocity_hat",
    ]
    assert opt.variables[2].name == "sequential_dense_kernel_momentum"
    assert opt.iterations.name == "iteration" and opt.iterations.dtype == "int64"
    assert opt.variables[1].dtype == "float32" and opt.variables[1].shape == ()

    rms = optimizers.RMSprop(name="r", momentum=0.5, centered=True)
    rms.build([a, b])
    suffixes = [v.path.split("dense_")[-1] for v in rms.variables[2:]]
    assert suffixes == [
        "kernel_velocity",
        "bias_velocity",
        "kernel_momentum",
        "bias_momentum",
        "kernel_average_gradient",
        "bias_average_gradient",
    ]

    assert len(optimizers.SGD().variables) == 2
    sgd = optimizers.SGD()
    sgd.build([a, b])
    assert len(sgd.variables) == 2  # no momentum slots without momentum
    ada = optimizers.Adagrad(initial_accumulator_value=0.3)
    ada.build([a])
    np.testing.assert_array_equal(ada.variables[2].value, np.full((2, 3), 0.3, "float32"))
    nadam = optimizers.Nadam()
    nadam.build([a, b])
    assert nadam.variables[-1].path == "variable" and nadam.variables[-1].value == 1.0


def test_schedule_learning_rate_has_no_variable_and_is_evaluated_per_step():
    sched = schedules.ExponentialDecay(0.5, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=sched)
    assert [v.name for v in opt.variables] == ["iteration"]
    w = Variable(np.zeros(2), name="w", dtype="float64")
    for step in range(3):
        assert opt.learning_rate == pytest.approx(0.5 * 0.5**step)
        before = w.numpy()
        opt.apply([np.ones(2)], [w])
        assert_close(
            before - w.numpy(), np.full(2, 0.5 * 0.5**step), OPTIMIZER_ATOL, OPTIMIZER_RTOL
        )
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_learning_rate_setter_and_callable():
    opt = optimizers.Adam(learning_rate=0.01)
    assert isinstance(opt.learning_rate, float)
    opt.learning_rate = 0.25
    assert opt.learning_rate == 0.25
    assert opt.get_config()["learning_rate"] == 0.25
    opt.learning_rate = schedules.PiecewiseConstantDecay([1], [0.5, 0.1])
    assert [v.name for v in opt.variables] == ["iteration"]
    assert opt.learning_rate == 0.5
    opt2 = optimizers.SGD(learning_rate=lambda: 0.3)
    assert opt2.learning_rate == pytest.approx(0.3)


def test_none_gradient_is_skipped_and_iterations_count():
    rng = np.random.default_rng(2)
    variables = _variables(rng)
    before = [v.numpy() for v in variables]
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['layer/w1'\]"):
        opt.apply_gradients(zip([np.ones(SHAPES[0]), None, np.ones(SHAPES[2])], variables))
    np.testing.assert_array_equal(variables[1].value, before[1])
    lr = float(np.float32(0.1))
    assert_close(variables[0].value, before[0] - lr, REFERENCE_ATOL, REFERENCE_RTOL, "updated")
    assert int(opt.iterations.value) == 1
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply([None, None, None], variables)
    opt.apply(_grads(rng))  # without variables once built
    assert int(opt.iterations.value) == 2


def test_apply_errors():
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match="must already be built"):
        opt.apply([np.ones(2)])
    a, b = Variable(np.zeros(2), name="a"), Variable(np.zeros(2), name="b")
    opt.apply([np.ones(2)], [a])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.ones(2)], [b])
    with pytest.raises(ValueError, match="must match `optimizer.variables`"):
        opt.apply([np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.ones(3)], [a])
    opt.apply([], [])  # no-op
    assert int(opt.iterations.value) == 1


def test_float64_gradient_is_cast_to_variable_dtype():
    w = Variable(np.ones(3, "float32"), name="w")
    optimizers.SGD(learning_rate=0.5).apply([np.full(3, 0.1, "float64")], [w])
    assert w.dtype == "float32"
    assert_close(w.value, np.full(3, 0.95), OPTIMIZER_ATOL, OPTIMIZER_RTOL, "cast update")


# ----------------------------------------------------------------------------- constructor errors


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: optimizers.Adam(foo=1), ValueError, "not recognized"),
        (lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0), ValueError, "Only one of"),
        (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
        (lambda: optimizers.Adam(learning_rate=1), ValueError, "should be float"),
        (lambda: optimizers.Adam(learning_rate="fast"), ValueError, "should be float"),
        (lambda: optimizers.AdamW(weight_decay=None), ValueError, "weight_decay=None"),
        (lambda: optimizers.SGD(momentum=1.5), ValueError, "between"),
        (lambda: optimizers.SGD(momentum=1), ValueError, "between"),
        (lambda: optimizers.Adam(gradient_accumulation_steps=1), ValueError, ">= 2"),
        (lambda: optimizers.Adam(use_ema=True, ema_momentum=2.0), ValueError, "ema_momentum"),
        (
            lambda: optimizers.Adam(use_ema=True, ema_overwrite_frequency=0.5),
            ValueError,
            "ema_overwrite_frequency",
        ),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_decay_argument_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        opt = optimizers.SGD(decay=0.1)
    assert "decay" not in opt.get_config()


def test_default_names_are_unique_snake_case():
    a, b = optimizers.RMSprop(), optimizers.RMSprop()
    assert a.name.startswith("rm_sprop") and a.name != b.name
    assert optimizers.AdamW().name.startswith("adam_w")


# ----------------------------------------------------------------------------- clipping / decay


def _one_sgd_step(grads, **kwargs):
    """Variables after one SGD(lr=1) step from zero: minus the processed gradients."""
    variables = [
        Variable(np.zeros(g.shape), name=f"v{i}", dtype="float64") for i, g in enumerate(grads)
    ]
    optimizers.SGD(learning_rate=1.0, **kwargs).apply([g.copy() for g in grads], variables)
    return [-v.numpy() for v in variables]


def test_clipnorm_clips_each_gradient():
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(4, 3)) * 3, rng.normal(size=5) * 0.01]
    out = _one_sgd_step(grads, clipnorm=0.5)
    assert np.linalg.norm(out[0]) == pytest.approx(0.5)
    assert_close(
        out[0], grads[0] * 0.5 / np.linalg.norm(grads[0]), REFERENCE_ATOL, REFERENCE_RTOL, "clipped"
    )
    assert_close(out[1], grads[1], REFERENCE_ATOL, REFERENCE_RTOL, "below the norm: unchanged")


def test_global_clipnorm_scales_all_gradients_together():
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=(4, 3)), rng.normal(size=5)]
    norm = math.sqrt(sum(float(np.sum(g**2)) for g in grads))
    out = _one_sgd_step(grads, global_clipnorm=0.5)
    for o, g in zip(out, grads):
        assert_close(o, g * 0.5 / norm, REFERENCE_ATOL, REFERENCE_RTOL, "global clip")
    small = _one_sgd_step(grads, global_clipnorm=100.0)
    for o, g in zip(small, grads):
        assert_close(o, g, REFERENCE_ATOL, REFERENCE_RTOL, "under the global norm")


def test_clipvalue_clips_elementwise():
    g = np.array([-2.0, -0.1, 0.0, 0.3, 5.0])
    out = _one_sgd_step([g], clipvalue=0.25)
    np.testing.assert_array_equal(out[0], [-0.25, -0.1, 0.0, 0.25, 0.25])


def test_zero_gradient_with_clipnorm_stays_zero():
    out = _one_sgd_step([np.zeros(3)], clipnorm=1.0)
    np.testing.assert_array_equal(out[0], 0.0)
    out = _one_sgd_step([np.zeros(3)], global_clipnorm=1.0)
    np.testing.assert_array_equal(out[0], 0.0)


def test_weight_decay_and_exclusion():
    rng = np.random.default_rng(5)
    kernel = Variable(rng.normal(size=(3, 2)), name="kernel", dtype="float64")
    bias = Variable(rng.normal(size=2), name="bias", dtype="float64")
    k0, b0 = kernel.numpy(), bias.numpy()
    g_k, g_b = rng.normal(size=(3, 2)), rng.normal(size=2)
    opt = optimizers.SGD(learning_rate=0.5, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([g_k, g_b], [kernel, bias])
    lr = float(np.float32(0.5))
    assert_close(
        kernel.value,
        k0 - k0 * 0.1 * lr - lr * g_k,
        REFERENCE_ATOL,
        REFERENCE_RTOL,
        "decayed kernel",
    )
    assert_close(bias.value, b0 - lr * g_b, REFERENCE_ATOL, REFERENCE_RTOL, "excluded bias")


def test_loss_scale_factor_divides_gradients():
    g = np.array([8.0, -4.0])
    out = _one_sgd_step([g], loss_scale_factor=4.0)[0]
    assert_close(out, np.array([2.0, -1.0]), REFERENCE_ATOL, REFERENCE_RTOL, "unscaled")
    assert optimizers.SGD(loss_scale_factor=4.0).scale_loss(1.5) == 6.0
    assert optimizers.SGD().scale_loss(1.5) == 1.5


def test_gradient_accumulation_updates_every_n_steps_with_mean():
    w = Variable(np.zeros(2), name="w", dtype="float64")
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=3)
    grads = [np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([2.0, 2.0])]
    for g in grads[:2]:
        opt.apply([g], [w])
        np.testing.assert_array_equal(w.value, 0.0)
        assert opt.iterations == 0
    opt.apply([grads[2]], [w])
    assert_close(w.value, -np.mean(grads, axis=0), REFERENCE_ATOL, REFERENCE_RTOL, "mean")
    assert opt.iterations == 1 and int(opt._iterations.value) == 3
    acc = [v for v in opt.variables if v.name.endswith("gradient_accumulator")]
    assert len(acc) == 1
    np.testing.assert_array_equal(acc[0].value, 0.0)


def test_ema_tracks_average_and_finalize_overwrites():
    w = Variable(np.zeros(2), name="w", dtype="float64")
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    avg = 0.0
    for step, g in enumerate([np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([-1.0, 0.0])]):
        opt.apply([g], [w])
        m = 0.5 if step else 0.0  # the first step copies the weights
        avg = m * avg + (1 - m) * w.numpy()
    average = [v for v in opt.variables if v.name.endswith("_average")][0]
    assert_close(average.value, avg, REFERENCE_ATOL, REFERENCE_RTOL, "ema")
    opt.finalize_variable_values([w])
    assert_close(w.value, avg, REFERENCE_ATOL, REFERENCE_RTOL, "finalized")


def test_save_and_load_own_variables_round_trip():
    rng = np.random.default_rng(6)
    variables = _variables(rng, "float32")
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply(_grads(rng, "float32"), variables)
    store = {}
    opt.save_own_variables(store)
    fresh = optimizers.Adam(learning_rate=0.5)
    fresh.build(variables)
    fresh.load_own_variables(store)
    for a, b in zip(opt.variables, fresh.variables):
        np.testing.assert_array_equal(a.value, b.value)
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        optimizers.Adam().load_own_variables(store)
    with pytest.raises(ValueError, match="not compatible"):
        fresh.set_weights([np.zeros(3)] * len(fresh.variables))


# ----------------------------------------------------------------------------- configs


ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"]
BASE_KEYS = [
    "name",
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
]
OWN_KEYS = {
    "SGD": ["momentum", "nesterov"],
    "Adam": ["beta_1", "beta_2", "epsilon", "amsgrad"],
    "AdamW": ["beta_1", "beta_2", "epsilon", "amsgrad"],
    "RMSprop": ["rho", "momentum", "epsilon", "centered"],
    "Adagrad": ["initial_accumulator_value", "epsilon"],
    "Nadam": ["beta_1", "beta_2", "epsilon"],
}


@pytest.mark.parametrize("class_name", ALL)
def test_config_keys_and_round_trip(class_name):
    opt = getattr(optimizers, class_name)(learning_rate=0.02, clipnorm=2.0, name="my_opt")
    config = opt.get_config()
    assert list(config) == BASE_KEYS + OWN_KEYS[class_name]
    assert config["learning_rate"] == float(np.float32(0.02))
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    ser = optimizers.serialize(opt)
    assert ser["module"] == "keras.optimizers" and ser["class_name"] == class_name
    assert ser["registered_name"] is None
    assert optimizers.deserialize(ser).get_config() == config


def test_schedule_learning_rate_serializes_as_keras_dict():
    opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 100, alpha=0.1))
    lr = opt.get_config()["learning_rate"]
    assert lr == {
        "module": "keras.optimizers.schedules",
        "class_name": "CosineDecay",
        "config": {
            "initial_learning_rate": 0.1,
            "decay_steps": 100,
            "alpha": 0.1,
            "name": "CosineDecay",
            "warmup_target": None,
            "warmup_steps": 0,
        },
        "registered_name": None,
    }
    clone = optimizers.Adam.from_config(opt.get_config())
    assert isinstance(clone._learning_rate, schedules.CosineDecay)
    assert clone.get_config() == opt.get_config()


@pytest.mark.parametrize("identifier", ["adam", "Adam", "ADAM", "sgd", "rmsprop", "RMSprop"])
def test_get_by_name(identifier):
    opt = optimizers.get(identifier)
    assert type(opt).__name__.lower() == identifier.lower()


def test_get_instances_dicts_and_errors():
    opt = optimizers.Nadam()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    assert isinstance(optimizers.get("adamw"), optimizers.AdamW)
    assert isinstance(optimizers.get("adagrad"), optimizers.Adagrad)
    got = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5, "momentum": 0.5}})
    assert got.learning_rate == 0.5 and got.momentum == 0.5
    for bad in ["nope", 5, {"class_name": "Nope", "config": {}}]:
        with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
            optimizers.get(bad)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.deserialize({"class_name": "Nope", "config": {}})


def test_keras2_configs():
    keras2 = {
        "class_name": "Custom>Adam",
        "config": {
            "name": "Adam",
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "jit_compile": False,
            "is_legacy_optimizer": False,
            "learning_rate": 0.0010000000474974513,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
    }
    opt = optimizers.get(keras2)
    assert isinstance(opt, optimizers.Adam) and opt.name == "Adam"
    legacy = {
        "module": "keras.optimizers.legacy",
        "class_name": "RMSprop",
        "config": {"name": "RMSprop", "learning_rate": 0.01, "decay": 0.0, "rho": 0.8},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # decay=0.0 is the Keras 2 default: no warning
        opt = optimizers.deserialize(legacy)
    assert isinstance(opt, optimizers.RMSprop) and opt.rho == 0.8


def test_registered_custom_optimizer_round_trip():
    @register_keras_serializable(package="TestPkg")
    class HalfSGD(optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient * 0.5, variable, learning_rate)

    ser = optimizers.serialize(HalfSGD(learning_rate=0.5))
    assert ser["registered_name"] == "TestPkg>HalfSGD"
    assert isinstance(optimizers.deserialize(ser), HalfSGD)
    w = Variable(np.zeros(1), name="w", dtype="float64")
    optimizers.get(ser).apply([np.array([1.0])], [w])
    assert_close(w.value, np.array([-0.25]), REFERENCE_ATOL, REFERENCE_RTOL, "half step")


# ----------------------------------------------------------------------------- schedules

STEPS = [0, 1, 2, 3, 5, 8, 10, 13, 20, 50]


def _closed_form_cases():
    return [
        (
            schedules.ExponentialDecay(0.1, 5, 0.5),
            lambda s: 0.1 * 0.5 ** (s / 5),
        ),
        (
            schedules.ExponentialDecay(0.1, 5, 0.5, staircase=True),
            lambda s: 0.1 * 0.5 ** (s // 5),
        ),
        (
            schedules.PiecewiseConstantDecay([3, 10], [1.0, 0.5, 0.1]),
            lambda s: 1.0 if s <= 3 else (0.5 if s <= 10 else 0.1),
        ),
        (
            schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0),
            lambda s: (0.1 - 0.01) * (1 - min(s, 10) / 10) ** 2 + 0.01,
        ),
        (
            schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, cycle=True),
            lambda s: (0.1 - 0.01) * (1 - s / (10 * max(1, math.ceil(s / 10)))) + 0.01,
        ),
        (
            schedules.InverseTimeDecay(0.1, 4, 0.5),
            lambda s: 0.1 / (1 + 0.5 * s / 4),
        ),
        (
            schedules.InverseTimeDecay(0.1, 4, 0.5, staircase=True),
            lambda s: 0.1 / (1 + 0.5 * (s // 4)),
        ),
        (
            schedules.CosineDecay(0.1, 10, alpha=0.2),
            lambda s: 0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi * min(s, 10) / 10)) + 0.2),
        ),
        (
            schedules.CosineDecay(0.0, 10, warmup_target=0.2, warmup_steps=4),
            lambda s: (
                0.2 * s / 4
                if s < 4
                else 0.2 * 0.5 * (1 + math.cos(math.pi * (min(s, 14) - 4) / 10))
            ),
        ),
        (
            schedules.CosineDecayRestarts(0.1, 4, t_mul=1.0, m_mul=0.5),
            lambda s: 0.1 * 0.5 ** (s // 4) * 0.5 * (1 + math.cos(math.pi * (s % 4) / 4)),
        ),
        (
            schedules.CosineDecayRestarts(0.1, 2, t_mul=2.0),
            # Periods of 2, 4, 8, 16, ... steps starting at 0, 2, 6, 14, 30, ...
            lambda s: _sgdr_reference(s, 0.1, 2, 2.0),
        ),
    ]


def _sgdr_reference(step, lr, first, t_mul):
    start, length = 0, first
    while step >= start + length:
        start, length = start + length, length * t_mul
    return lr * 0.5 * (1 + math.cos(math.pi * (step - start) / length))


@pytest.mark.parametrize("index", range(len(_closed_form_cases())))
def test_schedule_values_match_closed_forms(index):
    schedule, formula = _closed_form_cases()[index]
    for step in STEPS:
        value = schedule(step)
        assert np.asarray(value).dtype == np.float32
        assert_close(value, formula(step), OPTIMIZER_ATOL, OPTIMIZER_RTOL, f"step {step}")
    # A Variable step and an array of steps work too.
    assert_close(schedule(Variable(7, dtype="int64")), formula(7), OPTIMIZER_ATOL, OPTIMIZER_RTOL)
    values = schedule(np.array(STEPS))
    assert_close(values, [formula(s) for s in STEPS], OPTIMIZER_ATOL, OPTIMIZER_RTOL, "array")


@pytest.mark.parametrize("index", range(len(_closed_form_cases())))
def test_schedule_config_round_trip(index):
    schedule, _ = _closed_form_cases()[index]
    config = schedule.get_config()
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    ser = schedules.serialize(schedule)
    assert ser["module"] == "keras.optimizers.schedules"
    assert ser["class_name"] == type(schedule).__name__
    back = schedules.deserialize(ser)
    assert type(back) is type(schedule) and back.get_config() == config
    for step in STEPS:
        assert back(step) == schedule(step)


def test_schedule_errors():
    for make in (
        lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
        lambda: schedules.PolynomialDecay(0.1, -1),
        lambda: schedules.InverseTimeDecay(0.1, 0, 0.5),
        lambda: schedules.CosineDecay(0.1, 0),
    ):
        with pytest.raises(ValueError, match="decay_steps` must be > 0"):
            make()
    with pytest.raises(ValueError, match="first_decay_steps` must be > 0"):
        schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(ValueError, match="Unknown decay"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_custom_schedule_with_custom_objects():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start * 0.5 ** np.asarray(step, dtype="float32")

        def get_config(self):
            return {"start": self.start}

    opt = optimizers.SGD(learning_rate=Halving(1.0))
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "Halving"
    clone = optimizers.SGD.from_config(config, custom_objects={"Halving": Halving})
    w = Variable(np.zeros(1), name="w", dtype="float64")
    clone.apply([np.ones(1)], [w])
    clone.apply([np.ones(1)], [w])
    assert_close(w.value, np.array([-1.5]), REFERENCE_ATOL, REFERENCE_RTOL, "halving")
