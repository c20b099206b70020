"""RMSprop, as ``keras.optimizers.RMSprop``."""

from __future__ import annotations

import numpy as np

from numpykeras.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    ::

        velocity = rho * velocity + (1 - rho) * g**2
        mean_g = rho * mean_g + (1 - rho) * g                   # centered only
        denominator = velocity - mean_g**2 + eps  (centered)  or  velocity + eps
        increment = lr * g / sqrt(denominator)
        momentum = mu * momentum + increment; w -= momentum    # momentum > 0
        w -= increment                                          # otherwise

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.001.
        rho: discount factor of the running averages. Defaults to 0.9.
        momentum: momentum factor; 0 for none (no momentum slot). Defaults to 0.0.
        epsilon: added under the square root. Defaults to 1e-7.
        centered: if True, normalise by the estimated variance rather than the second moment.
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay``, ``clipnorm``, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
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
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        """Create ``velocity`` slots, then ``momentum`` slots (momentum > 0), then
        ``average_gradient`` slots (centered), each for all variables in turn."""
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def update_step(self, gradient, variable, learning_rate):
        w = variable.value
        f = w.dtype.type
        index = self._get_variable_index(variable)
        rho = f(self.rho)
        one_minus_rho = f(1 - self.rho)

        velocity = self._velocities[index].value
        tmp = self._buffer(w, 0)
        velocity *= rho
        np.multiply(gradient, gradient, out=tmp)
        tmp *= one_minus_rho
        velocity += tmp  # velocity = rho * velocity + (1 - rho) * g^2

        denom = self._buffer(w, 1)
        if self.centered:
            mean_g = self._average_gradients[index].value
            mean_g *= rho
            np.multiply(gradient, one_minus_rho, out=tmp)
            mean_g += tmp  # mean_g = rho * mean_g + (1 - rho) * g
            np.multiply(mean_g, mean_g, out=tmp)
            np.subtract(velocity, tmp, out=denom)
            denom += f(self.epsilon)  # velocity - mean_g^2 + eps
        else:
            np.add(velocity, f(self.epsilon), out=denom)
        np.sqrt(denom, out=denom)

        increment = tmp
        np.multiply(gradient, f(learning_rate), out=increment)
        increment /= denom  # lr * g / sqrt(denominator)
        if self.momentum > 0:
            mom = self._momentums[index].value
            mom *= f(self.momentum)
            mom += increment
            w -= mom
        else:
            w -= increment

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
