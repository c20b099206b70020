"""Unit tests for numpykeras.utils: to_categorical, normalize, set_random_seed, Progbar."""

import contextlib
import io
import random
import time

import numpy as np
import pytest

from numpykeras import backend, utils
from numpykeras.utils import Progbar, normalize, set_random_seed, to_categorical
from numpykeras.utils import progbar as progbar_module

BOLD, RESET, GREEN, WHITE = "\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m"


# --------------------------------------------------------------------------- to_categorical


def _one_hot_loop(labels, num_classes):
    """Plain-loop reference: one row per label."""
    flat = [int(v) for v in np.asarray(labels).reshape(-1)]
    out = np.zeros((len(flat), num_classes))
    for row, label in enumerate(flat):
        out[row, label] = 1.0
    return out


@pytest.mark.parametrize("shape", [(7,), (7, 1), (3, 4), (2, 3, 1)])
def test_to_categorical_matches_loop_and_drops_trailing_one(shape):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=shape)
    out = to_categorical(labels, num_classes=6)
    expected_shape = (shape[:-1] if shape[-1] == 1 and len(shape) > 1 else shape) + (6,)
    assert out.shape == expected_shape
    assert out.dtype == np.float64  # Keras returns float64 for NumPy input
    np.testing.assert_array_equal(out.reshape(-1, 6), _one_hot_loop(labels, 6))


def test_to_categorical_infers_num_classes_and_truncates_floats():
    out = to_categorical([0, 2.0, 1.7])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0]])
def test_to_categorical_rejects_out_of_range_labels(labels):
    with pytest.raises(ValueError, match="class indices in \\[0, 3\\)"):
        to_categorical(labels, num_classes=3)


def test_to_categorical_empty_needs_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([])
    assert to_categorical(np.zeros((0,), int), num_classes=4).shape == (0, 4)


# --------------------------------------------------------------------------- normalize


def test_normalize_l2_rows_and_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]], dtype="float32")
    out = normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]], rtol=1e-6)


def test_normalize_l1_along_axis0():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    out = normalize(x, axis=0, order=1)
    np.testing.assert_allclose(out, [[0.25, 0.25], [0.75, 0.75]])


# --------------------------------------------------------------------------- set_random_seed


def _draws():
    return (
        random.random(),
        np.random.rand(3),
        backend.global_generator().normal(size=3),
        backend.make_generator(None).random(),
    )


def test_set_random_seed_reproduces_every_generator():
    set_random_seed(1234)
    first = _draws()
    set_random_seed(1234)
    second = _draws()
    set_random_seed(4321)
    third = _draws()
    assert first[0] == second[0]
    for a, b in zip(first[1:], second[1:]):
        np.testing.assert_array_equal(a, b)
    assert first[0] != third[0]
    assert not np.array_equal(first[2], third[2])
    assert utils.get_random_seed() == 4321


@pytest.mark.parametrize("seed", [1.0, "1", np.int64(1), None])
def test_set_random_seed_rejects_non_int(seed):
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        set_random_seed(seed)


def test_registration_reexports():
    from numpykeras.saving import object_registration

    assert utils.register_keras_serializable is object_registration.register_keras_serializable
    assert utils.get_custom_objects is object_registration.get_custom_objects
    assert utils.custom_object_scope is object_registration.custom_object_scope
    assert utils.get_registered_object is object_registration.get_registered_object
    assert utils.get_registered_name is object_registration.get_registered_name


# --------------------------------------------------------------------------- Progbar


class FakeClock:
    def __init__(self, start=100.0):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(time, "time", fake)
    return fake


