"""Batch inference over Dask collections: :func:`dask_predict` (Keras has no counterpart).

A numpykeras model is plain NumPy and pickles to an in-memory ``.keras`` archive, so it runs
unchanged inside Dask workers. The plain idiom is ``x.map_blocks(lambda b, m: m.predict(b),
model_future, ...)``; :func:`dask_predict` is that idiom with the details that make it correct
and cheap done once:

- **Whole samples per block.** A block must hold complete samples, so every axis but the first
  is put in one chunk.
- **Blocks aligned to the batches.** ``model.predict`` cuts its input into batches of
  ``batch_size`` rows, and float32 results depend slightly on the size of the batch a sample is
  computed in (other matrix shapes, another summation order): on the reference CNN, blocks of
  250 rows predicted in batches of 32 differ from ``model.predict`` of the whole array by up to
  1.6e-7, blocks of 100 rows by 2.2e-7. Blocks whose row counts are multiples of ``batch_size``
  (the last one excepted) give exactly the batches of a single-process ``model.predict``, so
  the results are bit-identical to it (and independent of the workers' thread counts).
- **The model shipped once.** With a ``distributed`` client the model is scattered to every
  worker (``client.scatter(model, broadcast=True)``) and each task receives the worker's copy;
  otherwise it is one node of the graph. It is never serialised once per block.
- **Output shapes, dtype and meta given to Dask** from one prediction on a single row of zeros
  in the calling process, so Dask never calls the prediction function on placeholders to guess
  them.
"""

from __future__ import annotations

import math
import uuid

import numpy as np

__all__ = ["dask_predict"]


def dask_predict(model, x, batch_size=None):
    """Lazily runs ``model.predict(x)`` over a Dask array or DataFrame, block by block.

    Each block of rows is predicted on a Dask worker (or a thread of the local scheduler) with
    ``model.predict(block, batch_size=batch_size, verbose=0)``. Rows are first regrouped into
    blocks whose sizes are multiples of ``batch_size`` when they are not already, so the values
    are bit-identical to ``model.predict(x.compute(), batch_size=batch_size)`` in one process.
    With a ``distributed.Client`` active the model is scattered to every worker once
    (broadcast); compute the result with that client. Without one the model is one node of
    the graph, read in place by the local threaded scheduler (the local ``"processes"``
    scheduler would pickle it for every task: use a ``distributed.LocalCluster`` instead).

    On one machine, prefer worker processes with one thread each (``LocalCluster(n_workers=
    cores, threads_per_worker=1)``): Dask's nanny starts workers with
    ``OPENBLAS_NUM_THREADS=1``, so numpykeras runs each kernel on one thread per worker and
    the cores are not oversubscribed. A single process already uses every core (numpykeras
    splits its kernels between threads), so the local threaded scheduler gains nothing over a
    plain ``model.predict``.

    Example:

    ```python
    import dask.array as da
    from distributed import Client

    client = Client()  # or Client("tcp://scheduler:8786")
    images = da.from_zarr("images.zarr")  # (N, 32, 32, 3)
    probs = numpykeras.utils.dask_predict(model, images, batch_size=64)
    probs.to_zarr("probs.zarr")  # or probs.compute()
    ```

    Args:
        model: a built numpykeras model (anything with Keras's ``predict``) with one input.
        x: a ``dask.array.Array`` of samples along axis 0, or a ``dask.dataframe.DataFrame``
            (or Series) whose columns are the features, in order. A DataFrame is turned into
            an array with ``to_dask_array(lengths=True)``, which reads it once to count the
            rows of each partition.
        batch_size: rows per call of the model inside a block, as in ``predict`` (default 32).

    Returns:
        What ``model.predict`` returns, with Dask arrays in place of NumPy arrays: one array of
        shape ``(N,) + output_shape`` for a single output, a list or dict of them for several.
        Nothing is computed until ``.compute()`` (or ``dask.compute``, ``to_zarr``...).

    Raises:
        ImportError: Dask is not installed.
        TypeError: ``x`` is not a Dask array or DataFrame, ``model`` has no ``predict``, or
            ``batch_size`` is not an integer.
        ValueError: ``batch_size`` is not positive, ``x`` has no sample axis, or its chunk
            sizes are unknown.
    """
    try:
        import dask
        import dask.array as da
    except ImportError as e:
        raise ImportError(
            "`dask_predict` requires Dask. Install it with "
            '`pip install "dask[array,dataframe]" distributed` (or `pip install numpykeras[dask]`).'
        ) from e

    if not callable(getattr(model, "predict", None)):
        raise TypeError(
            "`model` must be a numpykeras model (an object with a `predict` method). "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    batch_size = _batch_size(batch_size)
    x = _as_dask_array(x, da)
    if x.ndim == 0:
        raise ValueError(
            "`x` must have a sample axis (axis 0). Received: a 0-dimensional Dask array."
        )
    if any(math.isnan(size) for size in x.shape):
        raise ValueError(
            "The chunk sizes of `x` must be known to split it into batches. Received: "
            f"x.shape={x.shape}. Call `x.compute_chunk_sizes()` first (or, for a DataFrame, "
            "pass it as it is: `dask_predict` counts its rows)."
        )
    x = _align_blocks(x, batch_size)

    # One row of zeros tells the output structure, shapes and dtypes (and builds a model that
    # was not built yet, before it is shipped).
    probe = model.predict_on_batch(np.zeros((1,) + tuple(x.shape[1:]), dtype=x.dtype))
    leaves = _flatten(probe)
    shapes = [np.shape(leaf)[1:] for leaf in leaves]
    dtypes = [np.asarray(leaf).dtype for leaf in leaves]
    widths = [math.prod(shape) for shape in shapes]
    dtype = np.result_type(*dtypes)

    # Every output, flattened per row and concatenated: one (rows, sum(widths)) block per
    # block of x, so the model runs once per block whatever its number of outputs.
    drop_axis = list(range(2, x.ndim))
    flat = da.map_blocks(
        _predict_block,
        x,
        _ship(model, dask),
        batch_size,
        dtype,
        chunks=(x.chunks[0], (sum(widths),)),
        drop_axis=drop_axis or None,
        new_axis=[1] if x.ndim == 1 else None,
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )
    outputs = []
    start = 0
    for shape, width, leaf_dtype in zip(shapes, widths, dtypes):
        out = flat[:, start : start + width]
        if leaf_dtype != dtype:
            out = out.astype(leaf_dtype)
        outputs.append(out.reshape((x.shape[0],) + tuple(shape)))
        start += width
    return _pack(probe, iter(outputs))


def _batch_size(value):
    if value is None:
        return 32
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            "Argument `batch_size` must be a positive integer (or None). Received: "
            f"batch_size={value!r} (of type {type(value).__name__})"
        )
    if value < 1:
        raise ValueError(
            f"Argument `batch_size` must be a positive integer (or None). Received: "
            f"batch_size={value}"
        )
    return int(value)


