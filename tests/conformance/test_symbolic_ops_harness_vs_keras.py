"""Every ``keras.ops`` function with a Keras ``Operation`` class, called on symbolic tensors.

The argument recipes are those of ``test_keras_ops_vs_keras.py`` (its ``CASES``): each generated
array argument becomes an ``Input`` of the same (fixed) shape and dtype, constant arguments
(``C(...)``) stay inline (when all are constants, the first array among them is the input).
The op is called symbolically in Keras 3 and in numpykeras, a ``Model`` is built in each, and
compared:

1. the op nodes' entries in ``model.get_config()["layers"]`` (module, class name, registered
   name, config and the call arguments of ``inbound_nodes``; auto-numbered names normalized);
2. the symbolic outputs' shapes and dtypes (and that they describe the computed outputs); a
   second test compares them with the first input's leading dimension unknown (``None``);
3. both models' outputs on the case's random inputs (``FORWARD`` tolerances), and the gradients
   of ``sum(y * dy)`` (random ``dy``) for the case's differentiated inputs through both models;
4. for a subset (ops with constructor arguments, and the first case of each Keras submodule):
   Keras's saved ``.keras`` file loads in numpykeras and computes the same, and ours in Keras.
"""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest
import test_keras_ops_vs_keras as recipes

import numpykeras as nk
from numpykeras.layers.layer import clear_session
from numpykeras.ops._keras_op_classes import KERAS_OPS

from tolerances import GRAD_ATOL, GRAD_RTOL, assert_close, assert_forward_close

# Cases not run, with why: Keras itself can't make the op node on KerasTensors for them.
# (Cases whose arguments are all constants are skipped too: nothing symbolic to call them on.)
SKIPPED = {
    "average-weights": "Keras's symbolic Average requires `weights` shaped as `x` when axis=None",
    "digitize": "Keras's symbolic Digitize reads `.shape` of the `bins` list",
    "bincount-weights": "Keras runs TensorFlow on the KerasTensor `weights`",
    "argpartition": "the recipe slices a KerasTensor with a slice Keras refuses",
    "eig": "Keras converts the KerasTensor to NumPy",
    "jvp": "Keras runs TensorFlow on the KerasTensor (jvp is a function transform, no node)",
    "adaptive_average_pool": "Keras runs TensorFlow on the KerasTensor",
    "adaptive_max_pool": "Keras runs TensorFlow on the KerasTensor",
    "adaptive_average_pool-3d-cf": "Keras runs TensorFlow on the KerasTensor",
    "adaptive_max_pool-3d-cf": "Keras runs TensorFlow on the KerasTensor",
    "adaptive_max_pool-1d": "Keras runs TensorFlow on the KerasTensor",
    "conv-grouped": "Keras's symbolic Conv rejects grouped kernels (input channels != kernel's)",
    "while_loop": "Keras's symbolic WhileLoop reads `.shape` of the Python int loop variable",
}

# Keras builds these nodes but can't serialize its own model (a NumPy array as a constructor
# argument, or a function closing over a module): (1) and (4) are not compared.
KERAS_CANT_SERIALIZE = {"trapezoid-x", "scan", "map", "switch", "vectorized_map"}

# Keras's node computes something else than its eager op (or fails) when the model runs: our
# model is compared with the eager ``keras.ops`` call instead, and (4) is not run.
KERAS_NODE_WRONG = {
    **{f"quantile-{m}": "Keras's Quantile.call drops `method`" for m in ("lower", "higher")},
    **{f"quantile-{m}": "Keras's Quantile.call drops `method`" for m in ("nearest", "midpoint")},
    "histogram": "Keras's Histogram.call calls a missing backend.math.histogram",
    "histogram-range": "Keras's Histogram.call calls a missing backend.math.histogram",
    "view_as_complex": "Keras's ViewAsComplex.call fails on the TensorFlow backend",
    **{
        c: "Keras's ConvTranspose.call passes its arguments out of order"
        for c in (
            "conv_transpose",
            "conv_transpose-same",
            "conv_transpose-outpad",
            "conv_transpose-1d",
            "conv_transpose-3d",
        )
    },
}

