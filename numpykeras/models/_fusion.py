"""Inference plans: a model's layers as steps, with conv -> BN -> add -> activation chains fused.

At inference a ``BatchNormalization`` is an affine map per channel, a ReLU is a clip and an
``Add`` one more addition, so after a convolution all three can be applied to each block of the
convolution's output while it is in cache (``ops.conv2d``'s epilogue) instead of in three more
passes over memory. ResNet's ``conv -> BN -> add -> relu`` and MobileNet's
``depthwise -> BN -> relu6`` each become one kernel call, and a ``ZeroPadding2D`` in front of a
"valid" convolution is written where the convolution gathers its windows. The arithmetic is the
same up to rounding: the normalization's scale multiplies a copy of the kernel (when the output
is the larger of the two) or each output block, instead of the whole output afterwards.

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
from numpykeras.ops.padding import padded_shape


class Step(NamedTuple):
    """One step of an inference plan.

    ``nodes``: the graph nodes it computes (one, or a fused chain in graph order). ``fused``: the
    fusion, or ``None`` for a plain layer call. ``free``: ids of the tensors no later step reads.
    """

    nodes: tuple
    fused: Fusion | None
    free: tuple


class Fusion(NamedTuple):
    """A fused chain: ``activation(batch_norm(conv(pad(x))) + residual)``, or conv + max pool.

    ``conv``: the ``Conv2D``/``DepthwiseConv2D`` layer; ``padding``: the
    ``((top, bottom), (left, right))`` of a ``ZeroPadding2D`` in front of it, or ``None``;
    ``batch_norm``: the BN layer or ``None``; ``residual``: the other input tensor of a fused
    ``Add`` (in a Functional plan), or ``None``; ``activation``: ``None``, ``"relu"`` or
    ``"relu6"``; ``max_pool``: a ``MaxPooling2D`` layer (then nothing else is fused).
    """

    conv: object
    padding: tuple | None
    batch_norm: object
    residual: object
    activation: str | None
    max_pool: object


def _plain(layer, cls) -> bool:
    """``layer`` is a built ``cls`` whose ``call`` is ``cls``'s own (not overridden)."""
    return isinstance(layer, cls) and type(layer).call is cls.call and layer.built


def conv_kind(layer):
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


def _zero_padding(layer, dtype):
    """The ``((top, bottom), (left, right))`` of a plain channels-last ``ZeroPadding2D``."""
    from numpykeras.layers.reshaping.zero_padding2d import ZeroPadding2D

    if not isinstance(layer, ZeroPadding2D) or type(layer).call is not ZeroPadding2D.call:
        return None
    if layer.data_format != "channels_last" or layer.dtype != dtype:
        return None
    return layer.padding


def fuse_chain(layers: list, dtype, can_add: bool):
    """How much of ``layers`` (a conv layer, or a ``ZeroPadding2D`` and a conv layer, then the
    layers that consume its output, in order) fuses into one step.

    Returns ``(count, fusion, add)``: ``count`` layers fuse (1: nothing does), as ``fusion``
    (a :class:`Fusion` whose ``residual`` the caller fills in), ``add`` being the fused ``Add``
    layer or ``None``. ``can_add``: whether an ``Add`` may be fused at its position (the caller
    checks its other input).
    """
    none = (1, None, None)
    pads = _zero_padding(layers[0], dtype) if len(layers) > 1 else None
    if pads is not None:
        # ZeroPadding2D -> a "valid" convolution with a spatial kernel: the zeros are written
        # where the convolution gathers its windows, not as a padded copy of the input
        conv = layers[1]
        if conv_kind(conv) is None or conv.padding != "valid" or conv.kernel_size == (1, 1):
            return none
        count, fusion, add = fuse_chain(layers[1:], dtype, can_add)
        if fusion is None:
            # the padding alone: the conv's own activation must be one it can fuse
            own = conv.activation
            if not (
                own is activations.linear or (own is activations.relu and conv_kind(conv) == "conv")
            ):
                return none
            fusion = Fusion(conv, None, None, None, None, None)
        elif fusion.max_pool is not None:
            return none
        return count + 1, fusion._replace(padding=pads), add
    kind = conv_kind(layers[0])
    if kind is None:
        return none
    conv = layers[0]
    linear = conv.activation is activations.linear
    if kind == "conv" and len(layers) > 1 and _is_max_pool(layers[1], dtype):
        if linear or conv.activation is activations.relu:
            return 2, Fusion(conv, None, None, None, None, layers[1]), None
    if not linear:
        return none
    i = 1
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
    if i == 1:
        return none
    return i, Fusion(conv, None, batch_norm, None, act, None), add


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


def run_fused(fusion: Fusion, x, residual=None, pool: BufferPool | None = None):
    """The fused chain on the array ``x`` (the chain's input), or ``None`` if it cannot run
    fused (then the caller runs the layers one by one). The output goes into an array from
    ``pool`` when it has one of the right shape."""
    conv = fusion.conv
    x = conv._prepare_inputs(x)  # the input spec fixes rank and channels: padding changes neither
    if fusion.max_pool is not None:
        return conv.call_fused_max_pool(x, fusion.max_pool)
    kwargs = {}
    if fusion.padding is not None:
        kwargs["explicit_padding"] = fusion.padding
    if fusion.residual is not None:
        kwargs["residual"] = residual
    if pool is not None and isinstance(x, np.ndarray) and x.ndim == 4:
        shape = x.shape
        if fusion.padding is not None:
            shape = padded_shape(shape, ((0, 0),) + tuple(fusion.padding) + ((0, 0),))
        kwargs["out"] = pool.take(conv.compute_output_shape(shape), x.dtype)
    return conv.call_fused(x, batch_norm=fusion.batch_norm, activation=fusion.activation, **kwargs)


def _inference_call(node) -> bool:
    """The node calls its layer with no extra arguments (``training=False`` is what inference
    does anyway)."""
    if node.extra_args:
        return False
    return not node.call_kwargs or node.call_kwargs == {"training": False}


def functional_plan(model) -> list:
    """The inference plan of a ``Functional`` model (see the module docstring)."""
    from numpykeras.layers.input_layer import InputLayer
    from numpykeras.models.functional import _flat

    nodes = [n for n in model._nodes if not isinstance(n.layer, InputLayer)]
    output_ids = {id(t) for t in model._outputs}
    readers: dict = {}  # id(tensor) -> nodes reading it (a node twice if it reads it twice)
    for node in nodes:
        for t in node.input_tensors:
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
        head = conv_kind(node.layer) is not None or _zero_padding(node.layer, node.layer.dtype)
        if head and _inference_call(node):
            nxt = sole_reader(node)
            while nxt is not None and len(chain) < 5 and _inference_call(nxt):
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
        count, fusion, add = fuse_chain(layers, node.layer.dtype, can_add=residual is not None)
        if count == 1:
            step_at[id(node)] = ((node,), None)
            continue
        chain = chain[:count]
        absorbed.update(id(n) for n in chain)
        if add is not None:
            fusion = fusion._replace(residual=residual)
        # A fused chain runs where its last node is: its residual (an input of that node) is
        # ready by then, and nothing else reads the chain's intermediate tensors.
        step_at[id(chain[-1])] = (tuple(chain), fusion)
    placed = [step_at[id(n)] for n in nodes if id(n) in step_at]
    return _with_frees(placed, output_ids)


def step_inputs(step_nodes, fusion) -> list:
    """The tensors a step reads from earlier steps (or the model's inputs)."""
    inputs = list(step_nodes[0].input_tensors)
    if fusion is not None and fusion.residual is not None:
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
