"""numpykeras on Dask: batch inference with ``utils.dask_predict`` and a training sweep on
``dask.distributed`` workers (one ``LocalCluster`` of two worker processes for the module)."""

import logging

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("pandas")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import numpykeras  # noqa: E402
from numpykeras import layers, models, utils  # noqa: E402
from numpykeras.utils import dask_predict  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, as the helper's docstring advises."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster, distributed.Client(cluster) as c:  # fmt: skip
        yield c


def reference_cnn(seed=0):
    """The README's reference CNN, with seeded random weights."""
    utils.set_random_seed(seed)
    return models.Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ]
    )


def _worker_setup():
    from numpykeras.ops import _parallel

    return numpykeras.__file__, _parallel.kernel_threads()


def test_workers_run_this_numpykeras_on_one_kernel_thread(client):
    # The equality tests below are only meaningful if the workers import the same numpykeras;
    # one kernel thread per worker process is what keeps two workers on two cores.
    assert set(client.run(_worker_setup).values()) == {(numpykeras.__file__, 1)}


def test_dask_array_predict_is_bit_identical_to_predict(client):
    model = reference_cnn()
    images = np.random.default_rng(1).random((300, 32, 32, 3), dtype=np.float32)
    expected = model.predict(images, verbose=0)
    # Blocks of 70 rows split along the height too: both get regrouped.
    x = da.from_array(images, chunks=(70, 16, 32, 3))
    y = dask_predict(model, x)
    assert y.shape == (300, 10) and y.dtype == np.float32
    assert all(size % 32 == 0 for size in y.chunks[0][:-1])
    got = y.compute()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # The model was scattered to each worker once, not shipped with every block.
    keys = [k for k, workers in client.who_has().items() if str(k).startswith("Sequential-")]
    assert len(keys) == 1 and len(client.who_has()[keys[0]]) == 2


def test_several_outputs_and_batch_size(client):
    inputs = layers.Input((6,))
    hidden = layers.Dense(12, activation="relu")(inputs)
    outputs = {
        "scores": layers.Dense(3, name="scores")(hidden),
        "grid": layers.Reshape((2, 2))(layers.Dense(4, name="grid_dense")(hidden)),
    }
    utils.set_random_seed(1)
    model = models.Model(inputs, outputs)
    features = np.random.default_rng(2).random((333, 6), dtype=np.float32)
    expected = model.predict(features, batch_size=16, verbose=0)
    got = dask_predict(model, da.from_array(features, chunks=50), batch_size=16)
    assert set(got) == {"scores", "grid"} and got["grid"].shape == (333, 2, 2)
    for name, value in got.items():
        np.testing.assert_array_equal(value.compute(), expected[name])


def test_dask_dataframe_predict_equals_predict(client):
    import pandas as pd

    utils.set_random_seed(2)
    model = models.Sequential(
        [layers.Input((7,)), layers.Dense(16, activation="relu"), layers.Dense(2)]
    )
    frame = pd.DataFrame(
        np.random.default_rng(3).normal(size=(500, 7)), columns=[f"f{i}" for i in range(7)]
    )
    got = dask_predict(model, dd.from_pandas(frame, npartitions=6)).compute()
    np.testing.assert_array_equal(got, model.predict(frame, verbose=0))


def test_local_scheduler_without_a_client(monkeypatch):
    # Without a distributed client the model is one node of the graph.
    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
    features = np.random.default_rng(4).random((90, 4), dtype=np.float32)
    y = dask_predict(model, da.from_array(features, chunks=25), batch_size=8)
    np.testing.assert_array_equal(
        y.compute(scheduler="sync"), model.predict(features, batch_size=8, verbose=0)
    )


def test_argument_errors():
    model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
    x = da.zeros((10, 4), chunks=5)
    with pytest.raises(TypeError, match="NumPy array: call `model.predict"):
        dask_predict(model, np.zeros((10, 4)))
    with pytest.raises(TypeError, match="`model` must be a numpykeras model"):
        dask_predict("model", x)
    with pytest.raises(TypeError, match="`batch_size` must be a positive integer"):
        dask_predict(model, x, batch_size=2.0)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        dask_predict(model, x, batch_size=0)
    unknown = x[x[:, 0] > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        dask_predict(model, unknown)


# --------------------------------------------------------------------------- a training sweep


def train_one(config):
    """Builds, trains and evaluates one small CNN; everything random comes from the seed."""
    utils.set_random_seed(config["seed"])
    rng = np.random.default_rng(0)  # the same data for every configuration
    x = rng.random((240, 8, 8, 1), dtype=np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int64")
    model = models.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(config["filters"], 3, activation="relu"),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(2),
        ]
    )
    model.compile(
        optimizer=numpykeras.optimizers.Adam(config["learning_rate"]),
        loss=numpykeras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x[:180], y[:180], epochs=3, batch_size=30, verbose=0)
    _, val_accuracy = model.evaluate(x[180:], y[180:], verbose=0)
    return config, val_accuracy, history.history["loss"], model.get_weights()


SWEEP = [
    {"filters": f, "learning_rate": lr, "seed": s}
    for f, lr, s in [(4, 1e-2, 0), (8, 1e-2, 1), (8, 3e-3, 2), (16, 1e-3, 3)]
]


def test_sweep_on_workers_equals_the_same_runs_in_process(client, monkeypatch):
    threadpool_limits = pytest.importorskip("threadpoolctl").threadpool_limits
    from numpykeras.ops import _parallel

    results = client.gather(client.map(train_one, SWEEP, pure=False))
    # Float32 training results depend on how many threads numpykeras splits its kernels
    # between (the order of the partial sums); the workers run one, so the in-process runs
    # are made with one kernel thread and a one-thread BLAS too.
    monkeypatch.setattr(_parallel, "_state", {})
    with threadpool_limits(1, user_api="blas"):
        assert _parallel.kernel_threads() == 1
        expected = [train_one(config) for config in SWEEP]
    for (config, accuracy, losses, weights), want in zip(results, expected):
        assert config == want[0]
        assert accuracy == want[1] and losses == want[2]
        for w, v in zip(weights, want[3]):
            np.testing.assert_array_equal(w, v)
    assert len({tuple(r[2]) for r in results}) == len(SWEEP)  # the runs do differ