# Keras's symbolic output spec differs from what its model then returns (or is less precise):
# ours is compared with the computed outputs instead.
KERAS_SPEC_DIFFERS = {
    "kron-ranks": "Keras's Kron spec has the wrong rank",
    "corrcoef": "Keras's Corrcoef spec is x's shape, not (rows, rows)",
    "lu_factor": "Keras's LuFactor spec gives the pivots x's float dtype (they are int32)",
    "polar": "Keras's Polar spec is float32 (the output is complex64)",
    "ndim": "Keras's Ndim spec is a float32 vector (the output is an int scalar)",
    "multi_hot": "Keras's MultiHot spec is int64 (the output is its float32 `dtype`)",
    "angle-complex": "Keras's Angle spec keeps the complex dtype (the output is float32)",
    **{
        f"segment_{r}{s}": "Keras leaves the segment count unknown; ours reads the constant ids"
        for r in ("sum", "max", "min", "prod")
        for s in ("", "-sorted")
    },
}

# Known differences from Keras still open (strict xfail: a fix makes them fail loudly).
DIFFERING = {
    "associative_scan": "a Python function argument: Keras saves it as `__lambda__` bytecode",
    "associative_scan-prod": "a Python function argument: Keras saves it as `__lambda__` bytecode",
    "cond": "numpykeras can't call `cond` on a symbolic predicate",
    "fori_loop": "numpykeras can't call `fori_loop` with symbolic loop values",
    "size": "numpykeras's `ops.size` returns int64 (Keras's int32), eagerly too",
    "bincount": "the output length depends on the values; ours, from stand-ins below `minlength`,"
    " is `minlength` (Keras: unknown)",
}


def _is_constant(make) -> bool:
    return make.__qualname__.startswith("C.")


def _case_data(case):
    rng = np.random.default_rng(zlib.crc32(recipes._case_id(case).encode()))
    values = [make(rng) for make in case.args]
    symbolic = [
        i
        for i, (make, v) in enumerate(zip(case.args, values, strict=True))
        if not _is_constant(make) and isinstance(v, np.ndarray)
    ]
    if not symbolic:  # an op whose recipe gives only constants: its first array is the input
        symbolic = [i for i, v in enumerate(values) if isinstance(v, np.ndarray)][:1]
    return values, symbolic


def _build(module, case, values, symbolic):
    """``module.ops`` called on ``module.Input``s: (model, inputs, outputs)."""
    inputs = [
        module.Input(batch_shape=values[i].shape, dtype=str(values[i].dtype), name=f"x{i}")
        for i in symbolic
    ]
    args = list(values)
    for i, t in zip(symbolic, inputs, strict=True):
        args[i] = t
    outputs = recipes._leaves(recipes._call(module.ops, case, args))
    model = module.Model(
        inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0]
    )
    return model, inputs, outputs


