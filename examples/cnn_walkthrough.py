"""A CNN from the math up: the theory of convolutional networks, worked by hand and with numpykeras.

Cross-correlation on a 4x4 input, the output-size formula for stride and padding, max and average
pooling, the shape table of the reference CNN, then the reference CNN trained for a few seconds on
scikit-learn's handwritten digits (no download) and pictured: its first-layer filters, the feature
maps of one digit and the training curves, saved as PNG files.

Run:  python3 examples/cnn_walkthrough.py [--out walkthrough_figures/] [--epochs 3]
Needs scikit-learn (the digits) and matplotlib (the figures):
      pip install "numpykeras[examples,plots]"
Without matplotlib the numbers are still printed.

The file is written in cells ("# %%", the percent format that Jupytext, VS Code and Spyder read);
examples/cnn_walkthrough.ipynb is generated from them:
      python3 examples/cnn_walkthrough.py --write-notebook examples/cnn_walkthrough.ipynb
"""

# %% [markdown]
# # A convolutional network from the math up
#
# This notebook walks through the usual theory of convolutional neural networks (CNNs):
# cross-correlation, stride and padding, pooling and the shapes through a network. Every step is
# computed twice: by hand (plain NumPy) and with the Keras layer that does it, run by numpykeras
# (the Keras API on NumPy alone). Then the reference CNN of TensorFlow's CNN tutorial is trained
# for a few seconds on handwritten digits and we look inside it: its first-layer filters, the
# feature maps of one digit, and the training curves.
#
# Needs `pip install "numpykeras[examples,plots]"` (scikit-learn for the digits, matplotlib for
# the figures).

# %%
import os

import numpy as np

import numpykeras as keras
from numpykeras import layers, losses, models, utils

# notebook: OUT_DIR = "walkthrough_figures"  # where the figures are saved
# notebook: EPOCHS = 3  # a few seconds of training

# %% [markdown]
# ## 1. Cross-correlation, by hand and as a `Conv2D`
#
# A convolution layer slides a small grid of weights, the kernel $K$ ($F \times F$), over the
# input $X$. At each position it multiplies the entries that overlap and adds them up:
#
# $$Y[i, j] = \sum_{a=0}^{F-1} \sum_{b=0}^{F-1} X[i + a, j + b]\, K[a, b]$$
#
# Strictly this is *cross-correlation*. The convolution of signal processing flips the kernel
# first ($X[i - a, j - b]$). Keras, like the other deep-learning libraries, computes the
# unflipped sum and calls it convolution. The kernel is learned, so the flip changes nothing about
# what a network can learn, but it does change the numbers you get when you check a layer by hand.
#
# Take the 4x4 input holding 1 to 16 and the kernel
# $K = \begin{pmatrix}1 & 0\\ -1 & 1\end{pmatrix}$. The kernel fits in $4 - 2 + 1 = 3$ positions
# along each axis, so the output is 3x3. The top-left output covers
# $X[0{:}2, 0{:}2] = \begin{pmatrix}1 & 2\\ 5 & 6\end{pmatrix}$:
#
# $$Y[0, 0] = 1 \cdot 1 + 2 \cdot 0 + 5 \cdot (-1) + 6 \cdot 1 = 2$$
#
# A check you can make in your head: this input rises by 1 along a row and by 4 down a column, and
# the weights of $K$ add up to 1. So each output is $X[i, j]$ plus
# $\sum_{a,b} K[a, b]\,(4a + b) = 4 \cdot (-1) + 5 \cdot 1 = 1$, the entry to its right, and the
# whole output is $\begin{pmatrix}2 & 3 & 4\\ 6 & 7 & 8\\ 10 & 11 & 12\end{pmatrix}$.
#
# Keras stores data as (batch, height, width, channels) and a `Conv2D` kernel as (kernel height,
# kernel width, input channels, filters) ("HWIO"), so the image becomes an array of shape
# (1, 4, 4, 1) and the kernel one of shape (2, 2, 1, 1), given to the layer by `set_weights`.

# %%
X = np.arange(1, 17, dtype="float32").reshape(4, 4)
K = np.array([[1, 0], [-1, 1]], dtype="float32")


