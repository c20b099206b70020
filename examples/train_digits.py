"""The main job: train and evaluate the reference CNN on real handwritten digits, in NumPy.

The data set is the 1,797 8x8 digit images that scikit-learn ships (no download). Each image is
scaled up to 32x32 and repeated over 3 channels so the reference model from the TensorFlow CNN
tutorial runs unchanged; 20% of the images are held out for testing. The trained model is saved in
Keras's format.

Run:  python examples/train_digits.py [--epochs 10] [--output digits_cnn.keras]
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from numpykeras import layers, losses, models, utils


def load_data(test_fraction=0.2, seed=0):
    digits = load_digits()
    images = digits.images.astype("float32") / 16.0  # (1797, 8, 8) in [0, 1]
    images = images.repeat(4, axis=1).repeat(4, axis=2)  # nearest-neighbour upscale to 32x32
    images = np.repeat(images[..., None], 3, axis=-1)  # (1797, 32, 32, 3)
    labels = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(images))
    split = int(len(images) * (1 - test_fraction))
    train, test = order[:split], order[split:]
    return (images[train], labels[train]), (images[test], labels[test])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", default="digits_cnn.keras")
    args = parser.parse_args()

    utils.set_random_seed(42)
    (train_images, train_labels), (test_images, test_labels) = load_data()
    print(f"train: {train_images.shape}, test: {test_images.shape}")

    # The reference CNN, exactly as in the TensorFlow tutorial.
    model = models.Sequential([
        layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.Flatten(),
        layers.Dense(64, activation='relu'),
        layers.Dense(10),
    ])  # fmt: skip
    model.summary()

    model.compile(optimizer='adam',
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])  # fmt: skip
    start = time.perf_counter()
    history = model.fit(train_images, train_labels, epochs=args.epochs,
                        validation_data=(test_images, test_labels))  # fmt: skip
    elapsed = time.perf_counter() - start

    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
    print(f"training took {elapsed:.1f} s ({args.epochs} epochs)")
    print("accuracy per epoch:", [round(a, 4) for a in history.history["accuracy"]])
    print("val_accuracy per epoch:", [round(a, 4) for a in history.history["val_accuracy"]])
    print(f"test accuracy: {test_acc:.4f}")
    model.save(args.output)
    print(f"saved the trained model to {args.output}")


if __name__ == "__main__":
    main()