def _plain(value):
    """JSON-like data (tuples as lists); arrays shown as such so they differ from Keras's dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"<ndarray {value.dtype} {value.tolist()}>"
    if isinstance(value, np.generic):
        return value.item()
    return value


_NUMBERED = re.compile(r"_\d+$")


def _normalize(value):
    if isinstance(value, dict):
        if value.get("class_name") == "__tensor__":  # a TensorFlow constant: our arrays
            return {**value, "class_name": "__numpy__"}
        if value.get("class_name") == "__keras_tensor__":
            config = dict(value["config"])
            layer, node, index = config["keras_history"]
            config["keras_history"] = [_NUMBERED.sub("", layer), node, index]
            return {**value, "config": config}
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def _op_entries(model):
    entries = []
    for entry in _plain(model.get_config())["layers"]:
        if not entry["module"].startswith("keras.src.ops."):
            continue
        entry = dict(entry, name=_NUMBERED.sub("", entry["name"]))
        if "name" in entry["config"]:
            entry["config"] = dict(entry["config"], name=_NUMBERED.sub("", entry["config"]["name"]))
        entries.append(_normalize(entry))
    return entries


def _run(model, values, symbolic):
    xs = [values[i] for i in symbolic]
    y = model(xs if len(xs) > 1 else xs[0])
    return [np.asarray(v) for v in recipes._leaves(y)]


def _assert_same_values(ours, theirs, what):
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs, Keras's {len(theirs)}"
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != Keras's {b.dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape} != Keras's {b.shape}"
        assert_forward_close(a, b, what)


# Ops with a Keras Operation class that the eager table has no case for.
_N = recipes.N
EXTRA_CASES = [
    recipes.Case("allclose", [_N(2, 3), _N(2, 3)]),
    *[recipes.Case(n, [_N(2, 3)]) for n in ["conj", "conjugate", "imag"]],
    # no gradient check: `stop_gradient` of a tape-watched ndarray returns that very array,
    # which the tape then still tracks (ops/autodiff.py; a Variable or op output is stopped)
    recipes.Case("stop_gradient", [_N(2, 3)], grad=()),
    *[recipes.Case(n, [_N(2, 3)]) for n in ["ndim", "size", "empty_like"]],
]
CASES = [*recipes.CASES, *EXTRA_CASES]


def _save_cases():
    """The cases whose files are checked both ways: the first of each Keras submodule, and the
    first of each op with constructor arguments."""
    seen, ids = set(), set()
    for case in CASES:
        cid = recipes._case_id(case)
        if cid in SKIPPED or not _case_data(case)[1]:
            continue
        sub, _, init, _ = KERAS_OPS.get(case.name, ("other", None, (), ()))
        for key in (sub, case.name if init else None):
            if key is not None and key not in seen:
                seen.add(key)
                ids.add(cid)
    return ids


SAVE_CASES = _save_cases()


def _param(case, differing=DIFFERING):
    cid = recipes._case_id(case)
    marks = []
    if cid in differing:
        marks.append(pytest.mark.xfail(reason=differing[cid], strict=True))
    return pytest.param(case, id=cid, marks=marks)


def _assert_same_gradients(keras, case, ours, theirs, values, symbolic, predicted):
    """Gradients of ``sum(y * dy)`` for the case's differentiated inputs, through both models."""
    wrt = [symbolic.index(i) for i in case.grad if i in symbolic]
    if not wrt or not all(np.issubdtype(y.dtype, np.floating) for y in predicted):
        return
    import tensorflow as tf

    rng = np.random.default_rng(1)
    dys = [rng.standard_normal(y.shape).astype(y.dtype) for y in predicted]
    xs = [np.array(values[i]) for i in symbolic]
    with nk.GradientTape() as tape:
        for j in wrt:
            tape.watch(xs[j])
        ys = recipes._leaves(ours(xs if len(xs) > 1 else xs[0]))
        total = sum(nk.ops.sum(nk.ops.multiply(y, dy)) for y, dy in zip(ys, dys, strict=True))
    mine = tape.gradient(total, [xs[j] for j in wrt])
    txs = [tf.constant(x) for x in xs]
    with tf.GradientTape() as ttape:
        for j in wrt:
            ttape.watch(txs[j])
        ys = recipes._leaves(theirs(txs if len(txs) > 1 else txs[0]))
        total = tf.add_n([tf.reduce_sum(y * dy) for y, dy in zip(ys, dys, strict=True)])
    expected = [
        None if g is None else tf.convert_to_tensor(g)  # IndexedSlices (take) as dense
        for g in ttape.gradient(total, [txs[j] for j in wrt])
    ]
    for j, a, b in zip(wrt, mine, expected, strict=True):
        what = f"{recipes._case_id(case)} d/dx{j}"
        assert (a is None) == (b is None), f"{what}: ours {a}, Keras's {b}"
        if b is not None:
            assert_close(np.asarray(a), np.asarray(b), GRAD_ATOL, GRAD_RTOL, what)


def _spec(tensors):
    return [(tuple(t.shape), str(t.dtype)) for t in tensors]


