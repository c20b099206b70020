"""Whole training runs of custom Keras code: numpykeras vs Keras 3 (TensorFlow backend).

Each case is written once, as functions of the Keras module (``keras`` or ``numpykeras``) and of
the tape class (``tf.GradientTape`` or ``numpykeras.GradientTape``), so the numpykeras side is
literally the same Keras code with the import changed. The harness builds the case in both,
copies Keras's initial weights into numpykeras's (by position in ``model.weights``, checking
names and shapes), trains both on the same small batches (``fit`` with ``shuffle=False``, or a
loop from scratch) and compares, after every step, the logs (losses and metrics) and every
weight; then the per-epoch History, the optimizers' step counts and whatever the case evaluates
afterwards (``evaluate``, ``predict``, ``model.losses``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import numpykeras as nk

from tolerances import CUSTOM_TRAINING_ATOL, CUSTOM_TRAINING_RTOL, assert_close

BATCH = 8
SAMPLES = 16  # 2 steps per epoch; fit runs 2 epochs: 4 steps, metrics reset once in between
EPOCHS = 2


def _close(actual, expected, what):
    assert_close(actual, expected, CUSTOM_TRAINING_ATOL, CUSTOM_TRAINING_RTOL, what)


# --------------------------------------------------------------------------- how a case trains


def _snapshot(weights):
    return [np.array(w.numpy()) for w in weights]


def _floats(logs):
    return {key: float(np.asarray(value)) for key, value in (logs or {}).items()}


def fit_steps(keras, GradientTape, model, data):
    """``model.fit`` on ``data["x"]`` / ``data["y"]``; a callback records each step's logs and
    weights."""
    steps = []

    class StepRecorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append((_floats(logs), _snapshot(self.model.weights)))

    history = model.fit(
        data["x"],
        data.get("y"),
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=[StepRecorder()],
    )
    return steps, history.history, None


def evaluate_and_predict(model, data):
    return {
        "evaluate": model.evaluate(data["x"], data["y"], batch_size=BATCH, verbose=0),
        "evaluate(return_dict=True)": model.evaluate(
            data["x"], data["y"], batch_size=BATCH, verbose=0, return_dict=True
        ),
        "predict": model.predict(data["x"], batch_size=BATCH, verbose=0),
    }


@dataclass(frozen=True)
class Case:
    """``build(keras, GradientTape, data)`` returns the model, built and compiled;
    ``train(keras, GradientTape, model, data)`` returns ``(steps, history, optimizers)``: one
    ``(logs, weights)`` per step, the History's dict (or None), and the optimizers it used (or
    None: ``optimizers(model)``); ``after(model, data)`` a dict of results to compare."""

    name: str
    data: Callable
    build: Callable
    train: Callable = fit_steps
    after: Callable | None = None
    optimizers: Callable = lambda model: [model.optimizer]
    # Said with any failure of the numpykeras side: what it depends on.
    needs: str = ""


# --------------------------------------------------------------------------- data


def classification_data(seed, shape=(6,), classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES,) + shape).astype("float32")
    return {"x": x, "y": rng.integers(0, classes, size=SAMPLES)}


def regression_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, 6)).astype("float32")
    return {"x": x, "y": rng.normal(size=(SAMPLES, 1)).astype("float32")}


def gan_data(seed, latent_values):
    """Real samples as ``x``; the random draws train_step would make (latent vectors, and for
    WGAN-GP the interpolation weights) as ``y``, so that both sides use the same ones."""
    rng = np.random.default_rng(seed)
    real = np.tanh(rng.normal(size=(SAMPLES, 4)) + 0.5).astype("float32")
    noise = rng.normal(size=(SAMPLES, latent_values)).astype("float32")
    return {"x": real, "y": noise}


def vae_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.95, size=(SAMPLES, 6)).astype("float32")
    epsilon = rng.normal(size=(SAMPLES, 2)).astype("float32")
    return {"x": x, "y": epsilon}


# --------------------------------------------------------------------------- 1. Antirectifier


def build_antirectifier(keras, GradientTape, data):
    ops = keras.ops

    class Antirectifier(keras.layers.Layer):
        """keras.io's Antirectifier: the positive and negative parts of the centred input."""

        def call(self, inputs):
            centered = inputs - ops.mean(inputs, axis=-1, keepdims=True)
            return ops.concatenate([ops.relu(centered), ops.relu(-centered)], axis=-1)

    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8),
            Antirectifier(),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# --------------------------------------------------------------------------- 2. residual block


