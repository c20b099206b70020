"""``model_to_dot`` and ``plot_model``: a model's graph as a Graphviz drawing, as Keras 3 draws it.

Each layer is one box, an HTML-like table: a black header with the layer's name and class, then
optional rows for its activation, input and output shapes, output dtype and whether it trains.
Edges follow the model's graph: consecutive layers for a ``Sequential``, the recorded layer calls
(``layer._inbound_nodes``) for a functional model. With ``expand_nested=True`` a nested
``Sequential`` or functional model becomes a dashed cluster, and the edges into and out of it are
drawn to the layers inside (its ``InputLayer`` boxes, the layers producing its outputs). Any other
model (a subclassed ``Model``) is a single box, as in Keras. Node ids are ``str(id(layer))``.

The graph is a ``pydot.Dot`` (pydot is the optional dependency ``numpykeras[pydot]``); rendering
to an image runs Graphviz's ``dot`` program. Writing a ``.dot`` (or ``.gv``) file writes the
source and needs no Graphviz.
"""

from __future__ import annotations

import html
import importlib
import os
import sys

_INSTALL_PYDOT = (
    'You must install pydot (`pip install pydot`, or `pip install "numpykeras[pydot]"`) '
    "for `{what}` to work."
)
_INSTALL_GRAPHVIZ = (
    "You must install Graphviz for `plot_model` to draw a '{ext}' file: its `dot` program was "
    "not found or does not run. Install it with `apt install graphviz` (Debian, Ubuntu), "
    "`brew install graphviz` (macOS) or from https://graphviz.org/download/ (Windows: add its "
    "`bin` folder to PATH). A `.dot` file needs no Graphviz."
)
# Written as Graphviz source by pydot itself; every other extension is a Graphviz output format.
_SOURCE_FORMATS = {"dot", "gv"}
_RASTER_FORMATS = {"png", "jpg", "jpeg", "gif", "webp"}


