"""``Functional``: a model defined as a graph of layers, ``Model(inputs, outputs)``.

Calling layers on symbolic tensors (``keras.Input``) records nodes; the model walks them in a
topological order to compute, and in reverse on the training tape to backpropagate. A layer called
twice (a shared layer) has two nodes, and the gradients of its weights are summed.
"""

from __future__ import annotations

import copy

import numpy as np

from numpykeras.layers.input_layer import InputLayer
from numpykeras.layers.layer import (
    activity_losses_enabled,
    activity_penalty_and_gradient,
    has_activity_regularizers,
    name_scope,
    ops_cast,
    record_kernel_call,
    sublayers_have_activity_regularizers,
)
from numpykeras.layers.node import KerasTensor, uses_traced_shapes
from numpykeras.models import _fusion
from numpykeras.models.model import Model
from numpykeras.models.sequential import _accumulate
from numpykeras.ops import autodiff
from numpykeras.ops._parallel import single_threaded_blas


def _flat(structure):
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            out.extend(_flat(s))
        return out
    if isinstance(structure, dict):
        out = []
        for k in structure:
            out.extend(_flat(structure[k]))
        return out
    return [structure]


def _flat_io(structure):
    """A model's inputs or outputs in Keras's flat order: dict entries sorted by key.

    Keras flattens the ``inputs=`` and ``outputs=`` structures of a model (and the data passed
    for them) with its ``tree`` module, which visits dict keys in sorted order; ``model.inputs``,
    ``model.outputs``, ``model.output_names`` and a list of losses for a dict-output model all
    follow that order.
    """
    if isinstance(structure, dict):
        out = []
        for k in sorted(structure):
            out.extend(_flat_io(structure[k]))
        return out
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            out.extend(_flat_io(s))
        return out
    return [structure]


def _pack_io(template, values):
    """Inverse of :func:`_flat_io`: ``template``'s structure (its own key order) from ``values``."""
    it = iter(values)

    def build(t):
        if isinstance(t, dict):
            filled = {k: build(t[k]) for k in sorted(t)}
            return {k: filled[k] for k in t}
        if isinstance(t, (list, tuple)):
            return type(t)(build(x) for x in t)
        return next(it)

    return build(template)


def _pack(template, values):
    """Rebuild ``template``'s list/dict structure from the flat ``values``."""
    it = iter(values)

    def build(t):
        if isinstance(t, (list, tuple)):
            return type(t)(build(x) for x in t)
        if isinstance(t, dict):
            return {k: build(v) for k, v in t.items()}
        return next(it)

    return build(template)


class KernelTape(list):
    """What a training ``forward`` keeps for ``backward``: the ``(node, cache)`` entries in
    order, and the activity regularizers' part of the loss.

    A layer with an ``activity_regularizer`` adds ``penalty(output) / batch_size`` to the loss
    (as Keras's ``__call__`` does): ``activity_loss`` is the sum of those penalties (a nested
    model's included), ``activity_grads`` the gradient of each penalty with respect to its
    output tensor (``{id(tensor): array}``), which ``backward`` adds to the gradient flowing
    into that tensor's layer. ``nested_shapes`` holds the output shapes of nested models with
    such penalties, whose ``backward`` must run even where nothing else reads their outputs.
    """

    __slots__ = ("activity_loss", "activity_grads", "nested_shapes")

    def __init__(self):
        super().__init__()
        self.activity_loss = 0.0
        self.activity_grads = {}
        self.nested_shapes = {}

    def add_activity(self, node, outs, cache):
        """The penalties of one node's outputs ``outs`` (and of a nested model's layers)."""
        regularizer = getattr(node.layer, "activity_regularizer", None)
        if regularizer is not None:
            for t, y in zip(node.output_tensors, outs):
                if isinstance(y, np.ndarray) and y.dtype.kind == "f":
                    value, grad = activity_penalty_and_gradient(regularizer, y)
                    self.activity_loss += value
                    key = id(t)
                    self.activity_grads[key] = (
                        self.activity_grads[key] + grad if key in self.activity_grads else grad
                    )
        if isinstance(cache, KernelTape) and (cache.activity_grads or cache.nested_shapes):
            self.activity_loss += cache.activity_loss
            self.nested_shapes[id(node)] = [(np.shape(y), np.asarray(y).dtype) for y in outs]


