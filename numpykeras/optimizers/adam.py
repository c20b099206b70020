"""Adam, as ``keras.optimizers.Adam``."""

from __future__ import annotations

import numpy as np

from numpykeras.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """Adam: adaptive moment estimation.

    At step ``t`` (1-based)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        v_hat = max(v_hat, v)                       # amsgrad only; then used in place of v
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w -= alpha * m / (sqrt(v) + epsilon)

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.001.
        beta_1: decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: added to ``sqrt(v)`` (the "epsilon hat" of the paper). Defaults to 1e-7.
        amsgrad: whether to use the AMSGrad variant (keeps the running maximum of ``v``).
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay``, ``clipnorm``, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        """Create ``momentum`` and ``velocity`` slots per variable (interleaved), then
        ``velocity_hat`` slots with ``amsgrad``."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        w = variable.value
        f = w.dtype.type
        index = self._get_variable_index(variable)
        m = self._momentums[index].value
        v = self._velocities[index].value
        t = f(self._step() + 1)
        # Bias corrections folded into the step size, in the variable's precision as Keras.
        alpha = (
            f(learning_rate) * np.sqrt(f(1) - f(self.beta_2) ** t) / (f(1) - f(self.beta_1) ** t)
        )

        tmp = self._buffer(w, 0)
        np.subtract(gradient, m, out=tmp)
        tmp *= f(1 - self.beta_1)
        m += tmp  # m += (g - m) * (1 - beta_1)
        np.multiply(gradient, gradient, out=tmp)
        tmp -= v
        tmp *= f(1 - self.beta_2)
        v += tmp  # v += (g^2 - v) * (1 - beta_2)
        if self.amsgrad:
            v_hat = self._velocity_hats[index].value
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat

        denom = self._buffer(w, 1)
        np.sqrt(v, out=denom)
        denom += f(self.epsilon)
        np.multiply(m, alpha, out=tmp)
        tmp /= denom
        w -= tmp  # w -= alpha * m / (sqrt(v) + eps)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config
