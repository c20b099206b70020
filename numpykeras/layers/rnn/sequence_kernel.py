"""The fused sequence kernel of the built-in cells: a whole ``RNN`` call as one kernel.

``RNN``'s per-step loop (``rnn.py``) is the reference. For a layer running a plain
``SimpleRNNCell``, ``LSTMCell`` or ``GRUCell`` it runs this kernel instead, which

- computes the input projection ``x_t @ kernel + bias`` of every timestep in one matmul per
  gate (by blocks of steps, the later blocks on a kernel thread while the loop runs),
- runs the recurrence on arrays allocated once per call, time-major and gate-major: each
  state as ``(T + 1, batch, units)`` (the state before step ``t`` at ``[t]``), the gates as
  ``(gates, T, batch, units)``, one stacked ``np.matmul`` per step for all gates,
- walks the steps backwards in :func:`backward` (backpropagation through time) with what the
  forward kept, storing the gradient of every step's pre-activations, and computes the weight
  gradients (and the input gradient) of each block of steps in one matmul per gate and
  weight, on a kernel thread as soon as the loop has walked the block.

Each cell's module holds its step and the step's backward beside each other (``LSTMSequence``
in ``lstm.py``, ``GRUSequence`` in ``gru.py``, ``SimpleRNNSequence`` in ``simple_rnn.py``).
This module holds what they share: Keras's mask rules, ``go_backwards``, the dropout masks, the
products with dropout masks, the gate activations, and the recording of a call on a
``GradientTape`` as one node, whose gradient is :func:`backward`.

Measured on 2 cores (batch 32, 100 steps, 64 features, 128 units), against the per-step loop
recorded op by op on the tape: see BENCHMARKS.md ("Recurrent layers").
"""

from __future__ import annotations

import numpy as np

from numpykeras import activations
from numpykeras.backend import Variable
from numpykeras.ops import autodiff
from numpykeras.ops._parallel import (
    kernel_threads,
    map_chunks,
    matmul,
    run_beside,
    single_threaded_blas,
)
from numpykeras.ops._scratch import scratch


def supports(cell) -> bool:
    """Whether the kernel runs ``cell``: an instance of exactly a built-in cell class (not a
    subclass, which may change the step) whose activations have known gradients."""
    if type(cell).__dict__.get("sequence_kernel") is None or not cell.built:
        return False
    fns = (cell.activation, getattr(cell, "recurrent_activation", activations.linear))
    return all(activations.has_gradient(fn) for fn in fns)


# --------------------------------------------------------------------------- forward, backward


class Cache:
    """What :func:`backward` needs from :func:`forward` (kept on the tape, never on a layer)."""

    __slots__ = ("parts", "runs", "drops", "go_backwards", "zero_output_for_mask", "x_shape")

    def __init__(self, parts, runs, drops, layer, x_shape):
        self.parts = parts  # the batch slices the kernel ran separately
        self.runs = runs  # per part, the cell's sequence object: its states, gates, weights
        self.drops = drops  # per part, (T, b, 1) bool, True where a step is masked, or None
        self.go_backwards = layer.go_backwards
        self.zero_output_for_mask = layer.zero_output_for_mask
        self.x_shape = x_shape