class Functional(Model):
    """A model from symbolic inputs to symbolic outputs.

    Args:
        inputs: a ``keras.Input`` tensor, or a list or dict of them.
        outputs: the tensor(s) computed from ``inputs`` by calling layers (a tensor, list or dict).
        name: the model name (``functional``, ``functional_1``, ... by default).
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        kwargs.pop("activity_regularizer", None)  # Keras's Functional ignores it too
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._input_struct = inputs
        self._output_struct = outputs
        self._inputs = _flat_io(inputs)
        self._outputs = _flat_io(outputs)
        for t in self._inputs + self._outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    "All `inputs` and `outputs` values must be KerasTensors (from `keras.Input` "
                    f"and layer calls). Received: {t!r} (of type {type(t).__name__})"
                )
        for t in self._inputs:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(
                    "Model inputs must come from `keras.Input`; received a tensor produced by "
                    f"layer '{t._keras_history[0].name}'."
                )
        self._nodes, self._layers_ordered = self._map_graph()
        self._check_unique_names()
        self.built = True

    # -- graph --------------------------------------------------------------------------------
    def _map_graph(self):
        """Nodes in execution order, and ``model.layers`` in Keras's order."""
        input_ids = {id(t) for t in self._inputs}
        node_depth: dict = {}
        visit_order: list = []
        # Depth-first from the outputs, call arguments left to right.
        in_progress: set = set()

        def visit(node, depth):
            key = id(node)
            if key in in_progress:
                raise ValueError(f"The graph has a cycle through layer '{node.layer.name}'.")
            if key not in node_depth:
                visit_order.append(node)
            if node_depth.get(key, -1) >= depth:
                return
            node_depth[key] = depth
            in_progress.add(key)
            for t in node.input_tensors:
                parent_layer, node_index, _ = t._keras_history
                visit(parent_layer._inbound_nodes[node_index], depth + 1)
            in_progress.discard(key)

        for t in self._outputs:
            layer, node_index, _ = t._keras_history
            visit(layer._inbound_nodes[node_index], 0)

        # Every InputLayer reached must be one of the model's inputs.
        for node in visit_order:
            if isinstance(node.layer, InputLayer) and id(node.output_tensors[0]) not in input_ids:
                consumers = [
                    n.layer.name
                    for n in visit_order
                    if any(t is node.output_tensors[0] for t in n.input_tensors)
                ]
                raise ValueError(
                    "Graph disconnected: cannot find the value of tensor "
                    f"{node.output_tensors[0]!r} at layer '{node.layer.name}' (used by "
                    f"{consumers}). The following previous layers were accessed without issue: "
                    f"{[n.layer.name for n in visit_order if not isinstance(n.layer, InputLayer)]}"
                    ". Add it to the model's `inputs`."
                )
        for t in self._inputs:
            layer = t._keras_history[0]
            node = layer._inbound_nodes[t._keras_history[1]]
            if id(node) not in node_depth:
                node_depth[id(node)] = max(node_depth.values(), default=0) + 1
                visit_order.append(node)

        nodes = sorted(visit_order, key=lambda n: -node_depth[id(n)])
        return nodes, self._layers_in_keras_order(visit_order)

    def _layers_in_keras_order(self, graph_nodes):
        """``model.layers`` as Keras orders them: by depth from the outputs, deepest first, ties
        by first visit in a depth-first walk from the outputs. A layer's depth is the largest of
        its nodes' depths, and a node of a shared layer counts at its layer's depth when its
        parents' depths are set (so they follow it), walking the nodes from the outputs back."""
        in_graph = {id(n) for n in graph_nodes}
        input_ids = {id(t) for t in self._inputs}

        def parents(node):
            for t in node.input_tensors:
                layer, node_index, _ = t._keras_history
                parent = layer._inbound_nodes[node_index]
                if id(parent) in in_graph:
                    yield parent

        post_order: list = []  # inputs first
        first_visit: dict = {}  # layer id -> index of its first visit
        finished: set = set()

        def walk(tensor):
            layer, node_index, _ = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            if id(node) in finished:
                return
            if not isinstance(layer, InputLayer) and id(tensor) in input_ids:
                finished.add(id(node))  # an intermediate tensor given as an input: stop here
                return
            first_visit.setdefault(id(layer), len(first_visit))
            for t in node.input_tensors:
                walk(t)
            finished.add(id(node))
            post_order.append(node)

        for t in self._outputs:
            walk(t)
        node_depth: dict = {}
        layer_depth: dict = {}
        layers: dict = {}
        for node in reversed(post_order):
            lid = id(node.layer)
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(lid, 0))
            layer_depth[lid] = node_depth[id(node)] = depth
            layers[lid] = node.layer
            for parent in parents(node):
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self._inputs:  # inputs no output depends on
            layer = t._keras_history[0]
            if id(layer) not in layer_depth:
                layer_depth[id(layer)], first_visit[id(layer)] = 0, -1
                layers[id(layer)] = layer
        ordered = sorted(layers, key=lambda lid: (-layer_depth[lid], first_visit[lid]))
        # Layers the walk above did not reach (none in a well-formed graph) keep their place.
        extra = []
        for node in graph_nodes:
            if id(node.layer) not in layers and all(node.layer is not e for e in extra):
                extra.append(node.layer)
        return [layers[lid] for lid in ordered] + extra

    def _check_unique_names(self):
        seen = {}
        for layer in self._layers_ordered:
            if layer.name in seen and seen[layer.name] is not layer:
                raise ValueError(
                    f'The name "{layer.name}" is used 2 times in the model. All operation names '
                    "should be unique."
                )
            seen[layer.name] = layer

    @property
    def layers(self) -> list:
        # `keras.ops` nodes (OpLayer) are operations, not layers, as in Keras.
        return [layer for layer in self._layers_ordered if not hasattr(layer, "keras_serialize")]

    @property
    def _layers(self):
        return self._layers_ordered

    def _sublayers(self) -> list:
        return [layer for layer in self._layers_ordered if not isinstance(layer, InputLayer)]

    # -- shapes -------------------------------------------------------------------------------
    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        return self._input_struct

    @property
    def output(self):
        return self._output_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _node_shapes(self, input_shape):
        """``{id(tensor): shape}`` for every tensor of the graph, for inputs of ``input_shape``."""
        if isinstance(input_shape, dict):
            shapes = [input_shape[k] for k in sorted(input_shape)]
        else:
            shapes = input_shape if len(self._inputs) > 1 else [input_shape]
        values = {id(t): tuple(s) for t, s in zip(self._inputs, _flat_shapes(shapes))}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            if _recorded_shapes_only(node):
                # Shapes found when the graph was built (a call with several tensor arguments,
                # or a layer traced because it has no compute_output_shape): only the batch
                # size can differ.
                batch = [values[id(t)][0] for t in node.input_tensors if values[id(t)]]
                outs = [
                    (batch[0],) + tuple(t.shape[1:]) if batch and t.shape else t.shape
                    for t in node.output_tensors
                ]
            else:
                out = node.layer.compute_output_shape(_resolve(node.call_args, values))
                outs = [out] if len(node.output_tensors) == 1 else list(out)
            for t, s in zip(node.output_tensors, outs):
                values[id(t)] = s
        return values

    def compute_output_shape(self, input_shape):
        values = self._node_shapes(input_shape)
        result = [values[id(t)] for t in self._outputs]
        return _pack_io(self._output_struct, result) if len(result) > 1 else result[0]

    def _maybe_build(self, input_shape):
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    # -- computation --------------------------------------------------------------------------
    def _standardize_inputs(self, inputs):
        if isinstance(inputs, dict):
            names = [t._keras_history[0].name for t in self._inputs]
            if isinstance(self._input_struct, dict):
                missing = [k for k in self._input_struct if k not in inputs]
                if missing:
                    raise ValueError(
                        f'Missing data for input "{missing[0]}". You passed a data dictionary with '
                        f"keys {list(inputs.keys())}. Expected the following keys: "
                        f"{list(self._input_struct)}"
                    )
                flat = [inputs[k] for k in sorted(self._input_struct)]
            else:
                missing = [n for n in names if n not in inputs]
                if missing:
                    raise ValueError(
                        f'Missing data for input "{missing[0]}". You passed a data dictionary with '
                        f"keys {list(inputs.keys())}. Expected the following keys: {names}"
                    )
                flat = [inputs[n] for n in names]
        else:
            flat = _flat_io(inputs)
        if len(flat) != len(self._inputs):
            raise ValueError(
                f'Layer "{self.name}" expects {len(self._inputs)} input(s), but it received '
                f"{len(flat)} input tensors."
            )
        out = []
        for i, (t, x) in enumerate(zip(self._inputs, flat)):
            if type(x) is autodiff.Tensor:  # recorded on a GradientTape: keep it
                if x.dtype != t.dtype and t.dtype.startswith("float"):
                    x = ops_cast(x, t.dtype)
            else:
                x = np.asarray(x)
            if x.dtype != t.dtype and t.dtype.startswith("float"):
                try:
                    x = x.astype(t.dtype)
                except (TypeError, ValueError) as e:
                    raise ValueError(
                        f"Layer '{self.name}' expected a numeric array as input {i}. Received: "
                        f"an array of dtype {x.dtype} ({e})"
                    ) from None
            expected = t.shape
            if len(x.shape) != len(expected) or any(
                e is not None and e != s for e, s in zip(expected, x.shape)
            ):
                raise ValueError(
                    f'Input {i} of layer "{self.name}" is incompatible with the layer: expected '
                    f"shape={expected}, found shape={tuple(x.shape)}"
                )
            out.append(x)
        return out

    def _inference_plan(self):
        """The fused inference plan (``models/_fusion.py``), built on first use.

        It only holds graph structure, so it never goes stale; two threads racing to build it
        build the same plan.
        """
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self._plan = _fusion.functional_plan(self)
        return plan

    def _run_inference(self, inputs, training=False, captured=None):
        """``call`` at inference (``training`` False, or None for a plain ``model(x)``): the
        plan's steps, with fused chains and values dropped after their last reader.

        With a list ``captured``, the unfused nodes producing model outputs run their
        ``forward`` and append ``(node, cache)`` to it (for the outputs' logits).
        """
        flat = self._standardize_inputs(inputs)
        if any(x.ndim and x.shape[0] == 0 for x in flat):
            return self._empty_outputs([x.shape for x in flat])
        values = {id(t): x for t, x in zip(self._inputs, flat)}
        del flat
        output_nodes = None
        if captured is not None:
            output_nodes = {id(self._output_node(i)) for i in range(len(self._outputs))}
        pool = _fusion.BufferPool()
        for step in self._inference_plan():
            if step.fused is not None:
                x = values[id(_flat(step.nodes[0].call_args)[0])]
                residual = None
                if step.fused.residual is not None:
                    residual = values[id(step.fused.residual)]
                y = _fusion.run_fused(step.fused, x, residual, pool)
                del x, residual  # no stray references: the pool checks reference counts
                if y is not None:
                    values[id(step.nodes[-1].output_tensors[0])] = y
                    del y
                else:
                    for node in step.nodes:  # not fusable with these inputs: one by one
                        self._run_node(node, values, training, None)
                    for node in step.nodes[:-1]:  # the chain's inner tensors: no other reader
                        values.pop(id(node.output_tensors[0]), None)
            else:
                node = step.nodes[0]
                tape = captured if output_nodes and id(node) in output_nodes else None
                self._run_node(node, values, training, tape)
            for key in step.free:
                pool.release(values, key)
        return self._model_outputs(values)

    def _empty_outputs(self, input_shapes):
        """The outputs for inputs with 0 samples: empty arrays of the output shapes."""
        shape_arg = input_shapes if len(input_shapes) > 1 else input_shapes[0]
        if isinstance(self._input_struct, dict):
            shape_arg = dict(zip(sorted(self._input_struct), input_shapes))
        shapes = self._node_shapes(shape_arg)
        values = {
            id(t): np.zeros(tuple(0 if d is None else d for d in shapes[id(t)]), dtype=t.dtype)
            for t in self._outputs
        }
        return self._model_outputs(values)

    def _model_outputs(self, values):
        """The model's output structure from the computed ``values`` (``{id(tensor): array}``)."""
        result = [values[id(t)] for t in self._outputs]
        if len(result) == 1 and not isinstance(self._output_struct, dict):
            return result[0]  # a one-element output list gives the array itself, as in Keras
        return _pack_io(self._output_struct, result)

    def _run_node(self, node, values, training, tape):
        layer = node.layer
        args = _resolve(node.call_args, values)
        kwargs = node.call_kwargs
        extra = node.extra_args
        if kwargs:
            kwargs = {k: _resolve(v, values) for k, v in kwargs.items()}
            if "training" in kwargs:
                # `layer(x, training=...)` recorded when the graph was built applies only when
                # the model itself is called without `training` (`model(x)`); fit, evaluate and
                # predict pass their own, which wins, as in Keras 3.
                recorded = kwargs.pop("training")
                if training is None:
                    training = recorded
        if extra:
            extra = tuple(_resolve(a, values) for a in extra)
        training = bool(training)
        if tape is None:
            out = layer(args, *extra, training=training, **kwargs)
        elif extra or kwargs:
            # Layers with several tensor arguments run as called; they have no backward pass
            # of their own (their `backward` gets no cache and says so).
            out = layer(args, *extra, training=training, **kwargs)
            tape.append((node, None))
        else:
            args = layer._prepare_inputs(args)
            out, cache = layer.forward(args, training=training)
            tape.append((node, cache))
            if isinstance(tape, KernelTape):
                outs = [out] if len(node.output_tensors) == 1 else _flat(out)
                tape.add_activity(node, outs, cache)
        outs = [out] if len(node.output_tensors) == 1 else _flat(out)
        for t, v in zip(node.output_tensors, outs):
            values[id(t)] = v

    def _uses_masks(self) -> bool:
        """Whether a layer of the graph makes masks (``Embedding(mask_zero=True)``, ``Masking``,
        a custom layer with its own ``compute_mask``): then the graph runs node by node, passing
        each node's input mask to a ``call`` that takes ``mask`` (Keras's mask propagation)."""
        uses = self.__dict__.get("_uses_masks_cache")
        if uses is None:
            uses = any(_makes_masks(n.layer) for n in self._nodes)
            self.__dict__["_uses_masks_cache"] = uses
        return uses

    def _run(self, inputs, training, tape):
        if tape is None and self._uses_masks():
            return self._run_masked(inputs, training)
        if tape is None and not training and not autodiff.is_recording():
            if not (activity_losses_enabled() and has_activity_regularizers(self)):
                return self._run_inference(inputs, training)
            # else layer by layer: each `__call__` adds its penalties to its losses (Keras)
        flat = self._standardize_inputs(inputs)
        if tape is None and any(x.ndim and x.shape[0] == 0 for x in flat):
            return self._empty_outputs([x.shape for x in flat])
        values = {id(t): x for t, x in zip(self._inputs, flat)}
        for node in self._nodes:
            if not isinstance(node.layer, InputLayer):
                self._run_node(node, values, training, tape)
        return self._model_outputs(values)

    def _run_masked(self, inputs, training):
        """The graph node by node with Keras's mask propagation (see ``_uses_masks``)."""
        from numpykeras.layers.layer import _call_signature

        flat = self._standardize_inputs(inputs)
        values = {id(t): x for t, x in zip(self._inputs, flat)}
        masks: dict = {}
        for node in self._nodes:
            layer = node.layer
            if isinstance(layer, InputLayer):
                continue
            previous = _resolve_masks(node.call_args, masks)
            kwargs = dict(node.call_kwargs or {})
            recorded = kwargs.pop("training", None)
            node_training = recorded if training is None else training
            kwargs = {k: _resolve(v, values) for k, v in kwargs.items()}
            extra = tuple(_resolve(a, values) for a in (node.extra_args or ()))
            args = _resolve(node.call_args, values)
            has_mask = any(m is not None for m in _flat(previous))
            sig = _call_signature(type(layer))
            if has_mask and sig.accepts_mask and kwargs.get("mask") is None:
                kwargs["mask"] = previous
            kwargs.update(_argument_masks(node, sig, masks, kwargs))
            out = layer(args, *extra, training=bool(node_training), **kwargs)
            outs = [out] if len(node.output_tensors) == 1 else _flat(out)
            for t, v in zip(node.output_tensors, outs):
                values[id(t)] = v
            if getattr(layer, "supports_masking", False):
                out_masks = layer.compute_mask(args, previous if has_mask else None)
                if out_masks is not None:
                    out_masks = [out_masks] if len(outs) == 1 else _flat(out_masks)
                    for t, m in zip(node.output_tensors, out_masks):
                        if m is not None:
                            masks[id(t)] = np.asarray(autodiff.unwrap(m), dtype=bool)
        for t in self._outputs:  # the outputs carry their masks to the losses and metrics
            if id(t) in masks:
                autodiff.set_keras_mask(values[id(t)], masks[id(t)])
        return self._model_outputs(values)

    def __call__(self, *args, **kwargs):
        from numpykeras.layers.layer import (
            _CALL_CONTEXT,
            _LOSSES,
            _any_symbolic,
            _check_positional_tensors,
            _with_loss_scope,
        )

        training = kwargs.pop("training", None)
        if kwargs.get("mask") is None:
            kwargs.pop("mask", None)
        if not args and "inputs" in kwargs:
            args = (kwargs.pop("inputs"),)
        if len(args) != 1 or kwargs:
            raise TypeError(
                f"Model '{self.name}' takes its inputs as one argument: a tensor, or a list or "
                f"dict of tensors (`model([a, b])` for several inputs), plus `training`. "
                f"Received {len(args)} positional argument(s) and keyword arguments "
                f"{sorted(kwargs)}."
            )
        inputs = args[0]
        if _any_symbolic(inputs):
            from numpykeras.layers.node import call_symbolic

            if training is not None:  # recorded, as for any layer (see Layer.__call__)
                kwargs["training"] = bool(training)
            return call_symbolic(self, (inputs,), kwargs)
        if not isinstance(inputs, np.ndarray):
            _check_positional_tensors([inputs])
        if training is None:
            training = getattr(_CALL_CONTEXT, "training", None)
        if _LOSSES.active:  # one outermost call: the losses of the layers' previous calls go
            return _with_loss_scope(self, self._call_recorded, inputs, training)
        return self._call_recorded(inputs, training)

    def _call_recorded(self, inputs, training):
        """``call``, or under a recording tape one primitive for a graph of kernel layers (not
        when layers add activity penalties: those need each layer's ``__call__``)."""
        if (
            autodiff.is_recording()
            and self._trains_by_kernel()
            and not sublayers_have_activity_regularizers(self)
        ):
            recorded = record_kernel_call(self, inputs, training)
            if recorded is not None:
                return recorded
        return self.call(inputs, training=training)

    def _call_with_ops(self, inputs, training=False):
        """The graph run through each layer's ops form (``None`` if a layer has none): what a
        tape differentiates when it records this model's gradient (a gradient penalty)."""
        flat = self._standardize_inputs(inputs)
        values = {id(t): x for t, x in zip(self._inputs, flat)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            out = node.layer._call_with_ops(_resolve(node.call_args, values), training=training)
            if out is None:
                return None
            outs = [out] if len(node.output_tensors) == 1 else _flat(out)
            for t, v in zip(node.output_tensors, outs):
                values[id(t)] = v
        return self._model_outputs(values)

    def _trains_by_kernel(self) -> bool:
        if self._uses_masks():  # masks reach layers through `call`, on the tape path
            return False
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            if node.extra_args or set(node.call_kwargs or ()) - {"training"}:
                return False
            if not node.layer._trains_by_kernel():
                return False
        return True

    def _input_count(self):
        return len(self._inputs)

    def _outputs_and_logits(self, x):
        """Inference outputs, and the logits of each output that ends in a softmax/sigmoid
        (see ``Model._outputs_and_logits``): the output nodes run their ``forward``."""
        if self._uses_masks():
            return self._run_masked(x, False), [None] * len(self._outputs)
        captured = []
        out = self._run_inference(x, False, captured)
        return out, self.outputs_logits(captured)

    @single_threaded_blas
    def call(self, inputs, training=None):
        """The outputs for ``inputs``; ``training=None`` (a plain ``model(x)``) lets calls that
        recorded ``training=...`` when the graph was built use it, and means inference
        elsewhere."""
        return self._run(inputs, training, None)

    def forward(self, inputs, training=False):
        """Runs the graph on each layer's ``forward``; returns ``(outputs, tape)``, a
        :class:`KernelTape` (with the activity regularizers' penalties)."""
        tape = KernelTape()
        return self._run(inputs, training, tape), tape

    def backward(self, dy, tape, need_dx=True, _logits_grad=None):
        """Walks the tape backwards, summing gradients where tensors or layers are shared.

        Args:
            dy: the gradient with respect to the output: an array for a single-output model;
                for several outputs a list in ``model.outputs`` order or the structure of
                ``model.output`` (a dict for a dict of outputs). ``None`` entries are outputs
                that receive no gradient.
            tape: the tape ``forward`` returned; the gradients of its activity penalties are
                added to those of the layers' outputs.
            need_dx: whether to compute the gradient with respect to the inputs.
            _logits_grad: ``{id(node): dlogits}``: gradients with respect to the logits of
                output nodes ending in a softmax/sigmoid (a fused crossentropy). A node given
                here skips its activation's backward pass for that part of its gradient.

        Returns:
            ``(dx, grads)``: ``dx`` an array (a list for several inputs, ``None`` entries for
            inputs that got no gradient) and ``grads`` a dict from variable to gradient.
        """
        dys = _flat_io(dy) if len(self._outputs) > 1 else [dy]
        if len(dys) != len(self._outputs):
            raise ValueError(
                f"Expected {len(self._outputs)} output gradients (one per model output), "
                f"received {len(dys)}."
            )
        # The activity penalties' gradients, then the outputs' (never added to in place).
        tensor_grads: dict = dict(getattr(tape, "activity_grads", None) or {})
        nested = getattr(tape, "nested_shapes", None)
        for t, g in zip(self._outputs, dys):
            if g is not None:
                tensor_grads[id(t)] = tensor_grads[id(t)] + g if id(t) in tensor_grads else g
        grads: dict = {}
        input_ids = {id(t) for t in self._inputs}
        for node, cache in reversed(tape):
            outs = [tensor_grads.pop(id(t), None) for t in node.output_tensors]
            logits_grad = None if _logits_grad is None else _logits_grad.get(id(node))
            has_out_grad = any(g is not None for g in outs)
            if not has_out_grad and nested and id(node) in nested:
                # a nested model's own activity penalties need its backward all the same
                outs = [np.zeros(shape, dtype) for shape, dtype in nested[id(node)]]
                has_out_grad = True
            if not has_out_grad and logits_grad is None:
                continue
            if len(outs) > 1:
                outs = [
                    np.zeros(t.shape if None not in t.shape else (), dtype="float32")
                    if g is None
                    else g
                    for t, g in zip(node.output_tensors, outs)
                ]
            need = need_dx or any(id(t) not in input_ids for t in node.input_tensors)
            dx = None
            if logits_grad is not None:
                dx, layer_grads = node.layer.backward_from_logits(logits_grad, cache, need_dx=need)
                _accumulate(grads, layer_grads)
            if has_out_grad:
                # An output tensor that is also read by later layers (or listed twice) gets
                # their gradient through the activation as well; backward is linear in it.
                d_out = outs[0] if len(outs) == 1 else _pack(node.outputs, outs)
                dx_out, layer_grads = node.layer.backward(d_out, cache, need_dx=need)
                _accumulate(grads, layer_grads)
                dx = dx_out if dx is None else _add_structures(dx, dx_out)
            if dx is None:
                continue
            dxs = [dx] if len(node.input_tensors) == 1 else _flat(dx)
            for t, g in zip(node.input_tensors, dxs):
                if g is None:
                    continue
                tensor_grads[id(t)] = tensor_grads[id(t)] + g if id(t) in tensor_grads else g
        dx = [tensor_grads.get(id(t)) for t in self._inputs]
        return (dx[0] if len(dx) == 1 else dx), grads

    def _output_node(self, i=0):
        t = self._outputs[i]
        layer, node_index, _ = t._keras_history
        return layer._inbound_nodes[node_index]

    @property
    def output_names(self) -> list:
        """The names of the layers producing ``model.outputs``, in that order (as Keras)."""
        return [t._keras_history[0].name for t in self._outputs]

    def output_logits(self, tape):
        """``(logits, "softmax" | "sigmoid")`` of a single-output model's last activation.

        ``None`` for a model with several outputs (see :meth:`outputs_logits`) or when the
        output layer does not end in a softmax/sigmoid.
        """
        if len(self._outputs) != 1 or not tape:
            return None
        return self.outputs_logits(tape)[0]

    def outputs_logits(self, tape):
        """Per output (``model.outputs`` order): ``(logits, activation)`` or ``None``.

        Use :meth:`output_node_id` to key the gradients for ``backward(_logits_grad=...)``.
        """
        caches = {id(n): cache for n, cache in tape}
        result = []
        for i in range(len(self._outputs)):
            node = self._output_node(i)
            cache = caches.get(id(node))
            if cache is None or len(node.output_tensors) != 1:
                result.append(None)
            else:
                result.append(node.layer.output_logits(cache))
        return result

    def output_node_id(self, i):
        """The key of output ``i``'s node in ``backward(_logits_grad={key: dlogits})``."""
        return id(self._output_node(i))

    def backward_from_logits(self, dlogits, tape, need_dx=True):
        node = self._output_node()
        return self.backward(None, tape, need_dx=need_dx, _logits_grad={id(node): dlogits})

    def backward_outputs(self, dys, dlogits, tape):
        """The weights' gradients given, per output, ``dL/dy`` or ``dL/dlogits`` (lists in
        ``model.outputs`` order; ``None`` where an output has no gradient of that kind)."""
        by_node = {}
        for i, g in enumerate(dlogits):
            if g is not None:
                key = self.output_node_id(i)
                by_node[key] = by_node[key] + g if key in by_node else g
        dy = dys if len(self._outputs) > 1 else dys[0]
        return self.backward(dy, tape, need_dx=False, _logits_grad=by_node or None)[1]

    # -- summary and config -------------------------------------------------------------------
    _connected_to = True

    def _summary_rows(self):
        rows = []
        for layer in self._layers_ordered:
            nodes = [n for n in layer._inbound_nodes if any(n is m for m in self._nodes)]
            shape = None
            connections = []
            for n in nodes:
                shapes = [t.shape for t in n.output_tensors]
                shape = shapes[0] if len(shapes) == 1 else shapes
                for t in n.input_tensors:
                    parent, node_index, tensor_index = t._keras_history
                    connections.append(f"{parent.name}[{node_index}][{tensor_index}]")
            rows.append((layer, shape, ", ".join(connections) if connections else None))
        return rows

    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        node_ids = {id(n) for n in self._nodes}

        def tensor_config(t):
            layer, node_index, tensor_index = t._keras_history
            return {
                "class_name": "__keras_tensor__",
                "config": {
                    "shape": list(t.shape),
                    "dtype": t.dtype,
                    "keras_history": [
                        layer.name,
                        self._kept_index(layer, node_index),
                        tensor_index,
                    ],
                },
            }

        def args_config(structure):
            if isinstance(structure, KerasTensor):
                return tensor_config(structure)
            if isinstance(structure, (list, tuple)):
                return [args_config(s) for s in structure]
            if isinstance(structure, dict):
                return {k: args_config(v) for k, v in structure.items()}
            if isinstance(structure, slice):
                return {
                    "class_name": "__slice__",
                    "config": {"start": structure.start, "stop": structure.stop,
                               "step": structure.step},
                }  # fmt: skip
            if structure is Ellipsis:
                return {"class_name": "__ellipsis__", "config": {}}
            if isinstance(structure, np.ndarray):  # an inline array argument, as Keras writes it
                return {
                    "class_name": "__numpy__",
                    "config": {"value": structure.tolist(), "dtype": str(structure.dtype)},
                }
            return structure

        layer_configs = []
        for layer in self._layers_ordered:
            op_entry = getattr(layer, "keras_serialize", None)  # a `keras.ops` node
            entry = op_entry() if op_entry else serialize_keras_object(layer)
            entry["name"] = layer.name
            inbound = []
            for node in layer._inbound_nodes:
                if id(node) not in node_ids or isinstance(layer, InputLayer):
                    continue
                inbound.append(
                    {
                        "args": [args_config(a) for a in (node.call_args,) + node.extra_args],
                        "kwargs": args_config(dict(node.call_kwargs)),
                    }
                )
            entry["inbound_nodes"] = inbound
            layer_configs.append(entry)

        def io_item(t):
            layer, node_index, tensor_index = t._keras_history
            return [layer.name, self._kept_index(layer, node_index), tensor_index]

        def io_config(tensors, struct):
            if isinstance(struct, dict):
                return {k: io_item(t) for k, t in struct.items()}
            items = [io_item(t) for t in tensors]
            if len(items) == 1 and not isinstance(struct, (list, tuple)):
                return items[0]
            return items

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": copy.deepcopy(layer_configs),
            "input_layers": io_config(self._inputs, self._input_struct),
            "output_layers": io_config(self._outputs, self._output_struct),
        }

    def _kept_index(self, layer, node_index):
        """A node's index among the nodes of ``layer`` that belong to this model."""
        node_ids = {id(n) for n in self._nodes}
        kept = [n for n in layer._inbound_nodes if id(n) in node_ids]
        node = layer._inbound_nodes[node_index]
        for i, n in enumerate(kept):
            if n is node:
                return i
        return node_index

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return functional_from_config(cls, config, custom_objects)


