"""A recurrent model learns a rule over sequences of different lengths (no download).

Each sequence is 3 to 20 tokens drawn from 1..9. Its label is 1 when its last token equals its
first: the model has to remember the first token through the whole sequence, whatever its
length, and find where the sequence ends. The sequences are padded with zeros by ``pad_sequences``;
``Embedding(mask_zero=True)`` turns the padding into a mask, so the ``LSTM`` stops at the last real
token instead of reading the padding.

Run: ``python3 examples/sequence_rule.py`` (about 13 seconds on two cores; test accuracy about
0.95). The same script runs on Keras 3 with ``import keras`` in place of the numpykeras import.
"""

import argparse

import numpy as np

import numpykeras as keras
from numpykeras import layers

MAX_LEN = 20
VOCABULARY = 10  # token 0 is the padding; real tokens are 1..9


def make_sequences(n, rng):
    """``n`` token sequences of lengths 3..20, half of them ending with their first token."""
    lengths = rng.integers(3, MAX_LEN + 1, size=n)
    sequences = [rng.integers(1, VOCABULARY, size=length) for length in lengths]
    for tokens in sequences[: n // 2]:
        tokens[-1] = tokens[0]
    for tokens in sequences[n // 2 :]:
        if tokens[-1] == tokens[0]:
            tokens[-1] = tokens[0] % (VOCABULARY - 1) + 1  # another token
    labels = np.array([tokens[-1] == tokens[0] for tokens in sequences], "float32")
    order = rng.permutation(n)
    return [sequences[i].tolist() for i in order], labels[order]


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(MAX_LEN,), dtype="int32"),
            layers.Embedding(VOCABULARY, 8, mask_zero=True),
            layers.LSTM(32),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_sequences, y_train = make_sequences(args.samples, rng)
    test_sequences, y_test = make_sequences(1000, rng)
    # Left-aligned tokens, zeros after them: (samples, MAX_LEN) int32.
    x_train = keras.utils.pad_sequences(train_sequences, maxlen=MAX_LEN, padding="post")
    x_test = keras.utils.pad_sequences(test_sequences, maxlen=MAX_LEN, padding="post")

    model = build_model()
    model.summary()
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.1, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f} (guessing: 0.5)")

    examples = [[9, 8, 1, 7, 9], [1, 2, 3, 9, 9, 4, 5], [6, 1, 1, 1, 7, 2, 9, 3, 3, 3, 6]]
    probabilities = model.predict(
        keras.utils.pad_sequences(examples, maxlen=MAX_LEN, padding="post"), verbose=0
    )[:, 0]
    for tokens, p in zip(examples, probabilities):
        print(f"{tokens}: P(last == first) = {p:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
