"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts."""

from __future__ import annotations

import textwrap

_HEAVY = {"tl": "┏", "h": "━", "tm": "┳", "tr": "┓", "v": "┃"}


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")"
    )


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TB"


def _count(weights) -> tuple[int, int]:
    params = sum(int(w.size) for w in weights)
    nbytes = sum(int(w.size) * w.value.dtype.itemsize for w in weights)
    return params, nbytes


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=True) or [""]


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False):
    """Formats the summary table like Keras 3 and prints it (or hands it to ``print_fn``)."""
    connected = hasattr(model, "_connected_to")
    headers = ["Layer (type)", "Output Shape", "Param #"]
    widths = [31, 22, 13]
    if connected:
        headers.append("Connected to")
        widths = [23, 17, 9, 20]
    if show_trainable:
        headers.append("Trainable")
        widths.append(9)
    if line_length is not None:
        scale = (line_length - 3 * len(widths) - 1) / sum(widths)
        widths = [max(5, int(w * scale)) for w in widths]
    align_right = {2}

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells, sep):
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        lines = []
        for i in range(height):
            parts = []
            for j, (cell_lines, w) in enumerate(zip(wrapped, widths)):
                text = cell_lines[i] if i < len(cell_lines) else ""
                parts.append(" " + (text.rjust(w) if j in align_right else text.ljust(w)) + " ")
            lines.append(sep + sep.join(parts) + sep)
        return lines

    lines = [f'Model: "{model.name}"']
    lines.append(rule("┏", "┳", "┓", "━"))
    lines += row(headers, "┃")
    lines.append(rule("┡", "╇", "┩", "━"))
    body = []
    for layer, shape, connections in model._summary_rows():
        name = f"{layer.name} ({type(layer).__name__})"
        if layer.built:
            params = f"{layer.count_params():,}"
        else:
            params = "0 (unbuilt)"
        cells = [name, _format_shape(shape), params]
        if connected:
            cells.append(connections or "-")
        if show_trainable:
            cells.append("Y" if layer.trainable else "N")
        body.append(row(cells, "│"))
    for i, block in enumerate(body):
        lines += block
        if i < len(body) - 1:
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))
    total, total_bytes = _count(model.weights)
    trainable, trainable_bytes = _count(model.trainable_weights)
    non_trainable, non_trainable_bytes = _count(model.non_trainable_weights)
    lines.append(f" Total params: {total:,} ({_format_bytes(total_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({_format_bytes(trainable_bytes)})")
    lines.append(f" Non-trainable params: {non_trainable:,} ({_format_bytes(non_trainable_bytes)})")
    if model.compiled and model.optimizer is not None and model.optimizer.variables:
        opt_params, opt_bytes = _count(model.optimizer.variables)
        lines.append(f" Optimizer params: {opt_params:,} ({_format_bytes(opt_bytes)})")
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