def _makes_masks(layer) -> bool:
    """Whether ``layer`` makes masks of its own (see ``Functional._uses_masks``)."""
    from numpykeras.layers.layer import Layer

    if getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking":
        return True
    if isinstance(layer, Functional):
        return layer._uses_masks()
    custom = not type(layer).__module__.startswith("numpykeras.")
    return (
        custom
        and getattr(layer, "supports_masking", False)
        and type(layer).compute_mask is not Layer.compute_mask
    )


def _resolve_masks(structure, masks):
    """``structure`` with each KerasTensor replaced by its mask (``None`` where it has none)."""
    if isinstance(structure, KerasTensor):
        return masks.get(id(structure))
    if isinstance(structure, (list, tuple)):
        return type(structure)(_resolve_masks(s, masks) for s in structure)
    if isinstance(structure, dict):
        return {k: _resolve_masks(v, masks) for k, v in structure.items()}
    return None


def _argument_masks(node, sig, masks, kwargs) -> dict:
    """Keras's masks for a ``call`` with several tensor arguments: the mask of the tensor given
    as argument ``<name>`` goes to a ``<name>_mask`` parameter left unset
    (``MultiHeadAttention``'s ``query_mask``, ``value_mask``, ``key_mask``)."""
    if len(sig.arg_names) < 2 or not any(n.endswith("_mask") for n in sig.arg_names):
        return {}
    given = dict(zip(sig.arg_names, (node.call_args, *(node.extra_args or ()))))
    given.update(node.call_kwargs or {})
    out = {}
    for name, tensor in given.items():
        target = f"{name}_mask"
        if target in sig.arg_names and kwargs.get(target) is None:
            mask = _resolve_masks(tensor, masks)
            if mask is not None:
                out[target] = mask
    return out


