"""Inference plans: a model's layers as steps, with conv -> BN -> add -> activation chains fused.

At inference a ``BatchNormalization`` is an affine map per channel, a ReLU is a clip and an
``Add`` one more addition, so after a convolution all three can be applied to each block of the
convolution's output while it is in cache (``ops.conv2d``'s epilogue) instead of in three more
passes over memory. ResNet's ``conv -> BN -> add -> relu`` and MobileNet's
``depthwise -> BN -> relu6`` each become one kernel call. The arithmetic is the same up to
rounding: the normalization's scale multiplies the kernel instead of the output.

A plan is a list of :class:`Step` built once from the model's graph (it holds layers, never
weights or data, so weight updates and concurrent ``predict`` calls need nothing from it).
A chain is fused only where nothing else can see its intermediate tensors: each of them has
exactly one consumer, the next layer of the chain, and none is a model output. Each step also
says which values it is the last reader of, so the runner can drop them early (large models
then hold a few activations at a time instead of all of them). Training never uses a plan:
the tape needs every layer's own cache.

Within one call, arrays that no later step reads go to a :class:`BufferPool`, and fused steps
write their output into a pooled array of the right shape instead of a new one: a large model
has few distinct activation shapes, and a fresh large array costs the kernel a page fault per
4 KiB page on first write (about 10% of ResNet50's time at batch 8).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from numpykeras import activations


class Step(NamedTuple):
    """One step of an inference plan.

    ``nodes``: the graph nodes it computes (one, or a fused chain, conv first). ``fused``: the
    fusion, or ``None`` for a plain layer call. ``free``: ids of the tensors no later step reads.
    """

    nodes: tuple
    fused: Fusion | None
    free: tuple


class Fusion(NamedTuple):
    """A fused chain: ``activation(batch_norm(conv(x)) + residual)``, or conv + max pooling.

    ``conv``: the ``Conv2D``/``DepthwiseConv2D`` node; ``batch_norm``: the BN layer or ``None``;
    ``residual``: the other input tensor of a fused ``Add``, or ``None``; ``activation``:
    ``None``, ``"relu"`` or ``"relu6"``; ``max_pool``: a ``MaxPooling2D`` layer (then nothing
    else is fused).
    """

    batch_norm: object
    residual: object
    activation: str | None
    max_pool: object


def _plain(layer, cls) -> bool:
    """``layer`` is a built ``cls`` whose ``call`` is ``cls``'s own (not overridden)."""
    return isinstance(layer, cls) and type(layer).call is cls.call and layer.built


def _conv_kind(layer):
    """``"conv"`` / ``"depthwise"`` for a channels-last convolution that can head a chain."""
    from numpykeras.layers.convolutional.conv2d import Conv2D
    from numpykeras.layers.convolutional.depthwise_conv2d import DepthwiseConv2D

    if getattr(layer, "data_format", None) != "channels_last":
        return None
    if _plain(layer, Conv2D) and type(layer).call_fused is Conv2D.call_fused:
        return "conv"
    if _plain(layer, DepthwiseConv2D) and type(layer).call_fused is DepthwiseConv2D.call_fused:
        return "depthwise"
    return None


def _is_batch_norm(layer, dtype) -> bool:
    from numpykeras.layers.normalization.batch_normalization import BatchNormalization

    return (
        _plain(layer, BatchNormalization)
        and layer.axis in (-1, 3)
        and layer.dtype == dtype
        and len(layer.moving_mean.shape) == 1
    )


def _is_add(layer) -> bool:
    from numpykeras.layers.merging.add import Add

    return _plain(layer, Add)


def _is_max_pool(layer, dtype) -> bool:
    from numpykeras.layers.pooling.max_pooling2d import MaxPooling2D

    return (
        _plain(layer, MaxPooling2D)
        and layer.data_format == "channels_last"
        and layer.dtype == dtype
    )


