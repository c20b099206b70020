"""Nadam (Adam with Nesterov momentum), as ``keras.optimizers.Nadam``."""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.optimizers.optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum and Dozat's momentum schedule.

    At step ``t`` (1-based), with ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and ``U_t`` the product
    ``u_1 * ... * u_t`` (the optimizer's ``u_product`` variable)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - U_t * u_{t+1}) + (1 - u_t) * g / (1 - U_t)
        v_hat = v / (1 - beta_2**t)
        w -= lr * m_hat / (sqrt(v_hat) + epsilon)

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.001.
        beta_1: decay rate of the first-moment estimate. Defaults to 0.9.
        beta_2: decay rate of the second-moment estimate. Defaults to 0.999.
        epsilon: added to ``sqrt(v_hat)``. Defaults to 1e-7.
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay``, ``clipnorm``, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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

    def build(self, var_list):
        """Create ``momentum`` and ``velocity`` slots per variable (interleaved), then the scalar
        ``u_product`` variable (Keras names it ``"variable"``) last."""
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else backend.floatx()
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        # Keras creates this one as a plain unnamed Variable, outside the optimizer's scope.
        self._u_product = backend.Variable(1.0, name="variable", dtype=dtype, trainable=False)
        self._variables.append(self._u_product)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # U_t = U_{t-1} * u_t, once per step for all variables.
        u = self._u_product.value
        f = u.dtype.type
        t = f(self._step() + 1)
        u *= f(self.beta_1) * (f(1) - f(0.5) * f(0.96) ** t)
        super()._backend_update_step(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        w = variable.value
        f = w.dtype.type
        index = self._get_variable_index(variable)
        m = self._momentums[index].value
        v = self._velocities[index].value
        beta_1, beta_2 = f(self.beta_1), f(self.beta_2)
        t = f(self._step() + 1)
        u_t = beta_1 * (f(1) - f(0.5) * f(0.96) ** t)
        u_next = beta_1 * (f(1) - f(0.5) * f(0.96) ** (t + f(1)))
        u_product = f(self._u_product.value)
        u_product_next = u_product * u_next
        beta_2_power = beta_2**t

        tmp = self._buffer(w, 0)
        np.subtract(gradient, m, out=tmp)
        tmp *= f(1) - beta_1
        m += tmp  # m += (g - m) * (1 - beta_1)
        np.multiply(gradient, gradient, out=tmp)
        tmp -= v
        tmp *= f(1) - beta_2
        v += tmp  # v += (g^2 - v) * (1 - beta_2)

        m_hat = self._buffer(w, 1)
        np.multiply(m, u_next / (f(1) - u_product_next), out=m_hat)
        np.multiply(gradient, (f(1) - u_t) / (f(1) - u_product), out=tmp)
        m_hat += tmp  # u_{t+1} m / (1 - U_{t+1}) + (1 - u_t) g / (1 - U_t)
        np.divide(v, f(1) - beta_2_power, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += f(self.epsilon)  # sqrt(v_hat) + eps
        m_hat *= f(learning_rate)
        m_hat /= tmp
        w -= m_hat

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
