"""Reverse-mode automatic differentiation: primitives, the recorded ``Tensor`` and ``GradientTape``.

Values are plain ``np.ndarray``. An op is a :class:`Primitive`: a NumPy forward function with its
vector-Jacobian product (VJP) beside it::

    @primitive
    def exp(x):
        return np.exp(x)

    @exp.defvjp
    def _exp_vjp(g, ans, x):
        return (g * ans,)

With no tape active a primitive unwraps its arguments and returns the NumPy result: inference
pays one thread-local check. While a tape records and an input is *tracked* by it, the primitive
returns a :class:`Tensor`: the value plus a :class:`Node` holding the VJP, the inputs and the ids
of the tapes that recorded it. An input is tracked by a tape when it is a Tensor that tape
recorded, a trainable ``Variable`` read under a tape that watches accessed variables, or an
object given to ``tape.watch`` (a Variable, a Tensor, or an ``np.ndarray``, which the tape keeps
by ``id`` and holds a reference to, so the id stays valid; only that very array object is
tracked, not copies or slices made before the op).

``tape.gradient`` sorts the recorded nodes reachable from the target topologically and walks them
backwards, summing the cotangents of each node (micrograd's ``backward``), and drops a node's
cotangent once it has been passed on. VJP rules are written with ops, not raw NumPy, so an outer
tape that is recording while an inner tape computes gradients records the backward pass as well:
gradients of gradients work for every op whose VJP is made of differentiable ops.

Tapes live on a thread-local stack, so threads record independently (as TensorFlow's do).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading

import numpy as np

from numpykeras.backend import ArrayProperties, Variable
from numpykeras.ops import dtypes


class _TapeStack(threading.local):
    def __init__(self):
        self.tapes = []  # the recording tapes of this thread, innermost last


_stack = _TapeStack()
_tape_ids = itertools.count(1)


def _active_tapes() -> list:
    return _stack.tapes


# --------------------------------------------------------------------------- the graph


class Node:
    """How a recorded value was made.

    Attributes:
        vjp: ``vjp(g, ans, *inputs, **kwargs)`` -> one gradient (or ``None``) per input, or
            ``None`` for a leaf.
        inputs: the op's positional arguments, recorded ones as Tensors.
        kwargs: the op's static keyword arguments.
        tapes: ids of the tapes that recorded it.
        source: for a leaf, the watched Variable or array it reads.
    """

    __slots__ = ("vjp", "inputs", "kwargs", "tapes", "source")

    def __init__(self, vjp, inputs, kwargs, tapes, source=None):
        self.vjp = vjp
        self.inputs = inputs
        self.kwargs = kwargs
        self.tapes = tapes
        self.source = source


def _numpy_ops():
    from numpykeras.ops import numpy as numpy_ops  # ops are defined after this module

    return numpy_ops


def _binary(name, reflected=False):
    def method(self, other):
        op = getattr(_numpy_ops(), name)
        return op(other, self) if reflected else op(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


class _Operators:
    """Python operators dispatching to ``numpykeras.ops``."""

    __slots__ = ()

    __add__ = _binary("add")
    __radd__ = _binary("add", reflected=True)
    __sub__ = _binary("subtract")
    __rsub__ = _binary("subtract", reflected=True)
    __mul__ = _binary("multiply")
    __rmul__ = _binary("multiply", reflected=True)
    __truediv__ = _binary("divide")
    __rtruediv__ = _binary("divide", reflected=True)
    __floordiv__ = _binary("floor_divide")
    __rfloordiv__ = _binary("floor_divide", reflected=True)
    __mod__ = _binary("mod")
    __rmod__ = _binary("mod", reflected=True)
    __pow__ = _binary("power")
    __rpow__ = _binary("power", reflected=True)
    __matmul__ = _binary("matmul")
    __rmatmul__ = _binary("matmul", reflected=True)
    __lt__ = _binary("less")
    __le__ = _binary("less_equal")
    __gt__ = _binary("greater")
    __ge__ = _binary("greater_equal")
    __and__ = _binary("logical_and")
    __rand__ = _binary("logical_and", reflected=True)
    __or__ = _binary("logical_or")
    __ror__ = _binary("logical_or", reflected=True)
    __xor__ = _binary("logical_xor")
    __rxor__ = _binary("logical_xor", reflected=True)

    def __neg__(self):
        return _numpy_ops().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _numpy_ops().abs(self)

    def __invert__(self):
        return _numpy_ops().logical_not(self)

    def __getitem__(self, key):
        return _numpy_ops().get_item(self, key)


class Tensor(ArrayProperties, _Operators):
    """A value recorded by a tape: an ``np.ndarray`` plus the :class:`Node` that made it.

    Tensors exist only while recording; ops on them return Tensors (or plain arrays when no tape
    tracks the result). ``np.asarray(tensor)`` gives the value; NumPy ufuncs refuse Tensors
    (``__array_ufunc__ = None``) so ``array + tensor`` uses the tensor's operators and records.
    """

    __slots__ = ("_value", "_node", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None

    def __init__(self, value: np.ndarray, node: Node):
        self._value = value
        self._node = node

    __eq__ = _binary("equal")
    __ne__ = _binary("not_equal")
    __hash__ = None  # elementwise `==`, as tf.Tensor: use id() or a wrapper as a key

    @property
    def value(self) -> np.ndarray:
        return self._value

    @property
    def T(self):
        return _numpy_ops().transpose(self)

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return np.array(self._value)

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self._value.copy() if copy else self._value
        return self._value.astype(dtype)

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._value)

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(len(self._value)))

    def __setitem__(self, key, value):
        raise TypeError(
            "'Tensor' object does not support item assignment. Use "
            "`ops.slice_update` or `ops.scatter_update` to build a new tensor."
        )

    def __bool__(self):
        return bool(self._value)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __index__(self):
        return self._value.__index__()

    def __repr__(self):
        return f"<Tensor shape={self.shape}, dtype={self.dtype}, value=\n{self._value!r}>"


def unwrap(x):
    """The NumPy value of a Tensor or Variable; anything else unchanged."""
    if type(x) is Tensor:
        return x._value
    if isinstance(x, Variable):
        return x.value
    return x


def _is_recorded(x, tape_id) -> bool:
    return type(x) is Tensor and tape_id in x._node.tapes


# --------------------------------------------------------------------------- primitives


class Primitive:
    """An op with a NumPy forward function and (optionally) its VJP rule.

    Positional arguments are the op's array inputs (Tensors, Variables, arrays or Python scalars);
    keyword arguments are static (axes, shapes, flags) and are passed to the VJP unchanged.
    A primitive without a VJP, or whose output is not floating, is never recorded: its result has
    no gradient (``None``, like TensorFlow's non-differentiable ops).
    """

    def __init__(self, fn):
        self.fn = fn
        self.vjp = None
        functools.update_wrapper(self, fn)

    def defvjp(self, vjp):
        """Register ``vjp(g, ans, *inputs, **kwargs)`` -> a gradient (or None) per input."""
        self.vjp = vjp
        return vjp

    def __call__(self, *args, **kwargs):
        if not _stack.tapes:
            out = self.fn(*[unwrap(a) for a in args], **kwargs)
            return out if type(out) is np.ndarray else np.asarray(out)
        return _record(self.fn, self.vjp, args, kwargs)

    def __repr__(self):
        return f"<primitive {self.__name__}>"


# id(output Tensor) -> (weak reference to it, logits, "softmax" | "sigmoid")
_LOGITS: dict = {}


def set_keras_logits(y, logits, activation):
    """Remember that the recorded Tensor ``y`` is ``activation(logits)`` (a final softmax or
    sigmoid), so that a crossentropy of ``y`` computes from the logits, as Keras's TensorFlow
    backend does with ``_keras_logits``. Returns ``y``."""
    if type(y) is Tensor:
        import weakref

        key = id(y)
        _LOGITS[key] = (
            weakref.ref(y, lambda _, key=key: _LOGITS.pop(key, None)),
            logits,
            activation,
        )
    return y


def keras_logits(y):
    """``(logits, activation)`` recorded for ``y`` by :func:`set_keras_logits`, else ``None``."""
    entry = _LOGITS.get(id(y)) if type(y) is Tensor else None
    if entry is None or entry[0]() is not y:
        return None
    return entry[1], entry[2]


# id(array or Tensor) -> (weak reference to it, boolean mask): Keras's `_keras_mask`.
_MASKS: dict = {}


def set_keras_mask(x, mask):
    """Attach ``mask`` to the output ``x`` of a model (Keras's ``_keras_mask``), for the losses
    and metrics that read it; a recorded Tensor's value carries it too. Returns ``x``."""
    import weakref

    for obj in (x, x._value) if type(x) is Tensor else (x,):
        if isinstance(obj, (np.ndarray, Tensor)):
            key = id(obj)
            _MASKS[key] = (weakref.ref(obj, lambda _, key=key: _MASKS.pop(key, None)), mask)
    return x


def get_keras_mask(x):
    """The mask attached to ``x`` by :func:`set_keras_mask`, else ``None``."""
    entry = _MASKS.get(id(x))
    if entry is None or entry[0]() is not x:
        return None
    return entry[1]


def primitive(fn) -> Primitive:
    """Decorator making ``fn`` a :class:`Primitive` (add its VJP with ``@fn.defvjp``)."""
    return Primitive(fn)


def _leaf(x, tapes):
    """A leaf Tensor for a Variable or array that some recording tape tracks, else None."""
    tracked = []
    for tape in tapes:
        if tape._tracks(x):
            tracked.append(tape._id)
            if isinstance(x, Variable):
                tape._accessed.setdefault(id(x), x)
    if not tracked:
        return None
    value = x.value if isinstance(x, Variable) else x
    if not dtypes.is_float(value.dtype):
        return None
    return Tensor(value, Node(None, (), None, frozenset(tracked), source=x))


def _record(fn, vjp, args, kwargs):
    tapes = _stack.tapes
    live = {t._id for t in tapes}
    tracked = set()
    inputs = list(args)
    for i, a in enumerate(args):
        if type(a) is Tensor:
            tracked |= a._node.tapes & live
        elif isinstance(a, (Variable, np.ndarray)):
            leaf = _leaf(a, tapes)
            if leaf is not None:
                inputs[i] = leaf
                tracked |= leaf._node.tapes
    value = np.asarray(fn(*[unwrap(a) for a in inputs], **kwargs))
    if not tracked or vjp is None:
        return value
    if not dtypes.is_float(value.dtype):
        return value
    return Tensor(value, Node(vjp, tuple(inputs), kwargs, frozenset(tracked)))


def is_recording() -> bool:
    """True when some tape of this thread is recording."""
    return bool(_stack.tapes)


def tracked_value(x):
    """``x`` itself if it is a recorded Tensor, a leaf Tensor if a tape tracks it, else its value.

    Used by ops that are not primitives but need their tracked inputs (``custom_gradient``).
    """
    if type(x) is Tensor or not _stack.tapes:
        return x
    if isinstance(x, (Variable, np.ndarray)):
        leaf = _leaf(x, _stack.tapes)
        if leaf is not None:
            return leaf
    return unwrap(x)


# --------------------------------------------------------------------------- structures


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dict values in sorted key order)."""
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_as(structure, leaves):
    """Rebuild ``structure`` with ``leaves`` (from :func:`flatten`) in place of its leaves."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return (
                type(s)((k, built[k]) for k in s)
                if type(s) is not dict
                else {k: built[k] for k in s}
            )
        if isinstance(s, (list, tuple)):
            items = [build(item) for item in s]
            return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
        return next(it)

    return build(structure)