def build_residual_block(keras, GradientTape, data):
    ops = keras.ops

    class ResidualBlock(keras.layers.Layer):
        """x + scale * dense2(relu(dense1(x))): sublayers made in __init__, a weight in build."""

        def __init__(self, units, hidden, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = keras.layers.Dense(hidden)
            self.dense2 = keras.layers.Dense(units)

        def build(self, input_shape):
            self.scale = self.add_weight(
                name="scale",
                shape=(input_shape[-1],),
                initializer=keras.initializers.Constant(0.5),
            )

        def call(self, x):
            return x + self.scale * self.dense2(ops.relu(self.dense1(x)))

    model = keras.Sequential(
        [keras.Input((6,)), ResidualBlock(6, 8), ResidualBlock(6, 5), keras.layers.Dense(1)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss="mse",
        metrics=["mae"],
    )
    return model


# --------------------------------------------------------------------------- 3. attention


def build_attention(keras, GradientTape, data):
    ops = keras.ops

    class TinySelfAttention(keras.layers.Layer):
        """Single-head self-attention from add_weight projections, einsum and softmax."""

        def __init__(self, key_dim, **kwargs):
            super().__init__(**kwargs)
            self.key_dim = key_dim

        def build(self, input_shape):
            dim = input_shape[-1]
            self.wq = self.add_weight(name="query", shape=(dim, self.key_dim))
            self.wk = self.add_weight(name="key", shape=(dim, self.key_dim))
            self.wv = self.add_weight(name="value", shape=(dim, dim))

        def call(self, x):
            q = ops.einsum("btd,dk->btk", x, self.wq)
            k = ops.einsum("btd,dk->btk", x, self.wk)
            v = ops.einsum("btd,de->bte", x, self.wv)
            scores = ops.einsum("bqk,bsk->bqs", q, k) / math.sqrt(self.key_dim)
            return ops.einsum("bqs,bse->bqe", ops.softmax(scores, axis=-1), v)

    model = keras.Sequential(
        [
            keras.Input((5, 6)),
            TinySelfAttention(4),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# --------------------------------------------------------------------------- 4. subclassed Model


def _build_subclassed(keras, residual, data):
    class MLP(keras.Model):
        """Layers as attributes; Python branches on `training` and on a constructor flag."""

        def __init__(self, residual, **kwargs):
            super().__init__(**kwargs)
            self.residual = residual
            self.dense1 = keras.layers.Dense(8, activation="relu")
            self.dropout = keras.layers.Dropout(0.0)
            self.dense2 = keras.layers.Dense(8, activation="tanh")
            self.classifier = keras.layers.Dense(3)

        def call(self, inputs, training=False):
            h = self.dense1(inputs)
            if training:
                h = self.dropout(h, training=training)
            out = self.dense2(h)
            if self.residual:
                out = out + h
            return self.classifier(out)

    model = MLP(residual)
    model(data["x"][:2])  # creates the weights
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def build_subclassed_residual(keras, GradientTape, data):
    return _build_subclassed(keras, True, data)


def build_subclassed_plain(keras, GradientTape, data):
    return _build_subclassed(keras, False, data)


# --------------------------------------------------------------------------- 5. compute_loss


def build_distiller(keras, GradientTape, data):
    ops = keras.ops

    class Distiller(keras.Model):
        """keras.io's knowledge distillation: compute_loss mixes the hard-label loss of the
        student with the KL divergence from the teacher's softened predictions."""

        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(
            self,
            optimizer,
            metrics,
            student_loss_fn,
            distillation_loss_fn,
            alpha=0.1,
            temperature=3,
        ):
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)
            distillation_loss = self.distillation_loss_fn(
                ops.softmax(teacher_pred / self.temperature, axis=1),
                ops.softmax(y_pred / self.temperature, axis=1),
            ) * (self.temperature**2)
            return self.alpha * student_loss + (1 - self.alpha) * distillation_loss

        def call(self, x):
            return self.student(x)

    teacher = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(12, activation="relu"),
            keras.layers.Dense(3),
        ]
    )
    teacher.trainable = False
    student = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    distiller = Distiller(student=student, teacher=teacher)
    distiller(data["x"][:2])
    distiller.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.3,
        temperature=4,
    )
    return distiller