def _fits(spec, arrays):
    """Whether symbolic ``spec`` (``None``: any size) describes ``arrays``."""
    return len(spec) == len(arrays) and all(
        dtype == str(a.dtype)
        and len(shape) == a.ndim
        and all(d is None or d == n for d, n in zip(shape, a.shape, strict=True))
        for (shape, dtype), a in zip(spec, arrays, strict=True)
    )


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_symbolic_op_matches_keras(case, keras, tmp_path):
    cid = recipes._case_id(case)
    if cid in SKIPPED:
        pytest.skip(SKIPPED[cid])
    values, symbolic = _case_data(case)
    if not symbolic:
        pytest.skip("every argument is a constant")
    clear_session()  # (Keras's clear_session takes 0.3 s; its auto-numbered names are normalized)
    theirs, _, k_out = _build(keras, case, values, symbolic)
    ours, _, n_out = _build(nk, case, values, symbolic)

    # (1) the serialized op nodes (as JSON text: NaN constants compare equal)
    if cid not in KERAS_CANT_SERIALIZE:
        assert json.dumps(_op_entries(ours), sort_keys=True, indent=1) == json.dumps(
            _op_entries(theirs), sort_keys=True, indent=1
        )
    # (3) values
    predicted = _run(ours, values, symbolic)
    if cid in KERAS_NODE_WRONG:
        eager = recipes._leaves(recipes._call(keras.ops, case, values))
        _assert_same_values(predicted, [np.asarray(v) for v in eager], f"{cid} vs eager Keras")
    else:
        expected = _run(theirs, values, symbolic)
        _assert_same_values(predicted, expected, f"{cid} predict")
    # (3b) gradients through the node of a random upstream gradient
    if cid not in KERAS_NODE_WRONG:
        _assert_same_gradients(keras, case, ours, theirs, values, symbolic, predicted)
    # (2) symbolic shapes and dtypes
    assert _fits(_spec(n_out), predicted), f"{_spec(n_out)} doesn't describe the outputs"
    if cid not in KERAS_SPEC_DIFFERS:
        assert _spec(n_out) == _spec(k_out)
    # (4) files both ways
    if cid in SAVE_CASES and cid not in KERAS_NODE_WRONG and cid not in KERAS_CANT_SERIALIZE:
        theirs.save(tmp_path / "theirs.keras")
        loaded = nk.models.load_model(tmp_path / "theirs.keras")
        _assert_same_values(_run(loaded, values, symbolic), expected, f"{cid} Keras file")
        ours.save(tmp_path / "ours.keras")
        loaded = keras.models.load_model(tmp_path / "ours.keras")
        _assert_same_values(_run(loaded, values, symbolic), expected, f"{cid} our file in Keras")


# Unknown-batch symbolic shapes where ours is less precise than Keras's (a dimension Keras knows
# and ours leaves ``None``), explained.
LESS_PRECISE = {
    "vsplit": "Keras assumes the unknown dimension reaches the split points; ours doesn't",
    "scale_and_translate": "the output batch comes from the input's; Keras takes `output_shape`'s",
    "slice": "the size is the `shape` argument; ours runs the op on 2 rows, which clips it",
}


def _unknown_batch_inputs(module, values, symbolic):
    """``module.Input``s as the case's, the first one with an unknown (``None``) leading
    dimension when it has two or more."""
    inputs = []
    for k, i in enumerate(symbolic):
        shape = values[i].shape
        if k == 0 and len(shape) >= 2:
            shape = (None, *shape[1:])
        inputs.append(module.Input(batch_shape=shape, dtype=str(values[i].dtype), name=f"x{i}"))
    return inputs


# The cases of DIFFERING that fail to build (the others differ in their saved entry only).
_BUILD_DIFFERS = {c: DIFFERING[c] for c in ("cond", "fori_loop", "size")}


@pytest.mark.parametrize("case", [_param(c, _BUILD_DIFFERS) for c in CASES])
def test_symbolic_spec_with_unknown_batch(case, keras):
    """With an unknown leading dimension, every dimension Keras knows ours knows the same (ours
    may know more than Keras: a dimension pinned by another input's), and dtypes agree."""
    cid = recipes._case_id(case)
    if cid in SKIPPED:
        pytest.skip(SKIPPED[cid])
    values, symbolic = _case_data(case)
    if not symbolic or values[symbolic[0]].ndim < 2:
        pytest.skip("no argument with a leading dimension to leave unknown")
    specs = []
    for module in (keras, nk):
        args = list(values)
        for i, t in zip(symbolic, _unknown_batch_inputs(module, values, symbolic), strict=True):
            args[i] = t
        try:
            specs.append(_spec(recipes._leaves(recipes._call(module.ops, case, args))))
        except Exception as e:  # noqa: BLE001
            if module is keras:
                pytest.skip(f"Keras refuses the unknown dimension: {type(e).__name__}")
            raise
    theirs, ours = specs
    assert len(ours) == len(theirs)
    for (o_shape, o_dtype), (k_shape, k_dtype) in zip(ours, theirs, strict=True):
        if cid in KERAS_SPEC_DIFFERS:
            break
        assert o_dtype == k_dtype
        assert len(o_shape) == len(k_shape), f"{ours} vs Keras's {theirs}"
        for o, k in zip(o_shape, k_shape, strict=True):
            if k is not None and cid not in LESS_PRECISE:
                assert o == k, f"{ours} vs Keras's {theirs}"
            if o is not None and k is not None:
                assert o == k, f"{ours} vs Keras's {theirs}"
