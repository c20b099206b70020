"""numpykeras vs TensorFlow (Keras 3), side by side, on the same models, data, batches and threads.

Run (from any directory)::

    python3 benchmarks/bench.py            # several minutes on 2 cores
    python3 benchmarks/bench.py --quick    # a few minutes: fewer rounds and images
    python3 benchmarks/bench.py --no-tf    # numpykeras alone
    python3 benchmarks/bench.py --quick --baseline 9fbbe6c   # also numpykeras as at git 9fbbe6c
    python3 benchmarks/bench.py --quick --only fit           # only the training rows
    python3 benchmarks/bench.py --quick --only recurrent     # only the LSTM and GRU rows
    python3 benchmarks/bench.py --only attention,conv3d      # only those layer families' rows

How it measures:

- each framework runs in its own long-lived worker process (``_worker.py``), started with the same
  thread count (``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` and threadpoolctl for NumPy's BLAS,
  intra/inter-op threads for TensorFlow), so thread pools and environments never mix;
- both build the same model from the same code (``_models.py``) with the same seeded weights and
  data (their outputs are compared as a check), and every prediction task is warmed up once
  first (a training task drops its first epoch instead, see below);
- the two workers ALTERNATE: each round runs every task once in numpykeras and once in TensorFlow,
  the order swapped every round; the table shows medians over rounds and the ratio of the medians;
- training rows measure the steady state: each round makes ONE ``fit()`` call of N epochs (N >= 3)
  over 2,048 images (the VGG row: fewer with ``--quick``, as its label says), a callback records
  each epoch's wall time (``on_epoch_begin`` / ``on_epoch_end``, ``time.perf_counter``), and the
  round's value is the median of epochs 2..N: epoch 1 (warm-up, TensorFlow's tracing) is dropped,
  and so is the per-call setup outside the epochs (TensorFlow's conversion of the arrays to a
  dataset), which short whole-``fit()`` timings would count;
- ``--baseline REV`` (a git revision) exports numpykeras/ as it was at ``REV`` (``git archive``)
  into the run's temporary directory and runs it in a third worker, ``numpykeras@REV``, with the
  same tasks in the same alternation (and the same cold starts); the tables get a column for it
  and the ratio new/old (this tree's median over ``REV``'s), so old and new code are compared in
  one run on the same machine state;
- cold start and peak memory ("import, load a saved model, predict one image") are measured in a
  fresh ``python -c`` subprocess per run (wall time from spawn to exit, peak RSS from ``wait4``),
  alternating too, after the workers have exited. The model is saved by Keras (by numpykeras with
  ``--no-tf``) as ``.keras`` and ``.weights.h5``; both sides ``load_model`` the ``.keras`` file if
  numpykeras loads it correctly, else build the model and ``load_weights``, else only build it
  (the output says which).

``--only fit`` (or ``predict``, ``predict_on_batch``, ``latency``, ``cold_start``, ``scaling``,
``recurrent``, ``attention``, ``conv3d``, ``convlstm``, comma-separated) runs only those rows: a
reduced plan for trying a change. ``recurrent`` selects the LSTM and GRU table (batch 32 of 100
steps x 64 features, 128 units: a batch's inference, the steady-state training step and one
sequence's latency). ``attention``, ``conv3d`` and ``convlstm`` select the same three rows for a
small classifier of that layer family (``_models.FAMILIES``): a transformer-encoder block on 64
tokens (batch 32), Conv3D on 16x16x16x1 volumes (batch 16), ConvLSTM2D on 10 frames of 32x32x1
(batch 8).

The table goes to stdout as markdown; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import importlib.util
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _models  # noqa: E402  (the benchmark's models: shapes of the recurrent and family rows)

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
WORKER = os.path.join(BENCH_DIR, "_worker.py")
FRAMEWORKS = ("numpykeras", "tensorflow")
# The worker running numpykeras/ as it was at ``--baseline REV`` is called BASELINE + short hash.
BASELINE = "numpykeras@"
# What ``--only`` can select: the metric of a table row, or the scaling tables.
ONLY_CHOICES = (
    "predict",
    "predict_on_batch",
    "latency",
    "fit",
    "cold_start",
    "scaling",
    "recurrent",
    "attention",
    "conv3d",
    "convlstm",
)
SEED = 0
# Pause when switching from one worker to the other, so the idle side's spinning BLAS / Eigen
# threads have gone to sleep before the other side's clock starts.
SWITCH_PAUSE = 0.05

# (direction, value): "min" means numpykeras/TensorFlow must be at least value, "max" at most
# value; "abs_ms" is an absolute bound on numpykeras's milliseconds.
TARGETS = {
    "predict": ("min", 1.2),
    "predict_on_batch": ("min", 0.6),
    "latency": ("abs_ms", 1.0),
    "fit": ("min", 1.0),
    "cold_start": ("max", 0.1),
    "peak_rss": ("max", 0.3),
    # the recurrent table: at least as fast as TensorFlow (sequences/s, and latency ms)
    "rnn_predict_on_batch": ("min", 1.0),
    "rnn_fit": ("min", 1.0),
    "rnn_latency": ("max", 1.0),
    # the layer-family tables (attention, conv3d, convlstm): the recurrent table's targets
    "family_predict_on_batch": ("min", 1.0),
    "family_fit": ("min", 1.0),
    "family_latency": ("max", 1.0),
}
# Recurrent models of the benchmark (``_models.RECURRENT``), with their table labels.
RECURRENT_MODELS = ("lstm", "gru")
RECURRENT_LABELS = {"lstm": "LSTM", "gru": "GRU"}
# ImageNet models of the benchmark (``_models.APPLICATIONS``), with their table labels.
IMAGENET_MODELS = ("resnet50", "mobilenetv2")
IMAGENET_LABELS = {"resnet50": "ResNet50", "mobilenetv2": "MobileNetV2"}
# Layer-family models of the benchmark (``_models.FAMILIES``; each its own ``--only`` name and
# table): name -> (table label, batch, what one input is called, plural).
FAMILY_MODELS = ("attention", "conv3d", "convlstm")
FAMILIES = {
    "attention": ("MultiHeadAttention block", 32, "sequence", "sequences"),
    "conv3d": ("Conv3D", 16, "volume", "volumes"),
    "convlstm": ("ConvLSTM2D", 8, "clip", "clips"),
}


# --------------------------------------------------------------------------------------- plan


def make_plan(quick, rounds, with_imagenet=True):
    """The tasks of one round, by section. A task is what a worker times once per round.

    A ``fit`` task is one ``fit()`` call of ``epochs`` epochs over ``n`` images whose value is
    the median time of epochs 2..N; ``max_rounds`` (if set) times it in the first rounds only.
    """
    if quick:
        n_predict, pob_reps, latency_reps = 256, 2, 10
        recurrent = {"reps": 5, "latency_reps": 10, "fit": (256, 3)}  # fit: (sequences, epochs)
        # fit: (inputs, epochs) per family model
        families = {
            "reps": 5,
            "latency_reps": 10,
            "fit": {"attention": (256, 3), "conv3d": (128, 3), "convlstm": (32, 3)},
        }
        # fit: (images, epochs, rounds timed: None for every round)
        fit = (2048, 3, None)
        vgg = {"predict": (32, 32), "fit": (256, 3, None)}  # predict: (images, batch)
        batch_scaling = {1: (16, 10), 16: (64, 5), 64: (128, 2), 256: (256, 2)}  # (images, reps)
        size_images = 16
        imagenet = {"predict": (8, 8), "on_batch": {1: 3, 8: 1}}  # (images, batch); batch: reps
    else:
        n_predict, pob_reps, latency_reps = 512, 3, 30
        recurrent = {"reps": 10, "latency_reps": 30, "fit": (512, 3)}
        # ConvLSTM2D trains at about 3 clips per 100 ms in numpykeras: 64 clips an epoch
        families = {
            "reps": 10,
            "latency_reps": 30,
            "fit": {"attention": (512, 3), "conv3d": (256, 3), "convlstm": (64, 3)},
        }
        fit = (2048, 4, None)
        # 2,048 VGG images take about 18 s an epoch in numpykeras: 3 epochs, first 2 rounds
        vgg = {"predict": (256, 256), "fit": (2048, 3, 2)}
        batch_scaling = {1: (32, 30), 16: (128, 10), 64: (256, 3), 256: (512, 3)}
        size_images = 64
        imagenet = {"predict": (32, 16), "on_batch": {1: 5, 8: 2}}

    def fit_row(model, n, epochs, max_rounds, batch=64):
        task = {"kind": "fit", "model": model, "n": n, "batch": batch, "epochs": epochs}
        images = f"{n} images"
        if n < 2048:
            images += " (fewer with --quick; 2048 in full runs)"
        label = (
            f"fit images/s (steady state: median of epochs 2..{epochs}, one fit() of {epochs} "
            f"epochs over {images}; batch {batch}, Adam, sparse CE"
        )
        if max_rounds is not None and max_rounds < rounds:
            task["max_rounds"] = max_rounds
            label += f"; timed in the first {max_rounds} of the {rounds} rounds only"
        return ("fit", label + ")", task)

    def predict(model, n, batch):
        return {"kind": "predict", "model": model, "n": n, "batch": batch}

    def on_batch(model, batch, reps):
        return {
            "kind": "predict_on_batch",
            "model": model,
            "n": batch,
            "batch": batch,
            "reps": reps,
        }

    main = [
        (
            "predict",
            f"predict() images/s (batch 256, {n_predict} images)",
            predict("cnn32", n_predict, 256),
        ),
        (
            "predict_on_batch",
            "predict_on_batch images/s (batch 256)",
            on_batch("cnn32", 256, pob_reps),
        ),
        (
            "latency",
            f"one-image latency ms (predict_on_batch, median of {latency_reps})",
            dict(on_batch("cnn32", 1, latency_reps), unit="ms"),
        ),
        fit_row("cnn32", *fit),
    ]
    vgg_n, vgg_batch = vgg["predict"]
    large = [
        (
            "predict",
            f"predict() images/s (batch {vgg_batch}, {vgg_n} images)",
            predict("vgg64", vgg_n, vgg_batch),
        ),
        fit_row("vgg64", *vgg["fit"]),
    ]
    # (row, predict() task, predict_on_batch task); the batch-256 and batch-1 predict_on_batch
    # tasks are the main table's (same settings), so they run once a round.
    by_batch = [
        (b, predict("cnn32", n, b), on_batch("cnn32", b, reps))
        for b, (n, reps) in batch_scaling.items()
    ]
    size_batch = min(64, size_images)
    by_size = [
        (s, predict(f"cnn{s}", size_images, size_batch), on_batch(f"cnn{s}", size_batch, pob_reps))
        for s in (32, 64, 128)
    ]
    imagenet_rows = []
    n_im, batch_im = imagenet["predict"]
    for model in IMAGENET_MODELS:
        for b, reps in imagenet["on_batch"].items():
            imagenet_rows.append(
                (
                    "predict_on_batch",
                    f"{IMAGENET_LABELS[model]}: predict_on_batch images/s (batch {b}, "
                    f"median of {reps})",
                    on_batch(model, b, reps),
                )
            )
        imagenet_rows.append(
            (
                "predict",
                f"{IMAGENET_LABELS[model]}: predict() images/s (batch {batch_im}, {n_im} images)",
                predict(model, n_im, batch_im),
            )
        )

    def layer_rows(prefix, model, name, batch, one, many, settings, fit):
        """A layer table's rows: a batch's inference, the steady-state training step and one
        input's latency (metrics ``prefix`` + ``_predict_on_batch``, ``_fit``, ``_latency``)."""
        n_fit, epochs = fit
        return [
            (
                f"{prefix}_predict_on_batch",
                f"{name}: predict_on_batch {many}/s (batch {batch}, median of {settings['reps']})",
                on_batch(model, batch, settings["reps"]),
            ),
            (
                f"{prefix}_fit",
                f"{name}: fit {many}/s (steady state: median of epochs 2..{epochs}, one fit() "
                f"of {epochs} epochs over {n_fit} {many}; batch {batch}, Adam, sparse CE)",
                {"kind": "fit", "model": model, "n": n_fit, "batch": batch, "epochs": epochs},
            ),
            (
                f"{prefix}_latency",
                f"{name}: one-{one} latency ms (predict_on_batch, median of "
                f"{settings['latency_reps']})",
                dict(on_batch(model, 1, settings["latency_reps"]), unit="ms"),
            ),
        ]

    recurrent_rows = []
    for model in RECURRENT_MODELS:
        recurrent_rows += layer_rows(
            "rnn",
            model,
            RECURRENT_LABELS[model],
            32,
            "sequence",
            "sequences",
            recurrent,
            recurrent["fit"],
        )
    plan = {
        "main": main,
        "large": large,
        "by_batch": by_batch,
        "by_size": by_size,
        "imagenet": imagenet_rows if with_imagenet else [],
        "recurrent": recurrent_rows,
    }
    for model in FAMILY_MODELS:
        name, batch, one, many = FAMILIES[model]
        plan[model] = layer_rows(
            "family", model, name, batch, one, many, families, families["fit"][model]
        )
    return plan