def activation_kind(layer):
    """``"relu"`` / ``"relu6"`` for an ``Activation`` or ``ReLU`` layer that computes exactly
    that (Keras's defaults), else ``None``."""
    from numpykeras.layers.activations.relu import ReLU
    from numpykeras.layers.core.activation import Activation

    if _plain(layer, Activation):
        if layer.activation is activations.relu:
            return "relu"
        if layer.activation is activations.relu6:
            return "relu6"
        return None
    if _plain(layer, ReLU):
        if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
            return None
        if layer.max_value is None:
            return "relu"
        if float(layer.max_value) == 6.0:
            return "relu6"
    return None


def fuse_chain(layers: list, dtype, can_add: bool):
    """How much of ``layers`` (a conv layer and the layers that consume its output, in order)
    fuses into the conv: ``(count, batch_norm, add_layer_or_None, activation, max_pool)``.

    ``can_add``: whether an ``Add`` may be fused at its position (the caller checks its other
    input). ``count`` includes the conv; 1 means nothing fuses.
    """
    kind = _conv_kind(layers[0])
    none = (1, None, None, None, None)
    if kind is None:
        return none
    conv = layers[0]
    linear = conv.activation is activations.linear
    i = 1
    if kind == "conv" and len(layers) > 1 and _is_max_pool(layers[1], dtype):
        if linear or conv.activation is activations.relu:
            return (2, None, None, None, layers[1])
    if not linear:
        return none
    batch_norm = add = act = None
    if i < len(layers) and _is_batch_norm(layers[i], dtype):
        batch_norm = layers[i]
        i += 1
    if kind == "conv" and can_add and i < len(layers) and _is_add(layers[i]):
        add = layers[i]
        i += 1
    if i < len(layers):
        act = activation_kind(layers[i])
        if act is not None:
            i += 1
    return (i, batch_norm, add, act, None)


def _pop_count(values: dict, key):
    """``values.pop(key)`` and its reference count right after (see :class:`BufferPool`)."""
    arr = values.pop(key, None)
    return arr, sys.getrefcount(arr)


class BufferPool:
    """Arrays of one inference call that nothing reads any more, offered to later steps.

    An array is taken in only if nothing else can see it: it owns its memory, and its reference
    count right after leaving the call's value table is that of an array with no other
    reference (a view of it, a caller's variable, a list or a layer attribute holding it all add
    one). That count is measured once, through the same function, rather than assumed.
    """

    _unshared = None

    def __init__(self):
        self._free: dict = {}
        if BufferPool._unshared is None:
            BufferPool._unshared = _pop_count({0: np.empty(2)}, 0)[1]

    def release(self, values: dict, key) -> None:
        """Drops ``values[key]``, keeping the array for reuse when nothing else refers to it."""
        arr, count = _pop_count(values, key)
        if (
            count == BufferPool._unshared
            and isinstance(arr, np.ndarray)
            and arr.base is None
            and arr.flags.owndata
            and arr.flags.c_contiguous
            and arr.flags.writeable
        ):
            self._free.setdefault((arr.shape, arr.dtype.str), []).append(arr)

    def take(self, shape, dtype):
        """A released array of ``shape`` and ``dtype`` (its content is garbage), or ``None``."""
        free = self._free.get((tuple(shape), np.dtype(dtype).str))
        return free.pop() if free else None


def run_fused(conv, fusion: Fusion, x, residual, pool: BufferPool | None = None):
    """The fused chain on the array ``x`` (the conv's input), or ``None`` if it cannot run fused
    (then the caller runs the layers one by one). The output goes into an array from ``pool``
    when it has one of the right shape."""
    x = conv._convert_inputs(x)
    conv._maybe_build(x.shape)
    conv._check_inputs(x)
    if fusion.max_pool is not None:
        return conv.call_fused_max_pool(x, fusion.max_pool)
    out = None
    if pool is not None and isinstance(x, np.ndarray):
        out = pool.take(conv.compute_output_shape(x.shape), x.dtype)
    if fusion.residual is not None:
        return conv.call_fused(
            x,
            batch_norm=fusion.batch_norm,
            residual=residual,
            activation=fusion.activation,
            out=out,
        )
    return conv.call_fused(x, batch_norm=fusion.batch_norm, activation=fusion.activation, out=out)