def _as_dask_array(x, da):
    if isinstance(x, da.Array):
        return x
    if callable(getattr(x, "to_dask_array", None)) and hasattr(x, "npartitions"):
        return x.to_dask_array(lengths=True)  # a Dask DataFrame or Series
    raise TypeError(
        "`x` must be a `dask.array.Array` or a `dask.dataframe.DataFrame`. Received: "
        f"x of type {type(x).__module__}.{type(x).__qualname__}"
        + (
            " (a NumPy array: call `model.predict(x)` directly)"
            if isinstance(x, np.ndarray)
            else ""
        )
    )


def _align_blocks(x, batch_size):
    """``x`` with whole samples in each block and blocks of a multiple of ``batch_size`` rows.

    Kept as it is when already so; otherwise blocks of the largest multiple of ``batch_size``
    not above the largest block (at least ``batch_size``), a cheap rechunk of neighbouring rows.
    """
    rows = x.chunks[0]
    aligned = all(size % batch_size == 0 for size in rows[:-1])
    whole = all(len(chunks) == 1 for chunks in x.chunks[1:])
    if aligned and whole:
        return x
    target = rows if aligned else max(batch_size, max(rows) // batch_size * batch_size)
    return x.rechunk({0: target, **{axis: -1 for axis in range(1, x.ndim)}})


def _ship(model, dask):
    """The model as a graph argument every task can read: a future of a copy scattered to each
    worker when a ``distributed`` client is active, else one graph node."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):  # no distributed, or no client
        client = None
    if client is not None:
        return client.scatter(model, broadcast=True, hash=False)
    name = f"{type(model).__name__}-{getattr(model, 'name', 'model')}-{uuid.uuid4().hex}"
    return dask.delayed(model, name=name, traverse=False)


def _predict_block(block, model, batch_size, dtype):
    """One block's predictions, every output flattened per row and concatenated."""
    leaves = _flatten(model.predict(block, batch_size=batch_size, verbose=0))
    rows = len(block)
    flat = [np.reshape(leaf, (rows, -1)) for leaf in leaves]
    return (flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)).astype(dtype, copy=False)


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in _flatten(item)]
    return [structure]


def _pack(structure, leaves):
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(item, leaves) for item in structure)
    if isinstance(structure, dict):
        return {key: _pack(item, leaves) for key, item in structure.items()}
    return next(leaves)