def distiller_after(model, data):
    return {
        "evaluate(return_dict=True)": model.evaluate(
            data["x"], data["y"], batch_size=BATCH, verbose=0, return_dict=True
        ),
        "predict": model.predict(data["x"], batch_size=BATCH, verbose=0),
    }


# --------------------------------------------------------------------------- 6. GAN


GAN_LATENT = 3


def build_gan(keras, GradientTape, data):
    ops = keras.ops

    class GAN(keras.Model):
        """keras.io's GAN with a custom train_step; the latent vectors come in as y."""

        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn
            self.d_loss_metric = keras.metrics.Mean(name="d_loss")
            self.g_loss_metric = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_metric, self.g_loss_metric]

        def train_step(self, data):
            real_images, latent = data
            batch_size = ops.shape(real_images)[0]
            # Train the discriminator on generated (label 1) and real (label 0) samples.
            generated_images = self.generator(latent[:, : self.latent_dim])
            combined_images = ops.concatenate([generated_images, real_images], axis=0)
            labels = ops.concatenate(
                [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
            )
            with GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            # Train the generator through the (now fixed) discriminator.
            misleading_labels = ops.zeros((batch_size, 1))
            with GradientTape() as tape:
                predictions = self.discriminator(self.generator(latent[:, self.latent_dim :]))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_metric.update_state(d_loss)
            self.g_loss_metric.update_state(g_loss)
            return {
                "d_loss": self.d_loss_metric.result(),
                "g_loss": self.g_loss_metric.result(),
            }

    discriminator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    generator = keras.Sequential(
        [
            keras.Input((GAN_LATENT,)),
            keras.layers.Dense(8),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Dense(4, activation="tanh"),
        ],
        name="generator",
    )
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=GAN_LATENT)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        g_optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


# --------------------------------------------------------------------------- 7. VAE


def build_vae(keras, GradientTape, data):
    ops = keras.ops
    latent_dim = 2

    class Sampling(keras.layers.Layer):
        """z = z_mean + exp(z_log_var / 2) * epsilon, epsilon given as an input."""

        def call(self, inputs):
            z_mean, z_log_var, epsilon = inputs
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    encoder_inputs = keras.Input((6,))
    epsilon_inputs = keras.Input((latent_dim,))
    h = keras.layers.Dense(8, activation="relu")(encoder_inputs)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    z = Sampling()([z_mean, z_log_var, epsilon_inputs])
    encoder = keras.Model([encoder_inputs, epsilon_inputs], [z_mean, z_log_var, z], name="encoder")
    decoder = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(6, activation="sigmoid"),
        ],
        name="decoder",
    )

    class VAE(keras.Model):
        """keras.io's VAE train_step, with epsilon passed in as y."""

        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [
                self.total_loss_tracker,
                self.reconstruction_loss_tracker,
                self.kl_loss_tracker,
            ]

        def train_step(self, data):
            x, epsilon = data
            with GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder([x, epsilon])
                reconstruction = self.decoder(z)
                # Summed over the features (binary_crossentropy averages them).
                reconstruction_loss = x.shape[-1] * ops.mean(
                    keras.losses.binary_crossentropy(x, reconstruction)
                )
                kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {
                "loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result(),
            }

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2))
    return vae


# --------------------------------------------------------------------------- 8. loop from scratch


def build_loop_model(keras, GradientTape, data):
    inputs = keras.Input((6,), name="digits")
    h = keras.layers.Dense(8, activation="relu")(inputs)
    h = keras.layers.Dense(8, activation="relu")(h)
    outputs = keras.layers.Dense(3, name="predictions")(h)
    return keras.Model(inputs=inputs, outputs=outputs)


def train_from_scratch(keras, GradientTape, model, data):
    """keras.io's "Writing a training loop from scratch", 3 steps."""
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    steps = []
    for step in range(3):
        x_batch = data["x"][step * 4 : (step + 1) * 4]
        y_batch = data["y"][step * 4 : (step + 1) * 4]
        with GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss_value = loss_fn(y_batch, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y_batch, logits)
        logs = {"loss": loss_value, "accuracy": train_acc_metric.result()}
        steps.append((_floats(logs), _snapshot(model.weights)))
    return steps, None, [optimizer]


# --------------------------------------------------------------------------- 9. add_loss


