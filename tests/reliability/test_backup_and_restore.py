"""``callbacks.BackupAndRestore``: a ``fit`` killed with SIGKILL (also in the middle of a
backup) and run again with the same ``backup_dir`` ends with exactly the weights of a run that
was never interrupted; backups are deleted when ``fit`` completes; a damaged backup gives an
error naming the file, or the previous backup with ``double_checkpoint=True``.

The training runs shuffle the data and use ``Dropout`` layers (one drawing from the global
generator, one with its own seed), so the weights only match if the random state is restored.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import numpykeras as keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS = 6

# A seeded training run. argv[1] is JSON: "out" (where the final weights go), and optionally
# "backup_dir", "save_freq", "double_checkpoint", "kill_at" ([epoch, batch]: SIGKILL itself
# after that batch) and "kill_in_commit" (SIGKILL itself inside the n-th backup, after its
# weights file is written and before the backup is committed).
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np
    import numpykeras as keras
    from numpykeras import callbacks

    args = json.loads(sys.argv[1])
    model, x, y = None, None, None
    exec(sys.argv[2])
    model, x, y = make()
    cbs = []
    if "backup_dir" in args:
        cbs.append(
            callbacks.BackupAndRestore(
                args["backup_dir"],
                save_freq=args.get("save_freq", "epoch"),
                double_checkpoint=args.get("double_checkpoint", False),
            )
        )
    if "kill_in_commit" in args:
        write, calls = callbacks.BackupAndRestore._write_file, []

        def dying_write(path, data):
            if path.endswith("training_metadata.json"):
                calls.append(path)
                if len(calls) == args["kill_in_commit"]:
                    from numpykeras.saving.atomic import atomic_write

                    with atomic_write(path) as tmp:  # killed half-way through the file
                        with open(tmp, "wb") as f:
                            f.write(data[: len(data) // 2])
                            f.flush()
                        os.kill(os.getpid(), signal.SIGKILL)
            write(path, data)

        callbacks.BackupAndRestore._write_file = staticmethod(dying_write)
    if "kill_at" in args:
        kill_epoch, kill_batch = args["kill_at"]

        class Kill(callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                if (self.epoch, batch) == (kill_epoch, kill_batch):
                    os.kill(os.getpid(), signal.SIGKILL)

        cbs.append(Kill())
    history = model.fit(x, y, batch_size=8, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=cbs)
    np.savez(args["out"], *model.get_weights())
    with open(args["out"] + ".json", "w") as f:
        json.dump(history.history, f)
    """
)

# The model and data, the same in the children and in this process.
MAKE = textwrap.dedent(
    f"""
    EPOCHS = {EPOCHS}

    def make():
        keras.utils.set_random_seed(7)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(40, 5)).astype("float32")
        y = rng.integers(0, 3, size=(40,))
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dropout(0.2, seed=3),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model, x, y
    """
)
_namespace = {"keras": keras, "np": np}
exec(MAKE, _namespace)
make = _namespace["make"]  # the same function in this process


def run_child(args, expect_killed=False):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args), MAKE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if expect_killed:
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        with np.load(args["out"]) as f:
            weights = [f[f"arr_{i}"] for i in range(len(f.files))]
        with open(args["out"] + ".json") as f:
            return weights, json.load(f)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("reference") / "weights.npz")
    return run_child({"out": out})


def assert_same_weights(weights, reference):
    assert len(weights) == len(reference)
    for w, r in zip(weights, reference):
        assert np.array_equal(w, r)


def resume_matches(tmp_path, uninterrupted, kill_args, **backup_args):
    backup = str(tmp_path / "backup")
    out = str(tmp_path / "weights.npz")
    run_child({"out": out, "backup_dir": backup, **backup_args, **kill_args}, expect_killed=True)
    assert os.path.isfile(os.path.join(backup, "training_metadata.json"))
    if "kill_in_commit" in kill_args:
        names = os.listdir(backup)
        assert "checkpoint-000004.weights.h5" in names  # written, never committed
        assert any(".training_metadata.json.numpykeras-tmp-" in name for name in names)
    with open(os.path.join(backup, "training_metadata.json")) as f:
        metadata = json.load(f)
    weights, history = run_child({"out": out, "backup_dir": backup, **backup_args})
    assert_same_weights(weights, uninterrupted[0])
    assert not os.path.exists(backup)  # delete_checkpoint=True
    return metadata, history


def test_killed_at_an_epoch_resumes_exactly(tmp_path, uninterrupted):
    metadata, history = resume_matches(tmp_path, uninterrupted, {"kill_at": [3, 2]})
    assert (metadata["epoch"], metadata["step"]) == (3, 0)
    reference = uninterrupted[1]
    assert history == {k: v[3:] for k, v in reference.items()}  # epochs 4 to 6, same logs


def test_killed_inside_an_epoch_resumes_at_the_step(tmp_path, uninterrupted):
    # 5 batches per epoch, a backup every 2: the last one before the kill is after batch 2 of
    # epoch 3 (the 18th batch), so the resumed fit starts at step 3 of epoch 3.
    metadata, history = resume_matches(tmp_path, uninterrupted, {"kill_at": [3, 3]}, save_freq=2)
    assert (metadata["epoch"], metadata["step"]) == (3, 3)
    reference = uninterrupted[1]
    # The metrics of the interrupted epoch were backed up too: the same epoch logs.
    assert history == {k: v[3:] for k, v in reference.items()}