def cross_correlate(x, k):
    """Valid 2-D cross-correlation of one channel, as the formula's sums, with plain loops.

    Args:
        x: input of shape (H, W).
        k: kernel of shape (F_h, F_w).

    Returns:
        Array of shape (H - F_h + 1, W - F_w + 1).
    """
    f_h, f_w = k.shape
    out = np.zeros((x.shape[0] - f_h + 1, x.shape[1] - f_w + 1), dtype="float32")
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i : i + f_h, j : j + f_w] * k)
    return out


def by_hand(x, k, i=0, j=0):
    """The sum for output Y[i, j], written out: "Y[0, 0] = 1*1 + 2*0 + ... = 2"."""
    patch = x[i : i + k.shape[0], j : j + k.shape[1]]
    terms = [
        f"{p:g}*{w:g}" if w >= 0 else f"{p:g}*({w:g})" for p, w in zip(patch.ravel(), k.ravel())
    ]
    return f"Y[{i}, {j}] = {' + '.join(terms)} = {np.sum(patch * k):g}"


def conv2d_layer_output(x, k):
    """The same cross-correlation run by a Keras `Conv2D` layer with the kernel `k`."""
    conv = layers.Conv2D(1, k.shape, use_bias=False)
    conv.build((None, x.shape[0], x.shape[1], 1))
    conv.set_weights([k.reshape(k.shape[0], k.shape[1], 1, 1)])  # HWIO
    return conv(x.reshape(1, x.shape[0], x.shape[1], 1))[0, :, :, 0]


def cross_correlation_demo(x=X, k=K):
    """Prints the worked example and returns its arrays."""
    loops = cross_correlate(x, k)
    layer = conv2d_layer_output(x, k)
    flipped = cross_correlate(x, k[::-1, ::-1])
    print(f"input X:\n{x}\nkernel K:\n{k}")
    print("by hand:", by_hand(x, k))
    print(f"plain NumPy loops:\n{loops}")
    print(f"layers.Conv2D(1, {k.shape}, use_bias=False) with K as its kernel:\n{layer}")
    print("loops and Conv2D agree:", np.array_equal(loops, layer))
    print(f"with the kernel flipped (true convolution) it would be:\n{flipped}")
    return {"by_hand": by_hand(x, k), "loops": loops, "conv2d": layer, "flipped": flipped}


# notebook: xcorr = cross_correlation_demo()

# %% [markdown]
# ## 2. Stride and padding: the output size
#
# The *stride* $S$ is how far the kernel moves between positions; *padding* $P$ adds rows and
# columns of zeros around the input. With input size $H$ and kernel size $F$ the output size is
#
# $$O = \left\lfloor \frac{H + 2P - F}{S} \right\rfloor + 1$$
#
# Keras names two paddings:
#
# - `padding="valid"`: no padding, $P = 0$. The kernel only visits positions where it fits
#   entirely, and the output shrinks by $F - 1$ (with stride 1).
# - `padding="same"`: pads just enough that $O = \lceil H / S \rceil$ (the same size as the input at
#   stride 1). The total padding is $P_{total} = \max((O - 1) S + F - H, 0)$, half before and the
#   rest after; when it is odd, the extra row or column goes at the bottom or right (TensorFlow's
#   rule). In the formula, $P_{total}$ takes the place of $2P$.
#
# The table works the formula for a few cases and checks each against the shape a `Conv2D`
# actually returns.

# %%
CASES = [  # (H, F, S, padding)
    (4, 2, 1, "valid"),  # the 4x4 example above
    (32, 3, 1, "valid"),  # the reference CNN's first layer
    (7, 3, 2, "valid"),
    (7, 3, 1, "same"),
    (7, 3, 2, "same"),
    (8, 3, 2, "same"),  # odd total padding: 0 before, 1 after
    (5, 5, 1, "same"),
]