@single_threaded_blas
def forward(layer, x, states, mask=None, training=False, keep=True):
    """``layer``'s recurrence over ``x`` through its cell's sequence kernel.

    Keras's rules (``RNN`` in ``rnn.py``): the steps run in reverse with ``go_backwards`` (and
    the sequence output keeps that order); where ``mask`` is false a step keeps the states and
    outputs the previous output (zeros at the first step, or always with
    ``zero_output_for_mask``). Dropout masks are drawn once per call in training, in the order
    the per-step loop draws them, from the cell's generator.

    Samples are independent, so a batch with a lot of work per step is cut into one part per
    kernel thread, each running its own recurrence (``_parallel.map_chunks``; see
    ``_SPLIT_MIN_STEP_MACS`` for when that pays).

    Args:
        layer: an ``RNN`` whose cell ``supports``.
        x: ``(batch, timesteps, features)`` array.
        states: the initial states, arrays ``(batch, units)`` in ``cell.state_size`` order.
        mask: optional boolean ``(batch, timesteps)``.
        training: whether dropout applies.
        keep: whether :func:`backward` will run: the arrays of the recurrence are then new
            arrays kept in the cache; otherwise (inference) this thread's scratch buffers,
            which later calls reuse instead of faulting in fresh memory.

    Returns:
        ``(last_output, sequence, final_states, cache)``: ``(batch, units)``, ``(batch,
        timesteps, units)`` (``None`` unless ``return_sequences``), a list of ``(batch, units)``
        arrays, and the :class:`Cache` for :func:`backward`.
    """
    cell = layer.cell
    batch, steps, features = x.shape
    if steps == 0:
        raise ValueError(f"Layer {layer.name} received a sequence with 0 timesteps.")
    if mask is not None and mask.all():
        mask = None
    x_masks, h_masks = _dropout_masks(cell, (batch, features), x.dtype, training)
    states = [np.asarray(s, dtype=x.dtype) for s in states]
    u = cell.units
    last = np.empty((batch, u), x.dtype)
    sequence = np.empty((batch, steps, u), x.dtype) if layer.return_sequences else None
    final = [np.empty((batch, u), x.dtype) for _ in states]

    empty = new_array if keep else scratch_array

    def run_part(part):  # the recurrence of the samples `part` (a slice of the batch)
        xt = x[part].transpose(1, 0, 2)  # (T, b, D), time-major
        xt, source = empty("x", xt.shape, x.dtype), xt[::-1] if layer.go_backwards else xt
        np.copyto(xt, source)
        drop = None
        if mask is not None:
            drop = ~mask[part].T  # (T, b)
            drop = np.ascontiguousarray(drop[::-1] if layer.go_backwards else drop)[:, :, None]
        run = type(cell).sequence_kernel(
            cell, xt, [s[part] for s in states], _rows(x_masks, part), _rows(h_masks, part), empty
        )
        held = run.states  # (T + 1, b, u) each; [0] the initial state
        outputs = held[0][1:] if drop is None else np.empty_like(held[0][1:])  # (T, b, u)
        # The input projection of the first block of steps, then the rest beside the loop.
        bounds = _time_blocks(steps, run.x.shape[1], features, cell)
        run.project_inputs(0, bounds[1])
        rest = run_beside(run.project_inputs, bounds[1], steps) if bounds[1] < steps else None
        try:
            for t in range(steps):
                if t == bounds[1] and rest is not None:
                    rest, wait = None, rest
                    wait()
                run.step(t)
                if drop is not None:
                    d = drop[t]  # (b, 1)
                    np.copyto(outputs[t], held[0][t + 1])  # the new h (every cell's output)
                    if t and not layer.zero_output_for_mask:
                        np.copyto(outputs[t], outputs[t - 1], where=d)
                    else:
                        np.copyto(outputs[t], 0, where=d)
                    for s in held:  # masked samples keep their states
                        np.copyto(s[t + 1], s[t], where=d)
        finally:
            if rest is not None:
                rest()
        last[part] = outputs[-1]
        if sequence is not None:
            sequence[part] = outputs.transpose(1, 0, 2)
        for f, s in zip(final, held):
            f[part] = s[-1]
        return run, drop

    parts = _batch_parts(batch, steps, features, cell)
    done = _map_parts(run_part, parts)
    cache = Cache(parts, [r for r, _ in done], [d for _, d in done], layer, x.shape)
    return last, sequence, final, cache