# --------------------------------------------------------------------------- the tape


class GradientTape:
    """Records ops for reverse-mode differentiation, as ``tf.GradientTape``.

    Args:
        persistent: allow several ``gradient``/``jacobian`` calls.
        watch_accessed_variables: track every trainable Variable read while recording.

    Example:
        >>> w = Variable(np.ones((3, 2)))
        >>> with GradientTape() as tape:
        ...     loss = ops.sum(ops.matmul(x, w) ** 2)
        >>> dw = tape.gradient(loss, w)
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._id = next(_tape_ids)
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._watched = {}  # id -> watched Variable / array / Tensor (held, so the id stays valid)
        self._accessed = {}  # id -> Variable read while recording (watched_variables())
        self._in_context = False
        self._used = False

    # -- recording ----------------------------------------------------------------------
    def __enter__(self):
        if self._in_context:
            raise ValueError(
                "Tape is still recording, This can happen if you try to re-enter an "
                "already-active tape."
            )
        self._in_context = True
        _stack.tapes.append(self)
        return self

    def __exit__(self, *exc_info):
        self._in_context = False
        if self in _stack.tapes:
            _stack.tapes.remove(self)
        return False

    def _tracks(self, x) -> bool:
        if id(x) in self._watched:
            return True
        return self._watch_accessed and isinstance(x, Variable) and x.trainable

    def watch(self, tensor):
        """Track ``tensor`` (a Tensor, Variable or float array, or a structure of them)."""
        for x in flatten(tensor):
            if type(x) is Tensor:
                x._node.tapes = x._node.tapes | {self._id}
            elif not isinstance(x, (Variable, np.ndarray)):
                raise ValueError(
                    f"Passed in object of type {type(x).__name__}, not a Tensor, Variable or "
                    "np.ndarray. Convert it with `ops.convert_to_tensor` first."
                )
            elif isinstance(x, Variable):
                self._accessed.setdefault(id(x), x)
            self._watched[id(x)] = x

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop this tape from recording ops."""
        if self not in _stack.tapes:
            raise RuntimeError("Tape is not recording.")
        position = _stack.tapes.index(self)
        _stack.tapes.remove(self)
        try:
            yield
        finally:
            _stack.tapes.insert(min(position, len(_stack.tapes)), self)

    def reset(self):
        """Forget everything recorded and watched so far (the tape keeps recording if active)."""
        self._id = next(_tape_ids)
        self._watched.clear()
        self._accessed.clear()
        self._used = False

    def watched_variables(self) -> tuple:
        """The Variables watched or read by this tape, in order of first access."""
        return tuple(self._accessed.values())

    # -- differentiation ----------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """Gradients of (the sum of) ``target`` with respect to ``sources``.

        Args:
            target: a Tensor or a nested structure of them; gradients of all are summed.
            sources: a Variable, Tensor or array, or a nested structure of them.
            output_gradients: upstream gradients, one per target (default: ones).
            unconnected_gradients: ``"none"`` or ``"zero"``, for sources the target does not
                depend on.

        Returns:
            Gradients with the structure of ``sources``: ``np.ndarray`` (or Tensors while an outer
            tape records them), ``None`` for unconnected sources.
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(
                "Unknown value for unconnected_gradients: "
                f"{unconnected_gradients!r}. Expected 'none' or 'zero'."
            )
        if self._used and not self._persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of "
                "gradients (or jacobians)"
            )
        self._used = True
        targets = flatten(target)
        if output_gradients is None:
            seeds = [None] * len(targets)
        else:
            seeds = flatten(output_gradients)
            if len(seeds) != len(targets):
                raise ValueError(
                    f"`output_gradients` must have the structure of `target`: got {len(seeds)} "
                    f"gradients for {len(targets)} targets."
                )
        source_list = flatten(sources)
        for s in source_list:
            if not isinstance(s, (Tensor, Variable, np.ndarray)):
                raise ValueError(
                    f"Sources must be Variables, Tensors or arrays. Received: {type(s).__name__}"
                )
        grads = _backprop(self._id, targets, seeds, source_list)
        out = []
        for s, g in zip(source_list, grads):
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(np.shape(unwrap(s)), dtype=unwrap(s).dtype)
            out.append(g)
        if isinstance(sources, (Tensor, Variable, np.ndarray)):
            return out[0]
        return pack_as(sources, out)

    def jacobian(self, target, sources, unconnected_gradients="none"):
        """The Jacobian of ``target`` with respect to each source: shape ``target.shape +
        source.shape`` (one ``gradient`` pass per element of the target)."""
        was_persistent, self._persistent = self._persistent, True
        try:
            size = int(np.size(unwrap(target)))
            shape = np.shape(unwrap(target))
            dtype = unwrap(target).dtype
            source_list = flatten(sources)
            rows = [[] for _ in source_list]
            for i in range(size):
                seed = np.zeros(size, dtype=dtype)
                seed[i] = 1
                self._used = False
                grads = flatten(
                    self.gradient(target, source_list, seed.reshape(shape), unconnected_gradients)
                )
                for row, g in zip(rows, grads):
                    row.append(g)
        finally:
            self._persistent = was_persistent
            self._used = True
        out = []
        for s, row in zip(source_list, rows):
            if any(g is None for g in row):
                out.append(None)
                continue
            stacked = _numpy_ops().stack(row)  # (size, *source.shape)
            out.append(_numpy_ops().reshape(stacked, shape + np.shape(unwrap(s))))
        if isinstance(sources, (Tensor, Variable, np.ndarray)):
            return out[0]
        return pack_as(sources, out)


