"""Keras layers, implemented in NumPy.

``layers.get`` / ``layers.deserialize`` turn a Keras config dict into a layer; ``layers.serialize``
goes the other way.
"""

from __future__ import annotations

# Merging, activation, reshaping, pooling, regularization, embedding and normalization layers of
# the Functional API.
from numpykeras.layers.activations.elu import ELU
from numpykeras.layers.activations.leaky_relu import LeakyReLU
from numpykeras.layers.activations.prelu import PReLU
from numpykeras.layers.activations.relu import ReLU
from numpykeras.layers.activations.softmax import Softmax
from numpykeras.layers.attention.additive_attention import AdditiveAttention
from numpykeras.layers.attention.attention import Attention
from numpykeras.layers.attention.multi_head_attention import MultiHeadAttention
from numpykeras.layers.convolutional.conv1d import Conv1D
from numpykeras.layers.convolutional.conv2d import Conv2D
from numpykeras.layers.convolutional.conv2d_transpose import Conv2DTranspose
from numpykeras.layers.convolutional.conv3d import Conv3D
from numpykeras.layers.convolutional.conv3d_transpose import Conv3DTranspose
from numpykeras.layers.convolutional.depthwise_conv2d import DepthwiseConv2D
from numpykeras.layers.convolutional.separable_conv2d import SeparableConv2D
from numpykeras.layers.core.activation import Activation
from numpykeras.layers.core.dense import Dense
from numpykeras.layers.core.einsum_dense import EinsumDense
from numpykeras.layers.core.embedding import Embedding
from numpykeras.layers.core.masking import Masking
from numpykeras.layers.input_layer import Input, InputLayer
from numpykeras.layers.layer import InputSpec, Layer
from numpykeras.layers.merging.add import Add, add
from numpykeras.layers.merging.average import Average, average
from numpykeras.layers.merging.concatenate import Concatenate, concatenate
from numpykeras.layers.merging.maximum import Maximum, maximum
from numpykeras.layers.merging.minimum import Minimum, minimum
from numpykeras.layers.merging.multiply import Multiply, multiply
from numpykeras.layers.merging.subtract import Subtract, subtract
from numpykeras.layers.normalization.batch_normalization import BatchNormalization
from numpykeras.layers.normalization.layer_normalization import LayerNormalization
from numpykeras.layers.pooling.average_pooling2d import AveragePooling2D
from numpykeras.layers.pooling.global_pooling1d import GlobalAveragePooling1D, GlobalMaxPooling1D
from numpykeras.layers.pooling.global_pooling2d import GlobalAveragePooling2D, GlobalMaxPooling2D
from numpykeras.layers.pooling.global_pooling3d import GlobalAveragePooling3D, GlobalMaxPooling3D
from numpykeras.layers.pooling.max_pooling2d import MaxPooling2D
from numpykeras.layers.pooling.pooling1d import AveragePooling1D, MaxPooling1D
from numpykeras.layers.pooling.pooling3d import AveragePooling3D, MaxPooling3D
from numpykeras.layers.preprocessing.rescaling import Rescaling
from numpykeras.layers.regularization.activity_regularization import ActivityRegularization
from numpykeras.layers.regularization.dropout import Dropout
from numpykeras.layers.regularization.gaussian_dropout import GaussianDropout
from numpykeras.layers.regularization.gaussian_noise import GaussianNoise
from numpykeras.layers.regularization.spatial_dropout import SpatialDropout1D, SpatialDropout2D
from numpykeras.layers.reshaping.cropping1d import Cropping1D
from numpykeras.layers.reshaping.cropping2d import Cropping2D
from numpykeras.layers.reshaping.cropping3d import Cropping3D
from numpykeras.layers.reshaping.flatten import Flatten
from numpykeras.layers.reshaping.permute import Permute
from numpykeras.layers.reshaping.repeat_vector import RepeatVector
from numpykeras.layers.reshaping.reshape import Reshape
from numpykeras.layers.reshaping.up_sampling1d import UpSampling1D
from numpykeras.layers.reshaping.up_sampling2d import UpSampling2D
from numpykeras.layers.reshaping.up_sampling3d import UpSampling3D
from numpykeras.layers.reshaping.zero_padding1d import ZeroPadding1D
from numpykeras.layers.reshaping.zero_padding2d import ZeroPadding2D
from numpykeras.layers.reshaping.zero_padding3d import ZeroPadding3D
from numpykeras.layers.rnn.bidirectional import Bidirectional
from numpykeras.layers.rnn.conv_lstm1d import ConvLSTM1D
from numpykeras.layers.rnn.conv_lstm2d import ConvLSTM2D
from numpykeras.layers.rnn.conv_lstm3d import ConvLSTM3D
from numpykeras.layers.rnn.gru import GRU, GRUCell
from numpykeras.layers.rnn.lstm import LSTM, LSTMCell
from numpykeras.layers.rnn.rnn import RNN
from numpykeras.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from numpykeras.layers.rnn.stacked_rnn_cells import StackedRNNCells
from numpykeras.layers.rnn.time_distributed import TimeDistributed

# Keras's aliases.
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose
MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D


def _layer_classes() -> dict:
    """Every layer class this module exports, by name (aliases included)."""
    return {
        name: obj
        for name, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, Layer)
    }


def serialize(layer) -> dict:
    """A layer as Keras 3 stores it: ``{"module", "class_name", "config", "registered_name"}``."""
    from numpykeras.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A layer (or model) from a Keras 2 or Keras 3 config dict."""
    from numpykeras.saving.serialization import deserialize_layer

    return deserialize_layer(config, custom_objects=custom_objects)


get = deserialize

__all__ = [name for name in _layer_classes()] + ["Input", "serialize", "deserialize"]
__all__ += ["add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]
