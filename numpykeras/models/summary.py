"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts."""

from __future__ import annotations

import shutil
import textwrap

import numpy as np


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TB"


def _count(weights) -> tuple[int, int]:
    params = sum(int(w.size) for w in weights)
    nbytes = sum(int(w.size) * np.dtype(w.dtype).itemsize for w in weights)
    return params, nbytes


def _wrap(text: str, width: int) -> list[str]:
    """Wraps at spaces; a word longer than the column is cut with an ellipsis (as rich does)."""
    lines = textwrap.wrap(text, width=width, break_long_words=False) or [""]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]


def _ratio_reduce(excess: int, widths: list[int]) -> list[int]:
    """Takes ``excess`` characters off the columns as evenly as possible (rich's last resort)."""
    out, remaining, count = [], excess, len(widths)
    for width in widths:
        cut = round(remaining / count)
        out.append(width - cut)
        remaining -= cut
        count -= 1
    return out


def _column_widths(positions, line_length):
    widths, current = [], 0
    for pos in positions:
        width = (int(pos * line_length) if pos <= 1 else int(pos)) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    # The borders take one character per column plus one; the padding is one space each side.
    return [w - 2 for w in _ratio_reduce(len(widths) + 1, widths)]


def _is_sequential_like(model) -> bool:
    if not hasattr(model, "_nodes"):
        return True
    for node in model._nodes:
        if len(node.input_tensors) > 1:
            return False
    seen = set()
    for node in model._nodes:
        if id(node.layer) in seen:
            return False
        seen.add(id(node.layer))
    consumers: dict = {}
    for node in model._nodes:
        for t in node.input_tensors:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    return all(n == 1 for n in consumers.values()) and len(model.outputs) == 1


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False):
    """Formats the summary table like Keras 3 and prints it (or hands it to ``print_fn``)."""
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #"]
        align = ["left", "left", "right"]
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    positions = list(positions or default_positions)
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers.append("Trainable")
        align.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(positions, line_length or default_length)

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def justify(text, width, how):
        if how == "right":
            return text.rjust(width)
        if how == "center":
            return text.center(width)
        return text.ljust(width)

    def row(cells, sep):
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        lines = []
        for i in range(height):
            parts = []
            for cell_lines, w, how in zip(wrapped, widths, align):
                text = cell_lines[i] if i < len(cell_lines) else ""
                parts.append(" " + justify(text, w, how) + " ")
            lines.append(sep + sep.join(parts) + sep)
        return lines

    lines = [f'Model: "{model.name}"']
    lines.append(rule("┏", "┳", "┓", "━"))
    lines += row(headers, "┃")
    lines.append(rule("┡", "╇", "┩", "━"))
    body = []
    for layer, shape, connections in model._summary_rows():
        name = f"{layer.name} ({type(layer).__name__})"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [name, _format_shape(shape), params]
        if not sequential_like:
            cells.append(connections or "-")
        if show_trainable:
            cells.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        body.append(row(cells, "│"))
    for i, block in enumerate(body):
        lines += block
        if i < len(body) - 1:
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))
    trainable, trainable_bytes = _count(model.trainable_weights)
    non_trainable, non_trainable_bytes = _count(model.non_trainable_weights)
    optimizer = model.optimizer if getattr(model, "compiled", False) else None
    opt_vars = list(optimizer.variables) if optimizer is not None else []
    opt_params, opt_bytes = _count(opt_vars)
    total = trainable + non_trainable + opt_params
    total_bytes = trainable_bytes + non_trainable_bytes + opt_bytes
    lines.append(f" Total params: {total:,} ({_format_bytes(total_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({_format_bytes(trainable_bytes)})")
    lines.append(f" Non-trainable params: {non_trainable:,} ({_format_bytes(non_trainable_bytes)})")
    if opt_vars:
        lines.append(f" Optimizer params: {opt_params:,} ({_format_bytes(opt_bytes)})")
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