def _toposort(targets, tape_id) -> list:
    """Recorded Tensors reachable from ``targets``, inputs before the ops that use them."""
    order, seen = [], set()
    for root in targets:
        stack = [(root, False)]
        while stack:
            t, done = stack.pop()
            if done:
                order.append(t)
                continue
            if id(t) in seen:
                continue
            seen.add(id(t))
            stack.append((t, True))
            for p in t._node.inputs:
                if _is_recorded(p, tape_id) and id(p) not in seen:
                    stack.append((p, False))
    return order


def _accumulate(total, g):
    return g if total is None else total + g


def _backprop(tape_id, targets, seeds, sources) -> list:
    """One gradient per source: cotangents summed backwards from ``targets`` over the nodes
    recorded by tape ``tape_id``."""
    ops = _numpy_ops()
    wanted = {id(s) for s in sources}
    grads = {}  # id(Tensor) -> cotangent
    found = {}  # id(source) -> gradient
    roots = []
    for t, seed in zip(targets, seeds):
        recorded = _is_recorded(t, tape_id)
        if not recorded and not (id(t) in wanted and isinstance(t, (Variable, np.ndarray))):
            continue
        if seed is None:
            seed = np.ones(np.shape(unwrap(t)), dtype=unwrap(t).dtype)
        elif not isinstance(seed, Tensor):
            seed = np.asarray(unwrap(seed), dtype=unwrap(t).dtype)
        if not recorded:  # a source asked for as a target: d source / d source = identity
            found[id(t)] = _accumulate(found.get(id(t)), seed)
            continue
        grads[id(t)] = _accumulate(grads.get(id(t)), seed)
        roots.append(t)
    for t in reversed(_toposort(roots, tape_id)):
        g = grads.get(id(t))
        node = t._node
        if id(t) in wanted:
            found[id(t)] = _accumulate(found.get(id(t)), g)
        else:
            grads.pop(id(t), None)  # passed on below: free it
        if g is None:
            continue
        if node.vjp is None:
            if node.source is not None and id(node.source) in wanted:
                found[id(node.source)] = _accumulate(found.get(id(node.source)), g)
            continue
        # one gradient per positional input; static arguments given positionally get None
        parent_grads = node.vjp(g, t, *node.inputs, **node.kwargs)
        for x, gx in zip(node.inputs, parent_grads):
            if gx is None or not _is_recorded(x, tape_id):
                continue
            if ops.dtype(gx) != x.dtype:
                gx = ops.cast(gx, x.dtype)
            if np.shape(unwrap(gx)) != x.shape:
                gx = ops.broadcast_to(gx, x.shape)
            grads[id(x)] = _accumulate(grads.get(id(x)), gx)
    out = []
    for s in sources:
        g = found.get(id(s))
        if g is not None:
            dtype = unwrap(s).dtype
            if ops.dtype(g) != dtype.name:
                g = ops.cast(g, dtype)
            if not _stack.tapes or type(g) is not Tensor:
                g = np.asarray(unwrap(g))
        out.append(g)
    return out