def output_size(h, f, s, padding):
    """The output size by the formula; returns (O, padding before, padding after)."""
    if padding == "valid":
        before = after = 0
    elif padding == "same":
        total = max((-(-h // s) - 1) * s + f - h, 0)  # -(-h // s) is ceil(h / s)
        before, after = total // 2, total - total // 2
    else:
        raise ValueError(f"padding must be 'valid' or 'same'. Received: padding={padding!r}")
    return (h + before + after - f) // s + 1, before, after


def stride_padding_demo(cases=CASES):
    """Prints the formula and the Conv2D output size for each case; returns the rows."""
    rows = []
    print(" H  F  S  padding  P before/after  formula  Conv2D")
    for h, f, s, padding in cases:
        formula, before, after = output_size(h, f, s, padding)
        conv = layers.Conv2D(1, f, strides=s, padding=padding)
        layer = conv(np.zeros((1, h, h, 1), dtype="float32")).shape[1]
        rows.append(
            {"H": h, "F": f, "S": s, "padding": padding, "formula": formula, "conv2d": layer}
        )
        print(
            f"{h:2d} {f:2d} {s:2d}  {padding:7s}  {before:6d}/{after:<6d}  {formula:7d}  {layer:6d}"
        )
    print("formula equals Conv2D in every case:", all(r["formula"] == r["conv2d"] for r in rows))
    return rows


# notebook: size_rows = stride_padding_demo()

# %% [markdown]
# ## 3. Max and average pooling
#
# A pooling layer has no weights. It cuts each channel into windows (2x2 here; the stride defaults
# to the window size, so the windows do not overlap) and keeps one number per window:
# `MaxPooling2D` the largest, `AveragePooling2D` the mean. The output size follows the same formula
# with $F$ the window and $S$ the stride, so a 4x4 input gives 2x2.
#
# Max pooling keeps the strongest response of a feature anywhere in the window, which makes the
# network tolerate small shifts; average pooling smooths. In training, max pooling passes the
# gradient back only to the largest entry of each window, average pooling shares it equally.

# %%
POOL_INPUT = np.array(
    [[1, 3, 2, 0], [4, 6, 1, 1], [0, 2, 9, 4], [1, 1, 3, 8]],
    dtype="float32",
)


def pooling_demo(x=POOL_INPUT):
    """Prints 2x2 max and average pooling, by NumPy and by the Keras layers; returns them."""
    h, w = x.shape
    windows = x.reshape(h // 2, 2, w // 2, 2)  # windows[i, :, j, :] is the window at (i, j)
    by_numpy = {"max": windows.max(axis=(1, 3)), "average": windows.mean(axis=(1, 3))}
    batch = x.reshape(1, h, w, 1)
    by_layer = {
        "max": layers.MaxPooling2D((2, 2))(batch)[0, :, :, 0],
        "average": layers.AveragePooling2D((2, 2))(batch)[0, :, :, 0],
    }
    print(f"input:\n{x}")
    for kind in ("max", "average"):
        print(f"{kind} pooling, NumPy:\n{by_numpy[kind]}")
        print(f"{kind} pooling, layer:\n{by_layer[kind]}")
        print("agree:", np.array_equal(by_numpy[kind], by_layer[kind]))
    return {"numpy": by_numpy, "layers": by_layer}


# notebook: pooled = pooling_demo()

# %% [markdown]
# ## 4. The reference CNN, shape by shape
#
# The CNN of TensorFlow's tutorial stacks three 3x3 convolutions (`"valid"` padding, stride 1) with
# 2x2 max pooling between them, then flattens and classifies with two dense layers. The shapes
# follow from the formula of section 2, and the parameter counts from the layers' weights:
#
# - a 3x3 convolution maps $H \to H - 2$ and has $(3 \cdot 3 \cdot C_{in} + 1) \cdot C_{out}$
#   parameters (one kernel per input and output channel, plus one bias per output channel);
# - 2x2 pooling maps $H \to \lfloor (H - 2) / 2 \rfloor + 1 = \lfloor H / 2 \rfloor$: 13x13 becomes
#   6x6 and the last row and column are dropped;
# - `Flatten` lays the $4 \times 4 \times 64$ values out as 1024 numbers;
# - a dense layer has $(n_{in} + 1) \cdot n_{out}$ parameters.
#
# $$32 \times 32 \times 3 \to 30 \times 30 \times 32 \to 15 \times 15 \times 32 \to
# 13 \times 13 \times 64 \to 6 \times 6 \times 64 \to 4 \times 4 \times 64 \to 1024 \to 64 \to 10$$
#
# The last layer returns 10 logits (scores); the loss applies the softmax (`from_logits=True`).


# %%
def build_reference_cnn():
    """The CNN of TensorFlow's CNN tutorial, for 32x32x3 images and 10 classes."""
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


def by_formula(layer, in_shape):
    """A layer's output shape and parameter count by the formulas above, with the working.

    Covers the layers of the reference CNN: `Conv2D` and `MaxPooling2D` with "valid" padding,
    `Flatten` and `Dense`. `in_shape` leaves out the batch axis.
    """
    if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D)):
        if layer.padding != "valid":
            raise ValueError(f"Only 'valid' padding is worked here. Received: {layer.padding!r}")
        is_conv = isinstance(layer, layers.Conv2D)
        f, s = (layer.kernel_size if is_conv else layer.pool_size)[0], layer.strides[0]
        h, channels = in_shape[0], in_shape[-1]
        out = (h - f) // s + 1
        working = f"floor(({h} - {f}) / {s}) + 1 = {out}"
        if not is_conv:
            return (out, out, channels), 0, working
        params = (f * f * channels + 1) * layer.filters
        working += f"; ({f}*{f}*{channels} + 1)*{layer.filters} = {params}"
        return (out, out, layer.filters), params, working
    if isinstance(layer, layers.Flatten):
        size = int(np.prod(in_shape))
        return (size,), 0, "*".join(map(str, in_shape)) + f" = {size}"
    if isinstance(layer, layers.Dense):
        params = (in_shape[-1] + 1) * layer.units
        return (layer.units,), params, f"({in_shape[-1]} + 1)*{layer.units} = {params}"
    raise TypeError(f"No formula here for a {type(layer).__name__} layer.")


def shape_table_demo(model=None):
    """Prints `model.summary()` and the formula table; returns the table's rows."""
    model = model if model is not None else build_reference_cnn()
    model.summary()
    rows, shape = [], model.input.shape[1:]
    print(f"{'layer':16s} {'formula shape':14s} {'Keras shape':14s} {'params':>7s}  working")
    for layer in model.layers:
        shape, params, working = by_formula(layer, shape)
        keras_shape = layer.output.shape[1:]
        rows.append(
            {
                "layer": layer.name,
                "formula_shape": shape,
                "keras_shape": tuple(keras_shape),
                "formula_params": params,
                "keras_params": layer.count_params(),
            }
        )
        print(
            f"{layer.name:16s} {str(shape):14s} {str(tuple(keras_shape)):14s} "
            f"{layer.count_params():7d}  {working}"
        )
    agree = all(
        r["formula_shape"] == r["keras_shape"] and r["formula_params"] == r["keras_params"]
        for r in rows
    )
    print("formulas equal the model's shapes and parameter counts:", agree)
    chain = " -> ".join("x".join(map(str, r["keras_shape"])) for r in rows)
    print("32x32x3 ->", chain)
    return rows


# notebook: shape_rows = shape_table_demo()

# %% [markdown]
# ## 5. Training on handwritten digits
#
# The data are the 1,797 8x8 digit images that scikit-learn ships (no download), scaled up to
# 32x32 and repeated over 3 channels so the model above runs unchanged; a fifth is held out as the
# test set (`load_data` in `examples/train_digits.py`). Adam and the sparse categorical
# cross-entropy train it; a few epochs take a few seconds. `fit` returns a `History` whose
# `history` dict holds the loss and accuracy of every epoch, on the training and the test data.


# %%
def train(epochs=3, seed=42):
    """Trains the reference CNN on the digits; returns (model, history, test images, labels)."""
    from train_digits import load_data  # examples/train_digits.py; needs scikit-learn

    utils.set_random_seed(seed)
    (train_images, train_labels), (test_images, test_labels) = load_data()
    model = build_reference_cnn()
    model.compile(
        optimizer="adam",
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        train_images,
        train_labels,
        epochs=epochs,
        validation_data=(test_images, test_labels),
        verbose=2,
    )
    for key, values in history.history.items():
        print(f"{key}:", [round(v, 4) for v in values])
    return model, history, test_images, test_labels


# notebook: model, history, test_images, test_labels = train(EPOCHS)

# %% [markdown]
# ## 6. What the first layer learned
#
# The first `Conv2D` has 32 kernels of shape 3x3x3. The three input channels here are copies of
# the same grey image, so each filter acts on the digit as the sum of its three channel slices: a
# single 3x3 grid. Red weights (positive) respond to bright pixels, blue ones (negative) to dark
# ones; many filters look like small edge or stroke detectors.


# %%
def plot_first_layer_filters(model, path):
    """Saves the first layer's 3x3 filters (summed over input channels) as a grid; returns it."""
    import matplotlib.pyplot as plt

    kernel = model.layers[0].get_weights()[0].sum(axis=2)  # (3, 3, in, filters) -> (3, 3, filters)
    limit = np.abs(kernel).max()
    rows, cols = 4, kernel.shape[-1] // 4
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.2))
    for n, ax in enumerate(axes.ravel()):
        ax.imshow(kernel[:, :, n], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(n), fontsize=8)
        ax.axis("off")
    fig.suptitle("First Conv2D layer: 32 filters (3x3, summed over the input channels)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("saved", path)
    return fig


# notebook: os.makedirs(OUT_DIR, exist_ok=True)
# notebook: fig = plot_first_layer_filters(model, os.path.join(OUT_DIR, "first_layer_filters.png"))

# %% [markdown]
# ## 7. One digit through the network: feature maps
#
# A feature map is one output channel of a layer: where in the image that channel's filter
# responded. As in Keras, a functional model built on the trained layers' outputs,
# `keras.Model(model.inputs, [layer.output for layer in ...])`, returns the maps of every
# convolution and pooling layer in one `predict`. Each row below shows the first 8 channels of one
# layer: the maps get smaller (30, 15, 13, 6, 4 pixels) and more abstract as they go deeper.


# %%
def feature_model(model):
    """A functional model returning the outputs of every Conv2D and MaxPooling2D layer."""
    kept = [
        layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D))
    ]
    return keras.Model(inputs=model.inputs, outputs=[layer.output for layer in kept]), kept


