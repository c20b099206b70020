"""Stochastic gradient descent, with optional (Nesterov) momentum, as ``keras.optimizers.SGD``."""

from __future__ import annotations

import numpy as np

from numpykeras.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent with momentum.

    Without momentum: ``w -= lr * g``. With momentum ``mu``::

        velocity = mu * velocity - lr * g
        w += velocity                          # nesterov=False
        w += mu * velocity - lr * g            # nesterov=True

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.01.
        momentum: float in ``[0, 1]``. Defaults to 0.0 (no momentum slot).
        nesterov: whether to use Nesterov momentum.
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay``, ``clipnorm``, ...).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
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
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        if not isinstance(momentum, (float, np.floating)) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables):
        """Create a ``momentum`` slot per variable (only when ``momentum != 0``)."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        w = variable.value
        lr = w.dtype.type(learning_rate)
        lr_g = self._buffer(w, 0)
        np.multiply(gradient, lr, out=lr_g)  # lr * g
        if self.momentum == 0:
            w -= lr_g
            return
        mu = w.dtype.type(self.momentum)
        m = self.momentums[self._get_variable_index(variable)].value
        m *= mu
        m -= lr_g  # m = mu * m - lr * g
        if self.nesterov:
            step = self._buffer(w, 1)
            np.multiply(m, mu, out=step)
            step -= lr_g  # mu * m - lr * g
            w += step
        else:
            w += m

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