def build_add_loss(keras, GradientTape, data):
    ops = keras.ops

    class ActivityRegularization(keras.layers.Layer):
        """Adds 1e-2 * sum(x**2) of its input to the model's losses; an identity otherwise."""

        def call(self, x):
            self.add_loss(1e-2 * ops.sum(ops.square(x)))
            return x

    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="tanh")(inputs)
    h = ActivityRegularization()(h)
    outputs = keras.layers.Dense(3)(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def add_loss_after(model, data):
    results = evaluate_and_predict(model, data)
    model(data["x"][:BATCH])
    results["model.losses"] = [np.asarray(loss) for loss in model.losses]
    return results


# --------------------------------------------------------------------------- 10. WGAN-GP

WGAN_LATENT = 3


def build_wgan_gp(keras, GradientTape, data):
    ops = keras.ops

    class Critic(keras.Model):
        """Dense layers with keras.ops activations (tanh: its second derivative is not zero)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden1 = keras.layers.Dense(8)
            self.hidden2 = keras.layers.Dense(8)
            self.score = keras.layers.Dense(1)

        def call(self, x):
            h = ops.tanh(self.hidden1(x))
            h = ops.softplus(self.hidden2(h))
            return self.score(h)

    class WGAN(keras.Model):
        """keras.io's WGAN-GP train_step (one critic step per generator step); the latent
        vectors and the interpolation weights come in as y."""

        def __init__(self, critic, generator, latent_dim, gp_weight=10.0):
            super().__init__()
            self.critic = critic
            self.generator = generator
            self.latent_dim = latent_dim
            self.gp_weight = gp_weight

        def compile(self, d_optimizer, g_optimizer):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer

        def gradient_penalty(self, real_images, fake_images, alpha):
            interpolated = real_images + alpha * (fake_images - real_images)
            with GradientTape() as gp_tape:
                gp_tape.watch(interpolated)
                pred = self.critic(interpolated, training=True)
            grads = gp_tape.gradient(pred, [interpolated])[0]
            norm = ops.sqrt(ops.sum(ops.square(grads), axis=1))
            return ops.mean((norm - 1.0) ** 2)

        def train_step(self, data):
            real_images, noise = data
            latent = noise[:, : self.latent_dim]
            alpha = noise[:, self.latent_dim :]
            with GradientTape() as tape:
                fake_images = self.generator(latent, training=True)
                fake_logits = self.critic(fake_images, training=True)
                real_logits = self.critic(real_images, training=True)
                d_cost = ops.mean(fake_logits) - ops.mean(real_logits)
                gp = self.gradient_penalty(real_images, fake_images, alpha)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.critic.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_gradient, self.critic.trainable_variables))
            with GradientTape() as tape:
                generated_images = self.generator(latent, training=True)
                gen_img_logits = self.critic(generated_images, training=True)
                g_loss = -ops.mean(gen_img_logits)
            gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
            return {"d_loss": d_loss, "g_loss": g_loss, "gp": gp}

    critic = Critic(name="critic")
    critic(data["x"][:2])
    generator = keras.Sequential(
        [
            keras.Input((WGAN_LATENT,)),
            keras.layers.Dense(8),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Dense(4, activation="tanh"),
        ],
        name="generator",
    )
    wgan = WGAN(critic=critic, generator=generator, latent_dim=WGAN_LATENT)
    wgan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.5, beta_2=0.9),
    )
    return wgan


def _two_optimizers(model):
    return [model.d_optimizer, model.g_optimizer]


# --------------------------------------------------------------------------- the cases

CASES = [
    Case("antirectifier", lambda: classification_data(1), build_antirectifier),
    Case("residual_block", lambda: regression_data(2), build_residual_block),
    Case("attention_einsum", lambda: classification_data(3, shape=(5, 6)), build_attention),
    Case(
        "subclassed_residual",
        lambda: classification_data(4),
        build_subclassed_residual,
        after=evaluate_and_predict,
    ),
    Case(
        "subclassed_plain",
        lambda: classification_data(5),
        build_subclassed_plain,
        after=evaluate_and_predict,
    ),
    Case(
        "distillation_compute_loss",
        lambda: classification_data(6),
        build_distiller,
        after=distiller_after,
    ),
    Case(
        "gan_train_step",
        lambda: gan_data(7, 2 * GAN_LATENT),
        build_gan,
        optimizers=_two_optimizers,
    ),
    Case("vae_train_step", lambda: vae_data(8), build_vae),
    Case(
        "loop_from_scratch",
        lambda: classification_data(9),
        build_loop_model,
        train=train_from_scratch,
    ),
    Case("add_loss_layer", lambda: classification_data(10), build_add_loss, after=add_loss_after),
    Case(
        "wgan_gp_second_order",
        lambda: gan_data(11, WGAN_LATENT + 1),
        build_wgan_gp,
        optimizers=_two_optimizers,
        needs=(
            "WGAN-GP needs gradients of gradients: numpykeras.GradientTape.gradient of the "
            "critic w.r.t. its (watched) input, run while an outer tape records, must itself "
            "be differentiable w.r.t. the critic's weights"
        ),
    ),
]


# --------------------------------------------------------------------------- the harness


@dataclass
class Run:
    """One side's training run."""

    initial: list  # (path, name, shape, trainable, value) of each of model.weights, before training
    model: object
    steps: list
    history: dict | None
    after: dict
    iterations: list


def copy_weights(initial, model):
    """Keras's initial weights into numpykeras's model, by position, checking name and shape."""
    assert [w.name for w in model.weights] == [name for _, name, *_ in initial], (
        [w.path for w in model.weights],
        [path for path, *_ in initial],
    )
    for variable, (path, _, shape, trainable, value) in zip(model.weights, initial):
        assert tuple(variable.shape) == shape, (variable.path, path)
        assert variable.trainable == trainable, (variable.path, path)
        variable.assign(value)


def run_case(case, keras, GradientTape, initial=None):
    """Builds and trains one side; ``initial``: the other side's ``Run.initial`` to start from."""
    data = case.data()
    model = case.build(keras, GradientTape, data)
    if initial is not None:
        copy_weights(initial, model)
    start = [
        (w.path, w.name, tuple(w.shape), w.trainable, np.array(w.numpy())) for w in model.weights
    ]
    steps, history, optimizers = case.train(keras, GradientTape, model, data)
    after = case.after(model, data) if case.after else {}
    if optimizers is None:
        optimizers = case.optimizers(model)
    iterations = [int(np.asarray(opt.iterations)) for opt in optimizers]
    return Run(start, model, steps, history, after, iterations)


def _compare_values(actual, expected, what):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), what
        assert sorted(actual) == sorted(expected), what
        for key in expected:
            _compare_values(actual[key], expected[key], f"{what}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare_values(a, e, f"{what}[{i}]")
    else:
        _close(np.asarray(actual), np.asarray(expected), what)


def compare_runs(ours, reference):
    names = [path for path, *_ in reference.initial]
    for (_, _, _, _, value), (path, _, _, _, k_value) in zip(ours.initial, reference.initial):
        _close(value, k_value, f"initial weight {path}")
    assert len(ours.steps) == len(reference.steps), "number of training steps"
    for step, ((logs, weights), (k_logs, k_weights)) in enumerate(zip(ours.steps, reference.steps)):
        assert sorted(logs) == sorted(k_logs), f"step {step}: log keys"
        for key in k_logs:
            _close(logs[key], k_logs[key], f"step {step}: logs[{key!r}]")
        assert len(weights) == len(k_weights)
        for value, k_value, name in zip(weights, k_weights, names):
            _close(value, k_value, f"step {step}: weight {name}")
    if reference.history is not None:
        assert sorted(ours.history) == sorted(reference.history), "History keys"
        for key, k_values in reference.history.items():
            assert len(ours.history[key]) == len(k_values) == EPOCHS, key
            _close(ours.history[key], k_values, f"history[{key!r}]")
    assert ours.iterations == reference.iterations, "optimizer iterations"
    _compare_values(ours.after, reference.after, "after training")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_custom_training_matches_keras(tf, keras, case):
    reference = run_case(case, keras, tf.GradientTape)
    assert len(reference.steps) >= 3  # the Keras side trained
    try:
        ours = run_case(case, nk, nk.GradientTape, initial=reference.initial)
        compare_runs(ours, reference)
    except Exception as exc:
        if not case.needs:
            raise
        raise AssertionError(
            f"[{case.name}] this case depends on more than the others: {case.needs}.\n"
            f"{type(exc).__name__}: {exc}"
        ) from exc