def plot_feature_maps(model, image, path, channels=8):
    """Saves the input and the first `channels` maps of each conv/pool layer; returns the figure."""
    import matplotlib.pyplot as plt

    extractor, kept = feature_model(model)
    maps = extractor.predict(image[None], verbose=0)
    fig, axes = plt.subplots(
        len(maps) + 1, channels, figsize=(channels * 1.3, (len(maps) + 1) * 1.5)
    )
    axes[0, 0].imshow(image[:, :, 0], cmap="gray")
    axes[0, 0].set_title("input 32x32", fontsize=8)
    seen = {}
    for layer, fmap, row in zip(kept, maps, axes[1:]):
        for c, ax in enumerate(row):
            ax.imshow(fmap[0, :, :, c], cmap="viridis")
        kind = type(layer).__name__
        seen[kind] = seen.get(kind, 0) + 1
        h, w, depth = fmap.shape[1:]
        row[0].set_title(f"{kind} {seen[kind]}: {h}x{w}x{depth}", fontsize=8, loc="left")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"Feature maps of one digit (first {channels} channels of each layer)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("saved", path)
    return fig


# notebook: digit = test_images[0]
# notebook: predicted = model.predict(digit[None], verbose=0).argmax()
# notebook: print(f"label {test_labels[0]}, predicted {predicted}")
# notebook: fig = plot_feature_maps(model, digit, os.path.join(OUT_DIR, "feature_maps.png"))