@single_threaded_blas
def backward(cache, d_last, d_sequence, d_states, need_dx=True):
    """The gradients of :func:`forward`'s outputs' loss with respect to its inputs.

    Args:
        cache: from :func:`forward`.
        d_last: ``(batch, units)`` gradient of the last output, or ``None``.
        d_sequence: ``(batch, timesteps, units)`` gradient of the sequence output, or ``None``.
        d_states: one ``(batch, units)`` gradient (or ``None``) per final state.
        need_dx: whether to compute the gradient of ``x``.

    Returns:
        ``(dx, d_initial_states, grads)``: ``dx`` ``(batch, timesteps, features)`` or ``None``,
        a list of ``(batch, units)`` arrays, and ``{variable: gradient}`` for the cell's weights.
    """
    held = cache.runs[0].states
    steps, dtype = held[0].shape[0] - 1, held[0].dtype
    batch, u = cache.x_shape[0], held[0].shape[2]
    dx = np.empty(cache.x_shape, dtype) if need_dx else None
    d_initial = [np.empty((batch, u), dtype) for _ in held]

    def run_part(i):  # backpropagation through time for the samples of part i
        part, run, drop = cache.parts[i], cache.runs[i], cache.drops[i]
        run.begin_backward()
        b = run.states[0].shape[1]
        d_out = None if d_sequence is None else d_sequence[part].transpose(1, 0, 2)  # (T, b, u)
        d_end = None if d_last is None else d_last[part]
        carried = [np.zeros((b, u), dtype) if d is None else d[part] for d in d_states]
        d_previous = None  # a masked step repeats the previous output: its gradient goes back
        # The weight gradients of each block of steps, once walked, beside the loop.
        bounds = _time_blocks(steps, b, cache.x_shape[2], run.cell)
        blocks = []  # (start, stop, wait) of the blocks handed over
        try:
            for t in range(steps - 1, -1, -1):
                g = None if d_out is None else d_out[t]  # dL/d output_t: (b, u)
                if t == steps - 1 and d_end is not None:
                    g = d_end if g is None else g + d_end
                if d_previous is not None:
                    g = d_previous if g is None else g + d_previous
                if drop is None:
                    d_new = list(carried)  # dL/d (the cell's new states at step t)
                    if g is not None:
                        d_new[0] = d_new[0] + g
                    carried = run.step_backward(t, d_new)
                else:
                    keep = ~drop[t]  # (b, 1)
                    d_new = [np.where(keep, d, 0) for d in carried]
                    passed = [np.where(keep, 0, d) for d in carried]  # masked: the state passes
                    d_previous = None
                    if g is not None:
                        d_new[0] += np.where(keep, g, 0)
                        if t and not cache.zero_output_for_mask:
                            d_previous = np.where(keep, 0, g)
                    carried = [a + p for a, p in zip(run.step_backward(t, d_new), passed)]
                if t in bounds[1:-1]:
                    stop = bounds[bounds.index(t) + 1]
                    blocks.append((t, stop, run_beside(run.gradients, t, stop, need_dx)))
            blocks.append((0, bounds[1], lambda: run.gradients(0, bounds[1], need_dx)))
        finally:
            results = [(start, stop, wait()) for start, stop, wait in blocks]
        for d, c in zip(d_initial, carried):
            d[part] = c
        grads = {}
        dxt = np.empty((steps, b, cache.x_shape[2]), dtype) if need_dx else None  # (T, b, D)
        for start, stop, (dx_block, block_grads) in results:
            if dxt is not None:
                dxt[start:stop] = dx_block
            _add_into(grads, block_grads)
        if dxt is not None:
            dx[part] = (dxt[::-1] if cache.go_backwards else dxt).transpose(1, 0, 2)
        return grads

    grads = {}
    for part_grads in _map_parts(run_part, list(range(len(cache.parts)))):
        _add_into(grads, part_grads)
    return dx, d_initial, grads


def _add_into(total, grads):
    for v, g in grads.items():
        total[v] = g if v not in total else total[v] + g


# Per-step multiply-adds (batch x gates x units x (features + units)) from which a batch is
# cut into one part per kernel thread. Both parts' step loops need the interpreter for every
# NumPy call, and a call on a few thousand numbers releases the GIL for only a few
# microseconds, so the threads mostly wait for each other: on 2 cores, batch 32 with 128 LSTM
# units (3.1M multiply-adds a step) ran 1.3x slower split; batch 64 with 256 units (21M) 1.18x
# faster.
_SPLIT_MIN_STEP_MACS = 1 << 24
_SPLIT_MIN_ROWS = 4  # samples per part at least


# Multiply-adds of the input projection from which the steps are cut into blocks whose
# projections (forward) and weight gradients (backward) a kernel thread computes while the
# step loop runs: one long matmul per block, which holds the GIL only to start and finish.
_OVERLAP_MIN_MACS = 1 << 24
_OVERLAP_BLOCKS = 4


