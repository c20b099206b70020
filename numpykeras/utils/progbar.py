"""The Keras 3 progress bar, printed to ``sys.stdout``.

The text is the same, character for character, as ``keras.utils.Progbar`` prints: a bold step
counter, a green/white bar of ``━`` characters, the ETA (or elapsed time once finished), the time
per step and the metrics (``" - loss: 0.1234"``).
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

__all__ = ["Progbar", "print_msg"]

_BOLD = "\x1b[1m"
_GREEN = "\x1b[32m"
_WHITE = "\x1b[37m"
_RESET = "\x1b[0m"
_BAR_CHAR = "━"


def print_msg(message, line_break=True) -> None:
    """Write ``message`` to the current ``sys.stdout`` and flush, as Keras's ``io_utils.print_msg``.

    Args:
        message: the text (anything ``str()`` accepts).
        line_break: whether to end the text with a newline.
    """
    message = str(message)
    if line_break:
        message += "\n"
    stream = sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        # A stream that cannot encode the bar characters gets Keras 2's "=" instead.
        encoding = getattr(stream, "encoding", None) or "utf-8"
        message = message.replace(_BAR_CHAR, "=")
        stream.write(message.encode(encoding, errors="ignore").decode(encoding))
    stream.flush()


def _format_duration(seconds: float) -> str:
    """``"1:02:03"`` above an hour, ``"2:03"`` above a minute, else ``"12s"``."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int((seconds % 3600) // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class Progbar:
    """Displays a progress bar.

    Metrics not named in ``stateful_metrics`` are averaged over the steps seen so far (weighted by
    the number of steps between updates); stateful ones are shown as given. If
    ``stateless_metrics`` is given instead, only the metrics it names are averaged.

    Args:
        target: total number of steps expected, ``None`` if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (live bar) or 2 (one line when finished).
        interval: minimum time in seconds between two redraws of the live bar.
        stateful_metrics: names of metrics shown as-is rather than averaged.
        stateless_metrics: names of metrics that are averaged (all others shown as-is). Give at
            most one of ``stateful_metrics`` and ``stateless_metrics``.
        unit_name: name of a step in the time-per-step display (``"step"`` or ``"sample"``).
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` lists the metrics shown as-is (all others are averaged), "
                "`stateless_metrics` lists the metrics that are averaged (all others are shown "
                f"as-is). Received: stateful_metrics={stateful_metrics}, "
                f"stateless_metrics={stateless_metrics}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None

        # Keras redraws in place (backspaces + carriage return) under this exact condition; note
        # that "posix" is in sys.modules on every Linux/macOS interpreter.
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._seen_so_far = 0
        self._values = {}  # name -> [weighted sum, weight]
        self._values_order = []
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    # ------------------------------------------------------------------------------- update

    def _is_averaged(self, name) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _accumulate(self, current, values, finalize) -> None:
        for name, value in values:
            if name not in self._values_order:
                self._values_order.append(name)
            if self._is_averaged(name) and not finalize:
                # Weight the value by the steps it covers (at least 1).
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * weight
                    self._values[name][1] += weight
                else:
                    self._values[name] = [value * weight, weight]
            else:
                # Stateful values, and every value passed with the final update, are shown as-is.
                self._values[name] = [value, 1]
        self._seen_so_far = current

    def _average(self, name) -> float:
        total, count = self._values[name]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def update(self, current, values=None, finalize=None) -> None:
        """Update the progress bar.

        Args:
            current: index of the current step (1-based count of steps done).
            values: list of ``(name, value_for_last_step)`` tuples.
            finalize: whether this is the last update; ``None`` means ``current >= target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._accumulate(current, values or [], finalize)

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._print_live(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            self._print_summary(current, now, time_per_unit)
        self._last_update = now

    def add(self, n, values=None) -> None:
        """Advance the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    # ------------------------------------------------------------------------------- output

    def _counter(self, current) -> str:
        digits = int(math.log10(self.target)) + 1
        return f"{int(current):{digits}d}/{int(self.target)}"

    def _print_live(self, current, now, time_per_unit, finalize) -> None:
        message = "\b" * self._prev_total_width + "\r" if self._dynamic_display else "\n"
        has_target = self.target is not None and self.target > 0
        invisible = 0  # characters of colour codes, not counted in the visible width
        if has_target:
            bar = f"{_BOLD}{self._counter(current)}{_RESET} "
            invisible += len(_BOLD) + len(_RESET)
            done = int(self.width * (float(current) / self.target))
            if done > 0:
                bar += f"{_GREEN}{_BAR_CHAR * done}{_RESET}"
                invisible += len(_GREEN) + len(_RESET)
            bar += f"{_WHITE}{_BAR_CHAR * (self.width - done)}{_RESET}"
            invisible += len(_WHITE) + len(_RESET)
        else:
            bar = f"{int(current):7d}/Unknown"
        message += bar

        if has_target and not finalize:
            eta = time_per_unit * (self.target - current)
            info = f" {_BOLD}{_format_duration(eta)}{_RESET}"
        else:
            info = f" {_BOLD}{now - self._start:.0f}s{_RESET}"
        invisible += len(_BOLD) + len(_RESET)
        info += self._format_time(time_per_unit, self.unit_name)
        for name in self._values_order:
            avg = self._average(name)
            info += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
        message += info

        total_width = len(bar) + len(info) - invisible
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)  # blank out the old line
        if finalize:
            message += "\n"
        print_msg(message, line_break=False)
        self._prev_total_width = total_width

    def _print_summary(self, current, now, time_per_unit) -> None:
        info = f"{self._counter(current)} - {now - self._start:.0f}s"
        info += f" -{self._format_time(time_per_unit, self.unit_name)}"
        for name in self._values_order:
            avg = self._average(name)
            # Keras compares the signed value here (negative values print in e-notation).
            info += f" - {name}: {avg:.4f}" if avg > 1e-3 else f" - {name}: {avg:.4e}"
        print_msg(info + "\n", line_break=False)

    @staticmethod
    def _format_time(time_per_unit, unit_name) -> str:
        """``" 12ms/step"``: seconds at or above 1 s (or exactly 0), else ms, else us."""
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1e3:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1e6:.0f}us/{unit_name}"

    def _estimate_step_duration(self, current, now) -> float:
        """Seconds per step, leaving out the (slow, compiling) first step once past it."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