# %% [markdown]
# ## 8. Training curves
#
# The loss and accuracy per epoch from `History.history`, on the training data (averaged over the
# batches of the epoch, while the weights change) and on the held-out test data (measured at the
# end of the epoch). Test accuracy above training accuracy early on is normal for that reason.


# %%
def plot_training_curves(history, path):
    """Saves loss and accuracy per epoch, training and test; returns the figure."""
    import matplotlib.pyplot as plt

    logs = history.history
    epochs = np.arange(1, len(logs["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in ((left, "loss"), (right, "accuracy")):
        ax.plot(epochs, logs[key], "o-", label="training")
        ax.plot(epochs, logs[f"val_{key}"], "s--", label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_xticks(epochs)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("Reference CNN on the digits")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("saved", path)
    return fig


# notebook: fig = plot_training_curves(history, os.path.join(OUT_DIR, "training_curves.png"))

# %% [script]
FIGURES = ("first_layer_filters.png", "feature_maps.png", "training_curves.png")
# What the training and the figures need: (module, package on PyPI, numpykeras extra).
NEEDED = (("matplotlib", "matplotlib", "plots"), ("sklearn", "scikit-learn", "examples"))


def missing_message():
    """None when the training and the figures can run, else what to install, and how."""
    import importlib

    missing = []
    for module, package, extra in NEEDED:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((package, extra))
    if not missing:
        return None
    packages = [package for package, _ in missing]
    extras = ",".join(extra for _, extra in missing)
    verb, plural = ("is", "") if len(missing) == 1 else ("are", "s")
    return (
        f"{' and '.join(packages)} {verb} not installed, so the network was not trained and no "
        f"figures were drawn. Install the '{extras}' extra{plural} and run again:\n"
        f'    pip install "numpykeras[{extras}]"      (or: pip install {" ".join(packages)})'
    )


def draw_figures(model, history, test_images, out_dir):
    """Saves the three figures in `out_dir`; returns their paths."""
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, name) for name in FIGURES]
    figures = [
        plot_first_layer_filters(model, paths[0]),
        plot_feature_maps(model, test_images[0], paths[1]),
        plot_training_curves(history, paths[2]),
    ]
    for fig in figures:
        plt.close(fig)
    return paths


def notebook_cells(source):
    """Splits this file's text into notebook cells: a list of (cell type, text).

    "# %% [markdown]" starts a markdown cell ("# " is taken off each line), "# %%" a code cell and
    "# %% [script]" a part left out of the notebook. In a code cell, lines starting with
    "# notebook: " become a code cell of their own after it (they run only in the notebook).
    """
    cells, kind, lines = [], None, []

    def close():
        code = [line for line in lines if not line.startswith("# notebook: ")]
        extra = [line[len("# notebook: ") :] for line in lines if line.startswith("# notebook: ")]
        text = "\n".join(code).strip("\n")
        if kind == "markdown":
            text = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#") for line in code
            )
            cells.append(("markdown", text.strip("\n")))
        elif kind == "code" and text:
            cells.append(("code", text))
        if kind == "code" and extra:
            cells.append(("code", "\n".join(extra)))

    for line in source.splitlines():
        if line.startswith("# %%"):
            close()
            marker = line[len("# %%") :].strip()
            kind = {"": "code", "[markdown]": "markdown", "[script]": None}[marker]
            lines = []
        else:
            lines.append(line)
    close()
    return cells


def make_notebook(source):
    """The nbformat 4 notebook (a dict) of this file's cells, with empty outputs."""
    cells = []
    for n, (kind, text) in enumerate(notebook_cells(source)):
        cell = {"cell_type": kind, "id": f"cell-{n:02d}", "metadata": {}}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cell["source"] = text.splitlines(keepends=True)
        cells.append(cell)
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def notebook_json(source):
    """The notebook as the text of an .ipynb file."""
    import json

    return json.dumps(make_notebook(source), indent=1, ensure_ascii=False) + "\n"


def main(argv=None):
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="walkthrough_figures", help="folder for the PNG files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--write-notebook", metavar="PATH", help="write the notebook and exit")
    args = parser.parse_args(argv)

    if args.write_notebook:
        with open(__file__, encoding="utf-8") as f:
            text = notebook_json(f.read())
        with open(args.write_notebook, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote", args.write_notebook)
        return 0

    np.set_printoptions(suppress=True)
    for title, demo in (
        ("1. Cross-correlation", cross_correlation_demo),
        ("2. Stride and padding", stride_padding_demo),
        ("3. Max and average pooling", pooling_demo),
        ("4. The reference CNN, shape by shape", shape_table_demo),
    ):
        print(f"\n== {title} ==")
        demo()

    message = missing_message()
    if message:
        print("\n" + message, file=sys.stderr)
        return 1
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen

    print(f"\n== 5. Training on handwritten digits, epochs={args.epochs} ==")
    model, history, test_images, test_labels = train(args.epochs)
    print("\n== 6-8. Figures ==")
    digit_prediction = model.predict(test_images[:1], verbose=0).argmax()
    print(f"the digit in the feature maps: label {test_labels[0]}, predicted {digit_prediction}")
    draw_figures(model, history, test_images, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
