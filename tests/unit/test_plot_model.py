"""``utils.plot_model`` / ``model_to_dot`` files, messages and notebook behaviour, and
``clear_session`` (no TensorFlow: the drawings are compared with Keras's in
tests/conformance/test_plot_model_vs_keras.py).

The ``.dot`` source needs only pydot; the PNG and SVG tests run only where Graphviz's ``dot``
program is on PATH.
"""

import shutil
import sys
import types

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import layers
from numpykeras.utils import model_visualization

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's `dot` program is not installed"
)


def _model():
    a = keras.Input((8,), name="a")
    b = keras.Input((8,), name="b")
    x = layers.Dense(4, activation="relu", name="left")(a)
    y = layers.Dense(4, name="right")(b)
    return keras.Model([a, b], layers.Dense(1, name="out")(layers.Concatenate(name="cat")([x, y])))


@pytest.fixture
def pydot():
    return pytest.importorskip("pydot")


@pytest.fixture
def no_notebook(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython.core.magics.namespace", raising=False)


@pytest.fixture
def in_notebook(monkeypatch):
    name = "IPython.core.magics.namespace"
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))


# --------------------------------------------------------------------------- files


def test_dot_file_is_the_graphviz_source(pydot, tmp_path, no_notebook, monkeypatch):
    # A .dot file needs no Graphviz: with `dot` made unreachable it is still written.
    monkeypatch.setenv("PATH", "")
    path = tmp_path / "model.dot"
    result = keras.utils.plot_model(_model(), to_file=path, show_shapes=True, show_layer_names=True)
    assert result is None or type(result).__name__ not in {"Image", "SVG"}
    text = path.read_text()
    assert text.startswith("digraph G {") and "splines=ortho" in text
    assert "<b>left</b> (Dense)" in text and "Output shape: <b>(None, 1)</b>" in text
    assert text.count(" -> ") == 5  # a->left, b->right, left->cat, right->cat, cat->out
    assert text.count("fontname=Helvetica") == 6


def test_plot_model_hides_layer_names_by_default(pydot, tmp_path, no_notebook):
    path = tmp_path / "model.dot"
    keras.utils.plot_model(_model(), to_file=str(path))
    text = path.read_text()
    assert "<b>Dense</b>" in text and "<b>left</b>" not in text


@needs_graphviz
def test_png_file(pydot, tmp_path, no_notebook):
    path = tmp_path / "model.png"
    keras.utils.plot_model(_model(), to_file=str(path), show_shapes=True, dpi=50)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


@needs_graphviz
def test_no_extension_writes_png_and_svg_by_extension(pydot, tmp_path, no_notebook):
    bare = tmp_path / "model"
    keras.utils.plot_model(_model(), to_file=str(bare), dpi=30)
    assert bare.read_bytes().startswith(b"\x89PNG")
    svg = tmp_path / "model.svg"
    keras.utils.plot_model(_model(), to_file=str(svg), expand_nested=True)
    assert "<svg" in svg.read_text()


@needs_graphviz
def test_returns_an_ipython_image(pydot, tmp_path):
    display = pytest.importorskip("IPython.display")
    image = keras.utils.plot_model(_model(), to_file=str(tmp_path / "m.png"), dpi=30)
    assert isinstance(image, display.Image)
    svg = keras.utils.plot_model(_model(), to_file=str(tmp_path / "m.svg"))
    assert isinstance(svg, display.SVG)
    assert keras.utils.plot_model(_model(), to_file=str(tmp_path / "m.pdf")) is None


# --------------------------------------------------------------------------- missing tools


@pytest.mark.parametrize("function", ["plot_model", "model_to_dot"])
def test_without_pydot_names_the_extra(monkeypatch, no_notebook, function):
    monkeypatch.setattr(model_visualization, "_import_pydot", lambda: None)
    with pytest.raises(ImportError, match=r"pip install pydot") as info:
        getattr(keras.utils, function)(_model())
    assert 'pip install "numpykeras[pydot]"' in str(info.value)
    assert f"`{function}`" in str(info.value)