def test_killed_while_committing_a_backup_resumes_from_the_previous_one(tmp_path, uninterrupted):
    # Killed inside the 4th backup, after its weights file is written: the 3rd backup stays.
    metadata, _ = resume_matches(
        tmp_path, uninterrupted, {"kill_in_commit": 4}, double_checkpoint=True
    )
    assert (metadata["epoch"], metadata["step"]) == (3, 0)
    # The half-written file of the killed save was a temporary, removed with the backup.


# --------------------------------------------------------------------------- in this process


class Interrupt(keras.callbacks.Callback):
    """Raises (as a crash would end the process) at the start of ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def interrupted_fit(backup, at_epoch=4, **kwargs):
    model, x, y = make()
    callback = keras.callbacks.BackupAndRestore(backup, **kwargs)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(
            x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=[callback, Interrupt(at_epoch)]
        )
    return callback


def fit(backup, **kwargs):
    model, x, y = make()
    callback = keras.callbacks.BackupAndRestore(backup, **kwargs)
    history = model.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=[callback])
    return model, history


def test_delete_checkpoint(tmp_path):
    backup = str(tmp_path / "backup")
    reference, _ = fit(backup)
    assert not os.path.exists(backup)  # deleted after the fit
    interrupted_fit(backup, delete_checkpoint=False)
    assert sorted(os.listdir(backup)) == ["checkpoint-000004.weights.h5", "training_metadata.json"]
    model, history = fit(backup, delete_checkpoint=False)
    assert history.epoch == [4, 5]
    assert_same_weights(model.get_weights(), reference.get_weights())
    assert sorted(os.listdir(backup)) == ["checkpoint-000006.weights.h5", "training_metadata.json"]
    # The kept backup is after the last epoch: a new fit resumes there and trains no more.
    model, history = fit(backup)
    assert history.epoch == []
    assert_same_weights(model.get_weights(), reference.get_weights())
    assert not os.path.exists(backup)


def test_a_directory_with_other_files_is_kept(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "notes.txt").write_text("mine")
    fit(str(backup))
    assert os.listdir(backup) == ["notes.txt"]


def resume(model, x, y, backup):
    callbacks = [keras.callbacks.BackupAndRestore(backup)]
    return model.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=callbacks)


def corrupt(path):
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\x00garbage\xff")


def test_corrupt_weights_file_raises_naming_it(tmp_path):
    backup = str(tmp_path / "backup")
    interrupted_fit(backup)
    weights = os.path.join(backup, "checkpoint-000004.weights.h5")
    corrupt(weights)
    model, x, y = make()
    before = model.get_weights()
    with pytest.raises(OSError, match="checkpoint-000004.weights.h5' is corrupt"):
        model.fit(
            x, y, epochs=EPOCHS, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)]
        )
    assert_same_weights(model.get_weights(), before)  # nothing trained, nothing restored
    assert os.path.exists(weights)  # the backup is left for the user to inspect


def test_corrupt_metadata_raises_naming_it(tmp_path):
    backup = str(tmp_path / "backup")
    interrupted_fit(backup)
    metadata = os.path.join(backup, "training_metadata.json")
    with open(metadata, "w") as f:
        f.write('{"epoch": 4, "ste')
    model, x, y = make()
    with pytest.raises(OSError, match="training_metadata.json' is corrupt: it is not valid JSON"):
        model.fit(
            x, y, epochs=EPOCHS, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)]
        )


@pytest.mark.parametrize("damaged", ["weights", "metadata"])
def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path, damaged):
    reference, _ = fit(str(tmp_path / "reference"))
    backup = str(tmp_path / "backup")
    interrupted_fit(backup, double_checkpoint=True)
    assert sorted(os.listdir(backup)) == [
        "checkpoint-000003.weights.h5",
        "checkpoint-000004.weights.h5",
        "training_metadata.json",
        "training_metadata.json.bkp",
    ]
    if damaged == "weights":
        corrupt(os.path.join(backup, "checkpoint-000004.weights.h5"))
    else:
        with open(os.path.join(backup, "training_metadata.json"), "wb") as f:
            f.write(b"\xff\xfe")
    with pytest.warns(UserWarning, match="Restoring the previous backup"):
        model, history = fit(backup, double_checkpoint=True)
    assert history.epoch == [3, 4, 5]  # from the backup at the end of epoch 3
    assert_same_weights(model.get_weights(), reference.get_weights())  # still exact


def test_a_backup_of_another_model_is_a_value_error(tmp_path):
    backup = str(tmp_path / "backup")
    interrupted_fit(backup)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = make()[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="another model|does not fit this model"):
            model.fit(x, y, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)])


@pytest.mark.parametrize("save_freq", ["batch", 0, -3, 1.5, True, None])
def test_invalid_arguments(tmp_path, save_freq):
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(str(tmp_path), save_freq=save_freq)
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        keras.callbacks.BackupAndRestore("")