def filter_plan(plan, only):
    """Keep the rows ``only`` selects (see ``ONLY_CHOICES``); ``None`` keeps everything."""
    if only is None:
        return plan
    kept = dict(plan)
    for section in ("main", "large", "imagenet"):
        kept[section] = [row for row in plan[section] if row[0] in only]
    if "scaling" not in only:
        kept["by_batch"] = []
        kept["by_size"] = []
    for section in ("recurrent", *FAMILY_MODELS):
        if section not in only:
            kept[section] = []
    return kept


def unique_tasks(plan):
    """Every distinct task of the plan once (a task shared by two sections runs once a round)."""
    tasks = {}
    for section in ("main", "large", "imagenet", "recurrent", *FAMILY_MODELS):
        for _, _, task in plan[section]:
            tasks[task_key(task)] = task
    for section in ("by_batch", "by_size"):
        for _, *row_tasks in plan[section]:
            for task in row_tasks:
                tasks[task_key(task)] = task
    return list(tasks.values())


def task_key(task):
    return json.dumps(task, sort_keys=True)


def images_per_second(task, seconds):
    """Images/s of one measurement; a ``fit`` measurement is the seconds of one epoch."""
    images = task["batch"] if task["kind"] == "predict_on_batch" else task["n"]
    return images / seconds