def test_without_graphviz_says_how_to_install(pydot, tmp_path, monkeypatch, no_notebook):
    monkeypatch.setenv("PATH", "")  # no `dot` to run
    assert not model_visualization.check_graphviz()
    with pytest.raises(ImportError, match="apt install graphviz") as info:
        keras.utils.plot_model(_model(), to_file=str(tmp_path / "model.png"))
    assert "brew install graphviz" in str(info.value)
    assert not (tmp_path / "model.png").exists()


def test_in_a_notebook_missing_tools_are_printed(monkeypatch, tmp_path, capsys, in_notebook):
    monkeypatch.setattr(model_visualization, "_import_pydot", lambda: None)
    assert keras.utils.plot_model(_model(), to_file=str(tmp_path / "m.png")) is None
    assert "You must install pydot" in capsys.readouterr().out
    with pytest.raises(ImportError):  # model_to_dot raises, as Keras's does
        keras.utils.model_to_dot(_model())


# --------------------------------------------------------------------------- graph rules


def test_unbuilt_model_is_rejected():
    with pytest.raises(ValueError, match="has not yet been built"):
        keras.utils.model_to_dot(keras.Sequential([layers.Dense(2)]))


def test_bad_keywords(pydot, tmp_path):
    with pytest.raises(ValueError, match="`layer_range` is no longer supported"):
        keras.utils.model_to_dot(_model(), layer_range=["left", "out"])
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        keras.utils.model_to_dot(_model(), show_names=True)


def test_subclassed_model_is_one_box(pydot):
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.hidden = layers.Dense(2)

        def call(self, x):
            return self.hidden(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    dot = keras.utils.model_to_dot(net, show_shapes=True, expand_nested=True)
    (node,) = dot.get_nodes()[1:]  # after the `node [shape=record]` defaults
    assert "<b>net</b> (Net)" in node.get("label") and "Input shape: <b>?</b>" in node.get("label")
    assert dot.get_edges() == []


def test_expand_nested_draws_edges_to_inner_boxes(pydot):
    inner = keras.Sequential(
        [keras.Input((8,)), layers.Dense(4, name="d1"), layers.Dense(3, name="d2")], name="inner"
    )
    x = keras.Input((8,), name="x")
    model = keras.Model(x, layers.Dense(1, name="d3")(inner(x)))
    ids = {str(id(layer)): layer.name for layer in model.layers + inner.layers}

    def edges(dot):
        pairs = [(e.get_source(), e.get_destination()) for e in dot.get_edges()]
        for cluster in dot.get_subgraphs():
            pairs += [(e.get_source(), e.get_destination()) for e in cluster.get_edges()]
        return sorted((ids[a], ids[b]) for a, b in pairs)

    flat = keras.utils.model_to_dot(model)
    assert edges(flat) == [("inner", "d3"), ("x", "inner")]
    nested = keras.utils.model_to_dot(model, expand_nested=True)
    assert [c.get_name() for c in nested.get_subgraphs()] == ["cluster_inner"]
    assert edges(nested) == [("d1", "d2"), ("d2", "d3"), ("x", "d1")]


def test_names_are_escaped_in_labels(pydot):
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1, name="a<b&c")])
    label = keras.utils.model_to_dot(model).get_nodes()[1].get("label")
    assert "<b>a&lt;b&amp;c</b> (Dense)" in label


# --------------------------------------------------------------------------- clear_session


def test_clear_session_restarts_automatic_names():
    assert keras.backend.clear_session is keras.utils.clear_session
    keras.backend.clear_session()
    first = [layers.Dense(1).name, keras.Sequential().name, keras.optimizers.SGD().name]
    second = [layers.Dense(1).name, keras.Sequential().name, keras.optimizers.SGD().name]
    assert first == ["dense", "sequential", "sgd"]
    assert second == ["dense_1", "sequential_1", "sgd_1"]
    keras.utils.clear_session(free_memory=False)
    assert [layers.Dense(1).name, keras.Sequential().name, keras.optimizers.SGD().name] == first
    assert keras.random.SeedGenerator(1).name == "seed_generator"


def test_clear_session_forgets_the_seed_but_stays_reproducible():
    def weights():
        keras.utils.set_random_seed(7)
        keras.backend.clear_session()
        assert keras.utils.get_random_seed() is None
        model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
        return model.get_weights()[0], model.layers[0].name

    (w1, name1), (w2, name2) = weights(), weights()
    np.testing.assert_array_equal(w1, w2)
    assert name1 == name2 == "dense"