# --------------------------------------------------------------------------- gradient control


def stop_gradient(variable):
    """The value of ``variable`` with no gradient flowing through it (a plain array)."""
    return np.asarray(unwrap(variable))


def custom_gradient(f):
    """Decorator giving ``f`` a custom gradient, as ``keras.ops.custom_gradient``.

    ``f(*args)`` returns ``(output, grad_fn)``; ``grad_fn(*upstream)`` (one upstream gradient per
    output; ``grad_fn(upstream=...)`` also works) returns the gradient of each argument (a single
    value when ``f`` has one argument). ``f`` runs with recording paused: the gradient is exactly
    what ``grad_fn`` returns. Structured outputs are flattened; each output's gradient is
    ``grad_fn`` called with zeros for the other outputs (gradients are linear in ``upstream``).

    Returns:
        ``h(*args)``, returning ``f(*args)[0]``.
    """

    @functools.wraps(f)
    def wrapper(*args):
        if not _stack.tapes:
            return f(*[unwrap(a) for a in args])[0]
        inputs = [tracked_value(a) for a in args]
        tapes, _stack.tapes = _stack.tapes, []
        try:
            output, grad_fn = f(*[unwrap(a) for a in inputs])
        finally:
            _stack.tapes = tapes
        live = {t._id for t in tapes}
        tracked = frozenset().union(*(x._node.tapes & live for x in inputs if type(x) is Tensor))
        leaves = flatten(output)
        if not tracked:
            return output
        values = [np.asarray(unwrap(y)) for y in leaves]

        def call_grad(upstream):
            try:
                result = grad_fn(*upstream)
            except TypeError:
                result = grad_fn(upstream=upstream[0] if len(upstream) == 1 else upstream)
            result = list(result) if isinstance(result, (list, tuple)) else [result]
            if len(result) != len(inputs):
                raise ValueError(
                    f"The custom gradient function returned {len(result)} gradients for "
                    f"{len(inputs)} arguments."
                )
            return result

        def make_vjp(i):
            def vjp(g, ans, *xs):
                upstream = [g if j == i else np.zeros_like(v) for j, v in enumerate(values)]
                return call_grad(upstream)

            return vjp

        outs = []
        for i, v in enumerate(values):
            if dtypes.is_float(v.dtype):
                outs.append(Tensor(v, Node(make_vjp(i), tuple(inputs), {}, tracked)))
            else:
                outs.append(v)
        return pack_as(output, outs) if isinstance(output, (list, tuple, dict)) else outs[0]

    return wrapper
