"""TensorFlow's CNN tutorial on CIFAR-10, unchanged except for the import line.

Needs the CIFAR-10 data: Keras's cached copy in ~/.keras/datasets, or internet access to download
it.
Run:  python examples/cifar10_tutorial.py
"""

from numpykeras import datasets, layers, losses, models

(train_images, train_labels), (test_images, test_labels) = datasets.cifar10.load_data()

# Normalize pixel values to be between 0 and 1
train_images, test_images = train_images / 255.0, test_images / 255.0

model = models.Sequential()
model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation="relu"))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation="relu"))
model.add(layers.Flatten())
model.add(layers.Dense(64, activation="relu"))
model.add(layers.Dense(10))
model.summary()

model.compile(optimizer='adam',
              loss=losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])  # fmt: skip

history = model.fit(train_images, train_labels, epochs=10,
                    validation_data=(test_images, test_labels))  # fmt: skip

test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print(history.history["accuracy"], history.history["val_accuracy"])
print(test_acc)