def ms_per_batch(task, seconds):
    batches = 1 if task["kind"] == "predict_on_batch" else task["n"] / task["batch"]
    return seconds / batches * 1e3


def task_value(task, seconds):
    """A measurement in its table unit: images/s, or milliseconds for the one-image latency row.

    Only rows that say "ms" are latencies; every other row (batch-1 ImageNet rows included) is
    images/s, so that a ratio above 1 always means numpykeras is faster.
    """
    if task.get("unit") == "ms":
        return ms_per_batch(task, seconds)
    return images_per_second(task, seconds)


# ------------------------------------------------------------------------------------ workers


def snapshot_source(directory):
    """Copy this tree's ``numpykeras/`` into ``directory``: every process of the run imports the
    same code even if the tree is edited meanwhile. Returns the folder to put on ``sys.path``."""
    package = os.path.join(REPO_ROOT, "numpykeras")
    if not os.path.isdir(package):
        return None  # not in a checkout: the installed numpykeras is benchmarked
    source = os.path.join(directory, "src")
    shutil.copytree(
        package,
        os.path.join(source, "numpykeras"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # Byte-compile it once, as `pip install` does (TensorFlow's installed modules are compiled
    # too): with PYTHONDONTWRITEBYTECODE set, every cold start would otherwise compile all of
    # numpykeras's modules from source again (about 0.1 s).
    compileall.compile_dir(source, quiet=1)
    return source


def export_revision(revision, directory):
    """numpykeras/ as it was at git ``revision``, exported (``git archive``) into
    ``directory``/baseline and byte-compiled like the snapshot. Returns the folder to put on
    ``sys.path`` and the revision's short hash; raises ``ValueError`` if git cannot export it."""

    def git(*cmd, text=True):
        return subprocess.run(
            ["git", "-C", REPO_ROOT, *cmd], capture_output=True, text=text, check=True
        ).stdout

    try:
        commit = git("rev-parse", "--verify", "--quiet", "--short", f"{revision}^{{commit}}")
        commit = commit.strip()
        archive = git("archive", "--format=tar", commit, "numpykeras", text=False)
    except OSError as e:
        raise ValueError(f"--baseline {revision}: git could not run ({e})") from None
    except subprocess.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        raise ValueError(
            f"--baseline {revision}: git cannot export numpykeras/ at that revision "
            f"({(stderr or '').strip() or 'not a commit of this repository'})"
        ) from None
    source = os.path.join(directory, "baseline")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(source, filter="data")
        else:  # Python without extraction filters; the archive is our own repository's
            tar.extractall(source)
    compileall.compile_dir(source, quiet=1)
    return source, commit


def git_revision():
    """``HEAD``'s short hash, plus ``+ uncommitted changes`` when numpykeras/ differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", REPO_ROOT, "status", "--porcelain", "--", "numpykeras"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" + uncommitted changes" if dirty else "")


def child_env(threads, unset_coretype, source=None):
    """The environment of every worker and cold-start child: same threads for both frameworks."""
    env = dict(os.environ)
    if source:
        env["NUMPYKERAS_BENCH_SOURCE"] = source
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["KERAS_BACKEND"] = "tensorflow"
    env.pop("TF_USE_LEGACY_KERAS", None)  # Keras 3, not tf_keras
    env["PYTHONWARNINGS"] = "ignore"
    if unset_coretype:  # both together, in these children only
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    return env


class WorkerError(RuntimeError):
    pass


class Worker:
    """A ``_worker.py`` process and its JSON-lines channel. ``name`` is its column in the report:
    the framework, or ``numpykeras@REV`` for the ``--baseline`` worker."""

    def __init__(self, framework, threads, env, log_dir, name=None):
        self.framework = framework
        self.name = name or framework
        self.log_path = os.path.join(log_dir, f"{self.name}.stderr.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, WORKER, framework, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            bufsize=1,
        )
        self.info = {}
        self._read()  # {"ready": ...} once the framework is imported

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"the {self.name} worker exited.\n{self.log_tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(f"the {self.name} worker failed:\n{answer['error']}")
        return answer

    def request(self, cmd, **fields):
        try:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
            self.proc.stdin.flush()
        except OSError:  # the process has exited
            raise WorkerError(f"the {self.name} worker exited.\n{self.log_tail()}") from None
        return self._read()

    def log_tail(self, lines=20):
        self.log.flush()
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])

    def close(self):
        try:
            if self.proc.poll() is None:
                self.request("quit")
                self.proc.wait(timeout=30)
        except (WorkerError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run_rounds(workers, tasks, rounds, round_loads, notes):
    """``samples[task_key][worker name]``: seconds, one per round, the workers alternating, and
    ``fit_epochs[task_key][worker name]``: each round's list of epoch seconds of the fit tasks.

    Appends the 1-minute load average at the end of each round to ``round_loads``. A task that
    fails in the ``--baseline`` worker is left out of its column (with a note); a failure
    anywhere else stops the run.
    """
    samples = {task_key(t): {w.name: [] for w in workers} for t in tasks}
    fit_epochs = {task_key(t): {w.name: [] for w in workers} for t in tasks if t["kind"] == "fit"}
    failed = set()  # (worker name, task key) of the baseline worker's failures
    for r in range(rounds):
        start = time.perf_counter()
        order = workers if r % 2 == 0 else workers[::-1]
        for task in tasks:
            if r >= task.get("max_rounds", rounds):
                continue
            key = task_key(task)
            for worker in order:
                if (worker.name, key) in failed:
                    continue
                time.sleep(SWITCH_PAUSE)
                try:
                    answer = worker.request("run", task=task)
                except WorkerError as e:
                    if worker.name == worker.framework:
                        raise
                    progress(f"{worker.name} failed a task, left out of its column: {e}")
                    if worker.proc.poll() is not None:  # exited: no further task runs
                        notes.append(f"{worker.name}: its worker exited during round {r + 1}")
                        failed.update((worker.name, task_key(t)) for t in tasks)
                    else:
                        notes.append(f"{worker.name}: failed (left out of its column): {key}")
                        failed.add((worker.name, key))
                    continue
                samples[key][worker.name].append(answer["seconds"])
                if key in fit_epochs:
                    fit_epochs[key][worker.name].append(answer["epochs"])
        round_loads.append(load_average().split()[0])
        progress(
            f"  round {r + 1}/{rounds}: {time.perf_counter() - start:.1f} s, load {round_loads[-1]}"
        )
    return samples, fit_epochs


# --------------------------------------------------------------------------------- cold start

# What a cold start does after importing, by mode (see ``choose_cold_mode``).
COLD_MODES = {
    "load_model": (
        "import, load_model(.keras), predict 1 image",
        "model = models.load_model({keras_path!r})",
    ),
    "load_weights": (
        "import, build in code, load_weights(.weights.h5), predict 1 image",
        "from _models import reference_cnn\n"
        "model = reference_cnn(layers, models)\n"
        "model.load_weights({weights_path!r})",
    ),
    "build": (
        "import, build in code (no saved file), predict 1 image",
        "from _models import reference_cnn\nmodel = reference_cnn(layers, models)",
    ),
}

COLD_START_CODE = """\
import sys
sys.path[:0] = [{source!r}, {bench!r}]
{imports}
{load}
import json
import numpy as np
probs = model.predict(np.full((1, {size}, {size}, 3), 0.5, dtype="float32"), verbose=0)
print(json.dumps(np.asarray(probs, dtype=np.float64).ravel().tolist()))
"""

COLD_IMPORTS = {
    "numpykeras": "from numpykeras import layers, models",
    "tensorflow": (
        "import tensorflow as tf\n"
        "tf.config.threading.set_intra_op_parallelism_threads({threads})\n"
        "tf.config.threading.set_inter_op_parallelism_threads({threads})\n"
        "from keras import layers, models"
    ),
}


def choose_cold_mode(nk, tf, nk_info, directory, notes):
    """Save the reference CNN (by Keras when it runs) and pick what numpykeras can load back."""
    if not nk_info["saving_api"]:
        notes.append(
            "numpykeras.saving.saving_api is missing: the cold start builds the model in code "
            "and loads no file (both frameworks do the same)"
        )
        return "build"
    writer = tf or nk
    who = "Keras" if writer is tf else "numpykeras"
    try:
        writer.request("save", model="cnn32", dir=directory)
        probe = nk.request("probe", model="cnn32", dir=directory)
    except WorkerError as e:
        progress(f"saving / loading failed, the cold start builds in code: {e}")
        probe = {}
    for mode in ("load_model", "load_weights"):
        if probe.get(mode):
            sides = "both sides" if tf else "numpykeras"
            notes.append(f"cold start: the saved files were written by {who}; {sides} {mode}")
            return mode
    notes.append(
        f"cold start: numpykeras could not load the files written by {who}, so both sides build "
        "the model in code instead"
    )
    return "build"


def share_imagenet_weights(nk, tf, baseline, plan, directory, notes):
    """Give numpykeras the TensorFlow side's random ImageNet-model weights (a .weights.h5 file
    written by Keras) and check their outputs agree; a model that fails is dropped from the plan.
    The ``--baseline`` worker gets the same weights (numpykeras's own without TensorFlow)."""
    if tf is None:
        notes.append("ImageNet models: numpykeras's own random weights (TensorFlow not run)")
        if baseline is not None:
            for model in IMAGENET_MODELS:
                if any(task["model"] == model for _, _, task in plan["imagenet"]):
                    path = os.path.join(directory, f"{model}.weights.h5")
                    share_baseline_weights(nk, baseline, model, path, notes)
        return
    kept = set()
    for model in IMAGENET_MODELS:
        if not any(task["model"] == model for _, _, task in plan["imagenet"]):
            continue
        path = os.path.join(directory, f"{model}.weights.h5")
        try:
            tf.request("save_weights", model=model, path=path)
            nk.request("load_weights", model=model, path=path)
            outs = [w.request("check", model=model, n=2)["outputs"] for w in (nk, tf)]
        except WorkerError as e:
            progress(f"{model}: could not share the weights, left out: {e}")
            notes.append(f"{IMAGENET_LABELS[model]}: left out (its weights could not be shared)")
            continue
        diff = max(abs(a - b) for a, b in zip(*outs))
        notes.append(
            f"{IMAGENET_LABELS[model]}: weights written by Keras (`save_weights`), loaded by "
            f"numpykeras; outputs on 2 images differ by at most {diff:.1e}"
        )
        kept.add(model)
        if baseline is not None:
            share_baseline_weights(nk, baseline, model, path, notes, written=True)
    plan["imagenet"] = [row for row in plan["imagenet"] if row[2]["model"] in kept]


def share_baseline_weights(nk, baseline, model, path, notes, written=False):
    """Load numpykeras's ``model`` weights (the file at ``path``; written by numpykeras first
    unless ``written``) into the ``--baseline`` worker and compare their outputs."""
    label = IMAGENET_LABELS[model]
    try:
        if not written:
            nk.request("save_weights", model=model, path=path)
        baseline.request("load_weights", model=model, path=path)
        outs = [w.request("check", model=model, n=2)["outputs"] for w in (nk, baseline)]
    except WorkerError as e:
        progress(f"{baseline.name} could not load the {label} weights: {e}")
        notes.append(f"{baseline.name}: {label} with its own random weights (loading failed)")
        return
    diff = max(abs(a - b) for a, b in zip(*outs))
    notes.append(
        f"{baseline.name}: {label} with the same weights; outputs on 2 images differ from this "
        f"tree's by at most {diff:.1e}"
    )


def cold_start(framework, threads, env, mode, directory, model="cnn32", size=32):
    """Wall seconds, peak RSS (MiB) and outputs of one fresh ``python -c`` run: import, load
    ``model`` (the files ``save`` wrote in ``directory``) as ``mode`` says, predict one image."""
    load = COLD_MODES[mode][1].format(
        keras_path=os.path.join(directory, f"{model}.keras"),
        weights_path=os.path.join(directory, f"{model}.weights.h5"),
    )
    code = COLD_START_CODE.format(
        source=env.get("NUMPYKERAS_BENCH_SOURCE", REPO_ROOT),
        bench=BENCH_DIR,
        imports=COLD_IMPORTS[framework].format(threads=threads),
        load=load,
        size=size,
    )
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=err, env=env, text=True
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode != 0:
            err.seek(0)
            tail = "".join(err.readlines()[-20:])
            raise WorkerError(f"the {framework} cold start failed:\n{tail}")
    # ru_maxrss is in KiB on Linux
    return seconds, usage.ru_maxrss / 1024.0, json.loads(out.strip().splitlines()[-1])


def cold_starts(args, sides, mode, directory, notes, model="cnn32", size=32):
    """``{name: {"seconds", "rss", "outputs"}}`` of ``args.cold_rounds`` cold starts per side
    (``sides``: name -> (framework, env)), the sides alternating. A ``--baseline`` side whose cold
    start fails is left out with a note; any other failure raises ``WorkerError``."""
    result = {name: {"seconds": [], "rss": [], "outputs": None} for name in sides}
    names = list(sides)
    for r in range(args.cold_rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if name not in result:
                continue
            framework, env = sides[name]
            try:
                seconds, rss, outputs = cold_start(
                    framework, args.threads, env, mode, directory, model=model, size=size
                )
            except WorkerError as e:
                if name == framework:
                    raise
                progress(f"{name}: the {model} cold start failed, left out: {e}")
                notes.append(f"{name}: {model} cold start left out (it failed)")
                del result[name]
                continue
            result[name]["seconds"].append(seconds)
            result[name]["rss"].append(rss)
            result[name]["outputs"] = outputs
    return result


def max_difference(result, a, b):
    """The largest difference between the cold-start outputs of sides ``a`` and ``b``."""
    return max(abs(x - y) for x, y in zip(result[a]["outputs"], result[b]["outputs"]))


def resnet_cold_starts(args, sides, directory, notes):
    """``{name: {"seconds", "rss"}}`` of ResNet50 cold starts (import, ``load_model`` of
    the ``.keras`` file Keras wrote, predict one 224x224 image), or ``None`` if one fails."""
    try:
        result = cold_starts(
            args, sides, "load_model", directory, notes, model="resnet50", size=224
        )
    except WorkerError as e:
        progress(f"ResNet50 cold start failed, left out: {e}")
        notes.append("ResNet50 cold start: left out (a cold start failed)")
        return None
    if "tensorflow" in result:
        notes.append(
            "ResNet50 cold start: both sides load_model the .keras file written by Keras; "
            f"their predictions differ by at most "
            f"{max_difference(result, 'numpykeras', 'tensorflow'):.1e}"
        )
    for name in result:
        if name.startswith(BASELINE):
            notes.append(
                f"{name}: ResNet50 cold-start predictions differ from this tree's by at most "
                f"{max_difference(result, 'numpykeras', name):.1e}"
            )
    return result


# ----------------------------------------------------------------------------------- reporting

# The layer-family tables' headings (the models: ``benchmarks/_models.py``).
FAMILY_HEADINGS = {
    "attention": (
        f"Attention: a transformer-encoder block (Embedding({_models.ATTENTION_VOCAB}, "
        f"{_models.ATTENTION_EMBED}), MultiHeadAttention({_models.ATTENTION_HEADS} heads, "
        f"key_dim {_models.ATTENTION_KEY_DIM}) self-attention + residual, LayerNormalization, "
        f"GlobalAveragePooling1D, Dense(10, softmax)) on {_models.ATTENTION_SHAPE[0]} tokens"
    ),
    "conv3d": (
        "3-D convolution: Conv3D(16, 3), MaxPooling3D, Conv3D(32, 3), GlobalAveragePooling3D, "
        f"Dense(10, softmax) on {'x'.join(map(str, _models.VOLUME_SHAPE))} volumes"
    ),
    "convlstm": (
        f"ConvLSTM2D(16, 3, padding='same') over {_models.CLIP_SHAPE[0]} frames of "
        f"{'x'.join(map(str, _models.CLIP_SHAPE[1:]))}, GlobalAveragePooling2D, "
        "Dense(10, softmax)"
    ),
}


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = int(line.split()[1]) / 1024**2  # KiB -> GiB
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable": usable, "mem_gib": mem}


def load_average():
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def blas_lines(blas):
    lines = []
    build = blas.get("numpy_build")
    if build:
        lines.append(f"numpy built with {build.get('name')} {build.get('version')}")
    pools = blas.get("threadpools")
    if pools is None:
        lines.append("threadpoolctl not installed: loaded BLAS unknown")
    else:
        for pool in pools:
            lines.append(
                f"loaded {pool.get('internal_api')} {pool.get('version')}, "
                f"kernel {pool.get('architecture')}, {pool.get('num_threads')} threads"
            )
    env = blas.get("env", {})
    lines.append(", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in env.items()))
    return "; ".join(lines)


def summarize(values):
    """Median and half the min-max spread as a percentage of the median."""
    if not values:
        return None, None
    med = statistics.median(values)
    spread = (max(values) - min(values)) / 2 / med * 100 if med else 0.0
    return med, spread


def fmt(value, digits):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def cell(values, digits):
    med, spread = summarize(values)
    if med is None:
        return "—"
    return f"{fmt(med, digits)} ±{spread:.0f}%" if len(values) > 1 else fmt(med, digits)


def digits_for(value):
    if value is None:
        return 0
    return 0 if value >= 100 else (1 if value >= 10 else (2 if value >= 0.1 else 3))


def ratio(nk, tf):
    if nk is None or tf is None or tf == 0:
        return None
    return nk / tf


def target_cell(metric, nk, r):
    if metric not in TARGETS:
        return "—"
    direction, bound = TARGETS[metric]
    if direction == "abs_ms":
        text = f"< {bound:g} ms"
        ok = nk is not None and nk < bound
    elif direction == "min":
        text = f"≥ {bound:g}x"
        ok = None if r is None else r >= bound
    else:
        text = f"≤ {bound:g}x"
        ok = None if r is None else r <= bound
    if ok is None:
        return text
    return f"{text}: {'met' if ok else 'missed'}"


def ratio_cell(r):
    return "—" if r is None else f"{r:.2f}x"


def metric_rows(rows, baseline=None):
    """Markdown rows ``metric | numpykeras | TensorFlow | ratio | target`` from measured values,
    then ``baseline | ratio new/old`` when a ``--baseline`` worker ran (``baseline``: its name;
    each row then ends with that worker's values)."""
    lines = [
        "| metric | numpykeras | TensorFlow | ratio nk/TF | target |",
        "|---|---:|---:|---:|---|",
    ]
    if baseline:
        lines[0] += f" {baseline} | ratio new/old |"
        lines[1] += "---:|---:|"
    for metric, label, nk_values, tf_values, *old in rows:
        old_values = old[0] if old else []
        nk, _ = summarize(nk_values)
        tf, _ = summarize(tf_values)
        base, _ = summarize(old_values)
        present = [v for v in (nk, tf, base) if v is not None]
        digits = digits_for(min(present) if present else None)
        r = ratio(nk, tf)
        line = (
            f"| {label} | {cell(nk_values, digits)} | {cell(tf_values, digits)} | "
            f"{ratio_cell(r)} | {target_cell(metric, nk, r)} |"
        )
        if baseline:
            line += f" {cell(old_values, digits)} | {ratio_cell(ratio(nk, base))} |"
        lines.append(line)
    return lines


def report(args, plan, samples, cold, info, notes, load_before, load_after):
    has_tf = "tensorflow" in info
    nk_info = info["numpykeras"]
    baseline = next((name for name in info if name.startswith(BASELINE)), None)
    machine = machine_info()

    def values(task, name, unit=task_value):
        return [unit(task, s) for s in samples.get(task_key(task), {}).get(name, [])]

    def medians(task, unit):
        """Medians of numpykeras, TensorFlow and the baseline (``None`` where not run)."""
        return [summarize(values(task, name, unit))[0] for name in (*FRAMEWORKS, baseline)]

    def speed(ms_of, new=0, other=1):
        r = ratio(ms_of[other], ms_of[new])  # the other side's time / numpykeras's time
        return ratio_cell(r)

    def ms(value):
        return fmt(value, digits_for(value))

    def row(metric, label, task):
        base = [values(task, baseline)] if baseline else []
        return (metric, label, values(task, "numpykeras"), values(task, "tensorflow"), *base)

    def cold_row(metric, label, result, field):
        base = [result.get(baseline, {}).get(field, [])] if baseline else []
        return (
            metric,
            label,
            result["numpykeras"][field],
            result.get("tensorflow", {}).get(field, []),
            *base,
        )

    out = []
    out.append("## numpykeras vs TensorFlow")
    out.append("")
    out.append(f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    mem = f", {machine['mem_gib']:.0f} GiB RAM" if machine["mem_gib"] else ""
    out.append(
        f"- machine: {machine['cpu']}, {machine['cores']} logical cores "
        f"({machine['usable']} usable){mem}; {platform.system()} {platform.machine()}"
    )
    out.append(
        f"- Python {platform.python_version()}, numpy {nk_info['numpy']}, "
        f"numpykeras {nk_info['version']} ({nk_info['path']})"
        + (
            f", {baseline} {info[baseline]['version']} ({info[baseline]['path']})"
            if baseline
            else ""
        )
        + (
            f", TensorFlow {info['tensorflow']['version']}, Keras {info['tensorflow']['keras']}"
            if has_tf
            else ", TensorFlow: not run"
        )
    )
    out.append(f"- BLAS (numpykeras worker): {blas_lines(nk_info['blas'])}")
    outer = ", ".join(
        f"{k}={os.environ.get(k, '(unset)')}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    )
    coretype = (
        f"both unset in the benchmark's processes (--unset-openblas-coretype; outside: {outer})"
        if args.unset_openblas_coretype
        else "environment left as it is"
    )
    out.append(f"- OpenBLAS core type: {coretype}")
    threads = f"- threads: {args.threads} for each side (numpykeras: OMP/OPENBLAS_NUM_THREADS"
    threads += " + threadpoolctl" if nk_info["blas"].get("threadpools") is not None else ""
    if has_tf:
        tf = info["tensorflow"]
        threads += (
            f"; TensorFlow: intra-op {tf['intra_op_threads']}, inter-op {tf['inter_op_threads']},"
            f" oneDNN {tf['onednn']})"
        )
    else:
        threads += ")"
    out.append(threads)
    sides = (
        f"the three workers (numpykeras, {baseline}, TensorFlow)"
        if baseline and has_tf
        else f"numpykeras and {baseline}"
        if baseline
        else "the two frameworks"
    )
    out.append(
        f"- {args.rounds} round{'s' if args.rounds > 1 else ''} alternating {sides} "
        "(order swapped each round), "
        f"each in its own worker process; cells are medians, ± is half the min-max spread"
    )
    if baseline:
        out.append(
            f"- {baseline}: numpykeras/ as it was at git {baseline[len(BASELINE) :]} "
            "(`--baseline`), same tasks and cold starts; ratio new/old is this tree's median "
            f"over {baseline}'s"
        )
    out.append(f"- load average (1/5/15 min) before: {load_before}; after: {load_after}")
    out.extend(f"- {note}" for note in notes)
    out.append("")

    rows = [row(metric, label, task) for metric, label, task in plan["main"]]
    if cold:
        what = COLD_MODES[cold["mode"]][0]
        rows.append(
            cold_row("cold_start", f"cold start s (fresh `python -c`: {what})", cold, "seconds")
        )
        rows.append(cold_row("peak_rss", "peak memory MiB (RSS of that cold start)", cold, "rss"))
    if rows:
        out.append("### Reference CNN, 32x32x3")
        out.append("")
        out.extend(metric_rows(rows, baseline))
        out.append("")

    if plan["large"]:
        out.append("### Larger case: VGG-style 3x3 `padding='same'` stack, 64x64x3")
        out.append("")
        rows = [row(metric, label, task) for metric, label, task in plan["large"]]
        out.extend(metric_rows(rows, baseline))
        out.append("")

    if plan["imagenet"]:
        out.append(
            "### ImageNet models, 224x224x3 (`applications.*(weights=None)`, the same weights)"
        )
        out.append("")
        rows = [row(metric, label, task) for metric, label, task in plan["imagenet"]]
        resnet_cold = (cold or {}).get("resnet50")
        if resnet_cold:
            rows.append(
                cold_row(
                    "cold_start",
                    "ResNet50: cold start s (fresh `python -c`: import, load_model(.keras), "
                    "predict 1 image)",
                    resnet_cold,
                    "seconds",
                )
            )
            rows.append(
                cold_row(
                    "peak_rss",
                    "ResNet50: peak memory MiB (RSS of that cold start)",
                    resnet_cold,
                    "rss",
                )
            )
        out.extend(metric_rows(rows, baseline))
        out.append("")

    if plan["recurrent"]:
        steps, features = _models.RECURRENT_SHAPE
        out.append(
            f"### Recurrent layers: LSTM and GRU ({steps} steps x {features} features, "
            f"{_models.RECURRENT_UNITS} units, then Dense(10, softmax))"
        )
        out.append("")
        rows = [row(metric, label, task) for metric, label, task in plan["recurrent"]]
        out.extend(metric_rows(rows, baseline))
        out.append("")

    for model in FAMILY_MODELS:
        if plan[model]:
            out.append(f"### {FAMILY_HEADINGS[model]}")
            out.append("")
            rows = [row(metric, label, task) for metric, label, task in plan[model]]
            out.extend(metric_rows(rows, baseline))
            out.append("")

    if plan["by_batch"]:
        out.append("### Scaling: time per batch vs batch size (reference CNN, 32x32x3)")
        out.append("")
        header = (
            "| batch | predict() images | predict() ms/batch nk | TF | speed nk/TF "
            "| predict_on_batch ms nk | TF | speed nk/TF |"
        )
        rule = "|---:|---:|---:|---:|---:|---:|---:|---:|"
        if baseline:
            header += (
                f" predict() ms {baseline} | speed new/old "
                f"| predict_on_batch ms {baseline} | speed new/old |"
            )
            rule += "---:|---:|---:|---:|"
        out.append(header)
        out.append(rule)
        for batch, pred, pob in plan["by_batch"]:
            a = medians(pred, ms_per_batch)
            b = medians(pob, ms_per_batch)
            line = (
                f"| {batch} | {pred['n']} | {ms(a[0])} | {ms(a[1])} | {speed(a)} "
                f"| {ms(b[0])} | {ms(b[1])} | {speed(b)} |"
            )
            if baseline:
                line += f" {ms(a[2])} | {speed(a, other=2)} | {ms(b[2])} | {speed(b, other=2)} |"
            out.append(line)
        out.append("")

    if plan["by_size"]:
        pred = plan["by_size"][0][1]
        out.append(
            f"### Scaling: images/s vs image size (reference CNN layers, batch {pred['batch']}, "
            f"predict() over {pred['n']} images)"
        )
        out.append("")
        header = (
            "| image size | predict() nk | TF | speed nk/TF "
            "| predict_on_batch nk | TF | speed nk/TF |"
        )
        rule = "|---:|---:|---:|---:|---:|---:|---:|"
        if baseline:
            header += (
                f" predict() {baseline} | speed new/old "
                f"| predict_on_batch {baseline} | speed new/old |"
            )
            rule += "---:|---:|---:|---:|"
        out.append(header)
        out.append(rule)
        for size, pred, pob in plan["by_size"]:
            a = medians(pred, ms_per_batch)
            b = medians(pob, ms_per_batch)
            ips = [medians(t, images_per_second) for t in (pred, pob)]
            line = (
                f"| {size}x{size}x3 | {fmt(ips[0][0], 0)} | {fmt(ips[0][1], 0)} | {speed(a)} "
                f"| {fmt(ips[1][0], 0)} | {fmt(ips[1][1], 0)} | {speed(b)} |"
            )
            if baseline:
                line += (
                    f" {fmt(ips[0][2], 0)} | {speed(a, other=2)} "
                    f"| {fmt(ips[1][2], 0)} | {speed(b, other=2)} |"
                )
            out.append(line)
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Benchmark numpykeras against TensorFlow (Keras 3) on the same models.",
        epilog="Example: python3 benchmarks/bench.py --quick --baseline 9fbbe6c",
    )
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and images")
    parser.add_argument("--threads", type=int, default=2, help="threads for each side (default 2)")
    parser.add_argument("--no-tf", action="store_true", help="run numpykeras alone")
    parser.add_argument(
        "--cold-rounds",
        type=int,
        default=None,
        help="fresh-process cold starts per framework (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--unset-openblas-coretype",
        action="store_true",
        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (both) in the benchmark's processes",
    )
    parser.add_argument(
        "--no-imagenet",
        action="store_true",
        help="skip the ImageNet models (ResNet50, MobileNetV2 on 224x224 images)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run numpykeras/ as it was at git revision REV (exported with git archive) in "
        "a third worker, numpykeras@REV, with the same tasks; the tables get its column and "
        "the ratio new/old",
    )
    parser.add_argument(
        "--only",
        metavar="ROWS",
        help="run only these rows, comma-separated: " + ", ".join(ONLY_CHOICES) + " (e.g. "
        "--only fit: the training rows alone, a reduced plan for trying a change)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write every raw sample (seconds; fit: seconds per epoch) as JSON",
    )
    args = parser.parse_args(argv)
    if args.only is not None:
        args.only = sorted({item.strip() for item in args.only.split(",") if item.strip()})
        unknown = [item for item in args.only if item not in ONLY_CHOICES]
        if unknown or not args.only:
            parser.error(
                f"--only takes a comma-separated list of {', '.join(ONLY_CHOICES)}; "
                f"got {', '.join(unknown) or 'nothing'}"
            )
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.cold_rounds is None:
        args.cold_rounds = 1 if args.quick else 3
    for name in ("rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.cold_rounds < 0:
        parser.error(f"--cold-rounds must be at least 0, got {args.cold_rounds}")
    if args.only is not None and "cold_start" not in args.only:
        args.cold_rounds = 0
    return args


def tf_available():
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def main(argv=None):
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="numpykeras-bench-")
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    """The whole benchmark, with ``tmp`` for the snapshot, the saved model and the workers' logs."""
    started = time.perf_counter()
    load_before = load_average()
    plan = make_plan(args.quick, args.rounds, with_imagenet=not args.no_imagenet)
    plan = filter_plan(plan, args.only)
    notes = []
    round_loads = []
    frameworks = ["numpykeras"]
    if args.no_tf:
        notes.append("TensorFlow not run (--no-tf)")
    elif not tf_available():
        notes.append("TensorFlow not run: tensorflow / keras are not installed")
    else:
        frameworks.append("tensorflow")
    if args.only is not None:
        notes.append(f"only these rows (--only): {', '.join(args.only)}")

    source = snapshot_source(tmp)
    env = child_env(args.threads, args.unset_openblas_coretype, source)
    revision = git_revision() if source else None
    if source:
        notes.append(
            "numpykeras: a snapshot of the tree's numpykeras/ taken at the start (git "
            f"{revision or 'revision unknown'}), imported by every process of the run"
        )
    # name -> (framework, environment) of every side: workers and cold starts
    sides = {"numpykeras": ("numpykeras", env)}
    baseline = None
    if args.baseline:
        if not source:
            progress("--baseline needs a git checkout of numpykeras (no numpykeras/ next to it)")
            return 2
        try:
            baseline_source, commit = export_revision(args.baseline, tmp)
        except ValueError as e:
            progress(str(e))
            return 2
        baseline = BASELINE + commit
        sides[baseline] = (
            "numpykeras",
            child_env(args.threads, args.unset_openblas_coretype, baseline_source),
        )
    if "tensorflow" in frameworks:
        sides["tensorflow"] = ("tensorflow", env)

    workers = []
    try:
        for name, (framework, side_env) in list(sides.items()):
            progress(f"starting the {name} worker ...")
            try:
                workers.append(Worker(framework, args.threads, side_env, tmp, name=name))
            except WorkerError as e:
                if framework == "numpykeras":
                    raise
                progress(f"TensorFlow unavailable, continuing without it: {e}")
                notes.append("TensorFlow not run: its worker failed to start")
                del sides[name]
        info = {w.name: w.request("setup", seed=SEED) for w in workers}
        nk = workers[0]
        tf = next((w for w in workers if w.name == "tensorflow"), None)
        base = next((w for w in workers if w.name == baseline), None)
        if source:
            info["numpykeras"]["path"] = os.path.join(REPO_ROOT, "numpykeras") + ", snapshot"
        if base:
            info[baseline]["path"] = f"git archive {commit} numpykeras"

        for model in sorted({task["model"] for _, _, task in plan["recurrent"]}):
            outs = {w.name: w.request("check", model=model, n=8)["outputs"] for w in workers}
            if tf:
                diff = max(abs(a - b) for a, b in zip(outs["numpykeras"], outs["tensorflow"]))
                notes.append(
                    f"same model check: {RECURRENT_LABELS[model]} outputs on 8 sequences differ "
                    f"by at most {diff:.1e}"
                )
        for model in FAMILY_MODELS:
            if not plan[model]:
                continue
            outs = {w.name: w.request("check", model=model, n=8)["outputs"] for w in workers}
            if tf:
                diff = max(abs(a - b) for a, b in zip(outs["numpykeras"], outs["tensorflow"]))
                notes.append(
                    f"same model check: {FAMILIES[model][0]} outputs on 8 {FAMILIES[model][3]} "
                    f"differ by at most {diff:.1e}"
                )
        outs = {w.name: w.request("check", model="cnn32", n=8)["outputs"] for w in workers}
        if tf:
            diff = max(abs(a - b) for a, b in zip(outs["numpykeras"], outs["tensorflow"]))
            notes.append(
                f"same model check: reference CNN outputs on 8 images differ by at most {diff:.1e}"
            )
        if base:
            diff = max(abs(a - b) for a, b in zip(outs["numpykeras"], outs[baseline]))
            notes.append(
                f"{baseline}: reference CNN outputs on 8 images differ from this tree's by at "
                f"most {diff:.1e}"
            )

        cold_mode = None
        if args.cold_rounds:
            cold_mode = choose_cold_mode(nk, tf, info["numpykeras"], tmp, notes)
        if plan["imagenet"]:
            share_imagenet_weights(nk, tf, base, plan, tmp, notes)
        resnet_cold = args.cold_rounds and any(
            task["model"] == "resnet50" for _, _, task in plan["imagenet"]
        )
        if resnet_cold:
            try:  # a .keras file for the ResNet50 cold start (by Keras when it runs)
                (tf or nk).request("save", model="resnet50", dir=tmp)
            except WorkerError as e:
                progress(f"ResNet50 could not be saved, no ResNet50 cold start: {e}")
                resnet_cold = False
        tasks = unique_tasks(plan)

        progress(f"{args.rounds} alternating rounds of {len(tasks)} tasks ...")
        samples, fit_epochs = run_rounds(workers, tasks, args.rounds, round_loads, notes)
    finally:
        for worker in workers:
            worker.close()

    cold = None
    if args.cold_rounds:
        progress(f"{args.cold_rounds} cold start(s) per side ...")
        cold = cold_starts(args, sides, cold_mode, tmp, notes)
        cold["mode"] = cold_mode
        if cold_mode != "build" and "tensorflow" in cold:
            diff = max_difference(cold, "numpykeras", "tensorflow")
            notes.append(f"cold-start predictions of the two differ by at most {diff:.1e}")
        if cold_mode != "build" and baseline in cold:
            diff = max_difference(cold, "numpykeras", baseline)
            notes.append(
                f"{baseline}: cold-start predictions differ from this tree's by at most {diff:.1e}"
            )
        if resnet_cold:
            progress(f"{args.cold_rounds} ResNet50 cold start(s) per side ...")
            cold["resnet50"] = resnet_cold_starts(args, sides, tmp, notes)

    load_after = load_average()
    notes.insert(0, f"1-minute load average at the end of each round: {', '.join(round_loads)}")
    print(report(args, plan, samples, cold, info, notes, load_before, load_after))
    progress(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            raw = {
                "args": vars(args),
                "info": info,
                "cold": cold,
                "samples": samples,
                "fit_epochs": fit_epochs,
            }
            json.dump(raw, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