def functional_plan(model) -> list:
    """The inference plan of a ``Functional`` model (see the module docstring)."""
    from numpykeras.layers.input_layer import InputLayer
    from numpykeras.models.functional import _flat

    nodes = [n for n in model._nodes if not isinstance(n.layer, InputLayer)]
    output_ids = {id(t) for t in model._outputs}
    readers: dict = {}  # id(tensor) -> nodes reading it (a node twice if it reads it twice)
    for node in nodes:
        for t in _flat(node.call_args):
            readers.setdefault(id(t), []).append(node)

    def sole_reader(node):
        """The only node reading ``node``'s single output, if it is not a model output."""
        if len(node.output_tensors) != 1:
            return None
        t = node.output_tensors[0]
        found = readers.get(id(t), [])
        if id(t) in output_ids or len(found) != 1:
            return None
        return found[0]

    absorbed: set = set()  # ids of nodes inside a fused chain
    step_at: dict = {}  # id(node) -> the step (nodes, fusion) that runs at that node
    for node in nodes:
        if id(node) in absorbed:
            continue
        chain = [node]
        if _conv_kind(node.layer) is not None and not node.call_kwargs:
            nxt = sole_reader(node)
            while nxt is not None and len(chain) < 4 and not nxt.call_kwargs:
                if id(nxt) in absorbed:  # an Add already fused into another chain
                    break
                chain.append(nxt)
                nxt = sole_reader(nxt)
        residual = None
        for k, n in enumerate(chain[1:], 1):
            if _is_add(n.layer):
                args = _flat(n.call_args)
                others = [t for t in args if t is not chain[k - 1].output_tensors[0]]
                if len(args) == 2 and len(others) == 1 and others[0].shape == args[0].shape:
                    residual = others[0]
                break
        layers = [n.layer for n in chain]
        count, batch_norm, add, act, pool = fuse_chain(
            layers, node.layer.dtype, residual is not None
        )
        if count == 1:
            step_at[id(node)] = ((node,), None)
            continue
        chain = chain[:count]
        absorbed.update(id(n) for n in chain)
        fusion = Fusion(batch_norm, residual if add is not None else None, act, pool)
        # A fused chain runs where its last node is: its residual (an input of that node) is
        # ready by then, and nothing else reads the chain's intermediate tensors.
        step_at[id(chain[-1])] = (tuple(chain), fusion)
    placed = [step_at[id(n)] for n in nodes if id(n) in step_at]
    return _with_frees(placed, output_ids)


def step_inputs(step_nodes, fusion) -> list:
    """The tensors a step reads from earlier steps (or the model's inputs)."""
    from numpykeras.models.functional import _flat

    if fusion is None:
        return _flat(step_nodes[0].call_args)
    inputs = list(_flat(step_nodes[0].call_args))
    if fusion.residual is not None:
        inputs.append(fusion.residual)
    return inputs


def _with_frees(placed: list, output_ids: set) -> list:
    """:class:`Step` objects, each with the tensors it is the last to read."""
    last_reader: dict = {}
    for i, (nodes, fusion) in enumerate(placed):
        for t in step_inputs(nodes, fusion):
            last_reader[id(t)] = i
    plan = []
    for i, (nodes, fusion) in enumerate(placed):
        free = tuple(
            {
                id(t)
                for t in step_inputs(nodes, fusion)
                if last_reader[id(t)] == i and id(t) not in output_ids
            }
        )
        plan.append(Step(tuple(nodes), fusion, free))
    return plan
