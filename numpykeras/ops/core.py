"""``keras.ops.core``: conversion, control flow, scatter/slice updates and gradient control.

Control flow runs eagerly in Python (as Keras's NumPy backend), so every loop is differentiable
through the ops its body calls.
"""

from __future__ import annotations

import builtins

import numpy as np

from numpykeras.backend import Variable
from numpykeras.ops import dtypes
from numpykeras.ops.autodiff import (
    Tensor,
    custom_gradient,
    flatten,
    is_recording,
    pack_as,
    primitive,
    stop_gradient,
    tracked_value,
    unwrap,
)
from numpykeras.ops.numpy import (
    _shape,
    cast,
    concatenate,
    dtype,
    flip,
    get_item,
    reshape,
    stack,
    take,
    to_array,
    unstack,
)

__all__ = [
    "associative_scan",
    "cast",
    "cond",
    "convert_to_numpy",
    "convert_to_tensor",
    "custom_gradient",
    "dtype",
    "fori_loop",
    "is_tensor",
    "map",
    "saturate_cast",
    "scan",
    "scatter",
    "scatter_update",
    "shape",
    "slice",
    "slice_update",
    "stop_gradient",
    "switch",
    "unstack",
    "vectorized_map",
    "while_loop",
]


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as an array (a recorded Tensor stays one; a tracked Variable becomes a Tensor).

    Python floats (and lists of them) become floatx, Python ints int32, as in Keras.
    """
    if sparse:
        raise ValueError("`sparse=True` is not supported: numpykeras has no sparse tensors.")
    if ragged:
        raise ValueError("`ragged=True` is not supported: numpykeras has no ragged tensors.")
    if isinstance(x, (Tensor, Variable)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        x = tracked_value(x)  # a watched array or variable becomes a leaf Tensor while recording
        if dtype is not None and dtypes.standardize_dtype(x.dtype) != dtypes.standardize_dtype(
            dtype
        ):
            return cast(x, dtype)
        return x if type(x) is Tensor else to_array(x)
    return to_array(x, dtype)


def convert_to_numpy(x) -> np.ndarray:
    """A NumPy copy of ``x``."""
    return np.array(unwrap(x))


def is_tensor(x) -> bool:
    """True for arrays and recorded Tensors (Keras's NumPy backend: ``np.ndarray``)."""
    return isinstance(x, (np.ndarray, np.generic, Tensor))


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints."""
    return tuple(int(n) for n in _shape(x))


def saturate_cast(x, dtype):
    """``x`` clipped to the range of ``dtype``, then cast."""
    from numpykeras.ops.numpy import clip

    target = dtypes.standardize_dtype(dtype)
    info = np.iinfo(target) if "int" in target else np.finfo(target)
    return cast(clip(x, info.min, info.max), target)


def _tracked(structure):
    """``structure`` with every watched array or Variable as a leaf Tensor (while a tape
    records), so that Python operators on loop variables record too."""
    if not is_recording():
        return structure
    leaves = [tracked_value(leaf) for leaf in flatten(structure)]
    return pack_as(structure, leaves) if _is_nested(structure) else leaves[0]


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    return true_fn() if bool(unwrap(pred)) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)`` with ``index`` clipped to the branches."""
    i = int(np.clip(int(unwrap(index)), 0, len(branches) - 1))
    return branches[i](*_tracked(operands))


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (at most
    ``maximum_iterations`` times)."""
    is_tuple = isinstance(loop_vars, (tuple, list))
    loop_vars = _tracked(tuple(loop_vars) if is_tuple else (loop_vars,))
    i = 0
    while bool(unwrap(cond(*loop_vars))) and (maximum_iterations is None or i < maximum_iterations):
        loop_vars = body(*loop_vars)
        loop_vars = tuple(loop_vars) if isinstance(loop_vars, (list, tuple)) else (loop_vars,)
        i += 1
    return loop_vars if is_tuple else loop_vars[0]


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = _tracked(init_val)
    for i in range(int(unwrap(lower)), int(unwrap(upper))):
        val = body_fun(i, val)
    return val


def _is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the last carry and
    the stacked ``y``s, as ``jax.lax.scan``."""
    if not callable(f):
        raise TypeError(f"`f` should be a callable. Received: f={f}")
    if xs is None and length is None:
        raise ValueError("Got no `xs` to scan over and `length` not provided.")
    xs_flat = [] if xs is None else flatten(xs)
    n = int(length) if length is not None else _shape(xs_flat[0])[0]
    carry = _tracked(init)
    ys = []
    steps = range(n - 1, -1, -1) if reverse else range(n)
    for i in steps:
        x = None
        if xs is not None:
            parts = [get_item(v, i) for v in xs_flat]
            x = pack_as(xs, parts) if _is_nested(xs) else parts[0]
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    if ys[0] is None:
        return carry, None
    leaves = [flatten(y) for y in ys]
    stacked = [stack(list(column)) for column in zip(*leaves)]
    return carry, pack_as(ys[0], stacked) if _is_nested(ys[0]) else stacked[0]


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive scan of ``elems`` along ``axis`` under the associative ``f`` (``f(a, b)``
    on equal-shaped slices, elementwise): ``y[i] = f(...f(f(x[0], x[1]), x[2])..., x[i])``.

    The parallel-prefix recursion of ``jax.lax.associative_scan`` (``O(log n)`` calls of ``f``
    on whole slices), written with ops, so it is differentiable. ``elems`` may be a nested
    structure of arrays sharing the scanned axis.
    """
    if not callable(f):
        raise TypeError(f"`f` should be a callable. Received: f={f}")
    flat = [e if type(e) is Tensor else to_array(unwrap(e)) for e in flatten(elems)]
    if not flat:
        raise ValueError("`elems` must hold at least one array.")
    ndim = len(_shape(flat[0]))
    ax = axis % ndim
    n = _shape(flat[0])[ax]
    if builtins.any(_shape(e)[ax] != n for e in flat[1:]):
        raise ValueError(
            "Array inputs to associative_scan must have the same first dimension. "
            f"(saw: {[_shape(e) for e in flat]})"
        )

    def along(e, start, stop=None, step=1):
        return get_item(e, (builtins.slice(None),) * ax + (builtins.slice(start, stop, step),))

    def combine(a, b):
        out = f(pack_as(elems, a), pack_as(elems, b))
        return flatten(out)

    def interleave(even, odd):  # even[0], odd[0], even[1], odd[1], ...
        ne, no = _shape(even)[ax], _shape(odd)[ax]
        order = np.empty(ne + no, dtype=np.int64)
        order[0::2] = np.arange(ne)
        order[1::2] = ne + np.arange(no)
        return take(concatenate([even, odd], axis=ax), order, axis=ax)

    def scan_(xs):
        count = _shape(xs[0])[ax]
        if count < 2:
            return xs
        reduced = combine([along(e, 0, -1, 2) for e in xs], [along(e, 1, None, 2) for e in xs])
        odd = scan_(reduced)
        if count % 2 == 0:
            even = combine([along(e, 0, -1) for e in odd], [along(e, 2, None, 2) for e in xs])
        else:
            even = combine(odd, [along(e, 2, None, 2) for e in xs])
        even = [concatenate([along(e, 0, 1), r], axis=ax) for e, r in zip(xs, even)]
        return [interleave(e, o) for e, o in zip(even, odd)]

    if reverse:
        flat = [flip(e, ax) for e in flat]
    out = scan_(flat)
    if reverse:
        out = [flip(e, ax) for e in out]
    return pack_as(elems, out) if _is_nested(elems) else out[0]


def map(f, xs):
    """``f`` applied to each slice of ``xs`` along its first axis, stacked."""
    return scan(lambda _, x: ((), f(x)), (), xs)[1]


def vectorized_map(function, elements):
    """``function`` applied to each element along the first axis, results stacked."""
    if not isinstance(elements, (list, tuple)):
        return stack([function(get_item(elements, i)) for i in range(_shape(elements)[0])])
    n = _shape(elements[0])[0]
    return stack([function([get_item(x, i) for x in elements]) for i in range(n)])


# --------------------------------------------------------------------------- slices and scatter


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` of ``shape`` starting at ``start_indices``."""
    starts = [int(s) for s in np.asarray(unwrap(start_indices)).reshape(-1)]
    sizes = [int(s) for s in shape]
    if len(starts) != len(sizes):
        raise ValueError("`start_indices` and `shape` must have the same length.")
    full = _shape(inputs)
    key = tuple(
        builtins.slice(s, s + (n if n >= 0 else full[i] - s))
        for i, (s, n) in enumerate(zip(starts, sizes))
    )
    return get_item(inputs, key)


def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    starts = tuple(int(s) for s in np.asarray(unwrap(start_indices)).reshape(-1))
    return _slice_update(inputs, updates, starts=starts)


def _block(starts, shape):
    return tuple(builtins.slice(s, s + n) for s, n in zip(starts, shape))


@primitive
def _slice_update(inputs, updates, starts):
    out = np.array(to_array(inputs))
    updates = to_array(updates)
    out[_block(starts, updates.shape)] = updates
    return out


def _slice_update_vjp(g, ans, inputs, updates, starts):
    key = _block(starts, _shape(updates))
    return (_slice_update(g, np.zeros(_shape(updates), dtype(g)), starts=starts), get_item(g, key))


_slice_update.defvjp(_slice_update_vjp)


def _index_tuple(indices):
    indices = np.asarray(unwrap(indices))
    if indices.ndim == 1:
        indices = indices[None, :]  # one index
    return tuple(np.moveaxis(indices, -1, 0))  # one array per indexed axis


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (``(..., k)`` index rows; repeated
    indices add up, as ``tf.scatter_nd``)."""
    return _scatter(values, idx=_index_tuple(indices), shape=tuple(int(s) for s in shape))


@primitive
def _scatter(values, idx, shape):
    values = to_array(values)
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, idx, values.reshape(idx[0].shape + shape[len(idx) :]))
    return out


_scatter.defvjp(lambda g, ans, values, idx, shape: (reshape(get_item(g, idx), _shape(values)),))


def scatter_update(inputs, indices, updates, reduction=None):
    """A copy of ``inputs`` with the elements (or slices) at ``indices`` replaced by
    ``updates`` (or combined with them by ``reduction``: ``"add"``, ``"max"``, ``"min"``,
    ``"mul"``)."""
    idx = _index_tuple(indices)
    if reduction is None:
        return _scatter_update(inputs, updates, idx=idx)
    if reduction == "add":
        from numpykeras.ops.numpy import add

        return add(inputs, scatter(indices, cast(updates, dtype(inputs)), _shape(inputs)))
    ufuncs = {"max": np.maximum, "min": np.minimum, "mul": np.multiply}
    if reduction not in ufuncs:
        raise ValueError(f"Unsupported reduction: {reduction}")
    out = np.array(to_array(inputs))
    ufuncs[reduction].at(out, idx, to_array(updates, out.dtype))
    return out


@primitive
def _scatter_update(inputs, updates, idx):
    out = np.array(to_array(inputs))
    updates = to_array(updates, out.dtype)
    target = idx[0].shape + out.shape[len(idx) :]
    out[idx] = np.broadcast_to(updates, target) if updates.ndim == 0 else updates.reshape(target)
    return out


def _scatter_update_vjp(g, ans, inputs, updates, idx):
    cleared = _scatter_update(g, np.zeros((), dtype(g)), idx=idx)  # updated cells get nothing
    return cleared, reshape(get_item(g, idx), _shape(updates))


_scatter_update.defvjp(_scatter_update_vjp)