def _resolve(structure, values):
    """``structure`` with each KerasTensor replaced by its value in ``values``
    (``{id(tensor): value}``); other entries stay as they are."""
    if isinstance(structure, KerasTensor):
        return values[id(structure)]
    if isinstance(structure, (list, tuple)):
        return type(structure)(_resolve(s, values) for s in structure)
    if isinstance(structure, dict):
        return {k: _resolve(v, values) for k, v in structure.items()}
    return structure


def _recorded_shapes_only(node) -> bool:
    """Whether ``compute_output_shape`` can't give the shapes of ``node``'s outputs, so the
    shapes recorded when the graph was built are used: a call with further tensor arguments,
    or a layer whose output shape was traced (see ``layers/node.py``)."""
    if node.extra_args or any(
        isinstance(t, KerasTensor) for t in _flat(list(node.call_kwargs.values()))
    ):
        return True
    return uses_traced_shapes(node.layer)


def _add_structures(a, b):
    """``a + b`` for two arrays or two equal lists of arrays (``None`` entries are zero)."""
    if isinstance(a, (list, tuple)):
        return [_add_structures(x, y) for x, y in zip(a, b)]
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _flat_shapes(shapes):
    return [tuple(s) for s in shapes]


def _io_list(value):
    """``input_layers`` in either the flat (``["img", 0, 0]``) or nested form, or a dict."""
    if isinstance(value, dict):
        return list(value.items()), True
    if value and isinstance(value[0], str):
        return [(None, value)], False
    return [(None, v) for v in value], False