def _import_pydot():
    """The pydot module (or one of its older forks, as Keras accepts them), or None."""
    for name in ("pydot", "pydot_ng", "pydotplus"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def check_pydot() -> bool:
    """Whether pydot can be imported."""
    return _import_pydot() is not None


def check_graphviz() -> bool:
    """Whether pydot is importable and Graphviz renders an empty graph."""
    pydot = _import_pydot()
    if pydot is None:
        return False
    # pydot raises OSError when `dot` is missing; a `dot` that fails raises PydotException
    # (pydot 3+) or fails an assertion (pydot 1.x).
    failures = (OSError, AssertionError, getattr(pydot, "PydotException", OSError))
    try:
        pydot.Dot.create(pydot.Dot())
    except failures:
        return False
    return True


# --------------------------------------------------------------------------- graph helpers


def _is_graph_model(layer) -> bool:
    from numpykeras.models.functional import Functional
    from numpykeras.models.sequential import Sequential

    return isinstance(layer, (Functional, Sequential))


def _keras_flatten(structure) -> list:
    """Flatten lists, tuples and dicts as Keras's ``tree.flatten``: dict values by sorted key."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _keras_flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _keras_flatten(item)]
    return [structure]


def _node_inputs(node) -> list:
    """The KerasTensors a layer call read, in Keras's order (positional, then keyword by name)."""
    from numpykeras.layers.node import KerasTensor

    kwargs = [node.call_kwargs[key] for key in sorted(node.call_kwargs)]
    leaves = _keras_flatten([node.call_args, list(node.extra_args), kwargs])
    return [t for t in leaves if isinstance(t, KerasTensor)]


def _graph_nodes(model) -> list:
    """The layer calls that make up ``model``'s own graph."""
    graph = model.__dict__.get("_functional", model)  # a Sequential runs as a functional graph
    return list(getattr(graph, "_nodes", []))


def _first_call_tensors(layer, which):
    """``layer.input`` / ``layer.output`` as Keras reads them: the tensors of the first call (one
    tensor alone, several as a list); a functional model's own ``inputs=`` / ``outputs=``
    structure; None for a layer never called on symbolic tensors."""
    from numpykeras.models.functional import Functional

    if isinstance(layer, Functional):
        return layer.input if which == "input" else layer.output
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return None
    node = nodes[0]
    tensors = _node_inputs(node) if which == "input" else _keras_flatten(node.outputs)
    return tensors[0] if len(tensors) == 1 else tensors


def _map_leaves(fn, structure):
    if isinstance(structure, dict):
        return {key: _map_leaves(fn, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_leaves(fn, item) for item in structure)
    return fn(structure)


def _shape_of(tensor):
    return tuple(None if d is None else int(d) for d in tensor.shape)


def _format_shapes(shapes) -> str:
    if shapes is None:
        return "?"
    if isinstance(shapes, dict):
        text = ", ".join(f"{key}: {value}" for key, value in shapes.items())
    else:
        text = str(shapes)
    return text.replace("{", "").replace("}", "")


def _activation_name(activation) -> str:
    if hasattr(activation, "name"):
        return str(activation.name)
    if hasattr(activation, "__name__"):
        return activation.__name__
    return str(activation)


# --------------------------------------------------------------------------- labels


def _cell(text, bgcolor="white", color=None) -> str:
    font = '<font point-size="14">' if color is None else f'<font point-size="14" color="{color}">'
    return f'<td bgcolor="{bgcolor}">{font}{text}</font></td>'


def _layer_label(
    layer, show_layer_names, show_layer_activations, show_dtype, show_shapes, show_trainable
) -> str:
    """The HTML-like table that labels ``layer``'s box."""
    class_name = type(layer).__name__
    # The header and activation rows span the columns the flags ask for (two for shapes), even
    # when a layer shows fewer (an InputLayer has no input shape), as Keras draws them.
    span = max(1, 2 * bool(show_shapes) + bool(show_dtype) + bool(show_trainable))
    title = f"<b>{html.escape(layer.name, quote=False)}</b> ({class_name})"
    if not show_layer_names:
        title = f"<b>{class_name}</b>"
    rows = [
        f'<tr><td colspan="{span}" bgcolor="black">'
        f'<font point-size="16" color="white">{title}</font></td></tr>'
    ]
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        name = html.escape(_activation_name(layer.activation), quote=False)
        rows.append(
            f'<tr><td bgcolor="white" colspan="{span}"><font point-size="14">'
            f"Activation: <b>{name}</b></font></td></tr>"
        )

    cells = []
    if show_shapes or show_dtype:
        inputs = _first_call_tensors(layer, "input")
        outputs = _first_call_tensors(layer, "output")
    if show_shapes:
        in_shapes = None if inputs is None else _map_leaves(_shape_of, inputs)
        out_shapes = None if outputs is None else _map_leaves(_shape_of, outputs)
        if class_name != "InputLayer":
            cells.append(_cell(f"Input shape: <b>{_format_shapes(in_shapes)}</b>"))
        cells.append(_cell(f"Output shape: <b>{_format_shapes(out_shapes)}</b>"))
    if show_dtype:
        dtypes = None if outputs is None else _map_leaves(lambda t: str(t.dtype), outputs)
        text = html.escape(str(dtypes or "?"), quote=False)
        cells.append(_cell(f"Output dtype: <b>{text}</b>"))
    if show_trainable and getattr(layer, "weights", None):
        if layer.trainable:
            cells.append(_cell("<b>Trainable</b>", bgcolor="forestgreen", color="white"))
        else:
            cells.append(_cell("<b>Non-trainable</b>", bgcolor="firebrick", color="white"))
    if cells:
        rows.append(f"<tr>{''.join(cells)}</tr>")
    table = '<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
    return f"<{table}{''.join(rows)}</table>>"


def _layer_node(pydot, layer, flags):
    node = pydot.Node(str(id(layer)), label=_layer_label(layer, **flags))
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    return node


def _add_edge(pydot, dot, source, destination) -> None:
    src, dst = str(id(source)), str(id(destination))
    if not dot.get_edge(src, dst):
        edge = pydot.Edge(src, dst)
        edge.set("penwidth", "2")
        dot.add_edge(edge)


def _producing_layer(source, output_index):
    """The innermost layer that makes output ``output_index`` of ``source`` (a nested model
    has no box of its own once expanded)."""
    while _is_graph_model(source):
        source, _, output_index = source.outputs[output_index]._keras_history
    return source


def _receiving_layer(destination, input_index):
    """The innermost box that receives input ``input_index`` of ``destination``: a functional
    model's ``InputLayer``, a ``Sequential``'s first layer."""
    from numpykeras.models.sequential import Sequential

    while _is_graph_model(destination):
        if isinstance(destination, Sequential):
            destination = destination.layers[0]
        else:
            destination = destination.inputs[input_index]._keras_history[0]
    return destination


# --------------------------------------------------------------------------- public API


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """Convert a model to a ``pydot.Dot`` graph, as ``keras.utils.model_to_dot``.

    Args:
        model: a built model (``Sequential``, functional, or a subclassed ``Model``, which is
            drawn as a single box).
        show_shapes: whether to show each layer's input and output shapes.
        show_dtype: whether to show each layer's output dtype.
        show_layer_names: whether to show layer names (else only class names).
        rankdir: Graphviz's ``rankdir``: ``"TB"`` draws top to bottom, ``"LR"`` left to right.
        expand_nested: whether to draw nested ``Sequential`` and functional models as clusters
            of their layers.
        dpi: the image resolution in dots per inch.
        subgraph: whether to return a ``pydot.Cluster`` (used for nested models).
        show_layer_activations: whether to show the activation of layers that have an
            ``activation`` attribute.
        show_trainable: whether to mark layers with weights as trainable or not.
        splines: Graphviz's ``splines``: how edges are drawn (``"ortho"``, ``"curved"``,
            ``"polyline"``, ``"spline"``, ``"line"``).

    Returns:
        A ``pydot.Dot``, or a ``pydot.Cluster`` when ``subgraph=True``.

    Raises:
        ValueError: if the model is not built, or for an unknown keyword argument.
        ImportError: if pydot is not installed.
    """
    from numpykeras.models.functional import Functional
    from numpykeras.models.sequential import Sequential

    if not model.built:
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or by "
            "calling the model on a batch of data."
        )
    pydot = _import_pydot()
    if pydot is None:
        raise ImportError(_INSTALL_PYDOT.format(what="model_to_dot"))
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")

    flags = {
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_dtype": show_dtype,
        "show_shapes": show_shapes,
        "show_trainable": show_trainable,
    }
    if not isinstance(model, (Functional, Sequential)):
        dot.add_node(_layer_node(pydot, model, flags))
        return dot

    layers = model.layers
    for layer in layers:
        if expand_nested and _is_graph_model(layer):
            cluster = model_to_dot(
                layer,
                show_shapes=show_shapes,
                show_dtype=show_dtype,
                show_layer_names=show_layer_names,
                rankdir=rankdir,
                expand_nested=True,
                subgraph=True,
                show_layer_activations=show_layer_activations,
                show_trainable=show_trainable,
            )
            dot.add_subgraph(cluster)
        else:
            dot.add_node(_layer_node(pydot, layer, flags))

    if isinstance(model, Sequential):
        if not expand_nested:
            for source, destination in zip(layers[:-1], layers[1:]):
                _add_edge(pydot, dot, source, destination)
            return dot
        # The first layer's input comes from outside the stack (the hidden InputLayer, or the
        # edge into this model drawn by the enclosing graph).
        layers = layers[1:]

    own_nodes = {id(node) for node in _graph_nodes(model)}
    for layer in layers:
        for node in layer._inbound_nodes:
            if id(node) not in own_nodes:
                continue
            for input_index, tensor in enumerate(_node_inputs(node)):
                if tensor._keras_history is None:
                    continue
                source, _, output_index = tensor._keras_history
                if expand_nested:
                    source = _producing_layer(source, output_index)
                    destination = _receiving_layer(layer, input_index)
                else:
                    destination = layer
                _add_edge(pydot, dot, source, destination)
    return dot


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=False,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """Draw a model's graph to a file, as ``keras.utils.plot_model``.

    The file's extension picks the format: ``.png`` (also when there is none), ``.svg``,
    ``.pdf``, ``.jpg``, any other Graphviz output format, or ``.dot`` / ``.gv`` for the Graphviz
    source itself. Images need Graphviz's ``dot`` program; the source does not.

    Example:

    ```python
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    keras.utils.plot_model(model, to_file="model.png", show_shapes=True)
    ```

    Args:
        model: a built model.
        to_file: the file to write.
        show_shapes: whether to show each layer's input and output shapes.
        show_dtype: whether to show each layer's output dtype.
        show_layer_names: whether to show layer names (else only class names).
        rankdir: ``"TB"`` draws top to bottom, ``"LR"`` left to right.
        expand_nested: whether to draw nested models as clusters of their layers.
        dpi: the image resolution in dots per inch.
        show_layer_activations: whether to show the activation of layers that have one.
        show_trainable: whether to mark layers with weights as trainable or not.
        splines: how edges are drawn (``"ortho"``, ``"curved"``, ``"polyline"``, ``"spline"``,
            ``"line"``).

    Returns:
        When IPython is installed, an ``IPython.display.Image`` of a PNG, JPEG or GIF file (an
        ``IPython.display.SVG`` of an SVG file), for display in a notebook; otherwise None.

    Raises:
        ValueError: if the model is not built, or for an unknown keyword argument.
        ImportError: if pydot, or Graphviz for an image, is missing. In a notebook the message
            is printed instead and None returned, as Keras does.
    """
    if not model.built:
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or by "
            "calling the model on a batch of data."
        )
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    message = None
    if not check_pydot():
        message = _INSTALL_PYDOT.format(what="plot_model")
    elif extension.lower() not in _SOURCE_FORMATS and not check_graphviz():
        message = _INSTALL_GRAPHVIZ.format(ext=extension)
    if message is not None:
        if "IPython.core.magics.namespace" in sys.modules:
            # In a notebook a missing optional tool is reported, not raised (Keras's rule, so
            # notebooks run where Graphviz is absent).
            print(message)
            return None
        raise ImportError(message)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")

    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
    )
    if extension.lower() in _SOURCE_FORMATS:
        dot.write(to_file, format="raw")
    else:
        dot.write(to_file, format=extension)
    return _notebook_image(to_file, extension.lower())


def _notebook_image(path, extension):
    try:
        from IPython import display
    except ImportError:
        return None
    if extension == "svg":
        return display.SVG(filename=path)
    if extension in _RASTER_FORMATS:
        # The format is given, not guessed from the name: a name without extension is a PNG.
        return display.Image(filename=path, format="jpeg" if extension == "jpg" else extension)
    return None
