"""Learning-rate schedules, as in ``keras.optimizers.schedules``.

A schedule maps the optimizer's iteration count (an integer step) to a learning rate. As in Keras,
the arithmetic is done in float32, so a schedule gives the same float32 value Keras's does. ``step``
may be a Python int, a NumPy integer or array, or a :class:`~numpykeras.backend.Variable`; an array
of steps gives an array of learning rates.
"""

from __future__ import annotations

import math

import numpy as np

from numpykeras.saving import object_registration

_F32 = np.float32


def _as_step(step) -> np.ndarray:
    """``step`` as a float32 array (0-d for a scalar)."""
    return np.asarray(step, dtype=_F32)


def _result(x):
    """A 0-d result as a NumPy float32 scalar; arrays are returned unchanged."""
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def _check_positive(value, arg_name):
    if value <= 0:
        raise ValueError(f"Argument `{arg_name}` must be > 0. Received: {arg_name}={value}")


class LearningRateSchedule:
    """Base class of learning-rate schedules.

    Subclasses implement ``__call__(step)``, returning the learning rate at ``step``, and
    ``get_config()``, returning the constructor arguments, so that ``from_config`` round-trips.

    Example:

    ```python
    class MySchedule(LearningRateSchedule):
        def __init__(self, initial_learning_rate):
            self.initial_learning_rate = initial_learning_rate

        def __call__(self, step):
            return self.initial_learning_rate / (step + 1)

        def get_config(self):
            return {"initial_learning_rate": self.initial_learning_rate}
    ```
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        """Instantiate a schedule from the dict ``get_config()`` returned."""
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by ``decay_rate``.
        decay_rate: the decay factor.
        staircase: if True, ``step / decay_steps`` is floored so the rate decays in discrete jumps.
        name: name of the schedule.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        _check_positive(decay_steps, "decay_steps")

    def __call__(self, step):
        p = _as_step(step) / _F32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _result(_F32(self.initial_learning_rate) * np.power(_F32(self.decay_rate), p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A piecewise constant rate: ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``.

    Args:
        boundaries: increasing step boundaries, one fewer than ``values``.
        values: the learning rate in each interval: ``values[0]`` for ``step <= boundaries[0]``
            and ``values[-1]`` for ``step > boundaries[-1]``.
        name: name of the schedule.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = np.asarray(step)
        if step.dtype.kind not in "iuf":
            step = step.astype(np.int64)
        # Boundaries take the step's dtype, as Keras casts them.
        bounds = [np.asarray(b).astype(step.dtype) for b in self.boundaries]
        first = np.asarray(self.values[0])
        dtype = _F32 if first.dtype.kind == "f" else np.int32
        values = [np.asarray(v, dtype=dtype) for v in self.values]
        # Each interval contributes its value times the indicator of step lying in it.
        result = (step <= bounds[0]).astype(dtype) * values[0]
        result = result + (step > bounds[-1]).astype(dtype) * values[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1]):
            result = result + ((step > low) & (step <= high)).astype(dtype) * value
        return _result(result.astype(dtype))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps to decay over.
        end_learning_rate: the final learning rate.
        power: the power of the polynomial.
        cycle: if True, restart the decay every ``decay_steps`` (stretching the period to the first
            multiple of ``decay_steps`` past ``step``); if False, stay at ``end_learning_rate``.
        name: name of the schedule.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _check_positive(decay_steps, "decay_steps")

    def __call__(self, step):
        initial = _F32(self.initial_learning_rate)
        end = _F32(self.end_learning_rate)
        step = _as_step(step)
        decay_steps = _F32(self.decay_steps)
        if self.cycle:
            # The first multiple of decay_steps at or beyond step (1 at step 0).
            multiplier = np.where(step == 0, _F32(1.0), np.ceil(step / decay_steps))
            decay_steps = decay_steps * multiplier.astype(_F32)
        else:
            step = np.minimum(step, decay_steps)
        p = step / decay_steps
        return _result((initial - end) * np.power(_F32(1) - p, _F32(self.power)) + end)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps per unit of decay.
        decay_rate: the decay rate.
        staircase: if True, floor ``step / decay_steps``.
        name: name of the schedule.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        _check_positive(decay_steps, "decay_steps")

    def __call__(self, step):
        p = _as_step(step) / _F32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _result(_F32(self.initial_learning_rate) / (_F32(1) + _F32(self.decay_rate) * p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup before it.

    Without warmup: ``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) /
    decay_steps)) + alpha)``. With ``warmup_target``, the rate first goes linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then decays from
    ``warmup_target`` as above.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps to decay over.
        alpha: the final rate as a fraction of the decayed-from rate.
        name: name of the schedule.
        warmup_target: the rate reached at the end of warmup, or None for no warmup.
        warmup_steps: number of warmup steps.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _check_positive(decay_steps, "decay_steps")

    def _decay(self, step, decay_steps, decay_from):
        cosine = _F32(0.5) * (_F32(1) + np.cos(_F32(math.pi) * (step / decay_steps)))
        return decay_from * (_F32(1 - self.alpha) * cosine + _F32(self.alpha))

    def __call__(self, step):
        initial = _F32(self.initial_learning_rate)
        decay_steps = _F32(self.decay_steps)
        step = _as_step(step)
        if self.warmup_target is None:
            return _result(self._decay(np.minimum(step, decay_steps), decay_steps, initial))
        target = _F32(self.warmup_target)
        warmup_steps = _F32(self.warmup_steps)
        step = np.minimum(step, decay_steps + warmup_steps)
        with np.errstate(divide="ignore", invalid="ignore"):  # warmup_steps may be 0
            warmup = (target - initial) * (step / warmup_steps) + initial
        decayed = self._decay(step - warmup_steps, decay_steps, target)
        return _result(np.where(step < warmup_steps, warmup, decayed).astype(_F32))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR).

    The first period lasts ``first_decay_steps``; each following period is ``t_mul`` times longer
    and starts from a rate ``m_mul`` times the previous period's starting rate.

    Args:
        initial_learning_rate: the learning rate at step 0.
        first_decay_steps: positive length of the first period.
        t_mul: factor by which each period is longer than the last.
        m_mul: factor by which each period's initial rate is smaller than the last.
        alpha: the minimum rate as a fraction of ``initial_learning_rate``.
        name: name of the schedule.
    """

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name
        _check_positive(first_decay_steps, "first_decay_steps")

    def __call__(self, step):
        t_mul = _F32(self._t_mul)
        alpha = _F32(self.alpha)
        fraction = _as_step(step) / _F32(self.first_decay_steps)
        if t_mul == 1:
            i_restart = np.floor(fraction)
            fraction = fraction - i_restart
        else:
            # Period i starts at fraction (1 - t_mul**i) / (1 - t_mul) and lasts t_mul**i.
            i_restart = np.floor(np.log(_F32(1) - fraction * (_F32(1) - t_mul)) / np.log(t_mul))
            start = (_F32(1) - np.power(t_mul, i_restart)) / (_F32(1) - t_mul)
            fraction = (fraction - start) / np.power(t_mul, i_restart)
        m_fac = np.power(_F32(self._m_mul), i_restart)
        cosine = _F32(0.5) * m_fac * (_F32(1) + np.cos(_F32(math.pi) * fraction))
        decayed = (_F32(1) - alpha) * cosine + alpha
        return _result(_F32(self.initial_learning_rate) * decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_BUILTIN_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        LearningRateSchedule,
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(learning_rate_schedule):
    """The Keras 3 config dict of a schedule.

    Built-in schedules get ``module="keras.optimizers.schedules"``; user schedules get their Python
    module and the name they were registered under.
    """
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(
            "Expected a `LearningRateSchedule` instance. "
            f"Received: learning_rate_schedule={learning_rate_schedule!r} "
            f"of type {type(learning_rate_schedule)}"
        )
    cls = type(learning_rate_schedule)
    config = learning_rate_schedule.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"The `get_config()` method of {learning_rate_schedule} should return "
            f"a dict. It returned: {config}"
        )
    if _BUILTIN_SCHEDULES.get(cls.__name__) is cls:
        return {
            "module": "keras.optimizers.schedules",
            "class_name": cls.__name__,
            "config": config,
            "registered_name": None,
        }
    return {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "config": config,
        "registered_name": object_registration.get_registered_name(cls),
    }


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from a config dict (Keras 3, or Keras 2 without ``module``).

    Args:
        config: a dict with ``class_name`` and ``config`` keys.
        custom_objects: optional dict mapping names to user schedule classes.

    Returns:
        A :class:`LearningRateSchedule` instance.
    """
    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Could not interpret serialized decay: expected a dict with keys 'class_name' "
            f"and 'config'. Received: config={config}"
        )
    class_name = config["class_name"]
    cls = None
    for key in (config.get("registered_name"), class_name):
        if key:
            cls = object_registration.get_registered_object(key, custom_objects)
            if cls is not None:
                break
    if cls is None:
        cls = _BUILTIN_SCHEDULES.get(class_name.split(">", 1)[-1])
    if cls is None:
        raise ValueError(
            f"Unknown decay: '{class_name}'. Please ensure you are using a "
            "`keras.utils.custom_object_scope` and that this object is included in the scope."
        )
    return cls.from_config(dict(config.get("config") or {}))


__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]
