"""The CNN walkthrough example (examples/cnn_walkthrough.py and its notebook).

Checks the numbers it works out (cross-correlation, output sizes, pooling, the reference CNN's shape
table) against values computed here by hand, that the script writes its figures, that without
matplotlib it still prints the numbers and names the extra to install, and that the notebook is the
one generated from the script and runs.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
SCRIPT = os.path.join(EXAMPLES, "cnn_walkthrough.py")
NOTEBOOK = os.path.join(EXAMPLES, "cnn_walkthrough.ipynb")
FIGURES = ("first_layer_filters.png", "feature_maps.png", "training_curves.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Worked by hand: X holds 1..16 row by row, K = [[1, 0], [-1, 1]],
# Y[i, j] = sum over a, b of X[i+a, j+b] K[a, b].
XCORR = np.array([[2, 3, 4], [6, 7, 8], [10, 11, 12]], dtype="float32")
# The same with K flipped on both axes (the convolution of signal processing).
CONVOLUTION = np.array([[5, 6, 7], [9, 10, 11], [13, 14, 15]], dtype="float32")
REFERENCE_SHAPES = [(30, 30, 32), (15, 15, 32), (13, 13, 64), (6, 6, 64), (4, 4, 64), (1024,)]
REFERENCE_SHAPES += [(64,), (10,)]
REFERENCE_PARAMS = [896, 0, 18496, 0, 36928, 0, 65600, 650]
CHAIN = "32x32x3 -> 30x30x32 -> 15x15x32 -> 13x13x64 -> 6x6x64 -> 4x4x64 -> 1024 -> 64 -> 10"


@pytest.fixture(scope="module")
def walkthrough():
    sys.path.insert(0, EXAMPLES)  # train() imports train_digits from the same folder
    try:
        spec = importlib.util.spec_from_file_location("cnn_walkthrough", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(EXAMPLES)


def test_cross_correlation_matches_the_hand_computation(walkthrough, capsys):
    result = walkthrough.cross_correlation_demo()
    np.testing.assert_array_equal(result["loops"], XCORR)
    np.testing.assert_array_equal(result["conv2d"], XCORR)
    np.testing.assert_array_equal(result["flipped"], CONVOLUTION)
    assert result["by_hand"] == "Y[0, 0] = 1*1 + 2*0 + 5*(-1) + 6*1 = 2"
    printed = capsys.readouterr().out
    assert "loops and Conv2D agree: True" in printed
    assert str(XCORR) in printed


@pytest.mark.parametrize("k", [np.array([[0, 2, 1], [-1, 3, 0]], "float32"), np.eye(3, k=1)])
def test_cross_correlate_and_conv2d_agree_on_other_kernels(walkthrough, k):
    x = np.random.default_rng(0).integers(-4, 5, size=(5, 6)).astype("float32")
    k = k.astype("float32")
    np.testing.assert_array_equal(
        walkthrough.cross_correlate(x, k), walkthrough.conv2d_layer_output(x, k)
    )


def test_output_size_formula_equals_conv2d_shapes(walkthrough):
    rows = walkthrough.stride_padding_demo()
    assert [r["formula"] for r in rows] == [3, 30, 3, 7, 4, 4, 5]
    assert [r["conv2d"] for r in rows] == [3, 30, 3, 7, 4, 4, 5]


@pytest.mark.parametrize(
    "h, f, s, padding",
    [
        (9, 4, 3, "same"),
        (10, 3, 3, "valid"),
        (6, 4, 4, "same"),
        (11, 5, 2, "valid"),
        (3, 5, 1, "same"),
    ],
)
def test_output_size_formula_on_more_cases(walkthrough, h, f, s, padding):
    (row,) = walkthrough.stride_padding_demo([(h, f, s, padding)])
    expected = -(-h // s) if padding == "same" else (h - f) // s + 1
    assert row["formula"] == row["conv2d"] == expected


def test_output_size_rejects_unknown_padding(walkthrough):
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        walkthrough.output_size(4, 2, 1, "full")


def test_max_and_average_pooling(walkthrough):
    result = walkthrough.pooling_demo()
    expected = {"max": [[6, 2], [2, 9]], "average": [[3.5, 1], [1, 6]]}
    for kind, values in expected.items():
        np.testing.assert_array_equal(result["numpy"][kind], values)
        np.testing.assert_array_equal(result["layers"][kind], values)


def test_reference_cnn_shape_table(walkthrough, capsys):
    rows = walkthrough.shape_table_demo()
    assert [r["keras_shape"] for r in rows] == REFERENCE_SHAPES
    assert [r["formula_shape"] for r in rows] == REFERENCE_SHAPES
    assert [r["keras_params"] for r in rows] == REFERENCE_PARAMS
    assert [r["formula_params"] for r in rows] == REFERENCE_PARAMS
    printed = capsys.readouterr().out
    assert CHAIN in printed
    assert "Total params: 122,570" in printed  # model.summary()


def _assert_figures(folder):
    import matplotlib.image

    for name in FIGURES:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE, name
        assert matplotlib.image.imread(path).std() > 0, f"{name} is blank"


def test_script_prints_the_numbers_and_writes_the_figures(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")  # the digits (examples/train_digits.py)
    out = tmp_path / "figures"
    run = subprocess.run(
        [sys.executable, SCRIPT, "--out", str(out), "--epochs", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    for line in (
        "Y[0, 0] = 1*1 + 2*0 + 5*(-1) + 6*1 = 2",
        "loops and Conv2D agree: True",
        "formula equals Conv2D in every case: True",
        "formulas equal the model's shapes and parameter counts: True",
        CHAIN,
        "val_accuracy: [",  # the History of the one epoch
    ):
        assert line in run.stdout
    assert sorted(os.listdir(out)) == sorted(FIGURES)
    _assert_figures(out)
    assert not (tmp_path / "walkthrough_figures").exists()


@pytest.mark.parametrize(
    "blocked, package, extra",
    [
        (["matplotlib"], "matplotlib", "plots"),
        (["sklearn"], "scikit-learn", "examples"),
        (["matplotlib", "sklearn"], "matplotlib and scikit-learn", "plots,examples"),
    ],
)
def test_without_an_extra_the_numbers_are_printed_and_the_extra_named(
    tmp_path, blocked, package, extra
):
    program = (
        "import runpy, sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        f"sys.path.insert(0, {EXAMPLES!r})\n"
        f"sys.argv = [{SCRIPT!r}]\n"
        f"runpy.run_path({SCRIPT!r}, run_name='__main__')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    assert f"{package} {'is' if len(blocked) == 1 else 'are'} not installed" in run.stderr
    assert f'pip install "numpykeras[{extra}]"' in run.stderr
    assert CHAIN in run.stdout
    assert "Epoch" not in run.stdout  # not trained when it cannot finish
    assert not (tmp_path / "walkthrough_figures").exists()


def _notebook():
    with open(NOTEBOOK, encoding="utf-8") as f:
        return f.read()


def test_notebook_is_generated_from_the_script(walkthrough):
    with open(SCRIPT, encoding="utf-8") as f:
        assert _notebook() == walkthrough.notebook_json(f.read()), (
            "examples/cnn_walkthrough.ipynb is out of date: run "
            "python3 examples/cnn_walkthrough.py --write-notebook examples/cnn_walkthrough.ipynb"
        )
    notebook = json.loads(_notebook())
    assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
    kinds = [cell["cell_type"] for cell in notebook["cells"]]
    assert kinds.count("markdown") == 9  # the title and the eight sections
    headings = [c["source"][0] for c in notebook["cells"] if c["cell_type"] == "markdown"]
    assert [h.split(".")[0] for h in headings[1:]] == [f"## {n}" for n in range(1, 9)]
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            assert "# notebook:" not in "".join(cell["source"])
    assert "def main" not in _notebook()  # the script-only cell stays out


def test_notebook_is_valid_nbformat():
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(_notebook(), as_version=4))


def test_notebook_code_runs(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(EXAMPLES)
    cells = [
        "".join(c["source"]) for c in json.loads(_notebook())["cells"] if c["cell_type"] == "code"
    ]
    assert sum("EPOCHS = 3" in cell for cell in cells) == 1
    namespace = {"__name__": "walkthrough_notebook"}
    try:
        for cell in cells:
            exec(
                compile(cell.replace("EPOCHS = 3", "EPOCHS = 1"), "<notebook cell>", "exec"),
                namespace,
            )
    finally:
        plt.close("all")
    assert len(namespace["history"].history["loss"]) == 1
    _assert_figures(tmp_path / "walkthrough_figures")