def _capture(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    return buf.getvalue()


def test_progbar_verbose2_prints_one_summary_line(clock):
    def run():
        bar = Progbar(3, verbose=2)
        for step, (t, loss) in enumerate([(100.5, 1.0), (100.9, 0.5), (101.3, 0.3)], start=1):
            clock.now = t
            bar.update(step, [("loss", loss), ("neg", -0.25)])

    # 1.3 s elapsed; (101.3 - 100.5) / 2 = 0.4 s per step after the first; the final update's
    # values are shown as-is; verbose=2 prints non-positive values in e-notation.
    assert _capture(run) == "3/3 - 1s - 400ms/step - loss: 0.3000 - neg: -2.5000e-01\n"


def test_progbar_verbose1_non_dynamic_lines(clock):
    def run():
        bar = Progbar(10, width=10, verbose=1)
        bar._dynamic_display = False
        clock.now = 102.0
        bar.update(2, [("loss", 1.0), ("tiny", 0.0005)])
        clock.now = 105.0
        bar.update(5, [("loss", 2.0), ("tiny", 0.0005)])  # averaged: (1*2 + 2*3) / 5 = 1.6

    out = _capture(run)
    first = (
        f"\n{BOLD} 2/10{RESET} {GREEN}━━{RESET}{WHITE}━━━━━━━━{RESET}"
        f" {BOLD}8s{RESET} 1s/step - loss: 1.0000 - tiny: 5.0000e-04"
    )
    # after step 1 is unknown (no update at 1): 5 s / 5 steps = 1 s/step, ETA 5 * 1 = 5 s
    second = (
        f"\n{BOLD} 5/10{RESET} {GREEN}━━━━━{RESET}{WHITE}━━━━━{RESET}"
        f" {BOLD}5s{RESET} 1s/step - loss: 1.6000 - tiny: 5.0000e-04"
    )
    assert out == first + second


def test_progbar_dynamic_redraw_erases_previous_line(clock):
    def run():
        bar = Progbar(2, width=4, verbose=1, stateful_metrics=["acc"])
        bar._dynamic_display = True
        clock.now = 100.5
        bar.update(1, [("acc", 0.5)])
        clock.now = 101.0
        bar.update(2, [("acc", 0.75)])

    out = _capture(run)
    line1 = (
        f"{BOLD}1/2{RESET} {GREEN}━━{RESET}{WHITE}━━{RESET} {BOLD}0s{RESET}"
        " 500ms/step - acc: 0.5000"
    )
    width1 = len("1/2 ━━━━ 0s 500ms/step - acc: 0.5000")
    line2 = (
        f"{BOLD}2/2{RESET} {GREEN}━━━━{RESET}{WHITE}{RESET} {BOLD}1s{RESET}"
        " 500ms/step - acc: 0.7500"
    )
    assert out == "\r" + line1 + "\b" * width1 + "\r" + line2 + "\n"


def test_progbar_unknown_target_and_interval(clock):
    def run():
        bar = Progbar(None, verbose=1, interval=10.0)
        bar._dynamic_display = False
        clock.now = 100.0
        bar.update(1)  # printed: the last redraw was at time 0
        clock.now = 101.0
        bar.update(2)  # within the interval: skipped
        clock.now = 102.0
        bar.update(3, finalize=True)

    out = _capture(run)
    assert out == (
        f"\n      1/Unknown {BOLD}0s{RESET} 0s/step\n      3/Unknown {BOLD}2s{RESET} 1s/step\n"
    )


@pytest.mark.parametrize(
    "seconds, text",
    [(0, " 0s/step"), (2.4, " 2s/step"), (0.0123, " 12ms/step"), (5e-5, " 50us/step")],
)
def test_progbar_format_time(seconds, text):
    assert Progbar._format_time(seconds, "step") == text


@pytest.mark.parametrize("eta, text", [(3700.0, "1:01:40"), (125.0, "2:05"), (12.7, "12s")])
def test_progbar_eta_format(eta, text):
    assert progbar_module._format_duration(eta) == text


def test_progbar_rejects_both_metric_lists():
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_progbar_falls_back_to_ascii_bar(clock):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with contextlib.redirect_stdout(stream):
        bar = Progbar(2, width=4, verbose=1)
        clock.now = 101.0
        bar.update(2)
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "====" in text and "2/2" in text


def test_progbar_add_and_silent(clock):
    def run():
        bar = Progbar(4, verbose=0)
        bar.add(2)
        bar.add(2)
        assert bar._seen_so_far == 4

    assert _capture(run) == ""
