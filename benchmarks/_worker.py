"""One side of the benchmark: a long-lived process running numpykeras or TensorFlow (Keras 3).

``bench.py`` starts one worker per framework (``python3 _worker.py numpykeras|tensorflow THREADS``),
with the thread-count environment already set, and talks to it in JSON lines: one request on stdin,
one answer on stdout. Anything else the framework prints goes to stderr. Keeping the workers
alive means models stay built (and TensorFlow's functions traced) between rounds, while the two
thread pools never share a process. ``bench.py --baseline REV`` starts a third one, ``numpykeras``
again, importing numpykeras/ as it was at git ``REV`` (through ``NUMPYKERAS_BENCH_SOURCE``).

Requests:
    {"cmd": "setup", "seed": 0}                     -> versions, BLAS and thread info
    {"cmd": "run", "task": {...}}                   -> {"seconds": float} ("fit" tasks: the
                                                       median of epochs 2..N, and "epochs": every
                                                       epoch's seconds)
    {"cmd": "check", "model": "cnn32", "n": 8}      -> {"outputs": [...]} (the first n inputs)
    {"cmd": "save", "model": m, "dir": d}           -> {} (writes d/m.keras and d/m.weights.h5)
    {"cmd": "probe", "model": m, "dir": d}          -> {"load_model": bool, "load_weights": bool}
    {"cmd": "save_weights", "model": m, "path": p}  -> {} (the model's weights to a .weights.h5)
    {"cmd": "load_weights", "model": m, "path": p}  -> {} (weights written by the other worker)
    {"cmd": "quit"}
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# bench.py passes the folder holding its snapshot of this tree's numpykeras (else: the tree itself)
SOURCE = os.environ.get("NUMPYKERAS_BENCH_SOURCE", os.path.dirname(BENCH_DIR))
sys.path[:0] = [SOURCE, BENCH_DIR]

# imported after sys.path is set (and the parent has set the thread-count environment)
import _models  # noqa: E402
import numpy as np  # noqa: E402


class Framework:
    """What the worker needs from a framework: its modules, built models and the data."""

    name = ""

    def __init__(self, threads):
        self.threads = threads
        self.models = {}
        self.data = {}
        self.warm = set()

    # -- models and data ----------------------------------------------------------------------
    def model(self, name, seed, train=False):
        """The model ``name`` with the shared seeded weights (a separate instance for training)."""
        key = (name, train)
        if key not in self.models:
            model = _models.build(name, self.layers, self.models_module, self.applications)
            if name not in _models.APPLICATIONS:  # those get the TensorFlow side's weights
                model.set_weights(shared_weights([w.shape for w in model.get_weights()], seed))
            if train:
                model.compile(
                    optimizer=self.optimizers.Adam(),
                    loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"],
                )
            self.models[key] = model
        return self.models[key]

    def images(self, size, n, seed):
        """``n`` random images in [0, 1) and integer labels, the same in both workers."""
        key = (size, n)
        if key not in self.data:
            rng = np.random.default_rng([seed, size, n])
            x = rng.random((n, size, size, 3), dtype=np.float32)  # (n, size, size, 3)
            y = rng.integers(0, 10, size=n).astype(np.int64)  # (n,)
            self.data[key] = (x, y)
        return self.data[key]

    def inputs(self, name, n, seed):
        """``n`` inputs of the model ``name`` and labels: images; for a recurrent model or one
        of ``_models.FAMILIES`` random arrays in [0, 1) of its input shape, or for the attention
        model random token ids (the same in both workers)."""
        if name not in _models.RECURRENT and name not in _models.FAMILIES:
            return self.images(_models.image_size(name), n, seed)
        shape = _models.input_shape(name)
        tokens = name == "attention"
        key = (shape, n, tokens)
        if key not in self.data:
            rng = np.random.default_rng([seed, *shape, n])
            if tokens:  # (n, sequence length)
                x = rng.integers(0, _models.ATTENTION_VOCAB, size=(n, *shape)).astype(np.int32)
            else:  # (n, *shape): (timesteps, features), a volume or a clip of frames
                x = rng.random((n, *shape), dtype=np.float32)
            y = rng.integers(0, 10, size=n).astype(np.int64)  # (n,)
            self.data[key] = (x, y)
        return self.data[key]

    # -- the timed operations -------------------------------------------------------------------
    def run(self, task, seed):
        """One measurement of ``task``: ``{"seconds": ...}`` (warmed up on its first call).

        A ``fit`` task is one ``fit()`` call of ``task["epochs"]`` epochs (at least 2), timed
        epoch by epoch by a callback; ``seconds`` is the median of epochs 2..N (epoch 1, which
        absorbs the warm-up, TensorFlow's tracing and the optimizer's slots, is dropped; there is
        no separate warm-up call) and ``epochs`` lists them all.
        """
        kind = task["kind"]
        name = task["model"]
        model = self.model(name, seed, train=kind == "fit")
        x, y = self.inputs(name, task["n"], seed)
        batch = task["batch"]
        if kind == "fit":
            return self.fit_epochs(model, x, y, batch, task["epochs"])
        if kind == "predict":

            def op():
                model.predict(x, batch_size=batch, verbose=0)

        elif kind == "predict_on_batch":
            xb = x[:batch]

            def op():
                model.predict_on_batch(xb)

        else:
            raise ValueError(f"Unknown task kind: {kind!r}")

        key = json.dumps(task, sort_keys=True)
        if key not in self.warm:
            op()  # warm-up: buffers, TensorFlow's traced functions
            self.warm.add(key)
        gc.collect()  # once: collecting before each repetition would leave BLAS threads asleep
        times = []
        for _ in range(task.get("reps", 1)):
            start = time.perf_counter()
            op()
            times.append(time.perf_counter() - start)
        return {"seconds": statistics.median(times)}

    def fit_epochs(self, model, x, y, batch, epochs):
        """Wall seconds of each epoch of one ``fit()`` call, and the median of epochs 2..N."""
        if epochs < 2:
            raise ValueError(f"A fit task needs at least 2 epochs (epoch 1 is dropped): {epochs}")
        times = []

        class EpochTimer(self.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        gc.collect()
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
        if len(times) != epochs:
            raise RuntimeError(f"fit() ran {len(times)} of {epochs} epochs")
        return {"seconds": statistics.median(times[1:]), "epochs": times}

    def check(self, name, n, seed):
        x, _ = self.inputs(name, 8, seed)
        out = self.model(name, seed).predict_on_batch(x[:n])
        return np.asarray(out, dtype=np.float64).ravel().tolist()

    def save(self, name, directory, seed):
        model = self.model(name, seed)
        model.save(os.path.join(directory, f"{name}.keras"))
        model.save_weights(os.path.join(directory, f"{name}.weights.h5"))

    def save_weights(self, name, path, seed):
        self.model(name, seed).save_weights(path)

    def load_weights(self, name, path, seed):
        self.model(name, seed).load_weights(path)

    def probe(self, name, directory, seed):
        """Which of the files written by ``save`` this framework loads back correctly."""
        x, _ = self.images(_models.image_size(name), 8, seed)
        expected = np.asarray(self.model(name, seed).predict_on_batch(x))
        result = {}
        for how in ("load_model", "load_weights"):
            try:
                if how == "load_model":
                    model = self.models_module.load_model(os.path.join(directory, f"{name}.keras"))
                else:
                    model = _models.build(name, self.layers, self.models_module)
                    model.load_weights(os.path.join(directory, f"{name}.weights.h5"))
                got = np.asarray(model.predict_on_batch(x))
                result[how] = bool(np.allclose(got, expected, rtol=1e-4, atol=1e-6))
            except Exception:
                traceback.print_exc()  # to the worker's stderr log
                result[how] = False
        return result


def shared_weights(shapes, seed):
    """Glorot-uniform kernels and small biases from one seed: the same arrays in both workers."""
    rng = np.random.default_rng(seed)
    weights = []
    for shape in shapes:
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            fan_out = int(shape[-1]) * int(np.prod(shape[:-2]))
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            weights.append(rng.uniform(-limit, limit, size=shape).astype(np.float32))
        else:
            weights.append(rng.uniform(-0.05, 0.05, size=shape).astype(np.float32))
    return weights


def blas_info():
    """numpy's BLAS: what threadpoolctl sees loaded, numpy's build config, the core-type env."""
    info = {"env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["numpy_build"] = {k: blas.get(k) for k in ("name", "version")}
    except Exception:  # older numpy: no mode="dicts"
        info["numpy_build"] = None
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                k: pool.get(k)
                for k in ("user_api", "internal_api", "version", "architecture", "num_threads")
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = None
    return info


class NumpyKeras(Framework):
    name = "numpykeras"

    def __init__(self, threads):
        super().__init__(threads)
        self.limiter = None
        try:  # the environment already asks for `threads`; threadpoolctl makes sure
            from threadpoolctl import threadpool_limits

            self.limiter = threadpool_limits(limits=threads)
        except ImportError:
            pass
        import numpykeras
        from numpykeras import applications, callbacks, layers, models, optimizers

        self.module = numpykeras
        self.callbacks = callbacks
        self.applications = applications
        self.layers, self.models_module, self.optimizers = layers, models, optimizers

    def info(self):
        import importlib.util

        return {
            "version": self.module.__version__,
            "path": os.path.dirname(self.module.__file__),
            "numpy": np.__version__,
            "saving_api": importlib.util.find_spec("numpykeras.saving.saving_api") is not None,
            "blas": blas_info(),
        }


class TensorFlow(Framework):
    name = "tensorflow"

    def __init__(self, threads):
        super().__init__(threads)
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras
        from keras import applications, callbacks, layers, models, optimizers

        self.applications = applications
        self.callbacks = callbacks
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}, not TensorFlow")
        self.tf, self.keras = tf, keras
        self.layers, self.models_module, self.optimizers = layers, models, optimizers

    def info(self):
        tf = self.tf
        return {
            "version": tf.__version__,
            "keras": self.keras.__version__,
            "numpy": np.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 CPUs)"),
        }


def main(argv):
    framework_name, threads = argv[0], int(argv[1])
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the framework prints goes to stderr, keeping the answer channel clean
    seed = 0
    try:
        fw = (NumpyKeras if framework_name == "numpykeras" else TensorFlow)(threads)
    except Exception:
        answers.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        return 1
    answers.write(json.dumps({"ready": fw.name}) + "\n")
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "quit":
                answers.write(json.dumps({}) + "\n")
                break
            if cmd == "setup":
                seed = msg["seed"]
                answer = fw.info()
            elif cmd == "run":
                answer = fw.run(msg["task"], seed)
            elif cmd == "check":
                answer = {"outputs": fw.check(msg["model"], msg["n"], seed)}
            elif cmd == "save":
                fw.save(msg["model"], msg["dir"], seed)
                answer = {}
            elif cmd in ("save_weights", "load_weights"):
                getattr(fw, cmd)(msg["model"], msg["path"], seed)
                answer = {}
            elif cmd == "probe":
                answer = fw.probe(msg["model"], msg["dir"], seed)
            else:
                raise ValueError(f"Unknown command: {cmd!r}")
        except Exception:
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
