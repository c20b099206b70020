"""Adagrad, as ``keras.optimizers.Adagrad``."""

from __future__ import annotations

import numpy as np

from numpykeras.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad: per-parameter rates scaled by the accumulated squared gradients.

    ::

        accumulator += g**2
        w -= lr * g / sqrt(accumulator + epsilon)

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.001.
        initial_accumulator_value: starting value of the accumulators. Defaults to 0.1.
        epsilon: added inside the square root. Defaults to 1e-7.
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay``, ``clipnorm``, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        """Create an ``accumulator`` slot per variable, filled with the initial value."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value)
        )

    def update_step(self, gradient, variable, learning_rate):
        w = variable.value
        f = w.dtype.type
        acc = self._accumulators[self._get_variable_index(variable)].value
        tmp = self._buffer(w, 0)
        denom = self._buffer(w, 1)
        np.multiply(gradient, gradient, out=tmp)
        acc += tmp  # accumulator += g^2
        np.add(acc, f(self.epsilon), out=denom)
        np.sqrt(denom, out=denom)
        np.multiply(gradient, f(learning_rate), out=tmp)
        tmp /= denom
        w -= tmp  # w -= lr * g / sqrt(accumulator + eps)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
            }
        )
        return config