def _call_kwargs(kwargs):
    """A saved node's call arguments that numpykeras replays: ``training`` when it was given
    (``base_model(x, training=False)``, the fine-tuning idiom), without ``mask``."""
    out = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
    mask = kwargs.get("mask")
    if isinstance(mask, dict) and mask.get("class_name") == "__keras_tensor__":
        out["mask"] = mask  # a mask computed in the graph (Keras 3 records it as a node)
    if isinstance(kwargs.get("training"), bool):
        out["training"] = kwargs["training"]
    return out


def _parse_node_args(node_data):
    """A call node's arguments with input references ``("__ref__", layer_name, node_index,
    tensor_index)`` in place of tensors: ``(first argument, further positional arguments,
    keyword arguments)``."""
    if isinstance(node_data, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        args = node_data.get("args", [])
        kwargs = node_data.get("kwargs", {}) or {}

        def convert(a):
            if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
                h = a["config"]["keras_history"]
                return ("__ref__", h[0], h[1], h[2])
            if isinstance(a, dict) and a.get("class_name") == "__slice__":
                c = a.get("config", {})
                return slice(c.get("start"), c.get("stop"), c.get("step"))
            if isinstance(a, dict) and a.get("class_name") == "__ellipsis__":
                return Ellipsis
            if isinstance(a, dict) and a.get("class_name") in ("__numpy__", "__tensor__"):
                c = a.get("config", {})
                return np.asarray(c.get("value"), dtype=c.get("dtype"))
            if isinstance(a, (list, tuple)):
                return [convert(x) for x in a]
            if isinstance(a, dict):
                return {k: convert(v) for k, v in a.items()}
            return a

        converted = [convert(a) for a in args]
        first = converted[0] if converted else []
        return first, tuple(converted[1:]), convert(_call_kwargs(kwargs))
    # Keras 2: [[layer_name, node_index, tensor_index, kwargs], ...]
    refs = [("__ref__", e[0], e[1], e[2]) for e in node_data]
    kwargs = {}
    if node_data and len(node_data[0]) > 3 and isinstance(node_data[0][3], dict):
        kwargs = _call_kwargs(node_data[0][3])
    return (refs[0] if len(refs) == 1 else refs), (), kwargs


def functional_from_config(cls, config, custom_objects=None):
    """Rebuilds a Functional model from Keras 2 or Keras 3 config, creating layers then nodes."""
    from numpykeras.saving.serialization import deserialize_layer

    created = {}
    pending = []  # (layer, [node configs])
    for layer_data in config["layers"]:
        name = layer_data.get("name") or layer_data.get("config", {}).get("name")
        # Built when called below, inside the model's name scope (variable paths "model/layer/...").
        layer = deserialize_layer(layer_data, custom_objects=custom_objects, build=False)
        created[name] = layer
        pending.append((layer, list(layer_data.get("inbound_nodes", []))))
    produced = {}  # (layer_name, node_index) -> output structure
    for name, layer in created.items():
        if isinstance(layer, InputLayer):
            produced[(name, 0)] = layer._output_tensor

    def resolve(structure):
        if isinstance(structure, tuple) and structure and structure[0] == "__ref__":
            _, lname, nidx, tidx = structure
            out = produced[(lname, nidx)]
            flat = _flat(out)
            return flat[tidx] if len(flat) > 1 else flat[0]
        if isinstance(structure, list):
            return [resolve(s) for s in structure]
        if isinstance(structure, dict):
            return {k: resolve(v) for k, v in structure.items()}
        return structure

    def ready(structure):
        if isinstance(structure, tuple) and structure and structure[0] == "__ref__":
            return (structure[1], structure[2]) in produced
        if isinstance(structure, list):
            return all(ready(s) for s in structure)
        if isinstance(structure, dict):
            return all(ready(v) for v in structure.values())
        return True

    node_counts = {name: 0 for name in created}
    progress = True
    while progress:
        progress = False
        for layer, nodes in pending:
            while nodes:
                structure, extra, kwargs = _parse_node_args(nodes[0])
                if not ready([structure, list(extra), kwargs]):
                    break
                nodes.pop(0)
                with name_scope(config.get("name", "functional")):
                    out = layer(resolve(structure), *[resolve(a) for a in extra], **resolve(kwargs))
                produced[(layer.name, node_counts[layer.name])] = out
                node_counts[layer.name] += 1
                progress = True
    unresolved = [layer.name for layer, nodes in pending if nodes]
    if unresolved:
        raise ValueError(
            f"Could not rebuild the model graph: the inputs of layers {unresolved} were never "
            "produced (a config that refers to missing layers)."
        )

    def io(value):
        items, is_dict = _io_list(value)
        tensors = []
        for _, ref in items:
            lname, nidx, tidx = ref[0], ref[1], ref[2]
            out = produced[(lname, nidx)]
            flat = _flat(out)
            tensors.append(flat[tidx] if len(flat) > 1 else flat[0])
        if is_dict:
            return {k: t for (k, _), t in zip(items, tensors)}
        if len(tensors) == 1 and value and isinstance(value[0], str):
            return tensors[0]
        return tensors

    inputs = io(config["input_layers"])
    outputs = io(config["output_layers"])
    return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
