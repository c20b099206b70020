"""Keras Applications: ImageNet models with Keras's exact layer names and structure.

``VGG16``, ``ResNet50`` (and ``ResNet101``, ``ResNet152``) and ``MobileNetV2`` build the same
graphs as ``keras.applications``, so the weight files Keras downloads (and weights saved from
Keras models) load into them. Pretrained weights are read from Keras's cache
(``~/.keras/models/``) or from a path: numpykeras never downloads them.

Each model's module also has its ``preprocess_input`` and ``decode_predictions``.
"""

from numpykeras.applications import imagenet_utils, mobilenet_v2, resnet, resnet50, vgg16
from numpykeras.applications.mobilenet_v2 import MobileNetV2
from numpykeras.applications.resnet import ResNet50, ResNet101, ResNet152
from numpykeras.applications.vgg16 import VGG16

__all__ = [
    "MobileNetV2",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "VGG16",
    "imagenet_utils",
    "mobilenet_v2",
    "resnet",
    "resnet50",
    "vgg16",
]
