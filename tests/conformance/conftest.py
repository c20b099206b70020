"""Shared fixtures for the conformance tests: TensorFlow is imported once per session."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # deterministic float32 kernels


@pytest.fixture(scope="session")
def tf():
    tf = pytest.importorskip("tensorflow") if os.environ.get("NUMPYKERAS_ALLOW_SKIP_TF") else None
    if tf is None:
        import tensorflow as tf  # noqa: F811  a missing TensorFlow must fail CI, not skip

    return tf


@pytest.fixture(scope="session")
def keras(tf):
    import keras

    return keras


@pytest.fixture(scope="session")
def tf_keras(tf):
    """Keras 2 (``tf_keras``), the writer of legacy files."""
    import tf_keras

    return tf_keras