def _time_blocks(steps, batch, features, cell):
    """``[0, t_1, ..., steps]``: the blocks of timesteps handed to a kernel thread beside the
    step loop (the first block is the caller's); ``[0, steps]`` when that does not pay."""
    macs = steps * batch * features * cell.kernel.shape[1]
    if kernel_threads() < 2 or macs < _OVERLAP_MIN_MACS:
        return [0, steps]
    n = min(_OVERLAP_BLOCKS, steps)
    return [(i * steps) // n for i in range(n + 1)]


def _batch_parts(batch, steps, features, cell):
    """The batch as slices, one per kernel thread (or one slice for the whole batch)."""
    threads = kernel_threads()
    width = cell.kernel.shape[1]  # gates x units
    macs = batch * width * (features + cell.units)
    if threads < 2 or batch < threads * _SPLIT_MIN_ROWS or macs < _SPLIT_MIN_STEP_MACS:
        return [slice(0, batch)]
    size = -(-batch // threads)
    return [slice(s, min(s + size, batch)) for s in range(0, batch, size)]


def _map_parts(fn, parts):
    """``[fn(p) for p in parts]``, the parts on the kernel threads."""
    if len(parts) == 1:
        return [fn(parts[0])]
    chunks = map_chunks(lambda some: [(i, fn(parts[i])) for i in some], list(range(len(parts))))
    done = dict(pair for chunk in chunks for pair in chunk)
    return [done[i] for i in range(len(parts))]


def new_array(tag, shape, dtype):
    """A new ``shape`` array (kept in a cache: see :func:`scratch_array`)."""
    return np.empty(shape, dtype)


def scratch_array(tag, shape, dtype):
    """This thread's scratch buffer ``tag`` as a ``shape`` array (``ops/_scratch.py``): for
    arrays that never leave one forward (inference) or one backward call. Fresh arrays of a
    few MiB per call cost about as much as the arithmetic: the memory is faulted in again."""
    return scratch("rnn-" + tag, shape, dtype)


def _rows(masks, part):
    return None if masks is None else [m[part] for m in masks]


def _dropout_masks(cell, x_shape, dtype, training):
    """``(x_masks, h_masks)``: ``None`` or a list of masks (one for all gates, or one per gate
    with ``implementation=1``), drawn in the per-step loop's order: inputs, then states."""

    def draw(shape, rate):
        masks = cell._draw_mask(np.broadcast_to(np.zeros((), dtype), shape), rate)
        return [masks] if isinstance(masks, np.ndarray) else list(masks)

    x_masks = h_masks = None
    if training and 0.0 < cell.dropout < 1.0:
        x_masks = draw(x_shape, cell.dropout)
    if training and 0.0 < cell.recurrent_dropout < 1.0:
        h_masks = draw((x_shape[0], cell.units), cell.recurrent_dropout)
    return x_masks, h_masks


# --------------------------------------------------------------------------- shared pieces


# The cells keep their gates gate-major: ``(gates, ..., B, u)``, each gate's block a contiguous
# ``(B, u)`` array. NumPy's elementwise loops on a column slice of a ``(B, gates * u)`` array
# cost about 5x those on a contiguous block (per-row overhead on short rows), and a stacked
# product ``h @ U_g`` for every gate at once (``np.matmul`` on ``(gates, u, u)``) ran in 0.55x
# to 0.7x the time of one ``h @ U`` of the same size (batch 32, 128 units).


def gate_major(kernel, gates, scale=None):
    """``(n, gates * u) -> (gates, n, u)``, a contiguous copy (times ``scale``, a
    ``(gates * u,)`` column factor, when given)."""
    n, width = kernel.shape
    if scale is not None:
        kernel = kernel * scale
    return np.ascontiguousarray(kernel.reshape(n, gates, width // gates).transpose(1, 0, 2))


def from_gate_major(kernel):
    """``(gates, n, u) -> (n, gates * u)``: a gradient back in the weight's layout."""
    gates, n, u = kernel.shape
    return kernel.transpose(1, 0, 2).reshape(n, gates * u)


def project(x, kernel, masks=None, out=None):
    """``x @ kernel_g`` for each gate ``g``: ``x`` ``(..., D)`` (every timestep of a block, or
    one step's state), ``kernel`` ``(G, D, u)``, ``out`` ``(G, ..., u)``.

    With dropout ``masks`` (``(k, B, D)``-broadcastable arrays, the same at every step): one
    mask for all gates, or one per gate (``(x * m_g) @ kernel_g``).
    """
    if masks is None and x.ndim == 2 and out is not None:  # a step's product: (B, u) states
        return np.matmul(x, kernel, out=out)
    gates, d, u = kernel.shape
    x2 = x.reshape(-1, d)  # (N, D)
    if out is None:
        out = np.empty((gates,) + x.shape[:-1] + (u,), dtype=np.result_type(x, kernel))
    out3 = out.reshape(gates, -1, u)  # (G, N, u)
    if masks is not None and len(masks) == 1:
        x2, masks = (x * masks[0]).reshape(x2.shape), None
    if masks is None and x2.shape[0] * d * u * gates < _SPLIT_MIN_PRODUCT_MACS:
        np.matmul(x2, kernel, out=out3)  # all gates in one stacked product
        return out
    for g in range(gates):
        xg = x2 if masks is None else (x * masks[g]).reshape(x2.shape)
        _matmul(xg, kernel[g], out3[g])
    return out


def project_backward(dz, x, kernel, masks=None, need_dx=True):
    """The gradients of :func:`project` summed over all its rows (every timestep of a block at
    once): ``(dx, dkernel)`` for ``dz = dL/d out`` ``(G, ..., u)``; ``dx`` ``(..., D)`` is
    ``None`` unless ``need_dx``, ``dkernel`` is ``(G, D, u)``."""
    gates, d, u = kernel.shape
    x2, dz3 = x.reshape(-1, d), dz.reshape(gates, -1, u)  # (N, D), (G, N, u)
    dkernel = np.empty(kernel.shape, dtype=dz.dtype)
    dx = None
    for g in range(gates):
        m = None if masks is None else masks[0 if len(masks) == 1 else g]
        xg = x2 if m is None else (x * m).reshape(x2.shape)
        _matmul(xg.T, dz3[g], dkernel[g])  # (D, N) @ (N, u)
        if need_dx:
            part = _matmul(dz3[g], kernel[g].T).reshape(x.shape)  # (N, u) @ (u, D)
            if m is not None and len(masks) > 1:
                part *= m
            dx = part if dx is None else _add(dx, part)
    if need_dx and masks is not None and len(masks) == 1:
        dx *= masks[0]
    return dx, dkernel


def project_dx(dz, kernel_t, masks=None):
    """``dL/dx`` of one step's :func:`project`: ``sum_g dz_g @ kernel_g.T`` (each times its
    dropout mask), for ``dz`` ``(G, B, u)`` and ``kernel_t`` the contiguous ``(G, u, D)``."""
    parts = np.matmul(dz, kernel_t)  # (G, B, D), one stacked product
    if masks is not None:
        parts *= masks[0] if len(masks) == 1 else np.stack(masks)
    return parts.sum(axis=0) if parts.shape[0] > 1 else parts[0]


def _add(a, b):
    a += b
    return a


# Products over all timesteps from this many multiply-adds go gate by gate through
# ``_parallel.matmul`` (split between the kernel threads); smaller ones, and a step's, are one
# stacked ``np.matmul``.
_SPLIT_MIN_PRODUCT_MACS = 1 << 22


def _matmul(a, b, out=None):
    """Products over all timesteps split between the kernel threads (``_parallel.matmul``);
    a step's small products go straight to NumPy."""
    if a.shape[0] * a.shape[1] * b.shape[1] >= _SPLIT_MIN_PRODUCT_MACS:
        return matmul(a, b, out=out)
    return np.matmul(a, b, out=out)


class GateActivations:
    """Activations of gate-major arrays ``(k, rows, u)`` (``(rows, u)`` for one gate), one
    function per gate, applied in place, with their derivatives.

    Sigmoid and tanh gates (the default cells) are computed together, as one ``tanh`` of the
    whole array followed by ``scale * t + shift``: ``sigmoid(z) = (1 + tanh(z / 2)) / 2``
    (``scale = shift = 1/2``; ``1, 0`` for a tanh gate), and their derivative from the output
    as ``(q - y) y + p`` (``y (1 - y)`` or ``1 - y**2``): a few passes over the whole array
    instead of a few per gate, between arrays of one shape (no broadcasting). With
    ``prescaled``, the cell has multiplied its weights by ``input_scale`` (1/2 for a sigmoid
    gate), which is exact in binary floating point, so ``z`` arrives halved and the first pass
    is saved. Other activations run gate by gate, their derivatives from
    ``activations.backward`` (which needs the pre-activations: ``needs_input``).
    """

    def __init__(self, fns, units, rows, dtype, prescaled=False):
        self.fns, self.prescaled = list(fns), prescaled
        kinds = [_fast_kind(fn) for fn in self.fns]
        self.fast = all(k is not None for k in kinds)
        self.needs_input = not self.fast
        self.input_scale = None  # (k u,): what the cell multiplies its weights' columns by
        if not self.fast:
            return
        sigmoid = np.array([k == "sigmoid" for k in kinds])
        self.all_tanh = not sigmoid.any()
        shape = (len(kinds), rows, units) if len(kinds) > 1 else (rows, units)
        if not self.all_tanh:
            self.input_scale = np.repeat(np.where(sigmoid, 0.5, 1.0), units).astype(dtype)

            def full(values):  # one value per gate, as a contiguous array of `shape`
                values = np.asarray(values, dtype).reshape((-1, 1, 1)[-len(shape) :])
                return np.ascontiguousarray(np.broadcast_to(values, shape))

            self.scale = full(np.where(sigmoid, 0.5, 1.0))
            self.shift = full(np.where(sigmoid, 0.5, 0.0))
            self.q = full(sigmoid)
            self.p = full(~sigmoid)
        self._factor = np.empty(shape, dtype)

    def __call__(self, z, out=None):
        """The activations of ``z`` (times ``input_scale`` when ``prescaled``), into ``out``
        (default: ``z`` itself)."""
        out = z if out is None else out
        if self.fast:
            if self.all_tanh:
                return np.tanh(z, out=out)
            if not self.prescaled:
                z = np.multiply(z, self.scale, out=out)
            np.tanh(z, out=out)
            out *= self.scale
            out += self.shift
            return out
        if len(self.fns) == 1:
            out[...] = self.fns[0](z)
            return out
        for g, fn in enumerate(self.fns):
            out[g] = fn(z[g])
        return out

    def backward(self, dy, y, z=None):
        """``dy`` (``dL/dy``) becomes ``dL/dz`` in place; ``y`` the activations, ``z`` the
        pre-activations (needed when ``needs_input``)."""
        if self.fast:
            factor = self._factor  # the derivative, from the output
            if self.all_tanh:
                np.multiply(y, y, out=factor)
                np.subtract(1, factor, out=factor)
            else:
                np.subtract(self.q, y, out=factor)
                factor *= y
                factor += self.p
            dy *= factor
            return dy
        if len(self.fns) == 1:
            dy[...] = activations.backward(self.fns[0], dy, x=z, y=y)
            return dy
        for g, fn in enumerate(self.fns):
            dy[g] = activations.backward(fn, dy[g], x=z[g], y=y[g])
        return dy


def scaled_columns(array, scale):
    """``array * scale`` (scaling its last axis), or ``array`` itself when ``scale`` is None."""
    return array if scale is None or array is None else array * scale


def _fast_kind(fn):
    if fn is activations.sigmoid:
        return "sigmoid"
    if fn is activations.tanh:
        return "tanh"
    return None


# --------------------------------------------------------------------------- on a tape


def record(layer, sequences, states, mask, training):
    """``forward`` recorded as one node when a tape records: the inputs are the sequences, the
    initial states and the cell's trainable weights; the gradient is :func:`backward` (one
    backward pass for all outputs, which are slices of the node's packed value).

    Returns:
        ``(last_output, sequence, final_states)`` as :func:`forward` gives them, recorded
        Tensors for the outputs ``call`` returns; ``None`` when no tape tracks any input or
        weight (then the caller runs the kernel on the plain arrays).
    """
    tapes = autodiff._active_tapes()
    live = {t._id for t in tapes}
    tracked, node_inputs = set(), []
    for x in [sequences, *states]:
        if type(x) is autodiff.Tensor:
            tracked |= x._node.tapes & live
        elif isinstance(x, (np.ndarray, Variable)):
            leaf = autodiff._leaf(x, tapes)
            if leaf is not None:
                x, tracked = leaf, tracked | leaf._node.tapes
        node_inputs.append(x)
    variables, leaves = [], []
    for v in layer.cell.trainable_weights:
        leaf = autodiff._leaf(v, tapes)
        if leaf is not None:
            variables.append(v)
            leaves.append(leaf)
            tracked |= leaf._node.tapes
    if not tracked:
        return None
    values = [np.asarray(autodiff.unwrap(x)) for x in node_inputs]
    last, sequence, final, cache = forward(layer, values[0], values[1:], mask, training)
    need_dx = type(node_inputs[0]) is autodiff.Tensor
    main = sequence if layer.return_sequences else last
    returned = [main, *final] if layer.return_state else [main]
    cell = layer.cell
    dropout = training and (0.0 < cell.dropout < 1.0 or 0.0 < cell.recurrent_dropout < 1.0)

    def vjp(g, ans, *xs):
        from numpykeras.layers.layer import _recorded_by_live_tape, _warn_second_order

        if autodiff.is_recording() and _recorded_by_live_tape((g,) + xs):
            if not dropout:  # the gradient is itself recorded: differentiate the loop
                return _recorded_vjp(layer, xs, len(node_inputs), variables, mask, returned, g)
            _warn_second_order(layer)
        pieces = _unpack(np.asarray(autodiff.unwrap(g)), returned)
        d_main = pieces[0]
        d_states = pieces[1:] if layer.return_state else [None] * len(final)
        d_sequence, d_last = (d_main, None) if layer.return_sequences else (None, d_main)
        dx, d_initial, grads = backward(cache, d_last, d_sequence, d_states, need_dx)
        return [dx, *d_initial] + [grads.get(v) for v in variables]

    packed = returned[0] if len(returned) == 1 else _pack(returned)
    node = autodiff.Node(vjp, tuple(node_inputs) + tuple(leaves), {}, frozenset(tracked))
    tensor = autodiff.Tensor(packed, node)
    if len(returned) == 1:
        outs = [tensor]
    else:
        from numpykeras.ops import numpy as ops

        outs, start = [], 0
        for r in returned:
            outs.append(ops.reshape(tensor[start : start + r.size], r.shape))
            start += r.size
    main = outs[0]
    final = outs[1:] if layer.return_state else final
    if layer.return_sequences:
        return last, main, final
    return main, sequence, final


def _pack(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def _unpack(flat, like):
    if len(like) == 1:
        return [flat]
    out, start = [], 0
    for a in like:
        out.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return out


def _recorded_vjp(layer, xs, n_inputs, variables, mask, returned, g):
    """The node's VJP while a tape records it (a gradient of a gradient): the per-step loop
    on a nested tape, so that the recording tapes see how the gradient was computed."""
    inputs = list(xs[:n_inputs])
    with autodiff.GradientTape() as inner:
        for x in inputs:
            if type(x) is autodiff.Tensor:
                inner.watch(x)
        for v in variables:
            inner.watch(v)
        last, sequence, final = layer._loop(inputs[0], inputs[1:], mask, False)
        main = sequence if layer.return_sequences else last
        targets = [main, *final] if layer.return_state else [main]
    if len(targets) == 1:
        seeds = [g]
    else:
        from numpykeras.ops import numpy as ops

        seeds, start = [], 0
        for r in returned:
            seeds.append(ops.reshape(g[start : start + r.size], r.shape))
            start += r.size
    sources = [x if type(x) is autodiff.Tensor else np.zeros(0) for x in inputs] + variables
    grads = inner.gradient(targets, sources, output_gradients=seeds)
    return [gx if type(x) is autodiff.Tensor else None for x, gx in zip(inputs, grads)] + list(
        grads[n_inputs:]
    )
