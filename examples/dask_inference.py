"""Batch inference and a hyperparameter sweep of numpykeras models on a Dask cluster.

A numpykeras model is plain NumPy, so Dask workers need nothing but numpykeras installed. This
script:

1. trains the reference CNN of ``train_digits.py`` briefly (``--epochs``, default 1; 0 keeps its
   random weights) on scikit-learn's digits scaled to 32x32x3;
2. makes a Dask array of ``--images`` such images *on the workers* (the digits, repeated) and
   predicts it with ``numpykeras.utils.dask_predict``, which ships the model to each worker
   once; it prints the images per second of one process (``model.predict``) and of the
   cluster, and checks that both give the same float32 values;
3. trains a small sweep of CNNs on the 8x8 digits, one ``client.map`` task per configuration,
   and prints each configuration's validation accuracy, then runs the same sweep one
   configuration after another in this process (same results: every configuration is seeded).

Without ``--scheduler`` it starts a ``LocalCluster`` of two worker processes with one thread
each (Dask starts workers with ``OPENBLAS_NUM_THREADS=1``, so each runs numpykeras's kernels on
one core). With ``--scheduler tcp://host:8786`` the same code runs on that cluster; its workers
need numpy, h5py and numpykeras (and Dask) installed, nothing else.

Run:  python examples/dask_inference.py [--scheduler tcp://host:8786] [--workers 2]
                                        [--images 8192] [--batch-size 64] [--epochs 1]
"""

import argparse
import os
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from sklearn.datasets import load_digits
from train_digits import load_data

import numpykeras
from numpykeras import layers, losses, models, utils


def reference_cnn():
    return models.Sequential([
        layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.Flatten(),
        layers.Dense(64, activation='relu'),
        layers.Dense(10),
    ])  # fmt: skip


def take_images(rows, images):
    """The images of a block of row numbers: the digits, repeated (runs on a worker)."""
    return images[rows % len(images)]


def train_one(config, data):
    """Builds, trains and evaluates one small CNN on the 8x8 digits (runs on a worker).

    Every random draw (initial weights, dropout, shuffling) comes from ``config["seed"]``, so a
    configuration gives the same result wherever it runs with the same number of kernel
    threads. The global random generator is per process: run a sweep on workers with one
    thread each, or two tasks in one process would draw from it in turn.
    """
    (x_train, y_train), (x_val, y_val) = data
    utils.set_random_seed(config["seed"])
    model = models.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(config["filters"], (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dropout(config["dropout"]),
        layers.Dense(10),
    ])  # fmt: skip
    model.compile(
        optimizer=numpykeras.optimizers.Adam(config["learning_rate"]),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=config["epochs"], batch_size=32, verbose=0)
    _, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
    return config, val_accuracy


def sweep_data(seed=0):
    digits = load_digits()
    x = (digits.images.astype("float32") / 16.0)[..., None]  # (1797, 8, 8, 1)
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:1400], order[1400:]
    return (x[train], y[train]), (x[val], y[val])


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1, help="0: random weights")
    args = parser.parse_args()

    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    workers = client.scheduler_info()["workers"]
    threads = sum(w["nthreads"] for w in workers.values())
    print(
        f"Dask: {client.scheduler.address}, {len(workers)} workers, {threads} threads; "
        f"this machine: {os.cpu_count()} cores"
    )

    # 1. The reference CNN, trained briefly in this process.
    utils.set_random_seed(42)
    (train_images, train_labels), (test_images, test_labels) = load_data()
    model = reference_cnn()
    model.compile(
        optimizer="adam",
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if args.epochs:
        _, seconds = timed(
            lambda: model.fit(train_images, train_labels, epochs=args.epochs, verbose=0)
        )
        print(f"trained the reference CNN for {args.epochs} epoch(s) in {seconds:.1f} s")
    else:
        print("the reference CNN keeps its random weights (--epochs 0)")

    # 2. Batch inference. The images are made on the workers, as if each read its own shard.
    all_images = np.concatenate([train_images, test_images])
    images_future = client.scatter(all_images, broadcast=True)
    chunk = 8 * args.batch_size
    rows = da.arange(args.images, chunks=chunk)
    x = rows.map_blocks(
        take_images,
        images_future,
        new_axis=[1, 2, 3],
        chunks=(rows.chunks[0], (32,), (32,), (3,)),
        dtype=np.float32,
        meta=np.empty((0, 0, 0, 0), np.float32),
    ).persist()
    wait(x)
    local_images = take_images(np.arange(args.images), all_images)

    def one_process():
        return model.predict(local_images, batch_size=args.batch_size, verbose=0)

    def on_cluster():
        return utils.dask_predict(model, x, batch_size=args.batch_size).compute()

    # One run of each warms up (the first predictions in a new worker process are slower),
    # then the best of three runs of each is kept.
    one_runs, cluster_runs = [], []
    for _ in range(4):
        expected, seconds = timed(one_process)
        one_runs.append(seconds)
        got, seconds = timed(on_cluster)
        cluster_runs.append(seconds)
    t_one, t_cluster = min(one_runs[1:]), min(cluster_runs[1:])
    print(f"predict {args.images} images, batch size {args.batch_size}:")
    print(f"  1 process (model.predict):        {args.images / t_one:8.0f} images/s")
    print(f"  {len(workers)} Dask workers (dask_predict): {args.images / t_cluster:8.0f} images/s")
    print(f"  identical float32 results: {np.array_equal(got, expected)}")
    n_test = len(test_images)
    test_predictions = utils.dask_predict(model, da.from_array(test_images, chunks=128))
    accuracy = np.mean(test_predictions.argmax(axis=1).compute() == test_labels)
    print(f"  test accuracy from the cluster's predictions: {accuracy:.4f} ({n_test} images)")

    # 3. A hyperparameter sweep, one task per configuration.
    grid = [(f, lr, d) for f in (8, 16) for lr in (1e-2, 3e-3) for d in (0.1, 0.3)]
    configs = [
        {"filters": f, "learning_rate": lr, "dropout": d, "epochs": 5, "seed": i}
        for i, (f, lr, d) in enumerate(grid)
    ]
    data = sweep_data()
    data_future = client.scatter(data, broadcast=True)
    results, t_sweep = timed(
        lambda: client.gather(client.map(train_one, configs, data=data_future))
    )
    print(f"sweep of {len(configs)} configurations on the cluster: {t_sweep:.1f} s")
    for config, val_accuracy in sorted(results, key=lambda r: -r[1]):
        print(
            f"  filters={config['filters']:2d} learning_rate={config['learning_rate']:g}"
            f" dropout={config['dropout']:g} -> val_accuracy {val_accuracy:.4f}"
        )
    local, t_local = timed(lambda: [train_one(config, data) for config in configs])
    print(f"the same sweep in this process, one after another: {t_local:.1f} s")
    print(f"  same validation accuracies as on the cluster: {local == results}")

    client.close()
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
